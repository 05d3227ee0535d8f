using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Localization;
using StudentDataQuality.Application.Confirmations;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Web.Components;
using StudentDataQuality.Web.Components.Class;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Web;

/// <summary>
/// The class teacher's pages (docs/confirmations.md, "The class teacher's pages"): the open campaign's classes and their
/// students, a sheet found by its id or by a student, the parent's answer entered on it, and the class answer workbook out
/// and back. Who may open them is the group's policy; what a teacher may read is decided by the confirmation store (its
/// own classes at its own school while the campaign is open), and anything else answers "not found", audited, through the
/// group's filter.
/// </summary>
internal static class ClassPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var pages = app.Pages("/class", Policies.ClassTeacher);
        pages.MapGet("/", ClassesPageAsync);
        // A search is posted: a student's name or number never travels in an address (logs, history).
        pages.MapPost("/", SearchAsync);
        pages.MapGet("/sheets/{id}", SheetAsync);
        pages.MapPost("/sheets/{id}", AnswerAsync);
        pages.MapGet("/{grade:int}/{className}/answers.xlsx", WorkbookAsync);
        // The workbook is small (a class, one row a student); the portal's file limit and the rate limit of uploads hold.
        pages.MapPost("/answers", UploadAsync).RequireRateLimiting(Portal.UploadRateLimit).WithMetadata(new SchoolPages.UploadEndpoint(worksheetReturns: false));
    }

    /// <summary>The longest search a teacher types (a sheet id, a student number, a name).</summary>
    private const int MaxSearch = 100;

    private static readonly TimeSpan Beijing = TimeSpan.FromHours(8);

    private static DateOnly Today => DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(Beijing).DateTime);

    private static ConfirmationStore Store(PortalSettings settings) => new(settings.DataSource);

    private static Task<IResult> ClassesPageAsync(HttpContext context, PortalSettings settings, IStringLocalizer<ClassText> text) =>
        ClassesAsync(context, settings, text, null);

    private static async Task<IResult> SearchAsync(HttpContext context, PortalSettings settings, IStringLocalizer<ClassText> text) =>
        await ClassesAsync(context, settings, text, (await context.Request.ReadFormAsync(context.RequestAborted))["q"].ToString());

    /// <summary>
    /// The open campaign's classes of the teacher with their students; a search (a sheet id typed or scanned, or a student's
    /// number or name) goes to the sheet when it finds one, else the classes show what it matched. No open campaign: a page
    /// that says so, and nothing of any student is read.
    /// </summary>
    private static async Task<IResult> ClassesAsync(HttpContext context, PortalSettings settings, IStringLocalizer<ClassText> text, string? q)
    {
        var account = Portal.AccountOf(context.User);
        var store = Store(settings);
        if (await store.CampaignAsync(null, context.RequestAborted) is not { Open: true } campaign || account.SchoolCode is not { } school)
        {
            return Page.Message(text["NoCampaign.Title"], text["NoCampaign"]);
        }

        var term = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        if (term is { Length: > MaxSearch })
        {
            term = term[..MaxSearch];
        }

        if (SheetId.Normalise(term) is { } sheetId)
        {
            return Results.Redirect("/class/sheets/" + sheetId, permanent: false, preserveMethod: false);
        }

        var classes = new List<ClassStudents>();
        foreach (var key in await store.TeacherClassesAsync(account, context.RequestAborted))
        {
            classes.Add(new ClassStudents(key, await store.ClassStudentsAsync(account, campaign.RoundCode, school, key, context.RequestAborted)));
        }

        IReadOnlyList<ClassStudent>? found = null;
        if (term is not null)
        {
            found = classes.SelectMany(c => c.Students).Where(s => Matches(s, term)).ToList();
            if (found is [{ SheetId: { } only }])
            {
                return Results.Redirect("/class/sheets/" + only);
            }
        }

        return Page.Show<ClassesPage>(new { Campaign = campaign, Classes = classes, Search = term, Found = found });
    }

    /// <summary>A student a search names: its number exactly, or its name in part (any case).</summary>
    private static bool Matches(ClassStudent student, string term) =>
        string.Equals(student.StudentNo, term, StringComparison.OrdinalIgnoreCase)
        || (student.Name is { } name && name.Contains(term, StringComparison.OrdinalIgnoreCase));

    /// <summary>A sheet: what was printed, the record now, and the form for the parent's answer (or the answer, when entered).</summary>
    private static async Task<IResult> SheetAsync(HttpContext context, PortalSettings settings, string id)
    {
        if (SheetId.Normalise(id) is not { } sheetId)
        {
            return Page.NotFound(context);
        }

        var view = await Store(settings).SheetAsync(Portal.AccountOf(context.User), sheetId, context.RequestAborted);
        return Page.Show<SheetPage>(new { View = view, Signed = Dates.Date(Today) });
    }

    /// <summary>
    /// The parent's answer as the teacher entered it: "confirmed unchanged", or the values typed under "should be". The form is
    /// shown again with what was typed and why, when the answer cannot be taken (nothing of it is then kept).
    /// </summary>
    private static async Task<IResult> AnswerAsync(HttpContext context, PortalSettings settings, IStringLocalizer<ClassText> text, string id)
    {
        if (SheetId.Normalise(id) is not { } sheetId)
        {
            return Page.NotFound(context);
        }

        var account = Portal.AccountOf(context.User);
        var store = Store(settings);
        var view = await store.SheetAsync(account, sheetId, context.RequestAborted);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var signed = form["signed"].ToString().Trim();
        var typed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in ConfirmationFields.All)
        {
            if (form["v." + field].ToString().Trim() is { Length: > 0 } value)
            {
                typed[field] = value;
            }
        }

        IResult Again(string error) => Page.Show<SheetPage>(new { View = view, Signed = signed, Typed = typed, Error = error }, StatusCodes.Status400BadRequest);

        if (view.Answer is not null)
        {
            return Page.Show<SheetPage>(new { View = view, Signed = signed, AlreadyAnswered = true }, StatusCodes.Status409Conflict);
        }

        if (!DateOnly.TryParseExact(signed, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var signedOn))
        {
            return Again(text["Error.SignedDate"]);
        }

        var unchanged = form["answer"].ToString() == "unchanged";
        if (unchanged && typed.Count > 0)
        {
            return Again(text["Error.UnchangedButTyped"]);
        }

        if (!unchanged && typed.Count == 0)
        {
            return Again(text["Error.NothingTyped"]);
        }

        IReadOnlyList<AnswerOutcome> outcomes;
        try
        {
            outcomes = await store.AnswerAsync(account, [new SheetAnswer(sheetId, signedOn, unchanged ? new Dictionary<string, string>() : typed)],
                cancellationToken: context.RequestAborted);
        }
        catch (UserErrorException e)
        {
            return Again(e.Message);
        }

        return Page.Show<AnswerResultPage>(new { View = view, Outcome = outcomes.Single(o => o.SheetId == sheetId), SignedOn = signedOn });
    }

    /// <summary>The class answer workbook of one of the teacher's classes (the store audits the read).</summary>
    private static async Task<IResult> WorkbookAsync(HttpContext context, PortalSettings settings, int grade, string className)
    {
        var account = Portal.AccountOf(context.User);
        var key = ClassKey.TryParse(grade.ToString(CultureInfo.InvariantCulture) + "/" + className);
        if (key is null || key.Grade != grade || account.SchoolCode is not { } school)
        {
            return Page.NotFound(context);
        }

        // Out of the campaign, or a class that is not the teacher's: refused as the store refuses a read out of scope (the
        // export asks the store again).
        var store = Store(settings);
        var campaign = await store.CampaignAsync(null, context.RequestAborted);
        if (campaign is not { Open: true } || !(await store.TeacherClassesAsync(account, context.RequestAborted)).Contains(key))
        {
            throw new OutOfScopeException("class", key.ToString(), school, campaign?.RoundId);
        }

        // Through the export register (masked, as the workbook is written): watermarked for the teacher who takes it. The
        // watermark is a very hidden sheet and document properties; the workbook's own sheets and signatures stay as written.
        var english = Languages.English;
        var order = new ExportOrder(ExportKind.ClassAnswers, ExportForm.Masked, ExportScope.Class(school, key.Grade, key.ClassName), campaign.RoundId);
        return await Downloads.TakeAsync(context, order, Downloads.Xlsx, async (watermark, cancel) =>
        {
            // As ClassAnswers.ExportAsync makes it, with the class's sheets at hand: the register writes how many students left.
            var sheets = await store.ClassSheetsAsync(account, campaign.RoundCode, school, key, cancel);
            if (sheets.Count == 0)
            {
                throw new UserErrorException(new UserMessage("AnswerWorkbook.NoSheets", key.Grade, key.ClassName, campaign.RoundCode));
            }

            var bytes = ClassAnswerWorkbook.Write(sheets, settings.Key.Key, english);
            return new ExportContent(WorkbookName(campaign.RoundCode, school, key), sheets.Count, ["sheet_id", "student_no", .. ConfirmationFields.All],
                XlsxWatermark.Apply(bytes, watermark, english ? WorksheetLanguage.English : WorksheetLanguage.Chinese));
        }, back: "/class");
    }

    /// <summary>The workbook's file name: the round, school and class, with anything but letters and digits as '_' (no path, no quote).</summary>
    internal static string WorkbookName(string roundCode, string schoolCode, ClassKey key)
    {
        static string Safe(string text)
        {
            var safe = new StringBuilder(text.Length);
            foreach (var c in text)
            {
                safe.Append(char.IsLetterOrDigit(c) ? c : '_');
            }

            return safe.ToString();
        }

        return $"{Safe(roundCode)}-{Safe(schoolCode)}-{key.Grade.ToString(CultureInfo.InvariantCulture)}-{Safe(key.ClassName)}-answers.xlsx";
    }

    /// <summary>A returned class answer workbook: its answers entered all or none; the counts, or why nothing was taken.</summary>
    private static async Task<IResult> UploadAsync(HttpContext context, PortalSettings settings, Gates gates, IStringLocalizer<ClassText> text)
    {
        var account = Portal.AccountOf(context.User);
        var upload = (await context.Request.ReadFormAsync(context.RequestAborted)).Files["file"];
        if (upload is null || upload.Length == 0)
        {
            return Refused(text["Upload.NoFile"]);
        }

        var fileName = Path.GetFileName(upload.FileName);
        if (upload.Length > ReturnLimits.Default.MaxBytes)
        {
            return Refused(ReturnLimits.Default.TooLarge(fileName).MessageIn(Languages.Worksheet), StatusCodes.Status413PayloadTooLarge);
        }

        using var slot = await gates.Uploads.EnterAsync(context.RequestAborted);
        try
        {
            await using var stream = upload.OpenReadStream();
            var outcomes = await new ClassAnswers(settings.DataSource, settings.Key).IngestAsync(stream, fileName, account, context.RequestAborted);
            return Page.Show<UploadResultPage>(new { FileName = fileName, Outcomes = outcomes });
        }
        catch (UserErrorException e)
        {
            return Refused(e.Message);
        }
    }

    private static IResult Refused(string message, int status = StatusCodes.Status400BadRequest) =>
        Page.Show<UploadResultPage>(new { Refusal = message }, status);
}

/// <summary>One of a class teacher's classes and its students in the campaign.</summary>
public sealed record ClassStudents(ClassKey Class, IReadOnlyList<ClassStudent> Students);
