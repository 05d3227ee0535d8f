using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Jobs;
using StudentDataQuality.Web.Components.School;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Web;

/// <summary>
/// The school's and the district's pages: a school's newest worksheet, where it stands and its progress since the first
/// issue, the download (audited), the upload of a return (the same ingest as every other way in) and its receipt as a page
/// and as the .xlsx, a student's lineage, a district's schools and the table of all districts. Who may open the pages is
/// the groups' policy; what a reader may see of them is decided in the queries (<see cref="SchoolDesk"/>,
/// <see cref="LineageReader"/>), and anything out of scope answers "not found", audited, through the groups' filter.
/// </summary>
internal static class SchoolPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var school = app.Pages("/school", Policies.School);
        school.MapGet("/", StatusAsync);
        school.MapGet("/worksheets/{id:guid}", DownloadAsync);
        school.MapPost("/returns", UploadAsync).RequireRateLimiting(Portal.UploadRateLimit).WithMetadata(new UploadEndpoint());
        school.MapGet("/uploads/{key}", UploadedAsync);
        school.MapGet("/returns/{id:long}", ReceiptAsync);
        school.MapPost("/returns/{id:long}/show", ShowReceiptAsync);
        school.MapGet("/returns/{id:long}/receipt.xlsx", ReceiptFileAsync);
        school.MapPost("/certify", CertifyAsync);
        // A student's lineage by the record's id: never by the student number, which can be a resident ID number ('G' + the
        // number) and would sit in addresses, logs and browser history (issue 16, item 12). The record id says nothing of
        // the student (its file and row).
        school.MapGet("/records/{id:long}", LineageAsync);
        school.MapPost("/records/{id:long}/show", ShowLineageAsync);
        school.MapPost("/confirmations/print", PrintAsync);
        school.MapPost("/show", ShowAsync);
        school.MapPost("/confirmations/decide", DecideAsync);
        var district = app.Pages("/district", Policies.District);
        district.MapGet("/", DistrictAsync);
        district.MapPost("/approve", ApproveAsync);
        district.MapGet("/confirmations", DistrictConfirmationsAsync);
    }

    /// <summary>
    /// Marks an upload endpoint: its size (and, for worksheet returns, its uploader) is judged before its form is read
    /// (<see cref="GuardUploadsAsync"/>). Other uploads (a class answer workbook) are judged by their group's policy.
    /// </summary>
    internal sealed class UploadEndpoint(bool worksheetReturns = true)
    {
        public bool WorksheetReturns { get; } = worksheetReturns;
    }

    private static string From(HttpContext context) => Portal.ClientAddress(context);

    private static WorksheetLanguage Language => Languages.Worksheet;

    /// <summary>
    /// A school's page; without a school (the data team, a district office): a search of the schools in the reader's scope.
    /// A school account always reads its own school, whatever it asks for.
    /// </summary>
    private static Task<IResult> StatusAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text, string? code, string? q,
        string? page, string? decided, string? change) =>
        SchoolAsync(context, desk, text, code, q, page, decided, change, reveal: false);

    /// <summary>The longest reason a reader gives for showing a school's values in full.</summary>
    public const int MaxShowReason = 200;

    /// <summary>
    /// A school's page with its values in full for a reader who is not the school (a district office, the data team): only
    /// with a reason, which is put on record with what was shown (docs/security.md, "Masking").
    /// </summary>
    private static async Task<IResult> ShowAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text, PortalSettings settings)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var code = form["code"].ToString();
        var reason = form["reason"].ToString().Trim();
        if (!IsCode(code) || string.IsNullOrEmpty(code))
        {
            return Page.NotFound(context);
        }

        if (ShowReasonRefused(reason))
        {
            return Page.Message(text["Show.Title"], text["Show.ReasonNeeded", MaxShowReason], StatusCodes.Status400BadRequest, error: true,
                back: "/school?code=" + Uri.EscapeDataString(code));
        }

        var account = Portal.AccountOf(context.User);
        var result = await SchoolAsync(context, desk, text, code, null, null, null, null, reveal: true);
        await using var connection = await settings.DataSource.OpenConnectionAsync(context.RequestAborted);
        await AuditLog.WriteAsync(connection, account.Name, "personal.show", null, code, "school page", new { reason, from = From(context) },
            context.RequestAborted);
        return result;
    }

    private static async Task<IResult> SchoolAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text, string? code, string? q,
        string? page, string? decided, string? change, bool reveal)
    {
        var account = Portal.AccountOf(context.User);
        var schoolCode = account.SchoolCode ?? code;
        if (!IsCode(schoolCode))
        {
            return Page.NotFound(context);
        }

        if (string.IsNullOrWhiteSpace(schoolCode))
        {
            var query = new TableQuery(q, Page: PageNumber(page));
            var found = await desk.FindSchoolsAsync(account, query, context.RequestAborted);
            var links = new TableLinks("/school", query, new Dictionary<string, string?>());
            return PastTheEnd(found, links) ?? Page.Show<SchoolSearchPage>(new { Schools = found, Links = links });
        }

        if (await desk.StatusAsync(account, schoolCode, context.RequestAborted) is not { } status)
        {
            return Page.Message(schoolCode, text["NoWorksheet"], StatusCodes.Status404NotFound);
        }

        var progress = await desk.ProgressAsync(account, schoolCode, context.RequestAborted);
        var problems = await desk.OpenProblemsAsync(account, schoolCode, From(context), MaxProblems, context.RequestAborted);
        var confirmations = await ConfirmationsAsync(context, account, status, Decided(decided, change));
        return Page.Show<SchoolPage>(new
        {
            Confirmations = confirmations,
            Status = status,
            Progress = progress,
            Problems = problems,
            MoreProblems = problems.Count == MaxProblems,
            // The school's own account signs off its data (the data layer refuses anyone else); others only read.
            OwnAccount = account.SchoolCode is not null,
            // Full values on the school's own page; anyone else reads them masked unless it asked, with a reason, to see them.
            Masked = account.SchoolCode is null && !reveal,
            MaxMegabytes = ReturnLimits.Default.MaxBytes / (1024 * 1024),
        });
    }

    /// <summary>
    /// The school page's parents' confirmations: the campaign of the school's round, the progress of each class, and (for the
    /// school's own account, the registrar who decides with the paper sheet at hand) the changes waiting for it.
    /// </summary>
    private static async Task<SchoolConfirmations> ConfirmationsAsync(HttpContext context, Account account, SchoolStatus status, string? decided)
    {
        var cancel = context.RequestAborted;
        var store = Store(context);
        var progress = Progress(context);
        var campaign = await store.CampaignAsync(status.RoundCode, cancel);
        var round = await progress.RoundAsync(status.RoundCode, cancel);
        var classes = round is null ? [] : await progress.ClassesAsync(account, round.RoundId, status.SchoolCode, cancel);
        // The school's own account is its registrar: it decides the changes that wait (the store refuses anyone else but the data team).
        var own = account.SchoolCode is not null;
        // Read (and audited as a read of students' data) only when the figures say a change waits: a page with none reads no names.
        var pending = own && classes.Any(c => c.Figures.Waiting > 0) ? await store.PendingAsync(account, status.RoundCode, status.SchoolCode, cancel) : [];
        // The print button where the export policy lets the reader take a class's sheets (not a district office).
        var prints = ExportPolicy.RightOf(account.Role, ExportKind.ConfirmationSheets) != ExportRight.None;
        return new SchoolConfirmations(status.RoundCode, campaign, classes, pending, own, account.SchoolCode is null ? status.SchoolCode : null, decided, prints);
    }

    /// <summary>"What happened" after a decision, from the address it came back to (anything else there: nothing).</summary>
    private static string? Decided(string? decided, string? change) =>
        decided is "approved" or "refused" && long.TryParse(change, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0
            ? decided + ":" + id.ToString(CultureInfo.InvariantCulture)
            : null;

    /// <summary>The confirmation store as the host registered it, or one on the portal's data source.</summary>
    private static ConfirmationStore Store(HttpContext context) =>
        context.RequestServices.GetService<ConfirmationStore>() ?? new ConfirmationStore(context.RequestServices.GetRequiredService<NpgsqlDataSource>());

    private static ConfirmationProgress Progress(HttpContext context) =>
        context.RequestServices.GetService<ConfirmationProgress>() ?? new ConfirmationProgress(context.RequestServices.GetRequiredService<NpgsqlDataSource>());

    /// <summary>The longest note a registrar may give with a decision.</summary>
    public const int MaxNote = 500;

    /// <summary>
    /// Prints one class's confirmation sheets (the school's page's button): the school (its own account's, or the one asked
    /// for), the school's round, the class from the form; the PDF as a download. The store keeps the sheets and audits the
    /// print; anything out of scope answers "not found".
    /// </summary>
    private static async Task<IResult> PrintAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text)
    {
        var account = Portal.AccountOf(context.User);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var schoolCode = account.SchoolCode ?? form["school"].ToString();
        if (string.IsNullOrEmpty(schoolCode) || !IsCode(schoolCode))
        {
            return Page.NotFound(context);
        }

        var back = account.SchoolCode is null ? "/school?code=" + Uri.EscapeDataString(schoolCode) : "/school";
        var className = form["class"].ToString().Trim();
        if (!int.TryParse(form["grade"], NumberStyles.None, CultureInfo.InvariantCulture, out var grade) || grade is < 1 or > 12
            || className.Length is 0 or > 40 || className.Any(char.IsControl))
        {
            return Page.Message(text["Confirm.Print.Title"], text["Confirm.Print.BadClass"], StatusCodes.Status400BadRequest, error: true, back: back);
        }

        if (await desk.StatusAsync(account, schoolCode, context.RequestAborted) is not { } status)
        {
            return Page.Message(schoolCode, text["NoWorksheet"], StatusCodes.Status404NotFound);
        }

        // Through the export register: the watermark goes into the PDF as it is rendered, so that the print's recorded sha256
        // (confirm.print, audit confirmation.print) and the register's are both of the watermarked bytes that leave.
        try
        {
            var english = Languages.English;
            var key = new ClassKey(grade, className);
            var order = new ExportOrder(ExportKind.ConfirmationSheets, ExportForm.Full, ExportScope.Class(schoolCode, grade, className), null);
            return await Downloads.TakeAsync(context, order, Downloads.Pdf, async (watermark, cancel) =>
            {
                var printed = await Store(context).PrintAsync(account, status.RoundCode, schoolCode, key,
                    sheets => ConfirmationSheetPdf.Render(sheets, english, watermark), english, cancel);
                return new ExportContent(PdfName(status.RoundCode, schoolCode, printed.Class), printed.Sheets.Count, ConfirmationFields.All, printed.Pdf);
            }, back);
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["Confirm.Print.Title"], e.Message, StatusCodes.Status400BadRequest, error: true, back: back);
        }
    }

    /// <summary>
    /// The PDF's file name: round, school, grade and class, every character that is not a letter or digit (of any script)
    /// made '_', so that nothing a registry holds can break out of the header or name a path.
    /// </summary>
    internal static string PdfName(string roundCode, string schoolCode, ClassKey onlyClass)
    {
        static string Safe(string part) => new([.. part.Take(40).Select(c => char.IsLetterOrDigit(c) || c is '-' or '.' ? c : '_')]);
        return string.Join('_', "confirmations", Safe(roundCode), Safe(schoolCode), onlyClass.Grade.ToString(CultureInfo.InvariantCulture),
            Safe(onlyClass.ClassName)).Replace("..", "__", StringComparison.Ordinal) + ".pdf";
    }

    /// <summary>The registrar's decision on a change that waits: approved or refused (a note optional); back to the school's page with what happened.</summary>
    private static async Task<IResult> DecideAsync(HttpContext context, IStringLocalizer<SchoolText> text)
    {
        var account = Portal.AccountOf(context.User);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var decision = form["decision"].ToString();
        var note = form["note"].ToString().Trim();
        if (!long.TryParse(form["change"], NumberStyles.None, CultureInfo.InvariantCulture, out var changeId) || changeId <= 0
            || decision is not ("approve" or "refuse"))
        {
            return Page.NotFound(context);
        }

        if (note.Length > MaxNote || note.Any(c => char.IsControl(c) && c is not ('\r' or '\n' or '\t')))
        {
            return Page.Message(text["Confirm.Decide.Title"], text["Confirm.Decide.BadNote", MaxNote], StatusCodes.Status400BadRequest, error: true,
                back: "/school");
        }

        try
        {
            await Store(context).DecideAsync(account, changeId, decision == "approve", note.Length == 0 ? null : note, context.RequestAborted);
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["Confirm.Decide.Title"], e.Message, StatusCodes.Status400BadRequest, error: true, back: "/school");
        }

        return Results.Redirect("/school?decided=" + (decision == "approve" ? "approved" : "refused") + "&change="
            + changeId.ToString(CultureInfo.InvariantCulture) + "#confirmations");
    }

    /// <summary>
    /// The parents' confirmations of a district's schools (a district office: its own, whatever it asks for; the data team:
    /// the district asked for), or without a district the province's districts; each a table searched, sorted and paged in SQL.
    /// </summary>
    private static async Task<IResult> DistrictConfirmationsAsync(HttpContext context, string? code, string? round, string? q, string? sort, string? dir,
        string? page)
    {
        var account = Portal.AccountOf(context.User);
        var districtCode = account.DistrictCode ?? code;
        if (!IsCode(districtCode) || (round is not null && !IsCode(round)))
        {
            return Page.NotFound(context);
        }

        var progress = Progress(context);
        var chosen = await progress.RoundAsync(string.IsNullOrEmpty(round) ? null : round, context.RequestAborted);
        var descending = dir == "desc";
        var fixedParameters = new Dictionary<string, string?>
        {
            ["code"] = account.DistrictCode is null ? districtCode : null,
            ["round"] = string.IsNullOrEmpty(round) ? null : round,
        };
        if (string.IsNullOrWhiteSpace(districtCode))
        {
            var all = new TableQuery(q, Known(sort, ConfirmationProgress.DistrictSorts.Keys), descending, PageNumber(page));
            var districts = chosen is null ? new TablePage<ConfirmationDistrict>([], 0, 1)
                : await progress.DistrictsAsync(account, chosen.RoundId, all, context.RequestAborted);
            var allLinks = new TableLinks("/district/confirmations", all, fixedParameters);
            return PastTheEnd(districts, allLinks)
                ?? Page.Show<ConfirmationDistrictsPage>(new { Round = chosen, Districts = districts, Links = allLinks });
        }

        var query = new TableQuery(q, Known(sort, ConfirmationProgress.SchoolSorts.Keys), descending, PageNumber(page));
        var schools = chosen is null ? new TablePage<ConfirmationSchool>([], 0, 1)
            : await progress.SchoolsAsync(account, chosen.RoundId, districtCode, query, context.RequestAborted);
        var links = new TableLinks("/district/confirmations", query, fixedParameters);
        return PastTheEnd(schools, links)
            ?? Page.Show<ConfirmationSchoolsPage>(new { DistrictCode = districtCode, Round = chosen, Schools = schools, Links = links });
    }

    /// <summary>The most open problems a school's page lists (the worksheet has them all).</summary>
    private const int MaxProblems = 1000;

    private static async Task<IResult> CertifyAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text)
    {
        try
        {
            await desk.CertifyAsync(Portal.AccountOf(context.User), context.RequestAborted);
            return Results.Redirect("/school");
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["NotYet"], e.Message, StatusCodes.Status400BadRequest, error: true, back: "/school");
        }
    }

    /// <summary>
    /// A district's schools (a district office: its own, whatever it asks for; the data team: the district asked for);
    /// without a district, the table of all districts.
    /// </summary>
    private static async Task<IResult> DistrictAsync(HttpContext context, SchoolDesk desk, string? code, string? q, string? sort, string? dir,
        string? filter, string? page)
    {
        var account = Portal.AccountOf(context.User);
        var descending = dir == "desc";
        var districtCode = account.DistrictCode ?? code;
        if (!IsCode(districtCode))
        {
            return Page.NotFound(context);
        }

        if (string.IsNullOrWhiteSpace(districtCode))
        {
            var all = new TableQuery(q, Known(sort, SchoolDesk.DistrictSorts.Keys), descending, PageNumber(page));
            var districts = await desk.DistrictsAsync(account, all, context.RequestAborted);
            var allLinks = new TableLinks("/district", all, new Dictionary<string, string?>());
            return PastTheEnd(districts, allLinks) ?? Page.Show<DistrictsPage>(new { Districts = districts, Links = allLinks });
        }

        var query = new TableQuery(q, Known(sort, SchoolDesk.SchoolSorts.Keys), descending, PageNumber(page), Known(filter, SchoolDesk.SchoolFilters));
        var schools = await desk.DistrictAsync(account, districtCode, query, context.RequestAborted);
        var schoolLinks = new TableLinks("/district", query, new Dictionary<string, string?> { ["code"] = account.DistrictCode is null ? districtCode : null });
        return PastTheEnd(schools, schoolLinks) ?? Page.Show<DistrictPage>(new { DistrictCode = districtCode, Schools = schools, Links = schoolLinks });
    }

    /// <summary>
    /// None, or a code as schools and districts have them (letters, digits, '.', '_', '-', at most 40): anything else is no
    /// school or district of the province, answered "not found" without a query (and kept out of the audit log).
    /// </summary>
    private static bool IsCode(string? code) => string.IsNullOrEmpty(code) || ExplanationFilters.CodePattern().IsMatch(code);

    /// <summary>
    /// A page past the table's end (an old link, a typed number): the first page of the same search and sort, rather than
    /// an empty table that says nothing of where the rows are.
    /// </summary>
    private static IResult? PastTheEnd<T>(TablePage<T> table, TableLinks links) =>
        table.Rows.Count == 0 && table.Page > 1 ? Results.Redirect(links.Page(1)) : null;

    /// <summary>A sort or filter key as asked when it is one of the table's own; anything else (a typo, a hostile value) is no key.</summary>
    private static string? Known(string? key, IEnumerable<string> keys) => key is not null && keys.Contains(key, StringComparer.Ordinal) ? key : null;

    private static async Task<IResult> ApproveAsync(HttpContext context, SchoolDesk desk)
    {
        var account = Portal.AccountOf(context.User);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (!IsCode(form["school"].ToString()) || string.IsNullOrEmpty(form["school"]) || !IsCode(form["district"].ToString()))
        {
            return Page.NotFound(context);
        }

        await desk.ApproveAsync(account, form["school"].ToString(), From(context), context.RequestAborted);
        return Results.Redirect(account.DistrictCode is not null || string.IsNullOrEmpty(form["district"])
            ? "/district"
            : "/district?code=" + Uri.EscapeDataString(form["district"].ToString()));
    }

    /// <summary>A page number as asked (anything that is not a number: the first page).</summary>
    private static int PageNumber(string? page) => int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : 1;

    /// <summary>
    /// Where a student's values came from: each version (the extract row, or the return that made it), every correction
    /// (which return, which cell, old → new) and the findings on each version, for every round the reader may see.
    /// </summary>
    private static Task<IResult> LineageAsync(HttpContext context, LineageReader lineage, long id) => RecordLineageAsync(context, lineage, id, reveal: false);

    /// <summary>A record's lineage in full for a reader who is not the school: only with a reason, put on record.</summary>
    private static async Task<IResult> ShowLineageAsync(HttpContext context, LineageReader lineage, IStringLocalizer<SchoolText> text,
        PortalSettings settings, long id)
    {
        var reason = (await context.Request.ReadFormAsync(context.RequestAborted))["reason"].ToString().Trim();
        var back = "/school/records/" + id.ToString(CultureInfo.InvariantCulture);
        if (ShowReasonRefused(reason))
        {
            return Page.Message(text["Show.Title"], text["Show.ReasonNeeded", MaxShowReason], StatusCodes.Status400BadRequest, error: true, back: back);
        }

        var result = await RecordLineageAsync(context, lineage, id, reveal: true);
        await using var connection = await settings.DataSource.OpenConnectionAsync(context.RequestAborted);
        await AuditLog.WriteAsync(connection, Portal.AccountOf(context.User).Name, "personal.show", null, null, back,
            new { reason, from = From(context) }, context.RequestAborted);
        return result;
    }

    private static async Task<IResult> RecordLineageAsync(HttpContext context, LineageReader lineage, long id, bool reveal)
    {
        var account = Portal.AccountOf(context.User);
        var records = await lineage.ReadRecordAsync(id, account, From(context), context.RequestAborted);
        return Page.Show<LineagePage>(new
        {
            Records = records,
            StudentNo = records.FirstOrDefault(r => r.RecordId == id)?.StudentNo,
            RecordId = id,
            Masked = account.SchoolCode is null && !reveal,
        });
    }

    private static bool ShowReasonRefused(string reason) => reason.Length == 0 || reason.Length > MaxShowReason || reason.Any(char.IsControl);

    /// <summary>
    /// An issued worksheet, through the export register: served only as it was issued (its recorded sha256), then
    /// watermarked for the reader who takes it; the register records the sha256 of the watermarked bytes that leave
    /// (the download is audited as before, <c>worksheet.download</c>, with the issued file's sha256).
    /// </summary>
    private static async Task<IResult> DownloadAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text, Guid id)
    {
        var file = await desk.WorksheetAsync(Portal.AccountOf(context.User), id, From(context), context.RequestAborted);
        var path = file.OutputDirectory is { } folder && Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, file.FileName, SearchOption.AllDirectories).FirstOrDefault()
            : null;
        var issued = path is null ? null : await File.ReadAllBytesAsync(path, context.RequestAborted);
        if (issued is null || Convert.ToHexStringLower(SHA256.HashData(issued)) != file.Sha256)
        {
            return Page.Message(text["FileGone.Title"], text["FileGone"], StatusCodes.Status410Gone, error: true, back: "/school");
        }

        // What the register writes of it: the students' rows and the record fields the worksheet's columns show.
        var meta = ReturnedWorkbookReader.Read(new MemoryStream(issued, writable: false), file.FileName, ReturnLimits.Default).Meta;
        IReadOnlyList<string> fields = [.. meta.Columns.Select(c => c.FieldName).OfType<string>().Distinct(StringComparer.Ordinal)];
        return await Downloads.TakeAsync(context, new ExportOrder(ExportKind.Worksheet, ExportForm.Full, ExportScope.School(file.SchoolCode), file.RoundId),
            Downloads.Xlsx, (watermark, _) => Task.FromResult(new ExportContent(file.FileName, meta.Rows.Count, fields,
                XlsxWatermark.Apply(issued, watermark, meta.Language))), back: "/school");
    }

    /// <summary>
    /// Before the antiforgery middleware reads the form of an upload: the request may be as large as
    /// <see cref="Portal.MaxDrainedBytes"/> (so that a refusal is read by the browser, not a reset connection); an account
    /// that may return no worksheet at all is refused (403), and an upload larger than the limit by its length (413), both
    /// before anything of the form is read, both on record. Every other request goes on untouched.
    /// </summary>
    internal static async Task GuardUploadsAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<UploadEndpoint>() is not { } endpoint || !HttpMethods.IsPost(context.Request.Method)
            || context.User.Identity?.IsAuthenticated != true)
        {
            await next(context);
            return;
        }

        // A request another site made the browser send (a cross-site form or fetch) is left to the antiforgery check, which
        // refuses it: nothing is audited or drained in the signed-in account's name for it.
        if (context.Request.Headers["Sec-Fetch-Site"] is [{ } site] && site != "same-origin")
        {
            await next(context);
            return;
        }

        // Without its length an upload cannot be judged before it is read (browsers always send it for a form).
        if (context.Request.ContentLength is null)
        {
            var text411 = context.RequestServices.GetRequiredService<IStringLocalizer<SchoolText>>();
            await Page.Message(text411["Upload.LengthRequired.Title"], text411["Upload.LengthRequired"], StatusCodes.Status411LengthRequired, error: true, back: "/school")
                .ExecuteAsync(context);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = Portal.MaxDrainedBytes;
        }

        var ingest = context.RequestServices.GetRequiredService<ReturnIngest>();
        var text = context.RequestServices.GetRequiredService<IStringLocalizer<SchoolText>>();
        var account = Portal.AccountOf(context.User);
        // Who may return worksheets at all is decided before anything of the upload is read, the form included (the ingest
        // decides it again for the file, and the school of the file's _meta before any of its rows).
        try
        {
            if (endpoint.WorksheetReturns)
            {
                await ingest.CheckUploaderAsync(account, text["ChosenFile"], context.RequestAborted);
            }
        }
        catch (WorksheetRejectedException refusal)
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            await Refused(refusal.MessageIn(Language), StatusCodes.Status403Forbidden).ExecuteAsync(context);
            return;
        }

        // Over the size limit by its length: refused before the form is read (the form, token included, could not be read whole).
        if (context.Request.ContentLength > Portal.MaxUploadRequestBytes)
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            var refusal = ReturnLimits.Default.TooLarge(text["ChosenFile"]);
            // On record as the ingest's refusal of a file (worksheet.return.refused): a class answer workbook too, under its own action.
            if (endpoint.WorksheetReturns)
            {
                await ingest.RefusedAsync(account, refusal, context.Request.ContentLength, context.RequestAborted);
            }
            else
            {
                await using var connection = await context.RequestServices.GetRequiredService<PortalSettings>().DataSource.OpenConnectionAsync(context.RequestAborted);
                await AuditLog.WriteAsync(connection, account.Name, "confirmation.workbook.refused", null, account.SchoolCode, null,
                    new { reason = refusal.Code.ToString(), bytes = context.Request.ContentLength }, context.RequestAborted);
            }

            await Refused(refusal.MessageIn(Language), StatusCodes.Status413PayloadTooLarge).ExecuteAsync(context);
            return;
        }

        await next(context);
    }

    private static async Task<IResult> UploadAsync(HttpContext context, ReturnIngest ingest, ReturnBatcher batcher, PendingUploads pending,
        PortalSettings settings, Gates gates, IStringLocalizer<SchoolText> text)
    {
        // The uploader and the request's length were judged before the form was read (GuardUploadsAsync); the form (read by
        // the antiforgery middleware) is taken from where it was kept.
        var account = Portal.AccountOf(context.User);
        var upload = (await context.Request.ReadFormAsync(context.RequestAborted)).Files["file"];
        if (upload?.Length > ReturnLimits.Default.MaxBytes)
        {
            var refusal = ReturnLimits.Default.TooLarge(upload.FileName);
            await ingest.RefusedAsync(account, refusal, upload.Length, context.RequestAborted);
            return Refused(refusal.MessageIn(Language), StatusCodes.Status413PayloadTooLarge);
        }

        if (upload is null || upload.Length == 0)
        {
            return Refused(text["NoFile"]);
        }

        // The file is held (a slot of the gate) from its reading until its batch is done; the batch goes on when the
        // browser goes away, and the receipt is on the school's page.
        var slot = await gates.Uploads.EnterAsync(context.RequestAborted);
        Task<BatchOutcome> outcome;
        try
        {
            await using var stream = upload.OpenReadStream();
            outcome = batcher.SubmitAsync(await ingest.ReceiveAsync(stream, Path.GetFileName(upload.FileName), account, context.RequestAborted));
        }
        catch (WorksheetRejectedException refusal)
        {
            slot.Dispose();
            return Refused(refusal.MessageIn(Language));
        }
        catch
        {
            slot.Dispose();
            throw;
        }

        _ = outcome.ContinueWith(_ => slot.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (await Task.WhenAny(outcome, Task.Delay(settings.UploadAnswerWithin, context.RequestAborted)) == outcome)
        {
            return Answer(PendingUploads.Answer.Of(await outcome), text);
        }

        return Results.Redirect($"/school/uploads/{pending.Add(account.Name, outcome)}");
    }

    /// <summary>An upload answered before its batch was done: "received, being checked" until it is, then as the upload would have been answered.</summary>
    private static async Task<IResult> UploadedAsync(HttpContext context, PendingUploads pending, IStringLocalizer<SchoolText> text, string key)
    {
        if (pending.Find(key, Portal.AccountOf(context.User).Name) is not { } outcome)
        {
            return Page.NotFound(context);
        }

        if (outcome.IsCompleted)
        {
            return Answer(await outcome, text);
        }

        context.Response.Headers["Refresh"] = "3";
        return Page.Show<UploadPendingPage>(new { Key = key });
    }

    private static IResult Answer(PendingUploads.Answer outcome, IStringLocalizer<SchoolText> text) => outcome switch
    {
        { ReturnId: { } returnId } => Results.Redirect($"/school/returns/{returnId}"),
        { Refusal: { } refusal } => Refused(refusal.MessageIn(Language)),
        _ => Page.Message(text["NotTakenYet.Title"], text["NotTakenYet"], StatusCodes.Status503ServiceUnavailable, error: true, back: "/school"),
    };

    /// <summary>An upload refused with its reason: nothing of it was taken.</summary>
    internal static IResult Refused(string message, int status = StatusCodes.Status400BadRequest) =>
        Page.Show<UploadRefusedPage>(new { Message = message }, status);

    private static Task<IResult> ReceiptAsync(HttpContext context, SchoolDesk desk, long id) => ReturnReceiptAsync(context, desk, id, reveal: false);

    /// <summary>A return's receipt in full for a reader who is not the school: only with a reason, put on record (as the school's page).</summary>
    private static async Task<IResult> ShowReceiptAsync(HttpContext context, SchoolDesk desk, IStringLocalizer<SchoolText> text, PortalSettings settings,
        long id)
    {
        var reason = (await context.Request.ReadFormAsync(context.RequestAborted))["reason"].ToString().Trim();
        var back = "/school/returns/" + id.ToString(CultureInfo.InvariantCulture);
        if (ShowReasonRefused(reason))
        {
            return Page.Message(text["Show.Title"], text["Show.ReasonNeeded", MaxShowReason], StatusCodes.Status400BadRequest, error: true, back: back);
        }

        var result = await ReturnReceiptAsync(context, desk, id, reveal: true);
        await using var connection = await settings.DataSource.OpenConnectionAsync(context.RequestAborted);
        await AuditLog.WriteAsync(connection, Portal.AccountOf(context.User).Name, "personal.show", null, null, back,
            new { reason, from = From(context) }, context.RequestAborted);
        return result;
    }

    private static async Task<IResult> ReturnReceiptAsync(HttpContext context, SchoolDesk desk, long id, bool reveal)
    {
        var account = Portal.AccountOf(context.User);
        var (_, json) = await desk.ReceiptAsync(account, id, From(context), context.RequestAborted);
        return Page.Show<ReceiptPage>(new
        {
            Receipt = JsonSerializer.Deserialize<Receipt>(json, Receipt.JsonOptions)!,
            Language,
            // Full values for the school's own account; anyone else reads them masked unless it asked, with a reason, to see them.
            Masked = account.SchoolCode is null && !reveal,
        });
    }

    /// <summary>
    /// A return's receipt as an .xlsx, through the export register: made inside the read (audited <c>receipt.download</c>) and
    /// watermarked there, so that the audit entry and the register both carry the sha256 of exactly what is handed out.
    /// </summary>
    private static async Task<IResult> ReceiptFileAsync(HttpContext context, SchoolDesk desk, long id)
    {
        var account = Portal.AccountOf(context.User);
        var language = Language;
        return await Downloads.TakeAsync(context, new ExportOrder(ExportKind.Receipt, ExportForm.Full, ExportScope.Return(id), null), Downloads.Xlsx,
            async (watermark, cancel) =>
            {
                Receipt? receipt = null;
                var bytes = await desk.ReceiptFileAsync(account, id, From(context), json =>
                {
                    receipt = JsonSerializer.Deserialize<Receipt>(json, Receipt.JsonOptions)!;
                    using var output = new MemoryStream();
                    ReceiptWriter.Write(receipt, output, context.RequestServices.GetRequiredService<PortalSettings>().RuleHelp, watermark.Practice);
                    return XlsxWatermark.Apply(output.ToArray(), watermark, language);
                }, cancel);
                return new ExportContent(ReceiptWriter.FileName(receipt!), receipt!.Rows.Count, ReceiptFields(receipt), bytes);
            }, back: "/school");
    }

    /// <summary>The record fields a receipt carries: the student's number and name, and every field it shows changed or still failing.</summary>
    private static IReadOnlyList<string> ReceiptFields(Receipt receipt) =>
        [.. new[] { "student_no", "name" }.Concat(receipt.Rows.SelectMany(r => r.Changes.Select(c => c.Field)
            .Concat(r.StillFailing.Select(p => p.Field).OfType<string>()))).Distinct(StringComparer.Ordinal)];
}

