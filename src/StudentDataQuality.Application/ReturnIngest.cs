using System.Data;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StudentDataQuality.Application.Returns;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application;

/// <summary>What an ingest gave: the receipt, and whether the same bytes had been taken before (then the earlier receipt).</summary>
public sealed record IngestResult(Receipt Receipt, bool AlreadyIngested, long? CheckRunId);

/// <summary>A returned file as it arrived: its bytes (read within the size limit), its name as sent, and who sent it.</summary>
public sealed record ReturnedFile(byte[] Bytes, string FileName, Account Uploader)
{
    public string Sha256 { get; } = Convert.ToHexStringLower(SHA256.HashData(Bytes));
}

/// <summary>What became of one file of a batch: a receipt, a refusal (nothing of the file taken), or a failure (nothing taken; try again).</summary>
public sealed record BatchOutcome(ReturnedFile File, IngestResult? Result, WorksheetRejectedException? Refusal, Exception? Failure)
{
    /// <summary>The result, or the refusal or failure thrown as it was raised.</summary>
    public IngestResult ResultOrThrow()
    {
        if (Refusal is not null)
        {
            ExceptionDispatchInfo.Throw(Refusal);
        }

        if (Failure is not null)
        {
            ExceptionDispatchInfo.Throw(Failure);
        }

        return Result!;
    }
}

