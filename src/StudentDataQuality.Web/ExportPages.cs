using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Application.Exports;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Exports;
using StudentDataQuality.Records;
using StudentDataQuality.Web.Components.Exports;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Web;

/// <summary>
/// Exports in the portal (docs/exports.md, "In the portal"): the register and the requests for the data team
/// (<c>/team/exports</c>: every file that left, filtered and paged in SQL; requests approved or refused by a second account),
/// asking for a bulk export and taking it once approved (<c>/exports</c>: district offices and the data team), and a
/// district's problem list, masked, straight from its page (<c>/district/problems.xlsx</c>). Every file leaves through
/// <see cref="ExportRegister.TakeAsync"/>: the register's policy decides, the page only tells its refusal.
/// </summary>
internal static class ExportPages
{
    /// <summary>Files on one page of the register.</summary>
    public const int PageSize = 50;

    /// <summary>The longest purpose and the longest note (the table's limits).</summary>
    public const int MaxText = 500;

    /// <summary>The kinds a request may be made for in the portal (the others are routine files of their own pages).</summary>
    public static IReadOnlyList<ExportKind> RequestKinds { get; } = [ExportKind.ProblemList, ExportKind.Changes];

    /// <summary>The form's choices of scope: the province, or the district whose code is given.</summary>
    public const string ProvinceScope = "province", DistrictScope = "district";

    public static void Map(IEndpointRouteBuilder app)
    {
        var team = app.Pages("/team/exports", Policies.DataTeam);
        team.MapGet("/", RegisterAsync);
        team.MapPost("/decide", DecideAsync);
        var exports = app.Pages("/exports", Policies.District);
        exports.MapGet("/", AskPageAsync);
        exports.MapPost("/", AskAsync);
        exports.MapPost("/{id:long}/download", DownloadAsync);
        var district = app.Pages("/district", Policies.District);
        district.MapGet("/problems.xlsx", DistrictProblemsAsync);
    }

    private static string From(HttpContext context) => Portal.ClientAddress(context);

    private static ExportRegister Register(HttpContext context) =>
        context.RequestServices.GetService<ExportRegister>() ?? new ExportRegister(context.RequestServices.GetRequiredService<PortalSettings>().DataSource);

    private static NpgsqlDataSource DataSource(HttpContext context) => context.RequestServices.GetRequiredService<PortalSettings>().DataSource;

    // ---- the register (the data team) ----

    /// <summary>The register: the files that left (filters in the query string, the newest first, paged in SQL) and the requests.</summary>
    private static async Task<IResult> RegisterAsync(HttpContext context, string? by, string? kind, string? form, string? from, string? to,
        string? page)
    {
        var account = Portal.AccountOf(context.User);
        var filters = RegisterFilters.Parse(by, kind, form, from, to);
        var number = TeamPages.PageNumber(page);
        var register = Register(context);
        var files = await register.ListAsync(account, filters.Query, (number - 1) * PageSize, PageSize, From(context), context.RequestAborted);
        var requests = await register.RequestsAsync(account, cancellationToken: context.RequestAborted);
        return Page.Show<RegisterPage>(new
        {
            Filters = filters, PageNumber = number, Files = files, Requests = requests, Reader = account.Name, Now = DateTimeOffset.UtcNow,
        });
    }

    /// <summary>Approves or refuses a waiting request: the register decides who may (never the requester) and records it.</summary>
    private static async Task<IResult> DecideAsync(HttpContext context, IStringLocalizer<ExportText> text)
    {
        var account = Portal.AccountOf(context.User);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var decision = form["decision"].ToString();
        var note = form["note"].ToString().Trim();
        if (!long.TryParse(form["request"], NumberStyles.None, CultureInfo.InvariantCulture, out var requestId) || requestId <= 0
            || decision is not ("approve" or "refuse"))
        {
            return Page.NotFound(context);
        }

        if (!PlainText(note, MaxText))
        {
            return Page.Message(text["Decide.Title"], text["Decide.BadNote", MaxText], StatusCodes.Status400BadRequest, error: true, back: "/team/exports");
        }

        try
        {
            await Register(context).DecideAsync(account, requestId, decision == "approve", note.Length == 0 ? null : note, From(context),
                context.RequestAborted);
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["Decide.Title"], e.Message, StatusCodes.Status403Forbidden, error: true, back: "/team/exports#requests");
        }

