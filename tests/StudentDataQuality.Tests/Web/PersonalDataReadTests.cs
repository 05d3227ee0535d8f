using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Issue 16, items 7, 12 and 13, on a round run by the jobs: every read of a student's data leaves its audit entry; no
/// address on any page carries a resident ID number or a G student number; and whose a school is comes from one mapping,
/// the newest school master, on every path (reads, approvals, uploads, lineage).
/// </summary>
[Trait("Category", "Security")]
public sealed partial class PersonalDataReadTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;

    [Fact]
    public async Task EveryReadOfStudentData_LeavesItsAuditEntry()
    {
        var schools = await SchoolsAsync();
        var mine = schools[0];
        var name = "school-a" + mine;
        using var school = new PortalBrowser(fixture.Site);
        await school.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, AccountRole.School, mine));

        // The school's page: its open problems, student by student.
        var page = await (await school.GetAsync("/school")).Content.ReadAsStringAsync();
        Assert.Equal(1L, await db.ScalarAsync<long>("""
            SELECT count(*) FROM audit.event
            WHERE  action = 'school.problems.read' AND actor = @a AND school_code = @s AND round_id = @r AND (details->>'rows')::int > 0
            """, ("a", name), ("s", mine), ("r", fixture.Run.RoundId)));

        var lineage = LineageLink().Match(page);
        Assert.True(lineage.Success, "no lineage link on the school's page");

        // A return, then its receipt as a page and as the .xlsx (with the sha256 of the bytes sent).
        var worksheetId = await db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s",
            ("r", fixture.Run.RoundId), ("s", mine));
        var bytes = await (await school.GetAsync($"/school/worksheets/{worksheetId}")).Content.ReadAsByteArrayAsync();
        var edited = RegistrarSimulator.Edit(bytes, RegistrarAnswers.Load(fixture.Province.RegistrarAnswersPath).GetValueOrDefault(mine) ?? [],
            RegistrarStyle.Diligent, 31);
        var receiptPath = (await school.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook)).Headers.Location!.OriginalString;
        var returnId = await db.ScalarAsync<long>("SELECT return_id FROM exchange.worksheet_return WHERE worksheet_id = @w", ("w", worksheetId));
        Assert.Equal(HttpStatusCode.OK, (await school.GetAsync(receiptPath)).StatusCode);
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'receipt.read' AND actor = @a AND object = @o AND school_code = @s AND round_id = @r",
            ("a", name), ("o", returnId.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("s", mine), ("r", fixture.Run.RoundId)));
        var receiptFile = await school.GetAsync(receiptPath + "/receipt.xlsx");
        Assert.Equal(HttpStatusCode.OK, receiptFile.StatusCode);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(await receiptFile.Content.ReadAsByteArrayAsync()));
        Assert.Equal(sha256, await db.ScalarAsync<string>(
            "SELECT details->>'sha256' FROM audit.event WHERE action = 'receipt.download' AND actor = @a AND object = @o AND school_code = @s",
            ("a", name), ("o", returnId.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("s", mine)));

        // A student's lineage, by the link on the school's page.
        Assert.Equal(HttpStatusCode.OK, (await school.GetAsync(lineage.Value)).StatusCode);
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'lineage.read' AND actor = @a AND object = @o AND school_code = @s AND (details->>'records')::int > 0",
            ("a", name), ("o", lineage.Groups[1].Value), ("s", mine)));

        // The data team's console: the explanations to review, student by student.
        using var team = new PortalBrowser(fixture.Site);
        await team.SignInFirstTimeAsync("team-reads", await PortalBrowser.AccountAsync(db.DataSource, "team-reads", AccountRole.DataTeam));
        Assert.Equal(HttpStatusCode.OK, (await team.GetAsync("/team")).StatusCode);
        // The explanations' own page shows a page of them (50).
        Assert.Equal(HttpStatusCode.OK, (await team.GetAsync("/team/explanations")).StatusCode);
        Assert.Equal(await db.ScalarAsync<long>("SELECT least(count(*), 50) FROM exchange.explanation WHERE status = 'pending'"), await db.ScalarAsync<long>(
            "SELECT (details->>'rows')::bigint FROM audit.event WHERE action = 'explanations.read' AND actor = 'team-reads' ORDER BY event_id DESC LIMIT 1"));
    }

    [Fact]
    public async Task NoAddressOnAnyPage_CarriesAResidentIdNumberOrAGStudentNumber_AndTheLineagePageIsByItsOpaqueAddress()
    {
        var schools = await SchoolsAsync();
        var mine = schools[1];
        var other = schools[2];
        var ingest = new StudentDataQuality.Application.ReturnIngest(db.DataSource, IngestScenario.Key);
        var path = Directory.EnumerateFiles(fixture.Run.OutputDirectory, $"*_{mine}_*.xlsx", SearchOption.AllDirectories).Single();
        var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path),
            RegistrarAnswers.Load(fixture.Province.RegistrarAnswersPath).GetValueOrDefault(mine) ?? [], RegistrarStyle.Diligent, 31);
        await ingest.IngestAsync(new MemoryStream(edited.Workbook), Path.GetFileName(path), new Account("school-" + mine, AccountRole.School, mine));

        var secrets = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using (var command = db.DataSource.CreateCommand("""
            SELECT id_number_raw FROM registry.record WHERE length(btrim(id_number_raw)) >= 15
            UNION SELECT student_no_raw FROM registry.record WHERE upper(btrim(student_no_raw)) LIKE 'G%' AND length(btrim(student_no_raw)) >= 15
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                secrets.Add(reader.GetString(0).Trim());
            }
        }

        Assert.NotEmpty(secrets);
        var district = await db.ScalarAsync<string>("SELECT min(district_code) FROM registry.school WHERE round_id = @r AND district_code IS NOT NULL",
            ("r", fixture.Run.RoundId));
        var districts = new List<string>();
        await using (var command = db.DataSource.CreateCommand("SELECT DISTINCT district_code FROM registry.school WHERE district_code IS NOT NULL"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                districts.Add(reader.GetString(0));
            }
        }

        using var school = new PortalBrowser(fixture.Site);
        await school.SignInFirstTimeAsync("school-u" + mine, await PortalBrowser.AccountAsync(db.DataSource, "school-u" + mine, AccountRole.School, mine));
        using var office = new PortalBrowser(fixture.Site);
        await office.SignInFirstTimeAsync("district-u" + district, await PortalBrowser.AccountAsync(db.DataSource, "district-u" + district, AccountRole.District,
            district: district));
        using var team = new PortalBrowser(fixture.Site);
        await team.SignInFirstTimeAsync("team-urls", await PortalBrowser.AccountAsync(db.DataSource, "team-urls", AccountRole.DataTeam));

        var addresses = new List<(string Page, string Address)>();
        await CrawlAsync(school, ["/", "/school"], addresses);
        await CrawlAsync(office, ["/", "/district"], addresses);
        await CrawlAsync(team, ["/", "/team", .. schools.Select(s => "/school?code=" + s), .. districts.Select(d => "/district?code=" + d)], addresses);
        var leaks = addresses.Where(a => secrets.Any(s => a.Address.Contains(s, StringComparison.OrdinalIgnoreCase))).Take(5).ToList();
        Assert.True(leaks.Count == 0, "ID numbers in addresses: " + string.Join("; ", leaks.Select(l => $"{l.Page} → {l.Address}")));
        Assert.Contains(addresses, a => a.Address.StartsWith("/school/records/", StringComparison.Ordinal));

        // The lineage page by its opaque address: the school reads it, another school gets "not found", on record; the old
        // address by student number is no route at all.
        var page = await (await school.GetAsync("/school")).Content.ReadAsStringAsync();
        var link = LineageLink().Match(page);
        Assert.True(link.Success, "no lineage link on the school's page");
        var lineage = await school.GetAsync(link.Value);
        Assert.Equal(HttpStatusCode.OK, lineage.StatusCode);
        Assert.Contains(mine, await lineage.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var studentNo = await db.ScalarAsync<string>("SELECT student_no_raw FROM registry.record WHERE record_id = @id AND is_current",
            ("id", long.Parse(link.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(HttpStatusCode.NotFound, (await school.GetAsync("/school/students/" + Uri.EscapeDataString(studentNo))).StatusCode);

        using var intruder = new PortalBrowser(fixture.Site);
        await intruder.SignInFirstTimeAsync("school-v" + other, await PortalBrowser.AccountAsync(db.DataSource, "school-v" + other, AccountRole.School, other));
        var refused = await intruder.GetAsync(link.Value);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.DoesNotContain(studentNo, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("lineage", await db.ScalarAsync<string>(
            "SELECT details->>'what' FROM audit.event WHERE action = 'access.refused' AND actor = @a AND object = @o",
            ("a", "school-v" + other), ("o", link.Groups[1].Value)));
    }

    [Fact]
    public async Task ASchoolMovedToAnotherDistrictInTheMaster_IsInScopeOfThatDistrictOnly_OnEveryPath()
    {
        // The round's own master puts the school in district A; a newer master (of a later round) moves it to B.
        var schools = await SchoolsAsync();
        var moved = schools[^1];
        var roundId = fixture.Run.RoundId;
        var oldDistrict = await db.ScalarAsync<string>("SELECT min(district_code) FROM registry.school WHERE round_id = @r AND school_code = @s",
            ("r", roundId), ("s", moved));
        var newDistrict = await db.ScalarAsync<string>(
            "SELECT min(district_code) FROM registry.school WHERE round_id = @r AND district_code <> @d", ("r", roundId), ("d", oldDistrict));
        var newer = await db.ScalarAsync<int>("""
            INSERT INTO registry.round (code, round_date, school_year, status, created_by) VALUES ('portal-next-master', '2027-03-01', 2026, 'closed', 'test')
            RETURNING round_id
            """);
        await db.ExecuteAsync("""
            INSERT INTO registry.school (round_id, file_id, sheet_no, row_no, school_code_raw, school_code, school_name_raw, district_code_raw, district_code,
                                         district_name_raw, min_grade_raw, min_grade, max_grade_raw, max_grade, is_open_raw, is_open)
            SELECT @newer, file_id, sheet_no, row_no, school_code_raw, school_code, school_name_raw,
                   CASE WHEN school_code = @s THEN @d ELSE district_code_raw END, CASE WHEN school_code = @s THEN @d ELSE district_code END,
                   district_name_raw, min_grade_raw, min_grade, max_grade_raw, max_grade, is_open_raw, is_open
            FROM   registry.school WHERE round_id = @r
            """, ("newer", newer), ("s", moved), ("d", newDistrict), ("r", roundId));

        using var before = new PortalBrowser(fixture.Site);
        await before.SignInFirstTimeAsync("district-m" + oldDistrict,
            await PortalBrowser.AccountAsync(db.DataSource, "district-m" + oldDistrict, AccountRole.District, district: oldDistrict));
        using var now = new PortalBrowser(fixture.Site);
        await now.SignInFirstTimeAsync("district-n" + newDistrict,
            await PortalBrowser.AccountAsync(db.DataSource, "district-n" + newDistrict, AccountRole.District, district: newDistrict));

        // Read: the school's page and the district's list.
        Assert.Equal(HttpStatusCode.NotFound, (await before.GetAsync("/school?code=" + moved)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await now.GetAsync("/school?code=" + moved)).StatusCode);
        Assert.DoesNotContain(moved, await (await before.GetAsync("/district")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(moved, await (await now.GetAsync("/district")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Lineage: a record of the school.
        var record = await db.ScalarAsync<long>("SELECT min(record_id) FROM registry.record WHERE round_id = @r AND school_code = @s AND is_current",
            ("r", roundId), ("s", moved));
        Assert.Equal(HttpStatusCode.NotFound, (await before.GetAsync($"/school/records/{record}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await now.GetAsync($"/school/records/{record}")).StatusCode);

        // Approval of its sign-off.
        await db.ExecuteAsync("INSERT INTO exchange.sign_off (round_id, school_code, certified_by, warnings_explained) VALUES (@r, @s, 'test', 0)",
            ("r", roundId), ("s", moved));
        Assert.Equal(HttpStatusCode.NotFound, (await before.PostAsync("/", "/district/approve", new() { ["school"] = moved })).StatusCode);
        Assert.Equal("/district", (await now.PostAsync("/", "/district/approve", new() { ["school"] = moved })).Headers.Location?.OriginalString);
        Assert.Equal("district-n" + newDistrict, await db.ScalarAsync<string>(
            "SELECT approved_by FROM exchange.sign_off WHERE round_id = @r AND school_code = @s", ("r", roundId), ("s", moved)));

        // Upload of its worksheet.
        var path = Directory.EnumerateFiles(fixture.Run.OutputDirectory, $"*_{moved}_*.xlsx", SearchOption.AllDirectories).Single();
        var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path),
            RegistrarAnswers.Load(fixture.Province.RegistrarAnswersPath).GetValueOrDefault(moved) ?? [], RegistrarStyle.Diligent, 31);
        // Refused from the worksheet's _meta, before its rows are read: the school is not the old district's any more.
        var outOfScope = await before.UploadAsync("/", "/school/returns", Path.GetFileName(path), edited.Workbook);
        Assert.Equal(HttpStatusCode.Forbidden, outOfScope.StatusCode);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r AND school_code = @s",
            ("r", roundId), ("s", moved)));
        var taken = await now.UploadAsync("/", "/school/returns", Path.GetFileName(path), edited.Workbook);
        for (var tries = 0; taken.Headers.Location?.OriginalString.StartsWith("/school/uploads/", StringComparison.Ordinal) == true && tries < 100; tries++)
        {
            // Answered "received, being checked": its page shows the receipt once the batch is done.
            await Task.Delay(200);
            var pending = await now.GetAsync(taken.Headers.Location.OriginalString);
            taken = pending.StatusCode == HttpStatusCode.OK ? taken : pending;
        }

        Assert.Equal(HttpStatusCode.Redirect, taken.StatusCode);
        Assert.StartsWith("/school/returns/", taken.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal("district-n" + newDistrict, await db.ScalarAsync<string>(
            "SELECT received_by FROM exchange.worksheet_return WHERE round_id = @r AND school_code = @s", ("r", roundId), ("s", moved)));

        // Each refusal on record.
        Assert.Equal(4L, await db.ScalarAsync<long>("""
            SELECT count(*) FROM audit.event WHERE actor = @a AND action IN ('access.refused', 'worksheet.return.refused')
            """, ("a", "district-m" + oldDistrict)));
    }

    /// <summary>Every page reachable by links from the first ones (HTML only, GET only, at most 400), and each href and form action on them.</summary>
    private static async Task CrawlAsync(PortalBrowser browser, IReadOnlyList<string> start, List<(string Page, string Address)> addresses)
    {
        var seen = new HashSet<string>(start, StringComparer.Ordinal);
        var queue = new Queue<string>(start);
        while (queue.Count > 0 && seen.Count < 400)
        {
            var page = queue.Dequeue();
            var response = await browser.GetAsync(page);
            if (response.Content.Headers.ContentType?.MediaType != "text/html")
            {
                continue;
            }

            foreach (Match m in Address().Matches(await response.Content.ReadAsStringAsync()))
            {
                var address = Uri.UnescapeDataString(WebUtility.HtmlDecode(m.Groups[1].Value));
                addresses.Add((page, address));
                if (address.StartsWith('/') && !address.StartsWith("//", StringComparison.Ordinal) && m.Value.StartsWith("href", StringComparison.Ordinal)
                    && !address.StartsWith("/lang/", StringComparison.Ordinal) && !address.StartsWith("/jobs", StringComparison.Ordinal)
                    && !address.StartsWith("/logout", StringComparison.Ordinal) && seen.Add(address))
                {
                    queue.Enqueue(address);
                }
            }
        }
    }

    private async Task<List<string>> SchoolsAsync()
    {
        await using var command = db.DataSource.CreateCommand("""
            SELECT w.school_code FROM exchange.worksheet w
            WHERE  w.round_id = @r AND EXISTS (SELECT 1 FROM registry.school s WHERE s.round_id = w.round_id AND s.school_code = w.school_code
                                               AND s.district_code IS NOT NULL)
            ORDER  BY w.school_code
            """);
        command.Parameters.AddWithValue("r", fixture.Run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var schools = new List<string>();
        while (await reader.ReadAsync())
        {
            schools.Add(reader.GetString(0));
        }

        return schools;
    }

    [GeneratedRegex("""/school/records/([0-9]+)""")]
    private static partial Regex LineageLink();

    [GeneratedRegex("(?:href|action|src)=\"([^\"]*)\"")]
    private static partial Regex Address();
}
