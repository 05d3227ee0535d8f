using Hangfire;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The checks of a round as a Hangfire job (queue <c>checks</c>): the same runner as `sdq check`. Re-running it is
/// safe: a full run replaces the round's findings rule by rule, the same problems found again.
/// </summary>
public sealed class CheckJob(CheckRunner runner)
{
    public const string Actor = "job:check";

    [Queue("checks")]
    [AutomaticRetry(Attempts = 3)]
    public async Task<string> RunAsync(string roundCode, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(roundCode);
        var result = await runner.RunAsync(roundCode, Actor, cancellationToken: cancellationToken);
        return $"check run {result.RunId}: {result.FindingsByRule.Values.Sum()} findings";
    }
}

/// <summary>
/// One school's worksheet as a Hangfire job (queue <c>worksheets</c>): the same issuer as `sdq worksheets`, for one school,
/// into a folder other schools' jobs share (no manifest). Run twice, it issues once: a school whose newest worksheet
/// shows exactly its open findings is left as it is.
/// </summary>
public sealed class WorksheetJob(WorksheetIssuer issuer)
{
    public const string Actor = "job:worksheets";

    [Queue("worksheets")]
    [AutomaticRetry(Attempts = 3)]
    public async Task<string> RunAsync(string roundCode, string schoolCode, string outputDirectory, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(roundCode);
        ArgumentException.ThrowIfNullOrEmpty(schoolCode);
        var files = await issuer.IssueAsync(new WorksheetRequest(roundCode, outputDirectory, Actor)
        {
            School = schoolCode, Workers = 1, OnlyChanged = true, Manifest = false,
        }, cancellationToken: cancellationToken);
        return files.Count == 0 ? "up to date: nothing issued" : $"issued {files[0].RelativePath} (issue {files[0].IssueNumber})";
    }
}
