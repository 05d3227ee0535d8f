using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using ClosedXML.Excel;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Quality trends on two real rounds run by the jobs: the previous round (a live snapshot before any return, returns, then
/// closed with its close snapshot) and the current one (a live snapshot a day old, returns, a live snapshot today). The
/// figures are computed again here from the rounds' own records (students, findings, worksheets, returns) and compared;
/// charts, exports, scope and confidentiality are tested through the portal.
/// </summary>
public sealed class TrendsTests(TrendsTests.TwoRounds fixture) : IClassFixture<TrendsTests.TwoRounds>
{
    private readonly DatabaseFixture db = fixture.Database;

    /// <summary>One database with two rounds run by the jobs, returns days after the issue, their snapshots, and the portal.</summary>
    public sealed class TwoRounds : IAsyncLifetime
    {
        private readonly TempFolder _temp = new();
        private WebApplication _app = null!;

        public DatabaseFixture Database { get; } = new();
        public Uri Site { get; private set; } = null!;
        public RoundRun Previous { get; private set; } = null!;
        public RoundRun Current { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Database.InitializeAsync();
            var province = ProvinceGenerator.Generate(new GeneratorOptions
            {
                Students = 1_200, Schools = 12, Seed = 47, DefectRate = 0.06, Previous = true, OutputDirectory = Path.Combine(_temp.Path, "province"),
            });
            var answers = RegistrarAnswers.Load(province.RegistrarAnswersPath);
            var storage = HangfireJobs.Storage(Database.ConnectionString);
            await using (var services = HangfireJobs.Services(Database.DataSource, storage, new JobSettings { Reports = _temp.Path }))
            using (HangfireJobs.Server(services, storage))
            {
                var launcher = services.GetRequiredService<RoundLauncher>();
                var runs = services.GetRequiredService<RoundRuns>();
                var jobs = services.GetRequiredService<RoundJobs>();

                await launcher.StartAsync(new RoundStart("trend-a", province.PreviousRoundDate!.Value, [province.PreviousExportDirectory!],
                    Path.Combine(_temp.Path, "a")), "test");
                Previous = await HangfireJobs.StageAsync(runs, "trend-a", RoundStage.Issued);
                await AgeLiveSnapshotAsync(Previous.RoundId);
                await ReturnAsync(Previous, answers, every: 2, firstDays: 2);
                await jobs.CloseAsync("trend-a", "test", CancellationToken.None);

                await launcher.StartAsync(new RoundStart("trend-b", new DateOnly(2026, 10, 15), [province.ExportDirectory], Path.Combine(_temp.Path, "b"))
                {
                    PreviousRoundCode = "trend-a",
                }, "test");
                Current = await HangfireJobs.StageAsync(runs, "trend-b", RoundStage.Issued);
                await AgeLiveSnapshotAsync(Current.RoundId);
                await ReturnAsync(Current, answers, every: 3, firstDays: 1);
                await jobs.SnapshotAsync("trend-b", CancellationToken.None);
            }

            // As `sdq web` runs it: on the portal's database role.
            _app = Portal.Build(new PortalSettings(await Database.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(Database), IngestScenario.Key,
                "http://127.0.0.1:0") { Logging = new ConsoleErrors() });
            await _app.StartAsync();
            Site = new Uri(_app.Urls.First());
        }

        /// <summary>Waits for the live snapshot the jobs take when a round is issued, and dates it a day back (an older live one).</summary>
        private async Task AgeLiveSnapshotAsync(int roundId)
        {
            for (var i = 0; i < 600 && await Database.ScalarAsync<long>(
                     "SELECT count(*) FROM reporting.quality_snapshot WHERE round_id = @r AND kind = 'live'", ("r", roundId)) == 0; i++)
            {
                await Task.Delay(100);
            }

            Assert.Equal(1, await Database.ExecuteAsync(
                "UPDATE reporting.quality_snapshot SET taken_on = taken_on - 1, taken_at = taken_at - interval '1 day' WHERE round_id = @r AND kind = 'live'",
                ("r", roundId)));
        }

        /// <summary>Every <paramref name="every"/>-th school returns its worksheet (diligently); its returns are dated days after the issue.</summary>
        private async Task ReturnAsync(RoundRun run, IReadOnlyDictionary<string, IReadOnlyList<RegistrarAnswer>> answers, int every, int firstDays)
        {
            var ingest = new ReturnIngest(Database.DataSource, IngestScenario.Key);
            var files = Directory.EnumerateFiles(run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            Assert.NotEmpty(files);
            for (var i = 0; i < files.Count; i += every)
            {
                var code = await Database.ScalarAsync<string>("SELECT school_code FROM exchange.worksheet WHERE round_id = @r AND file_name = @f",
                    ("r", run.RoundId), ("f", Path.GetFileName(files[i])));
                var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(files[i]), answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 47);
                await ingest.IngestAsync(new MemoryStream(edited.Workbook), Path.GetFileName(files[i]), new Account("school-" + code, AccountRole.School, code));
                // Schools take their time: days and hours after the issue, different for each.
                await Database.ExecuteAsync(
                    "UPDATE exchange.worksheet_return SET received_at = received_at + make_interval(days => @d, hours => @h) WHERE round_id = @r AND school_code = @s",
                    ("d", firstDays + i), ("h", (i * 5) % 24), ("r", run.RoundId), ("s", code));
            }
        }

        public async Task DisposeAsync()
        {
            await _app.DisposeAsync();
            await Database.DisposeAsync();
            _temp.Dispose();
        }
    }

    /// <summary>What a round's own records say, per school: computed here without the snapshot or the report SQL.</summary>
    private sealed record SchoolFacts(string School, string? District, int Students, int WithoutId, int Found, int Resolved, int OpenErrors,
        bool Issued, double? DaysToReturn, int Duplicates);

    private sealed record Expected(int Students, int Found, double ProblemsPer1000, double OpenErrorsPer1000, int OpenErrors, double FixedShare,
        double ReturnRate, double MedianDays, int Duplicates, int WithoutId);

    [Fact]
    public async Task TheMeasures_EqualThoseComputedFromEachRoundsOwnRecords_ForTheProvinceAndADistrict()
    {
        var trends = new QualityTrends(db.DataSource);
        var manager = new TrendRequest(new Account("manager-m", AccountRole.Manager), "test");
        var rounds = await trends.RoundsAsync(manager);
        Assert.Equal(["trend-a", "trend-b"], rounds.Select(r => r.RoundCode));
        // The previous round counts by its close snapshot (after its returns), the current one by its newest live snapshot.
        Assert.Equal(["close", "live"], rounds.Select(r => r.SnapshotKind));
        Assert.Equal(DateOnly.FromDateTime(DateTime.Today), rounds[1].SnapshotTakenOn);

        foreach (var round in rounds)
        {
            var facts = await FactsAsync(round.RoundId);
            AssertMeasures(Expect(facts), round.Measures, round.RoundCode);
            var district = facts.Where(f => f.District is not null).GroupBy(f => f.District).OrderByDescending(g => g.Count()).First().Key!;
            var districtRow = (await trends.DistrictsAsync(manager with { RoundId = round.RoundId })).Single(d => d.DistrictCode == district);
            AssertMeasures(Expect(facts.Where(f => f.District == district)), districtRow.Measures, $"{round.RoundCode} {district}");
            var districtRound = (await trends.RoundsAsync(manager with { DistrictCode = district })).Single(r => r.RoundId == round.RoundId);
            AssertMeasures(Expect(facts.Where(f => f.District == district)), districtRound.Measures, $"{round.RoundCode} {district} (district scope)");
            foreach (var school in await trends.SchoolsAsync(manager with { RoundId = round.RoundId }))
            {
                var fact = facts.Single(f => f.School == school.SchoolCode);
                Assert.Equal(fact.Found, school.Measures.Found);
                Assert.Equal(fact.OpenErrors, school.Measures.OpenErrors);
                AssertClose(fact.DaysToReturn, school.Measures.MedianDaysToReturn, $"{round.RoundCode} {school.SchoolCode} days");
            }
        }

        // The returns were days after the issue, only some schools returned, and of the current round's some problems were
        // fixed (the registrars' answers are the current round's): the measures are not trivial.
        Assert.InRange(rounds[0].Measures.MedianDaysToReturn!.Value, 1.5, 100);
        Assert.InRange(rounds[1].Measures.MedianDaysToReturn!.Value, 1.5, 100);
        Assert.InRange(rounds[0].Measures.ReturnRate!.Value, 0.01, 0.99);
        Assert.InRange(rounds[1].Measures.FixedShare!.Value, 0.01, 0.99);
    }

    [Fact]
    public async Task TheWorstAndMostImproved_AreThoseComputedFromTheTwoRounds()
    {
        var trends = new QualityTrends(db.DataSource);
        var movers = await trends.MoversAsync(new TrendRequest(new Account("manager-w", AccountRole.Manager), "test"), top: 100);
        var previous = await FactsAsync(fixture.Previous.RoundId);
        var current = await FactsAsync(fixture.Current.RoundId);
        foreach (var (level, key) in new (TrendLevel, Func<SchoolFacts, string?>)[] { (TrendLevel.District, f => f.District), (TrendLevel.School, f => f.School) })
        {
            var now = current.Where(f => key(f) is not null).GroupBy(key).ToDictionary(g => g.Key!, g => Expect(g));
            var before = previous.Where(f => key(f) is not null).GroupBy(key).ToDictionary(g => g.Key!, g => Expect(g));
            var worst = now.OrderByDescending(p => p.Value.OpenErrorsPer1000).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key).ToList();
            Assert.Equal(worst, movers.Where(m => m.Level == level).OrderBy(m => m.WorstRank).Select(m => m.Code));
            var improved = now.Where(p => before.ContainsKey(p.Key) && double.IsFinite(p.Value.ProblemsPer1000) && double.IsFinite(before[p.Key].ProblemsPer1000))
                .OrderByDescending(p => before[p.Key].ProblemsPer1000 - p.Value.ProblemsPer1000).ThenBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => p.Key).ToList();
            Assert.Equal(improved, movers.Where(m => m.Level == level && m.ImprovedRank is not null).OrderBy(m => m.ImprovedRank).Select(m => m.Code));
            var top = movers.First(m => m.Level == level && m.ImprovedRank == 1);
            AssertClose(before[top.Code].ProblemsPer1000 - now[top.Code].ProblemsPer1000, top.DropPer1000, "drop");
        }
    }

    [Fact]
    public async Task TheCharts_ArePngsOfTheChartSize_DrawnWithTheCjkFont()
    {
        using var manager = await SignInAsync("manager-c", AccountRole.Manager);
        var page = await (await manager.GetAsync("/trends")).Content.ReadAsStringAsync();
        Assert.Contains("""<img class="chart" src="/trends/chart/trend.png" """, page, StringComparison.Ordinal);
        Assert.Contains("""<img class="chart" src="/trends/chart/districts.png?round=trend-b" """, page, StringComparison.Ordinal);
        foreach (var path in new[] { "/trends/chart/trend.png", "/trends/chart/districts.png?round=trend-b" })
        {
            var answer = await manager.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("image/png", answer.Content.Headers.ContentType?.MediaType);
            // The labels are Chinese (the reader's default language): the CJK font must have been found, not boxes drawn.
            Assert.Equal("WenQuanYi Micro Hei; found", string.Join(";", answer.Headers.GetValues("X-Chart-Font").Single().Split(';')[..2]));
            var png = await answer.Content.ReadAsByteArrayAsync();
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
            Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
            Assert.Equal(960, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
            Assert.Equal(480, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
            Assert.True(png.Length > 10_000, $"{path}: {png.Length} bytes is too small for a drawn chart");
        }
    }

    [Fact]
    public async Task EveryTable_ExportsAsXlsx_WithItsRowsAndValues_AndEachExportIsAudited()
    {
        using var manager = await SignInAsync("manager-x", AccountRole.Manager);
        var trends = new QualityTrends(db.DataSource);
        var request = new TrendRequest(new Account("manager-x", AccountRole.Manager), "test");

        using (var rounds = await WorkbookAsync(manager, "/trends/export/rounds.xlsx"))
        {
            var sheet = rounds.Worksheets.Single(w => w.Visibility == XLWorksheetVisibility.Visible);
            var expected = await trends.RoundsAsync(request);
            Assert.Equal(1, sheet.SheetView.SplitRow);
            Assert.Equal("轮次", sheet.Cell(1, 1).GetString());
            Assert.Equal(expected.Count + 1, sheet.LastRowUsed().RowNumber());
            var header = sheet.Row(1).CellsUsed().Select(c => c.GetString()).ToList();
            for (var i = 0; i < expected.Count; i++)
            {
                var row = sheet.Row(i + 2);
                Assert.Equal(expected[i].RoundCode, row.Cell(1).GetString());
                Assert.Equal(expected[i].RoundDate.ToDateTime(TimeOnly.MinValue), row.Cell(2).GetDateTime());
                var rate = row.Cell(header.IndexOf("问题数/千人") + 1);
                Assert.Equal(expected[i].Measures.ProblemsPer1000!.Value, rate.GetDouble(), 9);
                Assert.Equal("#,##0.0", rate.Style.NumberFormat.Format);
                var share = row.Cell(header.IndexOf("已修正比例") + 1);
                Assert.Equal(expected[i].Measures.FixedShare!.Value, share.GetDouble(), 9);
                Assert.Equal("0.0%", share.Style.NumberFormat.Format);
                Assert.Equal(expected[i].Measures.Students, (int)row.Cell(header.IndexOf("学生数") + 1).GetDouble());
            }
        }

        using (var schools = await WorkbookAsync(manager, "/trends/export/schools.xlsx?round=trend-a"))
        {
            var sheet = schools.Worksheets.Single(w => w.Visibility == XLWorksheetVisibility.Visible);
            var expected = await trends.SchoolsAsync(request with { RoundId = fixture.Previous.RoundId });
            Assert.Equal(expected.Count + 1, sheet.LastRowUsed().RowNumber());
            Assert.Equal(expected.Select(s => s.SchoolCode), sheet.Column(3).CellsUsed().Skip(1).Select(c => c.GetString()));
            Assert.All(sheet.Column(1).CellsUsed().Skip(1), c => Assert.Equal("trend-a", c.GetString()));
            Assert.Equal(expected.Sum(s => s.Measures.OpenErrors), sheet.Column(9).CellsUsed().Skip(1).Sum(c => c.GetDouble()));
        }

        foreach (var (table, count) in new[] { ("districts", (await trends.DistrictsAsync(request with { RoundId = fixture.Current.RoundId })).Count),
                     ("rules", (await trends.RulesAsync(request with { RoundId = fixture.Current.RoundId })).Count),
                     ("movers", (await trends.MoversAsync(request)).Count) })
        {
            using var book = await WorkbookAsync(manager, $"/trends/export/{table}.xlsx?round=trend-b");
            Assert.Equal(count + 1, book.Worksheets.Single(w => w.Visibility == XLWorksheetVisibility.Visible).LastRowUsed().RowNumber());
        }

        Assert.Equal(["trends/districts", "trends/movers", "trends/rounds", "trends/rules", "trends/schools"], (await db.ScalarAsync<string>(
            "SELECT string_agg(object, ',' ORDER BY object) FROM audit.event WHERE action = 'report.export' AND actor = 'manager-x'")).Split(','));
        Assert.Equal(fixture.Previous.RoundId, await db.ScalarAsync<int>(
            "SELECT round_id FROM audit.event WHERE action = 'report.export' AND actor = 'manager-x' AND object = 'trends/schools'"));
    }

    [Fact]
    public async Task TheChosenDistricts_AreDrawnAsSmallMultiples_ARoundAPoint_WithTheirNumbersInTheTableAndTheWorkbook()
    {
        using var manager = await SignInAsync("manager-s", AccountRole.Manager);
        var districts = (await DistrictsAsync()).Take(2).ToList();
        var query = string.Join('&', districts.Select(d => "d=" + d));
        var page = await (await manager.GetAsync("/trends?" + query)).Content.ReadAsStringAsync();
        // One small chart per chosen district, in the order chosen; two rounds: two points on each line.
        Assert.Equal(districts, Regex.Matches(page, """<figure class="multiple" data-district="([^"]+)">""").Select(m => m.Groups[1].Value));
        var lines = Regex.Matches(page, """<polyline points="([^"]*)" class="(problems|open)"[ />]""");
        Assert.Equal(2 * districts.Count, lines.Count);
        foreach (Match line in lines)
        {
            Assert.Equal(2, line.Groups[1].Value.Split(' ').Length);
        }

        // The table beside them: a row per district and round, the figures of the districts' trend.
        var trends = new QualityTrends(db.DataSource);
        var manager2 = new TrendRequest(new Account("manager-s", AccountRole.Manager), "test");
        var expected = new List<DistrictTrend>();
        foreach (var district in districts)
        {
            expected.AddRange((await trends.DistrictsAsync(manager2)).Where(d => d.DistrictCode == district));
        }

        var table = page[page.IndexOf("id=\"series-table\"", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("</table>", StringComparison.Ordinal)];
        var cells = Regex.Matches(table, "<tr>(.*?)</tr>", RegexOptions.Singleline).Skip(1)
            .Select(r => Regex.Matches(r.Groups[1].Value, "<td[^>]*>(.*?)</td>", RegexOptions.Singleline)
                .Select(c => WebUtility.HtmlDecode(Regex.Replace(c.Groups[1].Value, "<[^>]+>", "")).Trim()).ToList()).ToList();
        Assert.Equal(expected.Select(e => (e.DistrictCode, e.RoundCode, e.Measures.OpenErrorsPer1000!.Value.ToString("#,##0.0", CultureInfo.InvariantCulture))),
            cells.Select(c => ((string?)c[0], c[2], c[4])));

        using var book = await WorkbookAsync(manager, "/trends/export/charts.xlsx?" + query);
        var sheet = book.Worksheet("所选区县趋势");
        Assert.Equal(expected.Count + 1, sheet.LastRowUsed().RowNumber());
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].DistrictCode, sheet.Cell(i + 2, 1).GetString());
            Assert.Equal(expected[i].RoundCode, sheet.Cell(i + 2, 3).GetString());
            Assert.Equal(expected[i].Measures.ProblemsPer1000!.Value, sheet.Cell(i + 2, 4).GetDouble(), 9);
            Assert.Equal(expected[i].Measures.OpenErrorsPer1000!.Value, sheet.Cell(i + 2, 5).GetDouble(), 9);
        }

        // The rounds chart's sheet: every round, as the rounds table.
        Assert.Equal(["trend-a", "trend-b"], book.Worksheet("各轮次").Column(1).CellsUsed().Skip(1).Select(c => c.GetString()));
    }

    [Fact]
    public async Task ASchoolAccount_IsRefusedEveryTrend_AndEachRefusalIsAudited()
    {
        var school = await db.ScalarAsync<string>("SELECT min(school_code) FROM exchange.worksheet WHERE round_id = @r", ("r", fixture.Current.RoundId));
        using var browser = await SignInAsync("school-trends", AccountRole.School, school: school);
        Assert.DoesNotContain("/trends", await (await browser.GetAsync("/")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The group's policy refuses the role: sent to the "not allowed" page, which answers 403.
        Assert.Equal(HttpStatusCode.Forbidden, await RefusedAsync(browser, "/trends"));
        Assert.Equal(HttpStatusCode.Forbidden, await RefusedAsync(browser, "/trends/chart/trend.png"));
        Assert.Equal(HttpStatusCode.Forbidden, await RefusedAsync(browser, "/trends/export/schools.xlsx"));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'school-trends'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'report.export' AND actor = 'school-trends'"));
    }

    [Fact]
    public async Task ADistrictAccount_SeesOnlyItsOwnDistrict()
    {
        var districts = await DistrictsAsync();
        var (own, other) = (districts[0], districts[1]);
        using var office = await SignInAsync("district-trends", AccountRole.District, district: own);
        Assert.Contains("/trends", await (await office.GetAsync("/")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var page = await (await office.GetAsync("/trends")).Content.ReadAsStringAsync();
        Assert.Contains($"/trends/district/{own}", page, StringComparison.Ordinal);
        Assert.DoesNotContain($"/trends/district/{other}", page, StringComparison.Ordinal);
        foreach (var school in await SchoolsOfAsync(other))
        {
            Assert.DoesNotContain(school, page, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await office.GetAsync($"/trends/district/{own}")).StatusCode);
        // Another district is out of the account's scope (decided in SQL): answered as not found, like every read out of scope.
        Assert.Equal(HttpStatusCode.NotFound, (await office.GetAsync($"/trends/district/{other}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await office.GetAsync($"/trends/export/schools.xlsx?district={other}")).StatusCode);
        Assert.Equal(2L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'district-trends'"));

        using var book = await WorkbookAsync(office, "/trends/export/schools.xlsx");
        var codes = book.Worksheets.Single(w => w.Visibility == XLWorksheetVisibility.Visible).Column(2).CellsUsed().Skip(1).Select(c => c.GetString()).Distinct().ToList();
        Assert.Equal([own], codes);
        var ownSchools = await SchoolsOfAsync(own);
        Assert.All(book.Worksheets.Single(w => w.Visibility == XLWorksheetVisibility.Visible).Column(3).CellsUsed().Skip(1), c => Assert.Contains(c.GetString(), ownSchools));
    }

    [Fact]
    public async Task NoStudentNumberNameOrIdNumber_AppearsInAnyTrendsPageOrExport()
    {
        using var manager = await SignInAsync("manager-p", AccountRole.Manager);
        var text = new StringBuilder();
        var home = await (await manager.GetAsync("/")).Content.ReadAsStringAsync();
        Assert.Contains("href=\"/trends\"", home, StringComparison.Ordinal);
        var districts = await DistrictsAsync();
        foreach (var path in new[] { "/trends", "/trends?round=trend-a", $"/trends/district/{districts[0]}", $"/trends/district/{districts[1]}?round=trend-a" })
        {
            var answer = await manager.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            text.AppendLine(WebUtility.HtmlDecode(await answer.Content.ReadAsStringAsync()));
        }

        foreach (var table in new[] { "rounds", "districts", "schools", "rules", "movers" })
        {
            using var book = await WorkbookAsync(manager, $"/trends/export/{table}.xlsx");
            foreach (var cell in book.Worksheets.Single(w => w.Visibility == XLWorksheetVisibility.Visible).CellsUsed())
            {
                text.Append(cell.GetString()).Append('\t');
            }
        }

        var all = text.ToString();
        Assert.Contains(districts[0], all, StringComparison.Ordinal);
        // Names that are also part of a school's or district's name (allowed on these pages) cannot be told apart, and are left out.
        var allowed = await db.ScalarAsync<string>("""
            SELECT (SELECT string_agg(concat_ws(' ', school_name_raw, district_name_raw), ' ') FROM registry.school)
                   || (SELECT string_agg(title_zh || ' ' || title_en, ' ') FROM quality.rule)
            """);
        // Identifiers of six characters or more (a shorter one could be any number on the page), names of two or more.
        await using var command = db.DataSource.CreateCommand("""
            SELECT DISTINCT v FROM registry.record_version,
                   unnest(ARRAY[coalesce(student_no_raw, student_no), coalesce(id_number_raw, id_number), coalesce(guardian_id_number_raw, guardian_id_number)]) v
            WHERE  length(btrim(v)) >= 6
            UNION
            SELECT DISTINCT btrim(v) FROM registry.record_version, unnest(ARRAY[name_raw, guardian_name_raw]) v WHERE length(btrim(v)) >= 2
            """);
        await using var reader = await command.ExecuteReaderAsync();
        var checkedValues = 0;
        while (await reader.ReadAsync())
        {
            if (reader.IsDBNull(0) || reader.GetString(0) is not { } value || allowed.Contains(value, StringComparison.Ordinal))
            {
                continue;
            }

            checkedValues++;
            Assert.False(all.Contains(value, StringComparison.Ordinal), $"a student's value appears in the trends: {value}");
        }

        Assert.True(checkedValues > 1_000, $"only {checkedValues} values were checked");
    }

    private async Task<PortalBrowser> SignInAsync(string account, AccountRole role, string? school = null, string? district = null)
    {
        var browser = new PortalBrowser(fixture.Site);
        await browser.SignInFirstTimeAsync(account, await PortalBrowser.AccountAsync(db.DataSource, account, role, school, district));
        return browser;
    }

    /// <summary>The status a refused page ends on: the policy's refusal is a redirect to /denied, followed as a browser does.</summary>
    private static async Task<HttpStatusCode> RefusedAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        if (answer.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther)
        {
            var location = answer.Headers.Location!;
            Assert.Equal("/denied", location.IsAbsoluteUri ? location.AbsolutePath : location.OriginalString.Split('?')[0]);
            answer = await browser.GetAsync(location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString);
        }

        return answer.StatusCode;
    }

    private static async Task<XLWorkbook> WorkbookAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", answer.Content.Headers.ContentType?.MediaType);
        return new XLWorkbook(new MemoryStream(await answer.Content.ReadAsByteArrayAsync()));
    }

    /// <summary>The districts of the current round's school master that have schools with worksheets, the most schools first.</summary>
    private async Task<List<string>> DistrictsAsync()
    {
        var list = (await db.ScalarAsync<string>("""
            SELECT string_agg(district_code, ',' ORDER BY n DESC, district_code) FROM (
                SELECT s.district_code, count(*) AS n FROM registry.school s JOIN exchange.worksheet w ON w.round_id = s.round_id AND w.school_code = s.school_code
                WHERE  s.round_id = @r AND s.district_code IS NOT NULL GROUP BY s.district_code) d
            """, ("r", fixture.Current.RoundId))).Split(',').ToList();
        Assert.True(list.Count >= 2, "the province needs two districts with worksheets");
        return list;
    }

    private async Task<List<string>> SchoolsOfAsync(string district) =>
        [.. (await db.ScalarAsync<string>("SELECT string_agg(DISTINCT school_code, ',') FROM registry.school WHERE district_code = @d",
            ("d", district))).Split(',')];

    /// <summary>Per school of the round, from its records, findings, worksheets and returns as they are now.</summary>
    private async Task<List<SchoolFacts>> FactsAsync(int roundId)
    {
        var district = new Dictionary<string, string?>(StringComparer.Ordinal);
        var students = new Dictionary<string, (int All, int WithoutId)>(StringComparer.Ordinal);
        var findings = new List<(string School, string Severity, string Status, string Rule, long? Record)>();
        var issued = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var returned = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        await foreach (var row in RowsAsync("SELECT school_code, district_code, row_no FROM registry.school WHERE round_id = @r AND school_code IS NOT NULL ORDER BY row_no", roundId))
        {
            district.TryAdd((string)row[0]!, (string?)row[1]);
        }

        await foreach (var row in RowsAsync("SELECT school_code, id_type, id_number FROM registry.current_record WHERE round_id = @r AND school_code IS NOT NULL", roundId))
        {
            var (all, without) = students.GetValueOrDefault((string)row[0]!);
            students[(string)row[0]!] = (all + 1, without + ((string?)row[1] == "Z" || row[2] is null ? 1 : 0));
        }

        await foreach (var row in RowsAsync("SELECT school_code, severity, status, rule_id, record_id FROM quality.finding WHERE round_id = @r AND school_code IS NOT NULL", roundId))
        {
            findings.Add(((string)row[0]!, (string)row[1]!, (string)row[2]!, (string)row[3]!, (long?)row[4]));
        }

        await foreach (var row in RowsAsync("SELECT school_code, issued_at FROM exchange.worksheet WHERE round_id = @r", roundId))
        {
            var at = (DateTime)row[1]!;
            if (!issued.TryGetValue((string)row[0]!, out var first) || at < first)
            {
                issued[(string)row[0]!] = at;
            }
        }

        await foreach (var row in RowsAsync("SELECT school_code, received_at FROM exchange.worksheet_return WHERE round_id = @r", roundId))
        {
            var at = (DateTime)row[1]!;
            if (!returned.TryGetValue((string)row[0]!, out var first) || at < first)
            {
                returned[(string)row[0]!] = at;
            }
        }

        var live = findings.Where(f => f.Status != "superseded").ToList();
        return [.. district.Keys.Union(students.Keys).Select(school =>
        {
            var mine = live.Where(f => f.School == school).ToList();
            return new SchoolFacts(school, district.GetValueOrDefault(school), students.GetValueOrDefault(school).All,
                students.GetValueOrDefault(school).WithoutId, mine.Count, mine.Count(f => f.Status == "resolved"),
                mine.Count(f => f.Status == "open" && f.Severity == "error"), issued.ContainsKey(school),
                issued.TryGetValue(school, out var i) && returned.TryGetValue(school, out var r) ? (r - i).TotalDays : null,
                mine.Where(f => f.Status == "open" && f.Rule == "X03").Select(f => f.Record).Distinct().Count());
        })];
    }

    private async IAsyncEnumerable<object?[]> RowsAsync(string sql, int roundId)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("r", roundId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var values = new object?[reader.FieldCount];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            yield return values;
        }
    }

    private static Expected Expect(IEnumerable<SchoolFacts> schools)
    {
        var list = schools.ToList();
        var students = list.Sum(s => s.Students);
        var found = list.Sum(s => s.Found);
        var issued = list.Count(s => s.Issued);
        var days = list.Where(s => s.DaysToReturn is not null).Select(s => s.DaysToReturn!.Value).Order().ToList();
        var median = days.Count == 0 ? double.NaN : days.Count % 2 == 1 ? days[days.Count / 2] : (days[days.Count / 2 - 1] + days[days.Count / 2]) / 2;
        // A rate without a denominator (no students, nothing found, no school issued) is no number at all.
        static double Rate(double part, int whole) => whole == 0 ? double.NaN : part / whole;
        return new Expected(students, found, Rate(found * 1000.0, students), Rate(list.Sum(s => s.OpenErrors) * 1000.0, students), list.Sum(s => s.OpenErrors),
            Rate(list.Sum(s => s.Resolved), found), Rate(days.Count, issued), median, list.Sum(s => s.Duplicates), list.Sum(s => s.WithoutId));
    }

    private static void AssertMeasures(Expected expected, TrendMeasures actual, string what)
    {
        Assert.True(expected.Students == actual.Students, $"{what}: students {expected.Students} ≠ {actual.Students}");
        Assert.True(expected.Found == actual.Found, $"{what}: found {expected.Found} ≠ {actual.Found}");
        Assert.True(expected.OpenErrors == actual.OpenErrors, $"{what}: open errors {expected.OpenErrors} ≠ {actual.OpenErrors}");
        Assert.True(expected.Duplicates == actual.CrossSchoolDuplicates, $"{what}: duplicates {expected.Duplicates} ≠ {actual.CrossSchoolDuplicates}");
        Assert.True(expected.WithoutId == actual.StudentsWithoutId, $"{what}: without ID {expected.WithoutId} ≠ {actual.StudentsWithoutId}");
        AssertClose(expected.ProblemsPer1000, actual.ProblemsPer1000, $"{what}: problems per 1,000");
        AssertClose(expected.OpenErrorsPer1000, actual.OpenErrorsPer1000, $"{what}: open errors per 1,000");
        AssertClose(expected.FixedShare, actual.FixedShare, $"{what}: fixed share");
        AssertClose(expected.ReturnRate, actual.ReturnRate, $"{what}: return rate");
        AssertClose(double.IsNaN(expected.MedianDays) ? null : expected.MedianDays, actual.MedianDaysToReturn, $"{what}: median days");
    }

    private static void AssertClose(double? expected, double? actual, string what) =>
        Assert.True(expected is null || !double.IsFinite(expected.Value) ? actual is null : actual is not null && Math.Abs(expected.Value - actual.Value) < 1e-6,
            string.Create(CultureInfo.InvariantCulture, $"{what}: expected {expected}, got {actual}"));
}
