using System.Globalization;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The inbox: a folder where returned worksheets are dropped (by the data team from mail, or by a file share). Every
/// minute a scan moves each settled workbook into <c>queued/</c> under a name of its own and enqueues one ingest job per
/// batch of them (Returns:BatchFiles); the job takes them together as the pipeline (the worksheet's own signature says
/// whose it is), writes each receipt into <c>receipts/</c>, and moves each file to <c>taken/</c>, or to <c>refused/</c>
/// with a note saying why. A scan run twice finds nothing new; an ingest job run twice finds its files taken already (and
/// the same bytes give the earlier receipt).
/// The scan's job carries the folder, so any worker can run it: the folder must be one they all reach (a share).
/// </summary>
public sealed class InboxJob(IngestJob ingest, IBackgroundJobClient jobs, JobSettings settings, ILogger<InboxJob>? logger = null)
{
    /// <summary>A file is taken once it has not changed for this long (a copy still being written is left for the next scan).</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    [Queue("ingest")]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    [AutomaticRetry(Attempts = 0)]
    public string Scan(string inbox)
    {
        ArgumentException.ThrowIfNullOrEmpty(inbox);
        var queued = Directory.CreateDirectory(Path.Combine(inbox, "queued")).FullName;
        var moved = new List<string>();
        foreach (var file in Directory.EnumerateFiles(inbox).Where(ReturnLimits.IsReturnCandidate).Order(StringComparer.Ordinal).ToList())
        {
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(file) < SettleTime)
            {
                continue;
            }

            var target = Path.Combine(queued, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}-{Path.GetFileName(file)}");
            File.Move(file, target);
            // Queued now (a copy keeps its file's time, which may be old: it is not a file an earlier scan left behind).
            File.SetLastWriteTimeUtc(target, DateTime.UtcNow);
            moved.Add(target);
        }

        // A file queued by a scan that died before enqueuing it is queued again after an hour; taking it twice is harmless.
        foreach (var stale in Directory.EnumerateFiles(queued)
                     .Where(f => DateTime.UtcNow - File.GetLastWriteTimeUtc(f) > TimeSpan.FromHours(1) && !moved.Contains(f)).ToList())
        {
            File.SetLastWriteTimeUtc(stale, DateTime.UtcNow);
            moved.Add(stale);
        }

        // One job per batch of files: the files of a job are taken together and share one re-check.
        foreach (var chunk in moved.Chunk(settings.Returns.MaxFiles))
        {
            jobs.Enqueue<InboxJob>(j => j.TakeBatchAsync(chunk, CancellationToken.None));
        }

        return $"{moved.Count} returned files queued";
    }

    /// <summary>Takes one queued file (the jobs of earlier versions; a batch of one).</summary>
    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> TakeAsync(string queuedPath, CancellationToken cancellationToken) => await TakeBatchAsync([queuedPath], cancellationToken);

    /// <summary>
    /// Takes queued files together: each taken file moves to <c>taken/</c>, each refused one to <c>refused/</c> with its
    /// note. A file that failed (nothing of it kept) stays queued and the job fails after the others are taken, so that
    /// Hangfire's retry takes that file again; the files already taken are not in <c>queued/</c> any more.
    /// </summary>
    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> TakeBatchAsync(string[] queuedPaths, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queuedPaths);
        var present = queuedPaths.Distinct(StringComparer.Ordinal).Where(File.Exists).ToList();
        if (present.Count == 0)
        {
            return queuedPaths.Length == 1 ? $"{Path.GetFileName(queuedPaths[0])} was taken already" : "the files were taken already";
        }

        var inbox = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(present[0])))!;
        var results = await ingest.IngestFilesAsync(present.Select(p => new IngestJob.ReturnFile(p, null, Path.Combine(inbox, "receipts"))).ToList(),
            cancellationToken);
        var texts = new List<string>();
        foreach (var (queuedPath, outcome, _) in results.Where(r => r.Outcome is not null))
        {
            var folder = Directory.CreateDirectory(Path.Combine(inbox, outcome!.Refused ? "refused" : "taken")).FullName;
            var target = Path.Combine(folder, Path.GetFileName(queuedPath));
            if (outcome.Refused)
            {
                await File.WriteAllTextAsync(target + ".refused.txt",
                    string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:u}\n{outcome.Text}\n"), cancellationToken);
                _logger.LogWarning("Returned file {FileName} from the inbox was refused", Path.GetFileName(queuedPath));
            }

            if (File.Exists(queuedPath))
            {
                File.Move(queuedPath, target, overwrite: true);
            }

            texts.Add(outcome.Text);
        }

        var failures = results.Where(r => r.Failure is not null).ToList();
        if (failures.Count > 0)
        {
            // Hangfire retries the job: the failed files are still queued, the others are not.
            throw new AggregateException($"{failures.Count} of {results.Count} returned files could not be taken and stay queued: " +
                string.Join(", ", failures.Select(f => Path.GetFileName(f.Path))), failures.Select(f => f.Failure!));
        }

        return string.Join("\n", texts);
    }
}
