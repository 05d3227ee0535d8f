using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Web.Components.Trends;
using StudentDataQuality.Exports;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Web;

/// <summary>
/// What the trends overview is asked for in its query string, checked: the round, how many of the worst and best districts
/// the ranking shows (<c>n</c>), the districts whose trends are drawn (<c>d</c>, repeated), and the districts table's search
/// (<c>q</c>), sort (<c>sort</c>, <c>dir</c>) and page. <see cref="Href"/> writes it back, for links that change one part.
/// </summary>
public sealed record TrendsQuery(string? Round, int Shown, IReadOnlyList<string> Selected, string? Search, DistrictSort Sort, bool Descending, int Page,
    string? District)
{
    /// <summary>The most worst and best districts the ranking may show each (the setting and the query string are bounded by it).</summary>
    public const int MaxShown = 30;

    /// <summary>How many worst and best districts the ranking shows when neither the query string nor the setting says.</summary>
    public const int DefaultShown = 10;

    /// <summary>How many of the worst districts get their trend drawn when none is chosen.</summary>
    public const int DefaultSeries = 6;

    /// <summary>Rows of a page of the districts table.</summary>
    public const int PageSize = 25;

    /// <summary>The longest search.</summary>
    public const int MaxSearch = 50;

    /// <summary>The sort names of the query string, in the order the page offers them.</summary>
    public static readonly IReadOnlyList<(string Name, DistrictSort Sort)> Sorts =
    [
        ("open", DistrictSort.Open), ("problems", DistrictSort.Problems), ("fixed", DistrictSort.Fixed), ("returned", DistrictSort.Returned),
        ("students", DistrictSort.Students), ("schools", DistrictSort.Schools), ("name", DistrictSort.Name), ("code", DistrictSort.Code),
    ];

    /// <summary>The query string's values checked; a value that cannot be used is a user error that says which and why.</summary>
    public static TrendsQuery Parse(IQueryCollection query, int defaultShown)
    {
        ArgumentNullException.ThrowIfNull(query);
        var shown = Math.Clamp(defaultShown, 1, MaxShown);
        if (Single(query, "n") is { } n && (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out shown) || shown is < 1 or > MaxShown))
        {
            throw new UserErrorException(new UserMessage("Trends.Shown", MaxShown, Clip(n)));
        }

        var page = 1;
        if (Single(query, "page") is { } p && (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out page) || page < 1 || page > 100_000))
        {
            throw new UserErrorException(new UserMessage("Trends.Page", Clip(p)));
        }

        var sort = DistrictSort.Open;
        if (Single(query, "sort") is { } s)
        {
            var known = Sorts.FirstOrDefault(x => string.Equals(x.Name, s, StringComparison.Ordinal));
            if (known.Name is null)
            {
                throw new UserErrorException(new UserMessage("Trends.Sort", Clip(s)));
            }

            sort = known.Sort;
        }

        // Text sorts go from A, figures from the highest (the worst first), unless the reader turns them round.
        var descending = Single(query, "dir") switch
        {
            "asc" => false,
            "desc" => true,
            _ => sort is not (DistrictSort.Code or DistrictSort.Name),
        };
        var search = Single(query, "q")?.Trim();
        if (search is { Length: > MaxSearch })
        {
            throw new UserErrorException(new UserMessage("Trends.SearchTooLong", MaxSearch, search.Length));
        }

        List<string> selected = [.. query["d"].Select(v => v?.Trim()).OfType<string>().Where(v => v.Length > 0).Distinct(StringComparer.Ordinal)];
        if (selected.Count > QualityTrends.MaxSeries)
        {
            throw new UserErrorException(new UserMessage("Trends.TooManyDistricts", QualityTrends.MaxSeries, selected.Count));
        }

        // A code longer than any district's names none: left out rather than looked up.
        selected.RemoveAll(code => code.Length > 20);
        return new TrendsQuery(Single(query, "round"), shown, selected, search is { Length: > 0 } ? search : null, sort, descending, page,
            Single(query, "district"));
    }

    /// <summary>The name of this query's sort in the query string.</summary>
    public string SortName => Sorts.First(x => x.Sort == Sort).Name;

    /// <summary>The overview's address with this query (defaults left out).</summary>
    public string Href
    {
        get
        {
            var parts = new List<string>();
            void Add(string name, string? value)
            {
                if (value is { Length: > 0 })
                {
                    parts.Add(name + "=" + Uri.EscapeDataString(value));
                }
            }

            Add("district", District);
            Add("round", Round);
            Add("n", Shown == DefaultShown ? null : Shown.ToString(CultureInfo.InvariantCulture));
            foreach (var code in Selected)
            {
                Add("d", code);
            }

            Add("q", Search);
            Add("sort", Sort == DistrictSort.Open ? null : SortName);
            Add("dir", Descending == (Sort is not (DistrictSort.Code or DistrictSort.Name)) ? null : Descending ? "desc" : "asc");
            Add("page", Page == 1 ? null : Page.ToString(CultureInfo.InvariantCulture));
            return "/trends" + (parts.Count == 0 ? "" : "?" + string.Join('&', parts));
        }
    }

    /// <summary>The same query for another address (an export, a chart), without the table's search, sort and page.</summary>
    public string For(string path) => path + (this with { Search = null, Sort = DistrictSort.Open, Descending = true, Page = 1 }).Href["/trends".Length..];

    private static string? Single(IQueryCollection query, string name) => query[name].FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));

    private static string Clip(string value) => value.Length > 20 ? value[..20] + "…" : value;
}

