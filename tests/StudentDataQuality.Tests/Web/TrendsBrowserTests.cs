using System.Globalization;
using System.Net;
using System.Text;
using ClosedXML.Excel;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Reference;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The managers' trends at province size, in a real browser (chromium): a generated province whose school master puts its
/// schools in 122 districts (one or two small schools each), two schools left out of the master (their students are the
/// group "not in the master"), run by the jobs to issued with its live snapshot. What the charts show is compared with the
/// table beside them, the .xlsx read back, and the database.
/// </summary>
public sealed class TrendsBrowserTests(TrendsBrowserTests.Province province) : IClassFixture<TrendsBrowserTests.Province>
{
    private const int Districts = 122;

    /// <summary>One round of a province of 122 districts, as cheap as it can be: 126 schools, about 5 students each.</summary>
    public sealed class Province : IAsyncLifetime
    {
        private readonly TempFolder _temp = new();
        private WebApplication _app = null!;

        public DatabaseFixture Database { get; } = new();
        public Uri Site { get; private set; } = null!;
        public RoundRun Run { get; private set; } = null!;
        public Chromium Chromium { get; private set; } = null!;

        /// <summary>The schools left out of the school master.</summary>
        public IReadOnlyList<string> Outside { get; private set; } = [];

        public async Task InitializeAsync()
        {
            await Database.InitializeAsync();
            var province = ProvinceGenerator.Generate(new GeneratorOptions
            {
                Students = 640, Schools = Districts + 4, Seed = 122, DefectRate = 0.08, OutputDirectory = Path.Combine(_temp.Path, "province"),
            });
            Outside = SpreadOverDistricts(province.SchoolMasterPath);
            var storage = HangfireJobs.Storage(Database.ConnectionString);
            await using (var services = HangfireJobs.Services(Database.DataSource, storage, new JobSettings { Reports = _temp.Path }))
            using (HangfireJobs.Server(services, storage))
            {
                await services.GetRequiredService<RoundLauncher>().StartAsync(
                    new RoundStart("province-122", new DateOnly(2026, 10, 15), [province.ExportDirectory], Path.Combine(_temp.Path, "worksheets")), "test");
                Run = await HangfireJobs.StageAsync(services.GetRequiredService<RoundRuns>(), "province-122", RoundStage.Issued);
            }

            await new RoundRuns(Database.DataSource).TakeSnapshotAsync(Run.RoundId, atClose: false, "test");
            _app = Portal.Build(new PortalSettings(await Database.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(Database), IngestScenario.Key,
                "http://127.0.0.1:0") { Logging = new ConsoleErrors() });
            await _app.StartAsync();
            Site = new Uri(_app.Urls.First());
            Chromium = await Chromium.LaunchAsync();
        }

        /// <summary>
        /// Rewrites the school master: the first 122 schools one per district (Heilongjiang's counties, then made-up codes if
        /// the reference has fewer), the next two left out (not in the master), the rest in the first districts again.
        /// </summary>
        private static List<string> SpreadOverDistricts(string masterPath)
        {
            var counties = ReferenceData.CountiesOf("23").OrderBy(r => r.Code, StringComparer.Ordinal).Select(r => (r.Code, r.Name)).ToList();
            for (var i = counties.Count; i < Districts; i++)
            {
                counties.Add(((239900 + i).ToString(CultureInfo.InvariantCulture), "试验区县" + i.ToString(CultureInfo.InvariantCulture)));
            }

            var lines = File.ReadAllText(masterPath, Encoding.UTF8).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var kept = new List<string> { lines[0] };
            var outside = new List<string>();
            for (var i = 1; i < lines.Length; i++)
            {
                var fields = lines[i].Split(',');
                Assert.Equal(7, fields.Length);
                var n = i - 1;
                if (n is Districts or Districts + 1)
                {
                    outside.Add(fields[0]);
                    continue;
                }

                (fields[2], fields[3]) = counties[n % Districts];
                kept.Add(string.Join(',', fields));
            }

            File.WriteAllText(masterPath, string.Join("\r\n", kept) + "\r\n", new UTF8Encoding(false));
            return outside;
        }

        public async Task DisposeAsync()
        {
            await Chromium.DisposeAsync();
            await _app.DisposeAsync();
            await Database.DisposeAsync();
            _temp.Dispose();
        }
    }

    private readonly Province _province = province;
    private DatabaseFixture Db => _province.Database;

