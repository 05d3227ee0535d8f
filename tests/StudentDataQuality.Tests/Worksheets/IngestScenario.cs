using System.Security.Cryptography;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// A round that has come as far as the schools: a generated province (with the previous round) staged, checked, and
/// its worksheets issued into a folder; one school account per school. Tests edit the issued files and ingest them.
/// </summary>
public sealed class IngestScenario
{
    public static readonly SigningKey Key = SigningKey.From(SHA256.HashData("a test key, never a real one"u8.ToArray()));

    private IngestScenario(string round, NpgsqlDataSource dataSource, GenerationResult province, IReadOnlyList<IssuedFile> files, string folder)
    {
        Round = round;
        DataSource = dataSource;
        Province = province;
        Files = files;
        Folder = folder;
    }

    public string Round { get; }

    public NpgsqlDataSource DataSource { get; }

    public GenerationResult Province { get; }

    public IReadOnlyList<IssuedFile> Files { get; }

    public string Folder { get; }

    public static async Task<IngestScenario> CreateAsync(NpgsqlDataSource dataSource, string folder, string round, int students = 2_500, int schools = 25,
        int seed = 21)
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = students, Schools = schools, Seed = seed, DefectRate = 0.05, Previous = true, OutputDirectory = Path.Combine(folder, "province"),
        });
        var service = new ExtractService(dataSource);
        await service.ExtractFilesAsync(new ExtractRequest(round + "-previous", "test") { RoundDate = province.PreviousRoundDate },
            [province.PreviousExportDirectory!]);
        await service.ExtractFilesAsync(new ExtractRequest(round, "test") { RoundDate = new DateOnly(2026, 10, 15), PreviousRoundCode = round + "-previous" },
            [province.ExportDirectory]);
        await new CheckRunner(dataSource).RunAsync(round, "test");
        var issued = Path.Combine(folder, "issued");
        var files = await new WorksheetIssuer(dataSource, Key).IssueAsync(new WorksheetRequest(round, issued, "test") { Workers = 2 });
        var accounts = new AccountStore(dataSource);
        foreach (var file in files)
        {
            await accounts.AddAsync(new Account(SchoolAccount(file.SchoolCode), AccountRole.School, file.SchoolCode), "test");
        }

        return new IngestScenario(round, dataSource, province, files, issued);
    }

    public static string SchoolAccount(string schoolCode) => "school-" + schoolCode;

    public static Account AccountOf(string schoolCode) => new(SchoolAccount(schoolCode), AccountRole.School, schoolCode);

    public ReturnIngest Ingest(Action<string>? afterStep = null) => new(DataSource, Key) { AfterStep = afterStep };

    public byte[] Issued(IssuedFile file) => File.ReadAllBytes(Path.Combine(Folder, file.RelativePath));

    /// <summary>The issued file as the reader sees it: where its rows and columns are.</summary>
    public static ReturnedWorkbook Read(byte[] bytes, string name = "issued.xlsx") => ReturnedWorkbookReader.Read(new MemoryStream(bytes), name, ReturnLimits.Default);

    /// <summary>Ingests bytes as the school's own account.</summary>
    public Task<IngestResult> IngestAsync(IssuedFile file, byte[] bytes, Account? account = null, string? name = null) =>
        Ingest().IngestAsync(new MemoryStream(bytes), name ?? Path.GetFileName(file.RelativePath), account ?? AccountOf(file.SchoolCode));

    /// <summary>
    /// Everything an ingest can write (returns, corrections, explanations, record versions and heads, findings and their
    /// statuses, check runs, audit entries): equal before and after means it changed nothing.
    /// </summary>
    public async Task<string> StateAsync()
    {
        await using var command = DataSource.CreateCommand("""
            SELECT concat_ws(',', (SELECT count(*) FROM exchange.worksheet_return), (SELECT count(*) FROM exchange.correction),
                                  (SELECT count(*) FROM exchange.explanation), (SELECT count(*) FROM registry.record_version),
                                  (SELECT count(*) FROM registry.record_version WHERE is_current), (SELECT count(*) FROM registry.record_head),
                                  (SELECT count(*) FROM quality.finding), (SELECT count(*) FROM quality.finding WHERE status = 'open'),
                                  (SELECT count(*) FROM quality.check_run), (SELECT count(*) FROM audit.event WHERE action NOT IN ('worksheet.return.refused', 'worksheet.return.failed')))
            """);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    public async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The open findings of one record in this round: rule and field.</summary>
    public async Task<List<(string Rule, string Field)>> OpenFindingsAsync(long recordId)
    {
        await using var command = DataSource.CreateCommand("""
            SELECT f.rule_id, f.field FROM quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = @round AND f.record_id = @id AND f.status = 'open' ORDER BY 1, 2
            """);
        command.Parameters.AddWithValue("round", Round);
        command.Parameters.AddWithValue("id", recordId);
        await using var reader = await command.ExecuteReaderAsync();
        var list = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            list.Add((reader.GetString(0), reader.GetString(1)));
        }

        return list;
    }
}
