using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>A finding of the checked round, with the case row it is on (null: a school that no case has).</summary>
public sealed record RoundFinding(ExportRow? Row, CaseFinding Finding);

/// <summary>
/// Every rule case staged as one registry export (and one previous round), extracted once and checked once by the
/// real <see cref="CheckRunner"/> in a database of its own. The work is done when a test first asks for it, so a
/// run of other tests of the class does not pay for it.
/// </summary>
public sealed class CheckedRuleCases : IAsyncLifetime
{
    private const string RoundCode = "rule-cases";
    private const string PreviousRoundCode = "rule-cases-previous";

    private readonly DatabaseFixture _db = new();
    private readonly Lazy<Task<IReadOnlyList<RoundFinding>>> _findings;
    private bool _created;

    public CheckedRuleCases() => _findings = new(CheckAsync);

    public RuleCaseExport Export { get; } = RuleCaseExport.Build(RuleCases.All);

    /// <summary>Every finding of the run, each on the row of a case it belongs to.</summary>
    public Task<IReadOnlyList<RoundFinding>> FindingsAsync() => _findings.Value;

    /// <summary>The database holding the checked round (for tests that look at its records).</summary>
    public async Task<DatabaseFixture> DatabaseAsync()
    {
        await _findings.Value;
        return _db;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_created)
        {
            await _db.DisposeAsync();
        }
    }

    /// <summary>The export row a record of either round was staged from, by its round and row number.</summary>
    public ExportRow RowOf(string roundCode, int rowNo) =>
        (roundCode == RoundCode ? Export.Students : Export.PreviousStudents)[rowNo - 2]; // row 1 is the header

    public static IReadOnlyList<string> RoundCodes => [RoundCode, PreviousRoundCode];

    private async Task<IReadOnlyList<RoundFinding>> CheckAsync()
    {
        await _db.InitializeAsync();
        _created = true;
        using var temp = new TempFolder();
        var service = new ExtractService(_db.DataSource);
        var master = Export.Schools.Select(s => s.Values).ToList();
        foreach (var (code, folder, students, date) in new[]
        {
            (PreviousRoundCode, "previous", Export.PreviousStudents, RuleCaseExport.PreviousRoundDate),
            (RoundCode, "current", Export.Students, RuleCaseExport.RoundDate),
        })
        {
            var path = Path.Combine(temp.Path, folder);
            SampleExport.WriteCsv(path, "schools.csv", [SampleExport.ChineseHeaders(Layouts.School), .. master]);
            SampleExport.WriteCsv(path, "students.csv", [SampleExport.ChineseHeaders(), .. students.Select(s => s.Values)]);
            await service.ExtractFilesAsync(
                new ExtractRequest(code, "test") { RoundDate = date, PreviousRoundCode = code == RoundCode ? PreviousRoundCode : null }, [path]);
        }

        var run = await new CheckRunner(_db.DataSource).RunAsync(RoundCode, "test");

        await using var command = _db.DataSource.CreateCommand("""
            SELECT ro.code, r.row_no, r.student_no_raw, f.school_code, f.rule_id, f.field, f.value, f.severity, f.detail
            FROM   quality.finding f
            LEFT   JOIN registry.record r ON r.record_id = f.record_id AND r.version = 1
            LEFT   JOIN registry.round ro ON ro.round_id = r.round_id
            WHERE  f.run_id = @run
            """);
        command.Parameters.AddWithValue("run", run.RunId);
        await using var reader = await command.ExecuteReaderAsync();
        var found = new List<RoundFinding>();
        var studentNo = Layouts.Student.IndexOf("student_no");
        while (await reader.ReadAsync())
        {
            ExportRow? row;
            if (reader.IsDBNull(0))
            {
                // A school-level finding: the school of the master it names.
                row = Export.Schools.SingleOrDefault(s => s.Values[0] == reader.GetString(3));
            }
            else
            {
                row = RowOf(reader.GetString(0), reader.GetInt32(1));
                if (row.Values[studentNo] != (reader.IsDBNull(2) ? "" : reader.GetString(2)))
                {
                    throw new InvalidOperationException($"Record at row {reader.GetInt32(1)} of {reader.GetString(0)} is not {row.Case.Title}, {row.Owner}.");
                }
            }

            found.Add(new RoundFinding(row, new CaseFinding(row?.Owner ?? "school " + reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetString(8))));
        }

        return found;
    }
}
