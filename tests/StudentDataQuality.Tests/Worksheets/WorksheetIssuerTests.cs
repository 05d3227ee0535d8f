using System.Globalization;
using System.Security.Cryptography;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// Issuing the worksheets of a whole generated province, read back with the Open XML SDK (not the writer's library):
/// every school with open problems gets one workbook, which holds only its own students, equals the issued snapshot
/// kept in the database, and whose signatures verify.
/// </summary>
public sealed class WorksheetIssuerTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private static readonly SigningKey Key = SigningKey.From(SHA256.HashData("a test key, never a real one"u8.ToArray()));
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task IssuedWorkbooks_HoldOnlyTheirSchool_AndEqualTheSnapshot()
    {
        await StageAndCheckAsync("ws");
        var output = Path.Combine(_temp.Path, "out");

        var files = await new WorksheetIssuer(db.DataSource, Key).IssueAsync(new WorksheetRequest("ws", output, "test") { Workers = 2 });

        var schools = await ScalarAsync<long>("""
            SELECT count(DISTINCT f.school_code) FROM quality.finding f JOIN registry.round r USING (round_id)
            WHERE r.code = 'ws' AND f.status = 'open' AND f.record_id IS NOT NULL AND f.school_code IS NOT NULL
            """);
        Assert.Equal(schools, files.Count);
        Assert.Equal(files.Count + 1, File.ReadAllLines(Path.Combine(output, "manifest.csv")).Length);
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(output, file.RelativePath));
            Assert.Equal(file.Sha256, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant());
            using var workbook = new OpenXmlWorkbook(bytes);
            var meta = Meta(workbook);
            var worksheetId = Guid.Parse(meta.Properties[WorksheetMeta.Properties.WorksheetId]);
            Assert.Equal(file.SchoolCode, meta.Properties[WorksheetMeta.Properties.SchoolCode]);
            Assert.Equal(file.Sha256, await ScalarAsync<string>($"SELECT sha256 FROM exchange.worksheet WHERE worksheet_id = '{worksheetId}'"));

            var snapshot = await SnapshotAsync(worksheetId);
            Assert.Equal(snapshot.Count, meta.Rows.Count);
            Assert.Equal(file.Rows, meta.Rows.Count);
            var problems = meta.Properties[WorksheetMeta.Properties.ProblemsSheet];
            foreach (var (excelRow, rowKey, signature) in meta.Rows)
            {
                var issued = snapshot[rowKey];
                Assert.Equal(issued.Signature, signature);
                // The values as a spreadsheet shows them, read from the columns the markers name (a file cannot tell an
                // empty value from none).
                var values = issued.Fields.Select(f => workbook.Text(problems, excelRow, meta.FieldColumns[f])).ToList();
                Assert.Equal(issued.Values.Select(v => v ?? ""), values);
                Assert.True(RowSignature.Verify(Key.Key, worksheetId, rowKey, issued.Values, signature));
            }

            // No row is another school's student (this round's record, or a previous-round record of an absent student).
            Assert.Equal(0L, await ScalarAsync<long>($"""
                SELECT count(*) FROM exchange.worksheet_row w
                JOIN   registry.record r ON r.record_id = w.record_id AND r.version = w.record_version
                WHERE  w.worksheet_id = '{worksheetId}' AND r.school_code IS DISTINCT FROM w.school_code
                """));
        }

        Assert.Equal(files.Count, await ScalarAsync<long>(
            "SELECT count(*) FROM audit.event e JOIN registry.round r USING (round_id) WHERE r.code = 'ws' AND e.action = 'worksheet.issue'"));
    }

    [Fact]
    public async Task Reissue_GivesTheNextIssueNumber_WithOnlyTheProblemsOpenNow()
    {
        await StageAndCheckAsync("ws-again");
        var issuer = new WorksheetIssuer(db.DataSource, Key);
        var first = await issuer.IssueAsync(new WorksheetRequest("ws-again", Path.Combine(_temp.Path, "1"), "test"));
        var school = first.OrderByDescending(f => f.Rows).First();
        var fixedFinding = await ScalarAsync<long>($"""
            SELECT min(f.finding_id) FROM quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = 'ws-again' AND f.school_code = '{school.SchoolCode}' AND f.status = 'open' AND f.record_id IS NOT NULL
            """);
        await ScalarAsync<long>($"WITH u AS (UPDATE quality.finding SET status = 'resolved' WHERE finding_id = {fixedFinding} RETURNING 1) SELECT count(*) FROM u");

        var second = await issuer.IssueAsync(new WorksheetRequest("ws-again", Path.Combine(_temp.Path, "2"), "test") { School = school.SchoolCode });

        var reissued = Assert.Single(second);
        Assert.Equal(2, reissued.IssueNumber);
        Assert.EndsWith("_v2.xlsx", reissued.RelativePath, StringComparison.Ordinal);
        var issuedFindings = await ScalarAsync<long[]>($"""
            SELECT array_agg(f ORDER BY f) FROM exchange.worksheet w JOIN exchange.worksheet_row r USING (worksheet_id), unnest(r.finding_ids) f
            WHERE  w.school_code = '{school.SchoolCode}' AND w.issue_no = 2
            """);
        var openFindings = await ScalarAsync<long[]>($"""
            SELECT array_agg(f.finding_id ORDER BY f.finding_id) FROM quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = 'ws-again' AND f.school_code = '{school.SchoolCode}' AND f.status = 'open' AND f.record_id IS NOT NULL
            """);
        Assert.Equal(openFindings, issuedFindings);
        Assert.DoesNotContain(fixedFinding, issuedFindings);
    }

    [Fact]
    public async Task AWorkbookThatCannotBeWritten_FailsTheIssue_InsteadOfHangingIt()
    {
        await StageAndCheckAsync("ws-fail");
        var issuer = new WorksheetIssuer(db.DataSource, Key);
        var first = await issuer.IssueAsync(new WorksheetRequest("ws-fail", Path.Combine(_temp.Path, "a"), "test") { Workers = 1 });
        // Where every second-issue workbook would go, a folder of that name is in the way.
        var blocked = Path.Combine(_temp.Path, "b");
        foreach (var file in first)
        {
            Directory.CreateDirectory(Path.Combine(blocked, file.RelativePath.Replace("_v1.xlsx", "_v2.xlsx", StringComparison.Ordinal)));
        }

        var issuing = issuer.IssueAsync(new WorksheetRequest("ws-fail", blocked, "test") { Workers = 2 });

        await Assert.ThrowsAnyAsync<IOException>(() => issuing.WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.False(File.Exists(Path.Combine(blocked, "manifest.csv")));
        Assert.Empty(Directory.GetFiles(blocked, "*.partial", SearchOption.AllDirectories));
    }

    private async Task StageAndCheckAsync(string code)
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 2_500, Schools = 25, Seed = 21, DefectRate = 0.05, Previous = true, OutputDirectory = Path.Combine(_temp.Path, code),
        });
        var service = new ExtractService(db.DataSource);
        await service.ExtractFilesAsync(new ExtractRequest(code + "-previous", "test") { RoundDate = province.PreviousRoundDate }, [province.PreviousExportDirectory!]);
        await service.ExtractFilesAsync(new ExtractRequest(code, "test") { RoundDate = new DateOnly(2026, 10, 15), PreviousRoundCode = code + "-previous" },
            [province.ExportDirectory]);
        await new CheckRunner(db.DataSource).RunAsync(code, "test");
    }

    private sealed record Snapshot(IReadOnlyList<string> Fields, IReadOnlyList<string?> Values, string Signature);

    private async Task<Dictionary<string, Snapshot>> SnapshotAsync(Guid worksheetId)
    {
        var rows = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
        await using var command = db.DataSource.CreateCommand("SELECT row_key, fields, issued_values, signature FROM exchange.worksheet_row WHERE worksheet_id = @id");
        command.Parameters.AddWithValue("id", worksheetId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows[reader.GetString(0)] = new Snapshot(reader.GetFieldValue<string[]>(1), reader.GetFieldValue<string?[]>(2), reader.GetString(3));
        }

        return rows;
    }

    private sealed record MetaSheet(Dictionary<string, string> Properties, Dictionary<string, int> FieldColumns, List<(int ExcelRow, string RowKey, string Signature)> Rows);

    /// <summary>The _meta sheet's records: properties, column markers and rows (kind in column A).</summary>
    private static MetaSheet Meta(OpenXmlWorkbook workbook)
    {
        var meta = new MetaSheet([], [], []);
        var lastRow = workbook.Cells(WorksheetMeta.SheetName).Keys.Max(r => int.Parse(new string(r.SkipWhile(char.IsLetter).ToArray()), CultureInfo.InvariantCulture));
        for (var row = 1; row <= lastRow; row++)
        {
            string Text(int column) => workbook.Text(WorksheetMeta.SheetName, row, column);
            switch (Text(1))
            {
                case WorksheetMeta.MetaRecord:
                    meta.Properties[Text(2)] = Text(3);
                    break;
                case WorksheetMeta.ColumnRecord when Text(3).StartsWith(WorksheetLayout.FieldMarkerPrefix, StringComparison.Ordinal):
                    meta.FieldColumns[Text(3)[WorksheetLayout.FieldMarkerPrefix.Length..]] = int.Parse(Text(2), CultureInfo.InvariantCulture);
                    break;
                case WorksheetMeta.RowRecord:
                    meta.Rows.Add((int.Parse(Text(2), CultureInfo.InvariantCulture), Text(3), Text(4)));
                    break;
            }
        }

        return meta;
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
