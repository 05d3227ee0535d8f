using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Exchange;

/// <summary>One open finding about a record, as a worksheet shows it.</summary>
public sealed record OpenFinding(long FindingId, string RuleId, string Severity, string Field, string? Value, string? Detail);

/// <summary>A record with open findings: its current version's raw values by field name, and the findings.</summary>
public sealed record ProblemRecord(long RecordId, int RecordVersion, IReadOnlyDictionary<string, string?> RawValues, IReadOnlyList<OpenFinding> Findings);

/// <summary>A school's open problems in a round, with its name and district from the round's school master.</summary>
public sealed record SchoolProblems(string SchoolCode, string SchoolName, string DistrictCode, string DistrictName, IReadOnlyList<ProblemRecord> Records);

/// <summary>One issued row as the server keeps it: what the returned file is compared with.</summary>
public sealed record IssuedRow(string RowKey, long RecordId, int RecordVersion, IReadOnlyList<string> Fields, IReadOnlyList<string?> Values,
    IReadOnlyList<long> FindingIds, string Signature);

/// <summary>An issued worksheet: the file's identity and the snapshot of its rows.</summary>
public sealed record IssuedWorksheet(Guid WorksheetId, int RoundId, string SchoolCode, int IssueNumber, string Language, string FileName, string Sha256,
    long Bytes, string KeyId, int TemplateVersion, int ErrorCount, int WarningCount, DateOnly Deadline, string IssuedBy, IReadOnlyList<IssuedRow> Rows);