    [Fact]
    public async Task TheRanking_At122Districts_ShowsTheWorstAndBestTen_SortedAndReadable_WithTheGroupOutsideTheMasterApart()
    {
        var page = await SignedInAsync("manager-122", AccountRole.Manager);
        await page.GetByRole(AriaRole.Link, new() { Name = "质量趋势" }).ClickAsync();
        await page.WaitForURLAsync("**/trends");
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);

        // The table of districts knows all 122 (searched and paged in SQL), the chart shows 2 × 10 of them.
        Assert.Contains($"（{Districts} 个区县）", await page.Locator("nav.pages").Last.InnerTextAsync(), StringComparison.Ordinal);
        var bars = page.Locator("#ranking-chart ol.bars li");
        Assert.Equal(2 * TrendsQuery.DefaultShown, await bars.CountAsync());
        Assert.Equal(TrendsQuery.DefaultShown, await page.Locator("#ranking-chart ol[data-list=worst] li").CountAsync());

        // Sorted by the figure, the worst first; the figures are the database's, from the worst down.
        var shown = await BarsAsync(page, "#ranking-chart");
        Assert.Equal(shown.Select(b => b.Value).OrderByDescending(v => v), shown.Select(b => b.Value));
        var expected = await FiguresAsync();
        Assert.Equal(expected.Take(TrendsQuery.DefaultShown).Select(e => Math.Round(e.Figure, 1)), shown.Take(TrendsQuery.DefaultShown).Select(b => b.Value));
        Assert.Equal(expected.TakeLast(TrendsQuery.DefaultShown).Select(e => Math.Round(e.Figure, 1)), shown.Skip(TrendsQuery.DefaultShown).Select(b => b.Value));