/// <summary>
/// What the school's page shows of the parents' confirmations: the round's campaign (null: none), each class's progress, the
/// changes waiting for the registrar (its own account only), the school a print form names (for a reader that is not the
/// school), and what was just decided ("approved:12", "refused:12").
/// </summary>
public sealed record SchoolConfirmations(string RoundCode, Campaign? Campaign, IReadOnlyList<ConfirmationClass> Classes,
    IReadOnlyList<PendingChange> Pending, bool Decides, string? AskedSchool, string? Decided, bool Prints);

/// <summary>
/// The addresses of a table's page: its search, sort, filter and page kept in the query string (the page's own parameters
/// first), so that a sort or a page can be linked to and comes back.
/// </summary>
public sealed record TableLinks(string Path, TableQuery Query, IReadOnlyDictionary<string, string?> Fixed)
{
    /// <summary>This table sorted by <paramref name="key"/>: ascending, or descending when it is sorted so already; from the first page.</summary>
    public string Sort(string key) => Address(Query with { Sort = key, Descending = Query.Sort == key && !Query.Descending, Page = 1 });

    /// <summary>Page <paramref name="page"/> of this table as it is searched, filtered and sorted.</summary>
    public string Page(int page) => Address(Query with { Page = page });

    /// <summary>The mark of the column the table is sorted by (▲ ascending, ▼ descending); none for the others.</summary>
    public string Mark(string key) => Query.Sort == key ? (Query.Descending ? " ▼" : " ▲") : "";

    private string Address(TableQuery query)
    {
        var parameters = Fixed.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => KeyValuePair.Create(p.Key, p.Value)).ToList();
        void Add(string key, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                parameters.Add(KeyValuePair.Create(key, (string?)value));
            }
        }

        Add("q", query.Term);
        Add("filter", query.Filter);
        Add("sort", query.Sort);
        Add("dir", query.Sort is null ? null : query.Descending ? "desc" : "asc");
        Add("page", query.PageNumber > 1 ? query.PageNumber.ToString(CultureInfo.InvariantCulture) : null);
        return Path + QueryString.Create(parameters).ToUriComponent();
    }
}
