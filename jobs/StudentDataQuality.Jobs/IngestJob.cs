using Hangfire;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The ingest of one returned file as a Hangfire job: takes the file's path and the uploading account's name (never the
/// bytes), calls the same service as `sdq ingest`, and writes the receipt into a <c>receipts</c> folder beside the file.
/// Re-running it is safe: the same bytes give the earlier receipt. A failure (the database gone mid-file) leaves nothing
/// of the file and throws, so that Hangfire retries it; a refused file is not a failure but the school's to fix: the job
/// succeeds with the refusal as its result, and the refusal is in the audit log.
/// </summary>
public sealed class IngestJob(ReturnIngest ingest, AccountStore accounts)
{
    /// <summary>The account a job acts as when none is given: the pipeline, for the data team.</summary>
    public const string PipelineAccount = "job:ingest";

    [Queue("ingest")]
    [AutomaticRetry(Attempts = 3)]
    public async Task<string> RunAsync(string path, string? account, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var uploader = account is null ? Account.Operator(PipelineAccount) : await accounts.GetAsync(account, cancellationToken);
        try
        {
            await using var stream = File.OpenRead(path);
            var result = await ingest.IngestAsync(stream, Path.GetFileName(path), uploader, cancellationToken);
            var receipts = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "receipts");
            Directory.CreateDirectory(receipts);
            var receiptPath = Path.Combine(receipts, ReceiptWriter.FileName(result.Receipt));
            var partial = receiptPath + ".partial";
            await using (var output = File.Create(partial))
            {
                ReceiptWriter.Write(result.Receipt, output);
            }

            File.Move(partial, receiptPath, overwrite: true);
            return result.AlreadyIngested
                ? $"already taken as return {result.Receipt.ReturnId}; receipt {receiptPath}"
                : $"return {result.Receipt.ReturnId}; receipt {receiptPath}";
        }
        catch (WorksheetRejectedException refusal)
        {
            return $"refused ({refusal.Code}): {refusal.MessageIn(WorksheetLanguage.English)}";
        }
    }
}
