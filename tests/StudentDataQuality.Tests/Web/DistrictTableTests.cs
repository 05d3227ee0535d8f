using System.Net;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The district and school tables at more than a page: the data team's table of all districts searched, sorted and paged
/// (a hostile sort or page is ignored, not an error), a district's schools searched and filtered, the school search, a
/// school's progress since its first issue, a district office asking for another district's school, and the district
/// pages in both languages. The round's school master gets 70 more districts of one school each (none issued), so that
/// the districts table has two pages.
/// </summary>
public sealed partial class DistrictTableTests(PortalRound fixture) : IClassFixture<PortalRound>, IAsyncLifetime
{
    private const int Extra = 70;
    private readonly DatabaseFixture db = fixture.Database;

    public async Task InitializeAsync()
    {
        if (await db.ScalarAsync<long>("SELECT count(*) FROM registry.school WHERE district_code LIKE 'T9%'") > 0)
        {
            return;
        }

        // Copies of one row of the round's master, each its own school in its own district (codes T9001…, names "测试区 n").
        await db.ExecuteAsync("""
            INSERT INTO registry.school (round_id, file_id, sheet_no, row_no, school_code_raw, school_code, school_name_raw, district_code_raw,
                                         district_code, district_name_raw, min_grade_raw, min_grade, max_grade_raw, max_grade, is_open_raw, is_open)
            SELECT s.round_id, s.file_id, s.sheet_no, 100000 + n, 'TS' || (9000 + n), 'TS' || (9000 + n), '测试学校 ' || n, 'T' || (9000 + n),
                   'T' || (9000 + n), '测试区 ' || n, s.min_grade_raw, s.min_grade, s.max_grade_raw, s.max_grade, s.is_open_raw, s.is_open
            FROM   (SELECT * FROM registry.school WHERE round_id = @r AND school_code IS NOT NULL ORDER BY row_no LIMIT 1) s,
                   generate_series(1, @extra) AS n
            """, ("r", fixture.Run.RoundId), ("extra", Extra));
        // And one district of 60 schools (T8000: TS8001…TS8060), one of them issued a worksheet due yesterday and not returned.
        await db.ExecuteAsync("""
            INSERT INTO registry.school (round_id, file_id, sheet_no, row_no, school_code_raw, school_code, school_name_raw, district_code_raw,
                                         district_code, district_name_raw, min_grade_raw, min_grade, max_grade_raw, max_grade, is_open_raw, is_open)
            SELECT s.round_id, s.file_id, s.sheet_no, 200000 + n, 'TS' || (8000 + n), 'TS' || (8000 + n), '测试乙校 ' || n, 'T8000',
                   'T8000', '测试大区', s.min_grade_raw, s.min_grade, s.max_grade_raw, s.max_grade, s.is_open_raw, s.is_open
            FROM   (SELECT * FROM registry.school WHERE round_id = @r AND school_code IS NOT NULL ORDER BY row_no LIMIT 1) s,
                   generate_series(1, @schools) AS n
            """, ("r", fixture.Run.RoundId), ("schools", DistrictSchools));
        await db.ExecuteAsync("""
            INSERT INTO exchange.worksheet (worksheet_id, round_id, school_code, issue_no, language, file_name, sha256, bytes, key_id, template_version,
                                            row_count, error_count, warning_count, deadline, issued_at, issued_by)
            SELECT gen_random_uuid(), round_id, 'TS8002', 1, language, 'late.xlsx', sha256, bytes, key_id, template_version,
                   0, 0, 0, current_date - 1, issued_at, issued_by
            FROM   exchange.worksheet WHERE round_id = @r ORDER BY school_code LIMIT 1
            """, ("r", fixture.Run.RoundId));
    }

