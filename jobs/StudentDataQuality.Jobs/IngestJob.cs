using Hangfire;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>What became of one returned file: taken (or taken before: the same bytes), or refused with a reason.</summary>
public sealed record IngestOutcome(bool Refused, string Text, string? ReceiptPath);

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
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> RunAsync(string path, string? account, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var receipts = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "receipts");
        return (await IngestFileAsync(path, account, receipts, cancellationToken)).Text;
    }

    /// <summary>Ingests one file as the account (null: the pipeline) and writes its receipt into <paramref name="receipts"/>.</summary>
    public async Task<IngestOutcome> IngestFileAsync(string path, string? account, string receipts, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var uploader = account is null ? Account.Operator(PipelineAccount) : await accounts.GetAsync(account, cancellationToken);
        try
        {
            IngestResult result;
            await using (var stream = File.OpenRead(path))
            {
                result = await ingest.IngestAsync(stream, Path.GetFileName(path), uploader, cancellationToken);
            }

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
        catch (WorksheetRejectedException refusal)
        {
            return new IngestOutcome(true, $"refused ({refusal.Code}): {refusal.MessageIn(WorksheetLanguage.English)}", null);
        }
    }
}
