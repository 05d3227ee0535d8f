using Microsoft.Playwright;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The parents' confirmation round trip in a real browser (issue 18's "Done when"): the registrar prints a class's sheets
/// from the school page (the PDF read back with pdftotext: a page per student, its values, its sheet id); the class teacher
/// signs in and enters one sheet confirmed unchanged, one with a corrected phone and one with a corrected name; the phone is
/// applied and re-checked, the name waits; the registrar approves it; the lineage page shows the sheet id, the class
/// teacher and the registrar.
/// </summary>
public sealed class ConfirmationRoundTripBrowserTests(ConfirmationRoundTripBrowserTests.Site site) : IClassFixture<ConfirmationRoundTripBrowserTests.Site>
{
    public sealed class Site : IAsyncLifetime
    {
        public PortalRound Round { get; } = new();
        public Chromium Chromium { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Round.InitializeAsync();
            Chromium = await Chromium.LaunchAsync();
        }

        public async Task DisposeAsync()
        {
            await Chromium.DisposeAsync();
            await Round.DisposeAsync();
        }
    }

    private DatabaseFixture Db => site.Round.Database;

    [Fact]
    public async Task TheRegistrarPrints_TheTeacherEntersAnswers_TheRegistrarApprovesTheName_AndLineageNamesThemAll()
    {
        // A class of at least three students, and its school's registrar.
        var picked = await Db.ScalarAsync<string>("""
            SELECT school_code || '|' || grade || '|' || class_name FROM registry.record
            WHERE  round_id = @r AND is_current AND NOT registration_removed AND grade BETWEEN 1 AND 12 AND class_name ~ '^[0-9]+班$'
            GROUP  BY school_code, grade, class_name HAVING count(*) >= 3 ORDER BY count(*), 1 LIMIT 1
            """, ("r", site.Round.Run.RoundId));
        var parts = picked.Split('|');
        var (school, key) = (parts[0], new ClassKey(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[2]));
        var registrarName = "school-" + school;
        var registrar = await site.Chromium.NewPageAsync(site.Round.Site);
        await Authenticators.SignInFirstTimeInBrowserAsync(registrar, "/school", registrarName,
            await PortalBrowser.AccountAsync(Db.DataSource, registrarName, AccountRole.School, school));

        // 1. The registrar prints the class's sheets from the school page.
        await registrar.GotoAsync("/school");
        var download = await registrar.RunAndWaitForDownloadAsync(() =>
            registrar.Locator($"tr[data-class='{key}']").GetByRole(AriaRole.Button, new() { Name = "打印确认表" }).ClickAsync());
        var pdfPath = Path.Combine(Chromium.Screenshots, "confirmation-class.pdf");
        await download.SaveAsAsync(pdfPath);
        var pdf = await File.ReadAllBytesAsync(pdfPath);
        var pages = Poppler.Pages(pdf);
        var sheets = await SheetsAsync(school, key);
        Assert.Equal(sheets.Count, pages.Count);
        for (var i = 0; i < sheets.Count; i++)
        {
            var (sheetId, _, name, phone) = sheets[i];
            var text = pages[i];
            Assert.Contains(SheetId.Format(sheetId), text, StringComparison.Ordinal);
            Assert.Contains(name, text, StringComparison.Ordinal);
            Assert.Contains(phone ?? "", text, StringComparison.Ordinal);
            Assert.Contains("学籍基础信息确认表", text, StringComparison.Ordinal);
        }

        Poppler.SavePng(pdf, 1, 100, Path.Combine(Chromium.Screenshots, "confirmation-class-page1.png"));

        // 2. The class teacher signs in and enters three sheets.
        var teacherName = "ct-" + school + "-rt";
        await Db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, @g, @c, 'test')",
            ("a", teacherName), ("s", school), ("g", new[] { (short)key.Grade }), ("c", new[] { key.ClassName }));
        var teacherPassword = Passwords.OneTime();
        await new SignIns(Db.DataSource).SetPasswordAsync(teacherName, Passwords.Hash(teacherName, teacherPassword), oneTime: true, "test");
        var teacher = await site.Chromium.NewPageAsync(site.Round.Site, width: 390, height: 844);
        await Authenticators.SignInFirstTimeInBrowserAsync(teacher, "/class", teacherName, teacherPassword);

        var (unchanged, phoneSheet, nameSheet) = (sheets[0], sheets[1], sheets[2]);
        await OpenSheetAsync(teacher, unchanged.SheetId);
        await teacher.GetByRole(AriaRole.Button, new() { Name = "家长确认无误" }).ClickAsync();
        await teacher.Locator("h1", new() { HasText = "家长回执已录入" }).WaitForAsync();

        var newPhone = phoneSheet.Phone == "13812345678" ? "13887654321" : "13812345678";
        await OpenSheetAsync(teacher, phoneSheet.SheetId);
        await teacher.Locator("#v-guardian_phone").FillAsync(newPhone);
        await teacher.GetByRole(AriaRole.Button, new() { Name = "录入更正" }).ClickAsync();
        await teacher.Locator("table.changes").WaitForAsync();

        var newName = nameSheet.Name + "华";
        await OpenSheetAsync(teacher, nameSheet.SheetId);
        await teacher.Locator("#v-name").FillAsync(newName);
        await teacher.GetByRole(AriaRole.Button, new() { Name = "录入更正" }).ClickAsync();
        await teacher.Locator("table.changes").WaitForAsync();
        await teacher.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "confirmation-name-waits.png"), FullPage = true });
        Assert.Contains("待学籍管理员审核", await teacher.Locator("table.changes").InnerTextAsync(), StringComparison.Ordinal);

        // The phone is applied and re-checked (a re-check of that record by the teacher); the name waits.
        Assert.Equal(newPhone, await CurrentAsync("guardian_phone_raw", phoneSheet.RecordId));
        Assert.True(await Db.ScalarAsync<bool>("""
            SELECT EXISTS (SELECT FROM quality.check_run WHERE round_id = @r AND actor = @a AND scope <> 'full')
            """, ("r", site.Round.Run.RoundId), ("a", teacherName)));
        Assert.Equal(nameSheet.Name, await CurrentAsync("name", nameSheet.RecordId));
        Assert.Equal("unchanged", await Db.ScalarAsync<string>("SELECT outcome FROM confirm.answer WHERE sheet_id = @s", ("s", unchanged.SheetId)));

        // 3. The registrar approves the name from the school page.
        await registrar.GotoAsync("/school");
        var row = registrar.Locator("table.pending tr", new() { HasText = SheetId.Format(nameSheet.SheetId) });
        Assert.Contains(newName, await row.InnerTextAsync(), StringComparison.Ordinal);
        await row.GetByRole(AriaRole.Button, new() { Name = "批准" }).ClickAsync();
        await registrar.Locator("p.done").WaitForAsync();
        Assert.Equal(newName, await CurrentAsync("name", nameSheet.RecordId));

        // 4. Lineage names the sheet, the class teacher and the registrar.
        await registrar.GotoAsync($"/school/records/{nameSheet.RecordId}");
        var lineage = await registrar.Locator("body").InnerTextAsync();
        await registrar.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "confirmation-lineage.png"), FullPage = true });
        Assert.Contains(SheetId.Format(nameSheet.SheetId), lineage, StringComparison.Ordinal);
        Assert.Contains(teacherName, lineage, StringComparison.Ordinal);
        Assert.Contains(registrarName, lineage, StringComparison.Ordinal);
        Assert.Contains(newName, lineage, StringComparison.Ordinal);
    }

    private static async Task OpenSheetAsync(IPage page, string sheetId)
    {
        await page.GotoAsync("/class");
        await page.GetByRole(AriaRole.Link, new() { Name = SheetId.Format(sheetId) }).ClickAsync();
        await page.WaitForURLAsync("**/class/sheets/" + sheetId);
    }

    private async Task<List<(string SheetId, long RecordId, string Name, string? Phone)>> SheetsAsync(string school, ClassKey key)
    {
        await using var command = Db.DataSource.CreateCommand("""
            SELECT s.sheet_id, s.record_id, s.printed_values ->> 'name', s.printed_values ->> 'guardian_phone'
            FROM   confirm.sheet s JOIN registry.record r ON r.round_id = s.round_id AND r.record_id = s.record_id AND r.version = s.record_version
            WHERE  s.round_id = @r AND s.school_code = @s AND s.grade = @g AND s.class_name = @c
            ORDER  BY r.student_no_raw NULLS LAST, s.record_id
            """);
        command.Parameters.AddWithValue("r", site.Round.Run.RoundId);
        command.Parameters.AddWithValue("s", school);
        command.Parameters.AddWithValue("g", (short)key.Grade);
        command.Parameters.AddWithValue("c", key.ClassName);
        await using var reader = await command.ExecuteReaderAsync();
        var sheets = new List<(string, long, string, string?)>();
        while (await reader.ReadAsync())
        {
            sheets.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return sheets;
    }

    private Task<string> CurrentAsync(string column, long recordId) =>
        Db.ScalarAsync<string>($"SELECT {column} FROM registry.record WHERE round_id = @r AND record_id = @id AND is_current",
            ("r", site.Round.Run.RoundId), ("id", recordId));
}
