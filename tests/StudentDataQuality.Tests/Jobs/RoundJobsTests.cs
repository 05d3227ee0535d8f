using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;

namespace StudentDataQuality.Tests.Jobs;

/// <summary>
/// Extract, check and one worksheet job per school, chained on a real Hangfire server with PostgreSQL storage: every
/// school with open problems gets its worksheet, and running the jobs again issues nothing twice.
/// </summary>
public sealed class RoundJobsTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ExtractThenCheckThenWorksheets_RunAsJobs_IssueEachSchoolOnce_EvenWhenRunTwice()
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 2_000, Schools = 20, Seed = 8, DefectRate = 0.05, OutputDirectory = Path.Combine(_temp.Path, "province"),
        });
        const string Round = "jobs-round";
        await using (var create = db.DataSource.CreateCommand(
            "INSERT INTO registry.round (code, round_date, school_year, created_by) VALUES (@c, '2026-10-15', 2026, 'test')"))
        {
            create.Parameters.AddWithValue("c", Round);
            await create.ExecuteNonQueryAsync();
        }

        var storage = HangfireJobs.Storage(db.ConnectionString);
        var activator = new Activator(new ExtractJob(new ExtractService(db.DataSource)), new CheckJob(new CheckRunner(db.DataSource)),
            new WorksheetJob(new WorksheetIssuer(db.DataSource, IngestScenario.Key)));
        using var server = new BackgroundJobServer(
            new BackgroundJobServerOptions { Queues = ["extract", "checks", "worksheets"], WorkerCount = 2, Activator = activator }, storage);
        var client = new BackgroundJobClient(storage);
        var output = Path.Combine(_temp.Path, "worksheets");

        var extract = client.Enqueue<ExtractJob>(j => j.RunAsync(Round, new[] { province.ExportDirectory }, CancellationToken.None));
        var check = client.ContinueJobWith<CheckJob>(extract, j => j.RunAsync(Round, CancellationToken.None));
        await HangfireJobs.SucceededAsync(storage, check);
        var schools = await SchoolsWithOpenProblemsAsync(Round);
        Assert.True(schools.Count >= 10, $"only {schools.Count} schools have problems");

        // Every school's job, and then every school's job again (a retry, a second worker, a re-run of the chain).
        var jobs = schools.Concat(schools).Select(s => client.Enqueue<WorksheetJob>(j => j.RunAsync(Round, s, output, CancellationToken.None))).ToList();
        var results = new List<string>();
        foreach (var job in jobs)
        {
            results.Add(await HangfireJobs.SucceededAsync(storage, job));
        }

        Assert.Equal(schools.Count, results.Count(r => r.Contains("issued", StringComparison.Ordinal) && !r.Contains("nothing", StringComparison.Ordinal)));
        Assert.Equal(schools.Count, results.Count(r => r.Contains("up to date", StringComparison.Ordinal)));
        Assert.Equal((long)schools.Count, await db.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.worksheet w JOIN registry.round r USING (round_id) WHERE r.code = @c", ("c", Round)));
        Assert.Equal(0L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.worksheet w JOIN registry.round r USING (round_id) WHERE r.code = @c AND w.issue_no > 1", ("c", Round)));
        Assert.Equal(schools.Count, Directory.GetFiles(output, "*.xlsx", SearchOption.AllDirectories).Length);
        Assert.Equal("worksheets", storage.GetMonitoringApi().JobDetails(jobs[0]).History.Last().Data["Queue"]);
        Assert.Equal("checks", storage.GetMonitoringApi().JobDetails(check).History.First(h => h.StateName == EnqueuedState.StateName).Data["Queue"]);
    }

    private async Task<List<string>> SchoolsWithOpenProblemsAsync(string round)
    {
        await using var command = db.DataSource.CreateCommand("""
            SELECT DISTINCT f.school_code FROM quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = @c AND f.status = 'open' AND f.record_id IS NOT NULL AND f.school_code IS NOT NULL ORDER BY 1
            """);
        command.Parameters.AddWithValue("c", round);
        await using var reader = await command.ExecuteReaderAsync();
        var schools = new List<string>();
        while (await reader.ReadAsync())
        {
            schools.Add(reader.GetString(0));
        }

        return schools;
    }

    private sealed class Activator(ExtractJob extract, CheckJob check, WorksheetJob worksheets) : JobActivator
    {
        public override object ActivateJob(Type jobType) =>
            jobType == typeof(ExtractJob) ? extract
            : jobType == typeof(CheckJob) ? check
            : jobType == typeof(WorksheetJob) ? worksheets
            : throw new InvalidOperationException($"No job {jobType.Name} here.");
    }
}
