using System.Net;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// A round's class with its confirmation sheets printed (through the store; a trivial PDF, the pages only need the sheets), a
/// second class of the same school printed too, and a class teacher of the first class added as the command line adds one.
/// </summary>
public sealed record ClassCampaign(string School, ClassKey Class, PrintResult Printed, ClassKey OtherClass, PrintResult OtherPrinted)
{
    public static readonly Account DataTeam = new("team-confirm", AccountRole.DataTeam);

    /// <summary>Prints two classes of one school of the round (each of at least seven students) and opens the campaign with it.</summary>
    public static async Task<ClassCampaign> PrintAsync(PortalRound round)
    {
        var db = round.Database;
        var picked = await db.ScalarAsync<string>("""
            WITH classes AS (
                SELECT school_code, grade, class_name, count(*) AS students
                FROM   registry.record
                WHERE  round_id = @r AND is_current AND NOT registration_removed AND grade BETWEEN 1 AND 12
                  AND  class_name ~ '^[0-9]+班$'
                GROUP  BY 1, 2, 3 HAVING count(*) >= 7)
            SELECT string_agg(school_code || '|' || grade || '|' || class_name, ';' ORDER BY grade, class_name)
            FROM   classes
            WHERE  school_code = (SELECT school_code FROM classes GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 1)
            """, ("r", round.Run.RoundId));
        var classes = picked.Split(';').Take(2).Select(c => c.Split('|')).ToArray();
        var school = classes[0][0];
        var mine = new ClassKey(int.Parse(classes[0][1], System.Globalization.CultureInfo.InvariantCulture), classes[0][2]);
        var other = new ClassKey(int.Parse(classes[1][1], System.Globalization.CultureInfo.InvariantCulture), classes[1][2]);
        var store = new ConfirmationStore(db.DataSource);
        var printed = await store.PrintAsync(DataTeam, "portal", school, mine, _ => "%PDF-1.4"u8.ToArray());
        var otherPrinted = await store.PrintAsync(DataTeam, "portal", school, other, _ => "%PDF-1.4"u8.ToArray());
        return new ClassCampaign(school, mine, printed, other, otherPrinted);
    }

    /// <summary>A class teacher of this campaign's class, as `sdq user add --role class-teacher` adds one: its one-time password.</summary>
    public async Task<string> TeacherAsync(DatabaseFixture db, string name)
    {
        await db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, @g, @c, 'test')",
            ("a", name), ("s", School), ("g", new[] { (short)Class.Grade }), ("c", new[] { Class.ClassName }));
        var password = Passwords.OneTime();
        await new SignIns(db.DataSource).SetPasswordAsync(name, Passwords.Hash(name, password), oneTime: true, "test");
        return password;
    }

    /// <summary>A new value for a field: the candidate, unless the sheet printed exactly that (then the fallback).</summary>
    public static string Other(string? printed, string candidate, string fallback) => printed == candidate ? fallback : candidate;
}

/// <summary>
/// The class teacher's pages over HTTP (docs/confirmations.md, "The class teacher's pages"): the teacher sees its class in the
/// open campaign, finds a sheet by its id or a student, enters one sheet "confirmed unchanged", a corrected phone (applied at
/// once) and a corrected name (waiting for the registrar); a refused answer shows the form again with what was typed; another
/// class's sheet is "not found", audited; the workbook downloads with a safe name; a closed campaign shows no student.
/// </summary>
public sealed class ClassPagesTests(ClassPagesTests.Site site) : IClassFixture<ClassPagesTests.Site>
{
    public sealed class Site : IAsyncLifetime
    {
        public PortalRound Round { get; } = new();
        public ClassCampaign Campaign { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Round.InitializeAsync();
            Campaign = await ClassCampaign.PrintAsync(Round);
        }

        public Task DisposeAsync() => Round.DisposeAsync();
    }

    private DatabaseFixture Db => site.Round.Database;
    private ClassCampaign Campaign => site.Campaign;

    private async Task<PortalBrowser> TeacherAsync(string name, string? language = null)
    {
        var browser = new PortalBrowser(site.Round.Site, language);
        await browser.SignInFirstTimeAsync(name, await Campaign.TeacherAsync(Db, name));
        return browser;
    }

