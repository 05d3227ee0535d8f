using System.Net;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Data.Training;
using StudentDataQuality.Exports;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Two portals on two test databases, each with its round issued: one made a practice database (its marker row, as
/// `sdq training create` writes it, and one trainee's accounts), one real. Shared by the practice tests of the portal and
/// of its files (docs/training.md).
/// </summary>
public sealed class PracticeSites : IAsyncLifetime
{
    public PortalRound Practice { get; } = new() { Practice = true };
    public PortalRound Real { get; } = new();

    /// <summary>
    /// Trainee 1's school (the last of the round: the files' tests return the first school with classes) and district, and its
    /// school account's one-time password.
    /// </summary>
    public string TraineeSchool { get; private set; } = "";
    public string TraineeDistrict { get; private set; } = "";
    public const string TraineeSchoolAccount = "practice-school-1", TraineeDistrictAccount = "practice-district-1";
    public string TraineeSchoolPassword { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Practice.InitializeAsync(), Real.InitializeAsync());
        var db = Practice.Database;
        var row = await db.ScalarAsync<string>("""
            SELECT w.school_code || '|' || d.district_code FROM exchange.worksheet w JOIN access.school_district d USING (school_code)
            WHERE  w.round_id = @r ORDER BY w.school_code DESC LIMIT 1
            """, ("r", Practice.Run.RoundId));
        (TraineeSchool, TraineeDistrict) = row.Split('|') is [var s, var d] ? (s, d) : default;
        TraineeSchoolPassword = await PortalBrowser.AccountAsync(db.DataSource, TraineeSchoolAccount, AccountRole.School, TraineeSchool);
        await PortalBrowser.AccountAsync(db.DataSource, TraineeDistrictAccount, AccountRole.District, district: TraineeDistrict);
        await db.ExecuteAsync("""
            INSERT INTO training.trainee (trainee_no, school_code, district_code, school_account, district_account)
            VALUES (1, @s, @d, @sa, @da)
            """, ("s", TraineeSchool), ("d", TraineeDistrict), ("sa", TraineeSchoolAccount), ("da", TraineeDistrictAccount));
    }

    public async Task DisposeAsync()
    {
        await Practice.DisposeAsync();
        await Real.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PracticeCollection : ICollectionFixture<PracticeSites>
{
    public const string Name = "practice portals";
}

/// <summary>
/// The practice round in the portal (docs/training.md): every page of a practice database, signed in or not, starts
/// with the banner "练习 / Practice" and a line in the reader's language, and its tab title starts with the label; a real
/// database shows none of it. The trainer's view lists each trainee's progress (404 in a real database, refused to a school),
/// and the changes for the registry never leave a practice database, from the portal or through the register.
/// </summary>
[Collection(PracticeCollection.Name)]
public sealed class PracticePortalTests(PracticeSites sites)
{
    private const string Banner = "id=\"practice-banner\"";
    private const string TitleStart = "<title>练习 / Practice · ";
    private const string ChineseLine = "这里的一切都不是真实数据";
    private const string EnglishLine = "nothing here is real, nothing here counts";

    private static async Task<string> PageAsync(PortalBrowser browser, string path, HttpStatusCode status)
    {
        var answer = await browser.GetAsync(path);
        Assert.Equal(status, answer.StatusCode);
        return await answer.Content.ReadAsStringAsync();
    }

    private static void AssertPractice(string page, string line)
    {
        Assert.Contains(Banner, page, StringComparison.Ordinal);
        Assert.Contains(Practice.Label, page, StringComparison.Ordinal);
        Assert.Contains(line, page, StringComparison.Ordinal);
        Assert.Contains(TitleStart, page, StringComparison.Ordinal);
        // At the very top: the banner comes before anything else of the body (the language switch, the account's bar).
        var body = page.IndexOf("<body>", StringComparison.Ordinal);
        Assert.True(body >= 0);
        Assert.Equal(body, page.LastIndexOf("<body>", page.IndexOf(Banner, StringComparison.Ordinal), StringComparison.Ordinal));
        Assert.True(page.IndexOf(Banner, StringComparison.Ordinal) < page.IndexOf("class=\"lang\"", StringComparison.Ordinal));
    }

    private static void AssertReal(string page)
    {
        Assert.DoesNotContain(Banner, page, StringComparison.Ordinal);
        Assert.DoesNotContain(Practice.Label, page, StringComparison.Ordinal);
        Assert.DoesNotContain(ChineseLine, page, StringComparison.Ordinal);
        Assert.DoesNotContain(EnglishLine, page, StringComparison.Ordinal);
    }

    private static async Task<PortalBrowser> SignedInAsync(PortalRound site, string name, AccountRole role, string? school = null, string? language = null)
    {
        var browser = new PortalBrowser(site.Site, language);
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(site.Database.DataSource, name, role, school));
        return browser;
    }

    [Fact]
    public async Task APracticeDatabase_EveryPage_SignedInOrNot_StartsWithTheBanner_AndTheTitleWithTheLabel_InBothLanguages()
    {
        // Not signed in: the sign-in page, and a message page, in Chinese and in English (the label in both languages at once).
        using var visitor = new PortalBrowser(sites.Practice.Site);
        AssertPractice(await PageAsync(visitor, "/login", HttpStatusCode.OK), ChineseLine);
        AssertPractice(await PageAsync(visitor, "/denied", HttpStatusCode.Forbidden), ChineseLine);
        using var english = new PortalBrowser(sites.Practice.Site, "en");
        var englishLogin = await PageAsync(english, "/login", HttpStatusCode.OK);
        AssertPractice(englishLogin, EnglishLine);
        Assert.DoesNotContain(ChineseLine, englishLogin, StringComparison.Ordinal);

        // A school's page, and a page that is not there (a message page, signed in).
        var school = await sites.Practice.Database.ScalarAsync<string>(
            "SELECT school_code FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code DESC LIMIT 1", ("r", sites.Practice.Run.RoundId));
        using var registrar = await SignedInAsync(sites.Practice, "practice-banner-school", AccountRole.School, school);
        AssertPractice(await PageAsync(registrar, "/school", HttpStatusCode.OK), ChineseLine);
        AssertPractice(await PageAsync(registrar, "/help/rules/no-such-rule", HttpStatusCode.NotFound), ChineseLine);

        // The data team's console (in English), with its link to the trainer's view.
        using var team = await SignedInAsync(sites.Practice, "practice-banner-team", AccountRole.DataTeam, language: "en");
        var console = await PageAsync(team, "/team", HttpStatusCode.OK);
        AssertPractice(console, EnglishLine);
        Assert.Contains("href=\"/team/practice\"", console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARealDatabase_ShowsNoBanner_NoLabel_AndNoTrainersView()
    {
        using var visitor = new PortalBrowser(sites.Real.Site);
        AssertReal(await PageAsync(visitor, "/login", HttpStatusCode.OK));
        AssertReal(await PageAsync(visitor, "/denied", HttpStatusCode.Forbidden));
        var school = await sites.Real.Database.ScalarAsync<string>(
            "SELECT school_code FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code LIMIT 1", ("r", sites.Real.Run.RoundId));
        using var registrar = await SignedInAsync(sites.Real, "real-banner-school", AccountRole.School, school);
        AssertReal(await PageAsync(registrar, "/school", HttpStatusCode.OK));
        using var team = await SignedInAsync(sites.Real, "real-banner-team", AccountRole.DataTeam);
        var console = await PageAsync(team, "/team", HttpStatusCode.OK);
        AssertReal(console);
        Assert.DoesNotContain("/team/practice", console, StringComparison.Ordinal);
        AssertReal(await PageAsync(team, "/team/practice", HttpStatusCode.NotFound));
    }

    [Fact]
    public async Task TheTrainersView_ListsEachTraineesProgress_AfterADownload_AndIsTheDataTeamsOnly()
    {
        using var trainee = new PortalBrowser(sites.Practice.Site);
        await trainee.SignInFirstTimeAsync(PracticeSites.TraineeSchoolAccount, sites.TraineeSchoolPassword);

        // A school (the trainee itself) is sent away from the trainer's view.
        var refused = await trainee.GetAsync("/team/practice");
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.Equal("/denied", refused.Headers.Location?.AbsolutePath);

        using var trainer = await SignedInAsync(sites.Practice, "practice-trainer", AccountRole.DataTeam);
        var before = await PageAsync(trainer, "/team/practice", HttpStatusCode.OK);
        Assert.Contains(sites.TraineeSchool, before, StringComparison.Ordinal);
        Assert.Contains(PracticeSites.TraineeSchoolAccount, before, StringComparison.Ordinal);
        Assert.Contains(PracticeSites.TraineeDistrictAccount, before, StringComparison.Ordinal);
        var (openErrors, openWarnings) = await sites.Practice.Database.ScalarAsync<string>("""
            SELECT count(*) FILTER (WHERE severity = 'error') || '|' || count(*) FILTER (WHERE severity = 'warning')
            FROM quality.finding WHERE round_id = @r AND school_code = @s AND status = 'open'
            """, ("r", sites.Practice.Run.RoundId), ("s", sites.TraineeSchool)) is var counts && counts.Split('|') is [var e, var w] ? (e, w) : default;
        Assert.Equal(["1", sites.TraineeSchool, "否", "0", "否", openErrors, openWarnings], TraineeRow(before, 1).Where((_, i) => i != 2));
        Assert.Contains(PracticeSites.TraineeSchoolAccount, TraineeRow(before, 1)[2], StringComparison.Ordinal);

        // The trainee downloads its worksheet: the trainer sees it.
        var worksheet = await sites.Practice.Database.ScalarAsync<Guid>(
            "SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s LIMIT 1", ("r", sites.Practice.Run.RoundId), ("s", sites.TraineeSchool));
        Assert.Equal(HttpStatusCode.OK, (await trainee.GetAsync($"/school/worksheets/{worksheet}")).StatusCode);
        var after = await PageAsync(trainer, "/team/practice", HttpStatusCode.OK);
        Assert.Equal(["1", sites.TraineeSchool, "是", "0", "否", openErrors, openWarnings], TraineeRow(after, 1).Where((_, i) => i != 2));
        Assert.Contains("id=\"totals\"", after, StringComparison.Ordinal);
        // No student on it: no ID number (accounts and school codes only).
        Assert.DoesNotMatch(@"\d{17}[\dXx]", after);
    }

    /// <summary>A trainee's row of the trainer's view, as the texts of its cells (tags left out).</summary>
    private static IReadOnlyList<string> TraineeRow(string html, int number)
    {
        var row = System.Text.RegularExpressions.Regex.Match(html, $"<tr id=\"trainee-{number}\">(.*?)</tr>", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.True(row.Success, $"trainee {number} is not on the page");
        return [.. System.Text.RegularExpressions.Regex.Matches(row.Groups[1].Value, "<td[^>]*>(.*?)</td>", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Replace(m.Groups[1].Value, "<[^>]+>", " ")).Trim())];
    }

    [Fact]
    public async Task TheChangesForTheRegistry_NeverLeaveAPracticeDatabase_FromThePortalOrTheRegister()
    {
        var db = sites.Practice.Database;
        using var team = await SignedInAsync(sites.Practice, "practice-changes-team", AccountRole.DataTeam);
        var answer = await team.PostAsync("/exports", "/exports", new()
        {
            ["kind"] = ExportKinds.Name(ExportKind.Changes), ["round"] = "portal", ["scope"] = "province", ["purpose"] = "练习：试交学籍更正",
        });
        Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        Assert.Contains("练习中的更正永远不会交给学籍系统", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM export.request WHERE kind = 'changes'"));

        // The command line calls the same register: refused there too, on record, and nothing made.
        var register = new ExportRegister(db.DataSource);
        Assert.True(await register.IsPracticeAsync());
        var made = false;
        var error = await Assert.ThrowsAsync<UserErrorException>(() => register.TakeAsync(new Account("cli:trainer", AccountRole.DataTeam),
            new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.Province, sites.Practice.Run.RoundId), "cli",
            (_, _) => { made = true; return Task.FromResult(new ExportContent("changes.csv", 0, [], [])); }));
        Assert.Equal("Practice.NoRegistryChanges", error.Text!.Code);
        Assert.False(made);
        Assert.Equal(2L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'export.refused' AND details->>'reason' = 'practice' AND details->>'kind' = 'changes'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE kind = 'changes'"));

        // A real database's register is not a practice one.
        Assert.False(await new ExportRegister(sites.Real.Database.DataSource).IsPracticeAsync());
    }
}
