using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The export pages over HTTP (docs/exports.md, "In the portal"): a manager gets none of them and the register records
/// nothing; a district office takes its problem list masked, watermarked with the export's id and on record; a request is
/// asked with its purpose, never approved by its requester, approved by a second data-team account, taken once (the bytes
/// are those the register hashed), then gone (410); an approved request past its window is gone too.
/// </summary>
public sealed partial class ExportPagesTests(PortalRound round) : IClassFixture<PortalRound>
{
    private DatabaseFixture Db => round.Database;

    [Fact, Trait("Category", "Security")]
    public async Task AManager_GetsNoneOfTheExportPages_AndTheRegisterRecordsNothing()
    {
        using var manager = await SignedInAsync("manager-export", AccountRole.Manager);
        foreach (var path in new[] { "/exports", "/team/exports", "/district/problems.xlsx", "/district/problems.xlsx?code=" + await DistrictAsync() })
        {
            var refused = await manager.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            Assert.Equal("/denied", refused.Headers.Location?.AbsolutePath);
        }

        // The forms too, with a valid token of a page the manager may open.
        foreach (var action in new[] { "/exports", "/exports/1/download", "/team/exports/decide" })
        {
            var refused = await manager.PostAsync("/", action, new() { ["kind"] = "problem_list", ["request"] = "1", ["decision"] = "approve" });
            Assert.Equal("/denied", refused.Headers.Location?.AbsolutePath);
        }

        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE taken_by = 'manager-export'"));
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.request WHERE requested_by = 'manager-export'"));
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'manager-export' AND action = 'access.refused'") >= 7);
    }

    [Fact, Trait("Category", "Security")]
    public async Task ADistrict_TakesItsProblemListMasked_WatermarkedWithTheExport_OnRecord()
    {
        var district = await DistrictAsync();
        using var office = await SignedInAsync("district-export", AccountRole.District, district: district);
        var page = await (await office.GetAsync("/district")).Content.ReadAsStringAsync();
        Assert.Contains("/district/problems.xlsx?code=" + district, page, StringComparison.Ordinal);

        // Another district asked for in the address: its own all the same (as every district page).
        var other = await Db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district WHERE district_code <> @d", ("d", district));
        var answer = await office.GetAsync("/district/problems.xlsx?code=" + other);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("attachment", answer.Content.Headers.ContentDisposition?.DispositionType);
        Assert.True(answer.Headers.CacheControl?.NoStore);
        Assert.Contains("nosniff", answer.Headers.GetValues("X-Content-Type-Options"));
        var bytes = await answer.Content.ReadAsByteArrayAsync();

        var watermark = XlsxWatermark.Read(new MemoryStream(bytes));
        Assert.NotNull(watermark);
        Assert.Equal("district-export", watermark.TakenBy);
        Assert.Equal(ExportKind.ProblemList, watermark.Kind);
        Assert.Equal(ExportForm.Masked, watermark.Form);
        var record = await Db.ScalarAsync<string>("""
            SELECT kind || '|' || form || '|' || scope || '|' || sha256 || '|' || (request_id IS NULL)
            FROM   export.file WHERE export_id = @id AND taken_by = 'district-export'
            """, ("id", watermark.ExportId));
        Assert.Equal($"problem_list|masked|district:{district}|{Sha256(bytes)}|true", record);
        Assert.Contains(ExportId.Format(watermark.ExportId), answer.Content.Headers.ContentDisposition?.FileName ?? "", StringComparison.Ordinal);
    }

