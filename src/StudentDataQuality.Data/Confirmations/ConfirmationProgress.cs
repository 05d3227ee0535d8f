using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Reporting;

namespace StudentDataQuality.Data.Confirmations;

/// <summary>
/// Where a group of students stands in a round's confirmation campaign (docs/confirmations.md, "Progress, printing and
/// approvals in the portal"). Counted per student (the round's current records), each by its sheets and answers in the round.
/// </summary>
/// <param name="Students">Students registered (the round's current records of the group).</param>
/// <param name="Printed">Students with at least one sheet printed.</param>
/// <param name="Returned">Students with at least one sheet answered (an older sheet's answer counts: a parent may return it).</param>
/// <param name="Unchanged">Returned students whose newest answer confirmed the record unchanged.</param>
/// <param name="Corrected">Returned students whose newest answer corrected a value (<c>Unchanged + Corrected = Returned</c>).</param>
/// <param name="Waiting">Changes waiting for the registrar (changes, not students).</param>
public sealed record ConfirmationFigures(int Students, int Printed, int Returned, int Unchanged, int Corrected, int Waiting)
{
    /// <summary>Printed and not returned yet.</summary>
    public int Outstanding => Printed - Returned;

    /// <summary>Returned / printed; null when nothing was printed.</summary>
    public double? ReturnedShare => Printed == 0 ? null : (double)Returned / Printed;

    /// <summary>The share of students whose parents confirmed (answered a sheet, unchanged or corrected): returned / students.</summary>
    public double? ConfirmedShare => Students == 0 ? null : (double)Returned / Students;
}

/// <summary>A class of a school (null: the students the registry gives no grade or class).</summary>
public sealed record ConfirmationClass(ClassKey? Class, ConfirmationFigures Figures);

/// <summary>A school of a district, by the round's school master.</summary>
public sealed record ConfirmationSchool(string SchoolCode, string SchoolName, ConfirmationFigures Figures);

/// <summary>A district (null code: the schools the newest school master puts in no district).</summary>
public sealed record ConfirmationDistrict(string? DistrictCode, string? DistrictName, ConfirmationFigures Figures);

/// <summary>The round the figures are of: the round asked for, or the newest round with a campaign.</summary>
public sealed record ConfirmationRound(int RoundId, string RoundCode, bool HasCampaign);