/// <summary>What the trends overview shows (the handler reads it all, the page only lays it out).</summary>
public sealed record TrendsView(TrendsQuery Query, IReadOnlyList<RoundTrend> Rounds, RoundTrend? Chosen, DistrictRanking? Ranking,
    IReadOnlyList<DistrictTrend> Series, IReadOnlyList<DistrictTrend> Choices, TrendPage<DistrictTrend>? Districts, IReadOnlyList<TrendMover> Movers,
    IReadOnlyList<RuleTrend> Rules)
{
    /// <summary>The share of students whose parents confirmed, per district, in the chosen round; null when the round has no campaign.</summary>
    public IReadOnlyList<ConfirmationDistrict>? Confirmations { get; init; }
}

/// <summary>What a district's trends page shows.</summary>
public sealed record DistrictTrendsView(string Code, IReadOnlyList<RoundTrend> Rounds, RoundTrend? Chosen, IReadOnlyList<SchoolTrend> Schools);

/// <summary>
/// Quality trends for managers, the data team and district offices (the group's policy admits them; a school account is
/// refused there, 403 and audited): the rounds overview, the districts ranked (the worst and best N, the groups that are not
/// districts apart), the chosen districts' trends as small multiples, the districts table (searched, sorted and paged in
/// SQL), the worst and most improved, the rules, and a district's schools; every chart with its numbers in a table beside
/// it and in the .xlsx (audited). Aggregates only: codes, names of schools and districts, counts. What a district account
/// reads is decided by <see cref="QualityTrends"/> in SQL (out of scope: 404 and audited by the group's filter).
/// </summary>
internal static class ManagerPages
{
    /// <summary>The setting of how many worst and best districts the ranking shows (bounded by <see cref="TrendsQuery.MaxShown"/>).</summary>
    public const string ShownSetting = "Trends:DistrictsShown";

    private static readonly string[] Tables = ["rounds", "districts", "schools", "rules", "movers", "charts"];

    public static void Map(IEndpointRouteBuilder app)
    {
        var trends = app.Pages("/trends", Policies.Manager);
        trends.MapGet("/", OverviewAsync);
        trends.MapGet("/district/{code}", DistrictAsync);
        trends.MapGet("/chart/{name}.png", ChartAsync);
        trends.MapGet("/export/{table}.xlsx", ExportAsync);
    }

