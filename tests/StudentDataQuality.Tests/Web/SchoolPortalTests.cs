using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// A school in the portal, on a round run by the jobs: it sees its worksheet, downloads it (audited), uploads the corrected
/// file and reads the receipt; another school guessing the ids of that worksheet and receipt gets "not found", audited;
/// a manager gets no school page; a file that is no worksheet is refused with its reason and changes nothing.
/// </summary>
public sealed class SchoolPortalTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;
    private Uri _base => fixture.Site;
    private GenerationResult _province => fixture.Province;
    private RoundRun _run => fixture.Run;

    [Fact]
    public async Task ASchool_DownloadsItsWorksheet_UploadsTheCorrectedFile_AndReadsTheReceipt_WhileOthersCannot()
    {
        var (mine, other) = await TwoSchoolsAsync();
        using var school = new PortalBrowser(_base);
        await school.SignInFirstTimeAsync("school-" + mine, await PortalBrowser.AccountAsync(db.DataSource, "school-" + mine, AccountRole.School, mine));

        var page = await (await school.GetAsync("/school")).Content.ReadAsStringAsync();
        var worksheetId = await db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s",
            ("r", _run.RoundId), ("s", mine));
        Assert.Contains($"/school/worksheets/{worksheetId}", page, StringComparison.Ordinal);

        var download = await school.GetAsync($"/school/worksheets/{worksheetId}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        // The worksheet leaves watermarked, through the export register: the register's row of it holds these bytes' sha256.
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE kind = 'worksheet' AND taken_by = @a AND sha256 = @sha",
            ("a", "school-" + mine), ("sha", Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant())));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'worksheet.download' AND actor = @a AND object = @w", ("a", "school-" + mine), ("w", worksheetId.ToString())));

        var answers = RegistrarAnswers.Load(_province.RegistrarAnswersPath);
        var edited = RegistrarSimulator.Edit(bytes, answers.GetValueOrDefault(mine) ?? [], RegistrarStyle.Diligent, 31);
        var upload = await school.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook);
        Assert.Equal(HttpStatusCode.Redirect, upload.StatusCode);
        var receiptPath = upload.Headers.Location!.OriginalString;
        var returnId = await db.ScalarAsync<long>("SELECT return_id FROM exchange.worksheet_return WHERE worksheet_id = @w", ("w", worksheetId));
        Assert.Equal($"/school/returns/{returnId}", receiptPath);
        Assert.Equal("school-" + mine, await db.ScalarAsync<string>("SELECT received_by FROM exchange.worksheet_return WHERE return_id = @id", ("id", returnId)));
        var receipt = await (await school.GetAsync(receiptPath)).Content.ReadAsStringAsync();
        Assert.Contains($"#{returnId}", receipt, StringComparison.Ordinal);
        foreach (var outcome in (await db.ScalarAsync<string>(
                     "SELECT string_agg(DISTINCT r->>'Outcome', ',') FROM exchange.worksheet_return t, jsonb_array_elements(t.receipt->'Rows') r WHERE t.return_id = @id",
                     ("id", returnId))).Split(','))
        {
            Assert.Contains(Enum.Parse<StudentDataQuality.Worksheets.ReceiptOutcome>(outcome).Label(StudentDataQuality.Worksheets.WorksheetLanguage.Chinese),
                receipt, StringComparison.Ordinal);
        }
        var receiptFile = await school.GetAsync(receiptPath + "/receipt.xlsx");
        Assert.Equal(HttpStatusCode.OK, receiptFile.StatusCode);
        Assert.Equal("PK"u8.ToArray(), (await receiptFile.Content.ReadAsByteArrayAsync())[..2]);
        Assert.Contains($"/school/returns/{returnId}", await (await school.GetAsync("/school")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Another school, guessing: the worksheet and the receipt are "not found", and each refusal is audited.
        using var intruder = new PortalBrowser(_base);
        await intruder.SignInFirstTimeAsync("school-" + other, await PortalBrowser.AccountAsync(db.DataSource, "school-" + other, AccountRole.School, other));
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/school/worksheets/{worksheetId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync(receiptPath)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync(receiptPath + "/receipt.xlsx")).StatusCode);
        // A school account asking for another school's page gets its own.
        var asked = await (await intruder.GetAsync("/school?code=" + mine)).Content.ReadAsStringAsync();
        Assert.Contains($"<h1>{other} ·", asked, StringComparison.Ordinal);
        Assert.DoesNotContain(worksheetId.ToString(), asked, StringComparison.Ordinal);
        // A student of that school, by number (one this return changed, if any): the school itself reads the lineage ...
        var (corrected, changed) = await db.ScalarAsync<string>("""
            SELECT r->>'StudentNo' || '|' || (jsonb_array_length(r->'Changes') > 0)::text
            FROM   exchange.worksheet_return t, jsonb_array_elements(t.receipt->'Rows') r
            WHERE  t.return_id = @id AND coalesce(r->>'StudentNo', '') <> ''
            ORDER  BY jsonb_array_length(r->'Changes') > 0 DESC LIMIT 1
            """, ("id", returnId)) is var pair && pair.Split('|') is [var no, var flag] ? (no, flag == "true") : ("", false);
        var record = await db.ScalarAsync<long>("SELECT min(record_id) FROM registry.record WHERE round_id = @r AND student_no_raw = @n",
            ("r", _run.RoundId), ("n", corrected));
        var lineage = await school.GetAsync($"/school/records/{record}");
        Assert.Equal(HttpStatusCode.OK, lineage.StatusCode);
        var lineagePage = await lineage.Content.ReadAsStringAsync();
        Assert.Contains($"· {corrected}</h1>", lineagePage, StringComparison.Ordinal);
        if (changed)
        {
            Assert.Contains($"#{returnId} returned.xlsx", lineagePage, StringComparison.Ordinal);
        }

        // ... another school guessing it gets "not found", on record.
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/school/records/{record}")).StatusCode);
        Assert.Equal(4L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = @a", ("a", "school-" + other)));
        Assert.Equal("lineage", await db.ScalarAsync<string>(
            "SELECT details->>'what' FROM audit.event WHERE action = 'access.refused' AND actor = @a ORDER BY event_id DESC LIMIT 1", ("a", "school-" + other)));

        // A district office outside the school's district: its page and its open problems read as not there, on record.
        // (The school may be missing from the school master, and so in no district: any district is elsewhere then.)
        var district = await db.ScalarAsync<string?>("SELECT district_code FROM registry.school WHERE round_id = @r AND school_code = @s", ("r", _run.RoundId), ("s", mine));
        var elsewhere = await db.ScalarAsync<string>(
            "SELECT min(district_code) FROM registry.school WHERE round_id = @r AND district_code <> @d", ("r", _run.RoundId), ("d", district ?? ""));
        using var office = new PortalBrowser(_base);
        await office.SignInFirstTimeAsync("district-o" + elsewhere, await PortalBrowser.AccountAsync(db.DataSource, "district-o" + elsewhere, AccountRole.District, district: elsewhere));
        var page404 = await office.GetAsync("/school?code=" + mine);
        Assert.Equal(HttpStatusCode.NotFound, page404.StatusCode);
        Assert.DoesNotContain(worksheetId.ToString(), await page404.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await office.GetAsync($"/school/records/{record}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await office.GetAsync(receiptPath)).StatusCode);
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = @a", ("a", "district-o" + elsewhere)));

        // A manager reads aggregates only: no school page, no worksheet, no student.
        using var manager = new PortalBrowser(_base);
        await manager.SignInFirstTimeAsync("manager-p", await PortalBrowser.AccountAsync(db.DataSource, "manager-p", AccountRole.Manager));
        Assert.Equal("/denied", (await manager.GetAsync("/school?code=" + mine)).Headers.Location?.AbsolutePath);
        // The school pages' policy refuses a manager before any of them (the framework's redirect, an absolute address, to the
        // 403 page; on record), the worksheet and the receipt included.
        Assert.Equal("/denied", (await manager.GetAsync($"/school/worksheets/{worksheetId}")).Headers.Location?.AbsolutePath);
        Assert.Equal("/denied", (await manager.GetAsync(receiptPath)).Headers.Location?.AbsolutePath);
        Assert.Equal(HttpStatusCode.Forbidden, (await manager.GetAsync("/denied")).StatusCode);
        Assert.Equal("/denied", (await manager.GetAsync($"/school/records/{record}")).Headers.Location?.AbsolutePath);
        Assert.Equal("/denied", (await manager.GetAsync("/team/audit")).Headers.Location?.AbsolutePath);
        Assert.Equal(5L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'manager-p'"));
    }

    [Fact]
    public async Task AFileThatIsNoWorksheet_IsRefusedWithItsReason_AndChangesNothing()
    {
        var (mine, _) = await TwoSchoolsAsync();
        using var school = new PortalBrowser(_base);
        await school.SignInFirstTimeAsync("school-r" + mine[^3..], await PortalBrowser.AccountAsync(db.DataSource, "school-r" + mine[^3..], AccountRole.School, mine));
        var before = await db.StateCountsAsync();
        var refused = await school.UploadAsync("/school", "/school/returns", "students.csv", "学籍号,姓名\n1,2\n"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var page = await refused.Content.ReadAsStringAsync();
        Assert.Contains("students.csv", page, StringComparison.Ordinal);
        Assert.Contains("没有任何数据被修改", page, StringComparison.Ordinal);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE file_name = 'students.csv'"));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'worksheet.return.refused' AND actor = @a", ("a", "school-r" + mine[^3..])));
        // Rounds, files, record versions and schools as they were; the audit log two entries longer (the read of the school's
        // page the form is on, and the refusal).
        var counts = before.Split(',');
        counts[^1] = (long.Parse(counts[^1], System.Globalization.CultureInfo.InvariantCulture) + 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(string.Join(',', counts), await db.StateCountsAsync());
    }

    [Fact]
    public async Task UploadLimits_TooLargeAZipBombAndARenamedFile_AreRefusedWithTheirReasons_AndChangeNothing()
    {
        var (mine, _) = await TwoSchoolsAsync();
        var name = "school-l" + mine[^3..];
        using var school = new PortalBrowser(_base, "en");
        await school.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, AccountRole.School, mine));
        var before = await db.StateCountsAsync();

        // 22 MB: over the 20 MB limit; stopped before it is read, with the limit in the answer.
        var big = new byte[22 * 1024 * 1024];
        new Random(7).NextBytes(big);
        var tooLarge = await school.UploadAsync("/school", "/school/returns", "big.xlsx", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        var page = await tooLarge.Content.ReadAsStringAsync();
        Assert.Contains("is too large (&gt; 20 MB)", page, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", page, StringComparison.Ordinal);

        // A zip that unpacks to 64 MB of zeros, named as a workbook.
        using var bomb = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(bomb, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            await using var entry = zip.CreateEntry("xl/worksheets/sheet1.xml", System.IO.Compression.CompressionLevel.SmallestSize).Open();
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 64; i++)
            {
                await entry.WriteAsync(zeros);
            }
        }

        var zipBomb = await school.UploadAsync("/school", "/school/returns", "bomb.xlsx", bomb.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, zipBomb.StatusCode);
        Assert.Contains("The file &#x27;bomb.xlsx&#x27; unpacks to too much data or is packed abnormally", await zipBomb.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A text file renamed .xlsx.
        var renamed = await school.UploadAsync("/school", "/school/returns", "notes.xlsx", "not a workbook"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, renamed.StatusCode);
        Assert.Contains("is not an Excel workbook (.xlsx)", await renamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal("TooLarge,ZipBomb,NotXlsx", await db.ScalarAsync<string>(
            "SELECT string_agg(details->>'code', ',' ORDER BY event_id) FROM audit.event WHERE action = 'worksheet.return.refused' AND actor = @a", ("a", name)));
        // Rounds, files, record versions and schools as they were; the audit log six entries longer (the three reads of the
        // school's page the form is on, and the three refusals).
        var counts = before.Split(',');
        counts[^1] = (long.Parse(counts[^1], System.Globalization.CultureInfo.InvariantCulture) + 6).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(string.Join(',', counts), await db.StateCountsAsync());
    }

    [Fact]
    public async Task AnUploadWhoseBatchTakesLonger_IsAnsweredReceivedBeingChecked_AndItsPageFillsInWithTheReceipt()
    {
        // A portal of its own on the same round, whose batches wait 4 s for company and whose answers wait 0.3 s: an upload
        // is answered before its batch is done. The file is the one the certifying test returns (the same bytes).
        var code = (await SchoolsAsync())[^2];
        await using var app = Portal.Build(new PortalSettings(await db.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(db), IngestScenario.Key,
            "http://127.0.0.1:0")
        {
            Logging = new ConsoleErrors(), Returns = new ReturnBatching { MaxWaitMs = 4_000 }, UploadAnswerWithin = TimeSpan.FromMilliseconds(300),
        });
        await app.StartAsync();
        var site = new Uri(app.Urls.First());
        using var school = new PortalBrowser(site);
        await school.SignInFirstTimeAsync("school-w" + code, await PortalBrowser.AccountAsync(db.DataSource, "school-w" + code, AccountRole.School, code));
        var path = Directory.EnumerateFiles(_run.OutputDirectory, $"*_{code}_*.xlsx", SearchOption.AllDirectories).Single();
        var answers = RegistrarAnswers.Load(_province.RegistrarAnswersPath);
        var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path), answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);

        var upload = await school.UploadAsync("/school", "/school/returns", Path.GetFileName(path), edited.Workbook);

        Assert.Equal(HttpStatusCode.Redirect, upload.StatusCode);
        var pending = upload.Headers.Location!.OriginalString;
        Assert.StartsWith("/school/uploads/", pending, StringComparison.Ordinal);
        var checking = await school.GetAsync(pending);
        Assert.Equal(HttpStatusCode.OK, checking.StatusCode);
        Assert.Equal("3", Assert.Single(checking.Headers.GetValues("Refresh")));
        Assert.Contains("文件已收到，正在检查", await checking.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Nobody else can read where another account's upload stands.
        var other = (await SchoolsAsync())[^3];
        using var stranger = new PortalBrowser(site);
        await stranger.SignInFirstTimeAsync("school-w" + other, await PortalBrowser.AccountAsync(db.DataSource, "school-w" + other, AccountRole.School, other));
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync(pending)).StatusCode);

        var answer = checking;
        for (var tries = 0; answer.StatusCode == HttpStatusCode.OK && tries < 100; tries++)
        {
            await Task.Delay(200);
            answer = await school.GetAsync(pending);
        }

        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        var returnId = await db.ScalarAsync<long>("SELECT return_id FROM exchange.worksheet_return WHERE sha256 = @sha",
            ("sha", Convert.ToHexStringLower(SHA256.HashData(edited.Workbook))));
        Assert.Equal($"/school/returns/{returnId}", answer.Headers.Location!.OriginalString);
        Assert.Contains($"#{returnId}", await (await school.GetAsync($"/school/returns/{returnId}")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASchoolCertifiesOnlyWhenNothingIsLeft_AndItsDistrictApproves_WhileAnotherDistrictCannot()
    {
        // Diligent registrars answer every school but the first two (the other tests' schools).
        var ingest = new StudentDataQuality.Application.ReturnIngest(db.DataSource, IngestScenario.Key);
        var answers = RegistrarAnswers.Load(_province.RegistrarAnswersPath);
        var schools = await SchoolsAsync();
        foreach (var code in schools.Skip(2))
        {
            var path = Directory.EnumerateFiles(_run.OutputDirectory, $"*_{code}_*.xlsx", SearchOption.AllDirectories).Single();
            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path), answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);
            await ingest.IngestAsync(new MemoryStream(edited.Workbook), Path.GetFileName(path), new Account("school-" + code, AccountRole.School, code));
        }

        var clean = await FirstAsync(schools.Skip(2), blocking: false);
        var blocked = await FirstAsync(schools, blocking: true);
        using var blockedSchool = new PortalBrowser(_base, "en");
        await blockedSchool.SignInFirstTimeAsync("school-c" + blocked, await PortalBrowser.AccountAsync(db.DataSource, "school-c" + blocked, AccountRole.School, blocked));
        var notYet = await blockedSchool.PostAsync("/school", "/school/certify", []);
        Assert.Equal(HttpStatusCode.BadRequest, notYet.StatusCode);
        Assert.Contains("errors are open", await notYet.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.sign_off WHERE school_code = @s", ("s", blocked)));

        using var school = new PortalBrowser(_base);
        await school.SignInFirstTimeAsync("school-c" + clean, await PortalBrowser.AccountAsync(db.DataSource, "school-c" + clean, AccountRole.School, clean));
        var certified = await school.PostAsync("/school", "/school/certify", []);
        Assert.True(certified.StatusCode == HttpStatusCode.Redirect, $"{certified.StatusCode} {certified.Headers.Location} {await certified.Content.ReadAsStringAsync()}");
        Assert.Equal("/school", (await school.PostAsync("/school", "/school/certify", [])).Headers.Location?.OriginalString);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'school.certify' AND school_code = @s", ("s", clean)));

        var district = await db.ScalarAsync<string>("SELECT district_code FROM registry.school WHERE round_id = @r AND school_code = @s LIMIT 1",
            ("r", _run.RoundId), ("s", clean));
        var otherDistrict = await db.ScalarAsync<string>(
            "SELECT district_code FROM registry.school WHERE round_id = @r AND district_code <> @d AND district_code IS NOT NULL LIMIT 1", ("r", _run.RoundId), ("d", district));
        using var stranger = new PortalBrowser(_base);
        await stranger.SignInFirstTimeAsync("district-x" + otherDistrict,
            await PortalBrowser.AccountAsync(db.DataSource, "district-x" + otherDistrict, AccountRole.District, district: otherDistrict));
        Assert.DoesNotContain(clean, await (await stranger.GetAsync("/district?code=" + district)).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync("/", "/district/approve", new() { ["school"] = clean })).StatusCode);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = @a", ("a", "district-x" + otherDistrict)));

        using var office = new PortalBrowser(_base);
        await office.SignInFirstTimeAsync("district-c" + district, await PortalBrowser.AccountAsync(db.DataSource, "district-c" + district, AccountRole.District, district: district));
        var list = await (await office.GetAsync("/district")).Content.ReadAsStringAsync();
        Assert.Contains(clean, list, StringComparison.Ordinal);
        Assert.Contains("/district/approve", list, StringComparison.Ordinal);
        Assert.Equal("/district", (await office.PostAsync("/district", "/district/approve", new() { ["school"] = clean })).Headers.Location?.OriginalString);
        Assert.Equal("district-c" + district, await db.ScalarAsync<string>("SELECT approved_by FROM exchange.sign_off WHERE school_code = @s", ("s", clean)));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'school.approve' AND school_code = @s", ("s", clean)));
    }

    [Fact]
    public async Task TheDataTeam_ReviewsAnExplanation_AndSearchesTheAuditLog_WhileASchoolCannotOpenTheConsole()
    {
        // A diligent return of the last school brings explanations to review (the same bytes again are taken once).
        var schools = await SchoolsAsync();
        var code = schools[^1];
        var path = Directory.EnumerateFiles(_run.OutputDirectory, $"*_{code}_*.xlsx", SearchOption.AllDirectories).Single();
        var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path),
            RegistrarAnswers.Load(_province.RegistrarAnswersPath).GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 31);
        await new StudentDataQuality.Application.ReturnIngest(db.DataSource, IngestScenario.Key)
            .IngestAsync(new MemoryStream(edited.Workbook), Path.GetFileName(path), new Account("school-" + code, AccountRole.School, code));
        var pending = await db.ScalarAsync<long>("SELECT min(explanation_id) FROM exchange.explanation WHERE status = 'pending'");

        // In English, so that the refusal's words can be asserted as they were.
        using var team = new PortalBrowser(_base, "en");
        await team.SignInFirstTimeAsync("team-console", await PortalBrowser.AccountAsync(db.DataSource, "team-console", AccountRole.DataTeam));
        var console = await (await team.GetAsync("/team")).Content.ReadAsStringAsync();
        Assert.Contains("portal", console, StringComparison.Ordinal);
        // The explanations have their own page: each pending one with its box to tick for a decision.
        var list = await (await team.GetAsync("/team/explanations")).Content.ReadAsStringAsync();
        Assert.Contains($"name=\"id\" value=\"{pending}\"", list, StringComparison.Ordinal);

        var noNote = await team.PostAsync("/team/explanations", "/team/explanations/decide",
            new() { ["id"] = pending.ToString(CultureInfo.InvariantCulture), ["decision"] = "refuse", ["note"] = "" });
        Assert.Equal(HttpStatusCode.BadRequest, noNote.StatusCode);
        Assert.Contains("Say why", await noNote.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("pending", await db.ScalarAsync<string>("SELECT status FROM exchange.explanation WHERE explanation_id = @id", ("id", pending)));
        Assert.StartsWith("/team/explanations", (await team.PostAsync("/team/explanations", "/team/explanations/decide",
            new() { ["id"] = pending.ToString(CultureInfo.InvariantCulture), ["decision"] = "accept" })).Headers.Location?.OriginalString, StringComparison.Ordinal);
        Assert.Equal("accepted", await db.ScalarAsync<string>("SELECT status FROM exchange.explanation WHERE explanation_id = @id", ("id", pending)));
        Assert.Equal("team-console", await db.ScalarAsync<string>("SELECT reviewed_by FROM exchange.explanation WHERE explanation_id = @id", ("id", pending)));

        var audit = await (await team.GetAsync($"/team/audit?school={code}&action=worksheet.return")).Content.ReadAsStringAsync();
        Assert.Contains("school-" + code, audit, StringComparison.Ordinal);
        Assert.DoesNotContain("sign-in", audit, StringComparison.Ordinal);

        using var school = new PortalBrowser(_base);
        await school.SignInFirstTimeAsync("school-t" + code, await PortalBrowser.AccountAsync(db.DataSource, "school-t" + code, AccountRole.School, code));
        // The framework's access-denied redirect (an absolute address).
        Assert.Equal("/denied", (await school.GetAsync("/team")).Headers.Location?.AbsolutePath);
        Assert.Equal("/denied", (await school.GetAsync("/team/audit")).Headers.Location?.AbsolutePath);
    }

    /// <summary>The first school (of these) with, or without, anything that blocks its sign-off.</summary>
    private async Task<string> FirstAsync(IEnumerable<string> schools, bool blocking)
    {
        foreach (var code in schools)
        {
            var left = await db.ScalarAsync<long>("""
                SELECT count(*) FROM quality.finding f
                WHERE  f.round_id = @r AND f.school_code = @s AND f.status = 'open'
                  AND  (f.severity = 'error' OR NOT EXISTS (SELECT 1 FROM exchange.explanation x WHERE x.record_id = f.record_id
                                                            AND x.status IN ('pending', 'accepted') AND f.fingerprint = ANY (x.fingerprints)))
                """, ("r", _run.RoundId), ("s", code));
            if ((left > 0) == blocking)
            {
                return code;
            }
        }

        Assert.Fail($"no school {(blocking ? "with" : "without")} problems left");
        return "";
    }

    private async Task<List<string>> SchoolsAsync()
    {
        await using var command = db.DataSource.CreateCommand("SELECT school_code FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code");
        command.Parameters.AddWithValue("r", _run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var schools = new List<string>();
        while (await reader.ReadAsync())
        {
            schools.Add(reader.GetString(0));
        }

        return schools;
    }

    private async Task<(string Mine, string Other)> TwoSchoolsAsync()
    {
        await using var command = db.DataSource.CreateCommand("SELECT school_code FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code LIMIT 2");
        command.Parameters.AddWithValue("r", _run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var schools = new List<string>();
        while (await reader.ReadAsync())
        {
            schools.Add(reader.GetString(0));
        }

        return (schools[0], schools[1]);
    }
}
