using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Web;

/// <summary>
/// Quality trends for managers, the data team and district offices: the rounds overview, the districts of a round, the
/// worst and most improved districts and schools, the rules, and a district's schools; two charts (PNG) and every table
/// as .xlsx (audited). Aggregates only: codes, names of schools and districts, counts. Scope is decided by
/// <see cref="QualityTrends"/> (a school account is refused there, and the refusal audited).
/// </summary>
internal static class ManagerPages
{
    private static readonly string[] Tables = ["rounds", "districts", "schools", "rules", "movers"];

    public static void Map(IEndpointRouteBuilder app)
    {
        var trends = app.MapGroup("/trends").RequireAuthorization();
        trends.MapGet("/", OverviewAsync);
        trends.MapGet("/district/{code}", DistrictAsync);
        trends.MapGet("/chart/{name}.png", ChartAsync);
        trends.MapGet("/export/{table}.xlsx", ExportAsync);
    }

    /// <summary>A column of a trends table, the same on the page and in the .xlsx.</summary>
    private sealed record Column<T>(string Chinese, string English, ReportFormat Format, Func<T, object?> Value, double Width = 12,
        Func<T, string?>? Link = null)
    {
        public string Header => Html.T(Chinese, English);
    }

    private static TrendRequest Request(HttpContext context, int? roundId = null, string? district = null, bool export = false) =>
        new(SchoolPages.AccountOf(context.User), context.Connection.RemoteIpAddress?.ToString() ?? "", roundId, district, export);

    private static IResult Refused() => Html.Content(Html.Page(Html.T("无权访问", "Not allowed"),
        $"<h1>{Html.T("无权访问", "Not allowed")}</h1><p>{Html.T("您的账号无权查看这些质量趋势。", "Your account may not see these quality trends.")}</p><p><a href=\"/\">{Html.T("首页", "Home")}</a></p>"),
        StatusCodes.Status403Forbidden);

