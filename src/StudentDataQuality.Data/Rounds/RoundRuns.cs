using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Rounds;

/// <summary>The stages of a round run by the jobs, in the only order they move.</summary>
public enum RoundStage
{
    Extracting,
    Checking,
    Issuing,
    Issued,
    Closed,
}

/// <summary>What starting a round needs: its code and date, where its registry data is, where its worksheets go.</summary>
public sealed record RoundStart(string RoundCode, DateOnly RoundDate, IReadOnlyList<string> Sources, string OutputDirectory)
{
    public string? PreviousRoundCode { get; init; }
    /// <summary>Schools return their worksheets this many days after the round starts.</summary>
    public int DeadlineDays { get; init; } = 21;
    /// <summary>The round closes this many days after the deadline (or earlier, by hand).</summary>
    public int CloseAfterDays { get; init; } = 7;
    public string Language { get; init; } = "zh";
    public string Contact { get; init; } = "";
    public string? ScheduleName { get; init; }
}

/// <summary>A round run by the jobs, as it stands.</summary>
public sealed record RoundRun(int RoundId, string RoundCode, RoundStage Stage, IReadOnlyList<string> Sources, string OutputDirectory, string Language,
    DateOnly Deadline, DateOnly ClosesOn, string Contact, string? ScheduleName, int? SchoolsTotal, int SchoolsDone, int FilesStaged, string? Problem,
    DateTimeOffset StartedAt, DateTimeOffset? IssuedAt, DateTimeOffset? ClosedAt);

/// <summary>A school past its worksheet deadline with no return of its newest worksheet.</summary>
public sealed record LateSchool(string RoundCode, string SchoolCode, string SchoolName, string? DistrictCode, int IssueNumber, DateOnly Deadline,
    int DaysLate, int OpenErrors, int OpenWarnings);

/// <summary>One page of the late schools, and how many there are in all.</summary>
public sealed record LateSchoolPage(IReadOnlyList<LateSchool> Schools, int Total);

/// <summary>A school of a round as the round's page shows it: its newest worksheet, its returns, its sign-off.</summary>
public sealed record RoundSchool(string SchoolCode, string SchoolName, string? DistrictCode, int IssueNumber, DateOnly? Deadline, int Returns,
    DateTimeOffset? LastReturnAt, DateTimeOffset? CertifiedAt, DateTimeOffset? ApprovedAt);

/// <summary>One page of a round's schools, and how many schools the round issued worksheets to.</summary>
public sealed record RoundSchoolPage(IReadOnlyList<RoundSchool> Schools, int Total);

/// <summary>At the end of one day (Beijing time): how many schools had returned a worksheet, certified, been approved.</summary>
public sealed record ProgressDay(DateOnly Day, int Returned, int Certified, int Approved);

/// <summary>
/// A round's returns over the days since its first worksheet was issued (none issued: no days), against the schools it
/// was issued to.
/// </summary>
public sealed record RoundProgress(int Schools, IReadOnlyList<ProgressDay> Days);

/// <summary>A round that was started before: its run goes on by itself.</summary>
public sealed class RoundAlreadyStartedException(string roundCode, RoundStage stage) : UserErrorException(
    new UserMessage("RoundRun.AlreadyStarted", roundCode, new UserMessage("RoundRun.Stage." + RoundRuns.StageText(stage))))
{
    public string RoundCode { get; } = roundCode;
}

/// <summary>A recurring round: when it runs (cron, in its time zone), where its data comes from, where worksheets go.</summary>
public sealed record RoundSchedule(string Name, string Cron, string TimeZone, IReadOnlyList<string> Sources, string OutputDirectory, int DeadlineDays,
    int CloseAfterDays, string Language, string Contact);

/// <summary>
/// The state of rounds run by the jobs: the stage each is in, the join of the worksheet fan-out, schedules, snapshots
/// and the late schools. Every change is a conditional update, so that a job run twice changes things once.
/// </summary>
public sealed class RoundRuns(NpgsqlDataSource dataSource)
{
    public static string StageText(RoundStage stage) => stage.ToString().ToLowerInvariant();

    private static RoundStage ParseStage(string text) => Enum.Parse<RoundStage>(text, ignoreCase: true);

