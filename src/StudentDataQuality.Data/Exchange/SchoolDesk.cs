using System.Globalization;
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

/// <summary>A district in the newest open round, as the data team's table of all districts lists it: its schools and where they stand.</summary>
public sealed record DistrictSummary(string DistrictCode, string DistrictName, int Schools, int Issued, int Returned, int Certified, int Approved,
    int OpenErrors, int Late);

/// <summary>A school found by the data team's search: its code, its name and district in the newest school master.</summary>
public sealed record SchoolFound(string SchoolCode, string SchoolName, string? DistrictCode);

/// <summary>
/// One issue of a worksheet to a school, as its page shows its progress: when, what it showed, the returns that answered it,
/// what was open after it (when the next issue was made, or now for the newest issue of a round) and the round's sign-off.
/// </summary>
public sealed record SchoolIssue(string RoundCode, int IssueNumber, DateTimeOffset IssuedAt, int IssuedErrors, int IssuedWarnings, int Returns,
    int OpenAfter, bool Newest, DateTimeOffset? CertifiedAt, DateTimeOffset? ApprovedAt);

/// <summary>
/// How a table is asked for: a search (a code or a name), a sort (a key of the table's own list; anything else: the table's
/// default order), its direction, a filter (a key of the table's own list) and a page (from 1, bounded).
/// </summary>
public sealed record TableQuery(string? Search = null, string? Sort = null, bool Descending = false, int Page = 1, string? Filter = null)
{
    /// <summary>Rows on a page.</summary>
    public const int PageSize = 50;

    /// <summary>The highest page asked for (beyond it: this page, which is empty at province size).</summary>
    public const int MaxPage = 10_000;

    /// <summary>The longest search kept.</summary>
    public const int MaxSearch = 100;

    /// <summary>The search as typed, trimmed and bounded; null when empty.</summary>
    public string? Term => Search?.Trim() is { Length: > 0 } term ? term[..Math.Min(term.Length, MaxSearch)] : null;

    /// <summary>The page, between 1 and <see cref="MaxPage"/>.</summary>
    public int PageNumber => Math.Clamp(Page, 1, MaxPage);

    /// <summary>The search as an ILIKE pattern that matches it anywhere, its own % _ and \ taken literally.</summary>
    internal string? Like => Term is { } term ? "%" + term.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal)
        .Replace("_", @"\_", StringComparison.Ordinal) + "%" : null;
}

/// <summary>A page of a table: its rows, how many rows the whole table has, and which page this is.</summary>
public sealed record TablePage<T>(IReadOnlyList<T> Rows, int Total, int Page)
{
    public int Pages => Math.Max(1, (Total + TableQuery.PageSize - 1) / TableQuery.PageSize);
}

/// <summary>One return of the school in the round: who sent which file when, and the rows by outcome (JSON of the counts).</summary>
public sealed record SchoolReturn(long ReturnId, string FileName, DateTimeOffset ReceivedAt, string ReceivedBy, int IssueNumber, string CountsJson);

/// <summary>An issued worksheet's file as the portal hands it out: where the round's worksheets are, and what the file must be.</summary>
public sealed record WorksheetFile(Guid WorksheetId, string SchoolCode, int RoundId, string FileName, string Sha256, string? OutputDirectory);

