using Microsoft.Playwright;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The district and school pages in a real browser (Debian chromium through Playwright): the data team works the table of
/// all districts as a person would, by its column headers, its pager and its search box, then opens a district and a
/// school from it. The round's school master gets 70 more districts (none issued) so that the table has two pages.
/// </summary>
public sealed class SchoolBrowserTests(BrowserTests.Site site) : IClassFixture<BrowserTests.Site>
{
    private readonly PortalRound _round = site.Round;
    private DatabaseFixture Db => _round.Database;

    [Fact]
    public async Task TheDataTeam_SortsPagesAndSearchesTheDistrictsTable_AndOpensADistrictAndASchool_InTheBrowser()
    {
        await Db.ExecuteAsync("""
            INSERT INTO registry.school (round_id, file_id, sheet_no, row_no, school_code_raw, school_code, school_name_raw, district_code_raw,
                                         district_code, district_name_raw, min_grade_raw, min_grade, max_grade_raw, max_grade, is_open_raw, is_open)
            SELECT s.round_id, s.file_id, s.sheet_no, 100000 + n, 'TS' || (9000 + n), 'TS' || (9000 + n), '测试学校 ' || n, 'T' || (9000 + n),
                   'T' || (9000 + n), '测试区 ' || n, s.min_grade_raw, s.min_grade, s.max_grade_raw, s.max_grade, s.is_open_raw, s.is_open
            FROM   (SELECT * FROM registry.school WHERE round_id = @r AND school_code IS NOT NULL ORDER BY row_no LIMIT 1) s,
                   generate_series(1, 70) AS n
            """, ("r", _round.Run.RoundId));
        var districts = await Db.ScalarAsync<long>("SELECT count(DISTINCT district_code) FROM access.school_district WHERE district_code IS NOT NULL");
        var page = await SignedInAsync("team-browser-districts", await PortalBrowser.AccountAsync(Db.DataSource, "team-browser-districts", AccountRole.DataTeam));
        var rows = page.Locator("table.districts tr:has(td)");

        await page.GotoAsync("/district");
        Assert.Equal("各区县", await page.Locator("h1").InnerTextAsync());
        Assert.Equal(50, await rows.CountAsync());

        // The code column's header: ascending, then (clicked again) descending.
        await page.GetByRole(AriaRole.Link, new() { Name = "区县代码", Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/district?sort=code&dir=asc");
        Assert.Equal(await Db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district"), await FirstCodeAsync(rows));
        await page.GetByRole(AriaRole.Link, new() { Name = "区县代码 ▲" }).ClickAsync();
        await page.WaitForURLAsync("**/district?sort=code&dir=desc");
        Assert.Equal("T9070", await FirstCodeAsync(rows));
        Assert.Equal("descending", await page.Locator("th[aria-sort]").GetAttributeAsync("aria-sort"));

        // The next page: the rest of the districts, still sorted.
        await page.GetByRole(AriaRole.Link, new() { Name = "下一页" }).ClickAsync();
        await page.WaitForURLAsync("**/district?sort=code&dir=desc&page=2");
        Assert.Equal(districts - 50, await rows.CountAsync());
        Assert.Equal(await Db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district"),
            await rows.Last.Locator("td").First.InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "districts-page-2.png"), FullPage = true });

        // The search box, by name.
        await page.GetByLabel("代码或名称").FillAsync("测试区 17");
        await page.GetByRole(AriaRole.Button, new() { Name = "查找" }).ClickAsync();
        await page.WaitForURLAsync("**/district?q=*");
        Assert.Equal(1, await rows.CountAsync());
        Assert.Equal("T9017", await FirstCodeAsync(rows));

        // A real district, and one of its schools: its page with its progress.
        var (district, school) = await Db.ScalarAsync<string>("""
            SELECT d.district_code || '|' || w.school_code FROM access.school_district d JOIN exchange.worksheet w USING (school_code)
            WHERE  w.round_id = @r AND d.district_code IS NOT NULL ORDER BY w.school_code LIMIT 1
            """, ("r", _round.Run.RoundId)) is var pair && pair.Split('|') is [var d, var s] ? (d, s) : ("", "");
        await page.GetByLabel("代码或名称").FillAsync(district);
        await page.GetByRole(AriaRole.Button, new() { Name = "查找" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = district, Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/district?code=" + district);
        Assert.Equal($"区县 {district}", await page.Locator("h1").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = school, Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/school?code=" + school);
        Assert.StartsWith($"{school} · ", await page.Locator("h1").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(1, await page.Locator("svg.progress").CountAsync());
        Assert.Equal(1, await page.Locator("table.progress tr:has(td)").CountAsync());
    }

    private static async Task<string> FirstCodeAsync(ILocator rows) => await rows.First.Locator("td").First.InnerTextAsync();

    /// <summary>
    /// Signs in with the one-time password (and the second factor when asked) and chooses a new one, through the pages, and
    /// ends on the home page.
    /// </summary>
    private async Task<IPage> SignedInAsync(string account, string oneTimePassword)
    {
        var page = await site.Chromium.NewPageAsync(_round.Site);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/", account, oneTimePassword);
        return page;
    }
}
