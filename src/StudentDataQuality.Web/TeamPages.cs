using System.Globalization;
using System.Text.RegularExpressions;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Web.Components.Team;

namespace StudentDataQuality.Web;

/// <summary>
/// The data team's console: the rounds and each round's page (its schools and its returns day by day), starting a round
/// now or on a schedule (from the registry exports under the portal's exports folder), the chase list (schools past their
/// deadline), the schools' explanations to review (filtered, paged, decided a selection at a time: accept, or refuse with
/// a note the school reads), and the audit log searched. Data-team accounts only (the group's policy); everything that
/// can be long is filtered and paged in the database.
/// </summary>
internal static partial class TeamPages
{
    /// <summary>Rows on one page of any list of the console.</summary>
    public const int PageSize = 50;

    /// <summary>The last page a list goes to (beyond it a filter narrows better than paging).</summary>
    public const int MaxPage = 2_000;

    public static void Map(IEndpointRouteBuilder app)
    {
        var team = app.Pages("/team", Policies.DataTeam);
        team.MapGet("/", ConsoleAsync);
        team.MapPost("/rounds", StartRoundAsync);
        team.MapGet("/rounds/{code}", RoundAsync);
        team.MapPost("/schedules", SaveScheduleAsync);
        team.MapPost("/schedules/remove", RemoveScheduleAsync);
        team.MapGet("/explanations", ExplanationsAsync);
        team.MapPost("/explanations/show", ShowExplanationsAsync);
        team.MapPost("/explanations/decide", DecideSelectionAsync);
        team.MapGet("/audit", AuditAsync);
    }

    private static async Task<IResult> ConsoleAsync(HttpContext context, RoundRuns runs, ExplanationReview review, PortalSettings settings,
        JobStorage storage, string? late)
    {
        var page = PageNumber(late);
        var rounds = await runs.ListAsync(cancellationToken: context.RequestAborted);
        var schedules = (await runs.SchedulesAsync(context.RequestAborted)).Select(s => new ScheduleLine(s, RoundLauncher.NextStart(storage, s))).ToList();
        var lateSchools = await runs.LateSchoolsPageAsync(Today, (page - 1) * PageSize, PageSize, context.RequestAborted);
        var pending = await review.PendingByRuleAsync(context.RequestAborted);
        return Page.Show<TeamConsole>(new
        {
            Rounds = rounds, Sources = Sources(settings), Schedules = schedules, Late = lateSchools, LatePage = page, PendingByRule = pending,
        });
    }

    private static async Task<IResult> RoundAsync(HttpContext context, RoundRuns runs, string code, string? page)
    {
        if (!RoundCode().IsMatch(code) || await runs.GetAsync(code, context.RequestAborted) is not { } run)
        {
            return Page.NotFound(context);
        }

        var number = PageNumber(page);
        var schools = await runs.SchoolsOfRoundAsync(run.RoundId, (number - 1) * PageSize, PageSize, context.RequestAborted);
        var progress = await runs.ProgressAsync(run.RoundId, Today, context.RequestAborted);
        return Page.Show<RoundPage>(new { Run = run, Progress = progress, Schools = schools, PageNumber = number });
    }

