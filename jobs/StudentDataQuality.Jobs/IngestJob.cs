using System.Runtime.ExceptionServices;
using Hangfire;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
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
public sealed class IngestJob(ReturnIngest ingest, ReturnBatcher batcher, AccountStore accounts)
{
    /// <summary>The account a job acts as when none is given: the pipeline, for the data team.</summary>
    public const string PipelineAccount = "job:ingest";

    [Queue("ingest")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> RunAsync(string path, string? account, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var receipts = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "receipts");
        return (await IngestFileAsync(path, account, receipts, cancellationToken)).Text;
    }

    /// <summary>Ingests one file as the account (null: the pipeline) and writes its receipt into <paramref name="receipts"/>.</summary>
    /// <exception cref="Exception">The file could not be taken (nothing of it was kept): what failed.</exception>
    public async Task<IngestOutcome> IngestFileAsync(string path, string? account, string receipts, CancellationToken cancellationToken)
    {
        var (_, outcome, failure) = (await IngestFilesAsync([path], account, receipts, cancellationToken))[0];
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        return outcome!;
    }

    /// <summary>
    /// Ingests files together as the account (null: the pipeline): each file's outcome, or what made it fail (nothing of
    /// that file was kept; the others are taken all the same).
    /// </summary>
    public async Task<IReadOnlyList<(string Path, IngestOutcome? Outcome, Exception? Failure)>> IngestFilesAsync(IReadOnlyList<string> paths, string? account,
        string receipts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var uploader = account is null ? Account.Operator(PipelineAccount) : await accounts.GetAsync(account, cancellationToken);
        var handed = new List<Task<BatchOutcome>>();
        var results = new (string Path, IngestOutcome? Outcome, Exception? Failure)[paths.Count];
        var received = new List<int>();
        for (var i = 0; i < paths.Count; i++)
        {
            try
            {
                await using var stream = File.OpenRead(paths[i]);
                handed.Add(batcher.SubmitAsync(await ingest.ReceiveAsync(stream, Path.GetFileName(paths[i]), uploader, cancellationToken), cancellationToken));
                received.Add(i);
            }
            catch (WorksheetRejectedException refusal)
            {
                results[i] = (paths[i], Refused(refusal), null);
            }
        }

        var outcomes = await Task.WhenAll(handed);
        for (var k = 0; k < outcomes.Length; k++)
        {
            var (i, outcome) = (received[k], outcomes[k]);
            results[i] = outcome switch
            {
                { Result: { } result } => (paths[i], await WriteReceiptAsync(result, receipts), null),
                { Refusal: { } refusal } => (paths[i], Refused(refusal), null),
                _ => (paths[i], null, outcome.Failure),
            };
        }

        return results;
    }

    private static IngestOutcome Refused(WorksheetRejectedException refusal) =>
        new(true, $"refused ({refusal.Code}): {refusal.MessageIn(WorksheetLanguage.English)}", null);

    private static async Task<IngestOutcome> WriteReceiptAsync(IngestResult result, string receipts)
    {
        Directory.CreateDirectory(receipts);
        var receiptPath = Path.Combine(receipts, ReceiptWriter.FileName(result.Receipt));
        var partial = receiptPath + ".partial";
        await using (var output = File.Create(partial))
        {
            ReceiptWriter.Write(result.Receipt, output);
        }

        File.Move(partial, receiptPath, overwrite: true);
        return new IngestOutcome(false, result.AlreadyIngested
            ? $"already taken as return {result.Receipt.ReturnId}; receipt {receiptPath}"
            : $"return {result.Receipt.ReturnId}; receipt {receiptPath}", receiptPath);
    }
}
