using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application;

/// <summary>What an ingest gave: the receipt, and whether the same bytes had been taken before (then the earlier receipt).</summary>
public sealed record IngestResult(Receipt Receipt, bool AlreadyIngested, long? CheckRunId);

/// <summary>
/// Takes a returned worksheet back (WORKSHEETS.md, what the server accepts back): refuses the whole file when it cannot
/// be trusted, otherwise takes what can be taken row by row, in one transaction per file: the return, each correction,
/// the new record versions, the explanations for review, the re-check of the changed records and the audit entry. The
/// receipt says what became of every row. The same bytes twice give the earlier receipt; a later return of the same
/// worksheet applies only what changed since the earlier one.
/// </summary>
public sealed class ReturnIngest(NpgsqlDataSource dataSource, SigningKey key, ReturnLimits? limits = null, ILogger<ReturnIngest>? logger = null,
    CheckOptions? checkOptions = null)
{
    private static readonly string[] IdentityFields = ["student_no", "grade", "class_name", "name"];

    internal static JsonSerializerOptions Json => Receipt.JsonOptions;

    private readonly ReturnLimits _limits = limits ?? ReturnLimits.Default;
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Called after each step inside the transaction (return, versions, recheck, receipt): a test fails there to prove nothing is half-applied.</summary>
    public Action<string>? AfterStep { get; init; }

    /// <summary>Ingests one returned file on behalf of <paramref name="uploader"/>.</summary>
    /// <exception cref="WorksheetRejectedException">The whole file is refused; nothing of it was taken (the refusal is audited).</exception>
    public async Task<IngestResult> IngestAsync(Stream file, string fileName, Account uploader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(uploader);
        byte[] bytes;
        try
        {
            bytes = await ReadBoundedAsync(file, fileName, cancellationToken);
        }
        catch (WorksheetRejectedException e)
        {
            // Refused before the whole upload was read: there is no sha256 and no size to keep, but the refusal is audited all the same.
            await AuditRefusalAsync(uploader, fileName, e, null, null, cancellationToken);
            throw;
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        try
        {
            return await IngestAsync(bytes, sha256, fileName, uploader, cancellationToken);
        }
        catch (WorksheetRejectedException e)
        {
            await AuditRefusalAsync(uploader, fileName, e, sha256, bytes.Length, cancellationToken);
            throw;
        }
    }

    /// <summary>Puts on record a file refused before it reached the ingest (an upload over the size limit, stopped at the door).</summary>
    public Task RefusedAsync(Account uploader, WorksheetRejectedException refusal, long? bytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uploader);
        ArgumentNullException.ThrowIfNull(refusal);
        return AuditAsync(uploader.Name, "worksheet.return.refused", null, null, refusal.FileName,
            new { code = refusal.Code.ToString(), sha256 = (string?)null, bytes, message = refusal.MessageIn(WorksheetLanguage.English) }, cancellationToken);
    }

    private Task AuditRefusalAsync(Account uploader, string fileName, WorksheetRejectedException refusal, string? sha256, int? bytes,
        CancellationToken cancellationToken) =>
        AuditAsync(uploader.Name, "worksheet.return.refused", null, null, fileName,
            new { code = refusal.Code.ToString(), sha256, bytes, message = refusal.MessageIn(WorksheetLanguage.English) },
            cancellationToken);

    private async Task<IngestResult> IngestAsync(byte[] bytes, string sha256, string fileName, Account uploader, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await EarlierAsync(connection, sha256, fileName, uploader, cancellationToken) is { } earlier)
        {
            return earlier;
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var workbook = ReturnedWorkbookReader.Read(new MemoryStream(bytes, writable: false), fileName, _limits);
        var readMs = watch.ElapsedMilliseconds;
        var meta = workbook.Meta;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var worksheet = await LockWorksheetAsync(connection, meta.WorksheetId, cancellationToken)
            ?? throw new WorksheetRejectedException(WorksheetRejection.UnknownWorksheet, fileName, detail: meta.WorksheetId.ToString());
        Refuse(worksheet, workbook, uploader);

        // Two uploads of the same bytes at once: the second waited for the first's lock, and now finds its receipt.
        if (await EarlierAsync(connection, sha256, fileName, uploader, cancellationToken) is { } raced)
        {
            return raced;
        }

        var snapshot = await SnapshotAsync(connection, worksheet.WorksheetId, cancellationToken);
        VerifySignatures(worksheet, workbook, snapshot);

        var rows = workbook.Rows.Select(r => (Row: r, Issued: snapshot[r.RowKey])).ToList();
        var recordIds = rows.Select(r => r.Issued.RecordId).Distinct().ToArray();
        // A row may show a previous-round record (a student of last round absent now): it is read, never changed.
        int[] rounds = worksheet.PreviousRoundId is { } previous ? [worksheet.RoundId, previous] : [worksheet.RoundId];
        var current = await RecordVersions.CurrentAsync(connection, rounds, recordIds, cancellationToken);
        var identity = await IssuedIdentityAsync(connection, rounds, rows.Select(r => (r.Issued.RecordId, r.Issued.RecordVersion)), cancellationToken);
        var before = await EarlierReturnsAsync(connection, worksheet.WorksheetId, cancellationToken);
        var headers = meta.Columns.ToDictionary(c => c.Marker, c => c.Header, StringComparer.Ordinal);
        var decisions = rows.Select(r => Decide(workbook, r.Row, r.Issued, current[r.Issued.RecordId], identity[(r.Issued.RecordId, r.Issued.RecordVersion)],
            before, headers)).ToList();

        var (returnId, receivedAt) = await InsertReturnAsync(connection, worksheet, fileName, sha256, bytes.Length, uploader, cancellationToken);
        AfterStep?.Invoke("return");

        var changed = decisions.Where(d => d.Kind is DecisionKind.Correct or DecisionKind.Remove).ToList();
        await RecordVersions.WriteAsync(connection, worksheet.RoundId, changed.Select(d => new NextVersion(d.Issued.RecordId, d.Current.Version + 1,
            d.Kind == DecisionKind.Remove ? d.Current.RawValues : Apply(d.Current.RawValues, d.Changes), d.Current.ExtraRaw, returnId,
            d.Kind == DecisionKind.Remove)).ToList(), cancellationToken);
        await InsertCorrectionsAsync(connection, worksheet.RoundId, returnId, workbook.ProblemsSheet, changed, cancellationToken);
        await InsertExplanationsAsync(connection, worksheet, returnId, decisions.Where(d => d.Kind == DecisionKind.Explain && !d.Repeated).ToList(),
            cancellationToken);
        AfterStep?.Invoke("versions");

        var writeMs = watch.ElapsedMilliseconds;
        long? runId = null;
        if (changed.Count > 0)
        {
            var round = new Round(worksheet.RoundId, worksheet.RoundCode, worksheet.RoundDate, worksheet.SchoolYear, worksheet.PreviousRoundId, "open");
            var run = await new CheckRunner(dataSource, options: checkOptions).RunAsync(connection, round,
                CheckScope.Records(changed.Select(d => d.Issued.RecordId).ToArray()), uploader.Name, null, cancellationToken);
            runId = run.RunId;
            await MarkRemovedAsync(connection, worksheet.RoundId, run.RunId, changed.Where(d => d.Kind == DecisionKind.Remove).Select(d => d.Issued.RecordId),
                cancellationToken);
        }

        var recheckMs = watch.ElapsedMilliseconds;
        AfterStep?.Invoke("recheck");
        var receipt = await ReceiptAsync(connection, worksheet, workbook, decisions, returnId, fileName, sha256, receivedAt, uploader, cancellationToken);
        await CompleteReturnAsync(connection, worksheet, returnId, runId, receipt, fileName, sha256, uploader, cancellationToken);
        AfterStep?.Invoke("receipt");
        await transaction.CommitAsync(cancellationToken);
        _logger.LogInformation(
            "Return {ReturnId} of school {School} ({File}): {Applied} rows applied, {Rejected} rejected; read {ReadMs} ms, decided and written by {WriteMs} ms, re-checked by {RecheckMs} ms, committed by {TotalMs} ms",
            returnId, worksheet.SchoolCode, fileName, changed.Count, receipt.Count(ReceiptOutcome.Rejected), readMs, writeMs, recheckMs, watch.ElapsedMilliseconds);
        return new IngestResult(receipt, false, runId);
    }

    // ---- whole-file checks ------------------------------------------------------------------------------------------

    private async Task<byte[]> ReadBoundedAsync(Stream file, string fileName, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await file.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > _limits.MaxBytes)
            {
                throw new WorksheetRejectedException(WorksheetRejection.TooLarge, fileName,
                    detail: string.Create(CultureInfo.InvariantCulture, $"> {_limits.MaxBytes / 1048576.0:0.##} MB"));
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static void Refuse(LockedWorksheet worksheet, ReturnedWorkbook workbook, Account uploader)
    {
        var meta = workbook.Meta;
        if (meta.SchoolCode != worksheet.SchoolCode || meta.RoundId != worksheet.RoundId || meta.IssueNumber != worksheet.IssueNumber)
        {
            throw new WorksheetRejectedException(WorksheetRejection.BadSignature, workbook.FileName, WorksheetMeta.SheetName,
                detail: "school, round or issue number differ from the issued worksheet");
        }

        if (!uploader.MayActFor(worksheet.SchoolCode, worksheet.DistrictCode))
        {
            throw new WorksheetRejectedException(WorksheetRejection.OtherSchool, workbook.FileName, detail: worksheet.SchoolCode);
        }

        if (worksheet.RoundStatus != "open")
        {
            throw new WorksheetRejectedException(WorksheetRejection.RoundClosed, workbook.FileName, detail: worksheet.RoundCode);
        }

        if (worksheet.LatestIssue > worksheet.IssueNumber)
        {
            throw new WorksheetRejectedException(WorksheetRejection.StaleIssue, workbook.FileName,
                detail: string.Create(CultureInfo.InvariantCulture, $"v{worksheet.IssueNumber}, newest v{worksheet.LatestIssue}"));
        }
    }

    /// <summary>
    /// The rows <c>_meta</c> records must be exactly the issued rows, each with the signature the server made over the
    /// issued values. The file's own copy of those values is never trusted: the snapshot is what the server signed.
    /// </summary>
    private void VerifySignatures(LockedWorksheet worksheet, ReturnedWorkbook workbook, IReadOnlyDictionary<string, SnapshotRow> snapshot)
    {
        string? fault = null;
        if (workbook.Meta.KeyId != key.KeyId || worksheet.KeyId != key.KeyId)
        {
            fault = $"signed with key {workbook.Meta.KeyId}, this server's key is {key.KeyId}";
        }
        else if (workbook.Meta.Rows.Count != snapshot.Count)
        {
            fault = string.Create(CultureInfo.InvariantCulture, $"{workbook.Meta.Rows.Count} rows recorded, {snapshot.Count} issued");
        }
        else
        {
            foreach (var (rowKey, metaRow) in workbook.Meta.Rows)
            {
                if (!snapshot.TryGetValue(rowKey, out var issued))
                {
                    fault = $"row key {rowKey} was not issued";
                    break;
                }

                if (metaRow.Signature != issued.Signature || !RowSignature.Verify(key.Key, worksheet.WorksheetId, rowKey, issued.Values, metaRow.Signature))
                {
                    fault = $"the signature of row key {rowKey} does not verify";
                    break;
                }
            }
        }

        if (fault is not null)
        {
            throw new WorksheetRejectedException(WorksheetRejection.BadSignature, workbook.FileName, WorksheetMeta.SheetName, detail: fault);
        }
    }

    // ---- row by row -------------------------------------------------------------------------------------------------

    private enum DecisionKind
    {
        Leave,
        Correct,
        Explain,
        Remove,
        AlreadyRemoved,
        Reject,
    }

    private sealed record Change(string Field, string Header, string Cell, string? Old, string? New);

    private sealed record Decision(ReturnedRow Row, SnapshotRow Issued, CurrentVersion Current, DecisionKind Kind, IReadOnlyList<Change> Changes,
        IReadOnlyList<ReturnProblem> Problems, string? Note, bool Repeated = false);

    private static Decision Decide(ReturnedWorkbook workbook, ReturnedRow row, SnapshotRow issued, CurrentVersion current,
        IReadOnlyDictionary<string, string?> issuedIdentity, EarlierReturns before, IReadOnlyDictionary<string, string> headers)
    {
        var problems = new List<ReturnProblem>(row.Problems);
        foreach (var field in IdentityFields)
        {
            if (row.Identity.TryGetValue(field, out var returned) && ReturnedWorkbookReader.Normalise(issuedIdentity.GetValueOrDefault(field)) != returned)
            {
                problems.Add(Problem(workbook, row, ReturnProblemCode.LockedCellChanged, headers.GetValueOrDefault("id." + field), field,
                    $"{issuedIdentity.GetValueOrDefault(field)} → {returned}"));
            }
        }

        // What changed is what differs from the value this worksheet last gave the server: the issued value, or what an
        // earlier return of the same worksheet set. A second return applies only what changed since the first.
        var changes = new List<Change>();
        var earlier = before.Values.GetValueOrDefault(row.RowKey);
        for (var i = 0; i < issued.Fields.Count; i++)
        {
            var field = issued.Fields[i];
            if (!row.Values.TryGetValue(field, out var returned))
            {
                continue;
            }

            var last = earlier is not null && earlier.TryGetValue(field, out var set) ? set : issued.Values[i];
            if (ReturnedWorkbookReader.Normalise(last) == returned)
            {
                continue;
            }

            var header = headers.GetValueOrDefault(WorksheetLayout.FieldMarkerPrefix + field) ?? field;
            if (returned is not null && returned.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add(Problem(workbook, row, ReturnProblemCode.Unstorable, header, field, null));
            }

            changes.Add(new Change(field, header, CellName(workbook, row, field), current.RawValues.GetValueOrDefault(field), returned));
        }

        if (problems.Count > 0)
        {
            return new Decision(row, issued, current, DecisionKind.Reject, [], problems, null);
        }

        if (current.Removed)
        {
            return changes.Count > 0 || row.Action is WorksheetAction.Corrected or WorksheetAction.Confirmed
                ? new Decision(row, issued, current, DecisionKind.Reject, [], [Problem(workbook, row, ReturnProblemCode.AlreadyRemoved, null, null, null)], null)
                : new Decision(row, issued, current, DecisionKind.AlreadyRemoved, [], [], null);
        }

        var language = workbook.Meta.Language;
        if (current.RoundId != workbook.Meta.RoundId && (changes.Count > 0 || row.Action == WorksheetAction.RemoveRegistration))
        {
            return new Decision(row, issued, current, DecisionKind.Reject, [], [Problem(workbook, row, ReturnProblemCode.PreviousRound, null, null, null)], null);
        }

        if (changes.Count > 0)
        {
            // Changed values with no action chosen are corrections: the registrar fixed the red cells and forgot the dropdown.
            return row.Action is WorksheetAction.Confirmed or WorksheetAction.RemoveRegistration
                ? new Decision(row, issued, current, DecisionKind.Reject, [],
                    [Problem(workbook, row, ReturnProblemCode.MixedAction, null, null, row.Action.Value.Label(language))], null)
                : new Decision(row, issued, current, DecisionKind.Correct, changes, [], null);
        }

        return row.Action switch
        {
            WorksheetAction.Confirmed => new Decision(row, issued, current, DecisionKind.Explain, [], [], null,
                Repeated: before.Explanations.TryGetValue(row.RowKey, out var text) && text == row.Explanation),
            WorksheetAction.RemoveRegistration => new Decision(row, issued, current, DecisionKind.Remove, [], [], null),
            WorksheetAction.Corrected => new Decision(row, issued, current, DecisionKind.Leave, [], [],
                WorksheetText.Format("ReturnCorrectedNothingChanged", language, workbook.ProblemsSheet, row.ExcelRow)),
            _ => new Decision(row, issued, current, DecisionKind.Leave, [], [], null),
        };
    }

    private static ReturnProblem Problem(ReturnedWorkbook workbook, ReturnedRow row, ReturnProblemCode code, string? column, string? field, string? detail) =>
        new(code, workbook.ProblemsSheet, row.ExcelRow, row.RowKey, column, field, detail);

    /// <summary>The cell a field's value came from, as Excel names it (C12): the column is found by its marker, wherever it was moved.</summary>
    private static string CellName(ReturnedWorkbook workbook, ReturnedRow row, string field) =>
        workbook.ColumnNumbers.TryGetValue(WorksheetLayout.FieldMarkerPrefix + field, out var column)
            ? ColumnLetters(column) + row.ExcelRow.ToString(CultureInfo.InvariantCulture)
            : "";

    private static string ColumnLetters(int number)
    {
        var letters = "";
        for (; number > 0; number = (number - 1) / 26)
        {
            letters = (char)('A' + ((number - 1) % 26)) + letters;
        }

        return letters;
    }

    private static Dictionary<string, string?> Apply(IReadOnlyDictionary<string, string?> values, IReadOnlyList<Change> changes)
    {
        var next = new Dictionary<string, string?>(values, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            next[change.Field] = change.New;
        }

        return next;
    }

    // ---- database ---------------------------------------------------------------------------------------------------

    private sealed record LockedWorksheet(Guid WorksheetId, int RoundId, string RoundCode, DateOnly RoundDate, short SchoolYear, int? PreviousRoundId,
        string RoundStatus, string SchoolCode, string SchoolName, string? DistrictCode, int IssueNumber, int LatestIssue, string KeyId);

    private sealed record SnapshotRow(string RowKey, long RecordId, int RecordVersion, IReadOnlyList<string> Fields, IReadOnlyList<string?> Values,
        string Signature);

    private sealed record EarlierReturns(IReadOnlyDictionary<string, Dictionary<string, string?>> Values, IReadOnlyDictionary<string, string> Explanations);

    private static async Task<LockedWorksheet?> LockWorksheetAsync(NpgsqlConnection connection, Guid worksheetId, CancellationToken cancellationToken)
    {
        // The lock serialises returns of one worksheet; returns of different schools go on side by side.
        await using var command = new NpgsqlCommand("""
            SELECT w.worksheet_id, w.round_id, r.code, r.round_date, r.school_year, r.previous_round_id, r.status, w.school_code,
                   coalesce((SELECT min(btrim(s.school_name_raw)) FROM registry.school s WHERE s.round_id = w.round_id AND s.school_code = w.school_code), ''),
                   (SELECT min(s.district_code) FROM registry.school s WHERE s.round_id = w.round_id AND s.school_code = w.school_code),
                   w.issue_no,
                   (SELECT max(o.issue_no) FROM exchange.worksheet o WHERE o.round_id = w.round_id AND o.school_code = w.school_code),
                   w.key_id
            FROM   exchange.worksheet w
            JOIN   registry.round r ON r.round_id = w.round_id
            WHERE  w.worksheet_id = @id
            FOR UPDATE OF w
            """, connection);
        command.Parameters.AddWithValue("id", worksheetId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new LockedWorksheet(reader.GetGuid(0), reader.GetInt32(1), reader.GetString(2), reader.GetFieldValue<DateOnly>(3), reader.GetInt16(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetString(6), reader.GetString(7), reader.GetString(8),
            reader.IsDBNull(9) ? null : reader.GetString(9), reader.GetInt32(10), reader.GetInt32(11), reader.GetString(12));
    }

    private static async Task<Dictionary<string, SnapshotRow>> SnapshotAsync(NpgsqlConnection connection, Guid worksheetId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT row_key, record_id, record_version, fields, issued_values, signature FROM exchange.worksheet_row WHERE worksheet_id = @id
            """, connection);
        command.Parameters.AddWithValue("id", worksheetId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new Dictionary<string, SnapshotRow>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows[reader.GetString(0)] = new SnapshotRow(reader.GetString(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetFieldValue<string[]>(3),
                reader.GetFieldValue<string?[]>(4), reader.GetString(5));
        }

        return rows;
    }

    /// <summary>The locked columns as issued: the raw student number, grade, class and name of the version the worksheet showed.</summary>
    private static async Task<Dictionary<(long, int), IReadOnlyDictionary<string, string?>>> IssuedIdentityAsync(NpgsqlConnection connection, int[] roundIds,
        IEnumerable<(long RecordId, int Version)> versions, CancellationToken cancellationToken)
    {
        var list = versions.Distinct().ToArray();
        await using var command = new NpgsqlCommand("""
            SELECT r.record_id, r.version, r.student_no_raw, r.grade_raw, r.class_name_raw, r.name_raw
            FROM   unnest(@ids, @versions) AS k (record_id, version)
            JOIN   registry.record r ON r.round_id = ANY(@rounds) AND r.record_id = k.record_id AND r.version = k.version
            """, connection);
        command.Parameters.AddWithValue("rounds", roundIds);
        command.Parameters.AddWithValue("ids", list.Select(v => v.RecordId).ToArray());
        command.Parameters.AddWithValue("versions", list.Select(v => v.Version).ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var identity = new Dictionary<(long, int), IReadOnlyDictionary<string, string?>>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (var i = 0; i < IdentityFields.Length; i++)
            {
                values[IdentityFields[i]] = reader.IsDBNull(2 + i) ? null : reader.GetString(2 + i);
            }

            identity[(reader.GetInt64(0), reader.GetInt32(1))] = values;
        }

        return identity;
    }

    /// <summary>What earlier returns of this worksheet set: the last value of each field of each row, and each row's last explanation.</summary>
    private static async Task<EarlierReturns> EarlierReturnsAsync(NpgsqlConnection connection, Guid worksheetId, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, Dictionary<string, string?>>(StringComparer.Ordinal);
        var explanations = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("""
                    SELECT DISTINCT ON (c.row_key, c.field) c.row_key, c.field, c.new_value
                    FROM   exchange.correction c JOIN exchange.worksheet_return t ON t.return_id = c.return_id
                    WHERE  t.worksheet_id = @id AND c.kind = 'value'
                    ORDER  BY c.row_key, c.field, c.correction_id DESC
                    """) { Parameters = { new NpgsqlParameter("id", worksheetId) } },
                new NpgsqlBatchCommand("""
                    SELECT DISTINCT ON (e.row_key) e.row_key, e.text, e.status
                    FROM   exchange.explanation e JOIN exchange.worksheet_return t ON t.return_id = e.return_id
                    WHERE  t.worksheet_id = @id
                    ORDER  BY e.row_key, e.explanation_id DESC
                    """) { Parameters = { new NpgsqlParameter("id", worksheetId) } },
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = reader.GetString(0);
            if (!values.TryGetValue(row, out var fields))
            {
                values[row] = fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            }

            fields[reader.GetString(1)] = reader.IsDBNull(2) ? null : reader.GetString(2);
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // A refused explanation given again is a new request for review, not a repeat.
            if (reader.GetString(2) != "refused")
            {
                explanations[reader.GetString(0)] = reader.GetString(1);
            }
        }

        return new EarlierReturns(values, explanations);
    }

    private async Task<IngestResult?> EarlierAsync(NpgsqlConnection connection, string sha256, string fileName, Account uploader,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT t.return_id, t.round_id, t.school_code, t.receipt::text, t.check_run_id,
                   (SELECT min(s.district_code) FROM registry.school s WHERE s.round_id = t.round_id AND s.school_code = t.school_code)
            FROM   exchange.worksheet_return t WHERE t.sha256 = @sha
            """, connection);
        command.Parameters.AddWithValue("sha", sha256);
        long returnId;
        int roundId;
        string school;
        Receipt receipt;
        long? runId;
        string? district;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            (returnId, roundId, school) = (reader.GetInt64(0), reader.GetInt32(1), reader.GetString(2));
            receipt = JsonSerializer.Deserialize<Receipt>(reader.GetString(3), Json)!;
            runId = reader.IsDBNull(4) ? null : reader.GetInt64(4);
            district = reader.IsDBNull(5) ? null : reader.GetString(5);
        }

        if (!uploader.MayActFor(school, district))
        {
            throw new WorksheetRejectedException(WorksheetRejection.OtherSchool, fileName, detail: school);
        }

        await AuditAsync(connection, uploader.Name, "worksheet.return.repeat", roundId, school, fileName,
            new { return_id = returnId, sha256 }, cancellationToken);
        return new IngestResult(receipt, true, runId);
    }

    private static async Task<(long ReturnId, DateTimeOffset ReceivedAt)> InsertReturnAsync(NpgsqlConnection connection, LockedWorksheet worksheet,
        string fileName, string sha256, long bytes, Account uploader, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO exchange.worksheet_return (worksheet_id, round_id, school_code, file_name, sha256, bytes, received_by, receipt)
            VALUES (@worksheet, @round, @school, @file, @sha, @bytes, @by, '{}')
            RETURNING return_id, received_at
            """, connection);
        command.Parameters.AddWithValue("worksheet", worksheet.WorksheetId);
        command.Parameters.AddWithValue("round", worksheet.RoundId);
        command.Parameters.AddWithValue("school", worksheet.SchoolCode);
        command.Parameters.AddWithValue("file", fileName);
        command.Parameters.AddWithValue("sha", sha256);
        command.Parameters.AddWithValue("bytes", bytes);
        command.Parameters.AddWithValue("by", uploader.Name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1));
    }

    private static async Task InsertCorrectionsAsync(NpgsqlConnection connection, int roundId, long returnId, string sheet, IReadOnlyList<Decision> changed,
        CancellationToken cancellationToken)
    {
        await using var import = await connection.BeginBinaryImportAsync("""
            COPY exchange.correction (return_id, round_id, record_id, from_version, to_version, kind, field, old_value, new_value, reason, row_key, sheet,
                                      excel_row, column_header, cell) FROM STDIN (FORMAT BINARY)
            """, cancellationToken);
        foreach (var decision in changed)
        {
            var lines = decision.Kind == DecisionKind.Remove
                ? [new Change("", "", "", null, null)]
                : decision.Changes;
            foreach (var change in lines)
            {
                var removal = decision.Kind == DecisionKind.Remove;
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(returnId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(roundId, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(decision.Issued.RecordId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(decision.Current.Version, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(decision.Current.Version + 1, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(removal ? "removal" : "value", NpgsqlDbType.Text, cancellationToken);
                await WriteAsync(import, removal ? null : change.Field, cancellationToken);
                await WriteAsync(import, change.Old, cancellationToken);
                await WriteAsync(import, change.New, cancellationToken);
                await WriteAsync(import, removal ? decision.Row.Explanation : null, cancellationToken);
                await import.WriteAsync(decision.Row.RowKey, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(sheet, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(decision.Row.ExcelRow, NpgsqlDbType.Integer, cancellationToken);
                await WriteAsync(import, removal ? null : change.Header, cancellationToken);
                await WriteAsync(import, removal ? null : change.Cell, cancellationToken);
            }
        }

        await import.CompleteAsync(cancellationToken);
    }

    private static Task WriteAsync(NpgsqlBinaryImporter import, string? value, CancellationToken cancellationToken) =>
        value is null ? import.WriteNullAsync(cancellationToken) : import.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    /// <summary>
    /// Each confirmation goes to the data team with the fingerprints of the row's open findings, superseding a pending
    /// one of the same record.
    /// </summary>
    private static async Task InsertExplanationsAsync(NpgsqlConnection connection, LockedWorksheet worksheet, long returnId, IReadOnlyList<Decision> explained,
        CancellationToken cancellationToken)
    {
        if (explained.Count == 0)
        {
            return;
        }

        await using var command = new NpgsqlCommand("""
            UPDATE exchange.explanation SET status = 'superseded'
            WHERE  round_id = @round AND record_id = ANY(@ids) AND status = 'pending';
            INSERT INTO exchange.explanation (return_id, round_id, school_code, record_id, record_version, row_key, excel_row, text, fingerprints)
            SELECT @return, @round, @school, u.record_id, u.version, u.row_key, u.excel_row, u.text,
                   coalesce((SELECT array_agg(f.fingerprint ORDER BY f.fingerprint) FROM quality.finding f
                             WHERE f.round_id = @round AND f.record_id = u.record_id AND f.status = 'open'), '{}')
            FROM   unnest(@ids, @versions, @keys, @rows, @texts) AS u (record_id, version, row_key, excel_row, text);
            """, connection);
        command.Parameters.AddWithValue("round", worksheet.RoundId);
        command.Parameters.AddWithValue("school", worksheet.SchoolCode);
        command.Parameters.AddWithValue("return", returnId);
        command.Parameters.AddWithValue("ids", explained.Select(d => d.Issued.RecordId).ToArray());
        command.Parameters.AddWithValue("versions", explained.Select(d => d.Current.Version).ToArray());
        command.Parameters.AddWithValue("keys", explained.Select(d => d.Row.RowKey).ToArray());
        command.Parameters.AddWithValue("rows", explained.Select(d => d.Row.ExcelRow).ToArray());
        command.Parameters.AddWithValue("texts", explained.Select(d => d.Row.Explanation ?? "").ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The findings of removed registrations that the re-check closed are closed as removed, not as fixed.</summary>
    private static async Task MarkRemovedAsync(NpgsqlConnection connection, int roundId, long runId, IEnumerable<long> removed, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE quality.finding SET status = 'removed'
            WHERE  round_id = @round AND record_id = ANY(@ids) AND closed_run_id = @run AND status = 'resolved'
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("ids", removed.ToArray());
        command.Parameters.AddWithValue("run", runId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // ---- receipt ----------------------------------------------------------------------------------------------------

    private sealed record OpenProblem(long RecordId, string? StudentNo, string? Name, string RuleId, string Severity, string? Field, string? Value,
        string Fingerprint, bool AwaitingReview);

    private static async Task<Receipt> ReceiptAsync(NpgsqlConnection connection, LockedWorksheet worksheet, ReturnedWorkbook workbook,
        IReadOnlyList<Decision> decisions, long returnId, string fileName, string sha256, DateTimeOffset receivedAt, Account uploader,
        CancellationToken cancellationToken)
    {
        var language = workbook.Meta.Language;
        var titles = await RuleTitlesAsync(connection, language, cancellationToken);
        var open = await SchoolOpenProblemsAsync(connection, worksheet, cancellationToken);
        var openByRecord = open.ToLookup(p => p.RecordId);
        ReceiptProblem Shown(OpenProblem p) =>
            new(p.RuleId, p.Severity == "error" ? ProblemSeverity.Error : ProblemSeverity.Warning, p.Field, titles.GetValueOrDefault(p.RuleId, p.RuleId), p.Value);

        var rows = new List<ReceiptRow>();
        foreach (var d in decisions)
        {
            var identity = d.Row.Identity;
            var (outcome, changes, reasons, failing) = d.Kind switch
            {
                DecisionKind.Correct when openByRecord[d.Issued.RecordId].Any() =>
                    (ReceiptOutcome.AppliedStillFailing, Changes(d), Array.Empty<string>(), openByRecord[d.Issued.RecordId].Select(Shown).ToArray()),
                DecisionKind.Correct => (ReceiptOutcome.AppliedClean, Changes(d), [], []),
                DecisionKind.Explain => (ReceiptOutcome.AwaitingReview, [], [], openByRecord[d.Issued.RecordId].Select(Shown).ToArray()),
                DecisionKind.Remove or DecisionKind.AlreadyRemoved => (ReceiptOutcome.Removed, [], [], []),
                DecisionKind.Reject => (ReceiptOutcome.Rejected, [], d.Problems.Select(p => p.Message(language)).ToArray(), []),
                _ => (ReceiptOutcome.Unchanged, Array.Empty<ReceiptChange>(), d.Note is null ? [] : new[] { d.Note }, Array.Empty<ReceiptProblem>()),
            };
            rows.Add(new ReceiptRow(d.Row.ExcelRow, d.Row.RowKey, identity.GetValueOrDefault("student_no"), identity.GetValueOrDefault("name"), outcome,
                changes, reasons, failing)
            {
                ReasonCodes = d.Kind == DecisionKind.Reject ? d.Problems.Select(p => "Return" + p.Code).ToArray()
                    : d.Note is null ? [] : ["ReturnCorrectedNothingChanged"],
            });
        }

        foreach (var problem in workbook.NotImported)
        {
            rows.Add(new ReceiptRow(problem.ExcelRow, problem.RowKey, null, null, ReceiptOutcome.NotImported, [], [problem.Message(language)], [])
            {
                ReasonCodes = ["Return" + problem.Code],
            });
        }

        return new Receipt
        {
            ReturnId = returnId,
            WorksheetId = worksheet.WorksheetId,
            RoundCode = worksheet.RoundCode,
            SchoolCode = worksheet.SchoolCode,
            SchoolName = worksheet.SchoolName,
            IssueNumber = worksheet.IssueNumber,
            FileName = fileName,
            Sha256 = sha256,
            ReceivedAt = receivedAt,
            ReceivedBy = uploader.Name,
            Language = language,
            Rows = rows.OrderBy(r => r.ExcelRow).ThenBy(r => r.RowKey, StringComparer.Ordinal).ToList(),
            StillOpen = open.Select(p => new ReceiptOpenProblem(p.StudentNo, p.Name, Shown(p), p.AwaitingReview)).ToList(),
        };

        static ReceiptChange[] Changes(Decision d) => d.Changes.Select(c => new ReceiptChange(c.Field, c.Header, c.Old, c.New)).ToArray();
    }

    private static async Task<Dictionary<string, string>> RuleTitlesAsync(NpgsqlConnection connection, WorksheetLanguage language, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            language == WorksheetLanguage.English ? "SELECT rule_id, title_en FROM quality.rule" : "SELECT rule_id, title_zh FROM quality.rule", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var titles = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            titles[reader.GetString(0)] = reader.GetString(1);
        }

        return titles;
    }

    /// <summary>The school's open record findings after the re-check, each marked when a pending explanation covers it.</summary>
    private static async Task<List<OpenProblem>> SchoolOpenProblemsAsync(NpgsqlConnection connection, LockedWorksheet worksheet, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT f.record_id, r.student_no_raw, r.name, f.rule_id, f.severity, f.field, f.value, f.fingerprint,
                   EXISTS (SELECT 1 FROM exchange.explanation e
                           WHERE  e.round_id = f.round_id AND e.record_id = f.record_id AND e.status = 'pending' AND f.fingerprint = ANY(e.fingerprints))
            FROM   quality.finding f
            LEFT   JOIN registry.current_record r ON r.round_id IN (@round, @previous) AND r.record_id = f.record_id
            WHERE  f.round_id = @round AND f.school_code = @school AND f.status = 'open' AND f.record_id IS NOT NULL
            ORDER  BY r.student_no_raw, f.rule_id, f.field
            """, connection);
        command.Parameters.AddWithValue("round", worksheet.RoundId);
        command.Parameters.AddWithValue("previous", worksheet.PreviousRoundId ?? -1);
        command.Parameters.AddWithValue("school", worksheet.SchoolCode);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var open = new List<OpenProblem>();
        while (await reader.ReadAsync(cancellationToken))
        {
            open.Add(new OpenProblem(reader.GetInt64(0), Text(reader, 1), Text(reader, 2), reader.GetString(3), reader.GetString(4), Text(reader, 5),
                Text(reader, 6), reader.GetString(7), reader.GetBoolean(8)));
        }

        return open;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static async Task CompleteReturnAsync(NpgsqlConnection connection, LockedWorksheet worksheet, long returnId, long? runId, Receipt receipt,
        string fileName, string sha256, Account uploader, CancellationToken cancellationToken)
    {
        var counts = Enum.GetValues<ReceiptOutcome>().ToDictionary(o => o.ToString(), receipt.Count);
        await using (var command = new NpgsqlCommand(
            "UPDATE exchange.worksheet_return SET receipt = @receipt, counts = @counts, check_run_id = @run WHERE return_id = @id", connection))
        {
            command.Parameters.Add(new NpgsqlParameter("receipt", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(receipt, Json) });
            command.Parameters.Add(new NpgsqlParameter("counts", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(counts) });
            command.Parameters.Add(new NpgsqlParameter("run", NpgsqlDbType.Bigint) { Value = (object?)runId ?? DBNull.Value });
            command.Parameters.AddWithValue("id", returnId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditAsync(connection, uploader.Name, "worksheet.return", worksheet.RoundId, worksheet.SchoolCode, fileName,
            new { return_id = returnId, worksheet_id = worksheet.WorksheetId, issue_no = worksheet.IssueNumber, sha256, counts }, cancellationToken);
    }

    private async Task AuditAsync(string actor, string action, int? roundId, string? school, string? objectName, object details,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditAsync(connection, actor, action, roundId, school, objectName, details, cancellationToken);
    }

    private static async Task AuditAsync(NpgsqlConnection connection, string actor, string action, int? roundId, string? school, string? objectName,
        object details, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO audit.event (actor, action, round_id, school_code, object, details) VALUES (@actor, @action, @round, @school, @object, @details)
            """, connection);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)roundId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)school ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("object", NpgsqlDbType.Text) { Value = (object?)objectName ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("details", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(details) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
