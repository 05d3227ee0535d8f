using System.Security.Cryptography;
using Microsoft.Playwright;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The portal in a real browser (Debian chromium through Playwright), one role at a time, as its people use it: clicking
/// links and buttons, typing into forms, downloading and choosing files. What each step changed is read back from the
/// database.
/// </summary>
public sealed class BrowserTests(BrowserTests.Site site) : IClassFixture<BrowserTests.Site>
{
    private readonly PortalRound _round = site.Round;
    private DatabaseFixture Db => _round.Database;

    /// <summary>The round and portal of <see cref="PortalRound"/>, and a browser.</summary>
    public sealed class Site : IAsyncLifetime
    {
        public PortalRound Round { get; } = new();
        public Chromium Chromium { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Round.InitializeAsync();
            Chromium = await Chromium.LaunchAsync();
        }

        public async Task DisposeAsync()
        {
            await Chromium.DisposeAsync();
            await Round.DisposeAsync();
        }
    }

    [Fact]
    public async Task ASchool_DownloadsFixesUploadsAndCertifies_InTheBrowser_AndItsDistrictApproves()
    {
        var answers = RegistrarAnswers.Load(_round.Province.RegistrarAnswersPath);
        string? certified = null;
        // Schools in turn (from the end: other tests take the first ones) until one is left with nothing to fix after its return.
        foreach (var code in (await SchoolsAsync()).AsEnumerable().Reverse().Take(5))
        {
            var account = "school-b" + code;
            var page = await SignedInAsync(account, await PortalBrowser.AccountAsync(Db.DataSource, account, AccountRole.School, code));
            await page.GetByRole(AriaRole.Link, new() { Name = "本校问题清单" }).ClickAsync();
            await page.WaitForURLAsync("**/school");
            Assert.Equal($"{code} · portal", await page.Locator("h1").InnerTextAsync());

            var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "下载问题清单" }).ClickAsync());
            var downloaded = Path.Combine(Path.GetTempPath(), $"sdq-browser-{Guid.NewGuid():N}.xlsx");
            await download.SaveAsAsync(downloaded);
            var bytes = await File.ReadAllBytesAsync(downloaded);
            File.Delete(downloaded);
            // The worksheet leaves watermarked, through the export register: its row there holds these bytes' sha256.
            Assert.Equal("school:" + code, await Db.ScalarAsync<string>("SELECT scope FROM export.file WHERE kind = 'worksheet' AND sha256 = @sha",
                ("sha", Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant())));

            // The registrar fixes the worksheet (the generator's answers, typed as a diligent registrar would) and uploads it.
            var edited = RegistrarSimulator.Edit(bytes, answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);
            await page.Locator("input[type=file]").SetInputFilesAsync(new FilePayload
            {
                Name = download.SuggestedFilename, MimeType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Buffer = edited.Workbook,
            });
            await page.GetByRole(AriaRole.Button, new() { Name = "上传" }).ClickAsync();
            await page.WaitForURLAsync("**/school/returns/*");
            var returnId = await Db.ScalarAsync<long>("SELECT max(return_id) FROM exchange.worksheet_return WHERE school_code = @s AND received_by = @a",
                ("s", code), ("a", account));
            Assert.Equal($"回执 #{returnId}", await page.Locator("h1").InnerTextAsync());
            var rows = await Db.ScalarAsync<long>("SELECT jsonb_array_length(receipt->'Rows')::bigint FROM exchange.worksheet_return WHERE return_id = @id", ("id", returnId));
            Assert.Equal(rows + 1, await page.Locator("table tr").CountAsync());

            await page.GetByRole(AriaRole.Link, new() { Name = "返回" }).ClickAsync();
            await page.WaitForURLAsync("**/school");
            var openErrors = await Db.ScalarAsync<long>(
                "SELECT count(*) FROM quality.finding WHERE round_id = @r AND school_code = @s AND status = 'open' AND severity = 'error'",
                ("r", _round.Run.RoundId), ("s", code));
            Assert.Contains($"现在未解决 {openErrors} 个错误", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);

            await page.GetByRole(AriaRole.Button, new() { Name = "确认本校数据" }).ClickAsync();
            await page.WaitForLoadStateAsync();
            var signedOff = await Db.ScalarAsync<long>("SELECT count(*) FROM exchange.sign_off WHERE round_id = @r AND school_code = @s",
                ("r", _round.Run.RoundId), ("s", code));
            if (signedOff == 1)
            {
                Assert.EndsWith("/school", page.Url, StringComparison.Ordinal);
                certified = code;
                break;
            }

            // Not yet: the page says what is left, and nothing was signed.
            Assert.Equal("还不能确认", await page.Locator("h1").InnerTextAsync());
            await page.Context.CloseAsync();
        }

        Assert.NotNull(certified);
        var district = await Db.ScalarAsync<string>("SELECT district_code FROM registry.school WHERE round_id = @r AND school_code = @s",
            ("r", _round.Run.RoundId), ("s", certified));
        var office = await SignedInAsync("district-b" + district,
            await PortalBrowser.AccountAsync(Db.DataSource, "district-b" + district, AccountRole.District, district: district));
        await office.GetByRole(AriaRole.Link, new() { Name = "辖区学校" }).ClickAsync();
        var row = office.Locator("tr", new() { HasText = certified });
        await row.GetByRole(AriaRole.Button, new() { Name = "审核通过" }).ClickAsync();
        await office.WaitForURLAsync("**/district");
        Assert.Equal("district-b" + district, await Db.ScalarAsync<string>(
            "SELECT approved_by FROM exchange.sign_off WHERE round_id = @r AND school_code = @s", ("r", _round.Run.RoundId), ("s", certified)));
        Assert.Equal(0, await office.Locator("tr", new() { HasText = certified }).GetByRole(AriaRole.Button).CountAsync());
    }

    [Fact]
    public async Task TheDataTeam_StartsARound_SchedulesOne_AndAcceptsAnExplanation_InTheBrowser()
    {
        // Diligent returns bring explanations to review (schools from the third on: the phone test takes the second, the school test the last ones).
        var answers = RegistrarAnswers.Load(_round.Province.RegistrarAnswersPath);
        long? pending = null;
        foreach (var code in (await SchoolsAsync()).Skip(2).Take(5))
        {
            var path = Directory.EnumerateFiles(_round.Run.OutputDirectory, $"*_{code}_*.xlsx", SearchOption.AllDirectories).Single();
            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path), answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);
            await new StudentDataQuality.Application.ReturnIngest(Db.DataSource, IngestScenario.Key)
                .IngestAsync(new MemoryStream(edited.Workbook), Path.GetFileName(path), new Account("school-" + code, AccountRole.School, code));
            pending = await Db.ScalarAsync<long?>("SELECT min(explanation_id) FROM exchange.explanation WHERE status = 'pending' AND school_code = @s", ("s", code));
            if (pending is not null)
            {
                break;
            }
        }

        Assert.NotNull(pending);
        var page = await SignedInAsync("team-browser", await PortalBrowser.AccountAsync(Db.DataSource, "team-browser", AccountRole.DataTeam));
        await page.GetByRole(AriaRole.Link, new() { Name = "数据管理控制台" }).ClickAsync();
        await page.WaitForURLAsync("**/team");

        await page.Locator("#round").FillAsync("browser-next");
        await page.Locator("#source").SelectOptionAsync("export");
        await page.Locator("#previous").SelectOptionAsync("portal");
        await page.Locator("#deadline").FillAsync("14");
        await page.GetByRole(AriaRole.Button, new() { Name = "开始", Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/team");
        Assert.Equal(1, await page.Locator("tr", new() { HasText = "browser-next" }).CountAsync());
        Assert.Equal("extracting", await Db.ScalarAsync<string>(
            "SELECT rr.stage FROM registry.round_run rr JOIN registry.round r USING (round_id) WHERE r.code = 'browser-next'"));
        Assert.Equal(Path.Combine(_round.ProvinceDirectory, "export"), await Db.ScalarAsync<string>(
            "SELECT rr.sources[1] FROM registry.round_run rr JOIN registry.round r USING (round_id) WHERE r.code = 'browser-next'"));
        Assert.Equal("team-browser", await Db.ScalarAsync<string>("SELECT actor FROM audit.event WHERE action = 'round.start' AND object = 'browser-next'"));
        // The round's first job waits for a worker.
        Assert.Equal(1, _round.Storage.GetMonitoringApi().EnqueuedCount("extract"));

        // Starting the same round again is refused with the reason.
        await page.Locator("#round").FillAsync("browser-next");
        await page.GetByRole(AriaRole.Button, new() { Name = "开始", Exact = true }).ClickAsync();
        Assert.Equal("未能开始核查", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("browser-next", await page.Locator("[role=alert]").InnerTextAsync(), StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Link, new() { Name = "返回" }).ClickAsync();

        await page.Locator("#schedule-name").FillAsync("semester");
        await page.Locator("#schedule-source").SelectOptionAsync("export");
        await page.GetByRole(AriaRole.Button, new() { Name = "保存定期核查" }).ClickAsync();
        await page.WaitForURLAsync("**/team");
        Assert.Equal(1, await page.Locator("tr", new() { HasText = "semester" }).CountAsync());
        using (var connection = _round.Storage.GetConnection())
        {
            Assert.Contains(Hangfire.Storage.StorageConnectionExtensions.GetRecurringJobs(connection), j => j.Id == "round-schedule:semester");
        }

        // The explanations have their own page: the one ticked, then accepted.
        await page.GetByRole(AriaRole.Link, new() { Name = "学校说明审核" }).First.ClickAsync();
        await page.WaitForURLAsync("**/team/explanations");
        await page.Locator($"input[name=id][value='{pending}']").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "接受所选" }).ClickAsync();
        await page.WaitForURLAsync("**/team/explanations?**");
        Assert.Equal("accepted", await Db.ScalarAsync<string>("SELECT status FROM exchange.explanation WHERE explanation_id = @id", ("id", pending)));
        Assert.Equal("team-browser", await Db.ScalarAsync<string>("SELECT reviewed_by FROM exchange.explanation WHERE explanation_id = @id", ("id", pending)));
        Assert.Equal(0, await page.Locator($"input[name=id][value='{pending}']").CountAsync());
    }

    [Fact]
    public async Task OnAPhone_ThePageFitsTheScreen_AndTheReaderSwitchesToEnglish_ForEveryPage()
    {
        var code = (await SchoolsAsync())[1];
        var account = "school-p" + code;
        var page = await SignedInAsync(account, await PortalBrowser.AccountAsync(Db.DataSource, account, AccountRole.School, code), width: 390, height: 844);
        await page.GotoAsync("/school");
        Assert.Equal("zh-CN", await page.Locator("html").GetAttributeAsync("lang"));
        // Nothing wider than the phone: wide tables scroll inside themselves, the page does not.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
            $"the page is {await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth")} px wide on a 390 px screen");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "school-phone.png"), FullPage = true });

        await page.GetByRole(AriaRole.Link, new() { Name = "English" }).ClickAsync();
        await page.WaitForURLAsync("**/school");
        Assert.Equal("en", await page.Locator("html").GetAttributeAsync("lang"));
        Assert.Equal(1, await page.GetByRole(AriaRole.Link, new() { Name = "Download the worksheet", Exact = true }).CountAsync());
        Assert.DoesNotContain("下载问题清单", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        // The choice holds on the next page (a cookie), though the browser asks for Chinese.
        await page.GotoAsync("/");
        Assert.Equal(1, await page.GetByRole(AriaRole.Link, new() { Name = "Our worksheet", Exact = true }).CountAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "中文" }).ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/");
        Assert.Equal(1, await page.GetByRole(AriaRole.Link, new() { Name = "本校问题清单" }).CountAsync());
    }

    [Fact]
    public async Task AManager_SeesTheTrendCharts_AndExportsTheDistrictsTable_InTheBrowser()
    {
        var page = await SignedInAsync("manager-browser", await PortalBrowser.AccountAsync(Db.DataSource, "manager-browser", AccountRole.Manager));
        await page.GetByRole(AriaRole.Link, new() { Name = "质量趋势" }).ClickAsync();
        await page.WaitForURLAsync("**/trends");
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        // Both charts drawn and shown at their size (a broken image has no natural width).
        var charts = page.Locator("img.chart");
        Assert.Equal(2, await charts.CountAsync());
        foreach (var chart in await charts.AllAsync())
        {
            Assert.True(await chart.EvaluateAsync<bool>("img => img.complete && img.naturalWidth > 0"), await chart.GetAttributeAsync("src"));
        }

        var screenshot = Path.Combine(Chromium.Screenshots, "manager-trends.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, (await File.ReadAllBytesAsync(screenshot))[..4]);

        // The districts table as .xlsx: the rows the page shows, read back by a real reader.
        // The table just above its export link.
        // The group of schools outside the master is in the export's rows too; the page shows it apart from the districts.
        var districtsOnPage = await page.Locator("xpath=//a[starts-with(@href, '/trends/export/districts.xlsx')]/../preceding-sibling::div[1]//tr").CountAsync() - 1
            + await page.Locator("#apart-chart ol.bars li").CountAsync();
        var export = page.Locator("a[href^='/trends/export/districts.xlsx']");
        var download = await page.RunAndWaitForDownloadAsync(() => export.ClickAsync());
        var file = Path.Combine(Path.GetTempPath(), $"sdq-trends-{Guid.NewGuid():N}.xlsx");
        await download.SaveAsAsync(file);
        using (var workbook = new ClosedXML.Excel.XLWorkbook(file))
        {
            Assert.Equal(districtsOnPage, workbook.Worksheet(1).RowsUsed().Count() - 1);
            Assert.True(districtsOnPage > 0);
        }

        File.Delete(file);
        Assert.Equal(1L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'report.export' AND actor = 'manager-browser'"));
        // No student-level page for a manager: sent away, and the attempt is on record.
        await page.GotoAsync("/school?code=" + (await SchoolsAsync())[0]);
        Assert.Equal("/denied", new Uri(page.Url).AbsolutePath);
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'manager-browser'") >= 1);
    }

    /// <summary>
    /// Signs in with the one-time password (and the second factor when asked) and chooses a new one, through the pages, and
    /// ends on the home page.
    /// </summary>
    private async Task<IPage> SignedInAsync(string account, string oneTimePassword, int width = 1280, int height = 900)
    {
        var page = await site.Chromium.NewPageAsync(_round.Site, width: width, height: height);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/school", account, oneTimePassword);
        return page;
    }

    private async Task<List<string>> SchoolsAsync()
    {
        await using var command = Db.DataSource.CreateCommand("SELECT school_code FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code");
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
