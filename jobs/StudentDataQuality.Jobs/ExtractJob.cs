using Hangfire;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The extract step of a round as a Hangfire job: takes the round and the paths (never data), calls the same
/// service as `sdq extract`, and throws on failure so that Hangfire records and retries it. Re-running it is safe:
/// files already staged in the round are no-ops.
/// </summary>
public sealed class ExtractJob(ExtractService extract)
{
    [Queue("extract")]
    [AutomaticRetry(Attempts = 3)]
    public async Task RunAsync(string roundCode, string[] paths, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(roundCode);
        await extract.ExtractFilesAsync(new ExtractRequest(roundCode, "job:extract"), paths, cancellationToken: cancellationToken);
    }
}