    private static async Task<IResult> OverviewAsync(HttpContext context, QualityTrends trends, string? round, string? district)
    {
        try
        {
            var cancel = context.RequestAborted;
            var rounds = await trends.RoundsAsync(Request(context, district: district), cancel);
            var body = new StringBuilder();
            var scope = Query(null, district);
            body.Append(CultureInfo.InvariantCulture, $"""
                <header><h1>{Html.T("数据质量趋势", "Quality trends")}{(district is { Length: > 0 } ? " · " + Html.T("区县 ", "district ") + Html.E(district) : "")}</h1>
                <a href="/">{Html.T("首页", "Home")}</a></header>
                """);
            if (rounds.Count == 0)
            {
                body.Append(CultureInfo.InvariantCulture, $"<p>{Html.T("还没有质量快照。", "No quality snapshot has been taken yet.")}</p>");
                return Html.Content(Html.Page(Html.T("数据质量趋势", "Quality trends"), body.ToString()));
            }

            var chosen = Choose(rounds, round);
            var roundScope = Query(chosen.RoundCode, district);
            var districts = await trends.DistrictsAsync(Request(context, chosen.RoundId, district), cancel);
            var movers = await trends.MoversAsync(Request(context, district: district), cancellationToken: cancel);
            var rules = await trends.RulesAsync(Request(context, chosen.RoundId, district), cancel);

            body.Append(CultureInfo.InvariantCulture, $"""
                <form method="get" action="/trends">{(district is { Length: > 0 } ? $"<input type=\"hidden\" name=\"district\" value=\"{Html.E(district)}\">" : "")}
                <label for="round">{Html.T("轮次", "Round")}</label> <select id="round" name="round">
                {string.Concat(rounds.Reverse().Select(r => $"<option value=\"{Html.E(r.RoundCode)}\"{(r.RoundId == chosen.RoundId ? " selected" : "")}>{Html.E(r.RoundCode)}</option>"))}
                </select> <button type="submit">{Html.T("查看", "Show")}</button></form>
                <h2>{Html.T("各轮次", "Rounds")}</h2>
                <p><img class="chart" src="/trends/chart/trend.png{scope}" width="{TrendCharts.Width}" height="{TrendCharts.Height}" alt="{Html.T("问题率与未解决错误率趋势", "Problem rate and open errors per 1,000 across rounds")}"></p>
                {Table(RoundColumns(), rounds)}
                {Export("rounds", scope)}
                <h2>{Html.T("各区县", "Districts")} · {Html.E(chosen.RoundCode)}</h2>
                <p><img class="chart" src="/trends/chart/districts.png{roundScope}" width="{TrendCharts.Width}" height="{TrendCharts.Height}" alt="{Html.T("各区县未解决错误率", "Open errors per 1,000 by district")}"></p>
                {Table(DistrictColumns(chosen.RoundCode), districts)}
                {Export("districts", roundScope)}
                """);
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>{Html.T("最差与进步最大", "Worst and most improved")}</h2>
                <p>{Html.T("最差：最新一轮每千名学生未解决错误最多；进步最大：最近两轮之间每千名学生问题数下降最多。",
                    "Worst: most open errors per 1,000 students in the newest round; most improved: largest drop of problems per 1,000 students between the two newest rounds.")}</p>
                <h3>{Html.T("最差的区县", "Worst districts")}</h3>{Table(MoverColumns(), Worst(movers, TrendLevel.District))}
                <h3>{Html.T("最差的学校", "Worst schools")}</h3>{Table(MoverColumns(), Worst(movers, TrendLevel.School))}
                <h3>{Html.T("进步最大的区县", "Most improved districts")}</h3>{Table(MoverColumns(), Improved(movers, TrendLevel.District))}
                <h3>{Html.T("进步最大的学校", "Most improved schools")}</h3>{Table(MoverColumns(), Improved(movers, TrendLevel.School))}
                {Export("movers", scope)}
                <h2>{Html.T("各规则", "Rules")} · {Html.E(chosen.RoundCode)}</h2>
                {Table(RuleColumns(), rules)}
                {Export("rules", roundScope)}
                """);
            return Html.Content(Html.Page(Html.T("数据质量趋势", "Quality trends"), body.ToString()));
        }
        catch (TrendScopeRefusedException)
        {
            return Refused();
        }
    }

    private static async Task<IResult> DistrictAsync(HttpContext context, QualityTrends trends, string code, string? round)
    {
        try
        {
            var cancel = context.RequestAborted;
            var rounds = await trends.RoundsAsync(Request(context, district: code), cancel);
            var body = new StringBuilder();
            body.Append(CultureInfo.InvariantCulture, $"""
                <header><h1>{Html.T("区县 ", "District ")}{Html.E(code)}</h1><a href="/trends">{Html.T("数据质量趋势", "Quality trends")}</a></header>
                """);
            if (rounds.Count == 0)
            {
                body.Append(CultureInfo.InvariantCulture, $"<p>{Html.T("还没有质量快照。", "No quality snapshot has been taken yet.")}</p>");
                return Html.Content(Html.Page(Html.T("区县", "District"), body.ToString()));
            }

            var chosen = Choose(rounds, round);
            var schools = await trends.SchoolsAsync(Request(context, chosen.RoundId, code), cancel);
            var scope = Query(null, code);
            var roundScope = Query(chosen.RoundCode, code);
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>{Html.T("各轮次", "Rounds")}</h2>
                <p><img class="chart" src="/trends/chart/trend.png{scope}" width="{TrendCharts.Width}" height="{TrendCharts.Height}" alt="{Html.T("问题率与未解决错误率趋势", "Problem rate and open errors per 1,000 across rounds")}"></p>
                {Table(RoundColumns(), rounds)}
                {Export("rounds", scope)}
                <h2>{Html.T("各学校", "Schools")} · {Html.E(chosen.RoundCode)}</h2>
                <p>{string.Join(" · ", rounds.Select(r => r.RoundId == chosen.RoundId ? $"<strong>{Html.E(r.RoundCode)}</strong>"
                    : $"<a href=\"/trends/district/{Uri.EscapeDataString(code)}?round={Uri.EscapeDataString(r.RoundCode)}\">{Html.E(r.RoundCode)}</a>"))}</p>
                {Table(SchoolColumns(), schools)}
                {Export("schools", roundScope)}
                """);
            return Html.Content(Html.Page(Html.T("区县", "District") + " " + code, body.ToString()));
        }
        catch (TrendScopeRefusedException)
        {
            return Refused();
        }
    }

    private static async Task<IResult> ChartAsync(HttpContext context, QualityTrends trends, string name, string? round, string? district)
    {
        if (name is not ("trend" or "districts"))
        {
            return Results.NotFound();
        }

        try
        {
            var rounds = await trends.RoundsAsync(Request(context, district: district), context.RequestAborted);
            byte[] png;
            if (name == "trend")
            {
                png = TrendCharts.TrendLine(rounds, Html.T("每千名学生的问题与未解决错误", "Problems and open errors per 1,000 students")
                    + (district is { Length: > 0 } ? " · " + district : ""));
            }
            else
            {
                var chosen = rounds.Count == 0 ? null : Choose(rounds, round);
                var districts = chosen is null ? [] : await trends.DistrictsAsync(Request(context, chosen.RoundId, district), context.RequestAborted);
                png = TrendCharts.DistrictBars(districts, Html.T("各区县每千名学生未解决错误", "Open errors per 1,000 students by district")
                    + (chosen is null ? "" : " · " + chosen.RoundCode));
            }

            // Whether the labels have their CJK font (else Chinese would come out as boxes), for whoever checks the charts.
            var font = TrendCharts.Font;
            context.Response.Headers["X-Chart-Font"] = $"{font.Family}; {(font.Found ? "found" : "missing")}; {font.Source}";
            return Results.File(png, "image/png");
        }
        catch (TrendScopeRefusedException)
        {
            return Results.StatusCode(StatusCodes.Status403Forbidden);
        }
    }

    private static async Task<IResult> ExportAsync(HttpContext context, QualityTrends trends, string table, string? round, string? district)
    {
        if (!Tables.Contains(table, StringComparer.Ordinal))
        {
            return Results.NotFound();
        }

        try
        {
            var cancel = context.RequestAborted;
            int? roundId = null;
            if (table is "districts" or "schools" or "rules" && round is { Length: > 0 })
            {
                var rounds = await trends.RoundsAsync(Request(context, district: district), cancel);
                var chosen = rounds.FirstOrDefault(r => string.Equals(r.RoundCode, round, StringComparison.Ordinal));
                if (chosen is null)
                {
                    return Results.NotFound();
                }

                roundId = chosen.RoundId;
            }

            var request = Request(context, roundId, district, export: true);
            using var output = new MemoryStream();
            var sheet = Html.T("质量趋势", "Quality trends");
            switch (table)
            {
                case "rounds":
                    Write(output, sheet, RoundColumns(), await trends.RoundsAsync(request, cancel));
                    break;
                case "districts":
                    Write(output, sheet, DistrictColumns(null), await trends.DistrictsAsync(request, cancel));
                    break;
                case "schools":
                    Write(output, sheet, SchoolColumns(), await trends.SchoolsAsync(request, cancel));
                    break;
                case "rules":
                    Write(output, sheet, RuleColumns(), await trends.RulesAsync(request, cancel));
                    break;
                default:
                    Write(output, sheet, MoverColumns(), await trends.MoversAsync(request, cancellationToken: cancel));
                    break;
            }

            var name = string.Join('_', new[] { "trends", table, round, district }.Where(p => !string.IsNullOrEmpty(p))
                .Select(p => new string([.. p!.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_')])));
            return Results.File(output.ToArray(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name + ".xlsx");
        }
        catch (TrendScopeRefusedException)
        {
            return Results.StatusCode(StatusCodes.Status403Forbidden);
        }
    }

    private static RoundTrend Choose(IReadOnlyList<RoundTrend> rounds, string? code) =>
        rounds.FirstOrDefault(r => string.Equals(r.RoundCode, code, StringComparison.Ordinal)) ?? rounds[^1];

    private static string Query(string? round, string? district)
    {
        var parts = new List<string>();
        if (round is { Length: > 0 })
        {
            parts.Add("round=" + Uri.EscapeDataString(round));
        }

        if (district is { Length: > 0 })
        {
            parts.Add("district=" + Uri.EscapeDataString(district));
        }

        return parts.Count == 0 ? "" : Html.E("?" + string.Join('&', parts));
    }

    private static string Export(string table, string query) =>
        $"<p><a href=\"/trends/export/{table}.xlsx{query}\">{Html.T("导出 Excel", "Export to Excel")} (.xlsx)</a></p>";

    private static IEnumerable<TrendMover> Worst(IReadOnlyList<TrendMover> movers, TrendLevel level) =>
        movers.Where(m => m.Level == level && m.WorstRank <= QualityTrends.MoversPerList).OrderBy(m => m.WorstRank);

    private static IEnumerable<TrendMover> Improved(IReadOnlyList<TrendMover> movers, TrendLevel level) =>
        movers.Where(m => m.Level == level && m.ImprovedRank <= QualityTrends.MoversPerList).OrderBy(m => m.ImprovedRank);

    private static Column<T>[] Measures<T>(Func<T, TrendMeasures> m) =>
    [
        new("学校数", "Schools", ReportFormat.Integer, x => m(x).Schools, 9),
        new("学生数", "Students", ReportFormat.Integer, x => m(x).Students, 11),
        new("问题数", "Problems found", ReportFormat.Integer, x => m(x).Found, 11),
        new("问题数/千人", "Problems per 1,000", ReportFormat.Decimal, x => m(x).ProblemsPer1000),
        new("未解决错误", "Open errors", ReportFormat.Integer, x => m(x).OpenErrors, 11),
        new("未解决错误/千人", "Open errors per 1,000", ReportFormat.Decimal, x => m(x).OpenErrorsPer1000),
        new("已修正比例", "Fixed share", ReportFormat.Percent, x => m(x).FixedShare, 11),
        new("回传率", "Return rate", ReportFormat.Percent, x => m(x).ReturnRate, 11),
        new("下发至回传天数（中位数）", "Median days to return", ReportFormat.Decimal, x => m(x).MedianDaysToReturn),
        new("跨校重复", "Cross-school duplicates", ReportFormat.Integer, x => m(x).CrossSchoolDuplicates),
        new("无身份证件号", "Students without ID", ReportFormat.Integer, x => m(x).StudentsWithoutId),
    ];

    private static Column<RoundTrend>[] RoundColumns() =>
    [
        new("轮次", "Round", ReportFormat.Text, r => r.RoundCode, 18),
        new("轮次日期", "Round date", ReportFormat.Date, r => r.RoundDate),
        new("快照", "Snapshot", ReportFormat.Text, r => r.SnapshotKind == "close" ? Html.T("结束", "close") : Html.T("进行中", "live"), 9),
        new("快照日期", "Snapshot date", ReportFormat.Date, r => r.SnapshotTakenOn),
        .. Measures<RoundTrend>(r => r.Measures),
    ];

    private static Column<DistrictTrend>[] DistrictColumns(string? round) =>
    [
        .. round is null ? new Column<DistrictTrend>[] { new("轮次", "Round", ReportFormat.Text, d => d.RoundCode, 18) } : [],
        new("区县代码", "District", ReportFormat.Text, d => d.DistrictCode ?? "", 10,
            d => d.DistrictCode is null ? null : $"/trends/district/{Uri.EscapeDataString(d.DistrictCode)}{(round is null ? "" : "?round=" + Uri.EscapeDataString(round))}"),
        new("区县名称", "District name", ReportFormat.Text, d => d.DistrictName ?? (d.DistrictCode is null ? Html.T("无区县（学校不在名册中）", "no district (school not in the master)") : ""), 18),
        .. Measures<DistrictTrend>(d => d.Measures),
    ];

    private static Column<SchoolTrend>[] SchoolColumns() =>
    [
        new("轮次", "Round", ReportFormat.Text, s => s.RoundCode, 18),
        new("区县代码", "District", ReportFormat.Text, s => s.DistrictCode ?? "", 10),
        new("学校标识码", "School", ReportFormat.Text, s => s.SchoolCode, 14),
        new("学校名称", "School name", ReportFormat.Text, s => s.SchoolName ?? "", 24),
        .. Measures<SchoolTrend>(s => s.Measures),
    ];

    private static Column<RuleTrend>[] RuleColumns() =>
    [
        new("轮次", "Round", ReportFormat.Text, r => r.RoundCode, 18),
        new("规则", "Rule", ReportFormat.Text, r => r.RuleId, 8),
        new("规则名称", "Rule title", ReportFormat.Text, r => Html.English ? r.TitleEn : r.TitleZh, 36),
        new("严重程度", "Severity", ReportFormat.Text, r => r.Severity == "error" ? Html.T("错误", "error") : r.Severity == "warning" ? Html.T("警告", "warning") : r.Severity, 9),
        new("问题数", "Found", ReportFormat.Integer, r => r.Found, 10),
        new("问题数/千人", "Problems per 1,000", ReportFormat.Decimal, r => r.ProblemsPer1000),
        new("未解决", "Open", ReportFormat.Integer, r => r.Open, 10),
        new("未解决错误/千人", "Open errors per 1,000", ReportFormat.Decimal, r => r.OpenErrorsPer1000),
        new("已修正", "Resolved", ReportFormat.Integer, r => r.Resolved, 10),
        new("已确认", "Confirmed", ReportFormat.Integer, r => r.Confirmed, 10),
        new("已删除", "Removed", ReportFormat.Integer, r => r.Removed, 10),
        new("已修正比例", "Fixed share", ReportFormat.Percent, r => r.FixedShare, 11),
    ];

    private static Column<TrendMover>[] MoverColumns() =>
    [
        new("层级", "Level", ReportFormat.Text, m => m.Level == TrendLevel.District ? Html.T("区县", "district") : Html.T("学校", "school"), 9),
        new("代码", "Code", ReportFormat.Text, m => m.Code, 14,
            m => m.Level == TrendLevel.District ? $"/trends/district/{Uri.EscapeDataString(m.Code)}" : null),
        new("名称", "Name", ReportFormat.Text, m => m.Name ?? "", 24),
        new("学生数", "Students", ReportFormat.Integer, m => m.Students, 11),
        new("未解决错误", "Open errors", ReportFormat.Integer, m => m.OpenErrors, 11),
        new("未解决错误/千人", "Open errors per 1,000", ReportFormat.Decimal, m => m.OpenErrorsPer1000),
        new("问题数/千人", "Problems per 1,000", ReportFormat.Decimal, m => m.ProblemsPer1000),
        new("上一轮问题数/千人", "Previous problems per 1,000", ReportFormat.Decimal, m => m.PreviousProblemsPer1000),
        new("下降/千人", "Drop per 1,000", ReportFormat.Decimal, m => m.DropPer1000),
        new("最差排名", "Worst rank", ReportFormat.Integer, m => m.WorstRank, 9),
        new("进步排名", "Improved rank", ReportFormat.Integer, m => m.ImprovedRank, 9),
    ];

    private static string Table<T>(IReadOnlyList<Column<T>> columns, IEnumerable<T> rows)
    {
        var html = new StringBuilder("<div class=\"wide\"><table class=\"figures\"><tr>");
        foreach (var column in columns)
        {
            html.Append("<th>").Append(column.Header).Append("</th>");
        }

        html.Append("</tr>");
        var any = false;
        foreach (var row in rows)
        {
            any = true;
            html.Append("<tr>");
            foreach (var column in columns)
            {
                var text = Html.E(Show(column.Format, column.Value(row)));
                var link = column.Link?.Invoke(row);
                html.Append(column.Format is ReportFormat.Text or ReportFormat.Date ? "<td>" : "<td class=\"num\">")
                    .Append(link is null ? text : $"<a href=\"{Html.E(link)}\">{text}</a>").Append("</td>");
            }

            html.Append("</tr>");
        }

        if (!any)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td colspan=\"{columns.Count}\">{Html.T("无", "None")}</td></tr>");
        }

        return html.Append("</table></div>").ToString();
    }

    /// <summary>A value as the page shows it: invariant numbers, "—" for a rate without a denominator.</summary>
    private static string Show(ReportFormat format, object? value) => value switch
    {
        null => format == ReportFormat.Text ? "" : "—",
        string text => text,
        DateOnly date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => format switch
        {
            ReportFormat.Integer => Convert.ToDouble(value, CultureInfo.InvariantCulture).ToString("#,##0", CultureInfo.InvariantCulture),
            ReportFormat.Decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture).ToString("#,##0.0", CultureInfo.InvariantCulture),
            ReportFormat.Percent => (Convert.ToDouble(value, CultureInfo.InvariantCulture) * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        },
    };

    private static void Write<T>(Stream output, string sheet, IReadOnlyList<Column<T>> columns, IEnumerable<T> rows) =>
        ReportWorkbook.Write(output, sheet, [.. columns.Select(c => new ReportColumn(c.Header, c.Format, c.Width))],
            rows.Select(row => (IReadOnlyList<object?>)[.. columns.Select(c => c.Value(row))]));
}
