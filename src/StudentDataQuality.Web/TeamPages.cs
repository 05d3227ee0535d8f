using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;

namespace StudentDataQuality.Web;

/// <summary>
/// The data team's console: the rounds and their stages, the chase list (schools past their deadline), the schools'
/// explanations to review (accept, or refuse with a note the school reads), and the audit log searched by account,
/// school and action. Data-team accounts only.
/// </summary>
internal static class TeamPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var team = app.MapGroup("/team").RequireAuthorization(p => p.RequireRole("data_team"));
        team.MapGet("/", ConsoleAsync);
        team.MapPost("/explanations/{id:long}", DecideAsync);
        team.MapGet("/audit", AuditAsync);
    }

    private static async Task<IResult> ConsoleAsync(HttpContext context, IAntiforgery antiforgery, RoundRuns runs, ExplanationReview review)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        var body = new StringBuilder("<h1>数据管理 Data team</h1><h2>核查轮次 Rounds</h2><table><tr><th>轮次 Round</th><th>阶段 Stage</th><th>问题清单 Worksheets</th><th>截止 Deadline</th><th>问题 Problem</th></tr>");
        foreach (var run in await runs.ListAsync(cancellationToken: context.RequestAborted))
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{Html.E(run.RoundCode)}</td><td>{RoundRuns.StageText(run.Stage)}</td><td>{run.SchoolsDone}/{run.SchoolsTotal}</td><td>{run.Deadline:yyyy-MM-dd}</td><td>{Html.E(run.Problem)}</td></tr>");
        }

        body.Append("</table><h2>催报 Past their deadline</h2><table><tr><th>轮次 Round</th><th>学校 School</th><th>截止 Deadline</th><th>逾期天数 Days late</th><th>未解决错误 Open errors</th></tr>");
        foreach (var late in await runs.LateSchoolsAsync(DateOnly.FromDateTime(DateTime.Today), context.RequestAborted))
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{Html.E(late.RoundCode)}</td><td><a href=\"/school?code={Html.E(late.SchoolCode)}\">{Html.E(late.SchoolCode)}</a> {Html.E(late.SchoolName)}</td><td>{late.Deadline:yyyy-MM-dd}</td><td>{late.DaysLate}</td><td>{late.OpenErrors}</td></tr>");
        }

        body.Append("</table><h2>待审核说明 Explanations to review</h2><table><tr><th>#</th><th>学校 School</th><th>学籍号 Student no.</th><th>规则 Rules</th><th>说明 Explanation</th><th>决定 Decision</th></tr>");
        foreach (var e in (await review.PendingAsync(cancellationToken: context.RequestAborted)).Take(200))
        {
            body.Append(CultureInfo.InvariantCulture, $"""
                <tr><td>{e.ExplanationId}</td><td>{Html.E(e.SchoolCode)}</td><td>{Html.E(e.StudentNo)}</td><td>{Html.E(string.Join(", ", e.RuleIds))}</td><td>{Html.E(e.Text)}</td>
                <td><form method="post" action="/team/explanations/{e.ExplanationId}">{Html.Token(tokens)}
                <input type="text" name="note" placeholder="理由（拒绝时必填） Note (needed to refuse)">
                <button type="submit" name="decision" value="accept">接受 Accept</button> <button type="submit" name="decision" value="refuse">拒绝 Refuse</button></form></td></tr>
                """);
        }

        body.Append("""
            </table><h2>审计日志 Audit log</h2>
            <form method="get" action="/team/audit"><input type="text" name="account" placeholder="账号 Account"> <input type="text" name="school" placeholder="学校 School">
            <input type="text" name="action" placeholder="操作 Action"> <button type="submit">查询 Search</button></form>
            <p><a href="/jobs">作业面板 Jobs dashboard</a> · <a href="/">首页 Home</a></p>
            """);
        return Html.Content(Html.Page("数据管理 Data team", body.ToString()));
    }

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
            return Html.Content(Html.Page("审核 Review", $"{Html.Error(e.Message)}<p><a href=\"/team\">返回 Back</a></p>"), StatusCodes.Status400BadRequest);
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
        body.Append(CultureInfo.InvariantCulture, $"<h1>审计日志 Audit log</h1><p>{Html.E(account)} {Html.E(school)} {Html.E(action)}</p>");
        body.Append("<table><tr><th>时间 When</th><th>账号 Account</th><th>操作 Action</th><th>轮次 Round</th><th>学校 School</th><th>对象 Object</th><th>详情 Details</th></tr>");
        await using var reader = await command.ExecuteReaderAsync(context.RequestAborted);
        while (await reader.ReadAsync(context.RequestAborted))
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{reader.GetFieldValue<DateTimeOffset>(0).ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd HH:mm:ss}</td><td>{Html.E(reader.GetString(1))}</td><td>{Html.E(reader.GetString(2))}</td><td>{(reader.IsDBNull(3) ? "" : reader.GetInt32(3).ToString(CultureInfo.InvariantCulture))}</td><td>{Html.E(reader.IsDBNull(4) ? null : reader.GetString(4))}</td><td>{Html.E(reader.IsDBNull(5) ? null : reader.GetString(5))}</td><td>{Html.E(reader.GetString(6))}</td></tr>");
        }

        body.Append("</table><p><a href=\"/team\">返回 Back</a></p>");
        return Html.Content(Html.Page("审计日志 Audit log", body.ToString()));
    }
}
