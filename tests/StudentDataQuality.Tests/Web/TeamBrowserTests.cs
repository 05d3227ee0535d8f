using System.Globalization;
using System.Net;
using Microsoft.Playwright;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The data team's console at province scale, in a real browser (chromium through Playwright): explanations filtered by
/// rule, paged, and decided fifty at a time (each decision audited on its own); a selection refused whole; a round's page
/// with its returns day by day. What each step changed is read back from the database.
/// </summary>
public sealed class TeamBrowserTests(TeamBrowserTests.Site site) : IClassFixture<TeamBrowserTests.Site>
{
    private readonly PortalRound _round = site.Round;
    private DatabaseFixture Db => _round.Database;

    /// <summary>
    /// The round and portal of <see cref="PortalRound"/>, every school's worksheet returned by a diligent registrar (through
    /// the real ingest), and a browser.
    /// </summary>
    public sealed class Site : IAsyncLifetime
    {
        public PortalRound Round { get; } = new();
        public Chromium Chromium { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Round.InitializeAsync();
            Chromium = await Chromium.LaunchAsync();
            var answers = RegistrarAnswers.Load(Round.Province.RegistrarAnswersPath);
            var ingest = new StudentDataQuality.Application.ReturnIngest(Round.Database.DataSource, IngestScenario.Key);
            foreach (var path in Directory.EnumerateFiles(Round.Run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var code = await Round.Database.ScalarAsync<string>("SELECT school_code FROM exchange.worksheet WHERE file_name = @f", ("f", Path.GetFileName(path)));
                var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path), answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);
                await ingest.IngestAsync(new MemoryStream(edited.Workbook), Path.GetFileName(path), new Account("school-" + code, AccountRole.School, code));
            }
        }

