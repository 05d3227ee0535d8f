using ClosedXML.Excel;
using StudentDataQuality.Application.Confirmations;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Tests.Confirmations;

/// <summary>
/// The class answer workbook against a real round (docs/confirmations.md, "The class answer workbook"): a class teacher
/// exports its class's workbook, fills two rows, and the ingest enters them through the confirmation store (answers, changes,
/// corrections); the same file twice is taken once; a refused file is audited and nothing of it is taken.
/// </summary>
public sealed class ClassAnswersTests(ConfirmationRound round) : IClassFixture<ConfirmationRound>
{
    private static readonly DateOnly Today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));

    private static string Text(string key) => ClassAnswerText.Get(key, WorksheetLanguage.Chinese);

    private static string ShouldBe(string field) =>
        ClassAnswerText.Format("HeaderShouldBe", WorksheetLanguage.Chinese, WorksheetLayout.FieldHeader(ConfirmationFields.Field(field), WorksheetLanguage.Chinese));

    /// <summary>Fills cells of the answers sheet (by sheet id and column header) as a class teacher's spreadsheet program would.</summary>
    private static byte[] Fill(byte[] workbook, params (string SheetId, string Header, object Value)[] cells)
    {
        using var book = new XLWorkbook(new MemoryStream(workbook));
        var sheet = book.Worksheet(Text("SheetAnswers"));
        var header = sheet.Row(1).CellsUsed().ToDictionary(c => c.GetString(), c => c.Address.ColumnNumber, StringComparer.Ordinal);
        foreach (var (sheetId, column, value) in cells)
        {
            var row = sheet.Column(header[Text("HeaderSheetId")]).CellsUsed().Single(c => c.GetString() == SheetId.Format(sheetId)).Address.RowNumber;
            var cell = sheet.Cell(row, header[column]);
            if (value is DateTime date)
            {
                cell.SetValue(date);
            }
            else
            {
                cell.SetValue((string)value);
            }
        }

        using var output = new MemoryStream();
        book.SaveAs(output);
        return output.ToArray();
    }

    [Fact]
    public async Task Export_ThenTwoRowsFilled_IngestEntersAnswersAndChanges_AndTheSameFileTwiceOnce()
    {
        var app = await round.Database.AppDataSourceAsync();
        var store = new ConfirmationStore(app);
        await store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, _ => "%PDF-1.4 test"u8.ToArray());
        var answers = new ClassAnswers(app, IngestScenario.Key);

        var workbook = await answers.ExportAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class, english: false);

        var sheets = await store.ClassSheetsAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class);
        var (unchanged, phone) = (sheets[0], sheets[1]);
        var filled = Fill(workbook,
            (unchanged.SheetId, Text("HeaderConfirmed"), "是"),
            (unchanged.SheetId, Text("HeaderSignedOn"), Today.ToDateTime(TimeOnly.MinValue)),
            (phone.SheetId, ShouldBe("guardian_phone"), "13912345678"),
            (phone.SheetId, Text("HeaderSignedOn"), Today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));

        var outcomes = await answers.IngestAsync(new MemoryStream(filled), "4年级3班.xlsx", round.Teacher);

        Assert.Equal(2, outcomes.Count);
        Assert.True(outcomes.Single(o => o.SheetId == unchanged.SheetId).Unchanged);
        var change = Assert.Single(outcomes.Single(o => o.SheetId == phone.SheetId).Changes);
        Assert.Equal(("guardian_phone", "13912345678", ChangeStatus.Applied), (change.Field, change.NewValue, change.Status));
        Assert.Equal("13912345678", await round.Database.ScalarAsync<string>(
            "SELECT guardian_phone_raw FROM registry.record WHERE record_id = @id AND is_current", ("id", phone.RecordId)));
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(filled));
        Assert.Equal(2L, await round.Database.ScalarAsync<long>(
            "SELECT count(*) FROM confirm.answer WHERE sheet_id = ANY(@ids) AND file_name = '4年级3班.xlsx' AND file_sha256 = @sha AND excel_row IS NOT NULL",
            ("ids", new[] { unchanged.SheetId, phone.SheetId }), ("sha", sha256)));

        var again = await answers.IngestAsync(new MemoryStream(filled), "4年级3班.xlsx", round.Teacher);

        Assert.Equal(outcomes.Select(o => o.AnswerId).Order(), again.Select(o => o.AnswerId).Order());
        Assert.Equal(2L, await round.Database.ScalarAsync<long>("SELECT count(*) FROM confirm.answer WHERE sheet_id = ANY(@ids)",
            ("ids", new[] { unchanged.SheetId, phone.SheetId })));
        Assert.Equal(1L, await round.Database.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.correction c JOIN confirm.change x USING (change_id) WHERE c.record_id = @id AND c.field = 'guardian_phone'",
            ("id", phone.RecordId)));
    }

    [Fact, Trait("Category", "Security")]
    public async Task Ingest_RefusesATamperedFile_AuditsIt_AndTakesNothing()
    {
        var app = await round.Database.AppDataSourceAsync();
        var store = new ConfirmationStore(app);
        await store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, _ => "%PDF-1.4 test"u8.ToArray());
        var answers = new ClassAnswers(app, IngestScenario.Key);
        var workbook = await answers.ExportAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class, english: false);
        var sheets = await store.ClassSheetsAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class);
        var (good, tampered) = (sheets[^1], sheets[^2]);
        var nameHeader = WorksheetLayout.FieldHeader(ConfirmationFields.Field("name"), WorksheetLanguage.Chinese);
        var filled = Fill(workbook,
            (good.SheetId, ShouldBe("address"), "幸福路 9 号"),
            (good.SheetId, Text("HeaderSignedOn"), Today.ToDateTime(TimeOnly.MinValue)),
            (tampered.SheetId, nameHeader, "改过的名字"),
            (tampered.SheetId, Text("HeaderConfirmed"), "是"),
            (tampered.SheetId, Text("HeaderSignedOn"), Today.ToDateTime(TimeOnly.MinValue)));

        var refused = await Assert.ThrowsAsync<UserErrorException>(() => answers.IngestAsync(new MemoryStream(filled), "班级回执.xlsx", round.Teacher));

        Assert.Equal("AnswerWorkbook.RowChanged", refused.Text?.Code);
        Assert.Contains("班级回执.xlsx", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await round.Database.ScalarAsync<long>("SELECT count(*) FROM confirm.answer WHERE sheet_id = ANY(@ids)",
            ("ids", new[] { good.SheetId, tampered.SheetId })));
        Assert.True(await round.Database.ScalarAsync<bool>("""
            SELECT EXISTS (SELECT FROM audit.event WHERE action = 'confirmation.workbook.refused' AND actor = @actor AND object = '班级回执.xlsx'
                             AND details ->> 'reason' = 'AnswerWorkbook.RowChanged' AND details ->> 'sha256' = @sha)
            """, ("actor", round.Teacher.Name), ("sha", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(filled)))));

        // A refusal of the store's (a date before the sheets were printed) is let through, audited the same way.
        var early = Fill(workbook, (good.SheetId, Text("HeaderConfirmed"), "是"), (good.SheetId, Text("HeaderSignedOn"), new DateTime(2020, 1, 2)));
        var storeRefusal = await Assert.ThrowsAsync<UserErrorException>(() => answers.IngestAsync(new MemoryStream(early), "早.xlsx", round.Teacher));
        Assert.StartsWith("Confirmation.", storeRefusal.Text?.Code, StringComparison.Ordinal);
        Assert.True(await round.Database.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT FROM audit.event WHERE action = 'confirmation.workbook.refused' AND object = '早.xlsx' AND details ->> 'reason' = @code)",
            ("code", storeRefusal.Text!.Code)));
    }

    [Fact]
    public async Task Export_OfAClassWithNoSheetsPrinted_SaysToPrintFirst()
    {
        var answers = new ClassAnswers(round.Database.DataSource, IngestScenario.Key);

        var refused = await Assert.ThrowsAsync<UserErrorException>(() =>
            answers.ExportAsync(round.Registrar, ConfirmationRound.Round, round.School, round.OtherClass, english: true));

        Assert.Equal("AnswerWorkbook.NoSheets", refused.Text?.Code);
        Assert.Contains(round.OtherClass.ClassName, refused.Message, StringComparison.Ordinal);
    }
}
