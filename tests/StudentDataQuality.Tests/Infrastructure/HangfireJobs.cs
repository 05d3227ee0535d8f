using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Tests.Worksheets;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>A real Hangfire storage on the test database, the jobs' container as the worker builds it, and waiting for jobs.</summary>
public static class HangfireJobs
{
    public static readonly string[] AllQueues = ["extract", "checks", "ingest", "worksheets", "default"];

    public static PostgreSqlStorage Storage(string connectionString, bool prepareSchema = true)
    {
        var options = new PostgreSqlStorageOptions
        {
            SchemaName = "hangfire", PrepareSchemaIfNecessary = prepareSchema, QueuePollInterval = TimeSpan.FromMilliseconds(200),
            InvisibilityTimeout = TimeSpan.FromSeconds(20), UseSlidingInvisibilityTimeout = true, DistributedLockTimeout = TimeSpan.FromSeconds(20),
        };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        if (prepareSchema)
        {
            // As JobHost.Storage does: the portal's role keeps only what it needs of the schema just made (migration 0017).
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            StudentDataQuality.Data.Access.AppRole.RestrictJobStorage(connection);
        }

        return storage;
    }

    /// <summary>
    /// The dashboard's storage as `sdq web` makes it: the schema installed by the owner, then read and written as the
    /// portal's role, sdq_app, which may not create it.
    /// </summary>
    public static async Task<PostgreSqlStorage> PortalStorageAsync(DatabaseFixture db)
    {
        _ = Storage(db.ConnectionString);
        return Storage(await db.AppConnectionStringAsync(), prepareSchema: false);
    }

    /// <summary>
    /// The jobs and their services, with a client and a recurring-job manager on <paramref name="storage"/> (given
    /// explicitly: Hangfire's global configuration is shared by test classes running at once).
    /// </summary>
    public static ServiceProvider Services(NpgsqlDataSource dataSource, JobStorage storage, JobSettings settings) =>
        new ServiceCollection()
            .AddLogging()
            .AddStudentDataQualityJobs(dataSource, IngestScenario.Key, settings)
            .AddSingleton<IBackgroundJobClient>(new BackgroundJobClient(storage))
            .AddSingleton<IRecurringJobManager>(new RecurringJobManager(storage))
            .BuildServiceProvider();

    /// <summary>A Hangfire server in the test process, activating jobs from <paramref name="services"/>.</summary>
    public static BackgroundJobServer Server(IServiceProvider services, JobStorage storage, int workers = 2) =>
        new(new BackgroundJobServerOptions
        {
            Queues = AllQueues, WorkerCount = workers, SchedulePollingInterval = TimeSpan.FromSeconds(1),
            Activator = new AspNetCoreJobActivator(services.GetRequiredService<IServiceScopeFactory>()),
        }, storage);

    /// <summary>Waits for the job to succeed and returns its result as Hangfire keeps it (JSON); a failed job fails the test.</summary>
    public static async Task<string> SucceededAsync(JobStorage storage, string jobId, int seconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            using var connection = storage.GetConnection();
            var state = connection.GetStateData(jobId);
            if (state?.Name == SucceededState.StateName)
            {
                return state.Data.TryGetValue("Result", out var result) ? result : "";
            }

            if (state?.Name == FailedState.StateName)
            {
                Assert.Fail($"The job failed: {state.Reason} {string.Join(" ", state.Data.Values)}");
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Job {jobId} did not succeed within {seconds} s.");
        return "";
    }

    /// <summary>Waits until the round run reaches the stage (or later); its problem, if any, is in the failure message.</summary>
    public static async Task<RoundRun> StageAsync(RoundRuns runs, string roundCode, RoundStage stage, int seconds = 180)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        RoundRun? run = null;
        while (DateTime.UtcNow < deadline)
        {
            run = await runs.GetAsync(roundCode);
            if (run is not null && run.Stage >= stage)
            {
                return run;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"Round {roundCode} did not reach {stage} within {seconds} s: it is {run?.Stage.ToString() ?? "not started"} ({run?.SchoolsDone}/{run?.SchoolsTotal} schools; problem: {run?.Problem}).");
        return null!;
    }

    /// <summary>Waits until the condition holds (polled), or fails the test with the message.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"Not within {seconds} s: {what}.");
    }
}