    /// <summary>The class page's search, posted as its form posts it.</summary>
    private static Task<HttpResponseMessage> Search(PortalBrowser teacher, string text) =>
        teacher.PostAsync("/class", "/class", new Dictionary<string, string> { ["q"] = text });

    private static Dictionary<string, string> Answer(string answer, string signed, params (string Field, string Value)[] values)
    {
        var form = new Dictionary<string, string> { ["answer"] = answer, ["signed"] = signed };
        foreach (var (field, value) in values)
        {
            form["v." + field] = value;
        }

        return form;
    }

    private static string Today => DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task TheTeacher_SeesItsClass_AndEntersUnchanged_ACorrectedPhone_AndACorrectedName()
    {
        using var teacher = await TeacherAsync("teacher-enters");
        var sheets = Campaign.Printed.Sheets;

        var classes = await teacher.GetAsync("/class");
        Assert.Equal(HttpStatusCode.OK, classes.StatusCode);
        var page = await classes.Content.ReadAsStringAsync();
        Assert.Contains(Campaign.Class.ToString(), page, StringComparison.Ordinal);
        foreach (var sheet in sheets)
        {
            Assert.Contains(SheetId.Format(sheet.SheetId), page, StringComparison.Ordinal);
            Assert.Contains(sheet["name"]!, page, StringComparison.Ordinal);
        }

        // Nothing of the other class of the same school.
        Assert.DoesNotContain(SheetId.Format(Campaign.OtherPrinted.Sheets[0].SheetId), page, StringComparison.Ordinal);
        Assert.DoesNotContain(Campaign.OtherPrinted.Sheets[0]["name"]!, page, StringComparison.Ordinal);
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'confirmation.class.read' AND actor = 'teacher-enters'") >= 1);

        // The search: a sheet id as a person types it (lower case, no dashes), and a student's number.
        var (a, b, c) = (sheets[0], sheets[1], sheets[2]);
        Assert.Equal("/class/sheets/" + a.SheetId, (await Search(teacher, " " + a.SheetId.ToLowerInvariant() + " ")).Headers.Location?.OriginalString);
        Assert.Equal("/class/sheets/" + b.SheetId, (await Search(teacher, b.StudentNo!)).Headers.Location?.OriginalString);
        var none = await (await Search(teacher, "<b>无此人</b>")).Content.ReadAsStringAsync();
        Assert.Contains("没有找到“&lt;b&gt;无此人&lt;/b&gt;”", none, StringComparison.Ordinal);

        // One sheet confirmed unchanged.
        var sheetPage = "/class/sheets/" + SheetId.Format(a.SheetId);
        var form = await (await teacher.GetAsync(sheetPage)).Content.ReadAsStringAsync();
        Assert.Contains($"value=\"{Today}\"", form, StringComparison.Ordinal);
        var unchanged = await teacher.PostAsync(sheetPage, "/class/sheets/" + a.SheetId, Answer("unchanged", Today));
        Assert.Equal(HttpStatusCode.OK, unchanged.StatusCode);
        Assert.Contains("已记录：家长确认无误。", await unchanged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("unchanged", await Db.ScalarAsync<string>("SELECT outcome FROM confirm.answer WHERE sheet_id = @s", ("s", a.SheetId)));

        // A corrected phone: applied at once (the record holds it now) and re-checked.
        var phone = ClassCampaign.Other(b["guardian_phone"], "13912345678", "13987654321");
        var corrected = await teacher.PostAsync("/class/sheets/" + b.SheetId, "/class/sheets/" + b.SheetId,
            Answer("corrected", Today, ("guardian_phone", phone)));
        Assert.Equal(HttpStatusCode.OK, corrected.StatusCode);
        var result = await corrected.Content.ReadAsStringAsync();
        Assert.Contains(phone, result, StringComparison.Ordinal);
        Assert.Contains("已更正", result, StringComparison.Ordinal);
        Assert.Equal("applied", await Db.ScalarAsync<string>(
            "SELECT h.status FROM confirm.change h JOIN confirm.answer a USING (answer_id) WHERE a.sheet_id = @s AND h.field = 'guardian_phone'", ("s", b.SheetId)));
        Assert.Equal(phone, await Db.ScalarAsync<string>(
            "SELECT guardian_phone_raw FROM registry.record WHERE round_id = @r AND record_id = @id AND is_current", ("r", site.Round.Run.RoundId), ("id", b.RecordId)));

        // A corrected name: it waits for the registrar, and the record keeps its name.
        var name = ClassCampaign.Other(c["name"], "王小明", "李小红");
        var waiting = await teacher.PostAsync("/class/sheets/" + c.SheetId, "/class/sheets/" + c.SheetId, Answer("corrected", Today, ("name", name)));
        Assert.Equal(HttpStatusCode.OK, waiting.StatusCode);
        Assert.Contains("待学籍管理员审核（身份信息）", await waiting.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("pending", await Db.ScalarAsync<string>(
            "SELECT h.status FROM confirm.change h JOIN confirm.answer a USING (answer_id) WHERE a.sheet_id = @s AND h.field = 'name'", ("s", c.SheetId)));
        Assert.Equal(c["name"], await Db.ScalarAsync<string>(
            "SELECT name_raw FROM registry.record WHERE round_id = @r AND record_id = @id AND is_current", ("r", site.Round.Run.RoundId), ("id", c.RecordId)));

        // An answered sheet shows its answer, read-only; posting another answer to it takes nothing.
        var answered = await (await teacher.GetAsync("/class/sheets/" + c.SheetId)).Content.ReadAsStringAsync();
        Assert.DoesNotContain("name=\"v.name\"", answered, StringComparison.Ordinal);
        Assert.Contains(name, answered, StringComparison.Ordinal);
        var again = await teacher.PostAsync("/class/sheets/" + a.SheetId, "/class/sheets/" + a.SheetId, Answer("corrected", Today, ("address", "别处")));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(0L, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM confirm.change h JOIN confirm.answer a USING (answer_id) WHERE a.sheet_id = @s", ("s", a.SheetId)));

        // The class page counts them.
        var after = await (await teacher.GetAsync("/class")).Content.ReadAsStringAsync();
        Assert.Contains($"确认无误 1，已更正 2", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARefusedAnswer_ShowsTheFormAgain_WithWhatWasTyped_AndTakesNothing()
    {
        using var teacher = await TeacherAsync("teacher-refused");
        var sheet = Campaign.Printed.Sheets[3];
        var path = "/class/sheets/" + sheet.SheetId;

        // A signing date in the future: the store refuses it; the form comes back with the value typed and the date.
        var future = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).AddDays(10).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var refused = await teacher.PostAsync(path, path, Answer("corrected", future, ("address", "幸福路 <1> 号")));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var page = await refused.Content.ReadAsStringAsync();
        Assert.Contains("role=\"alert\"", page, StringComparison.Ordinal);
        Assert.Contains("value=\"幸福路 &lt;1&gt; 号\"", page, StringComparison.Ordinal);
        Assert.Contains($"value=\"{future}\"", page, StringComparison.Ordinal);

        // "Confirmed unchanged" pressed with a value typed, a date that is no date, nothing typed for corrections: each says what to do.
        Assert.Contains("却点了“家长确认无误”",
            await (await teacher.PostAsync(path, path, Answer("unchanged", Today, ("address", "别处")))).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("请填写家长签字日期",
            await (await teacher.PostAsync(path, path, Answer("unchanged", "20.10.2026"))).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("没有填写任何更正值", await (await teacher.PostAsync(path, path, Answer("corrected", Today))).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.answer WHERE sheet_id = @s", ("s", sheet.SheetId)));

        // A form without its token is refused before the handler.
        var noToken = await teacher.Http.PostAsync(new Uri(site.Round.Site, path), new FormUrlEncodedContent(Answer("unchanged", Today)));
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.answer WHERE sheet_id = @s", ("s", sheet.SheetId)));
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task AnotherClassesSheet_IsNotFound_AndTheRefusalIsAudited()
    {
        using var teacher = await TeacherAsync("teacher-intruder");
        var other = Campaign.OtherPrinted.Sheets[0];

        var read = await teacher.GetAsync("/class/sheets/" + other.SheetId);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.DoesNotContain(other["name"]!, await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var answer = await teacher.PostAsync("/class", "/class/sheets/" + other.SheetId, Answer("unchanged", Today));
        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.answer WHERE sheet_id = @s", ("s", other.SheetId)));
        var workbook = await teacher.GetAsync($"/class/{Campaign.OtherClass.Grade}/{Uri.EscapeDataString(Campaign.OtherClass.ClassName)}/answers.xlsx");
        Assert.Equal(HttpStatusCode.NotFound, workbook.StatusCode);
        Assert.True(await Db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'teacher-intruder' AND object = @s", ("s", other.SheetId)) >= 2);
        Assert.True(await Db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'teacher-intruder' AND object = @c",
            ("c", Campaign.OtherClass.ToString())) >= 1);

        // A search by the other class's student finds nothing; a text that is no sheet id is "not found" without a query.
        var search = await (await Search(teacher, other.StudentNo!)).Content.ReadAsStringAsync();
        Assert.DoesNotContain(other["name"]!, search, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await teacher.GetAsync("/class/sheets/" + Uri.EscapeDataString("x' OR 1=1 --"))).StatusCode);

        // A school's registrar or the data team has no class teacher's pages (the policy: 403, audited).
        using var school = new PortalBrowser(site.Round.Site);
        await school.SignInFirstTimeAsync("school-classpages", await PortalBrowser.AccountAsync(Db.DataSource, "school-classpages", AccountRole.School, Campaign.School));
        var denied = await school.GetAsync("/class");
        Assert.Equal(HttpStatusCode.Redirect, denied.StatusCode);
        Assert.Equal("/denied", denied.Headers.Location?.AbsolutePath);
    }

    [Fact]
    public async Task TheWorkbook_Downloads_WithASafeName_AndAFileThatIsNone_IsRefusedWithItsReason()
    {
        using var teacher = await TeacherAsync("teacher-workbook");
        var path = $"/class/{Campaign.Class.Grade}/{Uri.EscapeDataString(Campaign.Class.ClassName)}/answers.xlsx";
        Assert.Contains(path, await (await teacher.GetAsync("/class")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var download = await teacher.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        Assert.Equal("PK"u8.ToArray(), bytes[..2]);
        var disposition = download.Content.Headers.ContentDisposition!;
        Assert.Equal("attachment", disposition.DispositionType);
        Assert.Equal($"portal-{Campaign.School}-{Campaign.Class.Grade}-{Campaign.Class.ClassName}-answers.xlsx", disposition.FileNameStar);
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'confirmation.class.read' AND actor = 'teacher-workbook'") >= 2);

        // Not a workbook: refused with its reason, nothing taken.
        var before = await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.answer");
        var refused = await teacher.UploadAsync("/class", "/class/answers", "answers.xlsx", "not a workbook"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var page = await refused.Content.ReadAsStringAsync();
        Assert.Contains("role=\"alert\"", page, StringComparison.Ordinal);
        Assert.Contains("文件中的内容都没有录入", page, StringComparison.Ordinal);
        Assert.Equal(before, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.answer"));
        Assert.Equal(HttpStatusCode.BadRequest, (await teacher.UploadAsync("/class", "/class/answers", "empty.xlsx", [])).StatusCode);

        // Over the limit by its length: refused before its form is read (413, not a "form expired"), and on record.
        var big = new byte[22 * 1024 * 1024];
        new Random(7).NextBytes(big);
        var tooLarge = await teacher.UploadAsync("/class", "/class/answers", "big.xlsx", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Equal(1L, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'confirmation.workbook.refused' AND actor = 'teacher-workbook' AND details ->> 'reason' = 'TooLarge'"));
        Assert.Equal(before, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.answer"));

        // The workbook filled as a class teacher's spreadsheet program saves it: one row confirmed, one with a corrected phone.
        var (confirmed, corrected) = (Campaign.Printed.Sheets[4], Campaign.Printed.Sheets[5]);
        var phone = ClassCampaign.Other(corrected["guardian_phone"], "13712345678", "13787654321");
        var filled = Fill(bytes, (sheet, column, row) =>
        {
            sheet.Cell(row(confirmed.SheetId), column("确认无误")).SetValue("是");
            sheet.Cell(row(confirmed.SheetId), column("家长签字日期")).SetValue(Today);
            sheet.Cell(row(corrected.SheetId), column("监护人联系电话应为")).SetValue(phone);
            sheet.Cell(row(corrected.SheetId), column("家长签字日期")).SetValue(Today);
        });
        var taken = await teacher.UploadAsync("/class", "/class/answers", "answers-back.xlsx", filled);
        var result = await taken.Content.ReadAsStringAsync();
        Assert.True(taken.StatusCode == HttpStatusCode.OK, result);
        Assert.Contains("录入确认表 2 张", result, StringComparison.Ordinal);
        Assert.Contains("已更正并重新检查 1 项", result, StringComparison.Ordinal);
        Assert.Equal("unchanged", await Db.ScalarAsync<string>(
            "SELECT outcome FROM confirm.answer WHERE sheet_id = @s AND file_name = 'answers-back.xlsx'", ("s", confirmed.SheetId)));
        Assert.Equal(phone, await Db.ScalarAsync<string>(
            "SELECT guardian_phone_raw FROM registry.record WHERE round_id = @r AND record_id = @id AND is_current",
            ("r", site.Round.Run.RoundId), ("id", corrected.RecordId)));
    }

    /// <summary>
    /// Fills the class answer workbook's answers sheet (the one whose first row has the headers) with ClosedXML: a column by its
    /// header as the Chinese workbook writes it, a row by the sheet id as printed in its first column.
    /// </summary>
    private static byte[] Fill(byte[] workbook, Action<ClosedXML.Excel.IXLWorksheet, Func<string, int>, Func<string, int>> fill)
    {
        using var input = new MemoryStream(workbook);
        using var book = new ClosedXML.Excel.XLWorkbook(input);
        var sheet = book.Worksheets.First(w => w.Row(1).CellsUsed().Any(c => c.GetString() == "家长签字日期"));
        int Column(string header) => sheet.Row(1).CellsUsed().Single(c => c.GetString() == header).Address.ColumnNumber;
        int Row(string sheetId) => sheet.Column(1).CellsUsed().Single(c => c.GetString() == SheetId.Format(sheetId)).Address.RowNumber;
        fill(sheet, Column, Row);
        using var output = new MemoryStream();
        book.SaveAs(output);
        return output.ToArray();
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task WhenTheCampaignIsClosed_NoStudentIsShown_AndASheetIsNotFound()
    {
        using var teacher = await TeacherAsync("teacher-closed");
        var sheet = Campaign.Printed.Sheets[^1];
        var store = new ConfirmationStore(Db.DataSource);
        await store.CloseCampaignAsync("portal", ClassCampaign.DataTeam);
        try
        {
            var classes = await teacher.GetAsync("/class");
            Assert.Equal(HttpStatusCode.OK, classes.StatusCode);
            var page = await classes.Content.ReadAsStringAsync();
            Assert.Contains("现在没有进行中的家长确认活动", page, StringComparison.Ordinal);
            foreach (var printed in Campaign.Printed.Sheets)
            {
                Assert.DoesNotContain(printed["name"]!, page, StringComparison.Ordinal);
                Assert.DoesNotContain(SheetId.Format(printed.SheetId), page, StringComparison.Ordinal);
            }

            var read = await teacher.GetAsync("/class/sheets/" + sheet.SheetId);
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
            Assert.DoesNotContain(sheet["name"]!, await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await teacher.GetAsync(
                $"/class/{Campaign.Class.Grade}/{Uri.EscapeDataString(Campaign.Class.ClassName)}/answers.xlsx")).StatusCode);
            Assert.True(await Db.ScalarAsync<long>(
                "SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = 'teacher-closed' AND object = @s", ("s", sheet.SheetId)) >= 1);
            Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'confirmation.class.read' AND actor = 'teacher-closed'"));
        }
        finally
        {
            // Open again for the other tests of the class, as the data team's reopening does (the campaign's row as it was).
            await Db.ExecuteAsync("UPDATE confirm.campaign SET closed_at = NULL, closed_by = NULL WHERE round_id = @r", ("r", site.Round.Run.RoundId));
        }
    }

    [Fact]
    public async Task InEnglish_TheClassPageAndASheet_ReadInEnglish()
    {
        using var teacher = await TeacherAsync("teacher-english", "en");
        var page = await (await teacher.GetAsync("/class")).Content.ReadAsStringAsync();
        Assert.Contains("My classes", page, StringComparison.Ordinal);
        Assert.Contains(Campaign.Class.Display(english: true), page, StringComparison.Ordinal);
        var sheet = await (await teacher.GetAsync("/class/sheets/" + Campaign.Printed.Sheets[^1].SheetId)).Content.ReadAsStringAsync();
        Assert.Contains("Confirmed unchanged", sheet, StringComparison.Ordinal);
        Assert.Contains("Guardian", sheet, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("家长确认无误", sheet, StringComparison.Ordinal);
    }
}
