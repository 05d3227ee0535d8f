using System.Text;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Synthetic;

namespace StudentDataQuality.Tests.Staging;

/// <summary>
/// A generated province goes through extract unchanged: every field of every row, read back from the database, is the
/// text the generator wrote (read with the test's own CSV parser), in each encoding and format.
/// </summary>
public sealed class GeneratedRoundTripTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(ExportEncoding.Utf8, ExportFormat.Csv)]
    [InlineData(ExportEncoding.Utf8Bom, ExportFormat.Csv)]
    [InlineData(ExportEncoding.Gb18030, ExportFormat.Csv)]
    [InlineData(ExportEncoding.Utf8, ExportFormat.Xlsx)]
    public async Task EveryFieldOfEveryRow_IsStagedExactlyAsWritten(ExportEncoding encoding, ExportFormat format)
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 3_000, Schools = 30, Seed = 11, DefectRate = 0.1, Encoding = encoding, Format = format,
            OutputDirectory = Path.Combine(_temp.Path, $"{encoding}-{format}"),
        });
        var csvEncoding = encoding == ExportEncoding.Gb18030 ? Encoding.GetEncoding(54936) : Encoding.UTF8;
        var csv = format == ExportFormat.Csv ? province.StudentExportPaths[0] : null;
        var expected = csv is not null
            ? PlainCsv.Read(csv, csvEncoding).Skip(1).ToList()
            : null;

        var round = "rt" + Guid.NewGuid().ToString("N")[..10];
        var result = await new ExtractService(db.DataSource).ExtractFilesAsync(
            new ExtractRequest(round, "test") { RoundDate = new DateOnly(2026, 10, 15) }, [province.ExportDirectory]);

        var students = result.Sources.Single(s => s.Layout == "student");
        Assert.Equal(province.Students, students.Rows);
        var staged = await ReadBackAsync(result.Round.RoundId);
        Assert.Equal(province.Students, staged.Count);
        if (expected is null)
        {
            // The xlsx carries the same rows as a CSV of the same seed would: compare with one.
            var twin = ProvinceGenerator.Generate(new GeneratorOptions
            {
                Students = 3_000, Schools = 30, Seed = 11, DefectRate = 0.1, OutputDirectory = Path.Combine(_temp.Path, "twin"),
            });
            expected = PlainCsv.Read(twin.StudentExportPaths[0]).Skip(1).ToList();
        }

        for (var row = 0; row < expected.Count; row++)
        {
            for (var field = 0; field < Layouts.Student.Fields.Count; field++)
            {
                var written = expected[row][field];
                var read = staged[row][field];
                if (written != read)
                {
                    Assert.Fail($"row {row + 2}, {Layouts.Student.Fields[field].Name}: wrote '{written}', staged '{read}'");
                }
            }
        }

        var master = PlainCsv.Read(province.SchoolMasterPath, csvEncoding).Count - 1;
        Assert.Equal(master, await db.ScalarAsync<long>("SELECT count(*) FROM registry.school WHERE round_id = @r", ("r", result.Round.RoundId)));
    }

    private async Task<List<string?[]>> ReadBackAsync(int roundId)
    {
        var columns = string.Join(", ", Layouts.Student.Fields.Select(f => f.Name + "_raw"));
        await using var command = db.DataSource.CreateCommand($"SELECT {columns} FROM registry.record WHERE round_id = @r ORDER BY sheet_no, row_no");
        command.Parameters.AddWithValue("r", roundId);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string?[]>();
        while (await reader.ReadAsync())
        {
            var values = new string?[reader.FieldCount];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = reader.IsDBNull(i) ? null : reader.GetString(i);
            }

            rows.Add(values);
        }

        return rows;
    }
}
