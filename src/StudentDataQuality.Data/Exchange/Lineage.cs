using System.Text.Json;
using Npgsql;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Exchange;

/// <summary>The extract file a record's first version came from, and where in it.</summary>
public sealed record LineageSource(int FileId, string FileName, string Sha256, int? Sheet, int Row, DateTimeOffset StagedAt, string StagedBy);

/// <summary>A returned worksheet that made a version: the file, who uploaded it, when, which worksheet issue it answered.</summary>
public sealed record LineageReturn(long ReturnId, string FileName, string Sha256, DateTimeOffset ReceivedAt, string ReceivedBy, Guid WorksheetId,
    int IssueNumber, long? CheckRunId);

/// <summary>One version of the record: where it came from (a file row, or a return), and every field's raw value.</summary>
public sealed record LineageVersion(int Version, bool Current, bool Removed, LineageSource? Source, long? ReturnId,
    IReadOnlyDictionary<string, string?> Values);

/// <summary>One correction: the cell of the returned file, the value before and after, the versions before and after.</summary>
public sealed record LineageCorrection(long CorrectionId, long ReturnId, string Kind, string? Field, string? OldValue, string? NewValue, string? Reason,
    int FromVersion, int ToVersion, string Sheet, int ExcelRow, string? Column, string? Cell);

/// <summary>A finding on some version of the record, with the check run that made it (full round or re-check) and its status now.</summary>
public sealed record LineageFinding(long FindingId, string RuleId, int RuleVersion, string Severity, string Field, string? Value, string Status,
    int RecordVersion, long RunId, string RunScope, string RunActor, DateTimeOffset RunAt, long? ClosedRunId, string? ClosedRunScope = null,
    DateTimeOffset? ClosedRunAt = null);

/// <summary>A worksheet that showed the record: the issue, its file, who issued it, and who downloaded it when.</summary>
public sealed record LineageWorksheet(Guid WorksheetId, int IssueNumber, string FileName, string Sha256, DateTimeOffset IssuedAt, string IssuedBy,
    int RecordVersion, string RowKey, IReadOnlyList<(string Actor, DateTimeOffset At)> Downloads);

/// <summary>Everything that is known of where one record's values came from (WORKSHEETS.md, lineage).</summary>
public sealed record RecordLineage(string RoundCode, int RoundId, long RecordId, string? SchoolCode, string? StudentNo, IReadOnlyList<LineageVersion> Versions,
    IReadOnlyList<LineageWorksheet> Worksheets, IReadOnlyList<LineageReturn> Returns, IReadOnlyList<LineageCorrection> Corrections,
    IReadOnlyList<LineageFinding> Findings);

/// <summary>
/// Reads the lineage of a student's records: extract file and row → version 1 → findings → worksheets issued (and
/// downloads) → returned files → corrections (cell, old → new) → later versions → the re-check's findings. Reading it
/// is itself audited (it shows a minor's data).
/// </summary>
public sealed class LineageReader(NpgsqlDataSource dataSource)
{
    private static readonly IReadOnlyList<RegistryField> Fields = Layouts.Student.Fields;

    /// <summary>The lineage of every record with this student number (in one round, or in all), oldest round first.</summary>
    public async Task<IReadOnlyList<RecordLineage>> ReadAsync(string studentNo, string? roundCode, Account reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var records = new List<(int RoundId, string RoundCode, long RecordId, string? School)>();
        await using (var command = new NpgsqlCommand("""
            SELECT DISTINCT r.round_id, o.code, r.record_id, first_value(r.school_code) OVER (PARTITION BY r.round_id, r.record_id ORDER BY r.version DESC)
            FROM   registry.record_version r
            JOIN   registry.round o ON o.round_id = r.round_id
            WHERE  (r.student_no = upper(@no) OR r.student_no_raw = @no) AND (@round::text IS NULL OR o.code = @round)
            """, connection))
        {
            command.Parameters.AddWithValue("no", studentNo.Trim());
            command.Parameters.AddWithValue("round", (object?)roundCode ?? DBNull.Value);
            await using var rows = await command.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                records.Add((rows.GetInt32(0), rows.GetString(1), rows.GetInt64(2), rows.IsDBNull(3) ? null : rows.GetString(3)));
            }
        }

        var result = new List<RecordLineage>();
        var refused = 0;
        foreach (var record in records.OrderBy(r => r.RoundId).ThenBy(r => r.RecordId))
        {
            // Scope in the data path: an account sees only the records of schools it acts for.
            if (record.School is null ? reader.Role != AccountRole.DataTeam : !reader.MayActFor(record.School, await DistrictAsync(connection, record)))
            {
                refused++;
                continue;
            }

            result.Add(await ReadRecordAsync(connection, record.RoundId, record.RoundCode, record.RecordId, cancellationToken));
        }

        await AuditLog.WriteAsync(connection, reader.Name, "lineage.read", null, null, studentNo, new { round = roundCode, records = result.Count },
            cancellationToken);

        if (refused > 0)
        {
            // Records of this number that the reader may not see: left out, as if not there, and the attempt is on record.
            await AuditLog.WriteAsync(connection, reader.Name, "access.refused", null, null, studentNo, new { what = "lineage", records = refused },
                cancellationToken);
        }

        return result;
    }

    private static async Task<string?> DistrictAsync(NpgsqlConnection connection, (int RoundId, string RoundCode, long RecordId, string? School) record)
    {
        await using var command = new NpgsqlCommand("SELECT min(district_code) FROM registry.school WHERE round_id = @round AND school_code = @school", connection);
        command.Parameters.AddWithValue("round", record.RoundId);
        command.Parameters.AddWithValue("school", record.School!);
        return await command.ExecuteScalarAsync() as string;
    }

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
                   s.staged_by, to_jsonb(r)::text
            FROM   registry.record r LEFT JOIN staging.source_file s ON s.file_id = r.file_id
            WHERE  r.round_id = @round AND r.record_id = @id ORDER BY r.version
            """);
        Add("""
            SELECT correction_id, return_id, kind, field, old_value, new_value, reason, from_version, to_version, sheet, excel_row, column_header, cell
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
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var source = reader.IsDBNull(4) ? null : new LineageSource(reader.GetInt32(4), reader.GetString(5), reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetInt16(7), reader.GetInt32(8), reader.GetFieldValue<DateTimeOffset>(9), reader.GetString(10));
            versions.Add(new LineageVersion(reader.GetInt32(0), reader.GetBoolean(1), reader.GetBoolean(2), source, reader.IsDBNull(3) ? null : reader.GetInt64(3),
                RawValues(reader.GetString(11))));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            corrections.Add(new LineageCorrection(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), Text(reader, 3), Text(reader, 4), Text(reader, 5),
                Text(reader, 6), reader.GetInt32(7), reader.GetInt32(8), reader.GetString(9), reader.GetInt32(10), Text(reader, 11), Text(reader, 12)));
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

        var last = versions[^1].Values;
        return new RecordLineage(roundCode, roundId, recordId, last.GetValueOrDefault("school_code"), last.GetValueOrDefault("student_no"), versions, worksheets,
            returns, corrections, findings);
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