        // The group of schools outside the master: apart, once, never among the districts.
        var apart = await BarsAsync(page, "#apart-chart");
        Assert.Equal(["无区县（学校不在名册中）"], apart.Select(a => a.Label));
        Assert.DoesNotContain(shown, b => b.Label == apart[0].Label);
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM registry.current_record WHERE round_id = @r AND school_code = ANY(@s)",
            ("r", _province.Run.RoundId), ("s", _province.Outside.ToArray())) > 0, "the schools outside the master have students");

        // Readable: every name in a box of its own (no two overlap), beside its bar, not cut off.
        await AssertLabelsReadableAsync(page, "#ranking-chart .bar-label, #apart-chart .bar-label");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "trends-122-districts.png"), FullPage = true });
        await page.Locator("#ranking-chart").ScreenshotAsync(new() { Path = Path.Combine(Chromium.Screenshots, "trends-122-ranking.png") });

        // The table beside the chart: the chart's names and numbers, row by row (the group apart last).
        var table = await RowsAsync(page, "#ranking-table");
        Assert.Equal(shown.Concat(apart).Select(b => (b.Label, b.Value)), table.Select(r => (r[3], Number(r[4]))));

        // The charts' workbook, downloaded and read back: the ranking's sheet has the table's rows, the group apart its own sheet.
        var file = await DownloadAsync(page, "a[href^='/trends/export/charts.xlsx']");
        using (var workbook = new XLWorkbook(file))
        {
            Assert.Equal(["各轮次", "区县排名", "不属于区县", "所选区县趋势", "家长确认"], workbook.Worksheets.Where(w => w.Visibility == XLWorksheetVisibility.Visible).Select(w => w.Name));
            var ranking = workbook.Worksheet("区县排名");
            Assert.Equal(2 * TrendsQuery.DefaultShown, ranking.RowsUsed().Count() - 1);
            for (var i = 0; i < shown.Count; i++)
            {
                Assert.Equal(table[i][2], ranking.Cell(i + 2, 3).GetString());
                Assert.Equal(shown[i].Label, ranking.Cell(i + 2, 4).GetString());
                Assert.Equal(expected.First(e => e.Code == table[i][2]).Figure, ranking.Cell(i + 2, 5).GetDouble(), 9);
            }

            var outside = workbook.Worksheet("不属于区县");
            Assert.Equal(2, outside.RowsUsed().Count());
            Assert.Equal(apart[0].Label, outside.Cell(2, 4).GetString());
            Assert.Equal(apart[0].Value, Math.Round(outside.Cell(2, 5).GetDouble(), 1));
            // The small multiples' numbers: the table beside them, and the sheet.
            var series = await RowsAsync(page, "#series-table");
            var sheet = workbook.Worksheet("所选区县趋势");
            Assert.Equal(series.Count, sheet.RowsUsed().Count() - 1);
            for (var i = 0; i < series.Count; i++)
            {
                Assert.Equal(series[i][0], sheet.Cell(i + 2, 1).GetString());
                Assert.Equal(Number(series[i][4]), Math.Round(sheet.Cell(i + 2, 5).GetDouble(), 1));
            }
        }

        File.Delete(file);
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'report.export' AND actor = 'manager-122'") >= 3);

        // With none chosen, the worst districts' trends, one small chart each, in the chart's order.
        var multiples = page.Locator("#series-charts figure");
        Assert.Equal(TrendsQuery.DefaultSeries, await multiples.CountAsync());
        Assert.Equal(table.Take(TrendsQuery.DefaultSeries).Select(r => r[2]),
            await multiples.EvaluateAllAsync<string[]>("fs => fs.map(f => f.dataset.district)"));
    }

    [Fact]
    public async Task TheManager_ChoosesHowManyAndWhichDistricts_AndSearchesSortsAndPagesTheTable()
    {
        var page = await SignedInAsync("manager-choose", AccountRole.Manager);
        await page.GotoAsync("/trends");
        var expected = await FiguresAsync();

        // Five of each, and three districts of the reader's choice (a GET form: the address says what is shown).
        await page.Locator("#choose input[name=n]").FillAsync("5");
        var chosen = new[] { expected[40].Code, expected[3].Code, expected[100].Code };
        await page.Locator("#choose select[name=d]").SelectOptionAsync(chosen);
        await page.Locator("#choose button").ClickAsync();
        await page.WaitForURLAsync("**/trends?**");
        Assert.Equal(10, await page.Locator("#ranking-chart ol.bars li").CountAsync());
        Assert.Equal(1, await page.Locator("#apart-chart ol.bars li").CountAsync());
        var figures = await page.Locator("#series-charts figure").EvaluateAllAsync<string[]>("fs => fs.map(f => f.dataset.district)");
        Assert.Equal(chosen.Order(StringComparer.Ordinal), figures.Order(StringComparer.Ordinal));
        await AssertLabelsReadableAsync(page, "#ranking-chart .bar-label, #series-charts figcaption");

        // The table: 25 a page, sorted by the chosen figure, the pages reach all 122, a search finds by name.
        await page.GotoAsync("/trends?sort=students&dir=asc");
        var first = await RowsAsync(page, "#districts-table");
        Assert.Equal(TrendsQuery.PageSize, first.Count);
        var students = first.Select(r => Number(r[3])).ToList();
        Assert.Equal(students.Order(), students);
        var codes = new HashSet<string>(first.Select(r => r[0]), StringComparer.Ordinal);
        for (var p = 2; p <= 5; p++)
        {
            await page.GetByRole(AriaRole.Link, new() { Name = "下一页" }).ClickAsync();
            await page.WaitForURLAsync($"**page={p}**");
            codes.UnionWith((await RowsAsync(page, "#districts-table")).Select(r => r[0]));
        }

        Assert.Equal(Districts, codes.Count);
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "下一页" }).CountAsync());
        var name = expected[7].Name;
        await page.Locator("#search input[name=q]").FillAsync(name);
        await page.Locator("#search button").ClickAsync();
        await page.WaitForURLAsync("**q=**");
        var found = await RowsAsync(page, "#districts-table");
        Assert.Contains(found, r => r[1] == name);
        Assert.All(found, r => Assert.Contains(name, r[1], StringComparison.Ordinal));
    }

    [Fact]
    public async Task AtPhoneWidth_TheTrendsPageDoesNotScrollSideways_InChineseAndEnglish()
    {
        var page = await SignedInAsync("manager-phone", AccountRole.Manager, width: 390, height: 844);
        await page.GotoAsync("/trends");
        Assert.Equal("zh-CN", await page.Locator("html").GetAttributeAsync("lang"));
        await AssertNoSidewaysScrollAsync(page);
        await AssertLabelsReadableAsync(page, "#ranking-chart .bar-label, #apart-chart .bar-label");
        Assert.Equal("无区县（学校不在名册中）", (await BarsAsync(page, "#apart-chart")).Single().Label);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "trends-phone.png"), FullPage = true });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "trends-phone-top.png") });

        await page.GetByRole(AriaRole.Link, new() { Name = "English" }).ClickAsync();
        await page.WaitForURLAsync("**/trends");
        Assert.Equal("en", await page.Locator("html").GetAttributeAsync("lang"));
        Assert.Equal("Quality trends", await page.Locator("h1").InnerTextAsync());
        Assert.Equal("no district (school not in the master)", (await BarsAsync(page, "#apart-chart")).Single().Label);
        Assert.Equal($"The worst {TrendsQuery.DefaultShown} districts", await page.Locator("#ranking-chart h3").First.InnerTextAsync());
        Assert.DoesNotContain("区县排名", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        await AssertNoSidewaysScrollAsync(page);
        await AssertLabelsReadableAsync(page, "#ranking-chart .bar-label, #apart-chart .bar-label");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "trends-phone-en.png"), FullPage = true });

        // The charts' workbook in English too.
        var file = await DownloadAsync(page, "a[href^='/trends/export/charts.xlsx']");
        using (var workbook = new XLWorkbook(file))
        {
            Assert.Equal(["Rounds", "District ranking", "Not in a district", "Chosen districts", "Parents' confirmations"], workbook.Worksheets.Where(w => w.Visibility == XLWorksheetVisibility.Visible).Select(w => w.Name));
            Assert.Equal("no district (school not in the master)", workbook.Worksheet("Not in a district").Cell(2, 4).GetString());
        }

        File.Delete(file);
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task HostileOrOutOfRangeQueries_AreRefusedWithAClearMessage_AndADistrictSeesItsOwnOnly()
    {
        using var manager = new PortalBrowser(_province.Site);
        await manager.SignInFirstTimeAsync("manager-bad", await PortalBrowser.AccountAsync(Db.DataSource, "manager-bad", AccountRole.Manager));
        foreach (var (query, says) in new[]
        {
            ("n=31", "1 到 30"), ("n=0", "1 到 30"), ("n=ten", "1 到 30"), ("page=-1", "页码"), ("sort=name;DROP TABLE x", "排序"),
            ("q=" + new string('x', 51), "50"), (string.Join('&', Enumerable.Range(0, 13).Select(i => "d=23" + i.ToString("D4", CultureInfo.InvariantCulture))), "12"),
        })
        {
            var answer = await manager.GetAsync("/trends?" + query);
            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
            Assert.Contains(says, WebUtility.HtmlDecode(await answer.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        }

        using var english = new PortalBrowser(_province.Site, "en");
        await english.SignInFirstTimeAsync("manager-bad-en", await PortalBrowser.AccountAsync(Db.DataSource, "manager-bad-en", AccountRole.Manager));
        var refused = WebUtility.HtmlDecode(await (await english.GetAsync("/trends?n=99")).Content.ReadAsStringAsync());
        Assert.Contains("must be a whole number from 1 to 30", refused, StringComparison.Ordinal);
        Assert.DoesNotContain("整数", refused, StringComparison.Ordinal);

        // A search is a value, never SQL: quotes and wildcards find nothing and break nothing.
        var page = await manager.GetAsync("/trends?q=" + Uri.EscapeDataString("%' OR 1=1 --"));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("（0 个区县）", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A district office: its own district in the ranking and the table, never another's (refused, 404, audited).
        var figures = await FiguresAsync();
        var (own, other) = (figures[0].Code, figures[1].Code);
        using var office = new PortalBrowser(_province.Site);
        await office.SignInFirstTimeAsync("district-122", await PortalBrowser.AccountAsync(Db.DataSource, "district-122", AccountRole.District, district: own));
        var html = await (await office.GetAsync("/trends")).Content.ReadAsStringAsync();
        Assert.Contains($"/trends/district/{own}", html, StringComparison.Ordinal);
        Assert.DoesNotContain($"/trends/district/{other}", html, StringComparison.Ordinal);
        Assert.Contains("（1 个区县）", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await office.GetAsync($"/trends?district={other}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await office.GetAsync($"/trends/export/charts.xlsx?district={other}")).StatusCode);
        Assert.Equal("trends/rounds,trends/rounds", await Db.ScalarAsync<string>(
            "SELECT string_agg(object, ',' ORDER BY object) FROM audit.event WHERE action = 'access.refused' AND actor = 'district-122'"));
    }

    /// <summary>Every district's open errors per 1,000 in the round (from the snapshot), the worst first (ties by code), with its name.</summary>
    private async Task<List<(string Code, string Name, double Figure)>> FiguresAsync()
    {
        await using var command = Db.DataSource.CreateCommand("""
            SELECT s.district_code, min(m.district_name_raw), sum(s.open_errors) * 1000.0::float8 / sum(s.students)
            FROM   reporting.schools_of_record(@r, NULL) s
            JOIN   registry.school m ON m.round_id = s.round_id AND m.school_code = s.school_code
            WHERE  s.district_code IS NOT NULL
            GROUP  BY s.district_code HAVING sum(s.students) > 0
            ORDER  BY 3 DESC, 1
            """);
        command.Parameters.AddWithValue("r", _province.Run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var list = new List<(string, string, double)>();
        while (await reader.ReadAsync())
        {
            list.Add((reader.GetString(0), reader.GetString(1), reader.GetDouble(2)));
        }

        Assert.True(list.Count > 4 * TrendsQuery.DefaultShown, $"only {list.Count} districts have students");
        return list;
    }

    /// <summary>The bars of a chart: each one's label and the figure written beside it.</summary>
    private static async Task<List<(string Label, double Value)>> BarsAsync(IPage page, string chart) =>
        [.. (await page.Locator($"{chart} ol.bars li").EvaluateAllAsync<string[][]>(
            "lis => lis.map(li => [li.querySelector('.bar-label').innerText.trim(), li.querySelector('.bar-value').innerText.trim()])"))
            .Select(b => (b[0], Number(b[1])))];

    private static async Task<List<string[]>> RowsAsync(IPage page, string table) =>
        [.. await page.Locator($"{table} tbody tr").EvaluateAllAsync<string[][]>("trs => trs.map(tr => [...tr.cells].map(td => td.innerText.trim()))")];

    private static double Number(string shown) => double.Parse(shown.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);

    /// <summary>
    /// Readable labels: each has a box of its own (no two of them overlap), inside the page's width, with its whole text
    /// shown (nothing cut off), and left of its bar.
    /// </summary>
    private static async Task AssertLabelsReadableAsync(IPage page, string selector)
    {
        var boxes = await page.Locator(selector).EvaluateAllAsync<double[][]>("""
            els => els.map(e => { const r = e.getBoundingClientRect(); const bar = e.parentElement.querySelector('.bar-track');
                                  return [r.left, r.top, r.right, r.bottom, e.scrollWidth - e.clientWidth, bar ? bar.getBoundingClientRect().left : r.right]; })
            """);
        var width = await page.EvaluateAsync<double>("() => document.documentElement.clientWidth");
        Assert.True(boxes.Length > 0, $"no labels at {selector}");
        for (var i = 0; i < boxes.Length; i++)
        {
            Assert.True(boxes[i][2] > boxes[i][0] && boxes[i][3] > boxes[i][1], $"label {i} has no size");
            Assert.True(boxes[i][0] >= 0 && boxes[i][2] <= width + 0.5, $"label {i} is outside the page ({boxes[i][0]}–{boxes[i][2]} of {width})");
            Assert.True(boxes[i][4] <= 0, $"label {i} is cut off");
            Assert.True(boxes[i][2] <= boxes[i][5] + 0.5, $"label {i} runs into its bar");
            for (var j = i + 1; j < boxes.Length; j++)
            {
                var apart = boxes[i][2] <= boxes[j][0] || boxes[j][2] <= boxes[i][0] || boxes[i][3] <= boxes[j][1] || boxes[j][3] <= boxes[i][1];
                Assert.True(apart, $"labels {i} and {j} overlap");
            }
        }
    }

    private static async Task AssertNoSidewaysScrollAsync(IPage page) =>
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
            $"the page is {await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth")} px wide on a 390 px screen");

    private static async Task<string> DownloadAsync(IPage page, string link)
    {
        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator(link).First.ClickAsync());
        var file = Path.Combine(Path.GetTempPath(), $"sdq-trends-{Guid.NewGuid():N}.xlsx");
        await download.SaveAsAsync(file);
        return file;
    }

    /// <summary>Signs in through the pages with the one-time password, chooses a new one, and ends on the home page.</summary>
    private async Task<IPage> SignedInAsync(string account, AccountRole role, int width = 1280, int height = 900)
    {
        var oneTimePassword = await PortalBrowser.AccountAsync(Db.DataSource, account, role);
        var page = await _province.Chromium.NewPageAsync(_province.Site, width: width, height: height);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/", account, oneTimePassword);
        return page;
    }
}
