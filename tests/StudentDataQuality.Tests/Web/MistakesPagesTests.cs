using System.Net;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Tests.Data;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The common mistakes page (/help/mistakes) over HTTP, on a round run by the jobs in which a few schools returned: in
/// Chinese and after the language switch in English, each list's rule ids link to their rule pages with the counts the test
/// works out itself from the findings; a district account sees its own district's counts, and its <c>?district=</c> is
/// ignored; the data team may choose a district, and a code that is not one gets a clear "not found" page; a manager, a
/// school and a class teacher read it, the school's page naming no school.
/// </summary>
public sealed partial class MistakesPagesTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;

    [Fact]
    public async Task ThePage_ListsTheProvincesRules_LinkingToTheirPages_InChinese_ThenInEnglish()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        using var team = await SignedInAsync("mistakes-team", AccountRole.DataTeam);

        var chinese = await PageAsync(team, "/help/mistakes");
        Assert.Contains("<h1>常见错误</h1>", chinese, StringComparison.Ordinal);
        Assert.Contains("portal", Section(chinese, "round")!, StringComparison.Ordinal);
        Assert.Equal(MistakeFacts.MostFound(facts), Rows(chinese, "most-found"));
        Assert.Equal(MistakeFacts.StillOpen(facts).Select(r => (r.RuleId, r.Count)), Rows(chinese, "still-open"));
        Assert.False(string.IsNullOrWhiteSpace(Section(chinese, "still-open-definition")));
        var text = WebUtility.HtmlDecode(chinese);
        foreach (var (ruleId, _) in Rows(chinese, "most-found"))
        {
            var rule = RuleCatalog.All.Single(r => r.Id == ruleId);
            Assert.Contains(rule.TitleZh, text, StringComparison.Ordinal);
            Assert.Contains(rule.FixZh, text, StringComparison.Ordinal);
        }

        // A rule's id is a link that opens its page.
        var first = Rows(chinese, "most-found")[0].RuleId;
        Assert.Contains($"<a href=\"/help/rules/{Uri.EscapeDataString(first)}\">{first}</a>", chinese, StringComparison.Ordinal);
        Assert.Contains(RuleCatalog.All.Single(r => r.Id == first).FixZh, WebUtility.HtmlDecode(await PageAsync(team, "/help/rules/" + first)),
            StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Redirect, (await team.GetAsync("/lang/en")).StatusCode);
        var english = await PageAsync(team, "/help/mistakes");
        Assert.Contains("<h1>Common mistakes</h1>", english, StringComparison.Ordinal);
        Assert.Equal(MistakeFacts.MostFound(facts), Rows(english, "most-found"));
        var englishText = WebUtility.HtmlDecode(english);
        foreach (var (ruleId, _) in Rows(english, "most-found"))
        {
            var rule = RuleCatalog.All.Single(r => r.Id == ruleId);
            Assert.Contains(rule.TitleEn, englishText, StringComparison.Ordinal);
            Assert.Contains(rule.FixEn, englishText, StringComparison.Ordinal);
            Assert.DoesNotContain(rule.TitleZh, englishText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ADistrict_SeesItsOwnCounts_AndItsChoiceOfAnotherIsIgnored()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        var districts = facts.Where(f => f.District is not null).Select(f => f.District!).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(districts.Count >= 2, "the generated province has fewer than two districts with problems");
        var (own, other) = (districts[0], districts[1]);
        var expected = MistakeFacts.MostFound(facts.Where(f => f.District == own));
        Assert.NotEqual(expected, MistakeFacts.MostFound(facts.Where(f => f.District == other)));

        var account = await PortalBrowser.AccountAsync(db.DataSource, "mistakes-district", AccountRole.District, district: own);
        using var district = new PortalBrowser(fixture.Site);
        await district.SignInFirstTimeAsync("mistakes-district", account);
        var page = await PageAsync(district, "/help/mistakes");
        Assert.Equal(expected, Rows(page, "most-found"));
        Assert.Equal(MistakeFacts.StillOpen(facts.Where(f => f.District == own)).Select(r => (r.RuleId, r.Count)), Rows(page, "still-open"));
        Assert.Contains(own, Section(page, "scope")!, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"district\"", page, StringComparison.Ordinal);

        var asked = await PageAsync(district, "/help/mistakes?district=" + Uri.EscapeDataString(other));
        Assert.Equal(expected, Rows(asked, "most-found"));
        Assert.DoesNotContain(other, Section(asked, "scope")!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDataTeam_ChoosesADistrict_AndABadCodeGetsAClearPage()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        var chosen = facts.Where(f => f.District is not null).Select(f => f.District!).Order(StringComparer.Ordinal).First();
        using var team = await SignedInAsync("mistakes-team-choice", AccountRole.DataTeam);
        var page = await PageAsync(team, "/help/mistakes?district=" + Uri.EscapeDataString(chosen));
        Assert.Equal(MistakeFacts.MostFound(facts.Where(f => f.District == chosen)), Rows(page, "most-found"));
        Assert.Contains($"<option value=\"{chosen}\" selected", page, StringComparison.Ordinal);

        foreach (var bad in new[] { "999999", "<script>alert(1)</script>" })
        {
            var answer = await team.GetAsync("/help/mistakes?district=" + Uri.EscapeDataString(bad));
            Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
            var html = await answer.Content.ReadAsStringAsync();
            Assert.Contains("没有这个区县", html, StringComparison.Ordinal);
            Assert.Contains("从列表中选择区县", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AManager_ASchool_AndAClassTeacher_ReadIt_TheSchoolsPageNamingNoSchool()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        using var manager = await SignedInAsync("mistakes-manager", AccountRole.Manager);
        Assert.Equal(MistakeFacts.MostFound(facts), Rows(await PageAsync(manager, "/help/mistakes"), "most-found"));

        // A school and a class teacher read the province's (never their district's, from which their own could be taken away).
        var school = facts.First(f => f.District is not null);
        var expected = MistakeFacts.MostFound(facts);
        using var registrar = await SignedInAsync("mistakes-school", AccountRole.School, school.School);
        var page = await PageAsync(registrar, "/help/mistakes");
        Assert.Equal(expected, Rows(page, "most-found"));
        foreach (var code in facts.Select(f => f.School).Distinct())
        {
            Assert.DoesNotContain(code, page, StringComparison.Ordinal);
        }

        // A class teacher of a class of that school, made as `sdq class-teacher` makes one.
        var picked = await db.ScalarAsync<string>("""
            SELECT grade || '|' || class_name FROM registry.record
            WHERE  round_id = @r AND is_current AND school_code = @s AND grade IS NOT NULL AND class_name IS NOT NULL ORDER BY 1 LIMIT 1
            """, ("r", fixture.Run.RoundId), ("s", school.School));
        var parts = picked.Split('|');
        await db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, @g, @c, 'test')", ("a", "mistakes-teacher"), ("s", school.School),
            ("g", new[] { short.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) }), ("c", new[] { parts[1] }));
        var password = Passwords.OneTime();
        await new SignIns(db.DataSource).SetPasswordAsync("mistakes-teacher", Passwords.Hash("mistakes-teacher", password), oneTime: true, "test");
        using var teacher = new PortalBrowser(fixture.Site);
        await teacher.SignInFirstTimeAsync("mistakes-teacher", password);
        Assert.Equal(expected, Rows(await PageAsync(teacher, "/help/mistakes"), "most-found"));
    }

    private async Task<PortalBrowser> SignedInAsync(string name, AccountRole role, string? school = null)
    {
        var browser = new PortalBrowser(fixture.Site);
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, role, school));
        return browser;
    }

    private static async Task<string> PageAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{path}: {answer.StatusCode}");
        return await answer.Content.ReadAsStringAsync();
    }

    /// <summary>The rows of the page's table of this id: each rule id (from its link to its page) and the first count after it.</summary>
    private static List<(string RuleId, int Count)> Rows(string html, string table)
    {
        var m = Regex.Match(html, $"""<table id="{table}">(.*?)</table>""", RegexOptions.Singleline);
        return m.Success
            ? Row().Matches(m.Groups[1].Value)
                .Select(r => (Uri.UnescapeDataString(WebUtility.HtmlDecode(r.Groups["id"].Value)), int.Parse(r.Groups["count"].Value,
                    System.Globalization.CultureInfo.InvariantCulture)))
                .ToList()
            : [];
    }

    /// <summary>The text of the page's paragraph of this id, decoded; null when the page has none.</summary>
    private static string? Section(string html, string id)
    {
        var m = Regex.Match(html, $"""<p id="{id}">(.*?)</p>""", RegexOptions.Singleline);
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value) : null;
    }

    [GeneratedRegex("""<a href="/help/rules/(?<id>[^"]+)">.*?<td class="number">(?<count>\d+)</td>""", RegexOptions.Singleline)]
    private static partial Regex Row();
}
