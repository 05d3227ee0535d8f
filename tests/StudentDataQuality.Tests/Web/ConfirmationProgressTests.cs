using System.Net;
using System.Text.RegularExpressions;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The registrar's side of the parents' confirmations in the portal: a class printed by the store and answered by its class
/// teacher (unchanged, a phone corrected, a name corrected); the school's page shows the class's progress and the name
/// waiting, the registrar approves it from the page (the record's name is then the new one) and the figures move; a district
/// office sees only its schools' progress; a manager no school and no district table, only the trends' share per district.
/// </summary>
public sealed partial class ConfirmationProgressTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;

    private static readonly DateOnly Today =
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai")).DateTime);

    /// <summary>The store's renderer in these tests: the PDF itself is tested with the sheet's own tests and the browser test.</summary>
    private static byte[] Render(IReadOnlyList<ConfirmationSheet> sheets) => "%PDF-1.4 test"u8.ToArray();

    private async Task<(string School, string District, ClassKey Class, long NameChange, long Record)> AnsweredClassAsync(string teacher, int nth)
    {
        var row = await db.ScalarAsync<string>("""
            SELECT r.school_code || '|' || d.district_code || '|' || r.grade || '|' || r.class_name
            FROM   registry.current_record r JOIN access.school_district d ON d.school_code = r.school_code AND d.district_code IS NOT NULL
            WHERE  r.round_id = @r AND r.grade BETWEEN 1 AND 12 AND r.class_name <> ''
            GROUP  BY 1 HAVING count(*) >= 3 ORDER BY 1 LIMIT 1 OFFSET @nth
            """, ("r", fixture.Run.RoundId), ("nth", nth));
        var parts = row.Split('|');
        var key = new ClassKey(int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), parts[3]);
        var registrar = new Account("school-print-" + teacher, AccountRole.School, parts[0]);
        var store = new ConfirmationStore(db.DataSource);
        var printed = await store.PrintAsync(registrar, fixture.Run.RoundCode, parts[0], key, Render);
        await db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, ARRAY[@g]::smallint[], ARRAY[@c], 'test')",
            ("a", teacher), ("s", parts[0]), ("g", (short)key.Grade), ("c", key.ClassName));
        var outcomes = await store.AnswerAsync(new Account(teacher, AccountRole.ClassTeacher, parts[0]),
        [
            new SheetAnswer(printed.Sheets[0].SheetId, Today, new Dictionary<string, string>()),
            new SheetAnswer(printed.Sheets[1].SheetId, Today, new Dictionary<string, string> { ["guardian_phone"] = "13912345678" }),
            new SheetAnswer(printed.Sheets[2].SheetId, Today, new Dictionary<string, string> { ["name"] = "确认新名" }),
        ]);
        var change = outcomes[2].Changes.Single();
        Assert.Equal(ChangeStatus.Pending, change.Status);
        return (parts[0], parts[1], key, change.ChangeId, printed.Sheets[2].RecordId);
    }

    [Fact]
    public async Task TheRegistrar_SeesTheClassesProgress_ApprovesAWaitingName_AndTheFiguresMove()
    {
        var (school, _, key, changeId, recordId) = await AnsweredClassAsync("teacher-approve", 0);
        using var registrar = await SignedInAsync("registrar-" + school, AccountRole.School, school);
        var page = await (await registrar.GetAsync("/school")).Content.ReadAsStringAsync();
        var expected = await ConfirmationFixtureExpected(school, key);
        Assert.Equal(Cells(expected, waiting: 1), ClassRow(page, key));
        Assert.Contains($"data-change=\"{changeId}\"", page, StringComparison.Ordinal);
        Assert.Contains("确认新名", page, StringComparison.Ordinal);

        var answer = await registrar.PostAsync("/school", "/school/confirmations/decide",
            new() { ["change"] = changeId.ToString(System.Globalization.CultureInfo.InvariantCulture), ["decision"] = "approve", ["note"] = "纸质确认表与户口簿一致" });
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.Equal("确认新名", await db.ScalarAsync<string>("SELECT name FROM registry.current_record WHERE round_id = @r AND record_id = @id",
            ("r", fixture.Run.RoundId), ("id", recordId)));
        var after = await (await registrar.GetAsync(answer.Headers.Location!.OriginalString)).Content.ReadAsStringAsync();
        Assert.Equal(Cells(expected, waiting: 0), ClassRow(after, key));
        Assert.DoesNotContain($"data-change=\"{changeId}\"", after, StringComparison.Ordinal);
        Assert.Contains($"#{changeId}", after, StringComparison.Ordinal);

        // The same change again: already decided, said so, nothing changed.
        var again = await registrar.PostAsync("/school", "/school/confirmations/decide",
            new() { ["change"] = changeId.ToString(System.Globalization.CultureInfo.InvariantCulture), ["decision"] = "refuse" });
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        // The class printed from the page's button: a PDF download, one page per student of the class, each with its sheet id.
        var pdf = await registrar.PostAsync("/school", "/school/confirmations/print",
            new() { ["grade"] = key.Grade.ToString(System.Globalization.CultureInfo.InvariantCulture), ["class"] = key.ClassName });
        Assert.Equal(HttpStatusCode.OK, pdf.StatusCode);
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", pdf.Content.Headers.ContentDisposition?.DispositionType);
        var pages = (await PdfTextAsync(await pdf.Content.ReadAsByteArrayAsync())).Split('\f', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.Trim().Length > 0).ToList();
        Assert.Equal(expected.Students, pages.Count);
        var newest = await db.ScalarAsync<string[]>("""
            SELECT array_agg(s.sheet_id) FROM confirm.sheet s
            WHERE s.print_id = (SELECT max(print_id) FROM confirm.print WHERE school_code = @s)
            """, ("s", school));
        Assert.All(newest, id => Assert.Contains(pages, p => p.Contains(StudentDataQuality.Confirmations.SheetId.Format(id), StringComparison.Ordinal)));

        // A hostile class to print: refused with a page that says what to do, nothing printed.
        var prints = await db.ScalarAsync<long>("SELECT count(*) FROM confirm.print");
        var bad = await registrar.PostAsync("/school", "/school/confirmations/print", new() { ["grade"] = "13", ["class"] = "<script>" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(prints, await db.ScalarAsync<long>("SELECT count(*) FROM confirm.print"));
    }

    [Fact]
    public async Task ADistrictSeesOnlyItsSchools_AndAManagerOnlyTheTrendsShare()
    {
        var (school, district, _, _, _) = await AnsweredClassAsync("teacher-district", 1);
        using var office = await SignedInAsync("district-" + district, AccountRole.District, district: district);
        var page = await (await office.GetAsync("/district/confirmations")).Content.ReadAsStringAsync();
        var listed = SchoolRow().Matches(page).Select(m => m.Groups[1].Value).ToList();
        var own = await db.ScalarAsync<string[]>("""
            SELECT array_agg(DISTINCT s.school_code) FROM registry.school s JOIN access.school_district d ON d.school_code = s.school_code
            WHERE s.round_id = @r AND d.district_code = @d
            """, ("r", fixture.Run.RoundId), ("d", district));
        Assert.Contains(school, listed);
        Assert.Equal(own.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        // Asking for another district reads its own all the same.
        var other = await db.ScalarAsync<string>("SELECT min(district_code) FROM access.school_district WHERE district_code <> @d", ("d", district));
        var asked = await (await office.GetAsync("/district/confirmations?code=" + Uri.EscapeDataString(other))).Content.ReadAsStringAsync();
        Assert.Equal(listed.Order(StringComparer.Ordinal), SchoolRow().Matches(asked).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal));

        using var manager = await SignedInAsync("manager-confirm", AccountRole.Manager);
        foreach (var path in new[] { "/school?code=" + Uri.EscapeDataString(school), "/district/confirmations" })
        {
            var refused = await manager.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            Assert.Equal("/denied", refused.Headers.Location?.AbsolutePath);
        }

        var trends = await (await manager.GetAsync("/trends")).Content.ReadAsStringAsync();
        // The confirmations' section (its chart and table): districts and counts, no school, no student.
        var start = trends.IndexOf("id=\"confirmations\"", StringComparison.Ordinal);
        var section = trends[start..trends.IndexOf("id=\"districts\"", start, StringComparison.Ordinal)];
        Assert.Contains("id=\"confirmations-table\"", section, StringComparison.Ordinal);
        Assert.Contains(">" + district + "<", section, StringComparison.Ordinal);
        Assert.DoesNotContain(school, section, StringComparison.Ordinal);
        Assert.DoesNotContain("确认新名", trends, StringComparison.Ordinal);
    }

    private Task<ConfirmationFigures> ConfirmationFixtureExpected(string school, ClassKey key) =>
        Confirmations.ConfirmationFixture.ExpectedAsync(db, fixture.Run.RoundId, "r.school_code = @s AND r.grade = @g AND r.class_name = @c",
            ("s", school), ("g", (short)key.Grade), ("c", key.ClassName));

    /// <summary>The class row's figures as the page shows them (the waiting changes as given: the count at that moment).</summary>
    private static List<string> Cells(ConfirmationFigures f, int waiting) =>
        [.. new[] { f.Students, f.Printed, f.Returned, f.Unchanged, f.Corrected, waiting, f.Outstanding }.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The first seven figures of the class's row on the school's page.</summary>
    private static List<string> ClassRow(string page, ClassKey key)
    {
        var start = page.IndexOf($"data-class=\"{WebUtility.HtmlEncode(key.ToString())}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, "no row for " + key);
        var row = page[start..page.IndexOf("</tr>", start, StringComparison.Ordinal)];
        return [.. NumberCell().Matches(row).Select(m => m.Groups[1].Value).Take(7)];
    }

    /// <summary>The PDF's text as poppler's pdftotext reads it (pages separated by form feeds).</summary>
    private static async Task<string> PdfTextAsync(byte[] pdf)
    {
        var path = Path.Combine(Path.GetTempPath(), "sdq-progress-" + Guid.NewGuid().ToString("N") + ".pdf");
        await File.WriteAllBytesAsync(path, pdf);
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo("pdftotext", ["-enc", "UTF-8", path, "-"]) { RedirectStandardOutput = true };
            using var process = System.Diagnostics.Process.Start(start)!;
            var text = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal(0, process.ExitCode);
            return text;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task<PortalBrowser> SignedInAsync(string account, AccountRole role, string? school = null, string? district = null)
    {
        var browser = new PortalBrowser(fixture.Site);
        await browser.SignInFirstTimeAsync(account, await PortalBrowser.AccountAsync(db.DataSource, account, role, school, district));
        return browser;
    }

    [GeneratedRegex("""<td class="num">(\d+)</td>""")]
    private static partial Regex NumberCell();

    [GeneratedRegex("""<tr data-school="([^"]+)">""")]
    private static partial Regex SchoolRow();
}
