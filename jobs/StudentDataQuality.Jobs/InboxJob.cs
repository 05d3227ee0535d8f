using System.Globalization;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Files;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The inbox: a folder where returned worksheets are dropped (by a school or district on a file share, or by the data team
/// from mail), each in the folder of the account that sends it: <c>inbox/&lt;account&gt;/</c>. Every minute a scan moves each
/// settled workbook of a sender's folder into <c>queued/&lt;account&gt;/</c> under a name of its own and enqueues one ingest
/// job per batch of them (Returns:BatchFiles); the job takes each file as its sender's, judged as an upload of that
/// account through the portal would be (<see cref="InboxSenders"/>), writes each receipt into <c>receipts/&lt;account&gt;/</c>,
/// and moves each file to <c>taken/&lt;account&gt;/</c>, or to <c>refused/&lt;account&gt;/</c> with a note saying why. A workbook
/// with no sender (in the inbox's own folder, or in a folder no active account is named after) is not taken: it moves to
/// <c>not-taken/</c> with a note saying what to do, and is put on record. A scan run twice finds nothing new; an ingest job
/// run twice finds its files taken already (and the same bytes give the earlier receipt).
/// The scan's job carries the folder, so any worker can run it: the folder must be one they all reach (a share).
/// </summary>
public sealed class InboxJob(IngestJob ingest, IBackgroundJobClient jobs, JobSettings settings, InboxSenders senders, ILogger<InboxJob>? logger = null)
{
    /// <summary>A file is taken once it has not changed for this long (a copy still being written is left for the next scan).</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(5);

    /// <summary>Where the files that have no sender go, each with a note.</summary>
    public const string NotTaken = "not-taken";

    /// <summary>The inbox's own folders: never a sender's (an account of one of these names cannot send through the inbox).</summary>
    public static readonly IReadOnlySet<string> OwnFolders = new HashSet<string>(StringComparer.Ordinal) { "queued", "taken", "refused", "receipts", NotTaken };

    private const string NoteInChinese =
        "未接收（原因见上）：收件箱的文件须放在寄送账号同名的文件夹中（如 inbox/school-<学校代码>/），该账号须存在且未封存；放入正确的文件夹后即会接收。";

    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    // Still named Scan (no Async): the recurring job stored by earlier versions calls it by this name.
    [Queue("ingest")]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    [AutomaticRetry(Attempts = 0)]
    public async Task<string> Scan(string inbox)
    {
        ArgumentException.ThrowIfNullOrEmpty(inbox);
        inbox = Path.GetFullPath(inbox);
        var queuedRoot = OwnerOnly.CreateDirectory(Path.Combine(inbox, "queued")).FullName;
        var moved = new List<string>();
        var asideCount = 0;
        foreach (var file in Settled(inbox))
        {
            await SetAsideAsync(inbox, file, null,
                "the file was dropped in the inbox's own folder, which names no sender: put it in the folder of the account that sends it, " +
                "inbox/<account>/ (e.g. inbox/school-<school code>/), so that it is taken as that account's return", CancellationToken.None);
            asideCount++;
        }

        foreach (var folder in Directory.EnumerateDirectories(inbox).Order(StringComparer.Ordinal).ToList())
        {
            var name = Path.GetFileName(folder);
            if (OwnFolders.Contains(name))
            {
                continue;
            }

            var files = Settled(folder);
            if (files.Count == 0)
            {
                continue;
            }

            var sender = await senders.FindAsync(name, CancellationToken.None);
            if (!sender.Known)
            {
                foreach (var file in files)
                {
                    await SetAsideAsync(inbox, file, name, sender.Problem!, CancellationToken.None);
                    asideCount++;
                }

                continue;
            }

            var queued = OwnerOnly.CreateDirectory(Path.Combine(queuedRoot, name)).FullName;
            foreach (var file in files)
            {
                // A link would let a sender's folder hand over a file of another folder (another school's, or any file the worker can read).
                if (new FileInfo(file).LinkTarget is not null)
                {
                    await SetAsideAsync(inbox, file, name, "the file is a link to another file, and links are not followed: put a copy of the file itself in the folder",
                        CancellationToken.None);
                    asideCount++;
                    continue;
                }

                var target = Path.Combine(queued, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}-{Path.GetFileName(file)}");
                OwnerOnly.Move(file, target);
                // Queued now (a copy keeps its file's time, which may be old: it is not a file an earlier scan left behind).
                File.SetLastWriteTimeUtc(target, DateTime.UtcNow);
                moved.Add(target);
            }
        }

        // A file queued by a scan that died before enqueuing it is queued again after an hour; taking it twice is harmless.
        // Files queued by earlier versions, straight in queued/, have no sender: the job sets them aside.
        foreach (var stale in Directory.EnumerateFiles(queuedRoot, "*", SearchOption.AllDirectories)
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

        return asideCount == 0 ? $"{moved.Count} returned files queued" : $"{moved.Count} returned files queued; {asideCount} not taken (no sender), in {NotTaken}/";
    }

    /// <summary>Takes one queued file (the jobs of earlier versions; a batch of one).</summary>
    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> TakeAsync(string queuedPath, CancellationToken cancellationToken) => await TakeBatchAsync([queuedPath], cancellationToken);

    /// <summary>
    /// Takes queued files together, each as the account of its folder (<c>queued/&lt;account&gt;/</c>): each taken file moves to
    /// <c>taken/&lt;account&gt;/</c>, each refused one to <c>refused/&lt;account&gt;/</c> with its note. A file whose sender is gone or
    /// sealed meanwhile (or queued by an earlier version, with no sender) is not taken: it moves to <c>not-taken/</c> with its
    /// note. A file that failed (nothing of it kept) stays queued and the job fails after the others are taken, so that
    /// Hangfire's retry takes that file again; the files already taken are not in <c>queued/</c> any more.
    /// </summary>
    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> TakeBatchAsync(string[] queuedPaths, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queuedPaths);
        var present = queuedPaths.Distinct(StringComparer.Ordinal).Where(File.Exists).Select(Path.GetFullPath).ToList();
        if (present.Count == 0)
        {
            return queuedPaths.Length == 1 ? $"{Path.GetFileName(queuedPaths[0])} was taken already" : "the files were taken already";
        }

        var texts = new List<string>();
        var files = new List<(string Path, string Inbox, string Sender)>();
        var found = new Dictionary<string, InboxSender>(StringComparer.Ordinal);
        foreach (var path in present)
        {
            var (inbox, folder) = Locate(path);
            if (folder is null)
            {
                await SetAsideAsync(inbox, path, null,
                    "the file was queued by an earlier version of the inbox, which recorded no sender: put it in the folder of the account that sends it, " +
                    "inbox/<account>/ (e.g. inbox/school-<school code>/)", cancellationToken);
                texts.Add($"{Path.GetFileName(path)}: not taken (no sender)");
                continue;
            }

            if (!found.TryGetValue(folder, out var sender))
            {
                found[folder] = sender = await senders.FindAsync(folder, cancellationToken);
            }

            if (!sender.Known)
            {
                await SetAsideAsync(inbox, path, folder, sender.Problem!, cancellationToken);
                texts.Add($"{Path.GetFileName(path)}: not taken ({sender.Problem})");
                continue;
            }

            files.Add((path, inbox, sender.Account!.Name));
        }

        var results = await ingest.IngestFilesAsync(
            files.Select(f => new IngestJob.ReturnFile(f.Path, f.Sender, Path.Combine(f.Inbox, "receipts", f.Sender))).ToList(), cancellationToken);
        for (var i = 0; i < results.Count; i++)
        {
            var (queuedPath, outcome, _) = results[i];
            if (outcome is null)
            {
                continue;
            }

            var (_, inbox, sender) = files[i];
            var folder = OwnerOnly.CreateDirectory(Path.Combine(inbox, outcome.Refused ? "refused" : "taken", sender)).FullName;
            var target = Path.Combine(folder, Path.GetFileName(queuedPath));
            if (outcome.Refused)
            {
                await OwnerOnly.WriteAllTextAsync(target + ".refused.txt",
                    string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:u}\n{outcome.Text}\n"), cancellationToken);
                _logger.LogWarning("Returned file {FileName} from {Sender} in the inbox was refused", Path.GetFileName(queuedPath), sender);
            }

            if (File.Exists(queuedPath))
            {
                OwnerOnly.Move(queuedPath, target, overwrite: true);
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

    /// <summary>The workbooks directly in a folder that have not changed for <see cref="SettleTime"/>, in name order.</summary>
    private static List<string> Settled(string folder) =>
        Directory.EnumerateFiles(folder).Where(ReturnLimits.IsReturnCandidate).Order(StringComparer.Ordinal)
            .Where(f => DateTime.UtcNow - File.GetLastWriteTimeUtc(f) >= SettleTime).ToList();

    /// <summary>
    /// The inbox and the sender's folder of a queued file (<c>&lt;inbox&gt;/queued/&lt;account&gt;/&lt;file&gt;</c>); no sender for a file
    /// queued by an earlier version straight into <c>&lt;inbox&gt;/queued/</c>.
    /// </summary>
    private static (string Inbox, string? Folder) Locate(string queuedPath)
    {
        var folder = Path.GetDirectoryName(queuedPath)!;
        var parent = Path.GetDirectoryName(folder)!;
        return Path.GetFileName(parent) == "queued" && !OwnFolders.Contains(Path.GetFileName(folder))
            ? (Path.GetDirectoryName(parent)!, Path.GetFileName(folder))
            : (parent, null);
    }

    /// <summary>Moves a file that has no sender to <c>not-taken/</c> with a note saying why and what to do, logs it, and puts it on record.</summary>
    private async Task SetAsideAsync(string inbox, string file, string? folder, string reason, CancellationToken cancellationToken)
    {
        var aside = OwnerOnly.CreateDirectory(Path.Combine(inbox, NotTaken)).FullName;
        var name = Path.GetFileName(file);
        var target = Path.Combine(aside, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}-{name}");
        OwnerOnly.Move(file, target);
        var from = folder is null ? "" : $" (from the folder {folder}/)";
        await OwnerOnly.WriteAllTextAsync(target + ".not-taken.txt", string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:u}\nnot taken: {name}{from}\n{reason}\n{NoteInChinese}\n"), cancellationToken);
        _logger.LogWarning("Returned file {FileName} in the inbox was not taken: {Reason}", name, reason);
        await senders.NotTakenAsync(name, folder, reason, cancellationToken);
    }
}
