using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Exchange;

/// <summary>
/// An issued worksheet, locked for a return: its round, school and issue, as the server recorded them, the school's district
/// by the one mapping (access.school_district: the newest school master), and whether the uploader may act for the school
/// (<see cref="UploaderInScope"/>: the one scope rule, <c>access.may_act_for</c>, asked in the query that locks it).
/// </summary>
public sealed record LockedWorksheet(Guid WorksheetId, int RoundId, string RoundCode, DateOnly RoundDate, short SchoolYear, int? PreviousRoundId,
    string RoundStatus, string SchoolCode, string SchoolName, string? DistrictCode, int IssueNumber, int LatestIssue, string KeyId)
{
    /// <summary>Whether the account that returns the file may act for the worksheet's school (decided in SQL when it was locked).</summary>
    public bool UploaderInScope { get; init; }

    public Round Round => new(RoundId, RoundCode, RoundDate, SchoolYear, PreviousRoundId, RoundStatus);

    /// <summary>The rounds a worksheet's rows can show: the round, and the previous round (a student of last round absent now).</summary>
    public int[] Rounds => PreviousRoundId is { } previous ? [RoundId, previous] : [RoundId];
}

/// <summary>What earlier returns of a worksheet set: the last value of each field of each row, and each row's last explanation.</summary>
public sealed record EarlierReturns(IReadOnlyDictionary<string, Dictionary<string, string?>> Values, IReadOnlyDictionary<string, string> Explanations)
{
    public static EarlierReturns None { get; } = new(new Dictionary<string, Dictionary<string, string?>>(), new Dictionary<string, string>());
}

/// <summary>
/// A return already taken, found by its file's sha256: the receipt it was given (JSON), its school's district by the one
/// mapping, and whether the uploader now asking may see it (<see cref="UploaderInScope"/>, decided in SQL).
/// </summary>
public sealed record TakenReturn(long ReturnId, int RoundId, string SchoolCode, string? DistrictCode, string ReceiptJson, long? CheckRunId)
{
    /// <summary>Whether the account uploading the same bytes again may act for the return's school (<c>access.may_act_for</c>).</summary>
    public bool UploaderInScope { get; init; }
}

/// <summary>One line of lineage a return writes: a changed value, or a removal (no field).</summary>
public sealed record CorrectionLine(long RecordId, int FromVersion, bool Removal, string? Field, string? OldValue, string? NewValue, string? Reason,
    string RowKey, string Sheet, int ExcelRow, string? ColumnHeader, string? Cell);

/// <summary>A confirmation ("the value is right") a return sends to the data team for review.</summary>
public sealed record ExplanationLine(long RecordId, int RecordVersion, string RowKey, int ExcelRow, string Text);

/// <summary>One of a school's open record findings, with the record's student number and name, and whether a pending explanation covers it.</summary>
public sealed record SchoolOpenFinding(long RecordId, string? StudentNo, string? Name, string RuleId, string Severity, string? Field, string? Value,
    string Fingerprint, bool AwaitingReview);