        return Results.Redirect("/team/exports#requests");
    }

    // ---- asking for an export and taking it (district offices, the data team) ----

    private static async Task<IResult> AskPageAsync(HttpContext context, RoundRuns runs, string? asked) =>
        await AskPage(context, runs, error: null, asked: asked, status: StatusCodes.Status200OK);

    private static async Task<IResult> AskPage(HttpContext context, RoundRuns runs, string? error, string? asked, int status,
        AskForm? filled = null)
    {
        var account = Portal.AccountOf(context.User);
        var rounds = await runs.ListAsync(cancellationToken: context.RequestAborted);
        var requests = await Register(context).RequestsAsync(account, cancellationToken: context.RequestAborted);
        var own = requests.Where(r => r.RequestedBy == account.Name).ToList();
        var ownScope = OwnScope(account);
        return Page.Show<AskPage>(new
        {
            Kinds = RequestKinds.Where(k => ExportPolicy.MayRequest(account.Role, k, ExportForm.Full, ownScope)).ToList(),
            Rounds = rounds.Select(r => r.RoundCode).ToList(),
            OwnDistrict = account.DistrictCode,
            Requests = own,
            Error = error,
            Asked = long.TryParse(asked, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : (long?)null,
            Filled = filled ?? new AskForm(null, null, null, null, ""),
            Now = DateTimeOffset.UtcNow,
        }, status);
    }

    /// <summary>Whose data a reader's request covers by default: a district office its own district, anyone else the province.</summary>
    private static ExportScope OwnScope(Account account) =>
        account.DistrictCode is { } district ? ExportScope.District(district) : ExportScope.Province;

    /// <summary>
    /// Asks for an export (kind, round, scope, purpose); the register refuses what the policy would never allow, and a scope
    /// the reader does not cover (a district office: any but its own district) as out of scope (404, audited).
    /// </summary>
    private static async Task<IResult> AskAsync(HttpContext context, RoundRuns runs, IStringLocalizer<ExportText> text)
    {
        var account = Portal.AccountOf(context.User);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var filled = new AskForm(form["kind"].ToString(), form["round"].ToString(), form["scope"].ToString(), form["district"].ToString().Trim(),
            form["purpose"].ToString().Trim());
        if (ExportKinds.ParseKind(filled.Kind) is not { } kind || !RequestKinds.Contains(kind))
        {
            return await AskPage(context, runs, text["Ask.BadKind"], null, StatusCodes.Status400BadRequest, filled);
        }

        if (!IsCode(filled.Round) || await runs.GetAsync(filled.Round!, context.RequestAborted) is not { } round)
        {
            return await AskPage(context, runs, text["Ask.BadRound"], null, StatusCodes.Status400BadRequest, filled);
        }

        ExportScope scope;
        if (filled.Scope == ProvinceScope)
        {
            scope = ExportScope.Province;
        }
        else if (filled.Scope == DistrictScope && IsCode(filled.District) && !string.IsNullOrEmpty(filled.District))
        {
            scope = ExportScope.District(filled.District!);
        }
        else
        {
            return await AskPage(context, runs, text["Ask.BadScope"], null, StatusCodes.Status400BadRequest, filled);
        }

        if (filled.Purpose.Length == 0 || !PlainText(filled.Purpose, MaxText))
        {
            return await AskPage(context, runs, text["Ask.BadPurpose", MaxText], null, StatusCodes.Status400BadRequest, filled);
        }

        ExportRequest request;
        try
        {
            request = await Register(context).RequestAsync(account, new ExportRequestDraft(kind, ExportForm.Full, scope, round.RoundId, filled.Purpose),
                From(context), context.RequestAborted);
        }
        catch (UserErrorException e)
        {
            return await AskPage(context, runs, e.Message, null, StatusCodes.Status403Forbidden, filled);
        }

        return Results.Redirect("/exports?asked=" + request.RequestId.ToString(CultureInfo.InvariantCulture) + "#requests");
    }

    /// <summary>
    /// Takes an approved request, once, as its requester: the file is made now (by its kind's producer, with the watermark the
    /// register hands it), recorded, and sent. Taken before: 410; past its window: 410 (both refused and recorded by the
    /// register); the register refuses anything else (not approved, not the reader's, refused).
    /// </summary>
    private static async Task<IResult> DownloadAsync(HttpContext context, RoundRuns runs, IStringLocalizer<ExportText> text, long id)
    {
        var account = Portal.AccountOf(context.User);
        var register = Register(context);
        var request = await register.RequestAsync(account, id, context.RequestAborted);
        var kind = request.Kind;
        if (!RequestKinds.Contains(kind) || ParseScope(request.Scope) is not { } scope || request.RoundId is not { } roundId)
        {
            return Page.NotFound(context);
        }

        var roundCode = request.RoundCode ?? (await runs.ListAsync(200, context.RequestAborted)).FirstOrDefault(r => r.RoundId == roundId)?.RoundCode ?? "";
        var order = new ExportOrder(kind, request.Form, scope, roundId, request.Purpose, request.RequestId);
        ExportedFile file;
        try
        {
            file = await register.TakeAsync(account, order, From(context),
                (watermark, ct) => ProduceAsync(context, account, order, roundCode, watermark, ct), context.RequestAborted);
        }
        catch (UserErrorException e)
        {
            // Every take is asked of the register, so that each refused one is on record there (export.refused); taken before or
            // past its window is 410 with what to do (ask again), anything else the register's refusal.
            var after = await register.RequestAsync(account, id, context.RequestAborted);
            return Gone(text, after, DateTimeOffset.UtcNow)
                ?? Page.Message(text["Download.Title"], e.Message, StatusCodes.Status403Forbidden, error: true, back: "/exports#requests");
        }

        return file.FileName.EndsWith(".zip", StringComparison.Ordinal)
            ? Send(context, file.Bytes ?? [], "application/zip", file.FileName)
            : Send(context, file);
    }

    /// <summary>A request that can no longer be taken: taken before, or past its window (410 with what to do: ask again).</summary>
    private static IResult? Gone(IStringLocalizer<ExportText> text, ExportRequest request, DateTimeOffset now)
    {
        if (request.Status == ExportRequestStatus.Taken)
        {
            return Page.Message(text["Download.Title"], text["Download.Taken", request.ExportId is { } taken ? ExportId.Format(taken) : "", Components.Dates.Minute(request.TakenAt)],
                StatusCodes.Status410Gone, error: true, back: "/exports");
        }

        if (request.Status == ExportRequestStatus.Expired || (request.Status == ExportRequestStatus.Approved && request.ExpiresAt <= now))
        {
            return Page.Message(text["Download.Title"], text["Download.Expired", Components.Dates.Minute(request.ExpiresAt)], StatusCodes.Status410Gone,
                error: true, back: "/exports");
        }

        return null;
    }

    /// <summary>A district's open problems, masked, from its page: no request needed (the policy allows it), on record like every file.</summary>
    private static async Task<IResult> DistrictProblemsAsync(HttpContext context, RoundRuns runs, IStringLocalizer<ExportText> text, string? code,
        string? round)
    {
        var account = Portal.AccountOf(context.User);
        var districtCode = account.DistrictCode ?? code;
        if (!IsCode(districtCode) || string.IsNullOrEmpty(districtCode) || !IsCode(round))
        {
            return Page.NotFound(context);
        }

        var run = string.IsNullOrEmpty(round)
            ? (await runs.ListAsync(1, context.RequestAborted)).FirstOrDefault()
            : await runs.GetAsync(round, context.RequestAborted);
        if (run is null)
        {
            return Page.NotFound(context);
        }

        var order = new ExportOrder(ExportKind.ProblemList, ExportForm.Masked, ExportScope.District(districtCode), run.RoundId);
        try
        {
            var file = await Register(context).TakeAsync(account, order, From(context),
                (watermark, ct) => ProduceAsync(context, account, order, run.RoundCode, watermark, ct), context.RequestAborted);
            return Send(context, file);
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["Download.Title"], e.Message, StatusCodes.Status403Forbidden, error: true, back: "/district");
        }
    }

    // ---- the producers ----

    /// <summary>Makes the file of an order, with its watermark: the problem list as a watermarked .xlsx; the changes as the registry's CSV.</summary>
    private static Task<ExportContent> ProduceAsync(HttpContext context, Account account, ExportOrder order, string roundCode, Watermark watermark,
        CancellationToken cancellationToken) => order.Kind switch
        {
            ExportKind.ProblemList => ProblemListAsync(context, account, order, roundCode, watermark, cancellationToken),
            ExportKind.Changes => ChangesAsync(context, account, roundCode, watermark, cancellationToken),
            _ => throw new InvalidOperationException("The portal makes no " + ExportKinds.Name(order.Kind) + " export."),
        };

    private static async Task<ExportContent> ProblemListAsync(HttpContext context, Account account, ExportOrder order, string roundCode,
        Watermark watermark, CancellationToken cancellationToken)
    {
        var language = Languages.Worksheet;
        using var stream = new MemoryStream();
        var (rows, fields) = await new ProblemListExport(DataSource(context)).WriteAsync(account, order.RoundId!.Value, order.Scope, order.Form,
            language, stream, cancellationToken);
        var bytes = XlsxWatermark.Apply(stream.ToArray(), watermark, language);
        return new ExportContent(FileName("problems", roundCode, order.Scope, order.Form, watermark.ExportId, ".xlsx"), rows, fields, Bytes: bytes);
    }

    /// <summary>
    /// The round's changes for the registry, written by the one writer (with the watermark: the register records it, nothing
    /// else does) into an owner-only temporary folder with its sidecar (the watermark, the CSV's sha256, rows, fields), both
    /// put in one .zip (a CSV carries no watermark inside) and deleted. The register records the .zip (what leaves) and the
    /// CSV as its part (what travels on to the registry, and is identified by its bytes when found alone).
    /// </summary>
    private static async Task<ExportContent> ChangesAsync(HttpContext context, Account account, string roundCode, Watermark watermark,
        CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("sdq-export-");
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(folder.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var name = FileName("changes", roundCode, ExportScope.Province, ExportForm.Full, watermark.ExportId, ".csv");
            var written = await new ChangeSetWriter(DataSource(context)).WriteAsync(roundCode, Path.Combine(folder.FullName, name), account,
                watermark, cancellationToken);
            var csv = await File.ReadAllBytesAsync(written.Path, cancellationToken);
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(csv));
            ExportSidecar.Write(written.Path, watermark, sha256, written.Rows, ChangeSetWriter.FieldNames);
            var sidecar = await File.ReadAllBytesAsync(ExportSidecar.PathFor(written.Path), cancellationToken);
            return new ExportContent(Path.ChangeExtension(name, ".zip"), written.Rows, ChangeSetWriter.FieldNames,
                Bytes: Envelope((name, csv), (name + ExportSidecar.Suffix, sidecar)), Parts: [new ExportPart(name, sha256)]);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Files in one .zip, made in memory.</summary>
    private static byte[] Envelope(params (string Name, byte[] Bytes)[] files)
    {
        using var zipped = new MemoryStream();
        using (var zip = new ZipArchive(zipped, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes) in files)
            {
                using var entry = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
                entry.Write(bytes);
            }
        }

        return zipped.ToArray();
    }

    private static IResult Send(HttpContext context, ExportedFile file) =>
        Send(context, file.Bytes ?? [], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", file.FileName);

    /// <summary>A file as an attachment that no cache keeps (the security headers add nosniff to every answer).</summary>
    private static IResult Send(HttpContext context, byte[] bytes, string contentType, string fileName)
    {
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.File(bytes, contentType, fileName);
    }

    /// <summary>
    /// A file's name: kind, round, scope, form and export id, every character that is not a letter, digit, '-' or '.' made '_'
    /// (the round's code and a district's come from the registry: nothing of them may break out of the header or name a path).
    /// </summary>
    internal static string FileName(string kind, string roundCode, ExportScope scope, ExportForm form, string exportId, string extension)
    {
        static string Safe(string part) => new([.. part.Take(40).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' ? c : '_')]);
        return string.Join('_', kind, Safe(roundCode), Safe(scope.Text), ExportKinds.Name(form), Safe(ExportId.Format(exportId))) + extension;
    }

    /// <summary>The scope a request holds, as the register wrote it: the province or one district (what the portal asks for).</summary>
    internal static ExportScope? ParseScope(string text) =>
        text == ExportScope.Province.Text ? ExportScope.Province
        : text.StartsWith("district:", StringComparison.Ordinal) && text["district:".Length..] is { Length: > 0 } code && IsCode(code)
            ? ExportScope.District(code)
            : null;

    /// <summary>A code from the address or a form: letters, digits, '.', '_', '-', at most 40 (empty or none: not given).</summary>
    internal static bool IsCode(string? code) =>
        code is null || (code.Length <= 40 && code.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'));

    /// <summary>Text a person typed, kept as text: at most <paramref name="max"/> characters, no control characters but line breaks and tabs.</summary>
    internal static bool PlainText(string text, int max) =>
        text.Length <= max && !text.Any(c => char.IsControl(c) && c is not ('\r' or '\n' or '\t'));
}

/// <summary>
/// The register's filters from the query string: who took it (an account name), kind, form, a date range (yyyy-MM-dd,
/// Beijing time, inclusive). A value that cannot be one is left out, and the page says which it ignored.
/// </summary>
public sealed record RegisterFilters(ExportQuery Query, IReadOnlyList<string> Ignored)
{
    public static RegisterFilters Parse(string? by, string? kind, string? form, string? from, string? to)
    {
        var ignored = new List<string>();
        string? takenBy = null;
        if (!string.IsNullOrWhiteSpace(by))
        {
            var name = by.Trim();
            if (name.Length <= 64 && name.All(c => char.IsLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
            {
                takenBy = name;
            }
            else
            {
                ignored.Add("by");
            }
        }

        ExportKind? parsedKind = null;
        if (!string.IsNullOrWhiteSpace(kind) && (parsedKind = ExportKinds.ParseKind(kind)) is null)
        {
            ignored.Add("kind");
        }

        ExportForm? parsedForm = null;
        if (!string.IsNullOrWhiteSpace(form) && (parsedForm = ExportKinds.ParseForm(form)) is null)
        {
            ignored.Add("form");
        }

        return new RegisterFilters(new ExportQuery(takenBy, parsedKind, parsedForm, Day(from, "from", ignored), Day(to, "to", ignored)), ignored);
    }

    private static DateOnly? Day(string? text, string field, List<string> ignored)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (DateOnly.TryParseExact(text.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            return day;
        }

        ignored.Add(field);
        return null;
    }

    /// <summary>The address of a page of the register with these filters.</summary>
    public string Href(int page)
    {
        var parameters = new List<string>();
        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                parameters.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }

        Add("by", Query.TakenBy);
        Add("kind", Query.Kind is { } k ? ExportKinds.Name(k) : null);
        Add("form", Query.Form is { } f ? ExportKinds.Name(f) : null);
        Add("from", Query.From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Add("to", Query.To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        if (page > 1)
        {
            Add("page", page.ToString(CultureInfo.InvariantCulture));
        }

        return "/team/exports" + (parameters.Count == 0 ? "" : "?" + string.Join('&', parameters));
    }
}

/// <summary>What the "ask for an export" form held (given back with its refusal).</summary>
public sealed record AskForm(string? Kind, string? Round, string? Scope, string? District, string Purpose);