/// <summary>
/// The database side of worksheets: the open problems of a round, school by school, and the issued snapshots. It
/// knows nothing of spreadsheets.
/// </summary>
public sealed class WorksheetStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The round's schools with open record findings (optionally one school or one district), streamed one school at a
    /// time in school-code order, so that a caller can write worksheets as they come with memory flat in the number of
    /// schools.
    /// </summary>
    public async IAsyncEnumerable<SchoolProblems> OpenProblemsAsync(Round round, string? school = null, string? district = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(round);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(SqlScripts.Load("worksheets/open_rows.sql"), connection) { CommandTimeout = 0 };
        command.Parameters.AddWithValue("round_id", round.RoundId);
        command.Parameters.Add(new NpgsqlParameter("previous_round_id", NpgsqlDbType.Integer) { Value = (object?)round.PreviousRoundId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)school ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)district ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        SchoolProblems? current = null;
        List<ProblemRecord> records = [];
        List<OpenFinding> findings = [];
        long recordId = -1;
        var version = 0;
        Dictionary<string, string?> values = [];
        while (await reader.ReadAsync(cancellationToken))
        {
            var schoolCode = reader.GetString(0);
            if (current is not null && current.SchoolCode != schoolCode)
            {
                records.Add(new ProblemRecord(recordId, version, values, findings));
                yield return current with { Records = records };
                (records, recordId) = ([], -1);
            }

            if (current is null || current.SchoolCode != schoolCode)
            {
                current = new SchoolProblems(schoolCode, reader.GetString(1), reader.GetString(2), reader.GetString(3), []);
            }

            var id = reader.GetInt64(10);
            if (id != recordId)
            {
                if (recordId != -1)
                {
                    records.Add(new ProblemRecord(recordId, version, values, findings));
                }

                (recordId, version, values, findings) = (id, reader.GetInt32(11), RawValues(reader.GetString(12)), []);
            }

            findings.Add(new OpenFinding(reader.GetInt64(4), reader.GetString(5), reader.GetString(6), reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8), reader.IsDBNull(9) ? null : reader.GetString(9)));
        }

        if (current is not null)
        {
            records.Add(new ProblemRecord(recordId, version, values, findings));
            yield return current with { Records = records };
        }
    }

    /// <summary>
    /// Holds the school's worksheet turn in this round (a session advisory lock on a connection of its own) until the
    /// returned handle is disposed.
    /// </summary>
    public async Task<IAsyncDisposable> LockSchoolAsync(int roundId, string schoolCode, CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext('sdq.worksheet:' || @round || ':' || @school))", connection))
        {
            command.Parameters.AddWithValue("round", roundId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            command.Parameters.AddWithValue("school", schoolCode);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new SchoolTurn(connection, roundId, schoolCode);
    }

    /// <summary>Releases the lock explicitly: a pooled connection keeps its session (and its locks) until reused.</summary>
    private sealed class SchoolTurn(NpgsqlConnection connection, int roundId, string schoolCode) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtext('sdq.worksheet:' || @round || ':' || @school))", connection);
                command.Parameters.AddWithValue("round", roundId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                command.Parameters.AddWithValue("school", schoolCode);
                await command.ExecuteNonQueryAsync();
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>Whether the school's newest worksheet of the round shows exactly the school's open record findings now.</summary>
    public async Task<bool> IsUpToDateAsync(int roundId, string schoolCode, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            WITH latest AS (
                SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @round AND school_code = @school ORDER BY issue_no DESC LIMIT 1),
            issued AS (
                SELECT DISTINCT f AS finding_id FROM exchange.worksheet_row r, unnest(r.finding_ids) f
                WHERE  r.worksheet_id = (SELECT worksheet_id FROM latest)),
            open AS (
                SELECT finding_id FROM quality.finding
                WHERE  round_id = @round AND school_code = @school AND status = 'open' AND record_id IS NOT NULL)
            SELECT EXISTS (SELECT 1 FROM latest)
               AND NOT EXISTS (SELECT finding_id FROM issued EXCEPT SELECT finding_id FROM open)
               AND NOT EXISTS (SELECT finding_id FROM open EXCEPT SELECT finding_id FROM issued)
            """);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("school", schoolCode);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The issue number the school's next worksheet of the round gets: one more than the last.</summary>
    public async Task<int> NextIssueNumberAsync(int roundId, string schoolCode, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT coalesce(max(issue_no), 0) + 1 FROM exchange.worksheet WHERE round_id = @round AND school_code = @school");
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("school", schoolCode);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Keeps an issued worksheet and its rows, with an audit entry, in one transaction.</summary>
    public async Task SaveAsync(IssuedWorksheet worksheet, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(worksheet);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO exchange.worksheet (worksheet_id, round_id, school_code, issue_no, language, file_name, sha256, bytes, key_id,
                                            template_version, row_count, error_count, warning_count, deadline, issued_by)
            VALUES (@id, @round, @school, @issue, @language, @file, @sha, @bytes, @key, @template, @rows, @errors, @warnings, @deadline, @by);
            INSERT INTO audit.event (actor, action, round_id, school_code, object, details)
            VALUES (@by, 'worksheet.issue', @round, @school, @file,
                    jsonb_build_object('worksheet_id', @id, 'issue_no', @issue, 'sha256', @sha, 'rows', @rows));
            """, connection))
        {
            insert.Parameters.AddWithValue("id", worksheet.WorksheetId);
            insert.Parameters.AddWithValue("round", worksheet.RoundId);
            insert.Parameters.AddWithValue("school", worksheet.SchoolCode);
            insert.Parameters.AddWithValue("issue", worksheet.IssueNumber);
            insert.Parameters.AddWithValue("language", worksheet.Language);
            insert.Parameters.AddWithValue("file", worksheet.FileName);
            insert.Parameters.AddWithValue("sha", worksheet.Sha256);
            insert.Parameters.AddWithValue("bytes", worksheet.Bytes);
            insert.Parameters.AddWithValue("key", worksheet.KeyId);
            insert.Parameters.AddWithValue("template", worksheet.TemplateVersion);
            insert.Parameters.AddWithValue("rows", worksheet.Rows.Count);
            insert.Parameters.AddWithValue("errors", worksheet.ErrorCount);
            insert.Parameters.AddWithValue("warnings", worksheet.WarningCount);
            insert.Parameters.AddWithValue("deadline", worksheet.Deadline);
            insert.Parameters.AddWithValue("by", worksheet.IssuedBy);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var import = await connection.BeginBinaryImportAsync("""
            COPY exchange.worksheet_row (worksheet_id, row_key, round_id, school_code, record_id, record_version, fields, issued_values,
                                         finding_ids, signature) FROM STDIN (FORMAT BINARY)
            """, cancellationToken))
        {
            foreach (var row in worksheet.Rows)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(worksheet.WorksheetId, NpgsqlDbType.Uuid, cancellationToken);
                await import.WriteAsync(row.RowKey, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(worksheet.RoundId, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(worksheet.SchoolCode, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.RecordId, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(row.RecordVersion, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(row.Fields.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Values.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.FindingIds.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(row.Signature, NpgsqlDbType.Text, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The raw value of every field of a record version, from registry.current_record's columns as JSON.</summary>
    private static Dictionary<string, string?> RawValues(string json)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Name.EndsWith("_raw", StringComparison.Ordinal) && property.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null)
            {
                values[property.Name[..^4]] = property.Value.ValueKind == JsonValueKind.Null ? null : property.Value.GetString();
            }
        }

        return values;
    }
}