/// <summary>
/// The database side of taking returns back (the <c>exchange</c> tables a return reads and writes). Every method works on
/// the caller's connection, inside its transaction: a return is all written or not at all. It knows nothing of
/// spreadsheets; the ingest decides, this stores.
/// </summary>
public static class ReturnStore
{
    /// <summary>The return whose file had these bytes, when one was taken, and whether <paramref name="uploader"/> may see it.</summary>
    public static async Task<TakenReturn?> FindBySha256Async(NpgsqlConnection connection, string sha256, Account uploader, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uploader);
        await using var command = new NpgsqlCommand("""
            SELECT t.return_id, t.round_id, t.school_code, t.receipt::text, t.check_run_id,
                   (SELECT d.district_code FROM access.school_district d WHERE d.school_code = t.school_code),
                   access.may_act_for(@role, @school, @district, t.school_code)
            FROM   exchange.worksheet_return t WHERE t.sha256 = @sha
            """, connection);
        command.Parameters.AddWithValue("sha", sha256);
        BindUploader(command, uploader);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new TakenReturn(reader.GetInt64(0), reader.GetInt32(1), reader.GetString(2), Text(reader, 5), reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetInt64(4)) { UploaderInScope = reader.GetBoolean(6) };
    }

    /// <summary>The uploader as the scope rule's parameters (role, school, district).</summary>
    private static void BindUploader(NpgsqlCommand command, Account uploader)
    {
        command.Parameters.AddWithValue("role", Account.RoleText(uploader.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)uploader.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)uploader.DistrictCode ?? DBNull.Value });
    }

    /// <summary>
    /// Locks an issued worksheet until the transaction ends: returns of one worksheet take turns, those of different schools
    /// go on side by side. Whether <paramref name="uploader"/> may act for its school is asked in the same query.
    /// </summary>
    public static async Task<LockedWorksheet?> LockWorksheetAsync(NpgsqlConnection connection, Guid worksheetId, Account uploader,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uploader);
        await using var command = new NpgsqlCommand("""
            SELECT w.worksheet_id, w.round_id, r.code, r.round_date, r.school_year, r.previous_round_id, r.status, w.school_code,
                   coalesce((SELECT min(btrim(s.school_name_raw)) FROM registry.school s WHERE s.round_id = w.round_id AND s.school_code = w.school_code), ''),
                   (SELECT d.district_code FROM access.school_district d WHERE d.school_code = w.school_code),
                   w.issue_no,
                   (SELECT max(o.issue_no) FROM exchange.worksheet o WHERE o.round_id = w.round_id AND o.school_code = w.school_code),
                   w.key_id, access.may_act_for(@role, @school, @district, w.school_code)
            FROM   exchange.worksheet w
            JOIN   registry.round r ON r.round_id = w.round_id
            WHERE  w.worksheet_id = @id
            FOR UPDATE OF w
            """, connection);
        command.Parameters.AddWithValue("id", worksheetId);
        BindUploader(command, uploader);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new LockedWorksheet(reader.GetGuid(0), reader.GetInt32(1), reader.GetString(2), reader.GetFieldValue<DateOnly>(3), reader.GetInt16(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetString(6), reader.GetString(7), reader.GetString(8), Text(reader, 9),
            reader.GetInt32(10), reader.GetInt32(11), reader.GetString(12)) { UploaderInScope = reader.GetBoolean(13) };
    }

    /// <summary>The issued snapshot of a worksheet: every row as the server signed it, by row key.</summary>
    public static async Task<Dictionary<string, IssuedRow>> SnapshotAsync(NpgsqlConnection connection, Guid worksheetId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT row_key, record_id, record_version, fields, issued_values, finding_ids, signature FROM exchange.worksheet_row WHERE worksheet_id = @id
            """, connection);
        command.Parameters.AddWithValue("id", worksheetId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new Dictionary<string, IssuedRow>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows[reader.GetString(0)] = new IssuedRow(reader.GetString(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetFieldValue<string[]>(3),
                reader.GetFieldValue<string?[]>(4), reader.GetFieldValue<long[]>(5), reader.GetString(6));
        }

        return rows;
    }

    /// <summary>The locked columns as issued: the raw student number, grade, class and name of each version a worksheet showed.</summary>
    public static async Task<Dictionary<(long RecordId, int Version), IReadOnlyDictionary<string, string?>>> IssuedIdentityAsync(NpgsqlConnection connection,
        int[] roundIds, IEnumerable<(long RecordId, int Version)> versions, CancellationToken cancellationToken)
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
            identity[(reader.GetInt64(0), reader.GetInt32(1))] = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                ["student_no"] = Text(reader, 2),
                ["grade"] = Text(reader, 3),
                ["class_name"] = Text(reader, 4),
                ["name"] = Text(reader, 5),
            };
        }

        return identity;
    }

    /// <summary>What earlier returns of this worksheet set: the last value of each field of each row, and each row's last explanation not refused.</summary>
    public static async Task<EarlierReturns> EarlierReturnsAsync(NpgsqlConnection connection, Guid worksheetId, CancellationToken cancellationToken)
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

            fields[reader.GetString(1)] = Text(reader, 2);
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

    /// <summary>Puts a return on record (its receipt follows once the re-check is done); returns its id and when it was received.</summary>
    public static async Task<(long ReturnId, DateTimeOffset ReceivedAt)> InsertReturnAsync(NpgsqlConnection connection, LockedWorksheet worksheet,
        string fileName, string sha256, long bytes, string receivedBy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worksheet);
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
        command.Parameters.AddWithValue("by", receivedBy);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1));
    }

    /// <summary>The lineage of a return's changes: one line per changed value or removal, each going from one record version to the next.</summary>
    public static async Task InsertCorrectionsAsync(NpgsqlConnection connection, int roundId, long returnId, IEnumerable<CorrectionLine> lines,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(lines);
        await using var import = await connection.BeginBinaryImportAsync("""
            COPY exchange.correction (return_id, round_id, record_id, from_version, to_version, kind, field, old_value, new_value, reason, row_key, sheet,
                                      excel_row, column_header, cell) FROM STDIN (FORMAT BINARY)
            """, cancellationToken);
        foreach (var line in lines)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(returnId, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(roundId, NpgsqlDbType.Integer, cancellationToken);
            await import.WriteAsync(line.RecordId, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(line.FromVersion, NpgsqlDbType.Integer, cancellationToken);
            await import.WriteAsync(line.FromVersion + 1, NpgsqlDbType.Integer, cancellationToken);
            await import.WriteAsync(line.Removal ? "removal" : "value", NpgsqlDbType.Text, cancellationToken);
            await WriteAsync(import, line.Field, cancellationToken);
            await WriteAsync(import, line.OldValue, cancellationToken);
            await WriteAsync(import, line.NewValue, cancellationToken);
            await WriteAsync(import, line.Reason, cancellationToken);
            await import.WriteAsync(line.RowKey, NpgsqlDbType.Text, cancellationToken);
            await import.WriteAsync(line.Sheet, NpgsqlDbType.Text, cancellationToken);
            await import.WriteAsync(line.ExcelRow, NpgsqlDbType.Integer, cancellationToken);
            await WriteAsync(import, line.ColumnHeader, cancellationToken);
            await WriteAsync(import, line.Cell, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }

    /// <summary>
    /// Each confirmation goes to the data team with the fingerprints of the row's open findings, superseding a pending
    /// one of the same record.
    /// </summary>
    public static async Task InsertExplanationsAsync(NpgsqlConnection connection, LockedWorksheet worksheet, long returnId,
        IReadOnlyList<ExplanationLine> explained, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worksheet);
        ArgumentNullException.ThrowIfNull(explained);
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
        command.Parameters.AddWithValue("ids", explained.Select(d => d.RecordId).ToArray());
        command.Parameters.AddWithValue("versions", explained.Select(d => d.RecordVersion).ToArray());
        command.Parameters.AddWithValue("keys", explained.Select(d => d.RowKey).ToArray());
        command.Parameters.AddWithValue("rows", explained.Select(d => d.ExcelRow).ToArray());
        command.Parameters.AddWithValue("texts", explained.Select(d => d.Text).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The findings of removed registrations that a re-check closed are closed as removed, not as fixed.</summary>
    public static async Task MarkRemovedAsync(NpgsqlConnection connection, int roundId, long runId, IEnumerable<long> removed,
        CancellationToken cancellationToken)
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

    /// <summary>The catalogue's rule titles in one language (Chinese unless <paramref name="english"/>).</summary>
    public static async Task<Dictionary<string, string>> RuleTitlesAsync(NpgsqlConnection connection, bool english, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(english ? "SELECT rule_id, title_en FROM quality.rule" : "SELECT rule_id, title_zh FROM quality.rule",
            connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var titles = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            titles[reader.GetString(0)] = reader.GetString(1);
        }

        return titles;
    }

    /// <summary>
    /// The open record findings (after a re-check) of some schools of a round, by school, each marked when a pending
    /// explanation covers it: one query for the receipts of a whole batch.
    /// </summary>
    public static async Task<ILookup<string, SchoolOpenFinding>> SchoolsOpenFindingsAsync(NpgsqlConnection connection, Round round,
        IReadOnlyCollection<string> schoolCodes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(round);
        ArgumentNullException.ThrowIfNull(schoolCodes);
        await using var command = new NpgsqlCommand("""
            SELECT f.school_code, f.record_id, r.student_no_raw, r.name, f.rule_id, f.severity, f.field, f.value, f.fingerprint,
                   EXISTS (SELECT 1 FROM exchange.explanation e
                           WHERE  e.round_id = f.round_id AND e.record_id = f.record_id AND e.status = 'pending' AND f.fingerprint = ANY(e.fingerprints))
            FROM   quality.finding f
            LEFT   JOIN registry.current_record r ON r.round_id IN (@round, @previous) AND r.record_id = f.record_id
            WHERE  f.round_id = @round AND f.school_code = ANY(@schools) AND f.status = 'open' AND f.record_id IS NOT NULL
            ORDER  BY f.school_code, r.student_no_raw, f.rule_id, f.field
            """, connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.AddWithValue("previous", round.PreviousRoundId ?? -1);
        command.Parameters.AddWithValue("schools", schoolCodes.Distinct(StringComparer.Ordinal).ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var open = new List<(string School, SchoolOpenFinding Finding)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            open.Add((reader.GetString(0), new SchoolOpenFinding(reader.GetInt64(1), Text(reader, 2), Text(reader, 3), reader.GetString(4),
                reader.GetString(5), Text(reader, 6), Text(reader, 7), reader.GetString(8), reader.GetBoolean(9))));
        }

        return open.ToLookup(o => o.School, o => o.Finding, StringComparer.Ordinal);
    }

    /// <summary>Gives a return its receipt (JSON), the counts by outcome (JSON) and the re-check that judged it.</summary>
    public static async Task CompleteReturnAsync(NpgsqlConnection connection, long returnId, string receiptJson, string countsJson, long? runId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "UPDATE exchange.worksheet_return SET receipt = @receipt, counts = @counts, check_run_id = @run WHERE return_id = @id", connection);
        command.Parameters.Add(new NpgsqlParameter("receipt", NpgsqlDbType.Jsonb) { Value = receiptJson });
        command.Parameters.Add(new NpgsqlParameter("counts", NpgsqlDbType.Jsonb) { Value = countsJson });
        command.Parameters.Add(new NpgsqlParameter("run", NpgsqlDbType.Bigint) { Value = (object?)runId ?? DBNull.Value });
        command.Parameters.AddWithValue("id", returnId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static Task WriteAsync(NpgsqlBinaryImporter import, string? value, CancellationToken cancellationToken) =>
        value is null ? import.WriteNullAsync(cancellationToken) : import.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
