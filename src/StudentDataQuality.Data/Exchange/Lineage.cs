using System.Text.Json;
using Npgsql;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Exchange;

/// <summary>The extract file a record's first version came from, and where in it.</summary>
public sealed record LineageSource(int FileId, string FileName, string Sha256, int? Sheet, int Row, DateTimeOffset StagedAt, string StagedBy);

/// <summary>A returned worksheet that made a version: the file, who uploaded it, when, which worksheet issue it answered.</summary>
public sealed record LineageReturn(long ReturnId, string FileName, string Sha256, DateTimeOffset ReceivedAt, string ReceivedBy, Guid WorksheetId,
    int IssueNumber, long? CheckRunId);

/// <summary>One version of the record: where it came from (a file row, a return, or a parent's answer), and every field's raw value.</summary>
public sealed record LineageVersion(int Version, bool Current, bool Removed, LineageSource? Source, long? ReturnId,
    IReadOnlyDictionary<string, string?> Values)
{
    /// <summary>The parent's change (confirm.change) that made this version, when a confirmation sheet made it.</summary>
    public long? ChangeId { get; init; }
}

/// <summary>
/// One correction: the value before and after, the versions before and after, and where it came from: the cell of a
/// returned file (<see cref="ReturnId"/>, sheet, row, column), or a parent's answer on a confirmation sheet (<see cref="ChangeId"/>).
/// </summary>
public sealed record LineageCorrection(long CorrectionId, long? ReturnId, string Kind, string? Field, string? OldValue, string? NewValue, string? Reason,
    int FromVersion, int ToVersion, string? Sheet, int? ExcelRow, string? Column, string? Cell, long? ChangeId = null);

/// <summary>One value a parent corrected on a confirmation sheet, and what became of it (who decided, the correction that applied it).</summary>
public sealed record LineageConfirmationChange(long ChangeId, string Field, string? PrintedValue, string NewValue, string Status, string? WaitsBecause,
    string? DecidedBy, DateTimeOffset? DecidedAt, long? CorrectionId);

/// <summary>
/// A parent's answer on a confirmation sheet: the sheet, unchanged or corrected, the date the parent signed, who entered it
/// (the class teacher) and when, from which class answer workbook and row if any, and its changes.
/// </summary>
public sealed record LineageConfirmation(long AnswerId, string SheetId, string Outcome, DateOnly SignedOn, string EnteredBy, DateTimeOffset EnteredAt,
    string? FileName, int? ExcelRow, IReadOnlyList<LineageConfirmationChange> Changes);

/// <summary>A finding on some version of the record, with the check run that made it (full round or re-check) and its status now.</summary>
public sealed record LineageFinding(long FindingId, string RuleId, int RuleVersion, string Severity, string Field, string? Value, string Status,
    int RecordVersion, long RunId, string RunScope, string RunActor, DateTimeOffset RunAt, long? ClosedRunId, string? ClosedRunScope = null,
    DateTimeOffset? ClosedRunAt = null);

/// <summary>A worksheet that showed the record: the issue, its file, who issued it, and who downloaded it when.</summary>
public sealed record LineageWorksheet(Guid WorksheetId, int IssueNumber, string FileName, string Sha256, DateTimeOffset IssuedAt, string IssuedBy,
    int RecordVersion, string RowKey, IReadOnlyList<(string Actor, DateTimeOffset At)> Downloads);

/// <summary>Everything that is known of where one record's values came from (docs/worksheets.md, "Lineage").</summary>
public sealed record RecordLineage(string RoundCode, int RoundId, long RecordId, string? SchoolCode, string? StudentNo, IReadOnlyList<LineageVersion> Versions,
    IReadOnlyList<LineageWorksheet> Worksheets, IReadOnlyList<LineageReturn> Returns, IReadOnlyList<LineageCorrection> Corrections,
    IReadOnlyList<LineageFinding> Findings)
{
    /// <summary>The parents' answers on confirmation sheets of this record (docs/confirmations.md).</summary>
    public IReadOnlyList<LineageConfirmation> Confirmations { get; init; } = [];
}

/// <summary>
/// Reads the lineage of a student's records: extract file and row → version 1 → findings → worksheets issued (and
/// downloads) → returned files → corrections (cell, old → new) → later versions → the re-check's findings. Reading it
/// is itself audited (it shows a minor's data).
/// </summary>
public sealed class LineageReader(NpgsqlDataSource dataSource)
{
    private static readonly IReadOnlyList<RegistryField> Fields = Layouts.Student.Fields;

