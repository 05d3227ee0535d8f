using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>A real Hangfire storage on the test database, and waiting for a job to finish.</summary>
public static class HangfireJobs
{
    public static PostgreSqlStorage Storage(string connectionString)
    {
        var options = new PostgreSqlStorageOptions { SchemaName = "hangfire", QueuePollInterval = TimeSpan.FromMilliseconds(200) };
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
    }

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
}
