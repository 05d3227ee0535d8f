using System.Net;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Guides;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The guides per role as pages (docs/portal.md, "Help: the guides"), over HTTP: /help lists the five guides (the reader's
/// role's first), the rule catalogue and the common mistakes; each guide shows, in Chinese and after the switch in English,
/// the title and numbered steps of its source in docs/guides; its screenshots load as PNGs; an unknown guide or image is
/// "not found"; a manager and a class teacher read them; nobody signed out does.
/// </summary>
public sealed partial class GuidePagesTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;

    [Fact]
    public async Task Help_ListsTheFiveGuides_TheReadersOwnFirst_WithTheRuleCatalogueAndTheCommonMistakes()
    {
        using var school = await SignedInAsync("guides-school", AccountRole.School, await FirstSchoolAsync());
        var page = await PageAsync(school, "/help");
        Assert.Equal(["school", "district", "class-teacher", "data-team", "manager"], GuideLinks(page));
        Assert.Contains("href=\"/help/rules\"", page, StringComparison.Ordinal);
        Assert.Contains("href=\"/help/mistakes\"", page, StringComparison.Ordinal);
        foreach (var (role, english, guide) in GuideScreenshots.All().Where(g => !g.English))
        {
            Assert.Contains($"<a href=\"/help/guides/{role}\">{WebUtility.HtmlEncode(guide.Title)}</a>", page, StringComparison.Ordinal);
            Assert.Contains($"href=\"/help/guides/{role}.pdf\"", page, StringComparison.Ordinal);
        }

        using var manager = await SignedInAsync("guides-manager", AccountRole.Manager);
        Assert.Equal(["manager", "school", "district", "class-teacher", "data-team"], GuideLinks(await PageAsync(manager, "/help")));
        // Every signed-in page's header links to the help (the manager's trends here).
        Assert.Contains("<a href=\"/help\">帮助</a>", await PageAsync(manager, "/trends"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryGuide_ShowsItsSourcesTitleAndNumberedSteps_InChinese_ThenInEnglish()
    {
        using var team = await SignedInAsync("guides-team", AccountRole.DataTeam);
        foreach (var english in new[] { false, true })
        {
            if (english)
            {
                Assert.Equal(HttpStatusCode.Redirect, (await team.GetAsync("/lang/en")).StatusCode);
            }

            foreach (var (role, _, guide) in GuideScreenshots.All().Where(g => g.English == english))
            {
                var page = await PageAsync(team, "/help/guides/" + role);
                Assert.Equal(guide.Title, WebUtility.HtmlDecode(Regex.Match(page, "<h1>(.*?)</h1>").Groups[1].Value));
                var steps = Steps().Matches(page).SelectMany(ol => Item().Matches(ol.Groups[1].Value))
                    .Select(li => WebUtility.HtmlDecode(Tag().Replace(li.Groups[1].Value, "")).Trim()).ToList();
                Assert.Equal(guide.Steps, steps);
                Assert.Equal(guide.Images.Select(i => "/help/guides/img/" + i), Image().Matches(page).Select(m => m.Groups[1].Value));
                Assert.Contains($"href=\"/help/guides/{role}.pdf\"", page, StringComparison.Ordinal);
                // Each guide points to the rule catalogue and to the common mistakes.
                Assert.Contains("<a href=\"/help/rules\">", page, StringComparison.Ordinal);
                Assert.Contains("<a href=\"/help/mistakes\">", page, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task TheScreenshotsLoadAsPngs_AndAnyOtherNameOrGuide_IsNotFound()
    {
        using var school = await SignedInAsync("guides-images", AccountRole.School, await FirstSchoolAsync());
        foreach (var name in GuideScreenshots.All().SelectMany(g => g.Guide.Images).Distinct())
        {
            var answer = await school.GetAsync("/help/guides/img/" + name);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("image/png", answer.Content.Headers.ContentType?.MediaType);
            Assert.True(GuideScreenshots.IsPng(await answer.Content.ReadAsByteArrayAsync()), name);
        }

        foreach (var path in new[]
        {
            "/help/guides/img/nothing.png", "/help/guides/img/school.zh.md", "/help/guides/img/..%2Fschool.zh.md", "/help/guides/img/..%2F..%2FPortal.cs",
            "/help/guides/img/SCHOOL-STATUS.png", "/help/guides/nobody", "/help/guides/nobody.pdf", "/help/guides/School", "/help/guides/school.PDF",
            "/help/guides/school.zh.md", "/help/guides/..%2F..%2Fteam", "/help/guides/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        })
        {
            var answer = await school.GetAsync(path);
            Assert.True(answer.StatusCode == HttpStatusCode.NotFound, $"{path}: {answer.StatusCode}");
            Assert.DoesNotContain("<script>", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var nobody = new PortalBrowser(fixture.Site);
        foreach (var path in new[] { "/help", "/help/guides/school", "/help/guides/school.pdf", "/help/guides/img/" + GuideScreenshots.Names[0] })
        {
            var answer = await nobody.GetAsync(path);
            Assert.NotEqual(HttpStatusCode.OK, answer.StatusCode);
        }
    }

    [Fact]
    public async Task AManager_AndAClassTeacher_ReadTheGuides_AndTheirPdfs()
    {
        using var manager = await SignedInAsync("guides-manager-reads", AccountRole.Manager);
        var title = GuideScreenshots.All().Single(g => g.Role == "manager" && !g.English).Guide.Title;
        Assert.Contains(WebUtility.HtmlEncode(title), await PageAsync(manager, "/help/guides/manager"), StringComparison.Ordinal);
        var pdf = await manager.GetAsync("/help/guides/manager.pdf");
        Assert.Equal(HttpStatusCode.OK, pdf.StatusCode);
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType?.MediaType);
        Assert.Contains(title, Poppler.Text(await pdf.Content.ReadAsByteArrayAsync()), StringComparison.Ordinal);

        var picked = await db.ScalarAsync<string>(
            "SELECT school_code || '|' || grade || '|' || class_name FROM registry.record WHERE round_id = @r AND is_current AND grade IS NOT NULL AND class_name IS NOT NULL ORDER BY 1 LIMIT 1",
            ("r", fixture.Run.RoundId));
        var parts = picked.Split('|');
        await db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, @g, @c, 'test')",
            ("a", "guides-teacher"), ("s", parts[0]), ("g", new[] { short.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) }), ("c", new[] { parts[2] }));
        var password = Passwords.OneTime();
        await new SignIns(db.DataSource).SetPasswordAsync("guides-teacher", Passwords.Hash("guides-teacher", password), oneTime: true, "test");
        using var teacher = new PortalBrowser(fixture.Site);
        await teacher.SignInFirstTimeAsync("guides-teacher", password);
        Assert.Equal("class-teacher", GuideLinks(await PageAsync(teacher, "/help"))[0]);
        var guide = GuideScreenshots.All().Single(g => g.Role == "class-teacher" && !g.English).Guide;
        Assert.Contains(WebUtility.HtmlEncode(guide.Steps[0]), await PageAsync(teacher, "/help/guides/class-teacher"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await teacher.GetAsync("/help/guides/class-teacher.pdf")).StatusCode);
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

    /// <summary>The guides /help links to, in its order (the list of guides only).</summary>
    private static List<string> GuideLinks(string html) =>
        GuideLink().Matches(Regex.Match(html, """<ul id="guides">(.*?)</ul>""", RegexOptions.Singleline).Groups[1].Value).Select(m => m.Groups[1].Value).ToList();

    [GeneratedRegex("<a href=\"/help/guides/([a-z-]+)\">")]
    private static partial Regex GuideLink();

    [GeneratedRegex("""<ol class="steps">(.*?)</ol>""", RegexOptions.Singleline)]
    private static partial Regex Steps();

    [GeneratedRegex("<li>(.*?)</li>", RegexOptions.Singleline)]
    private static partial Regex Item();

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex Tag();

    [GeneratedRegex("<img class=\"chart\" src=\"([^\"]+)\"")]
    private static partial Regex Image();
}
