using System.Net;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web.Components.School;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// A school's page and a record's lineage read by its district office: student numbers and ID numbers masked by the one
/// policy; "show in full" needs a reason, which is put on record; the school's own account reads its values in full. The
/// same for a return's receipt, and for the data team's list of the schools' explanations.
/// </summary>
public sealed class MaskedPagesTests(PortalRound round) : IClassFixture<PortalRound>
{
    private DatabaseFixture Db => round.Database;

    [Fact, Trait("Category", "Security")]
    public async Task ADistrict_ReadsASchoolMasked_AndShowsItInFullOnlyWithAReason_OnRecord()
    {
        // A school with an open finding on an ID number, and its district.
        var picked = await Db.ScalarAsync<string>("""
            SELECT f.school_code || '|' || d.district_code || '|' || f.student_no || '|' || f.value || '|' || f.record_id
            FROM   quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND f.field = 'id_number' AND length(f.value) >= 15 AND f.student_no IS NOT NULL
            ORDER  BY f.finding_id LIMIT 1
            """, ("r", round.Run.RoundId));
        var (school, district, studentNo, idNumber, recordId) = picked.Split('|') switch { var p => (p[0], p[1], p[2], p[3], p[4]) };

        using var office = new PortalBrowser(round.Site);
        await office.SignInFirstTimeAsync("district-mask", await PortalBrowser.AccountAsync(Db.DataSource, "district-mask", AccountRole.District,
            district: district));
        var masked = await (await office.GetAsync("/school?code=" + school)).Content.ReadAsStringAsync();
        Assert.DoesNotContain(idNumber, masked, StringComparison.Ordinal);
        Assert.DoesNotContain(studentNo, masked, StringComparison.Ordinal);
        Assert.Contains(Masking.IdNumber(idNumber)!, masked, StringComparison.Ordinal);
        Assert.Contains(Masking.StudentNo(studentNo)!, masked, StringComparison.Ordinal);

        // "Show" without a reason: refused, nothing shown.
        var noReason = await office.PostAsync("/school?code=" + school, "/school/show", new() { ["code"] = school, ["reason"] = " " });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.DoesNotContain(idNumber, await noReason.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var shown = await office.PostAsync("/school?code=" + school, "/school/show", new() { ["code"] = school, ["reason"] = "核对重复学籍" });
        Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
        Assert.Contains(idNumber, await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("核对重复学籍", await Db.ScalarAsync<string>(
            "SELECT details->>'reason' FROM audit.event WHERE action = 'personal.show' AND actor = 'district-mask' AND school_code = @s", ("s", school)));

        // The record's lineage likewise: masked, in full only with a reason, on record.
        var lineagePath = "/school/records/" + recordId;
        var lineage = await (await office.GetAsync(lineagePath)).Content.ReadAsStringAsync();
        Assert.DoesNotContain(idNumber, lineage, StringComparison.Ordinal);
        Assert.Contains(Masking.IdNumber(idNumber)!, lineage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await office.PostAsync(lineagePath, lineagePath + "/show", new() { ["reason"] = "" })).StatusCode);
        var lineageShown = await office.PostAsync(lineagePath, lineagePath + "/show", new() { ["reason"] = "家长来电核对" });
        Assert.Contains(idNumber, await lineageShown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("家长来电核对", await Db.ScalarAsync<string>(
            "SELECT details->>'reason' FROM audit.event WHERE action = 'personal.show' AND actor = 'district-mask' AND object = @o", ("o", lineagePath)));

        // The school's own account reads its values in full, without asking.
        using var own = new PortalBrowser(round.Site);
        await own.SignInFirstTimeAsync("school-mask", await PortalBrowser.AccountAsync(Db.DataSource, "school-mask", AccountRole.School, school));
        Assert.Contains(idNumber, await (await own.GetAsync("/school")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(idNumber, await (await own.GetAsync(lineagePath)).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact, Trait("Category", "Security")]
    public async Task ADistrict_ReadsAGuardiansPhoneMasked_OnTheSchoolsPage()
    {
        // A school with an open finding on a guardian's phone long enough to hide something, and its district.
        var picked = await Db.ScalarAsync<string>("""
            SELECT f.school_code || '|' || d.district_code || '|' || f.value
            FROM   quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND f.field = 'guardian_phone' AND length(f.value) >= 8 AND f.value ~ '^[0-9+ -]+$'
            ORDER  BY f.finding_id LIMIT 1
            """, ("r", round.Run.RoundId));
        var (school, district, phone) = picked.Split('|') switch { var p => (p[0], p[1], p[2]) };

        using var office = new PortalBrowser(round.Site);
        await office.SignInFirstTimeAsync("district-phone", await PortalBrowser.AccountAsync(Db.DataSource, "district-phone", AccountRole.District,
            district: district));
        var masked = await (await office.GetAsync("/school?code=" + school)).Content.ReadAsStringAsync();

        Assert.DoesNotContain(phone, masked, StringComparison.Ordinal);
        Assert.Contains(Masking.Phone(phone)!, masked, StringComparison.Ordinal);
        Assert.NotEqual(phone, Masking.Phone(phone));
    }

    [Fact, Trait("Category", "Security")]
    public async Task AReceipt_IsMaskedForTheDistrict_AndInFullForTheSchool_AndTheExplanationsForTheDataTeam_ShownOnlyWithAReason()
    {
        // A school's diligent return: corrections (with their old and new values) and explanations to review.
        var code = await Db.ScalarAsync<string>("""
            SELECT max(w.school_code) FROM exchange.worksheet w JOIN access.school_district d ON d.school_code = w.school_code
            WHERE  w.round_id = @r AND d.district_code IS NOT NULL
            """, ("r", round.Run.RoundId));
        var district = await Db.ScalarAsync<string>("SELECT district_code FROM access.school_district WHERE school_code = @s", ("s", code));
        using var school = new PortalBrowser(round.Site);
        await school.SignInFirstTimeAsync("school-receipt", await PortalBrowser.AccountAsync(Db.DataSource, "school-receipt", AccountRole.School, code));
        var worksheetId = await Db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s",
            ("r", round.Run.RoundId), ("s", code));
        var issued = await (await school.GetAsync($"/school/worksheets/{worksheetId}")).Content.ReadAsByteArrayAsync();
        var edited = RegistrarSimulator.Edit(issued, RegistrarAnswers.Load(round.Province.RegistrarAnswersPath).GetValueOrDefault(code) ?? [],
            RegistrarStyle.Diligent, 31);
        var receiptPath = (await school.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook)).Headers.Location!.OriginalString;
        Assert.StartsWith("/school/returns/", receiptPath, StringComparison.Ordinal);

        // Every ID number, guardian's ID number, phone and student number the school's records ever held (every version).
        var secrets = new List<string>();
        await using (var command = Db.DataSource.CreateCommand("""
            SELECT DISTINCT btrim(v) FROM registry.record r,
                   unnest(ARRAY[r.id_number_raw, r.guardian_id_number_raw, r.guardian_phone_raw, r.student_no_raw]) v
            WHERE  r.school_code = @s AND length(btrim(v)) >= 11
            """))
        {
            command.Parameters.AddWithValue("s", code);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                secrets.Add(reader.GetString(0));
            }
        }

        // The school reads its receipt in full.
        var full = await (await school.GetAsync(receiptPath)).Content.ReadAsStringAsync();
        var shownToSchool = secrets.Where(s => full.Contains(s, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(shownToSchool);

        // Its district reads it masked: nothing of those whole, their masks instead.
        using var office = new PortalBrowser(round.Site);
        await office.SignInFirstTimeAsync("district-receipt", await PortalBrowser.AccountAsync(Db.DataSource, "district-receipt", AccountRole.District,
            district: district));
        var masked = await (await office.GetAsync(receiptPath)).Content.ReadAsStringAsync();
        Assert.Contains("returned.xlsx", masked, StringComparison.Ordinal);
        Assert.All(secrets, s => Assert.DoesNotContain(s, masked, StringComparison.Ordinal));
        var studentNo = shownToSchool.First(s => char.IsAsciiLetter(s[0]));
        Assert.Contains(Masking.StudentNo(studentNo)!, masked, StringComparison.Ordinal);

        // "Show in full": without a reason refused, with one the receipt in full, on record.
        Assert.Equal(HttpStatusCode.BadRequest, (await office.PostAsync(receiptPath, receiptPath + "/show", new() { ["reason"] = "" })).StatusCode);
        var shown = await office.PostAsync(receiptPath, receiptPath + "/show", new() { ["reason"] = "核对回执更正" });
        Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
        Assert.Contains(studentNo, await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("核对回执更正", await Db.ScalarAsync<string>(
            "SELECT details->>'reason' FROM audit.event WHERE action = 'personal.show' AND actor = 'district-receipt' AND object = @o", ("o", receiptPath)));

        // The data team's list of the school's explanations: masked by default.
        var explained = await Db.ScalarAsync<string>("""
            SELECT min(c.student_no_raw) FROM exchange.explanation e
            JOIN   registry.record c ON c.round_id = e.round_id AND c.record_id = e.record_id AND c.version = e.record_version
            WHERE  e.school_code = @s AND e.status = 'pending'
            """, ("s", code));
        Assert.NotNull(explained);
        using var team = new PortalBrowser(round.Site);
        await team.SignInFirstTimeAsync("team-mask", await PortalBrowser.AccountAsync(Db.DataSource, "team-mask", AccountRole.DataTeam));
        var listPath = "/team/explanations?school=" + code;
        var list = await (await team.GetAsync(listPath)).Content.ReadAsStringAsync();
        Assert.Contains(Masking.StudentNo(explained)!, list, StringComparison.Ordinal);
        Assert.All(secrets, s => Assert.DoesNotContain(s, list, StringComparison.Ordinal));

        var noReason = await team.PostAsync(listPath, "/team/explanations/show", new() { ["school"] = code, ["reason"] = "  " });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.DoesNotContain(explained, await noReason.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'personal.show' AND actor = 'team-mask'"));

        var inFull = await team.PostAsync(listPath, "/team/explanations/show", new() { ["school"] = code, ["reason"] = "复核学校说明" });
        Assert.Equal(HttpStatusCode.OK, inFull.StatusCode);
        var fullList = await inFull.Content.ReadAsStringAsync();
        Assert.Contains(explained, fullList, StringComparison.Ordinal);
        Assert.Equal("复核学校说明", await Db.ScalarAsync<string>(
            "SELECT details->>'reason' FROM audit.event WHERE action = 'personal.show' AND actor = 'team-mask' AND school_code = @s", ("s", code)));
    }

    [Theory]
    [InlineData("户口簿上为230102200701010441，与学籍一致", "户口簿上为230102********0441，与学籍一致")]
    [InlineData("学籍号G23010220070101044X已核对", "学籍号G230102********044X已核对")]
    [InlineData("家长电话13812345678", "家长电话138****5678")]
    [InlineData("Sheet '问题清单', row 14: 2015-03-09", "Sheet '问题清单', row 14: 2015-03-09")]
    public void NumbersInAText_AreMaskedByTheOnePolicy(string text, string shown) => Assert.Equal(shown, StudentDataQuality.Identifiers.Masking.InText(text));
}