/// <summary>
/// What the portal reads for a school: its status, its worksheet files and its receipts, a district's schools, the districts.
/// Every read takes the reading account and decides its scope in the query itself, with the one rule
/// (<c>access.may_act_for</c>: a school's own, a district's schools, the data team all, a manager nothing). A read or action
/// of one thing out of scope (or not there: the two answer alike) throws <see cref="OutOfScopeException"/>, which the host
/// puts on record and answers as "not found"; a table lists only what is in scope.
/// </summary>
public sealed class SchoolDesk(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The one scope rule (sql/migrations/0018_school_scope.sql): whether the account, its role, school and district bound
    /// as parameters, may read and act for the school of the row; a district's schools are those of the newest school master.
    /// </summary>
    private static string InScope(string alias) => $"access.may_act_for(@role, @school, @district, {alias}.school_code)";

    /// <summary>The school asked for, with the verdict of the scope rule on it: the first row of a read of one school.</summary>
    private const string AskedSchool = "SELECT access.may_act_for(@role, @school, @district, @code) AS in_scope, @code::text AS school_code";

    /// <summary>
    /// The school's newest worksheet and what came of it; null when the school is the reader's but has no worksheet yet.
    /// </summary>
    /// <exception cref="OutOfScopeException">The school is not the reader's (what: "school").</exception>
    public async Task<SchoolStatus?> StatusAsync(Account reader, string schoolCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(schoolCode);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH asked AS ({AskedSchool})
            SELECT a.in_scope, w.worksheet_id, w.code, w.is_open, w.issue_no, w.deadline, w.issued_at, w.error_count, w.warning_count,
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = w.round_id AND f.school_code = w.school_code AND f.status = 'open' AND f.severity = 'error'),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = w.round_id AND f.school_code = w.school_code AND f.status = 'open' AND f.severity = 'warning'),
                   w.round_id
            FROM   asked a
            LEFT   JOIN LATERAL (
                SELECT x.*, r.code, r.status = 'open' AS is_open FROM exchange.worksheet x JOIN registry.round r USING (round_id)
                WHERE  x.school_code = a.school_code
                ORDER  BY r.round_date DESC, x.round_id DESC, x.issue_no DESC
                LIMIT  1) w ON a.in_scope
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("code", schoolCode);
        SchoolStatus status;
        int roundId;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            await row.ReadAsync(cancellationToken);
            if (!row.GetBoolean(0))
            {
                throw new OutOfScopeException("school", schoolCode, schoolCode);
            }

            if (row.IsDBNull(1))
            {
                return null;
            }

            roundId = row.GetInt32(11);
            status = new SchoolStatus(schoolCode, row.GetString(2), row.GetBoolean(3), row.GetGuid(1), row.GetInt32(4),
                row.IsDBNull(5) ? null : row.GetFieldValue<DateOnly>(5), row.GetFieldValue<DateTimeOffset>(6), row.GetInt32(7), row.GetInt32(8),
                row.GetInt32(9), row.GetInt32(10), []);
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

    /// <summary>The most issues a school's progress lists (every round, newest last).</summary>
    public const int MaxIssues = 200;

    /// <summary>
    /// A school's progress since its first issue: every worksheet issued to it, oldest first, with what each showed, the
    /// returns that answered it and what was open after it (aggregates only: not audited as a read of a student's data).
    /// </summary>
    /// <exception cref="OutOfScopeException">The school is not the reader's (what: "school").</exception>
    public async Task<IReadOnlyList<SchoolIssue>> ProgressAsync(Account reader, string schoolCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(schoolCode);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH asked AS ({AskedSchool}),
            issues AS (
                SELECT w.round_id, r.code, r.round_date, w.issue_no, w.issued_at, w.error_count, w.warning_count,
                       (SELECT count(*)::int FROM exchange.worksheet_return t WHERE t.worksheet_id = w.worksheet_id) AS returns,
                       lead(w.error_count + w.warning_count) OVER (PARTITION BY w.round_id ORDER BY w.issue_no) AS next_open,
                       w.school_code
                FROM   asked a JOIN exchange.worksheet w ON w.school_code = a.school_code AND a.in_scope
                JOIN   registry.round r ON r.round_id = w.round_id)
            SELECT a.in_scope, i.code, i.issue_no, i.issued_at, i.error_count, i.warning_count, i.returns,
                   coalesce(i.next_open, (SELECT count(*)::int FROM quality.finding f
                                          WHERE f.round_id = i.round_id AND f.school_code = i.school_code AND f.status = 'open')),
                   i.next_open IS NULL, so.certified_at, so.approved_at
            FROM   asked a
            LEFT   JOIN LATERAL (SELECT * FROM issues ORDER BY round_date DESC, round_id DESC, issue_no DESC LIMIT {MaxIssues}) i ON true
            LEFT   JOIN exchange.sign_off so ON so.round_id = i.round_id AND so.school_code = i.school_code
            ORDER  BY i.round_date, i.round_id, i.issue_no
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("code", schoolCode);
        var issues = new List<SchoolIssue>();
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            if (!row.GetBoolean(0))
            {
                throw new OutOfScopeException("school", schoolCode, schoolCode);
            }

            if (!row.IsDBNull(1))
            {
                issues.Add(new SchoolIssue(row.GetString(1), row.GetInt32(2), row.GetFieldValue<DateTimeOffset>(3), row.GetInt32(4), row.GetInt32(5),
                    row.GetInt32(6), row.GetInt32(7), row.GetBoolean(8), Time(row, 9), Time(row, 10)));
            }
        }

        return issues;
    }

    /// <summary>An issued worksheet's file; the download is audited.</summary>
    /// <exception cref="OutOfScopeException">No such worksheet, or not the reader's (what: "worksheet").</exception>
    public async Task<WorksheetFile> WorksheetAsync(Account reader, Guid worksheetId, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT w.worksheet_id, w.school_code, w.round_id, w.file_name, w.sha256, rr.output_directory
            FROM   exchange.worksheet w LEFT JOIN registry.round_run rr USING (round_id)
            WHERE  w.worksheet_id = @id AND {InScope("w")}
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("id", worksheetId);
        WorksheetFile file;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await row.ReadAsync(cancellationToken))
            {
                throw new OutOfScopeException("worksheet", worksheetId.ToString());
            }

            file = new WorksheetFile(row.GetGuid(0), row.GetString(1), row.GetInt32(2), row.GetString(3), row.GetString(4),
                row.IsDBNull(5) ? null : row.GetString(5));
        }

        await AuditLog.WriteAsync(connection, reader.Name, "worksheet.download", file.RoundId, file.SchoolCode, worksheetId.ToString(),
            new { sha256 = file.Sha256, from }, cancellationToken);
        return file;
    }

    /// <summary>A return's receipt (JSON) and its school; the read is audited (<c>receipt.read</c>).</summary>
    /// <exception cref="OutOfScopeException">No such return, or not the reader's (what: "receipt").</exception>
    public async Task<(string SchoolCode, string ReceiptJson)> ReceiptAsync(Account reader, long returnId, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var found = await ReadReceiptAsync(connection, reader, returnId, cancellationToken);
        await AuditLog.WriteAsync(connection, reader.Name, "receipt.read", found.RoundId, found.SchoolCode, Id(returnId),
            new { rows = found.Rows, from }, cancellationToken);
        return (found.SchoolCode, found.ReceiptJson);
    }

    /// <summary>
    /// A return's receipt as a file (<paramref name="render"/> makes its bytes from the receipt's JSON); the download is
    /// audited with the sha256 and length of the bytes handed out (<c>receipt.download</c>).
    /// </summary>
    /// <exception cref="OutOfScopeException">No such return, or not the reader's (what: "receipt").</exception>
    public async Task<byte[]> ReceiptFileAsync(Account reader, long returnId, string from, Func<string, byte[]> render,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(render);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var found = await ReadReceiptAsync(connection, reader, returnId, cancellationToken);
        var bytes = render(found.ReceiptJson);
        await AuditLog.WriteAsync(connection, reader.Name, "receipt.download", found.RoundId, found.SchoolCode, Id(returnId),
            new { sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), bytes = bytes.Length, rows = found.Rows, from },
            cancellationToken);
        return bytes;
    }

    private static async Task<(int RoundId, string SchoolCode, string ReceiptJson, int Rows)> ReadReceiptAsync(NpgsqlConnection connection, Account reader,
        long returnId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT t.round_id, t.school_code, t.receipt::text, coalesce(jsonb_array_length(t.receipt->'Rows'), 0) FROM exchange.worksheet_return t
            WHERE  t.return_id = @id AND {InScope("t")}
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("id", returnId);
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        return await row.ReadAsync(cancellationToken)
            ? (row.GetInt32(0), row.GetString(1), row.GetString(2), row.GetInt32(3))
            : throw new OutOfScopeException("receipt", Id(returnId));
    }

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The open problems of a school in its newest round with a worksheet, student by student (at most <paramref name="limit"/>).
    /// A read is audited as <c>school.problems.read</c> (the round, the school, how many rows were shown), an empty one too.
    /// </summary>
    /// <exception cref="OutOfScopeException">The school is not the reader's (what: "open problems").</exception>
    public async Task<IReadOnlyList<OpenProblem>> OpenProblemsAsync(Account reader, string schoolCode, string from, int limit = 1000,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH asked AS ({AskedSchool}),
            newest AS MATERIALIZED (
                SELECT w.round_id, w.school_code FROM asked a JOIN exchange.worksheet w ON w.school_code = a.school_code AND a.in_scope
                JOIN   registry.round r USING (round_id)
                ORDER  BY r.round_date DESC, w.round_id DESC LIMIT 1),
            problems AS (
                SELECT coalesce(f.student_no, '') AS student_no, f.record_id, f.rule_id, q.title_zh, q.title_en, f.severity, f.field, f.value,
                       EXISTS (SELECT 1 FROM exchange.explanation x WHERE x.round_id = f.round_id AND x.record_id = f.record_id
                               AND x.status IN ('pending', 'accepted') AND f.fingerprint = ANY (x.fingerprints)) AS explained,
                       n.round_id
                FROM   newest n JOIN quality.finding f ON f.round_id = n.round_id AND f.school_code = n.school_code AND f.status = 'open'
                JOIN   quality.rule q ON q.rule_id = f.rule_id
                ORDER  BY f.severity, f.student_no, f.rule_id
                LIMIT  @limit)
            SELECT a.in_scope, p.* FROM asked a LEFT JOIN problems p ON true
            ORDER  BY p.severity, p.student_no, p.rule_id
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
                if (!row.GetBoolean(0))
                {
                    throw new OutOfScopeException("open problems", schoolCode, schoolCode);
                }

                if (!row.IsDBNull(3))
                {
                    problems.Add(new OpenProblem(row.GetString(1), row.GetString(3), row.GetString(4), row.GetString(5), row.GetString(6), row.GetString(7),
                        row.IsDBNull(8) ? null : row.GetString(8), row.GetBoolean(9)) { RecordId = row.IsDBNull(2) ? null : row.GetInt64(2) });
                    roundId = row.GetInt32(10);
                }
            }
        }

        await AuditLog.WriteAsync(connection, reader.Name, "school.problems.read", roundId, schoolCode, schoolCode,
            new { rows = problems.Count, from }, cancellationToken);
        return problems;
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
    /// <exception cref="UserErrorException">Not a school's own account; no open round; something is left to fix or explain.</exception>
    public async Task<DateTimeOffset> CertifyAsync(Account school, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(school);
        if (school.Role != AccountRole.School || school.SchoolCode is null)
        {
            throw new UserErrorException(new UserMessage("School.CertifyOwnOnly"));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var round = new NpgsqlCommand("""
            SELECT w.round_id FROM exchange.worksheet w JOIN registry.round r USING (round_id)
            WHERE  w.school_code = @school AND r.status = 'open' ORDER BY r.round_date DESC, w.round_id DESC LIMIT 1
            """, connection, transaction);
        round.Parameters.AddWithValue("school", school.SchoolCode);
        var roundId = await round.ExecuteScalarAsync(cancellationToken) as int?
            ?? throw new UserErrorException(new UserMessage("School.NoOpenRound"));
        await using (var lockSchool = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('sdq.worksheet:' || @round || ':' || @school))", connection, transaction))
        {
            lockSchool.Parameters.AddWithValue("round", roundId.ToString(CultureInfo.InvariantCulture));
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
            throw new UserErrorException(new UserMessage("School.NotYet", errors, unexplained));
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
    /// The district office (or the data team) approves a certified school of its newest open round. Approving twice keeps
    /// the first. Audited (<c>school.approve</c>).
    /// </summary>
    /// <exception cref="UserErrorException">Neither a district office nor the data team.</exception>
    /// <exception cref="OutOfScopeException">The school is not the approver's, or has no sign-off in an open round (what: "approve").</exception>
    public async Task ApproveAsync(Account approver, string schoolCode, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approver);
        if (approver.Role is not (AccountRole.District or AccountRole.DataTeam))
        {
            throw new UserErrorException(new UserMessage("School.ApproveDistrictOnly"));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var approve = new NpgsqlCommand($"""
            WITH target AS (
                SELECT so.round_id, so.school_code FROM exchange.sign_off so JOIN registry.round r USING (round_id)
                WHERE  so.school_code = @code AND r.status = 'open' AND {InScope("so")}
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
        if ((int)(await approve.ExecuteScalarAsync(cancellationToken))! != 1)
        {
            throw new OutOfScopeException("approve", schoolCode, schoolCode);
        }
    }

    /// <summary>The round the district tables show: the newest open round with worksheets.</summary>
    private const string TableRound = """
        round AS (
            SELECT r.round_id FROM registry.round r
            WHERE  r.status = 'open' AND EXISTS (SELECT 1 FROM exchange.worksheet w WHERE w.round_id = r.round_id)
            ORDER  BY r.round_date DESC, r.round_id DESC LIMIT 1),
        """;

    /// <summary>
    /// Each school of the round's school master in the reader's scope, with where it stands: one grouped pass over each
    /// table (findings, returns, worksheets) rather than a query per school. <c>{0}</c>: more conditions on the schools.
    /// </summary>
    private const string SchoolFacts = """
        schools AS (
            SELECT DISTINCT ON (s.school_code) s.round_id, s.school_code, coalesce(btrim(s.school_name_raw), '') AS school_name, d.district_code
            FROM   registry.school s JOIN round USING (round_id) JOIN access.school_district d ON d.school_code = s.school_code
            WHERE  access.may_act_for(@role, @school, @district, s.school_code) {0}
            ORDER  BY s.school_code, s.row_no),
        open_now AS (
            SELECT f.school_code, count(*) FILTER (WHERE f.severity = 'error')::int AS errors, count(*) FILTER (WHERE f.severity = 'warning')::int AS warnings
            FROM   quality.finding f JOIN round USING (round_id) WHERE f.status = 'open' GROUP BY f.school_code),
        returned AS (
            SELECT t.school_code, count(*)::int AS returns FROM exchange.worksheet_return t JOIN round USING (round_id) GROUP BY t.school_code),
        issued AS (
            SELECT DISTINCT ON (w.school_code) w.school_code, w.issue_no, w.deadline
            FROM   exchange.worksheet w JOIN round USING (round_id) ORDER BY w.school_code, w.issue_no DESC),
        facts AS (
            SELECT s.round_id, s.school_code, s.school_name, s.district_code, i.issue_no, i.deadline, coalesce(t.returns, 0) AS returns,
                   coalesce(o.errors, 0) AS errors, coalesce(o.warnings, 0) AS warnings, so.certified_at, so.approved_at,
                   coalesce(i.deadline < current_date AND coalesce(t.returns, 0) = 0, false) AS late
            FROM   schools s
            LEFT   JOIN issued i ON i.school_code = s.school_code
            LEFT   JOIN returned t ON t.school_code = s.school_code
            LEFT   JOIN open_now o ON o.school_code = s.school_code
            LEFT   JOIN exchange.sign_off so ON so.round_id = s.round_id AND so.school_code = s.school_code)
        """;

    /// <summary>The orders the table of a district's schools may be sorted by (the key in the address → the SQL); anything else: the default.</summary>
    public static readonly IReadOnlyDictionary<string, string> SchoolSorts = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["code"] = "school_code",
        ["name"] = "school_name",
        ["issue"] = "issue_no",
        ["due"] = "deadline",
        ["returns"] = "returns",
        ["errors"] = "errors",
        ["warnings"] = "warnings",
        ["certified"] = "certified_at",
        ["approved"] = "approved_at",
        ["late"] = "late",
    };

    /// <summary>The filters of the table of a district's schools: late only, not certified yet.</summary>
    public static readonly IReadOnlyList<string> SchoolFilters = ["late", "uncertified"];

    /// <summary>
    /// A page of the schools of a district in the newest open round (in the reader's scope only), searched by code or name,
    /// filtered (<see cref="SchoolFilters"/>) and sorted (<see cref="SchoolSorts"/>; by default the late first, then those
    /// waiting for approval, then by code), all in the query.
    /// </summary>
    public async Task<TablePage<DistrictSchool>> DistrictAsync(Account reader, string districtCode, TableQuery query,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(query);
        var order = query.Sort is { } sort && SchoolSorts.TryGetValue(sort, out var column)
            ? $"{column} {(query.Descending ? "DESC" : "ASC")} NULLS LAST, school_code"
            : "late DESC, certified_at IS NULL, school_code";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH {TableRound}
            {string.Format(CultureInfo.InvariantCulture, SchoolFacts, "AND d.district_code = @code")},
            page AS (
                SELECT f.*, count(*) OVER () AS total, row_number() OVER (ORDER BY {order}) AS n
                FROM   facts f
                WHERE  (@like::text IS NULL OR f.school_code ILIKE @like OR f.school_name ILIKE @like)
                  AND  (@filter::text IS DISTINCT FROM 'late' OR f.late)
                  AND  (@filter::text IS DISTINCT FROM 'uncertified' OR f.certified_at IS NULL)
                ORDER  BY n LIMIT @size OFFSET @offset)
            SELECT p.school_code, p.school_name, p.issue_no, p.deadline,
                   EXISTS (SELECT 1 FROM exchange.worksheet x JOIN audit.event e ON e.object = x.worksheet_id::text AND e.action = 'worksheet.download'
                           WHERE x.round_id = p.round_id AND x.school_code = p.school_code),
                   p.returns, p.errors, p.warnings, p.certified_at, p.approved_at, p.late, p.total
            FROM   page p ORDER BY p.n
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("code", districtCode);
        BindQuery(command, query, SchoolFilters);
        var schools = new List<DistrictSchool>();
        var total = 0;
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            schools.Add(new DistrictSchool(row.GetString(0), row.GetString(1), row.IsDBNull(2) ? null : row.GetInt32(2),
                row.IsDBNull(3) ? null : row.GetFieldValue<DateOnly>(3), row.GetBoolean(4), row.GetInt32(5), row.GetInt32(6), row.GetInt32(7),
                Time(row, 8), Time(row, 9), row.GetBoolean(10)));
            total = (int)row.GetInt64(11);
        }

        return new TablePage<DistrictSchool>(schools, total, query.PageNumber);
    }

    /// <summary>The orders the table of districts may be sorted by (the key in the address → the SQL); anything else: the default.</summary>
    public static readonly IReadOnlyDictionary<string, string> DistrictSorts = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["code"] = "district_code",
        ["name"] = "district_name",
        ["schools"] = "schools",
        ["issued"] = "issued",
        ["returned"] = "returned",
        ["certified"] = "certified",
        ["approved"] = "approved",
        ["errors"] = "errors",
        ["late"] = "late",
    };

    /// <summary>
    /// A page of the districts of the newest open round (their schools in the reader's scope), each with how many of its
    /// schools were issued a worksheet, returned one, certified, were approved, are late, and its open errors; searched by
    /// code or name and sorted (<see cref="DistrictSorts"/>; by default the most late schools first, then by code), in the query.
    /// </summary>
    public async Task<TablePage<DistrictSummary>> DistrictsAsync(Account reader, TableQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(query);
        var order = query.Sort is { } sort && DistrictSorts.TryGetValue(sort, out var column)
            ? $"{column} {(query.Descending ? "DESC" : "ASC")} NULLS LAST, district_code"
            : "late DESC, district_code";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH {TableRound}
            {string.Format(CultureInfo.InvariantCulture, SchoolFacts, "")},
            names AS (
                SELECT s.district_code, min(btrim(s.district_name_raw)) AS district_name
                FROM   registry.school s JOIN round USING (round_id) WHERE s.district_code IS NOT NULL GROUP BY s.district_code),
            districts AS (
                SELECT f.district_code, coalesce(n.district_name, '') AS district_name, count(*)::int AS schools,
                       count(f.issue_no)::int AS issued, count(*) FILTER (WHERE f.returns > 0)::int AS returned,
                       count(f.certified_at)::int AS certified, count(f.approved_at)::int AS approved, sum(f.errors)::int AS errors,
                       count(*) FILTER (WHERE f.late)::int AS late
                FROM   facts f LEFT JOIN names n ON n.district_code = f.district_code
                WHERE  f.district_code IS NOT NULL
                GROUP  BY f.district_code, n.district_name)
            SELECT district_code, district_name, schools, issued, returned, certified, approved, errors, late, count(*) OVER ()
            FROM   districts
            WHERE  (@like::text IS NULL OR district_code ILIKE @like OR district_name ILIKE @like)
            ORDER  BY {order}
            LIMIT  @size OFFSET @offset
            """, connection);
        Bind(command, reader);
        BindQuery(command, query, []);
        var districts = new List<DistrictSummary>();
        var total = 0;
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            districts.Add(new DistrictSummary(row.GetString(0), row.GetString(1), row.GetInt32(2), row.GetInt32(3), row.GetInt32(4), row.GetInt32(5),
                row.GetInt32(6), row.GetInt32(7), row.GetInt32(8)));
            total = (int)row.GetInt64(9);
        }

        return new TablePage<DistrictSummary>(districts, total, query.PageNumber);
    }

    /// <summary>
    /// A page of the schools ever issued a worksheet, in the reader's scope, searched by code or name (their name and
    /// district in the newest school master), by code.
    /// </summary>
    public async Task<TablePage<SchoolFound>> FindSchoolsAsync(Account reader, TableQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH issued AS (
                SELECT DISTINCT w.school_code FROM exchange.worksheet w WHERE {InScope("w")}),
            names AS (
                SELECT DISTINCT ON (s.school_code) s.school_code, btrim(s.school_name_raw) AS school_name
                FROM   registry.school s JOIN registry.round r USING (round_id)
                WHERE  s.school_code IS NOT NULL
                ORDER  BY s.school_code, r.round_date DESC, r.round_id DESC, s.row_no)
            SELECT i.school_code, coalesce(n.school_name, ''), d.district_code, count(*) OVER ()
            FROM   issued i LEFT JOIN names n USING (school_code) LEFT JOIN access.school_district d USING (school_code)
            WHERE  (@like::text IS NULL OR i.school_code ILIKE @like OR n.school_name ILIKE @like)
            ORDER  BY i.school_code
            LIMIT  @size OFFSET @offset
            """, connection);
        Bind(command, reader);
        BindQuery(command, query, []);
        var schools = new List<SchoolFound>();
        var total = 0;
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            schools.Add(new SchoolFound(row.GetString(0), row.GetString(1), row.IsDBNull(2) ? null : row.GetString(2)));
            total = (int)row.GetInt64(3);
        }

        return new TablePage<SchoolFound>(schools, total, query.PageNumber);
    }

    private static void BindQuery(NpgsqlCommand command, TableQuery query, IReadOnlyList<string> filters)
    {
        command.Parameters.Add(new NpgsqlParameter("like", NpgsqlDbType.Text) { Value = (object?)query.Like ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("filter", NpgsqlDbType.Text)
        {
            Value = query.Filter is { } filter && filters.Contains(filter, StringComparer.Ordinal) ? filter : DBNull.Value,
        });
        command.Parameters.AddWithValue("size", TableQuery.PageSize);
        command.Parameters.AddWithValue("offset", (query.PageNumber - 1) * TableQuery.PageSize);
    }

    private static DateTimeOffset? Time(NpgsqlDataReader row, int ordinal) => row.IsDBNull(ordinal) ? null : row.GetFieldValue<DateTimeOffset>(ordinal);

    private static void Bind(NpgsqlCommand command, Account reader)
    {
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)reader.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)reader.DistrictCode ?? DBNull.Value });
    }
}
