using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>
/// A round as a chain of Hangfire jobs: extract (queue <c>extract</c>) → check (<c>checks</c>) → fan-out → one worksheet
/// job per batch of schools (<c>worksheets</c>) → join: the last school done moves the round to issued. Each job takes
/// the round's code, reads what it needs from the round's run, and calls the same service as the command line. A job
/// whose stage is past does nothing; a job run twice, or killed and retried, ends in the same state: stages move by
/// conditional updates, extracts are idempotent per file, and a school whose worksheet is up to date is not issued again.
/// A failure is retried (five times, from 10 s to 15 min apart), except a mistake in the input (a source file the extract
/// refuses): retrying cannot mend it, so the job fails at once, the reason is on the round, and `sdq round resume`
/// carries on once the data team has fixed it.
/// </summary>
public sealed class RoundJobs(RoundRuns runs, ExtractService extract, CheckRunner checks, WorksheetIssuer issuer, IBackgroundJobClient jobs,
    JobSettings settings, ILogger<RoundJobs>? logger = null)
{
    public const string Actor = "job:round";
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Enqueues a started round's chain: extract, then check, then the fan-out (Hangfire continuations).</summary>
    public static string Enqueue(IBackgroundJobClient jobs, string roundCode)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var first = jobs.Enqueue<RoundJobs>(j => j.ExtractAsync(roundCode, CancellationToken.None));
        var check = jobs.ContinueJobWith<RoundJobs>(first, j => j.CheckAsync(roundCode, CancellationToken.None));
        jobs.ContinueJobWith<RoundJobs>(check, j => j.FanOutAsync(roundCode, CancellationToken.None));
        return first;
    }

    [Queue("extract")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public Task<string> ExtractAsync(string roundCode, CancellationToken cancellationToken) =>
        StageAsync(roundCode, RoundStage.Extracting, async run =>
        {
            var result = await extract.ExtractFilesAsync(new ExtractRequest(roundCode, Actor), run.Sources, cancellationToken: cancellationToken);
            await runs.AdvanceAsync(run.RoundId, RoundStage.Extracting, RoundStage.Checking, cancellationToken);
            return $"staged {result.Sources.Count(s => !s.AlreadyStaged)} sources ({result.Sources.Sum(s => s.Rows)} rows), {result.Sources.Count(s => s.AlreadyStaged)} staged before";
        }, cancellationToken);

    [Queue("checks")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public Task<string> CheckAsync(string roundCode, CancellationToken cancellationToken) =>
        StageAsync(roundCode, RoundStage.Checking, async run =>
        {
            // A full check replaces the round's findings; run again after a crash (before any worksheet), it finds the same.
            var result = await checks.RunAsync(roundCode, Actor, cancellationToken: cancellationToken);
            await runs.AdvanceAsync(run.RoundId, RoundStage.Checking, RoundStage.Issuing, cancellationToken);
            return $"check run {result.RunId}: {result.FindingsByRule.Values.Sum()} findings";
        }, cancellationToken);

    /// <summary>
    /// Plans a worksheet task per school with open problems and enqueues a job per batch of the schools not done yet. Run
    /// again (a retry after a crash mid-way), it enqueues the schools still not done; a school enqueued twice is issued once.
    /// </summary>
    [Queue("worksheets")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public Task<string> FanOutAsync(string roundCode, CancellationToken cancellationToken) =>
        StageAsync(roundCode, RoundStage.Issuing, async run =>
        {
            var pending = await runs.PlanWorksheetsAsync(run.RoundId, cancellationToken);
            foreach (var batch in pending.Chunk(Math.Max(1, settings.WorksheetBatch)))
            {
                jobs.Enqueue<RoundJobs>(j => j.WorksheetsAsync(roundCode, batch, CancellationToken.None));
            }

            if (pending.Count == 0 && await runs.JoinAsync(run.RoundId, cancellationToken))
            {
                OnIssued(roundCode);
            }

            return $"{pending.Count} schools to issue, in {(pending.Count + settings.WorksheetBatch - 1) / Math.Max(1, settings.WorksheetBatch)} jobs";
        }, cancellationToken);

    /// <summary>Issues the worksheets of a batch of schools, each once, and marks each done; the last school of the round joins.</summary>
    [Queue("worksheets")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public Task<string> WorksheetsAsync(string roundCode, string[] schoolCodes, CancellationToken cancellationToken) =>
        StageAsync(roundCode, RoundStage.Issuing, async run =>
        {
            ArgumentNullException.ThrowIfNull(schoolCodes);
            var issued = 0;
            foreach (var school in schoolCodes)
            {
                if (await runs.IsSchoolDoneAsync(run.RoundId, school, cancellationToken))
                {
                    continue;
                }

                var files = await issuer.IssueAsync(new WorksheetRequest(roundCode, run.OutputDirectory, $"{Actor}@{settings.WorkerName}")
                {
                    School = school, Workers = 1, OnlyChanged = true, Manifest = false, Deadline = run.Deadline, Contact = run.Contact,
                    RuleHelp = settings.RuleHelp,
                    Language = run.Language == "en" ? WorksheetLanguage.English : WorksheetLanguage.Chinese,
                }, cancellationToken: cancellationToken);
                issued += files.Count;
                var result = files.Count == 0 ? "up to date" : $"issued {files[0].RelativePath}";
                if (await runs.CompleteSchoolAsync(run.RoundId, school, result, settings.WorkerName, cancellationToken))
                {
                    OnIssued(roundCode);
                }
            }

            return $"{issued} of {schoolCodes.Length} schools issued by this job";
        }, cancellationToken);

    /// <summary>Closes the round (no more returns) and takes its closing quality snapshot. Closing twice closes once.</summary>
    [Queue("checks")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> CloseAsync(string roundCode, string actor, CancellationToken cancellationToken)
    {
        var round = await runs.RoundAsync(roundCode, cancellationToken) ?? throw new InvalidOperationException($"Round {roundCode} does not exist.");
        var closed = await runs.CloseAsync(round.RoundId, actor, cancellationToken);
        var snapshot = await runs.TakeSnapshotAsync(round.RoundId, atClose: true, actor, cancellationToken);
        _logger.LogInformation("Round {RoundId} closed; snapshot {SnapshotId}", round.RoundId, snapshot);
        return closed ? $"closed; snapshot {snapshot}" : $"closed before; snapshot {snapshot} taken again";
    }

    /// <summary>A live quality snapshot of an open round (one per day: a later one that day replaces it).</summary>
    [Queue("checks")]
    [AutomaticRetry(Attempts = 3)]
    public async Task<string> SnapshotAsync(string roundCode, CancellationToken cancellationToken)
    {
        var round = await runs.RoundAsync(roundCode, cancellationToken) ?? throw new InvalidOperationException($"Round {roundCode} does not exist.");
        return $"snapshot {await runs.TakeSnapshotAsync(round.RoundId, atClose: false, Actor, cancellationToken)}";
    }

    private void OnIssued(string roundCode)
    {
        _logger.LogInformation("Round {RoundCode} is issued: every school's worksheet is out", roundCode);
        jobs.Enqueue<RoundJobs>(j => j.SnapshotAsync(roundCode, CancellationToken.None));
    }

    /// <summary>
    /// Runs one stage's work when the round is in that stage; a round past it (the stage done by an earlier run of the
    /// job, or a duplicate worksheet job after the join) is left alone. A failure is noted on the round for the data team
    /// and thrown, so Hangfire records and retries it.
    /// </summary>
    private async Task<string> StageAsync(string roundCode, RoundStage stage, Func<RoundRun, Task<string>> work, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(roundCode);
        var run = await runs.GetAsync(roundCode, cancellationToken)
            ?? throw new InvalidOperationException($"Round {roundCode} was not started through the jobs (no round run).");
        if (run.Stage > stage)
        {
            return $"nothing to do: round {roundCode} is {RoundRuns.StageText(run.Stage)}";
        }

        if (run.Stage < stage)
        {
            throw new InvalidOperationException($"Round {roundCode} is {RoundRuns.StageText(run.Stage)}, not yet {RoundRuns.StageText(stage)}.");
        }

        using var scope = _logger.BeginScope(new Dictionary<string, object> { ["RoundId"] = run.RoundId, ["Stage"] = RoundRuns.StageText(stage) });
        try
        {
            return await work(run);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError(e, "Stage {Stage} of round {RoundId} failed; it will be retried", RoundRuns.StageText(stage), run.RoundId);
            try
            {
                await runs.RecordProblemAsync(run.RoundId, $"{RoundRuns.StageText(stage)}: {JobsInEnglish.MessageOf(e)}", CancellationToken.None);
            }
            catch (Npgsql.NpgsqlException noted)
            {
                // The database is what failed; the job's own failure is what matters, and Hangfire keeps it.
                _logger.LogWarning(noted, "Could not note the failure on round {RoundId}", run.RoundId);
            }

            throw;
        }
    }
}
