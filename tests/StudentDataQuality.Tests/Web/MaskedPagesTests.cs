using System.Net;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// A school's page and a record's lineage read by its district office: student numbers and ID numbers masked by the one
/// policy; "show in full" needs a reason, which is put on record; the school's own account reads its values in full.
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
}
