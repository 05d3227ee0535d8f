using System.Globalization;
using System.Text;
using Hangfire;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Web;

/// <summary>
/// The data team's console: the rounds and their progress, starting a round now or on a schedule (from the registry
/// exports under the portal's exports folder), the chase list (schools past their deadline), the schools' explanations
/// to review (accept, or refuse with a note the school reads), and the audit log searched by account, school and
/// action. Data-team accounts only.
/// </summary>
internal static partial class TeamPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var team = app.MapGroup("/team").RequireAuthorization(p => p.RequireRole("data_team"));
        team.MapGet("/", ConsoleAsync);
        team.MapPost("/rounds", StartRoundAsync);
        team.MapPost("/schedules", SaveScheduleAsync);
        team.MapPost("/schedules/remove", RemoveScheduleAsync);
        team.MapPost("/explanations/{id:long}", DecideAsync);
        team.MapGet("/audit", AuditAsync);
    }

    private static async Task<IResult> ConsoleAsync(HttpContext context, IAntiforgery antiforgery, RoundRuns runs, ExplanationReview review,
        PortalSettings settings, JobStorage storage)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>{Html.T("数据管理", "Data team")}</h1>
            <h2>{Html.T("核查轮次", "Rounds")}</h2>
            <table><tr><th>{Html.T("轮次", "Round")}</th><th>{Html.T("阶段", "Stage")}</th><th>{Html.T("问题清单", "Worksheets")}</th><th>{Html.T("截止", "Deadline")}</th><th>{Html.T("结束", "Closes")}</th><th>{Html.T("问题", "Problem")}</th></tr>
            """);
        var rounds = await runs.ListAsync(cancellationToken: context.RequestAborted);
        foreach (var run in rounds)
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{Html.E(run.RoundCode)}</td><td>{StageText(run.Stage)}</td><td>{run.SchoolsDone}/{(run.SchoolsTotal is { } total ? total.ToString(CultureInfo.InvariantCulture) : "–")}</td><td>{run.Deadline:yyyy-MM-dd}</td><td>{run.ClosesOn:yyyy-MM-dd}</td><td>{Html.E(run.Problem)}</td></tr>");
        }

        body.Append("</table>");
        var sources = Sources(settings);
        body.Append(StartForm(tokens, sources, rounds));
        body.Append(await SchedulesAsync(runs, storage, tokens, sources, context.RequestAborted));

        body.Append(CultureInfo.InvariantCulture, $"""
            <h2>{Html.T("催报：已过截止日期", "Past their deadline")}</h2>
            <table><tr><th>{Html.T("轮次", "Round")}</th><th>{Html.T("学校", "School")}</th><th>{Html.T("截止", "Deadline")}</th><th>{Html.T("逾期天数", "Days late")}</th><th>{Html.T("未解决错误", "Open errors")}</th></tr>
            """);
        foreach (var late in await runs.LateSchoolsAsync(DateOnly.FromDateTime(DateTime.Today), context.RequestAborted))
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{Html.E(late.RoundCode)}</td><td><a href=\"/school?code={Html.E(late.SchoolCode)}\">{Html.E(late.SchoolCode)}</a> {Html.E(late.SchoolName)}</td><td>{late.Deadline:yyyy-MM-dd}</td><td>{late.DaysLate}</td><td>{late.OpenErrors}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture, $"""
            </table><h2>{Html.T("待审核说明", "Explanations to review")}</h2>
            <table><tr><th>#</th><th>{Html.T("学校", "School")}</th><th>{Html.T("学籍号", "Student no.")}</th><th>{Html.T("规则", "Rules")}</th><th>{Html.T("说明", "Explanation")}</th><th>{Html.T("决定", "Decision")}</th></tr>
            """);
        var explanations = await review.ReviewListAsync(SchoolPages.AccountOf(context.User), context.Connection.RemoteIpAddress?.ToString() ?? "", 200,
            context.RequestAborted);
        foreach (var e in explanations)
        {
            body.Append(CultureInfo.InvariantCulture, $"""
                <tr><td>{e.ExplanationId}</td><td>{Html.E(e.SchoolCode)}</td><td>{Html.E(e.StudentNo)}</td><td>{Html.E(string.Join(", ", e.RuleIds))}</td><td>{Html.E(e.Text)}</td>
                <td><form method="post" action="/team/explanations/{e.ExplanationId}">{Html.Token(tokens)}
                <input type="text" name="note" aria-label="{Html.T("理由", "Note")}" placeholder="{Html.T("理由（拒绝时必填）", "Note (needed to refuse)")}">
                <button type="submit" name="decision" value="accept">{Html.T("接受", "Accept")}</button> <button type="submit" name="decision" value="refuse">{Html.T("拒绝", "Refuse")}</button></form></td></tr>
                """);
        }

        body.Append(CultureInfo.InvariantCulture, $"""
            </table><h2>{Html.T("审计日志", "Audit log")}</h2>
            <form method="get" action="/team/audit"><input type="text" name="account" placeholder="{Html.T("账号", "Account")}" aria-label="{Html.T("账号", "Account")}">
            <input type="text" name="school" placeholder="{Html.T("学校", "School")}" aria-label="{Html.T("学校", "School")}">
            <input type="text" name="action" placeholder="{Html.T("操作", "Action")}" aria-label="{Html.T("操作", "Action")}"> <button type="submit">{Html.T("查询", "Search")}</button></form>
            <p><a href="{Portal.DashboardPath}">{Html.T("作业面板", "Jobs dashboard")}</a> · <a href="/">{Html.T("首页", "Home")}</a></p>
            """);
        return Html.Content(Html.Page(Html.T("数据管理", "Data team"), body.ToString()));
    }

    private static string StageText(RoundStage stage) => stage switch
    {
        RoundStage.Extracting => Html.T("抽取中", "extracting"),
        RoundStage.Checking => Html.T("核查中", "checking"),
        RoundStage.Issuing => Html.T("下发中", "issuing"),
        RoundStage.Issued => Html.T("已下发", "issued"),
        _ => Html.T("已结束", "closed"),
    };

    /// <summary>The registry exports a round may be started from: the files and folders directly under the exports folder.</summary>
    private static IReadOnlyList<string> Sources(PortalSettings settings) =>
        settings.Exports is { } root && Directory.Exists(root)
            ? Directory.EnumerateFileSystemEntries(root)
                .Where(p => Directory.Exists(p) || p.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".xlsx", StringComparison.OrdinalIgnoreCase))
                .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];

    private static string SourceOptions(IReadOnlyList<string> sources) =>
        string.Concat(sources.Select(s => $"""<option value="{Html.E(s)}">{Html.E(s)}</option>"""));

    private static string StartForm(AntiforgeryTokenSet tokens, IReadOnlyList<string> sources, IReadOnlyList<RoundRun> rounds)
    {
        if (sources.Count == 0)
        {
            return $"<p>{Html.T("导出文件夹中没有学籍导出，无法从这里开始核查。", "There is no registry export in the exports folder, so no round can be started here.")}</p>";
        }

        var previous = string.Concat(rounds.Select(r => $"""<option value="{Html.E(r.RoundCode)}">{Html.E(r.RoundCode)}</option>"""));
        return $"""
            <h3>{Html.T("立即开始核查", "Start a round now")}</h3>
            <form class="stacked" method="post" action="/team/rounds">{Html.Token(tokens)}
            <label for="round">{Html.T("轮次代码（如 2026-autumn）", "Round code (e.g. 2026-autumn)")}</label>
            <input type="text" id="round" name="round" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{"{0,39}"}">
            <label for="source">{Html.T("学籍导出", "Registry export")}</label>
            <select id="source" name="source" required>{SourceOptions(sources)}</select>
            <label for="previous">{Html.T("上一轮（跨轮次核查）", "Previous round (for the cross-round checks)")}</label>
            <select id="previous" name="previous"><option value="">{Html.T("无", "none")}</option>{previous}</select>
            <label for="deadline">{Html.T("学校反馈期限（天）", "Days the schools have to return")}</label>
            <input type="number" id="deadline" name="deadline" value="21" min="1" max="120" required>
            <button type="submit">{Html.T("开始", "Start")}</button>
            </form>
            """;
    }

    private static async Task<string> SchedulesAsync(RoundRuns runs, JobStorage storage, AntiforgeryTokenSet tokens, IReadOnlyList<string> sources,
        CancellationToken cancellationToken)
    {
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $"""
            <h3>{Html.T("定期核查", "Recurring rounds")}</h3>
            <table><tr><th>{Html.T("名称", "Name")}</th><th>{Html.T("时间（cron）", "When (cron)")}</th><th>{Html.T("下次开始", "Next start")}</th><th>{Html.T("学籍导出", "Registry export")}</th><th></th></tr>
            """);
        foreach (var schedule in await runs.SchedulesAsync(cancellationToken))
        {
            html.Append(CultureInfo.InvariantCulture, $"""
                <tr><td>{Html.E(schedule.Name)}</td><td>{Html.E(schedule.Cron)} ({Html.E(schedule.TimeZone)})</td><td>{RoundLauncher.NextStart(storage, schedule)}</td><td>{Html.E(string.Join("; ", schedule.Sources.Select(Path.GetFileName)))}</td>
                <td><form method="post" action="/team/schedules/remove">{Html.Token(tokens)}<input type="hidden" name="name" value="{Html.E(schedule.Name)}"><button type="submit">{Html.T("删除", "Remove")}</button></form></td></tr>
                """);
        }

        html.Append("</table>");
        if (sources.Count > 0)
        {
            html.Append(CultureInfo.InvariantCulture, $"""
                <form class="stacked" method="post" action="/team/schedules">{Html.Token(tokens)}
                <label for="schedule-name">{Html.T("名称", "Name")}</label>
                <input type="text" id="schedule-name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{"{0,39}"}">
                <label for="cron">{Html.T("时间（cron，北京时间；默认每年 3 月 15 日和 9 月 15 日 02:00）", "When (cron, Beijing time; by default 02:00 on 15 March and 15 September)")}</label>
                <input type="text" id="cron" name="cron" value="{RoundLauncher.SemesterCron}" required>
                <label for="schedule-source">{Html.T("学籍导出", "Registry export")}</label>
                <select id="schedule-source" name="source" required>{SourceOptions(sources)}</select>
                <label for="schedule-deadline">{Html.T("学校反馈期限（天）", "Days the schools have to return")}</label>
                <input type="number" id="schedule-deadline" name="deadline" value="21" min="1" max="120" required>
                <button type="submit">{Html.T("保存定期核查", "Save the recurring round")}</button>
                </form>
                """);
        }

        return html.ToString();
    }

    /// <summary>The export chosen in a form, as a path under the exports folder (a name from the list, never a path typed in).</summary>
    private static string ChosenSource(PortalSettings settings, string chosen)
    {
        if (!Sources(settings).Contains(chosen, StringComparer.Ordinal))
        {
            throw new UserErrorException(Html.T("请从列表中选择学籍导出。", "Choose the registry export from the list."));
        }

        return Path.Combine(settings.Exports!, chosen);
    }

    private static int Days(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days is >= 1 and <= 120
            ? days
            : throw new UserErrorException(Html.T("反馈期限应为 1 到 120 天。", "The days to return are a whole number from 1 to 120."));

    private static async Task<IResult> StartRoundAsync(HttpContext context, IAntiforgery antiforgery, RoundLauncher launcher, PortalSettings settings)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        try
        {
            var code = form["round"].ToString().Trim();
            if (!RoundCode().IsMatch(code))
            {
                throw new UserErrorException(Html.T("轮次代码由字母、数字、点、下划线和连字符组成（最多 40 个字符）。",
                    "A round code is letters, digits, dots, underscores and hyphens (at most 40)."));
            }

            var start = new RoundStart(code, DateOnly.FromDateTime(DateTime.Today), [ChosenSource(settings, form["source"].ToString())],
                Path.Combine(settings.Worksheets, code))
            {
                PreviousRoundCode = form["previous"].ToString() is { Length: > 0 } previous ? previous : null,
                DeadlineDays = Days(form["deadline"].ToString()),
            };
            await launcher.StartAsync(start, SchoolPages.AccountOf(context.User).Name, context.RequestAborted);
            return Results.Redirect("/team");
        }
        catch (UserErrorException e)
        {
            return Problem(Html.T("未能开始核查", "The round was not started"), e.Message);
        }
    }

    private static async Task<IResult> SaveScheduleAsync(HttpContext context, IAntiforgery antiforgery, RoundRuns runs, IRecurringJobManager recurring,
        PortalSettings settings)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        try
        {
            var schedule = new RoundSchedule(form["name"].ToString().Trim(), form["cron"].ToString().Trim(), RoundLauncher.DefaultTimeZone,
                [ChosenSource(settings, form["source"].ToString())], settings.Worksheets, Days(form["deadline"].ToString()), 7, "zh", "");
            await RoundLauncher.SaveScheduleAsync(runs, recurring, schedule, SchoolPages.AccountOf(context.User).Name, context.RequestAborted);
            return Results.Redirect("/team");
        }
        catch (UserErrorException e)
        {
            return Problem(Html.T("未能保存定期核查", "The recurring round was not saved"), e.Message);
        }
    }

    private static async Task<IResult> RemoveScheduleAsync(HttpContext context, IAntiforgery antiforgery, RoundRuns runs, IRecurringJobManager recurring)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var name = (await context.Request.ReadFormAsync(context.RequestAborted))["name"].ToString();
        await RoundLauncher.RemoveScheduleAsync(runs, recurring, name, SchoolPages.AccountOf(context.User).Name, context.RequestAborted);
        return Results.Redirect("/team");
    }

    private static IResult Problem(string title, string message) =>
        Html.Content(Html.Page(title, $"<h1>{Html.E(title)}</h1>{Html.Error(message)}<p><a href=\"/team\">{Html.T("返回", "Back")}</a></p>"),
            StatusCodes.Status400BadRequest);

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
    private static partial System.Text.RegularExpressions.Regex RoundCode();

    private static async Task<IResult> DecideAsync(HttpContext context, IAntiforgery antiforgery, ExplanationReview review, long id)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        try
        {
            await review.DecideAsync(id, form["decision"] == "accept", form["note"].ToString() is { Length: > 0 } note ? note : null,
                SchoolPages.AccountOf(context.User), context.RequestAborted);
            return Results.Redirect("/team");
        }
        catch (UserErrorException e)
        {
            return Problem(Html.T("审核", "Review"), e.Message);
        }
    }

    /// <summary>The newest 200 audit entries matching every filter given (account, school, action; each exact).</summary>
    private static async Task<IResult> AuditAsync(HttpContext context, NpgsqlDataSource dataSource, string? account, string? school, string? action)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT occurred_at, actor, action, round_id, school_code, object, details::text FROM audit.event
            WHERE  (@account = '' OR actor = @account) AND (@school = '' OR school_code = @school)
              AND  (@action = '' OR action = @action)
            ORDER  BY event_id DESC LIMIT 200
            """);
        command.Parameters.AddWithValue("account", account?.Trim() ?? "");
        command.Parameters.AddWithValue("school", school?.Trim() ?? "");
        command.Parameters.AddWithValue("action", action?.Trim() ?? "");
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>{Html.T("审计日志", "Audit log")}</h1><p>{Html.E(account)} {Html.E(school)} {Html.E(action)}</p>
            <table><tr><th>{Html.T("时间", "When")}</th><th>{Html.T("账号", "Account")}</th><th>{Html.T("操作", "Action")}</th><th>{Html.T("轮次", "Round")}</th><th>{Html.T("学校", "School")}</th><th>{Html.T("对象", "Object")}</th><th>{Html.T("详情", "Details")}</th></tr>
            """);
        await using var reader = await command.ExecuteReaderAsync(context.RequestAborted);
        while (await reader.ReadAsync(context.RequestAborted))
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{reader.GetFieldValue<DateTimeOffset>(0).ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd HH:mm:ss}</td><td>{Html.E(reader.GetString(1))}</td><td>{Html.E(reader.GetString(2))}</td><td>{(reader.IsDBNull(3) ? "" : reader.GetInt32(3).ToString(CultureInfo.InvariantCulture))}</td><td>{Html.E(reader.IsDBNull(4) ? null : reader.GetString(4))}</td><td>{Html.E(reader.IsDBNull(5) ? null : reader.GetString(5))}</td><td>{Html.E(reader.GetString(6))}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture, $"</table><p><a href=\"/team\">{Html.T("返回", "Back")}</a></p>");
        return Html.Content(Html.Page(Html.T("审计日志", "Audit log"), body.ToString()));
    }
}
