using System.Runtime.ExceptionServices;
using Hangfire;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Files;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>What became of one returned file: taken (or taken before: the same bytes), or refused with a reason.</summary>
public sealed record IngestOutcome(bool Refused, string Text, string? ReceiptPath);

/// <summary>
/// The ingest of returned files as a Hangfire job: takes the file's path and the uploading account's name (never the
/// bytes), hands the file to the process's <see cref="ReturnBatcher"/> (returns taken at the same time share one
/// re-check), and writes the receipt into a <c>receipts</c> folder beside the file. Re-running it is safe: the same
/// bytes give the earlier receipt. A failure (the database gone mid-file) leaves nothing of the file and throws, so that
/// Hangfire retries it; a refused file is not a failure but the school's to fix: the job succeeds with the refusal as its
/// result, and the refusal is in the audit log.
/// </summary>
public sealed class IngestJob(ReturnIngest ingest, ReturnBatcher batcher, AccountStore accounts, JobSettings? settings = null)
{
    /// <summary>The account a job acts as when none is given: the pipeline, for the data team.</summary>
    public const string PipelineAccount = "job:ingest";

    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> RunAsync(string path, string? account, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return (await IngestFileAsync(path, account, ReceiptsBeside(path), cancellationToken)).Text;
    }

    /// <summary>
    /// Several files as one job, each as its account (null: the pipeline), each receipt beside its file: they are
    /// handed to the batcher together, so they share a re-check. A file that failed fails the job after the others are
    /// taken; Hangfire's retry gives those their earlier receipts and takes the failed one.
    /// </summary>
    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> RunBatchAsync(string[] paths, string?[] accounts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(accounts);
        if (paths.Length != accounts.Length)
        {
            throw new ArgumentException($"{paths.Length} files and {accounts.Length} accounts: give one account (or none) per file.", nameof(accounts));
        }

        var results = await IngestFilesAsync(paths.Select((path, i) => new ReturnFile(path, accounts[i], ReceiptsBeside(path))).ToList(), cancellationToken);
        var failures = results.Where(r => r.Failure is not null).ToList();
        if (failures.Count > 0)
        {
            throw new AggregateException($"{failures.Count} of {results.Count} returned files could not be taken: " +
                string.Join(", ", failures.Select(f => Path.GetFileName(f.Path))), failures.Select(f => f.Failure!));
        }

        return string.Join("\n", results.Select(r => $"{Path.GetFileName(r.Path)}: {r.Outcome!.Text}"));
    }

    /// <summary>Ingests one file as the account (null: the pipeline) and writes its receipt into <paramref name="receipts"/>.</summary>
    /// <exception cref="Exception">The file could not be taken (nothing of it was kept): what failed.</exception>
    public async Task<IngestOutcome> IngestFileAsync(string path, string? account, string receipts, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (_, outcome, failure) = (await IngestFilesAsync([new ReturnFile(path, account, receipts)], cancellationToken))[0];
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        return outcome!;
    }

    /// <summary>A file to take: where it is, whose it is (null: the pipeline's), where its receipt goes.</summary>
    public sealed record ReturnFile(string Path, string? Account, string Receipts);

    /// <summary>
    /// Ingests files together: each file's outcome, or what made it fail (nothing of that file was kept; the others are
    /// taken all the same). An unknown account is the caller's mistake and fails the whole call before anything is read.
    /// </summary>
    public async Task<IReadOnlyList<(string Path, IngestOutcome? Outcome, Exception? Failure)>> IngestFilesAsync(IReadOnlyList<ReturnFile> files,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var uploaders = new Dictionary<string, Account>(StringComparer.Ordinal);
        foreach (var name in files.Select(f => f.Account).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            uploaders[name] = await accounts.GetAsync(name, cancellationToken);
        }

        var handed = new List<Task<BatchOutcome>>();
        var results = new (string Path, IngestOutcome? Outcome, Exception? Failure)[files.Count];
        var received = new List<int>();
        for (var i = 0; i < files.Count; i++)
        {
            var uploader = files[i].Account is { } name ? uploaders[name] : Account.Operator(PipelineAccount);
            try
            {
                await using var stream = File.OpenRead(files[i].Path);
                handed.Add(batcher.SubmitAsync(await ingest.ReceiveAsync(stream, Path.GetFileName(files[i].Path), uploader, cancellationToken), cancellationToken));
                received.Add(i);
            }
            catch (WorksheetRejectedException refusal)
            {
                results[i] = (files[i].Path, Refused(refusal), null);
            }
            catch (IOException e)
            {
                // Gone or unreadable (moved away, a share that went down): this file fails, the others are taken.
                results[i] = (files[i].Path, null, e);
            }
        }

        var outcomes = await Task.WhenAll(handed);
        var practice = outcomes.Any(o => o.Result is not null) && await ingest.IsPracticeAsync(cancellationToken);
        for (var k = 0; k < outcomes.Length; k++)
        {
            var (i, outcome) = (received[k], outcomes[k]);
            results[i] = outcome switch
            {
                { Result: { } result } => (files[i].Path, await WriteReceiptAsync(result, files[i].Receipts, settings?.RuleHelp, practice), null),
                { Refusal: { } refusal } => (files[i].Path, Refused(refusal), null),
                _ => (files[i].Path, null, outcome.Failure),
            };
        }

        return results;
    }

    private static string ReceiptsBeside(string path) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "receipts");

    private static IngestOutcome Refused(WorksheetRejectedException refusal) =>
        new(true, $"refused ({refusal.Code}): {refusal.MessageIn(WorksheetLanguage.English)}", null);

    private static async Task<IngestOutcome> WriteReceiptAsync(IngestResult result, string receipts, RuleHelp? ruleHelp, bool practice)
    {
        OwnerOnly.CreateDirectory(receipts);
        var receiptPath = Path.Combine(receipts, ReceiptWriter.FileName(result.Receipt));
        var partial = receiptPath + ".partial";
        await using (var output = OwnerOnly.Create(partial))
        {
            ReceiptWriter.Write(result.Receipt, output, ruleHelp, practice);
        }

        File.Move(partial, receiptPath, overwrite: true);
        return new IngestOutcome(false, result.AlreadyIngested
            ? $"already taken as return {result.Receipt.ReturnId}; receipt {receiptPath}"
            : $"return {result.Receipt.ReturnId}; receipt {receiptPath}", receiptPath);
    }
}