    [Fact, Trait("Category", "Security")]
    public async Task ADistrict_CannotAskForAnotherDistrict_NorTheProvince()
    {
        var district = await DistrictAsync();
        var other = await Db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district WHERE district_code <> @d", ("d", district));
        using var office = await SignedInAsync("district-asks", AccountRole.District, district: district);
        var form = await (await office.GetAsync("/exports")).Content.ReadAsStringAsync();
        Assert.Contains("name=\"district\" value=\"" + district + "\"", form, StringComparison.Ordinal);
        // Changes for the registry are the data team's alone: not offered.
        Assert.DoesNotContain("value=\"changes\"", form, StringComparison.Ordinal);

        foreach (var (scope, code) in new[] { ("district", other), ("province", "") })
        {
            var refused = await office.PostAsync("/exports", "/exports", Ask("problem_list", scope, code, "核对他区问题"));
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.request WHERE requested_by = 'district-asks'"));
        Assert.Equal(2L, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE actor = 'district-asks' AND action = 'access.refused' AND details::text LIKE '%export scope%'"));

        // A purpose is required, and hostile text in it stays text.
        var noPurpose = await office.PostAsync("/exports", "/exports", Ask("problem_list", "district", district, "  "));
        Assert.Equal(HttpStatusCode.BadRequest, noPurpose.StatusCode);
        var hostile = "<script>alert(1)</script> =cmd|' /C calc'!A0";
        var asked = await office.PostAsync("/exports", "/exports", Ask("problem_list", "district", district, hostile));
        Assert.Equal(HttpStatusCode.Redirect, asked.StatusCode);
        var own = await (await office.GetAsync(asked.Headers.Location!.OriginalString)).Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>alert(1)", own, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", own, StringComparison.Ordinal);
        Assert.Equal(hostile, await Db.ScalarAsync<string>("SELECT purpose FROM export.request WHERE requested_by = 'district-asks'"));
    }

    [Fact, Trait("Category", "Security")]
    public async Task ARequest_IsNeverApprovedByItsRequester_IsApprovedByASecond_TakenOnce_ThenGone()
    {
        using var asker = await SignedInAsync("team-asker", AccountRole.DataTeam);
        using var approver = await SignedInAsync("team-approver", AccountRole.DataTeam);
        var asked = await asker.PostAsync("/exports", "/exports", Ask("problem_list", "province", "", "省级问题核查"));
        Assert.Equal(HttpStatusCode.Redirect, asked.StatusCode);
        var id = await Db.ScalarAsync<long>("SELECT max(request_id) FROM export.request WHERE requested_by = 'team-asker'");

        // The requester's register: the request without buttons; the POST refused by the register all the same.
        var own = Row(await (await asker.GetAsync("/team/exports")).Content.ReadAsStringAsync(), id);
        Assert.DoesNotContain("/team/exports/decide", own, StringComparison.Ordinal);
        var refused = await asker.PostAsync("/team/exports", "/team/exports/decide", new() { ["request"] = $"{id}", ["decision"] = "approve" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Null(await Db.ScalarAsync<string?>("SELECT decision FROM export.request WHERE request_id = @id", ("id", id)));
        // Not approved yet: nothing to take.
        Assert.DoesNotContain($"/exports/{id}/download", await (await asker.GetAsync("/exports")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A second account sees the buttons and approves.
        Assert.Contains("/team/exports/decide", Row(await (await approver.GetAsync("/team/exports")).Content.ReadAsStringAsync(), id),
            StringComparison.Ordinal);
        var approved = await approver.PostAsync("/team/exports", "/team/exports/decide",
            new() { ["request"] = $"{id}", ["decision"] = "approve", ["note"] = "同意，限本轮核查" });
        Assert.Equal(HttpStatusCode.Redirect, approved.StatusCode);
        Assert.Equal("approved|team-approver", await Db.ScalarAsync<string>(
            "SELECT decision || '|' || decided_by FROM export.request WHERE request_id = @id", ("id", id)));

        // The requester takes it: the bytes are what the register hashed, watermarked with its export.
        var download = await asker.PostAsync("/exports", $"/exports/{id}/download", []);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        var record = await Db.ScalarAsync<string>(
            "SELECT export_id || '|' || sha256 || '|' || form || '|' || taken_by FROM export.file WHERE request_id = @id", ("id", id));
        var watermark = XlsxWatermark.Read(new MemoryStream(bytes));
        Assert.NotNull(watermark);
        Assert.Equal($"{watermark.ExportId}|{Sha256(bytes)}|full|team-asker", record);

        // Twice: gone, with what to do.
        var again = await asker.PostAsync("/exports", $"/exports/{id}/download", []);
        Assert.Equal(HttpStatusCode.Gone, again.StatusCode);
        Assert.Contains(ExportId.Format(watermark.ExportId), await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE request_id = @id", ("id", id)));

        // The register lists the file with its request's requester and approver; the filter by taker finds it, another does not.
        var register = Files(await (await approver.GetAsync("/team/exports?by=team-asker&kind=problem_list")).Content.ReadAsStringAsync());
        Assert.Contains(ExportId.Format(watermark.ExportId), register, StringComparison.Ordinal);
        Assert.Contains("team-approver", register, StringComparison.Ordinal);
        var filtered = Files(await (await approver.GetAsync("/team/exports?by=nobody&form=masked")).Content.ReadAsStringAsync());
        Assert.DoesNotContain(ExportId.Format(watermark.ExportId), filtered, StringComparison.Ordinal);
        // Hostile filters are ignored and said so, never an error.
        var hostile = await approver.GetAsync("/team/exports?by=%27%3B%20DROP%20TABLE&kind=x&from=yesterday&page=-3");
        Assert.Equal(HttpStatusCode.OK, hostile.StatusCode);
        Assert.Contains("role=\"alert\"", await hostile.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact, Trait("Category", "Security")]
    public async Task TheChangesForTheRegistry_LeaveAsTheCsvWithItsSidecar_TheRegisterHoldingTheZipsAndTheCsvsSha256()
    {
        using var asker = await SignedInAsync("team-changes", AccountRole.DataTeam);
        using var approver = await SignedInAsync("team-changes-ok", AccountRole.DataTeam);
        Assert.Equal(HttpStatusCode.Redirect, (await asker.PostAsync("/exports", "/exports", Ask("changes", "province", "", "报送学籍系统"))).StatusCode);
        var id = await Db.ScalarAsync<long>("SELECT max(request_id) FROM export.request WHERE requested_by = 'team-changes'");
        await approver.PostAsync("/team/exports", "/team/exports/decide", new() { ["request"] = $"{id}", ["decision"] = "approve" });

        // A request for one district's changes is refused: the registry takes the province's whole.
        var audits = await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'changes.export'");
        await asker.PostAsync("/exports", "/exports", Ask("changes", "district", "230102", "one district only"));
        Assert.Equal(id, await Db.ScalarAsync<long>("SELECT max(request_id) FROM export.request WHERE requested_by = 'team-changes'"));

        var download = await asker.PostAsync("/exports", $"/exports/{id}/download", []);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var zipBytes = await download.Content.ReadAsByteArrayAsync();
        Assert.Equal(audits, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'changes.export'"));
        Assert.EndsWith(".zip", download.Content.Headers.ContentDisposition?.FileName?.Trim('"') ?? "", StringComparison.Ordinal);
        using var zip = new ZipArchive(new MemoryStream(zipBytes));
        var csv = Assert.Single(zip.Entries, e => e.Name.EndsWith(".csv", StringComparison.Ordinal));
        Assert.Single(zip.Entries, e => e.Name == csv.Name + ExportSidecar.Suffix);
        using var csvBytes = new MemoryStream();
        await using (var s = csv.Open())
        {
            await s.CopyToAsync(csvBytes);
        }

        // The register holds what left (the .zip) and the CSV as its part: a CSV found alone is known by its bytes.
        var exportId = await Db.ScalarAsync<string>("SELECT export_id FROM export.file WHERE request_id = @id AND sha256 = @sha",
            ("id", id), ("sha", Sha256(zipBytes)));
        var record = exportId + "|" + await Db.ScalarAsync<string>("SELECT sha256 FROM export.file_part WHERE export_id = @e AND file_name = @n",
            ("e", exportId), ("n", csv.Name));
        Assert.Equal(record.Split('|')[1], Sha256(csvBytes.ToArray()));
        var folder = Directory.CreateTempSubdirectory("sdq-sidecar-");
        try
        {
            zip.ExtractToDirectory(folder.FullName);
            var sidecar = ExportSidecar.Read(Path.Combine(folder.FullName, csv.Name + ExportSidecar.Suffix));
            Assert.True(sidecar.HasValue, "no sidecar in the envelope");
            Assert.Equal(record, sidecar.Value.Watermark.ExportId + "|" + sidecar.Value.Sha256);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact, Trait("Category", "Security")]
    public async Task AnApprovedRequest_PastItsWindow_IsGone_AndNothingLeaves()
    {
        var district = await DistrictAsync();
        using var office = await SignedInAsync("district-late", AccountRole.District, district: district);
        using var approver = await SignedInAsync("team-late", AccountRole.DataTeam);
        Assert.Equal(HttpStatusCode.Redirect,
            (await office.PostAsync("/exports", "/exports", Ask("problem_list", "district", district, "区县核查"))).StatusCode);
        var id = await Db.ScalarAsync<long>("SELECT max(request_id) FROM export.request WHERE requested_by = 'district-late'");
        await approver.PostAsync("/team/exports", "/team/exports/decide", new() { ["request"] = $"{id}", ["decision"] = "approve" });
        Assert.Contains($"/exports/{id}/download", await (await office.GetAsync("/exports")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var token = await office.FormTokenAsync("/exports");

        // The window ends (as 24 hours passing would).
        await Db.ExecuteAsync(
            // The window is never moved by anyone (request_moves_forward): the test steps past it with the trigger off.
            "BEGIN; ALTER TABLE export.request DISABLE TRIGGER request_moves_forward; UPDATE export.request SET expires_at = now() - interval '1 minute' WHERE request_id = @id; ALTER TABLE export.request ENABLE TRIGGER request_moves_forward; COMMIT", ("id", id));
        var gone = await office.Http.PostAsync(new Uri(round.Site, $"/exports/{id}/download"),
            new FormUrlEncodedContent(new Dictionary<string, string> { [office.TokenFieldName] = token }));
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE request_id = @id", ("id", id)));
        Assert.DoesNotContain($"/exports/{id}/download", await (await office.GetAsync("/exports")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Ask(string kind, string scope, string district, string purpose) => new()
    {
        ["kind"] = kind, ["round"] = "portal", ["scope"] = scope, ["district"] = district, ["purpose"] = purpose,
    };

    private async Task<string> DistrictAsync() => await Db.ScalarAsync<string>("""
        SELECT min(d.district_code) FROM access.school_district d JOIN exchange.worksheet w USING (school_code) WHERE w.round_id = @r
        """, ("r", round.Run.RoundId));

    private async Task<PortalBrowser> SignedInAsync(string name, AccountRole role, string? district = null)
    {
        var browser = new PortalBrowser(round.Site);
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(Db.DataSource, name, role, district: district));
        return browser;
    }

    /// <summary>The table row of one request on a page.</summary>
    private static string Row(string page, long requestId)
    {
        var row = RequestRow().Matches(page).FirstOrDefault(m => m.Groups[1].Value == requestId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotNull(row);
        return row.Value;
    }

    /// <summary>The register's list of files (after the requests, which name their exports too).</summary>
    private static string Files(string page) => page[page.IndexOf("id=\"files\"", StringComparison.Ordinal)..];

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [GeneratedRegex("""<tr id="request-(\d+)">.*?</tr>""", RegexOptions.Singleline)]
    private static partial Regex RequestRow();
}
