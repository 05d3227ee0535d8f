using System.Text;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Staging;

/// <summary>What spreadsheets, databases, broken exports and concurrent runs do to an extract.</summary>
public sealed class ExtractEdgeCaseTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static ExtractRequest Request(string round) => new(round, "test") { RoundDate = new DateOnly(2026, 10, 15) };

    private static string NewRound() => "e" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Xlsx_NumbersTypedBySpreadsheet_AreStagedAsTheTextTheySay()
    {
        var headers = SampleExport.ChineseHeaders();
        var row = SampleExport.Student().Select(v => (object?)v).ToArray();
        row[Layouts.Student.IndexOf("id_number")] = 230102201809010000d; // an 18-digit ID typed as a number: digits lost
        row[Layouts.Student.IndexOf("ethnicity")] = 1d;                   // 01 typed as a number
        row[Layouts.Student.IndexOf("grade")] = 3d;
        var path = _temp.File("typed.xlsx");
        MiniXlsx.Write(path, [headers, row]);

        var result = await new ExtractService(db.DataSource).ExtractFilesAsync(Request(NewRound()), [path]);

        await using var command = db.DataSource.CreateCommand(
            "SELECT id_number_raw, ethnicity_raw, ethnicity, grade, sheet_no, row_no FROM registry.record WHERE round_id = @r");
        command.Parameters.AddWithValue("r", result.Round.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Matches(@"^2\.30102201809\d*E\+17$", reader.GetString(0));
        Assert.Equal("1", reader.GetString(1));
        Assert.Equal("01", reader.GetString(2));
        Assert.Equal((short)3, reader.GetInt16(3));
        Assert.Equal((short)1, reader.GetInt16(4));
        Assert.Equal(2, reader.GetInt32(5));
    }

    [Fact]
    public async Task Xlsx_ANulCharacterInACell_IsRefusedWithTheCell_AndNothingIsStaged()
    {
        var path = _temp.File("nul.xlsx");
        MiniXlsx.Write(path, [SampleExport.ChineseHeaders(), SampleExport.Student(("name", "王\0明"))]);
        var before = await db.StateCountsAsync();

        var error = await Assert.ThrowsAsync<UserErrorException>(() => new ExtractService(db.DataSource).ExtractFilesAsync(Request(NewRound()), [path]));

        Assert.Contains("nul.xlsx: sheet 1, row 2, column '姓名' holds a NUL character", error.Message);
        Assert.Equal(before, await db.StateCountsAsync());
    }

    [Fact]
    public async Task Csv_AStrayQuoteInsideAnUnquotedValue_IsRefused_InsteadOfMergingRows()
    {
        var rows = Enumerable.Range(0, 5).Select(i => SampleExport.Student(("name", $"学生{i}"))).ToList();
        rows[1][Layouts.Student.IndexOf("address")] = "3号楼\"2单元";
        rows[3][Layouts.Student.IndexOf("address")] = "5号楼\"1单元";
        var text = string.Join("\r\n", new[] { SampleExport.ChineseHeaders() }.Concat(rows).Select(r => string.Join(",", r))) + "\r\n";
        var path = _temp.File("stray.csv");
        File.WriteAllText(path, text, new UTF8Encoding(false));
        var before = await db.StateCountsAsync();

        var error = await Assert.ThrowsAsync<UserErrorException>(() => new ExtractService(db.DataSource).ExtractFilesAsync(Request(NewRound()), [path]));

        Assert.Contains("stray.csv: row 3 has a quote character", error.Message);
        Assert.Equal(before, await db.StateCountsAsync());
    }

    [Fact]
    public async Task Csv_CutOffAfterManyRows_StagesNothing_ThoughMuchWasAlreadySent()
    {
        // Several COPY buffers go to the server before the cut is found at the last row.
        var text = SampleExport.Csv([SampleExport.ChineseHeaders(), .. Enumerable.Range(0, 16_000).Select(_ => SampleExport.Student())]);
        var path = _temp.File("long-cut.csv");
        File.WriteAllText(path, text[..^40], new UTF8Encoding(false));
        Assert.True(new FileInfo(path).Length > 3 << 20, $"{new FileInfo(path).Length} bytes");
        var before = await db.StateCountsAsync();

        var error = await Assert.ThrowsAsync<UserErrorException>(() => new ExtractService(db.DataSource).ExtractFilesAsync(Request(NewRound()), [path]));

        Assert.Contains("looks cut off at row 16001", error.Message);
        Assert.Equal(before, await db.StateCountsAsync());
    }

    [Fact]
    public async Task AHugeValue_IsStagedRaw_AndDoesNotParse()
    {
        var huge = new string('9', 500_000) + "x";
        var path = SampleExport.WriteCsv(_temp.Path, "huge.csv",
            [SampleExport.ChineseHeaders(), SampleExport.Student(("guardian_phone", huge), ("address", new string('路', 200_000)))]);

        var result = await new ExtractService(db.DataSource).ExtractFilesAsync(Request(NewRound()), [path]);

        Assert.Equal(huge.Length, await db.ScalarAsync<int>(
            "SELECT length(guardian_phone_raw) FROM registry.record WHERE round_id = @r AND guardian_phone IS NULL", ("r", result.Round.RoundId)));
    }

    [Fact]
    public async Task EntryMonthGivenAsAFullDate_IsThatMonth()
    {
        var path = SampleExport.WriteCsv(_temp.Path, "dates.csv", [SampleExport.ChineseHeaders(), SampleExport.Student(("entry_month", "2024-09-01"))]);

        var result = await new ExtractService(db.DataSource).ExtractFilesAsync(Request(NewRound()), [path]);

        Assert.Equal(new DateOnly(2024, 9, 1), await db.ScalarAsync<DateOnly>(
            "SELECT entry_month FROM registry.record WHERE round_id = @r", ("r", result.Round.RoundId)));
    }

    [Fact]
    public async Task TwoExtractsOfTheSameFileAtOnce_StageItOnce()
    {
        var round = NewRound();
        var path = SampleExport.WriteCsv(_temp.Path, "same.csv",
            [SampleExport.ChineseHeaders(), .. Enumerable.Range(0, 2_000).Select(i => SampleExport.Student(("name", $"学生{i}")))]);

        var results = await Task.WhenAll(
            Task.Run(() => new ExtractService(db.DataSource).ExtractFilesAsync(Request(round), [path])),
            Task.Run(() => new ExtractService(db.DataSource).ExtractFilesAsync(Request(round), [path])));

        Assert.Equal(1, results.Count(r => r.Sources.Single().AlreadyStaged));
        Assert.Equal(2_000L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM registry.record_version v JOIN registry.round r USING (round_id) WHERE r.code = @c", ("c", round)));
    }
}