/// <summary>
/// Takes returned worksheets back (docs/worksheets.md, "Taking a return back"), as clear steps: read the file
/// (<see cref="ReturnedWorkbookReader"/>), verify it (<see cref="ReturnVerifier"/>), plan what each row asks for
/// (<see cref="ReturnPlanner"/>), store it (<see cref="ReturnStore"/>), re-check the changed records
/// (<see cref="CheckRunner"/>), build the receipt (<see cref="ReceiptBuilder"/>), audit (<see cref="AuditLog"/>).
/// <para>
/// Files that arrive together are taken as a batch, in one transaction: each file is verified and applied under a
/// savepoint of its own (a refusal or a failure of one file takes nothing of it and touches no other), then the records
/// all of them changed are re-checked once, per round, and each file's receipt is written. The same bytes twice give
/// the earlier receipt; a later return of the same worksheet applies only what changed since the earlier one.
/// </para>
/// </summary>
public sealed class ReturnIngest(NpgsqlDataSource dataSource, SigningKey key, ReturnLimits? limits = null, ILogger<ReturnIngest>? logger = null,
    CheckOptions? checkOptions = null)
{
    /// <summary>The actor of a re-check that served the returns of more than one uploader.</summary>
    public const string BatchActor = "job:ingest-batch";

    internal static JsonSerializerOptions Json => Receipt.JsonOptions;

    private readonly ReturnLimits _limits = limits ?? ReturnLimits.Default;
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>
    /// Whether the returns are taken into a practice database (training.practice holds its row): their receipts then say
    /// "练习 / Practice" in their title line, wherever they are written (the command line, the jobs, the portal).
    /// </summary>
    public async Task<bool> IsPracticeAsync(CancellationToken cancellationToken = default) =>
        await Data.Training.Practice.FindAsync(dataSource, cancellationToken) is not null;

    /// <summary>
    /// Called after each step inside the transaction: "return" and "versions" for each file, "recheck" once, "receipt" for
    /// each file. A test fails there to prove nothing is half-applied.
    /// </summary>
    public Action<string>? AfterStep { get; init; }

    /// <summary>Ingests one returned file on behalf of <paramref name="uploader"/> (a batch of one).</summary>
    /// <exception cref="WorksheetRejectedException">The whole file is refused; nothing of it was taken (the refusal is audited).</exception>
    public async Task<IngestResult> IngestAsync(Stream file, string fileName, Account uploader, CancellationToken cancellationToken = default)
    {
        var received = await ReceiveAsync(file, fileName, uploader, cancellationToken);
        return (await IngestBatchAsync([received], cancellationToken))[0].ResultOrThrow();
    }

    /// <summary>Reads an upload within the size limit.</summary>
    /// <exception cref="WorksheetRejectedException">Too large: refused before the whole upload was read (audited, without a sha256).</exception>
    public async Task<ReturnedFile> ReceiveAsync(Stream file, string fileName, Account uploader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(uploader);
        try
        {
            return new ReturnedFile(await ReadBoundedAsync(file, fileName, cancellationToken), fileName, uploader);
        }
        catch (WorksheetRejectedException e)
        {
            await RefusedAsync(uploader, e, null, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Whether <paramref name="uploader"/> may return worksheets at all, asked before anything of an upload is read (the portal asks
    /// before it reads the form): a manager's account never; a school's account only when its school has been issued a worksheet; a
    /// district's only when its district is in a school master. The ingest asks the same again of every file.
    /// </summary>
    /// <exception cref="WorksheetRejectedException">The account cannot return worksheets (<see cref="WorksheetRejection.NotPermitted"/>); audited.</exception>
    public async Task CheckUploaderAsync(Account uploader, string fileName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uploader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await UploadScopeAsync(connection, uploader, fileName, cancellationToken);
        }
        catch (WorksheetRejectedException e)
        {
            await AuditRefusalAsync(connection, uploader, e, null, null, cancellationToken);
            throw;
        }
    }

    /// <summary>Puts on record a file refused before it reached the ingest (an upload over the size limit, stopped at the door).</summary>
    public async Task RefusedAsync(Account uploader, WorksheetRejectedException refusal, long? bytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uploader);
        ArgumentNullException.ThrowIfNull(refusal);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditRefusalAsync(connection, uploader, refusal, null, bytes, cancellationToken);
    }

    /// <summary>
    /// Ingests files that arrived together. Never throws for one file's refusal or failure: each file's outcome says what
    /// became of it, in the order given. When the batch's re-check, a receipt or the commit fails, nothing of the files it
    /// applied is kept and each is taken again alone, so that only a file at fault fails; refusals and earlier receipts
    /// stand. Throws only when the database cannot be reached at all (then nothing was taken).
    /// </summary>
    public async Task<IReadOnlyList<BatchOutcome>> IngestBatchAsync(IReadOnlyList<ReturnedFile> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var outcomes = new BatchOutcome?[files.Count];
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var copies = new List<int>();
        for (var i = 0; i < files.Count; i++)
        {
            if (!first.TryAdd(files[i].Sha256, i))
            {
                copies.Add(i);
            }
        }

        var watch = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var pending = new List<Pending>();
        foreach (var i in first.Values)
        {
            var file = files[i];
            try
            {
                // Who sent it is judged before anything of the file is read, the school its _meta names before any of its rows.
                var scope = await UploadScopeAsync(connection, file.Uploader, file.FileName, cancellationToken);
                if (await EarlierAsync(connection, file, cancellationToken) is { } earlier)
                {
                    outcomes[i] = new BatchOutcome(file, earlier, null, null);
                    continue;
                }

                pending.Add(new Pending(i, file, ReturnedWorkbookReader.Read(new MemoryStream(file.Bytes, writable: false), file.FileName, _limits,
                    meta => InScope(meta, scope, file.FileName))));
            }
            catch (WorksheetRejectedException e)
            {
                outcomes[i] = new BatchOutcome(file, null, e, null);
            }
            catch (Exception e) when (e is not OperationCanceledException && connection.State == ConnectionState.Open)
            {
                _logger.LogError(e, "Return {File} from {Uploader} could not be read", file.FileName, file.Uploader.Name);
                outcomes[i] = new BatchOutcome(file, null, null, e);
            }
        }

        var readMs = watch.ElapsedMilliseconds;
        // A batch's files are applied and re-checked round by round, each round in a transaction of its own (one re-check
        // per transaction; rounds in order, so that two batches take the rounds' check locks in the same order).
        foreach (var round in pending.GroupBy(p => p.Workbook.Meta.RoundId).OrderBy(g => g.Key))
        {
            var group = round.ToList();
            if (!await ApplyAsync(connection, group, outcomes, watch, readMs, cancellationToken) && group.Count > 1)
            {
                // The batch's re-check, a receipt or the commit failed, and nothing of its files was kept: one file's data
                // may be at fault, so each is taken again alone and only the file at fault fails.
                foreach (var item in group.Where(p => outcomes[p.Index]?.Failure is not null))
                {
                    outcomes[item.Index] = null;
                    await ApplyAsync(connection, [item], outcomes, watch, readMs, cancellationToken);
                }
            }
        }

        // After the commits: what is put on record now must not turn a taken file into a failed one.
        foreach (var i in first.Values.Where(i => outcomes[i]!.Refusal is not null))
        {
            await AuditRefusalSafelyAsync(connection, files[i], outcomes[i]!.Refusal!, cancellationToken);
        }

        // The same bytes twice in one batch: the second copy is a repeat of the first. A refusal that depends on who sent
        // the first copy is not the second's: a copy from another account is judged again on its own.
        foreach (var i in copies)
        {
            var original = outcomes[first[files[i].Sha256]]!;
            if (original.Result is null && original.Refusal is not null && original.File.Uploader.Name != files[i].Uploader.Name)
            {
                outcomes[i] = (await IngestBatchAsync([files[i]], cancellationToken))[0];
                continue;
            }

            outcomes[i] = original.Result is null ? original with { File = files[i] } : await RepeatAsync(connection, files[i], cancellationToken);
            if (outcomes[i]!.Refusal is { } refusal)
            {
                await AuditRefusalSafelyAsync(connection, files[i], refusal, cancellationToken);
            }
        }

        // A file that could not be taken is on record too (nothing of it was kept; it can be sent again).
        for (var i = 0; i < files.Count; i++)
        {
            if (outcomes[i]!.Failure is { } failure)
            {
                await AuditSafelyAsync(connection, files[i], "worksheet.return.failed", new
                {
                    sha256 = files[i].Sha256,
                    bytes = files[i].Bytes.Length,
                    error = failure.GetType().Name,
                    message = failure.Message.Length > 300 ? failure.Message[..300] : failure.Message,
                }, cancellationToken);
            }
        }

        return outcomes.Select(o => o!).ToList();
    }

    private async Task AuditSafelyAsync(NpgsqlConnection connection, ReturnedFile file, string action, object details, CancellationToken cancellationToken)
    {
        try
        {
            if (connection.State != ConnectionState.Open)
            {
                await connection.CloseAsync();
                await connection.OpenAsync(cancellationToken);
            }

            await AuditLog.WriteAsync(connection, file.Uploader.Name, action, null, null, file.FileName, details, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError(e, "{Action} of {File} from {Uploader} could not be put on record", action, file.FileName, file.Uploader.Name);
        }
    }

    private Task AuditRefusalSafelyAsync(NpgsqlConnection connection, ReturnedFile file, WorksheetRejectedException refusal,
        CancellationToken cancellationToken) =>
        AuditSafelyAsync(connection, file, "worksheet.return.refused", RefusalDetails(refusal, file.Sha256, file.Bytes.Length), cancellationToken);

    private async Task<BatchOutcome> RepeatAsync(NpgsqlConnection connection, ReturnedFile file, CancellationToken cancellationToken)
    {
        try
        {
            return new BatchOutcome(file, await EarlierAsync(connection, file, cancellationToken), null, null);
        }
        catch (WorksheetRejectedException e)
        {
            return new BatchOutcome(file, null, e, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The copy's file was taken (the first copy's receipt stands); reading it back failed: send it again for its receipt.
            return new BatchOutcome(file, null, null, e);
        }
    }

    private sealed record Pending(int Index, ReturnedFile File, ReturnedWorkbook Workbook);

    private sealed record Applied(Pending Pending, LockedWorksheet Worksheet, ReturnPlan Plan, ReturnArrival Arrival);

    /// <summary>
    /// Applies files of one round in one transaction (a savepoint each), re-checks them once and writes their receipts.
    /// False when the transaction failed after files were applied (then nothing of them was kept, and their outcomes say so).
    /// </summary>
    private async Task<bool> ApplyAsync(NpgsqlConnection connection, List<Pending> pending, BatchOutcome?[] outcomes, Stopwatch watch, long readMs,
        CancellationToken cancellationToken)
    {
        var applied = new List<Applied>();
        var taken = new List<(Pending Item, IngestResult Result)>();
        long appliedMs = 0, recheckMs = 0;
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // Worksheets are locked in one order (a worksheet's returns in the order they came), so that two batches
            // holding returns of the same worksheets never wait on each other in a circle.
            foreach (var item in pending.OrderBy(p => p.Workbook.Meta.WorksheetId))
            {
                await transaction.SaveAsync("return_file", cancellationToken);
                try
                {
                    var (done, raced) = await ApplyAsync(connection, item, cancellationToken);
                    if (done is not null)
                    {
                        applied.Add(done);
                    }
                    else
                    {
                        // Two uploads of the same bytes at once: this one waited for the other's lock and finds its receipt.
                        outcomes[item.Index] = new BatchOutcome(item.File, raced, null, null);
                    }

                    await transaction.ReleaseAsync("return_file", cancellationToken);
                }
                catch (WorksheetRejectedException e)
                {
                    await transaction.RollbackAsync("return_file", cancellationToken);
                    outcomes[item.Index] = new BatchOutcome(item.File, null, e, null);
                }
                catch (Exception e) when (e is not OperationCanceledException && connection.State == ConnectionState.Open)
                {
                    await transaction.RollbackAsync("return_file", cancellationToken);
                    _logger.LogError(e, "Return {File} from {Uploader} failed; nothing of it was taken, the other files of its batch go on",
                        item.File.FileName, item.File.Uploader.Name);
                    outcomes[item.Index] = new BatchOutcome(item.File, null, null, e);
                }
            }

            appliedMs = watch.ElapsedMilliseconds;
            var runs = new Dictionary<int, long>();
            foreach (var round in applied.Where(a => a.Plan.Changed.Count > 0).GroupBy(a => a.Worksheet.RoundId))
            {
                var uploaders = round.Select(a => a.Pending.File.Uploader.Name).Distinct(StringComparer.Ordinal).ToList();
                var run = await new CheckRunner(dataSource, options: checkOptions).RunAsync(connection, round.First().Worksheet.Round,
                    CheckScope.Records(round.SelectMany(a => a.Plan.ChangedRecords).Distinct().ToArray()), uploaders.Count == 1 ? uploaders[0] : BatchActor,
                    null, cancellationToken);
                await ReturnStore.MarkRemovedAsync(connection, round.Key, run.RunId, round.SelectMany(a => a.Plan.RemovedRecords), cancellationToken);
                runs[round.Key] = run.RunId;
            }

            recheckMs = watch.ElapsedMilliseconds;
            AfterStep?.Invoke("recheck");
            var titles = new Dictionary<WorksheetLanguage, Dictionary<string, string>>();
            var openBySchool = new Dictionary<int, ILookup<string, SchoolOpenFinding>>();
            foreach (var round in applied.GroupBy(a => a.Worksheet.RoundId))
            {
                openBySchool[round.Key] = await ReturnStore.SchoolsOpenFindingsAsync(connection, round.First().Worksheet.Round,
                    round.Select(a => a.Worksheet.SchoolCode).ToList(), cancellationToken);
            }

            foreach (var done in applied)
            {
                var language = done.Pending.Workbook.Meta.Language;
                if (!titles.TryGetValue(language, out var ruleTitles))
                {
                    titles[language] = ruleTitles = await ReturnStore.RuleTitlesAsync(connection, language == WorksheetLanguage.English, cancellationToken);
                }

                long? runId = done.Plan.Changed.Count > 0 ? runs[done.Worksheet.RoundId] : null;
                var open = openBySchool[done.Worksheet.RoundId][done.Worksheet.SchoolCode].ToList();
                var receipt = ReceiptBuilder.Build(done.Worksheet, done.Pending.Workbook, done.Plan, done.Arrival, open, ruleTitles);
                await CompleteAsync(connection, done, receipt, runId, cancellationToken);
                AfterStep?.Invoke("receipt");
                taken.Add((done.Pending, new IngestResult(receipt, false, runId)));
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The batch's re-check, a receipt or the commit failed (or the connection broke): nothing of the files it
            // applied was kept. Refusals and earlier receipts stand.
            _logger.LogError(e, "A batch of {Files} returns failed after {Applied} of them were applied; nothing of those was kept", pending.Count,
                applied.Count);
            foreach (var item in pending.Where(p => outcomes[p.Index] is null))
            {
                outcomes[item.Index] = new BatchOutcome(item.File, null, null, e);
            }

            return applied.Count == 0;
        }

        foreach (var (item, result) in taken)
        {
            outcomes[item.Index] = new BatchOutcome(item.File, result, null, null);
            _logger.LogInformation("Return {ReturnId} of school {School} ({File}): {Applied} rows applied, {Rejected} rejected",
                result.Receipt.ReturnId, result.Receipt.SchoolCode, result.Receipt.FileName,
                result.Receipt.Count(ReceiptOutcome.AppliedClean) + result.Receipt.Count(ReceiptOutcome.AppliedStillFailing) +
                result.Receipt.Count(ReceiptOutcome.Removed), result.Receipt.Count(ReceiptOutcome.Rejected));
        }

        _logger.LogInformation(
            "Batch of {Files} returns: {Taken} taken, {Refused} refused, {Failed} failed; read by {ReadMs} ms, applied by {AppliedMs} ms, re-checked ({Records} records) by {RecheckMs} ms, committed by {TotalMs} ms",
            pending.Count, taken.Count, pending.Count(p => outcomes[p.Index]?.Refusal is not null), pending.Count(p => outcomes[p.Index]?.Failure is not null),
            readMs, appliedMs, applied.Sum(a => a.Plan.Changed.Count), recheckMs, watch.ElapsedMilliseconds);
        return true;
    }

    /// <summary>One file of a batch, under its savepoint: lock, verify, plan, store. Returns the earlier receipt when the same bytes were taken meanwhile.</summary>
    private async Task<(Applied? Done, IngestResult? Raced)> ApplyAsync(NpgsqlConnection connection, Pending item, CancellationToken cancellationToken)
    {
        var (file, workbook) = (item.File, item.Workbook);
        var worksheet = await ReturnStore.LockWorksheetAsync(connection, workbook.Meta.WorksheetId, file.Uploader, cancellationToken)
            ?? throw new WorksheetRejectedException(WorksheetRejection.UnknownWorksheet, file.FileName, detail: workbook.Meta.WorksheetId.ToString());
        ReturnVerifier.Authorise(worksheet, workbook, file.Uploader);
        if (await EarlierAsync(connection, file, cancellationToken) is { } raced)
        {
            return (null, raced);
        }

        var snapshot = await ReturnStore.SnapshotAsync(connection, worksheet.WorksheetId, cancellationToken);
        ReturnVerifier.VerifySignatures(worksheet, workbook, snapshot, key);

        var issued = workbook.Rows.Select(r => snapshot[r.RowKey]).ToList();
        var current = await RecordVersions.CurrentAsync(connection, worksheet.Rounds, issued.Select(i => i.RecordId).Distinct().ToArray(), cancellationToken);
        var identity = await ReturnStore.IssuedIdentityAsync(connection, worksheet.Rounds, issued.Select(i => (i.RecordId, i.RecordVersion)), cancellationToken);
        var before = await ReturnStore.EarlierReturnsAsync(connection, worksheet.WorksheetId, cancellationToken);
        var plan = ReturnPlanner.Plan(workbook, snapshot, current, identity, before);

        var (returnId, receivedAt) = await ReturnStore.InsertReturnAsync(connection, worksheet, file.FileName, file.Sha256, file.Bytes.Length,
            file.Uploader.Name, cancellationToken);
        AfterStep?.Invoke("return");
        await RecordVersions.WriteAsync(connection, worksheet.RoundId, plan.Versions(returnId).ToList(), cancellationToken);
        await ReturnStore.InsertCorrectionsAsync(connection, worksheet.RoundId, returnId, plan.Corrections, cancellationToken);
        await ReturnStore.InsertExplanationsAsync(connection, worksheet, returnId, plan.Explanations, cancellationToken);
        AfterStep?.Invoke("versions");
        return (new Applied(item, worksheet, plan, new ReturnArrival(returnId, file.FileName, file.Sha256, receivedAt, file.Uploader.Name)), null);
    }

    private static async Task CompleteAsync(NpgsqlConnection connection, Applied done, Receipt receipt, long? runId, CancellationToken cancellationToken)
    {
        var counts = Enum.GetValues<ReceiptOutcome>().ToDictionary(o => o.ToString(), receipt.Count);
        await ReturnStore.CompleteReturnAsync(connection, done.Arrival.ReturnId, JsonSerializer.Serialize(receipt, Json), JsonSerializer.Serialize(counts),
            runId, cancellationToken);
        await AuditLog.WriteAsync(connection, done.Arrival.ReceivedBy, "worksheet.return", done.Worksheet.RoundId, done.Worksheet.SchoolCode,
            done.Arrival.FileName, new
            {
                return_id = done.Arrival.ReturnId,
                worksheet_id = done.Worksheet.WorksheetId,
                issue_no = done.Worksheet.IssueNumber,
                sha256 = done.Arrival.Sha256,
                counts,
            }, cancellationToken);
    }

    /// <summary>The receipt of the same bytes taken before, when the uploader may see it (audited as a repeat).</summary>
    private static async Task<IngestResult?> EarlierAsync(NpgsqlConnection connection, ReturnedFile file, CancellationToken cancellationToken)
    {
        if (await ReturnStore.FindBySha256Async(connection, file.Sha256, file.Uploader, cancellationToken) is not { } taken)
        {
            return null;
        }

        if (!taken.UploaderInScope)
        {
            throw new WorksheetRejectedException(WorksheetRejection.OtherSchool, file.FileName, detail: taken.SchoolCode);
        }

        await AuditLog.WriteAsync(connection, file.Uploader.Name, "worksheet.return.repeat", taken.RoundId, taken.SchoolCode, file.FileName,
            new { return_id = taken.ReturnId, sha256 = file.Sha256 }, cancellationToken);
        return new IngestResult(JsonSerializer.Deserialize<Receipt>(taken.ReceiptJson, Json)!, true, taken.CheckRunId);
    }

    private static Task AuditRefusalAsync(NpgsqlConnection connection, Account uploader, WorksheetRejectedException refusal, string? sha256, long? bytes,
        CancellationToken cancellationToken) =>
        AuditLog.WriteAsync(connection, uploader.Name, "worksheet.return.refused", null, null, refusal.FileName, RefusalDetails(refusal, sha256, bytes),
            cancellationToken);

    private static object RefusalDetails(WorksheetRejectedException refusal, string? sha256, long? bytes) =>
        new { code = refusal.Code.ToString(), sha256, bytes, message = refusal.MessageIn(WorksheetLanguage.English) };

    /// <summary>
    /// The schools <paramref name="uploader"/> may return worksheets of (null: any), or a refusal when it may return none: what can
    /// be known of an upload before any of it is read (docs/security.md, "Uploads bounded in memory").
    /// </summary>
    private static async Task<IReadOnlySet<string>?> UploadScopeAsync(NpgsqlConnection connection, Account uploader, string fileName,
        CancellationToken cancellationToken)
    {
        WorksheetRejectedException NotPermitted(string why, params object?[] args) =>
            WorksheetRejectedException.Explained(WorksheetRejection.NotPermitted, fileName, null, null, why, args);
        switch (uploader.Role)
        {
            case AccountRole.DataTeam:
                return null;
            case AccountRole.School when !string.IsNullOrEmpty(uploader.SchoolCode):
                await using (var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM exchange.worksheet WHERE school_code = @school)", connection))
                {
                    command.Parameters.AddWithValue("school", uploader.SchoolCode);
                    return (bool)(await command.ExecuteScalarAsync(cancellationToken))!
                        ? new HashSet<string>([uploader.SchoolCode], StringComparer.Ordinal)
                        : throw NotPermitted("NoWorksheetIssued", uploader.SchoolCode);
                }

            case AccountRole.District when !string.IsNullOrEmpty(uploader.DistrictCode):
                await using (var command = new NpgsqlCommand("SELECT school_code FROM access.school_district WHERE district_code = @district",
                                 connection))
                {
                    command.Parameters.AddWithValue("district", uploader.DistrictCode);
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                    var schools = new HashSet<string>(StringComparer.Ordinal);
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        schools.Add(reader.GetString(0));
                    }

                    return schools.Count > 0 ? schools : throw NotPermitted("DistrictNoSchools", uploader.DistrictCode);
                }

            case AccountRole.Manager:
                throw NotPermitted("Manager");
            default:
                throw NotPermitted("NoScope");
        }
    }

    /// <summary>Refuses another school's worksheet by what its <c>_meta</c> says, before any of its rows is read (the issued worksheet decides again later).</summary>
    private static void InScope(ReturnedWorkbookMeta meta, IReadOnlySet<string>? scope, string fileName)
    {
        if (scope is not null && !scope.Contains(meta.SchoolCode))
        {
            throw new WorksheetRejectedException(WorksheetRejection.OtherSchool, fileName, detail: meta.SchoolCode);
        }
    }

    private async Task<byte[]> ReadBoundedAsync(Stream file, string fileName, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await file.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > _limits.MaxBytes)
            {
                throw _limits.TooLarge(fileName);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