    private static TrendRequest Request(HttpContext context, int? roundId = null, string? district = null, bool export = false) =>
        new(Portal.AccountOf(context.User), Portal.ClientAddress(context), roundId, district, export);

    private static int DefaultShown(IConfiguration configuration) =>
        int.TryParse(configuration[ShownSetting], NumberStyles.None, CultureInfo.InvariantCulture, out var shown)
            ? Math.Clamp(shown, 1, TrendsQuery.MaxShown) : TrendsQuery.DefaultShown;

    private static async Task<IResult> OverviewAsync(HttpContext context, QualityTrends trends, IStringLocalizer<ManagerText> text,
        IConfiguration configuration)
    {
        TrendsQuery query;
        try
        {
            query = TrendsQuery.Parse(context.Request.Query, DefaultShown(configuration));
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["BadInput"], e.Message, StatusCodes.Status400BadRequest, error: true, back: "/trends");
        }

        var cancel = context.RequestAborted;
        var scope = Request(context, district: query.District);
        var rounds = await trends.RoundsAsync(scope, cancel);
        if (rounds.Count == 0)
        {
            return Page.Show<TrendsPage>(new { View = new TrendsView(query, rounds, null, null, [], [], null, [], []) });
        }

        var chosen = Choose(rounds, query.Round);
        var ranking = await trends.RankAsync(scope, chosen.RoundId, query.Shown, cancel);
        var selected = query.Selected.Count > 0 ? query.Selected
            : [.. ranking.Worst.Take(TrendsQuery.DefaultSeries).Select(d => d.DistrictCode!)];
        var series = selected.Count == 0 ? [] : await trends.SeriesAsync(scope, selected, cancel);
        // The selector's choices: every district of the round by name (at most a few hundred; a bounded read, not a page).
        var choices = await trends.DistrictPageAsync(scope, new DistrictPageQuery(chosen.RoundId, null, DistrictSort.Name, false, 0, QualityTrends.MaxPageSize), cancel);
        var page = await trends.DistrictPageAsync(scope, new DistrictPageQuery(chosen.RoundId, query.Search, query.Sort, query.Descending,
            (query.Page - 1) * TrendsQuery.PageSize, TrendsQuery.PageSize), cancel);
        var movers = await trends.MoversAsync(scope, cancellationToken: cancel);
        var rules = await trends.RulesAsync(scope with { RoundId = chosen.RoundId }, cancel);
        var confirmed = await ConfirmedAsync(Confirmations(context), scope with { RoundId = chosen.RoundId }, chosen.RoundCode, cancel);
        return Page.Show<TrendsPage>(new
        {
            View = new TrendsView(query with { Selected = selected }, rounds, chosen, ranking, series, choices.Rows, page, movers, rules)
            {
                Confirmations = confirmed,
            },
        });
    }

    private static async Task<IResult> DistrictAsync(HttpContext context, QualityTrends trends, string code, string? round)
    {
        var cancel = context.RequestAborted;
        var rounds = await trends.RoundsAsync(Request(context, district: code), cancel);
        if (rounds.Count == 0)
        {
            return Page.Show<DistrictTrendsPage>(new { View = new DistrictTrendsView(code, rounds, null, []) });
        }

        var chosen = Choose(rounds, round);
        var schools = await trends.SchoolsAsync(Request(context, chosen.RoundId, code), cancel);
        return Page.Show<DistrictTrendsPage>(new { View = new DistrictTrendsView(code, rounds, chosen, schools) });
    }

    private static async Task<IResult> ChartAsync(HttpContext context, QualityTrends trends, IStringLocalizer<ManagerText> text, IConfiguration configuration,
        string name, string? round, string? district)
    {
        if (name is not ("trend" or "districts"))
        {
            return Page.NotFound(context);
        }

        TrendsQuery query;
        try
        {
            query = TrendsQuery.Parse(context.Request.Query, DefaultShown(configuration));
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["BadInput"], e.Message, StatusCodes.Status400BadRequest, error: true, back: "/trends");
        }

        var rounds = await trends.RoundsAsync(Request(context, district: district), context.RequestAborted);
        var charts = new TrendCharts(new TrendTables(text));
        byte[] png;
        if (name == "trend")
        {
            png = charts.TrendLine(rounds, text["TrendChart.Title"] + (district is { Length: > 0 } ? " · " + district : ""),
                text["Round"], text["Series.Problems"], text["Series.Open"]);
        }
        else
        {
            var chosen = rounds.Count == 0 ? null : Choose(rounds, round);
            var ranking = chosen is null ? new DistrictRanking([], [], [], 0)
                : await trends.RankAsync(Request(context, district: district), chosen.RoundId, query.Shown, context.RequestAborted);
            png = charts.DistrictBars(ranking, text["DistrictChart.Title"] + (chosen is null ? "" : " · " + chosen.RoundCode), text["Figure"]);
        }

        // Whether the labels have their CJK font (else Chinese would come out as boxes), for whoever checks the charts.
        var font = TrendCharts.Font;
        context.Response.Headers["X-Chart-Font"] = $"{font.Family}; {(font.Found ? "found" : "missing")}; {font.Source}";
        return Results.File(png, "image/png");
    }

    private static async Task<IResult> ExportAsync(HttpContext context, QualityTrends trends, IStringLocalizer<ManagerText> text, IConfiguration configuration,
        string table, string? round, string? district)
    {
        if (!Tables.Contains(table, StringComparer.Ordinal))
        {
            return Page.NotFound(context);
        }

        TrendsQuery query;
        try
        {
            query = TrendsQuery.Parse(context.Request.Query, DefaultShown(configuration));
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["BadInput"], e.Message, StatusCodes.Status400BadRequest, error: true, back: "/trends");
        }

        // A district is a code of digits: anything else names no district (and is never written into the register's scope).
        if (district is not null && (district.Length is 0 or > 12 || !district.All(char.IsAsciiDigit)))
        {
            return Page.NotFound(context);
        }

        var cancel = context.RequestAborted;
        int? roundId = null;
        if (table is "districts" or "schools" or "rules" or "charts" && round is { Length: > 0 })
        {
            var rounds = await trends.RoundsAsync(Request(context, district: district), cancel);
            var chosen = rounds.FirstOrDefault(r => string.Equals(r.RoundCode, round, StringComparison.Ordinal));
            if (chosen is null)
            {
                return Page.NotFound(context);
            }

            roundId = chosen.RoundId;
        }

        var request = Request(context, roundId, district, export: true);
        var tables = new TrendTables(text);
        var name = string.Join('_', new[] { "trends", table, round, district }.Where(p => !string.IsNullOrEmpty(p))
            .Select(p => new string([.. p!.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_')])));
        // Through the export register (aggregates: no student in it), watermarked for the reader who takes it. Whose figures:
        // the district asked for, else the reader's own district (a district office reads only its own), else the province.
        var scope = (district ?? request.Reader.DistrictCode) is { Length: > 0 } code ? ExportScope.District(code) : ExportScope.Province;
        return await Downloads.TakeAsync(context, new ExportOrder(ExportKind.TrendTable, ExportForm.Aggregate, scope, roundId), Downloads.Xlsx,
            async (watermark, ct) =>
            {
                ReportSheet[] sheets = table switch
                {
                    "rounds" => [TrendTables.Sheet(text["Sheet"], tables.Rounds(), await trends.RoundsAsync(request, ct))],
                    "districts" => [TrendTables.Sheet(text["Sheet"], tables.Districts(null), await trends.DistrictsAsync(request, ct))],
                    "schools" => [TrendTables.Sheet(text["Sheet"], tables.Schools(), await trends.SchoolsAsync(request, ct))],
                    "rules" => [TrendTables.Sheet(text["Sheet"], tables.Rules(), await trends.RulesAsync(request, ct))],
                    "movers" => [TrendTables.Sheet(text["Sheet"], tables.Movers(), await trends.MoversAsync(request, cancellationToken: ct))],
                    _ => await ChartSheetsAsync(trends, Confirmations(context), tables, text, request, query, ct),
                };
                // The rows are materialised once: counted for the register and written.
                sheets = [.. sheets.Select(s => s with { Rows = s.Rows.ToList() })];
                using var output = new MemoryStream();
                ReportWorkbook.Write(output, sheets);
                return new ExportContent(name + ".xlsx", sheets.Sum(s => s.Rows.Count()),
                    [.. sheets.SelectMany(s => s.Columns.Select(c => c.Header)).Distinct(StringComparer.Ordinal)],
                    XlsxWatermark.Apply(output.ToArray(), watermark, Languages.Worksheet));
            }, back: "/trends");
    }

    /// <summary>
    /// The overview's charts as sheets, each with the table the page shows beside the chart: the rounds, the ranking (worst
    /// and best N), the groups apart, the chosen districts' trends (the same choice as the page: the worst when none).
    /// </summary>
    private static async Task<ReportSheet[]> ChartSheetsAsync(QualityTrends trends, ConfirmationProgress confirmations, TrendTables tables,
        IStringLocalizer<ManagerText> text, TrendRequest request, TrendsQuery query, CancellationToken cancel)
    {
        var rounds = await trends.RoundsAsync(request with { RoundId = null }, cancel);
        var chosen = request.RoundId is { } id ? rounds.First(r => r.RoundId == id) : rounds.Count > 0 ? rounds[^1] : null;
        var ranking = chosen is null ? new DistrictRanking([], [], [], 0) : await trends.RankAsync(request, chosen.RoundId, query.Shown, cancel);
        var selected = query.Selected.Count > 0 ? query.Selected : [.. ranking.Worst.Take(TrendsQuery.DefaultSeries).Select(d => d.DistrictCode!)];
        var series = selected.Count == 0 ? [] : await trends.SeriesAsync(request, selected, cancel);
        var ranked = TrendTables.Rows(ranking);
        var roundCode = chosen?.RoundCode ?? "";
        // The parents' confirmations of the chosen round (an empty sheet when it has no campaign), audited as its own export.
        var confirmed = chosen is null ? null : await ConfirmedAsync(confirmations, request with { RoundId = chosen.RoundId }, roundCode, cancel);
        return
        [
            TrendTables.Sheet(text["Sheet.Rounds"], tables.Rounds(), rounds),
            TrendTables.Sheet(text["Sheet.Ranking"], tables.Ranking(roundCode), ranked.Where(r => r.List != "apart")),
            TrendTables.Sheet(text["Sheet.Apart"], tables.Ranking(roundCode), ranked.Where(r => r.List == "apart")),
            TrendTables.Sheet(text["Sheet.Series"], tables.Series(), series),
            TrendTables.Sheet(text["Sheet.Confirmations"], tables.Confirmations(roundCode), confirmed ?? []),
        ];
    }

    /// <summary>The confirmation progress as the host registered it, or one on the portal's data source.</summary>
    private static ConfirmationProgress Confirmations(HttpContext context) =>
        context.RequestServices.GetService<ConfirmationProgress>() ?? new ConfirmationProgress(context.RequestServices.GetRequiredService<NpgsqlDataSource>());

    /// <summary>The share of students whose parents confirmed per district in the request's round, or null when the round has no campaign.</summary>
    private static async Task<IReadOnlyList<ConfirmationDistrict>?> ConfirmedAsync(ConfirmationProgress confirmations, TrendRequest request, string roundCode,
        CancellationToken cancel) =>
        await confirmations.RoundAsync(roundCode, cancel) is { HasCampaign: true } ? await confirmations.TrendAsync(request, cancel) : null;

    private static RoundTrend Choose(IReadOnlyList<RoundTrend> rounds, string? code) =>
        rounds.FirstOrDefault(r => string.Equals(r.RoundCode, code, StringComparison.Ordinal)) ?? rounds[^1];
}
