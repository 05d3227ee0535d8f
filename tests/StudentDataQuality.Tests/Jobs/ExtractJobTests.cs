using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Jobs;

/// <summary>The extract job run by a real Hangfire server on the real database, not called directly.</summary>
public sealed class ExtractJobTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ExtractJob_RunByAHangfireServer_StagesTheExport_AndRunningItAgainChangesNothing()
    {
        var storage = HangfireJobs.Storage(db.ConnectionString);
        var folder = Path.Combine(_temp.Path, "export");
        SampleExport.WriteCsv(folder, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student(), SampleExport.Student(("name", "李四"))]);
        var round = "job" + Guid.NewGuid().ToString("N")[..8];
        await using (var create = db.DataSource.CreateCommand(
            "INSERT INTO registry.round (code, round_date, school_year, created_by) VALUES (@c, '2026-10-15', 2026, 'test')"))
        {
            create.Parameters.AddWithValue("c", round);
            await create.ExecuteNonQueryAsync();
        }

        using var server = new BackgroundJobServer(
            new BackgroundJobServerOptions { Queues = ["extract"], WorkerCount = 1, Activator = new ExtractJobActivator(new ExtractService(db.DataSource)) },
            storage);
        var client = new BackgroundJobClient(storage);

        var first = client.Enqueue<ExtractJob>(job => job.RunAsync(round, new[] { folder }, CancellationToken.None));
        await HangfireJobs.SucceededAsync(storage, first);
        var second = client.Enqueue<ExtractJob>(job => job.RunAsync(round, new[] { folder }, CancellationToken.None));
        await HangfireJobs.SucceededAsync(storage, second);

        Assert.Equal("extract", storage.GetMonitoringApi().JobDetails(first).History.Last().Data["Queue"]);
        Assert.Equal(2L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM registry.record_version v JOIN registry.round r USING (round_id) WHERE r.code = @c", ("c", round)));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM staging.source_file f JOIN registry.round r USING (round_id) WHERE r.code = @c", ("c", round)));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event e JOIN registry.round r USING (round_id) WHERE r.code = @c AND e.actor = 'job:extract'", ("c", round)));
    }

    /// <summary>Builds the job with its service, as a host's container would.</summary>
    private sealed class ExtractJobActivator(ExtractService service) : JobActivator
    {
        public override object ActivateJob(Type jobType) =>
            jobType == typeof(ExtractJob) ? new ExtractJob(service) : throw new InvalidOperationException($"No job {jobType.Name} here.");
    }
}
