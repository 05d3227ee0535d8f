using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Quality;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Three rounds of one generated province staged as the case tests stage them (cp-1, cp-2, cp-3, checks after each), and a
/// portal on that database (as `sdq web` runs it, on the portal's role). The database's own reading of the cases
/// (<see cref="Cases"/>) is what each page is compared with.
/// </summary>
public sealed class CasePortal : IAsyncLifetime
{
    private readonly TempFolder _temp = new();
    private WebApplication _app = null!;

    public DatabaseFixture Database { get; } = new();

    public Uri Site { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        await CaseRounds.StageAsync(Database.DataSource, _temp.Path, "cp", seed: 21, fix: true);
        _app = Portal.Build(new PortalSettings(await Database.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(Database), IngestScenario.Key,
            "http://127.0.0.1:0")
        {
            Logging = new ConsoleErrors(), Worksheets = Path.Combine(_temp.Path, "worksheets"),
        });
        await _app.StartAsync();
        Site = new Uri(_app.Urls.First());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await Database.DisposeAsync();
        _temp.Dispose();
    }
}

/// <summary>
/// The cases pages: a district office sees its own district's cases only (student numbers masked, never whole; another
/// district asked for in the address is ignored; another district's case history is "not found"), the data team the
/// province's, filtered by district, age and owner; rows oldest first; the summary's figures are the database's; the
/// district page and the console show their escalations with the link to the cases; a school has no cases page; a case's
/// history shows its three rounds.
/// </summary>
public sealed partial class CasePagesTests(CasePortal portal) : IClassFixture<CasePortal>
{
    private static readonly Account Team = Account.Operator("test");
    private readonly DatabaseFixture db = portal.Database;
    private readonly Cases cases = new(portal.Database.DataSource);