    /// <summary>
    /// Creates the round (when new) and its run, in stage extracting. A round that runs already, or is closed, is
    /// refused: its run goes on by itself (`sdq round status` follows it).
    /// </summary>
    public async Task<RoundRun> StartAsync(RoundStart start, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (start.Sources.Count == 0)
        {
            throw new UserErrorException(new UserMessage("RoundRun.NoSource", start.RoundCode));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var round = await RoundStore.EnsureAsync(connection, start.RoundCode, start.RoundDate, start.PreviousRoundCode, actor, cancellationToken);
        if (round.Status == "closed")
        {
            throw new UserErrorException(new UserMessage("RoundRun.Closed", round.Code));
        }

        var deadline = DateOnly.FromDateTime(DateTime.Today).AddDays(start.DeadlineDays);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO registry.round_run (round_id, stage, sources, output_directory, language, deadline, closes_on, contact, schedule_name, started_by)
            VALUES (@round, 'extracting', @sources, @output, @language, @deadline, @closes, @contact, @schedule, @actor)
            ON CONFLICT (round_id) DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("round", round.RoundId);
            insert.Parameters.AddWithValue("sources", start.Sources.ToArray());
            insert.Parameters.AddWithValue("output", start.OutputDirectory);
            insert.Parameters.AddWithValue("language", start.Language);
            insert.Parameters.AddWithValue("deadline", deadline);
            insert.Parameters.AddWithValue("closes", deadline.AddDays(start.CloseAfterDays));
            insert.Parameters.AddWithValue("contact", start.Contact);
            insert.Parameters.Add(new NpgsqlParameter("schedule", NpgsqlDbType.Text) { Value = (object?)start.ScheduleName ?? DBNull.Value });
            insert.Parameters.AddWithValue("actor", actor);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                var existing = await GetAsync(connection, round.Code, cancellationToken);
                throw new RoundAlreadyStartedException(round.Code, existing!.Stage);
            }
        }

        await AuditLog.WriteAsync(connection, actor, "round.start", round.RoundId, null, round.Code,
            new { sources = start.Sources.Count, deadline, schedule = start.ScheduleName }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (await GetAsync(connection, round.Code, cancellationToken))!;
    }

    public Task<Round?> RoundAsync(string roundCode, CancellationToken cancellationToken = default) =>
        RoundStore.FindAsync(dataSource, roundCode, cancellationToken);

    public async Task<RoundRun?> GetAsync(string roundCode, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await GetAsync(connection, roundCode, cancellationToken);
    }

    /// <summary>Rounds run by the jobs, the newest first (at most <paramref name="limit"/>).</summary>
    public async Task<IReadOnlyList<RoundRun>> ListAsync(int limit = 20, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(Select + " ORDER BY rr.started_at DESC LIMIT @limit", connection);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadRunsAsync(command, cancellationToken);
    }

    private const string Select = """
        SELECT r.round_id, r.code, rr.stage, rr.sources, rr.output_directory, rr.language, rr.deadline, rr.closes_on, rr.contact, rr.schedule_name,
               rr.schools_total,
               (SELECT count(*)::int FROM registry.round_school_task t WHERE t.round_id = r.round_id AND t.done_at IS NOT NULL),
               (SELECT count(*)::int FROM staging.source_file f WHERE f.round_id = r.round_id),
               rr.problem, rr.started_at, rr.issued_at, rr.closed_at
        FROM   registry.round_run rr JOIN registry.round r USING (round_id)
        """;

