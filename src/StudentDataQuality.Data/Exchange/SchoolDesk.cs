using Npgsql;
using NpgsqlTypes;

namespace StudentDataQuality.Data.Exchange;

/// <summary>A school's newest worksheet and what came of it, as the school's page shows it.</summary>
public sealed record SchoolStatus(string SchoolCode, string RoundCode, bool RoundOpen, Guid WorksheetId, int IssueNumber, DateOnly? Deadline,
    DateTimeOffset IssuedAt, int IssuedErrors, int IssuedWarnings, int OpenErrors, int OpenWarnings, IReadOnlyList<SchoolReturn> Returns);

/// <summary>One open problem of a school, as its page lists what remains to fix.</summary>
public sealed record OpenProblem(string StudentNo, string RuleId, string TitleZh, string TitleEn, string Severity, string Field, string? Value, bool Explained)
{
    /// <summary>The record the problem is on (none for a problem of no one record): the lineage page's address, which says nothing of the student.</summary>
    public long? RecordId { get; init; }
}

/// <summary>A school of a district in a round, as the district's page lists it.</summary>
public sealed record DistrictSchool(string SchoolCode, string SchoolName, int? IssueNumber, DateOnly? Deadline, bool Downloaded, int Returns,
    int OpenErrors, int OpenWarnings, DateTimeOffset? CertifiedAt, DateTimeOffset? ApprovedAt, bool Late);

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
    /// <summary>
    /// The one scope rule (sql/migrations/0018_school_scope.sql): whether the account, its role, school and district bound
    /// as parameters, may read and act for the school of the row; a district's schools are those of the newest school master.
    /// </summary>
    private const string InScope = "access.may_act_for(@role, @school, @district, {0}.school_code)";

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
        Guid worksheetId = default;
        SchoolStatus status = null!;
        int roundId = 0;
        bool found;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await row.ReadAsync(cancellationToken))
            {
                found = false;
            }
            else
            {
                found = true;

                worksheetId = row.GetGuid(0);
                roundId = row.GetInt32(10);
                status = new SchoolStatus(schoolCode, row.GetString(1), row.GetBoolean(2), worksheetId, row.GetInt32(3),
                    row.IsDBNull(4) ? null : row.GetFieldValue<DateOnly>(4), row.GetFieldValue<DateTimeOffset>(5), row.GetInt32(6), row.GetInt32(7),
                    row.GetInt32(8), row.GetInt32(9), []);
            }
        }

        if (!found)
        {
            // No worksheet in scope: a school of the reader's that has none yet, or a school out of its scope (audited).
            await RefuseUnlessInScopeAsync(connection, reader, schoolCode, "school", cancellationToken);
            return null;
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

        await AuditLog.WriteAsync(connection, reader.Name, file is null ? "access.refused" : "worksheet.download", file?.RoundId, file?.SchoolCode,
            worksheetId.ToString(), file is null ? new { what = "worksheet", from } : new { sha256 = file.Sha256, from }, cancellationToken);
        return file;
    }

    /// <summary>A return's receipt (JSON) and its school, when the reader may have it; the read is audited (<c>receipt.read</c>), a refusal too.</summary>
    public async Task<(string SchoolCode, string ReceiptJson)?> ReceiptAsync(Account reader, long returnId, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await ReadReceiptAsync(connection, reader, returnId, from, cancellationToken) is not { } found)
        {
            return null;
        }

        await AuditLog.WriteAsync(connection, reader.Name, "receipt.read", found.RoundId, found.SchoolCode, Id(returnId),
            new { rows = found.Rows, from }, cancellationToken);
        return (found.SchoolCode, found.ReceiptJson);
    }

    /// <summary>
    /// A return's receipt as a file (<paramref name="render"/> makes its bytes from the receipt's JSON), when the reader may
    /// have it; the download is audited with the sha256 and length of the bytes handed out (<c>receipt.download</c>), a refusal too.
    /// </summary>
    public async Task<byte[]?> ReceiptFileAsync(Account reader, long returnId, string from, Func<string, byte[]> render,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(render);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await ReadReceiptAsync(connection, reader, returnId, from, cancellationToken) is not { } found)
        {
            return null;
        }

        var bytes = render(found.ReceiptJson);
        await AuditLog.WriteAsync(connection, reader.Name, "receipt.download", found.RoundId, found.SchoolCode, Id(returnId),
            new { sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), bytes = bytes.Length, rows = found.Rows, from },
            cancellationToken);
        return bytes;
    }

    private static async Task<(int RoundId, string SchoolCode, string ReceiptJson, int Rows)?> ReadReceiptAsync(NpgsqlConnection connection, Account reader,
        long returnId, string from, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT t.round_id, t.school_code, t.receipt::text, coalesce(jsonb_array_length(t.receipt->'Rows'), 0) FROM exchange.worksheet_return t
            WHERE  t.return_id = @id AND {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "t")}
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("id", returnId);
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await row.ReadAsync(cancellationToken))
            {
                return (row.GetInt32(0), row.GetString(1), row.GetString(2), row.GetInt32(3));
            }
        }

        await AuditLog.WriteAsync(connection, reader.Name, "access.refused", null, null, Id(returnId), new { what = "receipt", from }, cancellationToken);
        return null;
    }

    private static string Id(long id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The open problems of a school in its newest round with a worksheet, student by student (at most <paramref name="limit"/>),
    /// when the reader may see the school; otherwise none, and the refusal is audited. A read in scope is audited as
    /// <c>school.problems.read</c> (the round, the school, how many rows were shown), an empty one too.
    /// </summary>
    public async Task<IReadOnlyList<OpenProblem>> OpenProblemsAsync(Account reader, string schoolCode, string from, int limit = 1000,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH newest AS MATERIALIZED (
                SELECT w.round_id, w.school_code FROM exchange.worksheet w JOIN registry.round r USING (round_id)
                WHERE  w.school_code = @code AND {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "w")}
                ORDER  BY r.round_date DESC, w.round_id DESC LIMIT 1)
            SELECT coalesce(f.student_no, ''), f.record_id, f.rule_id, q.title_zh, q.title_en, f.severity, f.field, f.value,
                   EXISTS (SELECT 1 FROM exchange.explanation x WHERE x.round_id = f.round_id AND x.record_id = f.record_id
                           AND x.status IN ('pending', 'accepted') AND f.fingerprint = ANY (x.fingerprints))
                   , n.round_id
            FROM   newest n JOIN quality.finding f ON f.round_id = n.round_id AND f.school_code = n.school_code AND f.status = 'open'
            JOIN   quality.rule q ON q.rule_id = f.rule_id
            ORDER  BY f.severity, f.student_no, f.rule_id
            LIMIT  @limit
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("code", schoolCode);
        command.Parameters.AddWithValue("limit", limit);
        var problems = new List<OpenProblem>();
        int? roundId = null;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await row.ReadAsync(cancellationToken))
            {
                problems.Add(new OpenProblem(row.GetString(0), row.GetString(2), row.GetString(3), row.GetString(4), row.GetString(5), row.GetString(6),
                    row.IsDBNull(7) ? null : row.GetString(7), row.GetBoolean(8)) { RecordId = row.IsDBNull(1) ? null : row.GetInt64(1) });
                roundId = row.GetInt32(9);
            }
        }

        if (problems.Count == 0 && !await RefuseUnlessInScopeAsync(connection, reader, schoolCode, "open problems", cancellationToken))
        {
            return problems;
        }

        await AuditLog.WriteAsync(connection, reader.Name, "school.problems.read", roundId, schoolCode, schoolCode,
            new { rows = problems.Count, from }, cancellationToken);
        return problems;
    }

    /// <summary>Whether the reader may see the school (the one scope rule); a read out of scope is audited as refused.</summary>
    private static async Task<bool> RefuseUnlessInScopeAsync(NpgsqlConnection connection, Account reader, string schoolCode, string what,
        CancellationToken cancellationToken)
    {
        await using var scope = new NpgsqlCommand("SELECT access.may_act_for(@role, @school, @district, @code)", connection);
        Bind(scope, reader);
        scope.Parameters.AddWithValue("code", schoolCode);
        if ((bool)(await scope.ExecuteScalarAsync(cancellationToken))!)
        {
            return true;
        }

        await AuditLog.WriteAsync(connection, reader.Name, "access.refused", null, schoolCode, schoolCode, new { what }, cancellationToken);
        return false;
    }

    /// <summary>What stands between a school and its sign-off in its newest open round: open errors, and open warnings no explanation covers.</summary>
    private const string Blocking = """
        SELECT count(*) FILTER (WHERE f.severity = 'error')::int,
               count(*) FILTER (WHERE f.severity = 'warning' AND NOT EXISTS (
                   SELECT 1 FROM exchange.explanation x
                   WHERE  x.round_id = f.round_id AND x.record_id = f.record_id AND x.status IN ('pending', 'accepted')
                     AND  f.fingerprint = ANY (x.fingerprints)))::int,
               count(*) FILTER (WHERE f.severity = 'warning')::int
        FROM   quality.finding f
        WHERE  f.round_id = @round AND f.school_code = @school AND f.status = 'open'
        """;

    /// <summary>
    /// The school certifies its data for its newest open round: refused (with what is left) while an error is open or a
    /// warning is neither fixed nor explained. Certifying twice keeps the first. Audited.
    /// </summary>
    public async Task<DateTimeOffset> CertifyAsync(Account school, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(school);
        if (school.Role != AccountRole.School || school.SchoolCode is null)
        {
            throw new UserErrorException("Only a school's own account certifies its data.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var round = new NpgsqlCommand("""
            SELECT w.round_id FROM exchange.worksheet w JOIN registry.round r USING (round_id)
            WHERE  w.school_code = @school AND r.status = 'open' ORDER BY r.round_date DESC, w.round_id DESC LIMIT 1
            """, connection, transaction);
        round.Parameters.AddWithValue("school", school.SchoolCode);
        var roundId = await round.ExecuteScalarAsync(cancellationToken) as int?
            ?? throw new UserErrorException("There is no open round with a worksheet of your school to certify.");
        await using (var lockSchool = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('sdq.worksheet:' || @round || ':' || @school))", connection, transaction))
        {
            lockSchool.Parameters.AddWithValue("round", roundId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            lockSchool.Parameters.AddWithValue("school", school.SchoolCode);
            await lockSchool.ExecuteNonQueryAsync(cancellationToken);
        }

        int errors, unexplained, warnings;
        await using (var blocking = new NpgsqlCommand(Blocking, connection, transaction))
        {
            blocking.Parameters.AddWithValue("round", roundId);
            blocking.Parameters.AddWithValue("school", school.SchoolCode);
            await using var row = await blocking.ExecuteReaderAsync(cancellationToken);
            await row.ReadAsync(cancellationToken);
            (errors, unexplained, warnings) = (row.GetInt32(0), row.GetInt32(1), row.GetInt32(2));
        }

        if (errors > 0 || unexplained > 0)
        {
            throw new UserErrorException(
                $"还不能确认：{errors} 个错误未解决，{unexplained} 个警告既未更正也未说明。Not yet: {errors} errors are open and {unexplained} warnings are neither fixed nor explained. Fix or explain them in the worksheet and upload it again.");
        }

        await using var certify = new NpgsqlCommand("""
            WITH added AS (
                INSERT INTO exchange.sign_off (round_id, school_code, certified_by, warnings_explained) VALUES (@round, @school, @by, @explained)
                ON CONFLICT DO NOTHING RETURNING certified_at)
            , audit AS (
                INSERT INTO audit.event (actor, action, round_id, school_code, object, details)
                SELECT @by, 'school.certify', @round, @school, @school, jsonb_build_object('warnings_explained', @explained) FROM added)
            SELECT certified_at FROM added
            UNION ALL SELECT certified_at FROM exchange.sign_off WHERE round_id = @round AND school_code = @school
            LIMIT 1
            """, connection, transaction);
        certify.Parameters.AddWithValue("round", roundId);
        certify.Parameters.AddWithValue("school", school.SchoolCode);
        certify.Parameters.AddWithValue("by", school.Name);
        certify.Parameters.AddWithValue("explained", warnings);
        DateTimeOffset at;
        await using (var row = await certify.ExecuteReaderAsync(cancellationToken))
        {
            await row.ReadAsync(cancellationToken);
            at = row.GetFieldValue<DateTimeOffset>(0);
        }

        await transaction.CommitAsync(cancellationToken);
        return at;
    }

    /// <summary>
    /// The district office (or the data team) approves a certified school of its newest open round. A school out of the
    /// account's scope, or not certified, is refused (out of scope audited as such). Approving twice keeps the first.
    /// </summary>
    public async Task<bool> ApproveAsync(Account approver, string schoolCode, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approver);
        if (approver.Role is not (AccountRole.District or AccountRole.DataTeam))
        {
            throw new UserErrorException("Only a district office or the data team approves a school's sign-off.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var approve = new NpgsqlCommand($"""
            WITH target AS (
                SELECT so.round_id, so.school_code FROM exchange.sign_off so JOIN registry.round r USING (round_id)
                WHERE  so.school_code = @code AND r.status = 'open' AND {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "so")}
                ORDER  BY r.round_date DESC LIMIT 1)
            , approved AS (
                UPDATE exchange.sign_off so SET approved_by = @by, approved_at = now()
                FROM   target t WHERE so.round_id = t.round_id AND so.school_code = t.school_code AND so.approved_at IS NULL
                RETURNING so.round_id, so.school_code)
            , audit AS (
                INSERT INTO audit.event (actor, action, round_id, school_code, object, details)
                SELECT @by, 'school.approve', round_id, school_code, school_code, jsonb_build_object('from', @from) FROM approved)
            SELECT (SELECT count(*) FROM target)::int
            """, connection);
        Bind(approve, approver);
        approve.Parameters.AddWithValue("code", schoolCode);
        approve.Parameters.AddWithValue("by", approver.Name);
        approve.Parameters.AddWithValue("from", from);
        if ((int)(await approve.ExecuteScalarAsync(cancellationToken))! == 1)
        {
            return true;
        }

        await AuditLog.WriteAsync(connection, approver.Name, "access.refused", null, schoolCode, schoolCode, new { what = "approve", from }, cancellationToken);
        return false;
    }

    /// <summary>The schools of a district in the newest open round, late ones first, with where each stands; empty out of scope.</summary>
    public async Task<IReadOnlyList<DistrictSchool>> DistrictAsync(Account reader, string districtCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH round AS (
                SELECT r.round_id FROM registry.round r
                WHERE  r.status = 'open' AND EXISTS (SELECT 1 FROM exchange.worksheet w WHERE w.round_id = r.round_id)
                ORDER  BY r.round_date DESC, r.round_id DESC LIMIT 1),
            schools AS (
                SELECT DISTINCT ON (s.school_code) s.round_id, s.school_code, coalesce(s.school_name_raw, '') AS school_name
                FROM   registry.school s JOIN round USING (round_id) JOIN access.school_district d ON d.school_code = s.school_code
                WHERE  d.district_code = @code
                ORDER  BY s.school_code, s.row_no)
            SELECT s.school_code, s.school_name, w.issue_no, w.deadline,
                   EXISTS (SELECT 1 FROM audit.event e JOIN exchange.worksheet x ON e.object = x.worksheet_id::text
                           WHERE e.action = 'worksheet.download' AND x.round_id = s.round_id AND x.school_code = s.school_code),
                   (SELECT count(*)::int FROM exchange.worksheet_return t WHERE t.round_id = s.round_id AND t.school_code = s.school_code),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = s.round_id AND f.school_code = s.school_code AND f.status = 'open' AND f.severity = 'error'),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = s.round_id AND f.school_code = s.school_code AND f.status = 'open' AND f.severity = 'warning'),
                   so.certified_at, so.approved_at
            FROM   schools s
            LEFT   JOIN LATERAL (SELECT issue_no, deadline FROM exchange.worksheet w WHERE w.round_id = s.round_id AND w.school_code = s.school_code
                                 ORDER BY issue_no DESC LIMIT 1) w ON true
            LEFT   JOIN exchange.sign_off so ON so.round_id = s.round_id AND so.school_code = s.school_code
            WHERE  {string.Format(System.Globalization.CultureInfo.InvariantCulture, InScope, "s")}
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("code", districtCode);
        var schools = new List<DistrictSchool>();
        var today = DateOnly.FromDateTime(DateTime.Today);
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            var deadline = row.IsDBNull(3) ? (DateOnly?)null : row.GetFieldValue<DateOnly>(3);
            var returns = row.GetInt32(5);
            schools.Add(new DistrictSchool(row.GetString(0), row.GetString(1), row.IsDBNull(2) ? null : row.GetInt32(2), deadline, row.GetBoolean(4),
                returns, row.GetInt32(6), row.GetInt32(7), row.IsDBNull(8) ? null : row.GetFieldValue<DateTimeOffset>(8),
                row.IsDBNull(9) ? null : row.GetFieldValue<DateTimeOffset>(9), deadline < today && returns == 0));
        }

        return schools.OrderByDescending(s => s.Late).ThenBy(s => s.CertifiedAt is null ? 1 : 0).ThenBy(s => s.SchoolCode, StringComparer.Ordinal).ToList();
    }

    private static void Bind(NpgsqlCommand command, Account reader)
    {
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)reader.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)reader.DistrictCode ?? DBNull.Value });
    }
}