    /// <summary>Today in Beijing time, the day the schools and their deadlines live in.</summary>
    private static DateOnly Today => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, Beijing).DateTime);

    private static readonly TimeZoneInfo Beijing = TimeZoneInfo.FindSystemTimeZoneById(RoundLauncher.DefaultTimeZone);

    /// <summary>A page number from the address: 1 to <see cref="MaxPage"/>, anything else the first page.</summary>
    internal static int PageNumber(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var page) && page is >= 1 and <= MaxPage ? page : 1;

    /// <summary>The registry exports a round may be started from: the files and folders directly under the exports folder.</summary>
    private static IReadOnlyList<string> Sources(PortalSettings settings) =>
        settings.Exports is { } root && Directory.Exists(root)
            ? Directory.EnumerateFileSystemEntries(root)
                .Where(p => Directory.Exists(p) || p.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".xlsx", StringComparison.OrdinalIgnoreCase))
                .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The export chosen in a form, as a path under the exports folder (a name from the list, never a path typed in).</summary>
    private static string ChosenSource(PortalSettings settings, string chosen) =>
        Sources(settings).Contains(chosen, StringComparer.Ordinal)
            ? Path.Combine(settings.Exports!, chosen)
            : throw new UserErrorException(new UserMessage("Team.Round.SourceNotListed"));

    private static int Days(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days is >= 1 and <= 120
            ? days
            : throw new UserErrorException(new UserMessage("Team.Round.DaysInvalid"));

    private static async Task<IResult> StartRoundAsync(HttpContext context, RoundLauncher launcher, PortalSettings settings, IStringLocalizer<TeamText> text)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        try
        {
            var code = form["round"].ToString().Trim();
            if (!RoundCode().IsMatch(code))
            {
                throw new UserErrorException(new UserMessage("Team.Round.CodeInvalid"));
            }

            var start = new RoundStart(code, DateOnly.FromDateTime(DateTime.Today), [ChosenSource(settings, form["source"].ToString())],
                Path.Combine(settings.Worksheets, code))
            {
                PreviousRoundCode = form["previous"].ToString() is { Length: > 0 } previous ? previous : null,
                DeadlineDays = Days(form["deadline"].ToString()),
            };
            await launcher.StartAsync(start, Portal.AccountOf(context.User).Name, context.RequestAborted);
            return Results.Redirect("/team");
        }
        catch (RoundAlreadyStartedException e)
        {
            // The command line's own message names a command; the portal's says it in the reader's words.
            return Refused(text["Start.Failed"], new UserMessage("Team.Round.AlreadyStarted", e.RoundCode).ToString(), "/team");
        }
        catch (UserErrorException e)
        {
            return Refused(text["Start.Failed"], e.Message, "/team");
        }
    }

    private static async Task<IResult> SaveScheduleAsync(HttpContext context, RoundRuns runs, IRecurringJobManager recurring, PortalSettings settings,
        IStringLocalizer<TeamText> text)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        try
        {
            var schedule = new RoundSchedule(form["name"].ToString().Trim(), form["cron"].ToString().Trim(), RoundLauncher.DefaultTimeZone,
                [ChosenSource(settings, form["source"].ToString())], settings.Worksheets, Days(form["deadline"].ToString()), 7, "zh", "");
            await RoundLauncher.SaveScheduleAsync(runs, recurring, schedule, Portal.AccountOf(context.User).Name, context.RequestAborted);
            return Results.Redirect("/team");
        }
        catch (UserErrorException e)
        {
            return Refused(text["Schedule.Failed"], e.Message, "/team");
        }
    }

    private static async Task<IResult> RemoveScheduleAsync(HttpContext context, RoundRuns runs, IRecurringJobManager recurring)
    {
        var name = (await context.Request.ReadFormAsync(context.RequestAborted))["name"].ToString();
        await RoundLauncher.RemoveScheduleAsync(runs, recurring, name, Portal.AccountOf(context.User).Name, context.RequestAborted);
        return Results.Redirect("/team");
    }

    private static IResult Refused(string title, string message, string back) =>
        Page.Message(title, message, StatusCodes.Status400BadRequest, error: true, back: back);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
    private static partial Regex RoundCode();

    private static Task<IResult> ExplanationsAsync(HttpContext context, ExplanationReview review, RoundRuns runs, string? page, string? all,
        string? decided, string? n)
    {
        var (filter, ignored) = ExplanationFilters.Read(context.Request.Query);
        return ExplanationsPageAsync(context, review, runs, filter, ignored, PageNumber(page), all == "1",
            decided is "accept" or "refuse" ? decided : null,
            int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count <= ExplanationReview.MaxSelection ? count : 0,
            reveal: false);
    }

    /// <summary>
    /// A page of the explanations with student numbers and the numbers in the schools' texts in full: only with a reason,
    /// which is put on record with the filter and page shown (docs/security.md, "Masking"); the same filter as the page's.
    /// </summary>
    private static async Task<IResult> ShowExplanationsAsync(HttpContext context, ExplanationReview review, RoundRuns runs,
        IStringLocalizer<SchoolText> schoolText, PortalSettings settings)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var (filter, ignored) = ExplanationFilters.Read(form);
        var number = PageNumber(form["page"]);
        var back = ExplanationFilters.Href(filter, number);
        var reason = form["reason"].ToString().Trim();
        if (reason.Length == 0 || reason.Length > SchoolPages.MaxShowReason || reason.Any(char.IsControl))
        {
            return Page.Message(schoolText["Show.Title"], schoolText["Show.ReasonNeeded", SchoolPages.MaxShowReason], StatusCodes.Status400BadRequest,
                error: true, back: back);
        }

        var result = await ExplanationsPageAsync(context, review, runs, filter, ignored, number, selectAll: false, decided: null, decidedCount: 0,
            reveal: true);
        await using var connection = await settings.DataSource.OpenConnectionAsync(context.RequestAborted);
        await AuditLog.WriteAsync(connection, Portal.AccountOf(context.User).Name, "personal.show", null, filter.SchoolCode, back,
            new { reason, from = Portal.ClientAddress(context) }, context.RequestAborted);
        return result;
    }

    private static async Task<IResult> ExplanationsPageAsync(HttpContext context, ExplanationReview review, RoundRuns runs, ExplanationFilter filter,
        IReadOnlyList<string> ignored, int number, bool selectAll, string? decided, int decidedCount, bool reveal)
    {
        var list = await review.ListAsync(filter, (number - 1) * PageSize, PageSize, Portal.AccountOf(context.User), Portal.ClientAddress(context),
            context.RequestAborted);
        var rounds = (await runs.ListAsync(cancellationToken: context.RequestAborted)).Select(r => r.RoundCode).ToList();
        return Page.Show<ExplanationsPage>(new
        {
            Filter = filter, Ignored = ignored, PageNumber = number, List = list, Rounds = rounds, SelectAll = selectAll,
            Decided = decided, DecidedCount = decidedCount,
            // The data team reads the schools' students masked unless it asked, with a reason, to see them.
            Masked = !reveal,
        });
    }

    /// <summary>
    /// Accepts or refuses the explanations ticked on a page of the list, with one note: one POST, one transaction, each
    /// explanation decided and audited on its own; a selection with any explanation no longer pending or out of the page's
    /// filter is refused whole, with those named.
    /// </summary>
    private static async Task<IResult> DecideSelectionAsync(HttpContext context, ExplanationReview review, IStringLocalizer<TeamText> text)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var (filter, _) = ExplanationFilters.Read(form);
        var back = ExplanationFilters.Href(filter, PageNumber(form["page"]));
        try
        {
            var decision = form["decision"].ToString();
            if (decision is not ("accept" or "refuse"))
            {
                throw new UserErrorException(new UserMessage("Team.Review.NoDecision"));
            }

            var note = form["note"].ToString().Trim();
            if (note.Length > ExplanationFilters.MaxNote)
            {
                throw new UserErrorException(new UserMessage("Team.Review.NoteTooLong", ExplanationFilters.MaxNote));
            }

            var ids = ExplanationFilters.Ids(form["id"]);
            var done = await review.DecideSelectionAsync(ids, filter, decision == "accept", note.Length > 0 ? note : null, Portal.AccountOf(context.User),
                context.RequestAborted);
            return Results.Redirect(ExplanationFilters.Href(filter, PageNumber(form["page"]),
                [new("decided", decision), new("n", done.Explanations.ToString(CultureInfo.InvariantCulture))]));
        }
        catch (UserErrorException e)
        {
            return Refused(text["Decide.Failed"], e.Message, back);
        }
    }

    /// <summary>The audit log, the newest first, filtered by account, action, school and dates, a page at a time.</summary>
    private static async Task<IResult> AuditAsync(HttpContext context, NpgsqlDataSource dataSource, string? page)
    {
        var (query, ignored) = AuditFilters.Read(context.Request.Query);
        var number = PageNumber(page);
        var result = await AuditLog.SearchAsync(dataSource, query, (number - 1) * PageSize, PageSize, context.RequestAborted);
        return Page.Show<AuditPage>(new { Query = query, Ignored = ignored, PageNumber = number, Result = result });
    }
}

/// <summary>A recurring round and when it next starts, as the console lists it.</summary>
public sealed record ScheduleLine(RoundSchedule Schedule, string NextStart);