    /// <summary>
    /// The lineage of every record with this student number (in one round, or in all), oldest round first, of the schools
    /// the reader acts for. Audited as <c>lineage.read</c> by the records' ids (never the number asked for, which may hold a
    /// resident ID number); records of the number out of scope are left out, as if not there, and on record as refused.
    /// </summary>
    public async Task<IReadOnlyList<RecordLineage>> ReadAsync(string studentNo, string? roundCode, Account reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(studentNo);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (records, refused) = await FindAsync(connection, reader,
            "(r.student_no = upper(@no) OR r.student_no_raw = @no) AND (@round::text IS NULL OR o.code = @round)",
            c =>
            {
                c.Parameters.AddWithValue("no", studentNo.Trim());
                c.Parameters.AddWithValue("round", (object?)roundCode ?? DBNull.Value);
            }, cancellationToken);
        var result = await ReadAllAsync(connection, records, cancellationToken);
        var shown = records.Select(r => r.RecordId).ToList();
        await AuditLog.WriteAsync(connection, reader.Name, "lineage.read", null, null, shown.Count > 0 ? Id(shown[0]) : null,
            new { round = roundCode, records = result.Count, record_ids = shown.Take(AuditedIds) }, cancellationToken);

        if (refused.Count > 0)
        {
            // Records of this number that the reader may not see: left out, as if not there, and the attempt is on record.
            await AuditLog.WriteAsync(connection, reader.Name, "access.refused", null, null, Id(refused[0]),
                new { what = "lineage", records = refused.Count, record_ids = refused.Take(AuditedIds) }, cancellationToken);
        }

        return result;
    }

    /// <summary>
    /// The lineage of one record, by its id (the portal's address of a student, which says nothing of the student), and of
    /// the records of the same student number in other rounds that the reader may also see; oldest round first. Audited as
    /// <c>lineage.read</c>.
    /// </summary>
    /// <exception cref="OutOfScopeException">No such record, or not of a school the reader acts for (what: "lineage").</exception>
    public async Task<IReadOnlyList<RecordLineage>> ReadRecordAsync(long recordId, Account reader, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var asked = (await FindAsync(connection, reader, "r.record_id = @id", c => c.Parameters.AddWithValue("id", recordId), cancellationToken))
            .InScope.FirstOrDefault() ?? throw new OutOfScopeException("lineage", Id(recordId));
        var records = asked.StudentNo is { } studentNo
            ? (await FindAsync(connection, reader, "r.student_no = @no", c => c.Parameters.AddWithValue("no", studentNo), cancellationToken)).InScope
            : [asked];
        var result = await ReadAllAsync(connection, records, cancellationToken);
        await AuditLog.WriteAsync(connection, reader.Name, "lineage.read", asked.RoundId, asked.School, Id(recordId), new { records = result.Count, from },
            cancellationToken);
        return result;
    }

    /// <summary>How many record ids an audit entry lists at most (a student number shared by many records stays one bounded entry).</summary>
    private const int AuditedIds = 20;

    private sealed record Found(int RoundId, string RoundCode, long RecordId, string? School, string? StudentNo);

