using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>One finding as a test sees it.</summary>
public sealed record Found(string StudentNo, string SchoolCode, string Rule, string Field, string? Value, string Severity);

/// <summary>
/// Runs the real checks on a few hand-made records: writes them as a registry export (with a school master),
/// extracts them into a new round (and a previous round when given), runs the whole catalogue, and returns the
/// findings. Each call uses fresh rounds of the fixture's database.
/// </summary>
public static class RuleHarness
{
    /// <summary>The school of <see cref="SampleExport.ValidStudent"/>: a primary school, grades 1–6, open.</summary>
    public static readonly string[] PrimarySchool = ["2123000001", "哈尔滨市道里区第一小学", "230102", "道里区", "1", "6", "1"];

    public static async Task<IReadOnlyList<Found>> CheckAsync(DatabaseFixture db, IEnumerable<string[]> students,
        IEnumerable<string[]>? schools = null, IEnumerable<string[]>? previousStudents = null, DateOnly? roundDate = null)
    {
        using var temp = new TempFolder();
        var master = (schools ?? [PrimarySchool]).ToList();
        var code = "h" + Guid.NewGuid().ToString("N")[..10];
        var service = new ExtractService(db.DataSource);
        var date = roundDate ?? new DateOnly(2026, 10, 15);
        string? previousCode = null;
        if (previousStudents is not null)
        {
            previousCode = code + "p";
            var folder = Path.Combine(temp.Path, "previous");
            SampleExport.WriteCsv(folder, "schools.csv", [SampleExport.ChineseHeaders(Layouts.School), .. master]);
            SampleExport.WriteCsv(folder, "students.csv", [SampleExport.ChineseHeaders(), .. previousStudents]);
            await service.ExtractFilesAsync(new ExtractRequest(previousCode, "test") { RoundDate = date.AddMonths(-6) }, [folder]);
        }

        var current = Path.Combine(temp.Path, "current");
        SampleExport.WriteCsv(current, "schools.csv", [SampleExport.ChineseHeaders(Layouts.School), .. master]);
        SampleExport.WriteCsv(current, "students.csv", [SampleExport.ChineseHeaders(), .. students]);
        await service.ExtractFilesAsync(new ExtractRequest(code, "test") { RoundDate = date, PreviousRoundCode = previousCode }, [current]);
        var run = await new CheckRunner(db.DataSource).RunAsync(code, "test");

        await using var command = db.DataSource.CreateCommand("""
            SELECT coalesce(r.student_no_raw, ''), coalesce(f.school_code, ''), f.rule_id, f.field, f.value, f.severity
            FROM   quality.finding f
            LEFT   JOIN registry.record r ON r.record_id = f.record_id AND r.version = 1
            WHERE  f.run_id = @run
            ORDER  BY 3, 1, 4
            """);
        command.Parameters.AddWithValue("run", run.RunId);
        await using var reader = await command.ExecuteReaderAsync();
        var found = new List<Found>();
        while (await reader.ReadAsync())
        {
            found.Add(new Found(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5)));
        }

        return found;
    }
}