    [Fact]
    public async Task ADistrictOffice_SeesOnlyItsDistrictsCases_Masked_AndAnotherDistrictAskedForIsIgnored()
    {
        var (district, other) = await TwoDistrictsAsync();
        var office = new Account("district-cases", AccountRole.District, DistrictCode: district);
        using var browser = await SignedInAsync(office.Name, AccountRole.District, district: district);

        var expected = await cases.ListAsync(office, "cp-3", new CaseFilter(), 0, CasePages.PageSize);
        Assert.NotEmpty(expected.Rows);
        var html = await PageAsync(browser, "/cases");
        var rows = Rows(html);
        Assert.Equal(expected.Rows.Select(c => c.CaseId), rows.Select(r => r.CaseId));
        var schools = await SchoolsOfAsync(district);
        Assert.All(rows, r => Assert.Contains(r.School, schools));

        // Every student number masked as the portal masks it for a district; none whole.
        Assert.All(expected.Rows.Where(c => !string.IsNullOrEmpty(c.StudentNo)), c =>
        {
            Assert.DoesNotContain(c.StudentNo!, html, StringComparison.Ordinal);
            Assert.Contains(WebUtility.HtmlEncode(Masking.StudentNo(c.StudentNo)!), html, StringComparison.Ordinal);
        });
        Assert.Equal(expected.Rows.Select(c => Masking.StudentNo(c.StudentNo) ?? ""), rows.Select(r => WebUtility.HtmlDecode(r.Student)));

        // Another district in the address: its own cases still, and nothing of the other district's.
        var asked = Rows(await PageAsync(browser, "/cases?district=" + other));
        Assert.Equal(rows.Select(r => r.CaseId), asked.Select(r => r.CaseId));
        var otherCase = (await cases.ListAsync(Team, "cp-3", new CaseFilter(District: other), 0, 1)).Rows.Single();
        Assert.DoesNotContain(asked, r => r.CaseId == otherCase.CaseId);

        // Its summary is its district's, as the database counts it.
        AssertSummary(await cases.SummaryAsync(office, "cp-3"), html);

        // Another district's case history answers "not found"; its own case's history opens.
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/cases/" + otherCase.CaseId)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/cases/" + rows[0].CaseId)).StatusCode);

        // The reads are on record as the office's.
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'cases.list' AND actor = 'district-cases'") >= 2);
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'cases.history' AND actor = 'district-cases'") >= 1);
    }

    [Fact]
    public async Task TheDataTeam_SeesTheProvince_OldestFirst_AndFiltersByDistrictAgeAndOwner_WithTheDatabasesSummary()
    {
        using var browser = await SignedInAsync("team-cases", AccountRole.DataTeam);
        var all = await cases.ListAsync(Team, "cp-3", new CaseFilter(), 0, Cases.MaxPageSize);
        var summary = await cases.SummaryAsync(Team, "cp-3");
        Assert.True(all.Total > CasePages.PageSize, $"only {all.Total} cases");

        var html = await PageAsync(browser, "/cases");
        AssertSummary(summary, html);
        var first = Rows(html);
        Assert.Equal(all.Rows.Take(CasePages.PageSize).Select(c => c.CaseId), first.Select(r => r.CaseId));
        // Oldest first: rounds open, then days open, never rising.
        Assert.Equal(first.OrderByDescending(r => r.Rounds).ThenByDescending(r => r.Days).Select(r => (r.Rounds, r.Days)), first.Select(r => (r.Rounds, r.Days)));
        Assert.Contains(first, r => r.Rounds >= 3);

        // The next page is the next rows; paging keeps the filters.
        var second = Rows(await PageAsync(browser, "/cases?page=2"));
        Assert.Equal(all.Rows.Skip(CasePages.PageSize).Take(CasePages.PageSize).Select(c => c.CaseId), second.Select(r => r.CaseId));

        // Older than: only the cases open three rounds or more, as many as the summary counts.
        var old = await AllRowsAsync(browser, "/cases?older=3");
        Assert.Equal(summary.ThreeOrMoreRounds, old.Count);
        Assert.All(old, r => Assert.True(r.Rounds >= 3));
        if (old.Count > CasePages.PageSize)
        {
            Assert.Contains("older=3&amp;page=2", await PageAsync(browser, "/cases?older=3"), StringComparison.Ordinal);
        }

        // The owner: the district's cases are the escalations to the districts.
        Assert.Equal(summary.ToDistrict, (await AllRowsAsync(browser, "/cases?owner=district")).Count);
        Assert.Empty(Rows(await PageAsync(browser, "/cases?owner=data-team")));

        // One district: its schools' cases only, with its summary.
        var (district, _) = await TwoDistrictsAsync();
        var ofDistrict = await AllRowsAsync(browser, "/cases?district=" + district);
        var schools = await SchoolsOfAsync(district);
        Assert.Equal((await cases.ListAsync(Team, "cp-3", new CaseFilter(District: district), 0, Cases.MaxPageSize)).Total, ofDistrict.Count);
        Assert.All(ofDistrict, r => Assert.Contains(r.School, schools));
        AssertSummary(await cases.SummaryAsync(Team, "cp-3", district), await PageAsync(browser, "/cases?district=" + district));

        // An earlier round by its code: round 2's cases are all in their second round.
        var round2 = Rows(await PageAsync(browser, "/cases?round=cp-2"));
        Assert.NotEmpty(round2);
        Assert.All(round2, r => Assert.Equal(2, r.Rounds));

        // Hostile or nonsense filters are no filters; an unknown or hostile round is "not found".
        Assert.Equal(first.Select(r => r.CaseId),
            Rows(await PageAsync(browser, "/cases?older=abc&owner=%3Cscript%3E&page=-1")).Select(r => r.CaseId));
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/cases?round=no-such-round")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/cases?round=%27%3Bdrop")).StatusCode);
        var beyond = await browser.GetAsync("/cases?older=3&page=999");
        Assert.Equal(HttpStatusCode.Redirect, beyond.StatusCode);
        Assert.Equal("/cases?older=3", beyond.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task ACasesHistory_ShowsItsRounds_AndEachRuleLinksToItsHelp()
    {
        using var browser = await SignedInAsync("team-history", AccountRole.DataTeam);
        var html = await PageAsync(browser, "/cases?older=3");
        var oldest = Rows(html)[0];
        Assert.Contains($"href=\"/help/rules/{oldest.Rule}\"", html, StringComparison.Ordinal);

        var history = await PageAsync(browser, "/cases/" + oldest.CaseId);
        Assert.Equal(["cp-1", "cp-2", "cp-3"], RoundCells().Matches(history).Select(m => m.Groups[1].Value).Distinct());
        var steps = await cases.HistoryAsync(Team, "cp-3", oldest.CaseId.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(steps.Count, RoundCells().Matches(history).Count);

        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/cases/999999999")).StatusCode);
    }

    [Fact]
    public async Task TheDistrictPage_AndTheConsole_ShowTheirEscalations_WithTheLinkToTheCases()
    {
        var (district, _) = await TwoDistrictsAsync();
        var office = new Account("district-escalations", AccountRole.District, DistrictCode: district);
        using var browser = await SignedInAsync(office.Name, AccountRole.District, district: district, language: "en");
        var summary = await cases.SummaryAsync(office, "cp-3");
        Assert.True(summary.ToDistrict > 0);
        var page = await PageAsync(browser, "/district");
        Assert.Contains($"Escalations in this district: {summary.ToDistrict} cases owned by the district, {summary.ToDataTeam} by the data team (round cp-3).",
            page, StringComparison.Ordinal);
        Assert.Contains("href=\"/cases?owner=district\"", page, StringComparison.Ordinal);

        using var team = await SignedInAsync("team-escalations", AccountRole.DataTeam, language: "en");
        var province = await cases.SummaryAsync(Team, "cp-3");
        var console = await PageAsync(team, "/team");
        Assert.Contains($"Escalations in the province: {province.ToDistrict} cases owned by districts, {province.ToDataTeam} by the data team (round cp-3).",
            console, StringComparison.Ordinal);
        Assert.Contains("href=\"/cases\"", console, StringComparison.Ordinal);
        // The data team on a district's page: the link names the district.
        Assert.Contains($"href=\"/cases?owner=district&amp;district={district}\"", await PageAsync(team, "/district?code=" + district), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASchool_HasNoCasesPage()
    {
        var school = (await SchoolsOfAsync((await TwoDistrictsAsync()).District)).First();
        using var browser = await SignedInAsync("school-cases", AccountRole.School, school: school);
        foreach (var path in new[] { "/cases", "/cases/1" })
        {
            var refused = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            Assert.Equal("/denied", refused.Headers.Location?.AbsolutePath);
        }
    }

    private sealed record Row(long CaseId, string Rule, string School, string Student, int Rounds, int Days);

    private static void AssertSummary(CaseSummary summary, string html)
    {
        Assert.Equal(summary.NewThisRound, Figure(html, "new"));
        Assert.Equal(summary.TwoRounds, Figure(html, "two"));
        Assert.Equal(summary.ThreeOrMoreRounds, Figure(html, "three"));
        Assert.Equal(summary.Open, Figure(html, "open"));
        Assert.Equal(summary.ToDistrict, Figure(html, "district"));
        Assert.Equal(summary.ToDataTeam, Figure(html, "team"));
        Assert.Equal(summary.Closed, Figure(html, "closed"));
        var median = Regex.Match(html, "id=\"summary-median\">([^<]*)<").Groups[1].Value;
        // The page in Chinese, the default: "{rounds} 轮，{days} 天".
        Assert.Equal(summary.MedianRoundsOpen!.Value.ToString("0.#", CultureInfo.InvariantCulture) + " 轮，"
            + summary.MedianDaysOpen!.Value.ToString("0.#", CultureInfo.InvariantCulture) + " 天", median);
    }

    private static int Figure(string html, string id) =>
        int.Parse(Regex.Match(html, $"id=\"summary-{id}\">(\\d+)<").Groups[1].Value, CultureInfo.InvariantCulture);

    private static List<Row> Rows(string html) => CaseRow().Matches(html).Select(m =>
    {
        var cells = Cell().Matches(m.Groups[1].Value).Select(c => c.Groups[1].Value).ToList();
        return new Row(long.Parse(Text(cells[0]), CultureInfo.InvariantCulture), Text(cells[1]), Text(cells[2]), cells[3].Trim(),
            int.Parse(Text(cells[6]), CultureInfo.InvariantCulture), int.Parse(Text(cells[7]), CultureInfo.InvariantCulture));
    }).ToList();

    private static string Text(string cell) => Regex.Replace(cell, "<[^>]+>", "").Trim();

    private static async Task<string> PageAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        return await answer.Content.ReadAsStringAsync();
    }

    /// <summary>Every row of a list, page after page (as a reader follows the pager).</summary>
    private static async Task<List<Row>> AllRowsAsync(PortalBrowser browser, string path)
    {
        var rows = new List<Row>();
        for (var page = 1; page < 100; page++)
        {
            var more = Rows(await PageAsync(browser, path + "&page=" + page.ToString(CultureInfo.InvariantCulture)));
            rows.AddRange(more);
            if (more.Count < CasePages.PageSize)
            {
                return rows;
            }
        }

        return rows;
    }

    /// <summary>Two districts that both have open cases in round 3.</summary>
    private async Task<(string District, string Other)> TwoDistrictsAsync()
    {
        var all = await cases.ListAsync(Team, "cp-3", new CaseFilter(), 0, Cases.MaxPageSize);
        var districts = all.Rows.Where(c => c.DistrictCode is not null && c.Owner == CaseOwner.District)
            .GroupBy(c => c.DistrictCode!).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).ToList();
        Assert.True(districts.Count >= 2, $"{districts.Count} districts with escalated cases");
        return (districts[0], districts[1]);
    }

    private async Task<HashSet<string>> SchoolsOfAsync(string district)
    {
        await using var command = db.DataSource.CreateCommand("""
            SELECT s.school_code FROM registry.school s JOIN registry.round r USING (round_id) WHERE r.code = 'cp-3' AND s.district_code = @d
            """);
        command.Parameters.AddWithValue("d", district);
        await using var reader = await command.ExecuteReaderAsync();
        var result = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    private async Task<PortalBrowser> SignedInAsync(string account, AccountRole role, string? school = null, string? district = null, string? language = null)
    {
        var browser = new PortalBrowser(portal.Site, language);
        await browser.SignInFirstTimeAsync(account, await PortalBrowser.AccountAsync(db.DataSource, account, role, school, district));
        return browser;
    }

    [GeneratedRegex("""<tr class="case[^"]*">(.*?)</tr>""", RegexOptions.Singleline)]
    private static partial Regex CaseRow();

    [GeneratedRegex("""<td[^>]*>(.*?)</td>""", RegexOptions.Singleline)]
    private static partial Regex Cell();

    [GeneratedRegex("""<td class="round">([^<]*)</td>""")]
    private static partial Regex RoundCells();
}
