using Npgsql;
using NpgsqlTypes;

namespace StudentDataQuality.Data.Exchange;

/// <summary>A school's newest worksheet and what came of it, as the school's page shows it.</summary>
public sealed record SchoolStatus(string SchoolCode, string RoundCode, bool RoundOpen, Guid WorksheetId, int IssueNumber, DateOnly? Deadline,
    DateTimeOffset IssuedAt, int IssuedErrors, int IssuedWarnings, int OpenErrors, int OpenWarnings, IReadOnlyList<SchoolReturn> Returns);

/// <summary>One return of the school in the round: who sent which file when, and the rows by outcome (JSON of the counts).</summary>
public sealed record SchoolReturn(long ReturnId, string FileName, DateTimeOffset ReceivedAt, string ReceivedBy, int IssueNumber, string CountsJson);

/// <summary>An issued worksheet's file as the portal hands it out: where the round's worksheets are, and what the file must be.</summary>
public sealed record WorksheetFile(Guid WorksheetId, string SchoolCode, int RoundId, string FileName, string Sha256, string? OutputDirectory);

/// <summary>
/// What the portal reads for a school: its status, its worksheet files and its receipts. Every read takes the reading
/// account and answers only within its scope, in the query itself (a school's own, a district's schools, the data team
/// all, a manager nothing); what is out of scope reads as not there, and the refusal is audited.
/// </summary>
public sealed class SchoolDesk(NpgsqlDataSource dataSource)
{
    /// <summary>A school's schools as SQL sees them: the account's role, school and district bound as parameters.</summary>
    private const string InScope = """
        (@role = 'data_team'
         OR (@role = 'school' AND {0}.school_code = @school)
         OR (@role = 'district' AND EXISTS (SELECT 1 FROM registry.school s WHERE s.round_id = {0}.round_id AND s.school_code = {0}.school_code
                                            AND s.district_code = @district)))
        """;

    public async Task<SchoolStatus?> StatusAsync(Account reader, string schoolCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT w.worksheet_id, r.code, r.status = 'open', w.issue_no, w.deadline, w.issued_at, w.error_count, w.warning_count,
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = w.round_id AND f.school_code = w.school_code AND f.status = 'open' AND f.severity = 'error'),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = w.round_id AND f.school_code = w.school_code AND f.status = 'open' AND f.severity = 'warning'),
                   w.round_id
            FROM   exchange.worksheet w JOIN registry.round r USING (round_id)
            WHERE  w.school_code = @code AND {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "w")}
            ORDER  BY r.round_date DESC, w.round_id DESC, w.issue_no DESC
            LIMIT  1
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("code", schoolCode);
        Guid worksheetId;
        SchoolStatus status;
        int roundId;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await row.ReadAsync(cancellationToken))
            {
                return null;
            }

            worksheetId = row.GetGuid(0);
            roundId = row.GetInt32(10);
            status = new SchoolStatus(schoolCode, row.GetString(1), row.GetBoolean(2), worksheetId, row.GetInt32(3),
                row.IsDBNull(4) ? null : row.GetFieldValue<DateOnly>(4), row.GetFieldValue<DateTimeOffset>(5), row.GetInt32(6), row.GetInt32(7),
                row.GetInt32(8), row.GetInt32(9), []);
        }

        await using var returns = new NpgsqlCommand("""
            SELECT t.return_id, t.file_name, t.received_at, t.received_by, w.issue_no, t.counts::text
            FROM   exchange.worksheet_return t JOIN exchange.worksheet w USING (worksheet_id)
            WHERE  t.round_id = @round AND t.school_code = @code ORDER BY t.received_at DESC
            """, connection);
        returns.Parameters.AddWithValue("round", roundId);
        returns.Parameters.AddWithValue("code", schoolCode);
        var list = new List<SchoolReturn>();
        await using (var row = await returns.ExecuteReaderAsync(cancellationToken))
        {
            while (await row.ReadAsync(cancellationToken))
            {
                list.Add(new SchoolReturn(row.GetInt64(0), row.GetString(1), row.GetFieldValue<DateTimeOffset>(2), row.GetString(3), row.GetInt32(4),
                    row.GetString(5)));
            }
        }

        return status with { Returns = list };
    }

    /// <summary>An issued worksheet's file, when the reader may have it; a download is audited, a refusal too.</summary>
    public async Task<WorksheetFile?> WorksheetAsync(Account reader, Guid worksheetId, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT w.worksheet_id, w.school_code, w.round_id, w.file_name, w.sha256, rr.output_directory
            FROM   exchange.worksheet w LEFT JOIN registry.round_run rr USING (round_id)
            WHERE  w.worksheet_id = @id AND {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "w")}
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("id", worksheetId);
        WorksheetFile? file = null;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await row.ReadAsync(cancellationToken))
            {
                file = new WorksheetFile(row.GetGuid(0), row.GetString(1), row.GetInt32(2), row.GetString(3), row.GetString(4),
                    row.IsDBNull(5) ? null : row.GetString(5));
            }
        }

        await AuditAsync(connection, reader.Name, file is null ? "access.refused" : "worksheet.download", file?.RoundId, file?.SchoolCode,
            worksheetId.ToString(), file is null ? new { what = "worksheet", from } : new { sha256 = file.Sha256, from }, cancellationToken);
        return file;
    }

    /// <summary>A return's receipt (JSON) and its school, when the reader may have it; a refusal is audited.</summary>
    public async Task<(string SchoolCode, string ReceiptJson)?> ReceiptAsync(Account reader, long returnId, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT t.school_code, t.receipt::text FROM exchange.worksheet_return t
            WHERE  t.return_id = @id AND {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "t")}
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("id", returnId);
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await row.ReadAsync(cancellationToken))
            {
                return (row.GetString(0), row.GetString(1));
            }
        }

        await AuditAsync(connection, reader.Name, "access.refused", null, null, returnId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new { what = "receipt", from }, cancellationToken);
        return null;
    }

    private static void Bind(NpgsqlCommand command, Account reader)
    {
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)reader.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)reader.DistrictCode ?? DBNull.Value });
    }

    private static async Task AuditAsync(NpgsqlConnection connection, string actor, string action, int? roundId, string? school, string obj, object details,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO audit.event (actor, action, round_id, school_code, object, details) VALUES (@actor, @action, @round, @school, @object, @details::jsonb)
            """, connection);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)roundId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)school ?? DBNull.Value });
        command.Parameters.AddWithValue("object", obj);
        command.Parameters.AddWithValue("details", System.Text.Json.JsonSerializer.Serialize(details));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
