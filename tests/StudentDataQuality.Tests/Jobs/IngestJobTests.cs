using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Jobs;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Jobs;

/// <summary>The ingest job run by a real Hangfire server on the real database: a returned file taken once, however often the job runs.</summary>
public sealed class IngestJobTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task IngestJob_TakesAReturnOnce_WritesItsReceipt_AndAnswersARefusalWithoutRetrying()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "job-in");
        var (file, rowKey, fixedId) = await CheckCharacterRowAsync(scenario);
        var layout = IngestScenario.Read(scenario.Issued(file));
        using var edits = new RegistrarEdits(scenario.Issued(file), layout.Meta.Language);
        edits.Type(layout.Rows.Single(r => r.RowKey == rowKey).ExcelRow, layout.ColumnNumbers["field.id_number"], fixedId);
        var inbox = Path.Combine(_temp.Path, "inbox");
        Directory.CreateDirectory(inbox);
        var path = Path.Combine(inbox, Path.GetFileName(file.RelativePath));
        await File.WriteAllBytesAsync(path, edits.Save());
        var other = scenario.Files.First(f => f.SchoolCode != file.SchoolCode).SchoolCode;

        var storage = HangfireJobs.Storage(db.ConnectionString);
        var ingest = scenario.Ingest();
        await using var batcher = new ReturnBatcher(ingest, new ReturnBatching { MaxWaitMs = 50 });
        var job = new IngestJob(ingest, batcher, new AccountStore(db.DataSource));
        using var server = new BackgroundJobServer(
            new BackgroundJobServerOptions { Queues = ["ingest"], WorkerCount = 1, Activator = new Activator(job) }, storage);
        var client = new BackgroundJobClient(storage);

        var firstId = client.Enqueue<IngestJob>(j => j.RunAsync(path, IngestScenario.SchoolAccount(file.SchoolCode), CancellationToken.None));
        var first = await HangfireJobs.SucceededAsync(storage, firstId);
        var again = await HangfireJobs.SucceededAsync(storage, client.Enqueue<IngestJob>(j => j.RunAsync(path, IngestScenario.SchoolAccount(file.SchoolCode), CancellationToken.None)));
        var refused = await HangfireJobs.SucceededAsync(storage, client.Enqueue<IngestJob>(j => j.RunAsync(path, IngestScenario.SchoolAccount(other), CancellationToken.None)));

        Assert.StartsWith("\"return ", first, StringComparison.Ordinal);
        Assert.StartsWith("\"already taken as return ", again, StringComparison.Ordinal);
        Assert.StartsWith("\"refused (OtherSchool)", refused, StringComparison.Ordinal);
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.worksheet_return t JOIN registry.round r USING (round_id) WHERE r.code = @round", ("round", scenario.Round)));
        Assert.Equal(fixedId, await scenario.ScalarAsync<string>("SELECT id_number FROM registry.current_record WHERE record_id = @id",
            ("id", long.Parse(rowKey, System.Globalization.CultureInfo.InvariantCulture))));
        var receipt = Assert.Single(Directory.GetFiles(Path.Combine(inbox, "receipts"), "*.xlsx"));
        Assert.Contains("回执", Path.GetFileName(receipt), StringComparison.Ordinal);
        Assert.Equal("ingest", storage.GetMonitoringApi().JobDetails(firstId).History.Last().Data["Queue"]);
    }

    [Fact]
    public async Task IngestFiles_AFileGoneBeforeItWasRead_FailsAlone_AndTheOthersOfTheJobAreTaken()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "job-gone");
        var (file, rowKey, fixedId) = await CheckCharacterRowAsync(scenario);
        var layout = IngestScenario.Read(scenario.Issued(file));
        using var edits = new RegistrarEdits(scenario.Issued(file), layout.Meta.Language);
        edits.Type(layout.Rows.Single(r => r.RowKey == rowKey).ExcelRow, layout.ColumnNumbers["field.id_number"], fixedId);
        var folder = Directory.CreateDirectory(Path.Combine(_temp.Path, "gone")).FullName;
        var present = Path.Combine(folder, Path.GetFileName(file.RelativePath));
        await File.WriteAllBytesAsync(present, edits.Save());
        var ingest = scenario.Ingest();
        await using var batcher = new ReturnBatcher(ingest, new ReturnBatching { MaxWaitMs = 50 });
        var job = new IngestJob(ingest, batcher, new AccountStore(db.DataSource));

        var results = await job.IngestFilesAsync(
            [new IngestJob.ReturnFile(Path.Combine(folder, "moved-away.xlsx"), null, Path.Combine(folder, "receipts")),
             new IngestJob.ReturnFile(present, IngestScenario.SchoolAccount(file.SchoolCode), Path.Combine(folder, "receipts"))], CancellationToken.None);

        Assert.IsType<FileNotFoundException>(results[0].Failure);
        Assert.Null(results[0].Outcome);
        Assert.False(results[1].Outcome!.Refused);
        Assert.True(File.Exists(results[1].Outcome!.ReceiptPath));
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.worksheet_return t JOIN registry.round r USING (round_id) WHERE r.code = @round", ("round", scenario.Round)));
    }

    private static async Task<(IssuedFile File, string RowKey, string Fixed)> CheckCharacterRowAsync(IngestScenario scenario)
    {
        await using var command = scenario.DataSource.CreateCommand("""
            SELECT w.school_code, wr.row_key, f.value
            FROM   quality.finding f
            JOIN   registry.round r ON r.round_id = f.round_id
            JOIN   exchange.worksheet_row wr ON wr.round_id = f.round_id AND wr.record_id = f.record_id
            JOIN   exchange.worksheet w ON w.worksheet_id = wr.worksheet_id
            WHERE  r.code = @round AND f.rule_id = 'F03' AND f.status = 'open'
            ORDER  BY f.finding_id LIMIT 1
            """);
        command.Parameters.AddWithValue("round", scenario.Round);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "the scenario needs an F03 row");
        var value = reader.GetString(2);
        return (scenario.Files.Single(f => f.SchoolCode == reader.GetString(0)), reader.GetString(1),
            value[..17] + ResidentId.ComputeCheckCharacter(value.AsSpan(0, 17)));
    }

    private sealed class Activator(IngestJob job) : JobActivator
    {
        public override object ActivateJob(Type jobType) =>
            jobType == typeof(IngestJob) ? job : throw new InvalidOperationException($"No job {jobType.Name} here.");
    }
}
