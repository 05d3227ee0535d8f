using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Links to a rule's page where the work is: a record's lineage page links each of its findings' rule ids (over HTTP); and,
/// in a real browser, a school downloads its worksheet (issued with the test portal's address as the help address), a
/// problem cell's note read with openpyxl names a rule's page, and the browser following that address lands on the rule's
/// page, titled with the rule's title.
/// </summary>
public sealed partial class RuleLinkBrowserTests(BrowserTests.Site site) : IClassFixture<BrowserTests.Site>
{
    private readonly PortalRound _round = site.Round;
    private DatabaseFixture Db => _round.Database;

    [Fact]
    public async Task TheLineagePage_LinksEachFindingsRuleId_ToItsPage()
    {
        var (record, school) = await Db.ScalarAsync<string>("""
            SELECT f.record_id || '|' || f.school_code FROM quality.finding f
            WHERE  f.round_id = @r AND f.school_code IS NOT NULL
            GROUP  BY f.record_id, f.school_code ORDER BY count(DISTINCT f.rule_id) DESC, f.record_id LIMIT 1
            """, ("r", _round.Run.RoundId)) is var pair && pair.Split('|') is [var id, var s] ? (id, s) : ("", "");
        var rules = (await Db.ScalarAsync<string>("SELECT string_agg(DISTINCT rule_id, ',') FROM quality.finding WHERE record_id = @id",
            ("id", long.Parse(record, System.Globalization.CultureInfo.InvariantCulture)))).Split(',');
        using var browser = new PortalBrowser(_round.Site);
        await browser.SignInFirstTimeAsync("links-lineage", await PortalBrowser.AccountAsync(Db.DataSource, "links-lineage", AccountRole.School, school));
        var answer = await browser.GetAsync("/school/records/" + record);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var linked = RuleLink().Matches(await answer.Content.ReadAsStringAsync())
            .Select(m => Uri.UnescapeDataString(WebUtility.HtmlDecode(m.Groups[1].Value))).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(rules.Order(StringComparer.Ordinal), linked);
    }

    [Fact]
    public async Task AProblemCellsNote_NamesTheRulesPage_AndTheBrowserFollowsIt()
    {
        // A school in the middle of the list (other browser tests take the first and the last) with the most kinds of open
        // problem in its students' own fields (a school-level one, as a bad school code, flags no cell of the worksheet), its
        // worksheet issued again as the portal's worker would, with the portal's address as the help address.
        var code = await Db.ScalarAsync<string>("""
            SELECT f.school_code FROM quality.finding f
            WHERE  f.round_id = @r AND f.status = 'open' AND f.rule_id <> 'F09'
              AND  f.school_code > (SELECT min(school_code) FROM exchange.worksheet WHERE round_id = @r)
              AND  f.school_code < (SELECT max(school_code) FROM exchange.worksheet WHERE round_id = @r)
            GROUP  BY f.school_code ORDER BY count(DISTINCT f.rule_id) DESC, f.school_code LIMIT 1
            """, ("r", _round.Run.RoundId));
        using var folder = new TempFolder();
        // Into the round's own folder, where the portal serves its worksheets from.
        var output = await Db.ScalarAsync<string>("SELECT output_directory FROM registry.round_run WHERE round_id = @r", ("r", _round.Run.RoundId));
        var issued = await new WorksheetIssuer(Db.DataSource, IngestScenario.Key).IssueAsync(
            new WorksheetRequest("portal", output, "test") { Manifest = false, School = code, Workers = 1, RuleHelp = RuleHelp.From(_round.Site.ToString(), "Web:PublicUrl") });
        Assert.Single(issued);

        var account = "links-browser-" + code;
        var page = await site.Chromium.NewPageAsync(_round.Site);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/", account, await PortalBrowser.AccountAsync(Db.DataSource, account, AccountRole.School, code));
        await page.GetByRole(AriaRole.Link, new() { Name = "本校问题清单" }).ClickAsync();
        await page.WaitForURLAsync("**/school");
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "下载问题清单" }).ClickAsync());
        var downloaded = folder.File("downloaded.xlsx");
        await download.SaveAsAsync(downloaded);

        const string script = """
            import sys, json, openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            print(json.dumps([c.comment.text for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.comment is not None], ensure_ascii=False))
            """;
        var notes = JsonSerializer.Deserialize<string[]>(RuleLinkTests.Python(await File.ReadAllBytesAsync(downloaded), script))!;
        Assert.NotEmpty(notes);
        var url = HelpLine().Match(notes[0]).Groups[1].Value;
        Assert.StartsWith(new Uri(_round.Site, "/help/rules/").ToString(), url, StringComparison.Ordinal);
        var rule = RuleCatalog.All.Single(r => r.Id == Uri.UnescapeDataString(url[(url.LastIndexOf('/') + 1)..]));

        await page.GotoAsync(url);
        Assert.Contains(rule.TitleZh, await page.Locator("h1").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(rule.FixZh, await page.Locator("#fix").InnerTextAsync());
    }

    [GeneratedRegex("href=\"/help/rules/([^\"]+)\"")]
    private static partial Regex RuleLink();

    [GeneratedRegex(@"^规则说明：(\S+)$", RegexOptions.Multiline)]
    private static partial Regex HelpLine();
}