        public async Task DisposeAsync()
        {
            await Chromium.DisposeAsync();
            await Round.DisposeAsync();
        }
    }

    [Fact]
    public async Task TheDataTeam_FiltersExplanationsByRule_PagesThem_AndAcceptsFiftySelected_EachAudited()
    {
        // A province's worth of explanations of one rule: the schools' real explanations of the rule most explained, each
        // sent again until there are more than two pages of them (as many schools explaining the same kind of finding).
        var rule = await Db.ScalarAsync<string>("""
            SELECT split_part(f, '|', 1) FROM exchange.explanation e, unnest(e.fingerprints) f
            WHERE  e.status = 'pending' GROUP BY 1 ORDER BY count(DISTINCT e.explanation_id) DESC, 1 LIMIT 1
            """);
        await Db.ExecuteAsync("""
            INSERT INTO exchange.explanation (return_id, round_id, school_code, record_id, record_version, row_key, excel_row, text, fingerprints)
            SELECT e.return_id, e.round_id, e.school_code, e.record_id, e.record_version, e.row_key, e.excel_row, e.text, e.fingerprints
            FROM   exchange.explanation e CROSS JOIN generate_series(1, 120) n
            WHERE  e.status = 'pending' AND EXISTS (SELECT 1 FROM unnest(e.fingerprints) f WHERE split_part(f, '|', 1) = @rule)
            """, ("rule", rule));
        const string OfRule = """
            SELECT count(*) FROM exchange.explanation e
            WHERE  e.status = 'pending' AND EXISTS (SELECT 1 FROM unnest(e.fingerprints) f WHERE split_part(f, '|', 1) = @rule)
            """;
        var pending = await Db.ScalarAsync<long>(OfRule, ("rule", rule));
        Assert.True(pending > 100, $"{pending} explanations of {rule}");

        var page = await SignedInAsync("team-scale", await PortalBrowser.AccountAsync(Db.DataSource, "team-scale", AccountRole.DataTeam));
        await page.GetByRole(AriaRole.Link, new() { Name = "数据管理控制台" }).ClickAsync();
        await page.WaitForURLAsync("**/team");
        // The console counts the explanations waiting by rule.
        var ruleRow = page.Locator("tr", new() { Has = page.Locator($"a[href='/team/explanations?rule={rule}']") });
        Assert.Equal(pending.ToString(CultureInfo.InvariantCulture), await ruleRow.Locator("td.num").InnerTextAsync());

        // Filtered by the rule, typed into the filter: 50 a page, every one of the rule.
        await page.GetByRole(AriaRole.Link, new() { Name = "学校说明审核" }).First.ClickAsync();
        await page.WaitForURLAsync("**/team/explanations");
        await page.Locator("#filter-rule").FillAsync(rule);
        await page.GetByRole(AriaRole.Button, new() { Name = "筛选" }).ClickAsync();
        await page.WaitForURLAsync($"**/team/explanations?**rule={rule}**");
        Assert.Contains($"共 {pending} 条", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        var firstPage = await IdsOnPageAsync(page);
        Assert.Equal(50, firstPage.Count);
        foreach (var rules in await page.Locator("table tr td:nth-child(7)").AllInnerTextsAsync())
        {
            Assert.Contains(rule, rules.Split(", "));
        }

        // The next page shows the next 50, and back.
        await page.GetByRole(AriaRole.Link, new() { Name = "下一页" }).ClickAsync();
        await page.WaitForURLAsync("**page=2**");
        var secondPage = await IdsOnPageAsync(page);
        Assert.Equal((int)Math.Min(50, pending - 50), secondPage.Count);
        Assert.Empty(firstPage.Intersect(secondPage));
        await page.GetByRole(AriaRole.Link, new() { Name = "上一页" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("page=", StringComparison.Ordinal));
        Assert.Equal(firstPage, await IdsOnPageAsync(page));

        // All of the page selected; refusing them without a note is refused with the reason, and nothing is decided.
        await page.GetByRole(AriaRole.Link, new() { Name = "全选本页" }).ClickAsync();
        await page.WaitForURLAsync("**all=1**");
        Assert.Equal(50, await page.Locator("input[name=id]:checked").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "team-explanations.png") });
        await page.GetByRole(AriaRole.Button, new() { Name = "拒绝所选" }).ClickAsync();
        await page.WaitForURLAsync("**/team/explanations/decide");
        Assert.Equal("未作审核", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("拒绝说明时请写明理由", await page.Locator("[role=alert]").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(pending, await Db.ScalarAsync<long>(OfRule, ("rule", rule)));
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'team-scale' AND action LIKE 'explanation.%'"));

        // Back to the same filtered page; all 50 accepted at once: 50 decisions, 50 audit entries, one per explanation.
        await page.GetByRole(AriaRole.Link, new() { Name = "返回" }).ClickAsync();
        await page.WaitForURLAsync($"**/team/explanations?**rule={rule}**");
        await page.GetByRole(AriaRole.Link, new() { Name = "全选本页" }).ClickAsync();
        await page.WaitForURLAsync("**all=1**");
        await page.GetByRole(AriaRole.Button, new() { Name = "接受所选" }).ClickAsync();
        await page.WaitForURLAsync("**decided=accept**");
        Assert.Equal("已接受 50 条说明。", await page.Locator("[role=status]").InnerTextAsync());
        var ids = firstPage.ToArray();
        Assert.Equal(50L, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.explanation WHERE explanation_id = ANY(@ids) AND status = 'accepted' AND reviewed_by = 'team-scale'", ("ids", ids)));
        Assert.Equal(50L, await Db.ScalarAsync<long>("""
            SELECT count(DISTINCT object) FROM audit.event
            WHERE  actor = 'team-scale' AND action = 'explanation.accept' AND object = ANY(@ids) AND details->>'findings_confirmed' IS NOT NULL
            """, ("ids", ids.Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray())));
        Assert.Equal(50L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'team-scale' AND action LIKE 'explanation.%'"));
        Assert.Equal(pending - 50, await Db.ScalarAsync<long>(OfRule, ("rule", rule)));
        // What was the second page is now the first.
        Assert.Equal(secondPage, await IdsOnPageAsync(page));
    }

    [Fact]
    public async Task ASelection_WithOneExplanationDecidedMeanwhile_IsRefusedWhole_AndNamesIt()
    {
        var page = await SignedInAsync("team-whole", await PortalBrowser.AccountAsync(Db.DataSource, "team-whole", AccountRole.DataTeam));
        await page.GotoAsync("/team/explanations?all=1");
        var shown = await IdsOnPageAsync(page);
        Assert.True(shown.Count >= 3, $"{shown.Count} explanations pending");

        // Another reviewer decides one of them before this one presses the button.
        var taken = shown[1];
        await new ExplanationReview(Db.DataSource).DecideAsync(taken, true, null, Account.Operator("team-other"));
        await page.Locator("#note").FillAsync("请补充证明材料");
        await page.GetByRole(AriaRole.Button, new() { Name = "拒绝所选" }).ClickAsync();
        await page.WaitForURLAsync("**/team/explanations/decide");
        Assert.Equal("未作审核", await page.Locator("h1").InnerTextAsync());
        Assert.Contains(taken.ToString(CultureInfo.InvariantCulture), await page.Locator("[role=alert]").InnerTextAsync(), StringComparison.Ordinal);
        var others = shown.Where(i => i != taken).ToArray();
        Assert.Equal(others.Length, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.explanation WHERE explanation_id = ANY(@ids) AND status = 'pending'", ("ids", others)));
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'team-whole' AND action LIKE 'explanation.%'"));
    }

    [Fact]
    public async Task ARoundsPage_DrawsItsReturnsDayByDay_AgainstTheDeadline_WithTheSameNumbersInItsTable()
    {
        // The round as if issued five days ago: two schools returned three days ago, one certified two days ago and approved
        // yesterday, another certified yesterday (the other returns are today's).
        var roundId = _round.Run.RoundId;
        var schools = await SchoolsAsync();
        await Db.ExecuteAsync("UPDATE exchange.worksheet SET issued_at = issued_at - interval '5 days' WHERE round_id = @r", ("r", roundId));
        await Db.ExecuteAsync("UPDATE exchange.worksheet_return SET received_at = received_at - interval '3 days' WHERE round_id = @r AND school_code = ANY(@s)",
            ("r", roundId), ("s", schools[..2].ToArray()));
        await Db.ExecuteAsync("""
            INSERT INTO exchange.sign_off (round_id, school_code, certified_by, certified_at, warnings_explained, approved_by, approved_at)
            VALUES (@r, @a, 'school-a', now() - interval '2 days', 0, 'district-a', now() - interval '1 day'),
                   (@r, @b, 'school-b', now() - interval '1 day', 0, NULL, NULL)
            ON CONFLICT DO NOTHING
            """, ("r", roundId), ("a", schools[0]), ("b", schools[1]));
        var returnedToday = await Db.ScalarAsync<long>("SELECT count(DISTINCT school_code) FROM exchange.worksheet_return WHERE round_id = @r", ("r", roundId));

        var page = await SignedInAsync("team-round", await PortalBrowser.AccountAsync(Db.DataSource, "team-round", AccountRole.DataTeam));
        await page.GotoAsync("/team");
        await page.GetByRole(AriaRole.Link, new() { Name = "portal", Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/team/rounds/portal");
        Assert.Equal("轮次 portal", await page.Locator("h1").InnerTextAsync());

        // The table: one row a day from the first issue to today, cumulative.
        var rows = page.Locator("#progress-table tr");
        Assert.Equal(1 + 6, await rows.CountAsync());
        var expected = new (long Returned, long Certified, long Approved)[] { (0, 0, 0), (0, 0, 0), (2, 0, 0), (2, 1, 0), (2, 2, 1), (returnedToday, 2, 1) };
        for (var day = 0; day < expected.Length; day++)
        {
            var cells = await rows.Nth(day + 1).Locator("td").AllInnerTextsAsync();
            Assert.Equal(new[] { expected[day].Returned.ToString(CultureInfo.InvariantCulture), expected[day].Certified.ToString(CultureInfo.InvariantCulture),
                expected[day].Approved.ToString(CultureInfo.InvariantCulture), schools.Count.ToString(CultureInfo.InvariantCulture) }, cells.Skip(1).ToArray());
        }

        // The chart: a line per measure with a point per day, the schools' total, the deadline.
        var chart = page.Locator("svg.progress");
        Assert.True(await chart.IsVisibleAsync());
        foreach (var line in new[] { "returned", "certified", "approved" })
        {
            var points = (await chart.Locator($"polyline.{line}").GetAttributeAsync("points"))!.Split(' ');
            Assert.Equal(6, points.Length);
            Assert.Equal(6, await chart.Locator($"circle.{line}").CountAsync());
        }

        // The points of "returned": flat, then up to two, then up to all returned (y grows downwards).
        var returnedY = (await chart.Locator("polyline.returned").GetAttributeAsync("points"))!.Split(' ')
            .Select(p => double.Parse(p.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(returnedY[0], returnedY[1]);
        Assert.True(returnedY[2] < returnedY[1] && returnedY[5] < returnedY[4], string.Join(" ", returnedY));
        Assert.Equal(1, await chart.Locator("line.total").CountAsync());
        Assert.Equal(1, await chart.Locator("line.deadline").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "team-round.png"), FullPage = true });

        // Its schools, each with its returns.
        Assert.Equal(schools.Count, await page.Locator("table tr", new() { Has = page.Locator("a[href^='/school?code=']") }).CountAsync());
    }

    [Fact]
    public async Task TheExplanationsPage_ReadsInChineseAndEnglish_AndIgnoresHostileFiltersPolitely()
    {
        var page = await SignedInAsync("team-lang", await PortalBrowser.AccountAsync(Db.DataSource, "team-lang", AccountRole.DataTeam));
        await page.GotoAsync("/team/explanations");
        Assert.Equal("zh-CN", await page.Locator("html").GetAttributeAsync("lang"));
        Assert.Equal("学校说明审核", await page.Locator("h1").InnerTextAsync());
        Assert.Equal(1, await page.GetByRole(AriaRole.Button, new() { Name = "接受所选" }).CountAsync());
        Assert.Equal(1, await page.GetByRole(AriaRole.Link, new() { Name = "全选本页" }).CountAsync());

        await page.GetByRole(AriaRole.Link, new() { Name = "English" }).ClickAsync();
        await page.WaitForURLAsync("**/team/explanations");
        Assert.Equal("en", await page.Locator("html").GetAttributeAsync("lang"));
        Assert.Equal("Explanations to review", await page.Locator("h1").InnerTextAsync());
        Assert.Equal(1, await page.GetByRole(AriaRole.Button, new() { Name = "Accept selected" }).CountAsync());
        Assert.Equal(1, await page.GetByRole(AriaRole.Button, new() { Name = "Refuse selected" }).CountAsync());
        Assert.Equal(1, await page.GetByRole(AriaRole.Link, new() { Name = "Select all on this page" }).CountAsync());
        var body = await page.Locator("body").InnerTextAsync();
        Assert.DoesNotContain("接受所选", body, StringComparison.Ordinal);
        Assert.DoesNotContain("学校说明审核", body, StringComparison.Ordinal);

        // Hostile values in the address: left out and said so; the page is the list unfiltered, nothing echoed as markup.
        var pending = await Db.ScalarAsync<long>("SELECT count(*) FROM exchange.explanation WHERE status = 'pending'");
        var answer = await page.GotoAsync("/team/explanations?rule=%3Cscript%3Ealert(1)%3C%2Fscript%3E&status=drop%20table&page=-3&school='%20OR%201=1");
        Assert.Equal(200, answer!.Status);
        var alert = await page.Locator("[role=alert]").InnerTextAsync();
        Assert.Contains("Rule", alert, StringComparison.Ordinal);
        Assert.Contains("Status", alert, StringComparison.Ordinal);
        Assert.Contains("School", alert, StringComparison.Ordinal);
        Assert.Contains($"{pending} in all", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("script").CountAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "中文" }).ClickAsync();
    }

    [Fact]
    public async Task ADecision_FromAForgedForm_IsRefusedWithItsReason_AndDecidesNothing()
    {
        using var team = new PortalBrowser(_round.Site, "en");
        await team.SignInFirstTimeAsync("team-forged", await PortalBrowser.AccountAsync(Db.DataSource, "team-forged", AccountRole.DataTeam));
        var id = await Db.ScalarAsync<long>("SELECT min(explanation_id) FROM exchange.explanation WHERE status = 'pending'");
        var text = id.ToString(CultureInfo.InvariantCulture);
        foreach (var (fields, reason) in new (Dictionary<string, string> Fields, string Reason)[]
        {
            (new() { ["id"] = "1 OR 1=1", ["decision"] = "accept" }, "could not be read"),
            (new() { ["id"] = text, ["decision"] = "delete" }, "Choose"),
            (new() { ["id"] = text, ["decision"] = "refuse", ["note"] = new string('x', 501) }, "at most 500"),
            (new() { ["decision"] = "accept" }, "No explanation was selected"),
            (new() { ["id"] = "999999999", ["decision"] = "accept" }, "999999999"),
            // Of another school than the page's filter said: not decided behind the filter's back.
            (new() { ["id"] = text, ["decision"] = "accept", ["school"] = "0000000000" }, text),
        })
        {
            var answer = await team.PostAsync("/team/explanations", "/team/explanations/decide", fields);
            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
            Assert.Contains(reason, await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // More than a page of ids at once.
        var many = new List<KeyValuePair<string, string>> { new("decision", "accept") };
        many.AddRange(Enumerable.Range(1, 51).Select(i => new KeyValuePair<string, string>("id", i.ToString(CultureInfo.InvariantCulture))));
        many.Add(new("__RequestVerificationToken", await team.FormTokenAsync("/team/explanations")));
        var tooMany = await team.Http.PostAsync(new Uri(_round.Site, "/team/explanations/decide"), new FormUrlEncodedContent(many));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("At most 50", await tooMany.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal("pending", await Db.ScalarAsync<string>("SELECT status FROM exchange.explanation WHERE explanation_id = @id", ("id", id)));
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'team-forged' AND action LIKE 'explanation.%'"));
    }

    [Fact]
    public async Task TheAuditSearch_FiltersByActionSchoolAccountAndDates_AndPagesFiftyAtATime()
    {
        await using (var connection = await Db.DataSource.OpenConnectionAsync())
        {
            for (var i = 0; i < 60; i++)
            {
                await StudentDataQuality.Data.AuditLog.WriteAsync(connection, i % 2 == 0 ? "audit-even" : "audit-odd", "test.paging", null, "7777777777",
                    i.ToString(CultureInfo.InvariantCulture), new { i });
            }
        }

        using var team = new PortalBrowser(_round.Site, "en");
        await team.SignInFirstTimeAsync("team-audit", await PortalBrowser.AccountAsync(Db.DataSource, "team-audit", AccountRole.DataTeam));
        async Task<(int Rows, string Page)> SearchAsync(string query)
        {
            var answer = await team.GetAsync("/team/audit?" + query);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            var page = await answer.Content.ReadAsStringAsync();
            return (System.Text.RegularExpressions.Regex.Matches(page, "<td>test.paging</td>").Count, page);
        }

        var first = await SearchAsync("action=test.paging&school=7777777777");
        Assert.Equal(50, first.Rows);
        Assert.Contains("page=2", first.Page, StringComparison.Ordinal);
        var second = await SearchAsync("action=test.paging&school=7777777777&page=2");
        Assert.Equal(10, second.Rows);
        Assert.DoesNotContain("rel=\"next\"", second.Page, StringComparison.Ordinal);
        Assert.Equal(30, (await SearchAsync("action=test.paging&account=audit-odd")).Rows);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai")).DateTime);
        Assert.Equal(50, (await SearchAsync($"action=test.paging&from={today.AddDays(-1):yyyy-MM-dd}&to={today.AddDays(1):yyyy-MM-dd}")).Rows);
        Assert.Equal(0, (await SearchAsync($"action=test.paging&from={today.AddDays(1):yyyy-MM-dd}")).Rows);
        Assert.Equal(0, (await SearchAsync($"action=test.paging&to={today.AddDays(-1):yyyy-MM-dd}")).Rows);
        // A hostile value is left out, and said so.
        var hostile = await SearchAsync("action=test.paging&account=%27%3B%20DROP%20TABLE%20audit.event%3B--&from=yesterday");
        Assert.Equal(50, hostile.Rows);
        Assert.Contains("were not understood and were left out: Account, From (date)", hostile.Page, StringComparison.Ordinal);
    }

    private static async Task<List<long>> IdsOnPageAsync(IPage page) =>
        (await page.Locator("input[name=id]").EvaluateAllAsync<string[]>("boxes => boxes.map(b => b.value)"))
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToList();

    /// <summary>
    /// Signs in with the one-time password (and the second factor) and chooses a new one, through the pages, and ends on the
    /// home page.
    /// </summary>
    private async Task<IPage> SignedInAsync(string account, string oneTimePassword)
    {
        var page = await site.Chromium.NewPageAsync(_round.Site);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/team", account, oneTimePassword);
        return page;
    }

    private async Task<List<string>> SchoolsAsync()
    {
        await using var command = Db.DataSource.CreateCommand("SELECT DISTINCT school_code FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code");
        command.Parameters.AddWithValue("r", _round.Run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var schools = new List<string>();
        while (await reader.ReadAsync())
        {
            schools.Add(reader.GetString(0));
        }

        return schools;
    }
}