    /// <summary>
    /// The records matching <paramref name="where"/> that the reader may see (the one scope rule, in the query), each with its
    /// school and student number now; and the ids of those it may not (for the audit entry, at most <see cref="AuditedIds"/>,
    /// with their number).
    /// </summary>
    private static async Task<(List<Found> InScope, IReadOnlyList<long> Refused)> FindAsync(NpgsqlConnection connection, Account reader, string where,
        Action<NpgsqlCommand> bind, CancellationToken cancellationToken)
    {
        var found = $"""
            WITH found AS (
                SELECT DISTINCT r.round_id, o.code, r.record_id,
                       first_value(r.school_code) OVER (PARTITION BY r.round_id, r.record_id ORDER BY r.version DESC) AS school_code,
                       first_value(r.student_no) OVER (PARTITION BY r.round_id, r.record_id ORDER BY r.version DESC) AS student_no
                FROM   registry.record_version r
                JOIN   registry.round o ON o.round_id = r.round_id
                WHERE  {where})
            """;
        await using var command = new NpgsqlCommand($"""
            {found}
            SELECT round_id, code, record_id, school_code, student_no FROM found
            WHERE  access.may_act_for(@role, @school, @district, school_code)
            ORDER  BY round_id, record_id;
            {found}
            SELECT record_id FROM found
            WHERE  NOT access.may_act_for(@role, @school, @district, school_code)
            ORDER  BY round_id, record_id;
            """, connection);
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)reader.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)reader.DistrictCode ?? DBNull.Value });
        bind(command);
        var inScope = new List<Found>();
        var refused = new List<long>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            inScope.Add(new Found(rows.GetInt32(0), rows.GetString(1), rows.GetInt64(2), rows.IsDBNull(3) ? null : rows.GetString(3),
                rows.IsDBNull(4) ? null : rows.GetString(4)));
        }

        await rows.NextResultAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            refused.Add(rows.GetInt64(0));
        }

        return (inScope, refused);
    }

    private static async Task<List<RecordLineage>> ReadAllAsync(NpgsqlConnection connection, IEnumerable<Found> records, CancellationToken cancellationToken)
    {
        var result = new List<RecordLineage>();
        foreach (var record in records)
        {
            result.Add(await ReadRecordAsync(connection, record.RoundId, record.RoundCode, record.RecordId, cancellationToken));
        }

        return result;
    }

    private static string Id(long id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<RecordLineage> ReadRecordAsync(NpgsqlConnection connection, int roundId, string roundCode, long recordId,
        CancellationToken cancellationToken)
    {
        var versions = new List<LineageVersion>();
        var corrections = new List<LineageCorrection>();
        var findings = new List<LineageFinding>();
        var worksheets = new List<LineageWorksheet>();
        var returns = new List<LineageReturn>();
        await using var batch = new NpgsqlBatch(connection);
        void Add(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddWithValue("round", roundId);
            command.Parameters.AddWithValue("id", recordId);
            batch.BatchCommands.Add(command);
        }

        Add("""
            SELECT r.version, r.is_current, r.registration_removed, r.return_id, s.file_id, s.file_name, s.sha256, r.sheet_no, r.row_no, s.staged_at,
                   s.staged_by, to_jsonb(r)::text,
                   (SELECT v.change_id FROM registry.record_version v WHERE v.round_id = r.round_id AND v.record_id = r.record_id AND v.version = r.version)
            FROM   registry.record r LEFT JOIN staging.source_file s ON s.file_id = r.file_id
            WHERE  r.round_id = @round AND r.record_id = @id ORDER BY r.version
            """);
        Add("""
            SELECT correction_id, return_id, kind, field, old_value, new_value, reason, from_version, to_version, sheet, excel_row, column_header, cell,
                   change_id
            FROM   exchange.correction WHERE round_id = @round AND record_id = @id ORDER BY correction_id
            """);
        Add("""
            SELECT f.finding_id, f.rule_id, f.rule_version, f.severity, f.field, f.value, f.status, f.record_version, f.run_id, c.scope, c.actor, c.started_at,
                   f.closed_run_id, d.scope, d.started_at
            FROM   quality.finding f JOIN quality.check_run c ON c.run_id = f.run_id LEFT JOIN quality.check_run d ON d.run_id = f.closed_run_id
            WHERE  f.round_id = @round AND f.record_id = @id ORDER BY f.finding_id
            """);
        Add("""
            SELECT w.worksheet_id, w.issue_no, w.file_name, w.sha256, w.issued_at, w.issued_by, wr.record_version, wr.row_key,
                   coalesce((SELECT jsonb_agg(jsonb_build_array(e.actor, e.occurred_at) ORDER BY e.event_id) FROM audit.event e
                             WHERE e.action = 'worksheet.download' AND e.object = w.worksheet_id::text), '[]')::text
            FROM   exchange.worksheet_row wr JOIN exchange.worksheet w ON w.worksheet_id = wr.worksheet_id
            WHERE  wr.round_id = @round AND wr.record_id = @id ORDER BY w.issue_no
            """);
        Add("""
            SELECT t.return_id, t.file_name, t.sha256, t.received_at, t.received_by, t.worksheet_id, w.issue_no, t.check_run_id
            FROM   exchange.worksheet_return t JOIN exchange.worksheet w ON w.worksheet_id = t.worksheet_id
            WHERE  t.return_id IN (SELECT return_id FROM exchange.correction WHERE round_id = @round AND record_id = @id
                                   UNION SELECT return_id FROM exchange.explanation WHERE round_id = @round AND record_id = @id)
            ORDER  BY t.return_id
            """);
        Add("""
            SELECT a.answer_id, a.sheet_id, a.outcome, a.signed_on, a.entered_by, a.entered_at, a.file_name, a.excel_row,
                   coalesce((SELECT jsonb_agg(jsonb_build_object('id', c.change_id, 'field', c.field, 'printed', c.printed_value, 'new', c.new_value,
                                                                 'status', c.status, 'waits', c.waits_because, 'by', c.decided_by, 'at', c.decided_at,
                                                                 'correction', c.correction_id) ORDER BY c.change_id)
                             FROM confirm.change c WHERE c.answer_id = a.answer_id), '[]')::text
            FROM   confirm.answer a
            WHERE  a.round_id = @round AND a.record_id = @id ORDER BY a.answer_id
            """);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var source = reader.IsDBNull(4) ? null : new LineageSource(reader.GetInt32(4), reader.GetString(5), reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetInt16(7), reader.GetInt32(8), reader.GetFieldValue<DateTimeOffset>(9), reader.GetString(10));
            versions.Add(new LineageVersion(reader.GetInt32(0), reader.GetBoolean(1), reader.GetBoolean(2), source, reader.IsDBNull(3) ? null : reader.GetInt64(3),
                RawValues(reader.GetString(11))) { ChangeId = reader.IsDBNull(12) ? null : reader.GetInt64(12) });
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            corrections.Add(new LineageCorrection(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.GetString(2), Text(reader, 3),
                Text(reader, 4), Text(reader, 5), Text(reader, 6), reader.GetInt32(7), reader.GetInt32(8), Text(reader, 9),
                reader.IsDBNull(10) ? null : reader.GetInt32(10), Text(reader, 11), Text(reader, 12), reader.IsDBNull(13) ? null : reader.GetInt64(13)));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            findings.Add(new LineageFinding(reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.GetString(4), Text(reader, 5),
                reader.GetString(6), reader.GetInt32(7), reader.GetInt64(8), reader.GetString(9), reader.GetString(10), reader.GetFieldValue<DateTimeOffset>(11),
                reader.IsDBNull(12) ? null : reader.GetInt64(12), Text(reader, 13), reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14)));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var downloads = JsonSerializer.Deserialize<JsonElement[][]>(reader.GetString(8))!
                .Select(d => (d[0].GetString()!, d[1].GetDateTimeOffset())).ToList();
            worksheets.Add(new LineageWorksheet(reader.GetGuid(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetInt32(6), reader.GetString(7), downloads));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            returns.Add(new LineageReturn(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetString(4),
                reader.GetGuid(5), reader.GetInt32(6), reader.IsDBNull(7) ? null : reader.GetInt64(7)));
        }

        var confirmations = new List<LineageConfirmation>();
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var changes = JsonSerializer.Deserialize<JsonElement[]>(reader.GetString(8))!.Select(c => new LineageConfirmationChange(
                c.GetProperty("id").GetInt64(), c.GetProperty("field").GetString()!, c.GetProperty("printed").GetString(), c.GetProperty("new").GetString()!,
                c.GetProperty("status").GetString()!, c.GetProperty("waits").GetString(), c.GetProperty("by").GetString(),
                c.GetProperty("at").ValueKind == JsonValueKind.Null ? null : c.GetProperty("at").GetDateTimeOffset(),
                c.GetProperty("correction").ValueKind == JsonValueKind.Null ? null : c.GetProperty("correction").GetInt64())).ToList();
            confirmations.Add(new LineageConfirmation(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateOnly>(3),
                reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5), Text(reader, 6), reader.IsDBNull(7) ? null : reader.GetInt32(7), changes));
        }

        var last = versions[^1].Values;
        return new RecordLineage(roundCode, roundId, recordId, last.GetValueOrDefault("school_code"), last.GetValueOrDefault("student_no"), versions, worksheets,
            returns, corrections, findings) { Confirmations = confirmations };
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static Dictionary<string, string?> RawValues(string json)
    {
        using var document = JsonDocument.Parse(json);
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var field in Fields)
        {
            values[field.Name] = document.RootElement.TryGetProperty(field.Name + "_raw", out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
        }

        return values;
    }
}
