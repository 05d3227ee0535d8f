using System.Globalization;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The inbox: a folder where returned worksheets are dropped (by the data team from mail, or by a file share). Every
/// minute a scan moves each settled workbook into <c>queued/</c> under a name of its own and enqueues one ingest job for
/// it; the ingest job takes it as the pipeline (the worksheet's own signature says whose it is), writes the receipt into
/// <c>receipts/</c>, and moves the file to <c>taken/</c>, or to <c>refused/</c> with a note saying why. A scan run twice
/// finds nothing new; an ingest job run twice finds its file taken already (and the same bytes give the earlier receipt).
/// The scan's job carries the folder, so any worker can run it: the folder must be one they all reach (a share).
/// </summary>
public sealed class InboxJob(IngestJob ingest, IBackgroundJobClient jobs, ILogger<InboxJob>? logger = null)
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
        var taken = 0;
        foreach (var file in Directory.EnumerateFiles(inbox).Where(ReturnLimits.IsReturnCandidate).Order(StringComparer.Ordinal).ToList())
        {
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(file) < SettleTime)
            {
                continue;
            }

            var target = Path.Combine(queued, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}-{Path.GetFileName(file)}");
            File.Move(file, target);
            jobs.Enqueue<InboxJob>(j => j.TakeAsync(target, CancellationToken.None));
            taken++;
        }

        // A file queued by a scan that died before enqueuing it is queued again after an hour; taking it twice is harmless.
        foreach (var stale in Directory.EnumerateFiles(queued).Where(f => DateTime.UtcNow - File.GetLastWriteTimeUtc(f) > TimeSpan.FromHours(1)))
        {
            File.SetLastWriteTimeUtc(stale, DateTime.UtcNow);
            jobs.Enqueue<InboxJob>(j => j.TakeAsync(stale, CancellationToken.None));
        }

        return $"{taken} returned files queued";
    }

    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> TakeAsync(string queuedPath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(queuedPath);
        if (!File.Exists(queuedPath))
        {
            return $"{Path.GetFileName(queuedPath)} was taken already";
        }

        var inbox = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(queuedPath)))!;
        var outcome = await ingest.IngestFileAsync(queuedPath, account: null, Path.Combine(inbox, "receipts"), cancellationToken);
        var folder = Directory.CreateDirectory(Path.Combine(inbox, outcome.Refused ? "refused" : "taken")).FullName;
        var target = Path.Combine(folder, Path.GetFileName(queuedPath));
        if (outcome.Refused)
        {
            await File.WriteAllTextAsync(target + ".refused.txt",
                string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:u}\n{outcome.Text}\n"), cancellationToken);
            _logger.LogWarning("Returned file {FileName} from the inbox was refused", Path.GetFileName(queuedPath));
        }

        File.Move(queuedPath, target, overwrite: true);
        return outcome.Text;
    }
}