    private static async Task<RoundRun?> GetAsync(NpgsqlConnection connection, string roundCode, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Select + " WHERE r.code = @code", connection);
        command.Parameters.AddWithValue("code", roundCode);
        return (await ReadRunsAsync(command, cancellationToken)).SingleOrDefault();
    }

    private static async Task<IReadOnlyList<RoundRun>> ReadRunsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var runs = new List<RoundRun>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            runs.Add(new RoundRun(reader.GetInt32(0), reader.GetString(1), ParseStage(reader.GetString(2)), reader.GetFieldValue<string[]>(3),
                reader.GetString(4), reader.GetString(5), reader.GetFieldValue<DateOnly>(6), reader.GetFieldValue<DateOnly>(7), reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetInt32(10), reader.GetInt32(11),
                reader.GetInt32(12), reader.IsDBNull(13) ? null : reader.GetString(13), reader.GetFieldValue<DateTimeOffset>(14),
                reader.IsDBNull(15) ? null : reader.GetFieldValue<DateTimeOffset>(15), reader.IsDBNull(16) ? null : reader.GetFieldValue<DateTimeOffset>(16)));
        }

        return runs;
    }

    /// <summary>Moves the round from one stage to the next; false when it is not in <paramref name="from"/> (moved already).</summary>
    public async Task<bool> AdvanceAsync(int roundId, RoundStage from, RoundStage to, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE registry.round_run
            SET    stage = @to, stage_changed_at = now(), problem = NULL,
                   issued_at = CASE WHEN @to = 'issued' THEN now() ELSE issued_at END
            WHERE  round_id = @round AND stage = @from
            """);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("from", StageText(from));
        command.Parameters.AddWithValue("to", StageText(to));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Notes why a stage's job failed (it is retried; the note goes when the stage moves on).</summary>
    public async Task RecordProblemAsync(int roundId, string problem, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE registry.round_run SET problem = @problem WHERE round_id = @round");
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("problem", problem.Length > 2000 ? problem[..2000] : problem);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The worksheet fan-out: a task per school with open record findings (made once; a second call adds nothing), and
    /// the schools whose task is not done yet, in school-code order.
    /// </summary>
    public async Task<IReadOnlyList<string>> PlanWorksheetsAsync(int roundId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var plan = new NpgsqlCommand("""
            INSERT INTO registry.round_school_task (round_id, school_code)
            SELECT DISTINCT @round, school_code FROM quality.finding
            WHERE  round_id = @round AND status = 'open' AND record_id IS NOT NULL AND school_code IS NOT NULL
              AND  NOT EXISTS (SELECT 1 FROM registry.round_school_task t WHERE t.round_id = @round)
            ON CONFLICT DO NOTHING;
            UPDATE registry.round_run SET schools_total = (SELECT count(*) FROM registry.round_school_task WHERE round_id = @round)
            WHERE  round_id = @round;
            """, connection, transaction))
        {
            plan.Parameters.AddWithValue("round", roundId);
            await plan.ExecuteNonQueryAsync(cancellationToken);
        }

        var pending = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT school_code FROM registry.round_school_task WHERE round_id = @round AND done_at IS NULL ORDER BY school_code", connection, transaction))
        {
            list.Parameters.AddWithValue("round", roundId);
            await using var reader = await list.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                pending.Add(reader.GetString(0));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return pending;
    }

    /// <summary>Whether the school's worksheet task of the round is done.</summary>
    public async Task<bool> IsSchoolDoneAsync(int roundId, string schoolCode, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM registry.round_school_task WHERE round_id = @round AND school_code = @school AND done_at IS NOT NULL)");
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("school", schoolCode);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Marks a school's worksheet task done (the first time only: a second run keeps the first's result and worker),
    /// then joins: when no task is left, the round moves from issuing to issued. True for the one call that moved it.
    /// Each call joins after its own commit, so the last school done always sees every other school done.
    /// </summary>
    public async Task<bool> CompleteSchoolAsync(int roundId, string schoolCode, string result, string worker, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var done = new NpgsqlCommand("""
            UPDATE registry.round_school_task SET done_at = now(), result = @result, worker = @worker
            WHERE  round_id = @round AND school_code = @school AND done_at IS NULL
            """, connection))
        {
            done.Parameters.AddWithValue("round", roundId);
            done.Parameters.AddWithValue("school", schoolCode);
            done.Parameters.AddWithValue("result", result);
            done.Parameters.AddWithValue("worker", worker);
            await done.ExecuteNonQueryAsync(cancellationToken);
        }

        return await JoinAsync(connection, roundId, cancellationToken);
    }

    /// <summary>Moves the round to issued when its fan-out has no school left (also for a round with no school to issue).</summary>
    public async Task<bool> JoinAsync(int roundId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await JoinAsync(connection, roundId, cancellationToken);
    }

    private static async Task<bool> JoinAsync(NpgsqlConnection connection, int roundId, CancellationToken cancellationToken)
    {
        await using var join = new NpgsqlCommand("""
            UPDATE registry.round_run SET stage = 'issued', stage_changed_at = now(), issued_at = now(), problem = NULL
            WHERE  round_id = @round AND stage = 'issuing'
              AND  NOT EXISTS (SELECT 1 FROM registry.round_school_task WHERE round_id = @round AND done_at IS NULL)
            """, connection);
        join.Parameters.AddWithValue("round", roundId);
        return await join.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Closes the round (no more returns are taken) and its run; audited once. False when it was closed already.</summary>
    public async Task<bool> CloseAsync(int roundId, string actor, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var close = new NpgsqlCommand("""
            UPDATE registry.round SET status = 'closed' WHERE round_id = @round AND status <> 'closed';
            UPDATE registry.round_run SET stage = 'closed', stage_changed_at = now(), closed_at = now(), problem = NULL
            WHERE  round_id = @round AND stage <> 'closed';
            """, connection, transaction);
        close.Parameters.AddWithValue("round", roundId);
        var changed = await close.ExecuteNonQueryAsync(cancellationToken) > 0;
        if (changed)
        {
            await AuditLog.WriteAsync(connection, actor, "round.close", roundId, null, null, null, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    /// <summary>
    /// Takes a quality snapshot of the round (sql/reports/take_snapshot.sql): a live one replaces the same day's, a close
    /// one is taken once (a second call replaces it with the same figures). Returns its id.
    /// </summary>
    public async Task<long> TakeSnapshotAsync(int roundId, bool atClose, string actor, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var kind = atClose ? "close" : "live";
        var today = DateOnly.FromDateTime(DateTime.Today);
        await using (var replace = new NpgsqlCommand("""
            DELETE FROM reporting.quality_snapshot
            WHERE  round_id = @round AND kind = @kind AND (kind = 'close' OR taken_on = @today)
            """, connection, transaction))
        {
            replace.Parameters.AddWithValue("round", roundId);
            replace.Parameters.AddWithValue("kind", kind);
            replace.Parameters.AddWithValue("today", today);
            await replace.ExecuteNonQueryAsync(cancellationToken);
        }

        long snapshotId;
        await using (var header = new NpgsqlCommand("""
            INSERT INTO reporting.quality_snapshot (round_id, kind, taken_on, taken_by) VALUES (@round, @kind, @today, @actor) RETURNING snapshot_id
            """, connection, transaction))
        {
            header.Parameters.AddWithValue("round", roundId);
            header.Parameters.AddWithValue("kind", kind);
            header.Parameters.AddWithValue("today", today);
            header.Parameters.AddWithValue("actor", actor);
            snapshotId = (long)(await header.ExecuteScalarAsync(cancellationToken))!;
        }

        await using (var take = new NpgsqlCommand(SqlScripts.Load("reports/take_snapshot.sql"), connection, transaction) { CommandTimeout = 0 })
        {
            take.Parameters.AddWithValue("round", roundId);
            take.Parameters.AddWithValue("snapshot", snapshotId);
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return snapshotId;
    }

    /// <summary>
    /// Schools of open rounds whose newest worksheet's deadline is before <paramref name="today"/> and that have not
    /// returned it, the latest first; with each, what is still open.
    /// </summary>
    public async Task<IReadOnlyList<LateSchool>> LateSchoolsAsync(DateOnly today, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(LateSql);
        command.Parameters.AddWithValue("today", today);
        return (await ReadLateAsync(command, cancellationToken)).Schools;
    }

    /// <summary>One page of <see cref="LateSchoolsAsync"/> (the chase list), paged in the database.</summary>
    public async Task<LateSchoolPage> LateSchoolsPageAsync(DateOnly today, int offset, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var command = dataSource.CreateCommand(LateSql + " LIMIT @limit OFFSET @offset");
        command.Parameters.AddWithValue("today", today);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("offset", offset);
        var page = await ReadLateAsync(command, cancellationToken);
        if (page.Schools.Count == 0 && offset > 0)
        {
            // Past the end: the count comes with the rows, so ask for it alone.
            await using var count = dataSource.CreateCommand($"SELECT count(*)::int FROM ({LateSql}) l");
            count.Parameters.AddWithValue("today", today);
            return page with { Total = (int)(await count.ExecuteScalarAsync(cancellationToken))! };
        }

        return page;
    }

    private static async Task<LateSchoolPage> ReadLateAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var late = new List<LateSchool>();
        var total = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            late.Add(new LateSchool(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetInt32(4), reader.GetFieldValue<DateOnly>(5), reader.GetInt32(6), reader.GetInt32(7), reader.GetInt32(8)));
            total = (int)reader.GetInt64(9);
        }

        return new LateSchoolPage(late, total);
    }

    private const string LateSql = """
            WITH newest AS (
                SELECT DISTINCT ON (w.round_id, w.school_code) w.round_id, w.school_code, w.worksheet_id, w.issue_no, w.deadline
                FROM   exchange.worksheet w JOIN registry.round r USING (round_id)
                WHERE  r.status = 'open'
                ORDER  BY w.round_id, w.school_code, w.issue_no DESC
            )
            SELECT r.code, n.school_code, coalesce(s.school_name_raw, ''), s.district_code, n.issue_no, n.deadline, (@today - n.deadline),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = n.round_id AND f.school_code = n.school_code AND f.status = 'open' AND f.severity = 'error'),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = n.round_id AND f.school_code = n.school_code AND f.status = 'open' AND f.severity = 'warning'),
                   count(*) OVER ()
            FROM   newest n
            JOIN   registry.round r USING (round_id)
            LEFT   JOIN LATERAL (SELECT school_name_raw, district_code FROM registry.school s
                                 WHERE s.round_id = n.round_id AND s.school_code = n.school_code ORDER BY row_no LIMIT 1) s ON true
            WHERE  n.deadline < @today
              AND  NOT EXISTS (SELECT 1 FROM exchange.worksheet_return x WHERE x.worksheet_id = n.worksheet_id)
            ORDER  BY n.deadline, r.code, n.school_code
        """;

    /// <summary>
    /// One page of the schools a round issued worksheets to (by school code), each with its newest worksheet, its returns
    /// and its sign-off; paged in the database.
    /// </summary>
    public async Task<RoundSchoolPage> SchoolsOfRoundAsync(int roundId, int offset, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var count = new NpgsqlCommand("SELECT count(DISTINCT school_code)::int FROM exchange.worksheet WHERE round_id = @round", connection);
        count.Parameters.AddWithValue("round", roundId);
        var total = (int)(await count.ExecuteScalarAsync(cancellationToken))!;
        await using var command = new NpgsqlCommand("""
            WITH newest AS (
                SELECT DISTINCT ON (school_code) school_code, issue_no, deadline
                FROM   exchange.worksheet WHERE round_id = @round
                ORDER  BY school_code, issue_no DESC
                LIMIT  @limit OFFSET @offset
            )
            SELECT n.school_code, coalesce(s.school_name_raw, ''), s.district_code, n.issue_no, n.deadline, x.returns, x.last_at,
                   o.certified_at, o.approved_at
            FROM   newest n
            LEFT   JOIN LATERAL (SELECT school_name_raw, district_code FROM registry.school s
                                 WHERE s.round_id = @round AND s.school_code = n.school_code ORDER BY row_no LIMIT 1) s ON true
            CROSS  JOIN LATERAL (SELECT count(*)::int AS returns, max(received_at) AS last_at FROM exchange.worksheet_return x
                                 WHERE x.round_id = @round AND x.school_code = n.school_code) x
            LEFT   JOIN exchange.sign_off o ON o.round_id = @round AND o.school_code = n.school_code
            ORDER  BY n.school_code
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("offset", offset);
        var schools = new List<RoundSchool>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            schools.Add(new RoundSchool(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateOnly>(4), reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8)));
        }

        return new RoundSchoolPage(schools, total);
    }

    /// <summary>The most days <see cref="ProgressAsync"/> gives (a round's returns take weeks, not years).</summary>
    public const int MaxProgressDays = 366;

    /// <summary>
    /// A round's returns day by day (Beijing time), from the day its first worksheet was issued to <paramref name="today"/>
    /// (at most <see cref="MaxProgressDays"/> days): per day, how many schools had returned a worksheet, certified, been
    /// approved by then; counted in the database.
    /// </summary>
    public async Task<RoundProgress> ProgressAsync(int roundId, DateOnly today, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var count = new NpgsqlCommand("SELECT count(DISTINCT school_code)::int FROM exchange.worksheet WHERE round_id = @round", connection);
        count.Parameters.AddWithValue("round", roundId);
        var schools = (int)(await count.ExecuteScalarAsync(cancellationToken))!;
        await using var command = new NpgsqlCommand("""
            WITH first AS (
                SELECT (min(issued_at) AT TIME ZONE 'Asia/Shanghai')::date AS day FROM exchange.worksheet WHERE round_id = @round
            ),
            days AS (
                SELECT generate_series(f.day, least(greatest(f.day, @today), f.day + @max - 1), interval '1 day')::date AS day
                FROM   first f WHERE f.day IS NOT NULL
            ),
            events AS (
                SELECT (min(received_at) AT TIME ZONE 'Asia/Shanghai')::date AS day, 1 AS returned, 0 AS certified, 0 AS approved
                FROM   exchange.worksheet_return WHERE round_id = @round GROUP BY school_code
                UNION  ALL
                SELECT (certified_at AT TIME ZONE 'Asia/Shanghai')::date, 0, 1, 0 FROM exchange.sign_off WHERE round_id = @round
                UNION  ALL
                SELECT (approved_at AT TIME ZONE 'Asia/Shanghai')::date, 0, 0, 1 FROM exchange.sign_off WHERE round_id = @round AND approved_at IS NOT NULL
            ),
            per_day AS (
                -- What happened before the first issue (none should) counts from the first day.
                SELECT greatest(e.day, (SELECT day FROM first)) AS day, sum(returned) AS returned, sum(certified) AS certified, sum(approved) AS approved
                FROM   events e GROUP BY 1
            )
            SELECT d.day,
                   (sum(coalesce(p.returned, 0)) OVER w)::int, (sum(coalesce(p.certified, 0)) OVER w)::int, (sum(coalesce(p.approved, 0)) OVER w)::int
            FROM   days d LEFT JOIN per_day p ON p.day = d.day
            WINDOW w AS (ORDER BY d.day)
            ORDER  BY d.day
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("today", today);
        command.Parameters.AddWithValue("max", MaxProgressDays);
        var days = new List<ProgressDay>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            days.Add(new ProgressDay(reader.GetFieldValue<DateOnly>(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3)));
        }

        return new RoundProgress(schools, days);
    }

    /// <summary>Records that reminders went out for a day (once per day: a second run that day adds nothing); true the first time.</summary>
    public async Task<bool> AuditRemindersAsync(DateOnly day, int schools, string report, string actor, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO audit.event (actor, action, object, details)
            SELECT @actor, 'round.reminders', @day, jsonb_build_object('late_schools', @schools, 'report', @report)
            WHERE  NOT EXISTS (SELECT 1 FROM audit.event WHERE action = 'round.reminders' AND object = @day)
            """);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("day", day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("schools", schools);
        command.Parameters.AddWithValue("report", report);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task SaveScheduleAsync(RoundSchedule schedule, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var save = new NpgsqlCommand("""
            INSERT INTO registry.round_schedule (name, cron, time_zone, sources, output_directory, deadline_days, close_after_days, language, contact, created_by)
            VALUES (@name, @cron, @zone, @sources, @output, @deadline, @close, @language, @contact, @actor)
            ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, time_zone = excluded.time_zone, sources = excluded.sources,
                output_directory = excluded.output_directory, deadline_days = excluded.deadline_days, close_after_days = excluded.close_after_days,
                language = excluded.language, contact = excluded.contact
            """, connection, transaction))
        {
            save.Parameters.AddWithValue("name", schedule.Name);
            save.Parameters.AddWithValue("cron", schedule.Cron);
            save.Parameters.AddWithValue("zone", schedule.TimeZone);
            save.Parameters.AddWithValue("sources", schedule.Sources.ToArray());
            save.Parameters.AddWithValue("output", schedule.OutputDirectory);
            save.Parameters.AddWithValue("deadline", schedule.DeadlineDays);
            save.Parameters.AddWithValue("close", schedule.CloseAfterDays);
            save.Parameters.AddWithValue("language", schedule.Language);
            save.Parameters.AddWithValue("contact", schedule.Contact);
            save.Parameters.AddWithValue("actor", actor);
            await save.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.WriteAsync(connection, actor, "round.schedule.save", null, null, schedule.Name,
            new { cron = schedule.Cron, time_zone = schedule.TimeZone }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> RemoveScheduleAsync(string name, string actor, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var remove = new NpgsqlCommand("DELETE FROM registry.round_schedule WHERE name = @name", connection, transaction);
        remove.Parameters.AddWithValue("name", name);
        var removed = await remove.ExecuteNonQueryAsync(cancellationToken) == 1;
        if (removed)
        {
            await AuditLog.WriteAsync(connection, actor, "round.schedule.remove", null, null, name, null, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return removed;
    }

    public async Task<IReadOnlyList<RoundSchedule>> SchedulesAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT name, cron, time_zone, sources, output_directory, deadline_days, close_after_days, language, contact
            FROM   registry.round_schedule ORDER BY name
            """);
        var schedules = new List<RoundSchedule>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            schedules.Add(new RoundSchedule(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<string[]>(3),
                reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetString(7), reader.GetString(8)));
        }

        return schedules;
    }

    /// <summary>The code of the newest round a schedule started, or null (the schedule's first round has no previous one).</summary>
    public async Task<string?> LatestRoundOfScheduleAsync(string scheduleName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT r.code FROM registry.round_run rr JOIN registry.round r USING (round_id)
            WHERE  rr.schedule_name = @name ORDER BY r.round_date DESC, rr.started_at DESC LIMIT 1
            """);
        command.Parameters.AddWithValue("name", scheduleName);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
