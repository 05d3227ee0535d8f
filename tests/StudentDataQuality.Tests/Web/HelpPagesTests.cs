using System.Net;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Records;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The rule catalogue as pages (docs/portal.md, "Help: the rule catalogue"), over HTTP on a round run by the jobs: the list
/// links every rule of <see cref="RuleCatalog.All"/>; each rule's page, in Chinese and after the language switch in English,
/// shows what its file's header holds (title, fix, every example's wrong and right value, why and explainable exactly when
/// the header has them); an unknown id is "not found"; a manager and a class teacher read them; the school page links each
/// open problem's rule id to its page, and a receipt each still-failing row's.
/// </summary>
public sealed partial class HelpPagesTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;

    [Fact]
    public async Task TheList_LinksEveryRuleOfTheCatalogue_WithItsTitleAndFields_InBothLanguages()
    {
        using var team = await SignedInAsync("help-team", AccountRole.DataTeam);
        var chinese = await PageAsync(team, "/help/rules");
        Assert.Equal(RuleCatalog.All.Select(r => r.Id).Order(StringComparer.Ordinal), RuleLinks(chinese).Order(StringComparer.Ordinal));
        var chineseText = WebUtility.HtmlDecode(chinese);
        foreach (var rule in RuleCatalog.All)
        {
            Assert.Contains(rule.TitleZh, chineseText, StringComparison.Ordinal);
            foreach (var field in rule.Fields.Where(f => Layouts.Student.IndexOf(f) >= 0))
            {
                Assert.Contains(Layouts.Student.Fields[Layouts.Student.IndexOf(field)].Header, chineseText, StringComparison.Ordinal);
            }
        }

        await team.GetAsync("/lang/en");
        var english = await PageAsync(team, "/help/rules");
        Assert.Equal(RuleCatalog.All.Count, RuleLinks(english).Count);
        var englishText = WebUtility.HtmlDecode(english);
        foreach (var rule in RuleCatalog.All)
        {
            Assert.Contains(rule.TitleEn, englishText, StringComparison.Ordinal);
            Assert.DoesNotContain(rule.TitleZh, englishText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EveryRulesPage_ShowsWhatItsHeaderHolds_InChinese_ThenInEnglish()
    {
        using var school = await SignedInAsync("help-school", AccountRole.School, await FirstSchoolAsync());
        foreach (var english in new[] { false, true })
        {
            if (english)
            {
                Assert.Equal(HttpStatusCode.Redirect, (await school.GetAsync("/lang/en")).StatusCode);
            }

            foreach (var rule in RuleCatalog.All)
            {
                var page = await PageAsync(school, "/help/rules/" + Uri.EscapeDataString(rule.Id));
                Assert.Equal(english ? rule.TitleEn : rule.TitleZh, Section(page, "means"));
                Assert.Equal(english ? rule.FixEn : rule.FixZh, Section(page, "fix"));
                var why = english ? rule.WhyEn : rule.WhyZh;
                Assert.Equal(string.IsNullOrEmpty(why) ? null : why, Section(page, "why"));
                Assert.Equal(rule.Explainable is null, Section(page, "explain") is null);
                // Each example's wrong and right value, in order, as text: what the cells hold decoded is the header's value.
                var table = Regex.Match(page, """<table id="examples">(.*?)</table>""", RegexOptions.Singleline);
                Assert.Equal(rule.Examples.Count > 0, table.Success);
                var shown = ExampleRow().Matches(table.Groups[1].Value).Select(m => new RuleExample(WebUtility.HtmlDecode(m.Groups[1].Value), WebUtility.HtmlDecode(m.Groups[2].Value)));
                Assert.Equal(rule.Examples, shown);
                foreach (var example in rule.Examples.Where(e => e.Wrong.Contains('<') || e.Right.Contains('<')))
                {
                    Assert.DoesNotContain($"<td>{example.Wrong}</td>", page, StringComparison.Ordinal);
                }
            }

            var other = english ? "Yes: when" : "可以：";
            var explainable = RuleCatalog.All.FirstOrDefault(r => r.Explainable == true);
            if (explainable is not null)
            {
                Assert.Contains(other, Section(await PageAsync(school, "/help/rules/" + explainable.Id), "explain")!, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task AnIdOutsideTheCatalogue_IsNotFound_ARuleIsFoundWhateverItsCase_AndNoOneSignedOutReadsThem()
    {
        using var team = await SignedInAsync("help-team-404", AccountRole.DataTeam);
        foreach (var id in new[] { "NO-SUCH-RULE", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "..%2F..%2Fteam", RuleCatalog.All[0].Id + "x" })
        {
            var answer = await team.GetAsync("/help/rules/" + id);
            Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
            Assert.DoesNotContain("<script>", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var rule = RuleCatalog.All[^1];
        var lower = await PageAsync(team, "/help/rules/" + Uri.EscapeDataString(rule.Id.ToLowerInvariant()));
        Assert.Equal(rule.FixZh, Section(lower, "fix"));

        using var nobody = new PortalBrowser(fixture.Site);
        foreach (var path in new[] { "/help/rules", "/help/rules/" + rule.Id })
        {
            var answer = await nobody.GetAsync(path);
            Assert.NotEqual(HttpStatusCode.OK, answer.StatusCode);
            Assert.DoesNotContain(rule.FixZh, await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AManager_AndAClassTeacher_ReadTheRulePages()
    {
        using var manager = await SignedInAsync("help-manager", AccountRole.Manager);
        var rule = RuleCatalog.All[0];
        Assert.Equal(RuleCatalog.All.Count, RuleLinks(await PageAsync(manager, "/help/rules")).Count);
        Assert.Equal(rule.FixZh, Section(await PageAsync(manager, "/help/rules/" + rule.Id), "fix"));
        // Every signed-in page's header links to the catalogue (the manager's trends here).
        Assert.Contains("<a href=\"/help/rules\">规则说明</a>", await PageAsync(manager, "/trends"), StringComparison.Ordinal);

        var picked = await db.ScalarAsync<string>(
            "SELECT school_code || '|' || grade || '|' || class_name FROM registry.record WHERE round_id = @r AND is_current AND grade IS NOT NULL AND class_name IS NOT NULL ORDER BY 1 LIMIT 1",
            ("r", fixture.Run.RoundId));
        var parts = picked.Split('|');
        await db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, @g, @c, 'test')",
            ("a", "help-teacher"), ("s", parts[0]), ("g", new[] { short.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) }), ("c", new[] { parts[2] }));
        var password = Passwords.OneTime();
        await new SignIns(db.DataSource).SetPasswordAsync("help-teacher", Passwords.Hash("help-teacher", password), oneTime: true, "test");
        using var teacher = new PortalBrowser(fixture.Site);
        await teacher.SignInFirstTimeAsync("help-teacher", password);
        Assert.Equal(RuleCatalog.All.Count, RuleLinks(await PageAsync(teacher, "/help/rules")).Count);
        Assert.Equal(rule.FixZh, Section(await PageAsync(teacher, "/help/rules/" + rule.Id), "fix"));
    }

    [Fact]
    public async Task TheSchoolPage_LinksEachOpenProblemsRuleId_ToItsPage()
    {
        var code = await db.ScalarAsync<string>("""
            SELECT school_code FROM quality.finding WHERE round_id = @r AND status = 'open' AND school_code IS NOT NULL
            GROUP BY 1 ORDER BY count(DISTINCT rule_id) DESC, 1 LIMIT 1
            """, ("r", fixture.Run.RoundId));
        var open = (await db.ScalarAsync<string>(
            "SELECT string_agg(DISTINCT rule_id, ',') FROM quality.finding WHERE round_id = @r AND school_code = @s AND status = 'open'",
            ("r", fixture.Run.RoundId), ("s", code))).Split(',');
        Assert.True(open.Length >= 2, "the school has too few kinds of problem to show links");

        using var school = await SignedInAsync("help-school-page", AccountRole.School, code);
        var page = await PageAsync(school, "/school");
        var linked = RuleLinks(page).Distinct().ToArray();
        Assert.Equal(open.Order(StringComparer.Ordinal), linked.Order(StringComparer.Ordinal));
        var first = RuleCatalog.All.Single(r => r.Id == linked[0]);
        Assert.Equal(first.FixZh, Section(await PageAsync(school, "/help/rules/" + linked[0]), "fix"));
    }

    [Fact]
    public async Task AReceipt_LinksEachStillFailingRuleId_ToItsPage()
    {
        // The school with the most answers in the generated province, edited by a sloppy registrar (every row answered, a
        // few with a value that breaks a rule in another field) with the first seed that makes such a mistake: still failing.
        var answers = RegistrarAnswers.Load(fixture.Province.RegistrarAnswersPath);
        var schools = (await db.ScalarAsync<string>("SELECT string_agg(school_code, ',') FROM exchange.worksheet WHERE round_id = @r",
            ("r", fixture.Run.RoundId))).Split(',');
        var code = schools.MaxBy(s => answers.GetValueOrDefault(s)?.Count ?? 0)!;
        var worksheetId = await db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s",
            ("r", fixture.Run.RoundId), ("s", code));
        using var school = await SignedInAsync("help-receipt", AccountRole.School, code);
        var bytes = await (await school.GetAsync($"/school/worksheets/{worksheetId}")).Content.ReadAsByteArrayAsync();
        var edited = Enumerable.Range(1, 40)
            .Select(seed => RegistrarSimulator.Edit(bytes, answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Sloppy, seed))
            .First(e => e.NewMistakes.Count > 0);
        var upload = await school.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook);
        Assert.Equal(HttpStatusCode.Redirect, upload.StatusCode);
        var receiptPath = upload.Headers.Location!.OriginalString;
        var returnId = long.Parse(receiptPath[(receiptPath.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var failing = await db.ScalarAsync<string?>("""
            SELECT string_agg(DISTINCT p->>'RuleId', ',')
            FROM   exchange.worksheet_return t, jsonb_array_elements(t.receipt->'Rows') r, jsonb_array_elements(r->'StillFailing') p
            WHERE  t.return_id = @id
            """, ("id", returnId));
        Assert.False(string.IsNullOrEmpty(failing), "the receipt has no still-failing row to link");

        var receipt = await PageAsync(school, receiptPath);
        Assert.Equal(failing.Split(',').Order(StringComparer.Ordinal), RuleLinks(receipt).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TheDataTeamsExplanations_ItsConsole_AndTheManagersRuleTrends_LinkEachRuleId_ToItsPage()
    {
        // A school's diligent return leaves explanations waiting for review: the school (not the one with the most answers,
        // which another test returns) with the most confirmations among its answers.
        var answers = RegistrarAnswers.Load(fixture.Province.RegistrarAnswersPath);
        var issuedTo = (await db.ScalarAsync<string>("SELECT string_agg(school_code, ',') FROM exchange.worksheet WHERE round_id = @r",
            ("r", fixture.Run.RoundId))).Split(',');
        var busiest = issuedTo.MaxBy(s => answers.GetValueOrDefault(s)?.Count ?? 0);
        var code = issuedTo.Where(s => s != busiest)
            .MaxBy(s => answers.GetValueOrDefault(s)?.Count(a => a.Action == StudentDataQuality.Worksheets.WorksheetAction.Confirmed) ?? 0)!;
        using var school = await SignedInAsync("help-explaining", AccountRole.School, code);
        var worksheetId = await db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s",
            ("r", fixture.Run.RoundId), ("s", code));
        var issued = await (await school.GetAsync($"/school/worksheets/{worksheetId}")).Content.ReadAsByteArrayAsync();
        var edited = RegistrarSimulator.Edit(issued, answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);
        Assert.Equal(HttpStatusCode.Redirect, (await school.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook)).StatusCode);
        var explained = (await db.ScalarAsync<string?>("""
            SELECT string_agg(DISTINCT split_part(f, '|', 1), ',') FROM exchange.explanation e, unnest(e.fingerprints) f WHERE e.school_code = @s AND e.status = 'pending'
            """, ("s", code)))?.Split(',') ?? [];
        Assert.NotEmpty(explained);

        using var team = await SignedInAsync("help-team", AccountRole.DataTeam);
        var list = await PageAsync(team, "/team/explanations?school=" + code);
        Assert.Equal(explained.Order(StringComparer.Ordinal), RuleLinks(list).Distinct().Order(StringComparer.Ordinal));
        var console = await PageAsync(team, "/team");
        Assert.Superset(explained.ToHashSet(), RuleLinks(console).ToHashSet());

        // The manager's table of the round's rules: every row's rule id is a link to its page.
        using var manager = await SignedInAsync("help-trends", AccountRole.Manager);
        var trends = await PageAsync(manager, "/trends");
        var found = (await db.ScalarAsync<string>("SELECT string_agg(DISTINCT rule_id, ',') FROM quality.finding WHERE round_id = @r",
            ("r", fixture.Run.RoundId))).Split(',');
        Assert.Superset(found.ToHashSet(), RuleLinks(trends).ToHashSet());
    }

    private async Task<PortalBrowser> SignedInAsync(string name, AccountRole role, string? school = null)
    {
        var browser = new PortalBrowser(fixture.Site);
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, role, school));
        return browser;
    }

    private async Task<string> FirstSchoolAsync() =>
        await db.ScalarAsync<string>("SELECT min(school_code) FROM exchange.worksheet WHERE round_id = @r", ("r", fixture.Run.RoundId));

    private static async Task<string> PageAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{path}: {answer.StatusCode}");
        return await answer.Content.ReadAsStringAsync();
    }

    /// <summary>The rule ids the page links to their pages.</summary>
    private static List<string> RuleLinks(string html) =>
        RuleLink().Matches(html).Select(m => Uri.UnescapeDataString(WebUtility.HtmlDecode(m.Groups[1].Value))).ToList();

    /// <summary>The text of the page's paragraph of this id, decoded; null when the page has none.</summary>
    private static string? Section(string html, string id)
    {
        var m = Regex.Match(html, $"""<p id="{id}">(.*?)</p>""", RegexOptions.Singleline);
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value) : null;
    }

    [GeneratedRegex("href=\"/help/rules/([^\"]+)\"")]
    private static partial Regex RuleLink();

    [GeneratedRegex("""<tr><td>(.*?)</td><td>(.*?)</td></tr>""", RegexOptions.Singleline)]
    private static partial Regex ExampleRow();
}