    private const int DistrictSchools = 60;

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task TheDistrictsTable_IsSearchedSortedAndPaged_AndAHostileSortOrPageIsIgnored()
    {
        using var team = await SignedInAsync("team-tables", AccountRole.DataTeam);
        var districts = await db.ScalarAsync<long>("SELECT count(DISTINCT district_code) FROM access.school_district WHERE district_code IS NOT NULL");
        Assert.True(districts > 50, $"{districts} districts");

        var first = await RowsAsync(team, "/district");
        Assert.Equal(50, first.Count);
        var second = await RowsAsync(team, "/district?page=2");
        Assert.Equal(districts - 50, second.Count);
        Assert.Empty(first.Intersect(second));

        // Sorted by code, both ways: the first row is the smallest code, then the largest.
        var ascending = await RowsAsync(team, "/district?sort=code&dir=asc");
        var descending = await RowsAsync(team, "/district?sort=code&dir=desc");
        Assert.Equal(await db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district"), ascending[0]);
        Assert.Equal(await db.ScalarAsync<string>("SELECT max(district_code) FROM access.school_district"), descending[0]);
        Assert.Equal(ascending.OrderBy(c => c, StringComparer.Ordinal), ascending);
        // Page 2 keeps the sort (the pager's link carries it).
        var page = await (await team.GetAsync("/district?sort=code&dir=desc")).Content.ReadAsStringAsync();
        Assert.Contains("href=\"/district?sort=code&amp;dir=desc&amp;page=2\"", page, StringComparison.Ordinal);

        // A sort that is no column, a direction that is none, a page that is no number: the default table, not an error.
        var hostile = await team.GetAsync("/district?sort=district_code%3BDROP%20TABLE%20audit.event&dir=sideways&page=x%27");
        Assert.Equal(HttpStatusCode.OK, hostile.StatusCode);
        Assert.Equal(first, Rows(await hostile.Content.ReadAsStringAsync()));
        var far = await team.GetAsync("/district?page=99999999999");
        Assert.Equal(HttpStatusCode.OK, far.StatusCode);
        Assert.Equal(first, Rows(await far.Content.ReadAsStringAsync()));
        // A page past the end: the first page of the same table, not an empty one.
        var past = await team.GetAsync("/district?sort=code&dir=desc&page=10000");
        Assert.Equal(HttpStatusCode.Redirect, past.StatusCode);
        Assert.Equal("/district?sort=code&dir=desc", past.Headers.Location?.OriginalString);

        // Search by name, and by code (part of it); % and _ are taken as themselves.
        Assert.Equal(["T9017"], await RowsAsync(team, "/district?q=" + Uri.EscapeDataString("测试区 17")));
        Assert.Equal(["T9017"], await RowsAsync(team, "/district?q=t9017"));
        Assert.Empty(await RowsAsync(team, "/district?q=%25%25_"));
    }

    [Fact]
    public async Task ADistrictsSchools_AreSearchedFilteredAndSorted_AndApprovalStillWorksFromTheTable()
    {
        const string district = "T8000";
        var schools = Enumerable.Range(8001, DistrictSchools).Select(n => "TS" + n.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        using var team = await SignedInAsync("team-district", AccountRole.DataTeam);
        var path = "/district?code=" + district;

        // Sorted by code both ways, a page at a time (the pager keeps the district, the sort and the filter).
        Assert.Equal(schools.Take(50), await SchoolRowsAsync(team, path + "&sort=code&dir=asc"));
        Assert.Equal(schools.Skip(50), await SchoolRowsAsync(team, path + "&sort=code&dir=asc&page=2"));
        Assert.Equal(schools.AsEnumerable().Reverse().Take(50), await SchoolRowsAsync(team, path + "&sort=code&dir=desc"));
        Assert.Contains("href=\"/district?code=T8000&amp;sort=code&amp;dir=asc&amp;page=2\"",
            await (await team.GetAsync(path + "&sort=code")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Searched by code or name; a hostile sort and filter change nothing.
        Assert.Equal(["TS8017"], await SchoolRowsAsync(team, path + "&q=ts8017"));
        Assert.Equal(["TS8017"], await SchoolRowsAsync(team, path + "&q=" + Uri.EscapeDataString("乙校 17")));
        Assert.Equal(await SchoolRowsAsync(team, path), await SchoolRowsAsync(team, path + "&sort=1)%3B--&dir=up&filter=%3Cscript%3E"));
        // Late only: the one issued and not returned by its deadline; it comes first by default.
        Assert.Equal(["TS8002"], await SchoolRowsAsync(team, path + "&filter=late"));
        Assert.Equal("TS8002", (await SchoolRowsAsync(team, path))[0]);

        // Certified: out of "not certified", and approved from its row (the way back keeps the district).
        await db.ExecuteAsync("INSERT INTO exchange.sign_off (round_id, school_code, certified_by, warnings_explained) VALUES (@r, @s, 'test', 0)",
            ("r", fixture.Run.RoundId), ("s", schools[0]));
        Assert.Equal(schools.Skip(1).Take(50), await SchoolRowsAsync(team, path + "&filter=uncertified&sort=code"));
        var approved = await team.PostAsync(path, "/district/approve", new() { ["school"] = schools[0], ["district"] = district });
        Assert.Equal(path, approved.Headers.Location?.OriginalString);
        Assert.Equal("team-district", await db.ScalarAsync<string>("SELECT approved_by FROM exchange.sign_off WHERE round_id = @r AND school_code = @s",
            ("r", fixture.Run.RoundId), ("s", schools[0])));
    }

    [Fact]
    public async Task TheSchoolSearch_FindsASchoolByCodeOrName_APageAtATime()
    {
        var (code, name) = await db.ScalarAsync<string>("""
            SELECT w.school_code || '|' || btrim(s.school_name_raw) FROM exchange.worksheet w
            JOIN   registry.school s ON s.round_id = w.round_id AND s.school_code = w.school_code
            WHERE  w.round_id = @r ORDER BY w.school_code DESC LIMIT 1
            """, ("r", fixture.Run.RoundId)) is var pair && pair.Split('|') is [var c, var n] ? (c, n) : ("", "");
        using var team = await SignedInAsync("team-search", AccountRole.DataTeam);
        var all = await (await team.GetAsync("/school")).Content.ReadAsStringAsync();
        Assert.Contains("name=\"q\"", all, StringComparison.Ordinal);
        Assert.Equal(await db.ScalarAsync<long>("SELECT count(DISTINCT school_code) FROM exchange.worksheet"), SchoolLinks(all).Count);
        Assert.Equal([code], SchoolLinks(await (await team.GetAsync("/school?q=" + code)).Content.ReadAsStringAsync()));
        Assert.Contains(code, SchoolLinks(await (await team.GetAsync("/school?q=" + Uri.EscapeDataString(name))).Content.ReadAsStringAsync()));
        Assert.Empty(SchoolLinks(await (await team.GetAsync("/school?q=no-such-school&page=-3")).Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task ASchoolsPage_ShowsItsProgressSinceItsFirstIssue_AsATableAndAChart()
    {
        var code = await db.ScalarAsync<string>("SELECT max(school_code) FROM exchange.worksheet WHERE round_id = @r", ("r", fixture.Run.RoundId));
        // A second issue of the worksheet (as a re-issue makes it), two days later, with fewer problems.
        await db.ExecuteAsync("""
            INSERT INTO exchange.worksheet (worksheet_id, round_id, school_code, issue_no, language, file_name, sha256, bytes, key_id, template_version,
                                            row_count, error_count, warning_count, deadline, issued_at, issued_by)
            SELECT gen_random_uuid(), round_id, school_code, issue_no + 1, language, 'reissued.xlsx', sha256, bytes, key_id, template_version,
                   row_count, 1, 2, deadline, issued_at + interval '2 days', issued_by
            FROM   exchange.worksheet WHERE round_id = @r AND school_code = @s AND issue_no = 1
            """, ("r", fixture.Run.RoundId), ("s", code));
        using var school = await SignedInAsync("school-g" + code, AccountRole.School, school: code);
        var page = await (await school.GetAsync("/school")).Content.ReadAsStringAsync();

        var table = ProgressTable().Match(page);
        Assert.True(table.Success, "no progress table on the school's page");
        var rows = Regex.Matches(table.Value, "<tr>(.*?)</tr>", RegexOptions.Singleline).Select(m => Cells(m.Groups[1].Value)).Where(c => c.Length > 0).ToList();
        Assert.Equal(2, rows.Count);
        var (errors, warnings, issued) = await db.ScalarAsync<string>("""
            SELECT error_count || '|' || warning_count || '|' || to_char(issued_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')
            FROM exchange.worksheet WHERE round_id = @r AND school_code = @s AND issue_no = 1
            """, ("r", fixture.Run.RoundId), ("s", code)) is var v && v.Split('|') is [var e, var w, var d] ? (e, w, d) : ("", "", "");
        var open = await db.ScalarAsync<long>("SELECT count(*) FROM quality.finding WHERE round_id = @r AND school_code = @s AND status = 'open'",
            ("r", fixture.Run.RoundId), ("s", code));
        // Issue 1: when, what it showed, no return, and what was open when issue 2 was made (3); issue 2: what is open now.
        Assert.Equal(["portal", "1", issued, errors, warnings, "0", "3", "", ""], rows[0]);
        Assert.Equal(("2", "1", "2", "0"), (rows[1][1], rows[1][3], rows[1][4], rows[1][5]));
        Assert.StartsWith(open.ToString(System.Globalization.CultureInfo.InvariantCulture), rows[1][6], StringComparison.Ordinal);
        // The chart: a bar per issue and one for now, drawn as SVG markup in the page.
        var chart = Regex.Match(page, "<svg class=\"progress\".*?</svg>", RegexOptions.Singleline);
        Assert.True(chart.Success, "no progress chart");
        Assert.Equal(3, Regex.Matches(chart.Value, "<rect ").Count);
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task ADistrictAskingForAnotherDistrictsSchoolByCode_GetsNotFound_AndTheRefusalIsAudited()
    {
        var (mine, theirs, school) = await db.ScalarAsync<string>("""
            SELECT a.district_code || '|' || b.district_code || '|' || b.school_code
            FROM   access.school_district a JOIN access.school_district b ON b.district_code <> a.district_code
            JOIN   exchange.worksheet w ON w.school_code = b.school_code
            WHERE  a.district_code IS NOT NULL AND b.district_code IS NOT NULL AND a.district_code NOT LIKE 'T9%'
            ORDER  BY a.district_code, b.school_code LIMIT 1
            """) is var t && t.Split('|') is [var a, var b, var s] ? (a, b, s) : ("", "", "");
        var account = "district-r" + mine;
        using var office = await SignedInAsync(account, AccountRole.District, district: mine);

        var refused = await office.GetAsync("/school?code=" + school);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        var worksheet = await db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE school_code = @s LIMIT 1", ("s", school));
        Assert.DoesNotContain(worksheet.ToString(), await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("school", await db.ScalarAsync<string>(
            "SELECT details->>'what' FROM audit.event WHERE action = 'access.refused' AND actor = @a AND object = @o AND school_code = @o",
            ("a", account), ("o", school)));
        // Its district table is its own, whatever district it names.
        var table = await (await office.GetAsync("/district?code=" + theirs)).Content.ReadAsStringAsync();
        Assert.DoesNotContain(school, table, StringComparison.Ordinal);
        Assert.Contains($"<h1>区县 {mine}</h1>", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDistrictPages_ReadInChineseAndInEnglish()
    {
        var district = await db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district WHERE district_code NOT LIKE 'T9%'");
        using var chinese = await SignedInAsync("team-zh", AccountRole.DataTeam);
        using var english = await SignedInAsync("team-en", AccountRole.DataTeam, language: "en");

        var zh = await (await chinese.GetAsync("/district")).Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"zh-CN\">", zh, StringComparison.Ordinal);
        Assert.Contains("<h1>各区县</h1>", zh, StringComparison.Ordinal);
        Assert.Contains(">区县代码</a>", zh, StringComparison.Ordinal);
        var en = await (await english.GetAsync("/district")).Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"en\">", en, StringComparison.Ordinal);
        Assert.Contains("<h1>Districts</h1>", en, StringComparison.Ordinal);
        Assert.Contains(">District code</a>", en, StringComparison.Ordinal);
        Assert.DoesNotContain("区县代码", en, StringComparison.Ordinal);

        Assert.Contains($"<h1>区县 {district}</h1>", await (await chinese.GetAsync("/district?code=" + district)).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var one = await (await english.GetAsync("/district?code=" + district)).Content.ReadAsStringAsync();
        Assert.Contains($"<h1>District {district}</h1>", one, StringComparison.Ordinal);
        Assert.Contains("Not certified", one, StringComparison.Ordinal);
    }

    private async Task<PortalBrowser> SignedInAsync(string account, AccountRole role, string? school = null, string? district = null, string? language = null)
    {
        var browser = new PortalBrowser(fixture.Site, language);
        await browser.SignInFirstTimeAsync(account, await PortalBrowser.AccountAsync(db.DataSource, account, role, school, district));
        return browser;
    }

    /// <summary>The district codes of the districts table's rows, in order.</summary>
    private static async Task<List<string>> RowsAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        return Rows(await answer.Content.ReadAsStringAsync());
    }

    private static List<string> Rows(string page) => DistrictLink().Matches(page).Select(m => m.Groups[1].Value).ToList();

    /// <summary>The school codes of a district's table rows, in order.</summary>
    private static async Task<List<string>> SchoolRowsAsync(PortalBrowser browser, string path)
    {
        var answer = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        return SchoolLinks(await answer.Content.ReadAsStringAsync());
    }

    private static List<string> SchoolLinks(string page) => SchoolLink().Matches(page).Select(m => m.Groups[1].Value).ToList();

    private static string[] Cells(string row) => Regex.Matches(row, "<td[^>]*>(.*?)</td>", RegexOptions.Singleline)
        .Select(m => Regex.Replace(m.Groups[1].Value, "<[^>]+>", "").Trim()).ToArray();

    [GeneratedRegex("""<td><a href="/district\?code=([^"]+)">""")]
    private static partial Regex DistrictLink();

    [GeneratedRegex("""<td><a href="/school\?code=([^"]+)">""")]
    private static partial Regex SchoolLink();

    [GeneratedRegex("""<table class="figures progress">.*?</table>""", RegexOptions.Singleline)]
    private static partial Regex ProgressTable();
}