/// <summary>
/// The confirmation progress of a school's classes, a district's schools and the province's districts, and the trends'
/// figure per district: each one set-based query over the round's current records, <c>confirm.sheet</c>, <c>confirm.answer</c>
/// and <c>confirm.change</c> (grouped once per table, never a query per student or school). Aggregates only (counts, codes,
/// names of schools and districts): not audited as a read of a student's data; an export of the trends is
/// (<c>report.export</c>). Scope: a school's and a district's rows by <c>access.may_act_for</c> (a school out of scope:
/// <see cref="OutOfScopeException"/>; a table lists only what is in scope), the trends by <c>access.trend_scope</c>.
/// </summary>
public sealed class ConfirmationProgress(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Per student of <c>students</c> (a CTE the caller defines: record_id, school_code, grade, class_name): printed, its newest
    /// answer's outcome, its pending changes. The sheets, answers and changes are each read once, grouped by record.
    /// </summary>
    private const string PerStudent = """
        printed AS (
            SELECT DISTINCT s.record_id FROM confirm.sheet s JOIN students st ON st.record_id = s.record_id WHERE s.round_id = @round),
        answered AS (
            SELECT DISTINCT ON (a.record_id) a.record_id, a.outcome
            FROM   confirm.answer a JOIN students st ON st.record_id = a.record_id
            WHERE  a.round_id = @round
            ORDER  BY a.record_id, a.signed_on DESC, a.entered_at DESC, a.answer_id DESC),
        waiting AS (
            SELECT c.record_id, count(*)::int AS n
            FROM   confirm.change c JOIN students st ON st.record_id = c.record_id
            WHERE  c.round_id = @round AND c.status = 'pending'
            GROUP  BY c.record_id),
        per_student AS (
            SELECT st.*, p.record_id IS NOT NULL AS printed, a.outcome, coalesce(w.n, 0) AS waiting
            FROM   students st
            LEFT   JOIN printed p ON p.record_id = st.record_id
            LEFT   JOIN answered a ON a.record_id = st.record_id
            LEFT   JOIN waiting w ON w.record_id = st.record_id)
        """;

    /// <summary>The figures of a group of <c>per_student</c> rows, as six columns.</summary>
    private const string Figures = """
        count(*)::int AS students, count(*) FILTER (WHERE ps.printed)::int AS printed, count(ps.outcome)::int AS returned,
        count(*) FILTER (WHERE ps.outcome = 'unchanged')::int AS unchanged, count(*) FILTER (WHERE ps.outcome = 'corrected')::int AS corrected,
        coalesce(sum(ps.waiting), 0)::int AS waiting
        """;

    /// <summary>The round asked for by code, or (none asked) the newest round with a campaign; null when there is none.</summary>
    public async Task<ConfirmationRound?> RoundAsync(string? roundCode, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT r.round_id, r.code, EXISTS (SELECT 1 FROM confirm.campaign c WHERE c.round_id = r.round_id)
            FROM   registry.round r
            WHERE  CASE WHEN @code::text IS NULL THEN EXISTS (SELECT 1 FROM confirm.campaign c WHERE c.round_id = r.round_id) ELSE r.code = @code END
            ORDER  BY r.round_date DESC, r.round_id DESC
            LIMIT  1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("code", NpgsqlDbType.Text) { Value = (object?)roundCode ?? DBNull.Value });
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        return await row.ReadAsync(cancellationToken) ? new ConfirmationRound(row.GetInt32(0), row.GetString(1), row.GetBoolean(2)) : null;
    }

    /// <summary>
    /// A school's classes in the round, by grade and class name (the students without a class last, when there are any).
    /// </summary>
    /// <exception cref="OutOfScopeException">The school is not the reader's (what: "school").</exception>
    public async Task<IReadOnlyList<ConfirmationClass>> ClassesAsync(Account reader, int roundId, string schoolCode,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrEmpty(schoolCode);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH asked AS (SELECT access.may_act_for(@role, @school, @district, @code) AS in_scope),
            students AS (
                SELECT r.record_id, r.school_code,
                       CASE WHEN r.grade BETWEEN 1 AND 12 AND r.class_name <> '' THEN r.grade END AS grade,
                       CASE WHEN r.grade BETWEEN 1 AND 12 AND r.class_name <> '' THEN r.class_name END AS class_name
                FROM   registry.current_record r JOIN asked a ON a.in_scope
                WHERE  r.round_id = @round AND r.school_code = @code),
            {PerStudent},
            classes AS (
                SELECT ps.grade, ps.class_name, {Figures}
                FROM   per_student ps GROUP BY ps.grade, ps.class_name)
            SELECT a.in_scope, c.grade, c.class_name, c.students, c.printed, c.returned, c.unchanged, c.corrected, c.waiting
            FROM   asked a LEFT JOIN classes c ON true
            ORDER  BY c.grade NULLS LAST, length(c.class_name), c.class_name
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("code", schoolCode);
        var classes = new List<ConfirmationClass>();
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            if (!row.GetBoolean(0))
            {
                throw new OutOfScopeException("school", schoolCode, schoolCode, roundId);
            }

            if (!row.IsDBNull(3))
            {
                var key = row.IsDBNull(1) ? null : new ClassKey(row.GetInt16(1), row.GetString(2));
                classes.Add(new ConfirmationClass(key, Read(row, 3)));
            }
        }

        return classes;
    }

    /// <summary>The orders the table of a district's schools may be sorted by (the key in the address → the SQL); anything else: the default.</summary>
    public static readonly IReadOnlyDictionary<string, string> SchoolSorts = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["code"] = "school_code",
        ["name"] = "school_name",
        ["students"] = "students",
        ["printed"] = "printed",
        ["returned"] = "returned",
        ["outstanding"] = "printed - returned",
        ["waiting"] = "waiting",
        ["share"] = "returned::float8 / nullif(printed, 0)",
    };

    /// <summary>
    /// A page of the schools of a district (those of the round's school master in the reader's scope and in that district by
    /// the newest mapping), searched by code or name, sorted (<see cref="SchoolSorts"/>; by default the most outstanding first,
    /// then by code), in the query.
    /// </summary>
    public async Task<TablePage<ConfirmationSchool>> SchoolsAsync(Account reader, int roundId, string districtCode, TableQuery query,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(query);
        var order = Order(query, SchoolSorts, "school_code", "printed - returned DESC, school_code");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH schools AS (
                SELECT DISTINCT ON (s.school_code) s.school_code, coalesce(btrim(s.school_name_raw), '') AS school_name
                FROM   registry.school s JOIN access.school_district d ON d.school_code = s.school_code
                WHERE  s.round_id = @round AND d.district_code = @code AND access.may_act_for(@role, @school, @district, s.school_code)
                ORDER  BY s.school_code, s.row_no),
            students AS (
                SELECT r.record_id, r.school_code FROM registry.current_record r JOIN schools s ON s.school_code = r.school_code
                WHERE  r.round_id = @round),
            {PerStudent},
            figures AS (
                SELECT ps.school_code, {Figures} FROM per_student ps GROUP BY ps.school_code),
            facts AS (
                SELECT s.school_code, s.school_name, coalesce(f.students, 0) AS students, coalesce(f.printed, 0) AS printed,
                       coalesce(f.returned, 0) AS returned, coalesce(f.unchanged, 0) AS unchanged, coalesce(f.corrected, 0) AS corrected,
                       coalesce(f.waiting, 0) AS waiting
                FROM   schools s LEFT JOIN figures f USING (school_code))
            SELECT school_code, school_name, students, printed, returned, unchanged, corrected, waiting, count(*) OVER ()
            FROM   facts
            WHERE  (@like::text IS NULL OR school_code ILIKE @like OR school_name ILIKE @like)
            ORDER  BY {order}
            LIMIT  @size OFFSET @offset
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("code", districtCode);
        BindPage(command, query);
        var schools = new List<ConfirmationSchool>();
        var total = 0;
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            schools.Add(new ConfirmationSchool(row.GetString(0), row.GetString(1), Read(row, 2)));
            total = (int)row.GetInt64(8);
        }

        return new TablePage<ConfirmationSchool>(schools, total, query.PageNumber);
    }

    /// <summary>The orders the table of districts may be sorted by; anything else: the default.</summary>
    public static readonly IReadOnlyDictionary<string, string> DistrictSorts = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["code"] = "district_code",
        ["name"] = "district_name",
        ["students"] = "students",
        ["printed"] = "printed",
        ["returned"] = "returned",
        ["outstanding"] = "printed - returned",
        ["waiting"] = "waiting",
        ["share"] = "returned::float8 / nullif(printed, 0)",
        ["confirmed"] = "returned::float8 / nullif(students, 0)",
    };

    /// <summary>
    /// A page of the districts (their schools in the reader's scope: the data team all, a district office its own), searched by
    /// code or name and sorted (<see cref="DistrictSorts"/>; by default by code), in the query.
    /// </summary>
    public async Task<TablePage<ConfirmationDistrict>> DistrictsAsync(Account reader, int roundId, TableQuery query,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(query);
        var order = Order(query, DistrictSorts, "district_code", "district_code");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH {DistrictFigures(InScopeSchools, "d.district_code IS NOT NULL")}
            SELECT district_code, district_name, students, printed, returned, unchanged, corrected, waiting, count(*) OVER ()
            FROM   facts
            WHERE  (@like::text IS NULL OR district_code ILIKE @like OR district_name ILIKE @like)
            ORDER  BY {order}
            LIMIT  @size OFFSET @offset
            """, connection);
        Bind(command, reader);
        command.Parameters.AddWithValue("round", roundId);
        BindPage(command, query);
        var districts = new List<ConfirmationDistrict>();
        var total = 0;
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            districts.Add(new ConfirmationDistrict(row.GetString(0), row.GetString(1), Read(row, 2)));
            total = (int)row.GetInt64(8);
        }

        return new TablePage<ConfirmationDistrict>(districts, total, query.PageNumber);
    }

    /// <summary>
    /// The trends' figure: the districts of the request's round (its <see cref="TrendRequest.RoundId"/>, required) in the scope
    /// <c>access.trend_scope</c> gives the reader (managers and the data team the province or a district they name, a district
    /// office its own, anyone else nothing: <see cref="OutOfScopeException"/>), by district code, the schools in no district
    /// last. An export is audited as <c>report.export</c>.
    /// </summary>
    public async Task<IReadOnlyList<ConfirmationDistrict>> TrendAsync(TrendRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RoundId is not { } roundId)
        {
            throw new ArgumentException("The trends' confirmation figures are of one round.", nameof(request));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        string? district;
        await using (var scope = new NpgsqlCommand("SELECT allowed, district_code FROM access.trend_scope(@role, @own, @asked)", connection))
        {
            scope.Parameters.AddWithValue("role", Account.RoleText(request.Reader.Role));
            scope.Parameters.Add(new NpgsqlParameter("own", NpgsqlDbType.Text) { Value = (object?)request.Reader.DistrictCode ?? DBNull.Value });
            scope.Parameters.Add(new NpgsqlParameter("asked", NpgsqlDbType.Text)
            {
                Value = string.IsNullOrWhiteSpace(request.DistrictCode) ? DBNull.Value : request.DistrictCode.Trim(),
            });
            await using var verdict = await scope.ExecuteReaderAsync(cancellationToken);
            if (!await verdict.ReadAsync(cancellationToken) || !verdict.GetBoolean(0))
            {
                throw new OutOfScopeException("trends", "trends/confirmations", roundId: roundId);
            }

            district = verdict.IsDBNull(1) ? null : verdict.GetString(1);
        }

        await using var command = new NpgsqlCommand($"""
            WITH {DistrictFigures("", "(@only::text IS NULL OR d.district_code = @only)")}
            SELECT district_code, district_name, students, printed, returned, unchanged, corrected, waiting
            FROM   facts
            ORDER  BY district_code NULLS LAST
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.Add(new NpgsqlParameter("only", NpgsqlDbType.Text) { Value = (object?)district ?? DBNull.Value });
        var districts = new List<ConfirmationDistrict>();
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await row.ReadAsync(cancellationToken))
            {
                districts.Add(new ConfirmationDistrict(row.IsDBNull(0) ? null : row.GetString(0), row.IsDBNull(1) ? null : row.GetString(1), Read(row, 2)));
            }
        }

        if (request.Export)
        {
            await AuditLog.WriteAsync(connection, request.Reader.Name, "report.export", roundId, null, "trends/confirmations",
                new { table = "confirmations", district, rows = districts.Count, from = request.From }, cancellationToken);
        }

        return districts;
    }

    /// <summary>
    /// The figures per district (CTE <c>facts</c>): the round's students (alias r) at the schools <paramref name="schoolScope"/>
    /// joins (empty: every school), grouped by the school's district by the newest mapping where
    /// <paramref name="districtScope"/> holds (alias d: access.school_district, null for a school in none), with the
    /// district's name in the round's school master.
    /// </summary>
    private static string DistrictFigures(string schoolScope, string districtScope) => $"""
        students AS (
            SELECT r.record_id, r.school_code, d.district_code
            FROM   registry.current_record r
            LEFT   JOIN access.school_district d ON d.school_code = r.school_code
            {schoolScope}
            WHERE  r.round_id = @round AND {districtScope}),
        {PerStudent},
        names AS (
            SELECT s.district_code, min(btrim(s.district_name_raw)) AS district_name
            FROM   registry.school s WHERE s.round_id = @round AND s.district_code IS NOT NULL GROUP BY s.district_code),
        facts AS (
            SELECT ps.district_code, coalesce(n.district_name, '') AS district_name, {Figures}
            FROM   per_student ps LEFT JOIN names n ON n.district_code = ps.district_code
            GROUP  BY ps.district_code, n.district_name)
        """;

    /// <summary>The schools of the newest master the reader may act for, decided once per school (not once per student).</summary>
    private const string InScopeSchools = """
        JOIN (SELECT x.school_code FROM access.school_district x WHERE access.may_act_for(@role, @school, @district, x.school_code)) sc
          ON sc.school_code = r.school_code
        """;

    private static string Order(TableQuery query, IReadOnlyDictionary<string, string> sorts, string tieBreak, string fallback) =>
        query.Sort is { } sort && sorts.TryGetValue(sort, out var column)
            ? string.Create(CultureInfo.InvariantCulture, $"{column} {(query.Descending ? "DESC" : "ASC")} NULLS LAST, {tieBreak}")
            : fallback;

    private static ConfirmationFigures Read(NpgsqlDataReader row, int at) => new(row.GetInt32(at), row.GetInt32(at + 1), row.GetInt32(at + 2),
        row.GetInt32(at + 3), row.GetInt32(at + 4), row.GetInt32(at + 5));

    private static void BindPage(NpgsqlCommand command, TableQuery query)
    {
        command.Parameters.Add(new NpgsqlParameter("like", NpgsqlDbType.Text) { Value = (object?)query.Like ?? DBNull.Value });
        command.Parameters.AddWithValue("size", TableQuery.PageSize);
        command.Parameters.AddWithValue("offset", (query.PageNumber - 1) * TableQuery.PageSize);
    }

    private static void Bind(NpgsqlCommand command, Account reader)
    {
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)reader.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)reader.DistrictCode ?? DBNull.Value });
    }
}
