using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Data.Reporting;

/// <summary>
/// The measures of one group of schools (a round's province or district, a district, a school) in a round's snapshot of
/// record. Rates are NULL where their denominator is zero (no students, nothing found, no school issued).
/// </summary>
/// <param name="Schools">Schools in the snapshot (the round's school master and every school with students).</param>
/// <param name="Students">Students registered (current records).</param>
/// <param name="Found">Problems found in the round (findings, superseded ones left out, whatever became of them).</param>
/// <param name="Resolved">Of those, resolved.</param>
/// <param name="OpenErrors">Open errors.</param>
/// <param name="OpenWarnings">Open warnings.</param>
/// <param name="SchoolsIssued">Schools issued a worksheet.</param>
/// <param name="SchoolsReturned">Of those, schools with at least one return.</param>
/// <param name="MedianDaysToReturn">Median, over the schools that returned, of the days from first issue to first return.</param>
/// <param name="CrossSchoolDuplicates">Records with an open cross-school duplicate (X03).</param>
/// <param name="StudentsWithoutId">Students without an ID number (none given, or ID type Z).</param>
/// <param name="ProblemsPer1000">Found × 1000 / students.</param>
/// <param name="OpenErrorsPer1000">Open errors × 1000 / students.</param>
/// <param name="FixedShare">Resolved / found.</param>
/// <param name="ReturnRate">Schools returned / schools issued.</param>
public sealed record TrendMeasures(int Schools, int Students, int Found, int Resolved, int OpenErrors, int OpenWarnings, int SchoolsIssued,
    int SchoolsReturned, double? MedianDaysToReturn, int CrossSchoolDuplicates, int StudentsWithoutId, double? ProblemsPer1000,
    double? OpenErrorsPer1000, double? FixedShare, double? ReturnRate);

/// <summary>A round of the trend (province or one district), with the snapshot it was read from ("close" or "live").</summary>
public sealed record RoundTrend(int RoundId, string RoundCode, DateOnly RoundDate, string SnapshotKind, DateOnly SnapshotTakenOn, TrendMeasures Measures);

/// <summary>A district in a round. Schools outside the round's school master have no district (a NULL code).</summary>
public sealed record DistrictTrend(int RoundId, string RoundCode, DateOnly RoundDate, string? DistrictCode, string? DistrictName, TrendMeasures Measures);

/// <summary>A school in a round.</summary>
public sealed record SchoolTrend(int RoundId, string RoundCode, DateOnly RoundDate, string? DistrictCode, string SchoolCode, string? SchoolName,
    TrendMeasures Measures);

/// <summary>A rule in a round: its findings by what became of them, and its rates over the students of the same scope.</summary>
public sealed record RuleTrend(int RoundId, string RoundCode, DateOnly RoundDate, string RuleId, string? Severity, string? TitleZh, string? TitleEn,
    int Found, int Open, int OpenErrors, int Resolved, int Confirmed, int Removed, double? ProblemsPer1000, double? OpenErrorsPer1000,
    double? FixedShare);

/// <summary>Whether a mover is a district or a school.</summary>
public enum TrendLevel
{
    /// <summary>A district (county).</summary>
    District,

    /// <summary>A school.</summary>
    School,
}

/// <summary>
/// A district or school among the worst (highest open errors per 1,000 in the newest round with a snapshot) or the most
/// improved (largest drop of problems per 1,000 from the round before); its rank in each list, or NULL where it does not rank.
/// </summary>
public sealed record TrendMover(TrendLevel Level, string Code, string? Name, int NewestRoundId, int? PreviousRoundId, int Students, int OpenErrors,
    double? OpenErrorsPer1000, double? ProblemsPer1000, double? PreviousProblemsPer1000, double? DropPer1000, int WorstRank, int? ImprovedRank);

/// <summary>
/// What is asked for: by whom (the scope comes from the account), from where, which round (NULL: every round) and which
/// district (NULL: the province, or a district account's own), and whether it is an export (audited).
/// </summary>
public sealed record TrendRequest(Account Reader, string From, int? RoundId = null, string? DistrictCode = null, bool Export = false);

/// <summary>How a page of districts is sorted: a fixed list (the query string names one; anything else is refused).</summary>
public enum DistrictSort
{
    /// <summary>By district code.</summary>
    Code,

    /// <summary>By district name.</summary>
    Name,

    /// <summary>By the number of schools.</summary>
    Schools,

    /// <summary>By the number of students.</summary>
    Students,

    /// <summary>By problems per 1,000 students.</summary>
    Problems,

    /// <summary>By open errors per 1,000 students.</summary>
    Open,

    /// <summary>By the share of problems fixed.</summary>
    Fixed,

    /// <summary>By the share of schools that returned.</summary>
    Returned,
}

/// <summary>
/// One page of a round's districts: <paramref name="Search"/> (a code's start or part of a name; NULL: all), sorted by
/// <paramref name="Sort"/>, <paramref name="Size"/> rows from row <paramref name="Offset"/>.
/// </summary>
public sealed record DistrictPageQuery(int RoundId, string? Search, DistrictSort Sort, bool Descending, int Offset, int Size);

/// <summary>A page of rows and how many there are in all.</summary>
public sealed record TrendPage<T>(IReadOnlyList<T> Rows, int Total);

/// <summary>
/// A round's districts ranked by open errors per 1,000 students: the worst N (highest first), the best N (the lowest, the
/// worst left out), and apart the groups that are not districts (schools outside the school master), never ranked.
/// </summary>
/// <param name="Worst">From the worst down.</param>
/// <param name="Best">Going on down to the best (the best last).</param>
/// <param name="Apart">The groups that are not districts.</param>
/// <param name="Ranked">How many districts had a figure and were ranked.</param>
public sealed record DistrictRanking(IReadOnlyList<DistrictTrend> Worst, IReadOnlyList<DistrictTrend> Best, IReadOnlyList<DistrictTrend> Apart,
    int Ranked);

/// <summary>
/// Quality trends for managers, the data team and district offices, read from the quality snapshots (sql/reports/trend_*.sql,
/// each table one set-based query). Each round counts by its snapshot of record: the close snapshot of a closed round, else
/// its newest live one. Scope is decided here, not by the pages: managers and the data team read the province (or a
/// district they name), a district account only its own district, a school account nothing, as one SQL function decides
/// (<c>access.trend_scope</c>, migration 0022); a refusal is an <see cref="OutOfScopeException"/> (the host audits it and
/// answers "not found"), an export is audited as <c>report.export</c>. Aggregates only: codes, names of schools and
/// districts, counts.
/// </summary>
public sealed class QualityTrends(NpgsqlDataSource dataSource)
{
    /// <summary>How many districts and schools each list of worst and most improved holds.</summary>
    public const int MoversPerList = 10;

    /// <summary>The most districts a selection of per-district trends may hold.</summary>
    public const int MaxSeries = 12;

    /// <summary>The most rows of a page of districts.</summary>
    public const int MaxPageSize = 200;

    /// <summary>The rounds of the trend in order (round date, then id), of the province or the district in scope.</summary>
    public Task<IReadOnlyList<RoundTrend>> RoundsAsync(TrendRequest request, CancellationToken cancellationToken = default) =>
        ReadAsync(request, "rounds", "reports/trend_rounds.sql", null, r => new RoundTrend(r.GetInt32(0), r.GetString(1),
            r.GetFieldValue<DateOnly>(2), r.GetString(3), r.GetFieldValue<DateOnly>(4), Measures(r, 5)), cancellationToken);

    /// <summary>The districts of each round (or of the round asked for), in round order then district code.</summary>
    public Task<IReadOnlyList<DistrictTrend>> DistrictsAsync(TrendRequest request, CancellationToken cancellationToken = default) =>
        ReadAsync(request, "districts", "reports/trend_districts.sql", null, r => new DistrictTrend(r.GetInt32(0), r.GetString(1),
            r.GetFieldValue<DateOnly>(2), Text(r, 3), Text(r, 4), Measures(r, 5)), cancellationToken);

    /// <summary>The schools of each round (or of the round asked for), in round order, then district and school code.</summary>
    public Task<IReadOnlyList<SchoolTrend>> SchoolsAsync(TrendRequest request, CancellationToken cancellationToken = default) =>
        ReadAsync(request, "schools", "reports/trend_schools.sql", null, r => new SchoolTrend(r.GetInt32(0), r.GetString(1),
            r.GetFieldValue<DateOnly>(2), Text(r, 3), r.GetString(4), Text(r, 5), Measures(r, 6)), cancellationToken);

    /// <summary>The rules of each round (or of the round asked for), in round order then rule id.</summary>
    public Task<IReadOnlyList<RuleTrend>> RulesAsync(TrendRequest request, CancellationToken cancellationToken = default) =>
        ReadAsync(request, "rules", "reports/trend_rules.sql", null, r => new RuleTrend(r.GetInt32(0), r.GetString(1),
            r.GetFieldValue<DateOnly>(2), r.GetString(3), Text(r, 4), Text(r, 5), Text(r, 6), r.GetInt32(7), r.GetInt32(8), r.GetInt32(9),
            r.GetInt32(10), r.GetInt32(11), r.GetInt32(12), Number(r, 13), Number(r, 14), Number(r, 15)), cancellationToken);

    /// <summary>
    /// The worst and the most improved districts and schools (the newest two rounds with a snapshot; the request's round is not
    /// used), up to <paramref name="top"/> per list and level, districts first, each list's order by its rank.
    /// </summary>
    public Task<IReadOnlyList<TrendMover>> MoversAsync(TrendRequest request, int top = MoversPerList, CancellationToken cancellationToken = default) =>
        ReadAsync(request, "movers", "reports/trend_movers.sql", top, r => new TrendMover(
            r.GetString(0) == "district" ? TrendLevel.District : TrendLevel.School, r.GetString(1), Text(r, 2), r.GetInt32(3),
            r.IsDBNull(4) ? null : r.GetInt32(4), r.GetInt32(5), r.GetInt32(6), Number(r, 7), Number(r, 8), Number(r, 9), Number(r, 10),
            r.GetInt32(11), r.IsDBNull(12) ? null : r.GetInt32(12)), cancellationToken);

    /// <summary>One page of the districts of the request's round (the groups that are not districts left out), searched and sorted in SQL.</summary>
    public async Task<TrendPage<DistrictTrend>> DistrictPageAsync(TrendRequest request, DistrictPageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Size, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Size, MaxPageSize);
        var total = 0;
        var rows = await QueryAsync(request with { RoundId = query.RoundId }, "districts", "reports/trend_district_page.sql", command =>
        {
            command.Parameters.AddWithValue("round", query.RoundId);
            command.Parameters.Add(new NpgsqlParameter("search", NpgsqlDbType.Text) { Value = (object?)query.Search ?? DBNull.Value });
            command.Parameters.AddWithValue("sort", SortText(query.Sort));
            command.Parameters.AddWithValue("descending", query.Descending);
            command.Parameters.AddWithValue("limit", query.Size);
            command.Parameters.AddWithValue("offset", query.Offset);
        }, r =>
        {
            total = r.GetInt32(20);
            return District(r, 0);
        }, cancellationToken);
        if (rows.Count == 0 && query.Offset > 0)
        {
            // Past the last page: how many there are, for the page to offer the first.
            total = (await DistrictPageAsync(request, query with { Offset = 0, Size = 1 }, cancellationToken)).Total;
        }

        return new TrendPage<DistrictTrend>(rows, total);
    }

    /// <summary>The worst and best <paramref name="top"/> districts of the request's round, and the groups apart.</summary>
    public async Task<DistrictRanking> RankAsync(TrendRequest request, int roundId, int top, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var ranked = 0;
        var rows = await QueryAsync(request with { RoundId = roundId }, "ranks", "reports/trend_district_ranks.sql", command =>
        {
            command.Parameters.AddWithValue("round", roundId);
            command.Parameters.AddWithValue("top", top);
        }, r =>
        {
            if (!r.IsDBNull(2))
            {
                ranked = r.GetInt32(2);
            }

            return (List: r.GetString(0), District: District(r, 3));
        }, cancellationToken);
        return new DistrictRanking([.. rows.Where(x => x.List == "worst").Select(x => x.District)],
            [.. rows.Where(x => x.List == "best").Select(x => x.District)], [.. rows.Where(x => x.List == "apart").Select(x => x.District)], ranked);
    }

    /// <summary>Every round of each district of <paramref name="codes"/> (at most <see cref="MaxSeries"/>), district by district in their order.</summary>
    public Task<IReadOnlyList<DistrictTrend>> SeriesAsync(TrendRequest request, IReadOnlyList<string> codes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(codes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(codes.Count, MaxSeries);
        return QueryAsync(request, "series", "reports/trend_district_series.sql",
            command => command.Parameters.Add(new NpgsqlParameter("codes", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = codes.ToArray() }),
            r => District(r, 0), cancellationToken);
    }

    private static string SortText(DistrictSort sort) => sort switch
    {
        DistrictSort.Name => "name",
        DistrictSort.Schools => "schools",
        DistrictSort.Students => "students",
        DistrictSort.Problems => "problems",
        DistrictSort.Open => "open",
        DistrictSort.Fixed => "fixed",
        DistrictSort.Returned => "returned",
        _ => "code",
    };

    private static DistrictTrend District(NpgsqlDataReader r, int at) => new(r.GetInt32(at), r.GetString(at + 1), r.GetFieldValue<DateOnly>(at + 2),
        Text(r, at + 3), Text(r, at + 4), Measures(r, at + 5));

    private Task<IReadOnlyList<T>> ReadAsync<T>(TrendRequest request, string table, string script, int? top, Func<NpgsqlDataReader, T> map,
        CancellationToken cancellationToken) =>
        QueryAsync(request, table, script, command =>
        {
            if (top is { } limit)
            {
                command.Parameters.AddWithValue("top", limit);
            }
            else
            {
                command.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)request.RoundId ?? DBNull.Value });
            }
        }, map, cancellationToken);

    private async Task<IReadOnlyList<T>> QueryAsync<T>(TrendRequest request, string table, string script, Action<NpgsqlCommand> parameters,
        Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var district = await ScopeAsync(connection, request, table, cancellationToken);
        await using var command = new NpgsqlCommand(SqlScripts.Load(script), connection);
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)district ?? DBNull.Value });
        parameters(command);

        var rows = new List<T>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(map(reader));
            }
        }

        if (request.Export)
        {
            await AuditLog.WriteAsync(connection, request.Reader.Name, "report.export", request.RoundId, null, "trends/" + table,
                new { table, district, rows = rows.Count, from = request.From }, cancellationToken);
        }

        return rows;
    }

    /// <summary>
    /// The district the request reads (NULL: the province), as <c>access.trend_scope</c> decides; out of the account's scope:
    /// <see cref="OutOfScopeException"/> (what: <c>trends</c>, object: <c>trends/&lt;table&gt;</c>, as the refusals were always audited).
    /// </summary>
    private static async Task<string?> ScopeAsync(NpgsqlConnection connection, TrendRequest request, string table, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var asked = string.IsNullOrWhiteSpace(request.DistrictCode) ? null : request.DistrictCode.Trim();
        await using var command = new NpgsqlCommand("SELECT allowed, district_code FROM access.trend_scope(@role, @own, @asked)", connection);
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(new NpgsqlParameter("own", NpgsqlDbType.Text) { Value = (object?)reader.DistrictCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("asked", NpgsqlDbType.Text) { Value = (object?)asked ?? DBNull.Value });
        await using var scope = await command.ExecuteReaderAsync(cancellationToken);
        if (!await scope.ReadAsync(cancellationToken) || !scope.GetBoolean(0))
        {
            throw new OutOfScopeException("trends", "trends/" + table, roundId: request.RoundId);
        }

        return scope.IsDBNull(1) ? null : scope.GetString(1);
    }

    private static TrendMeasures Measures(NpgsqlDataReader r, int at) => new(r.GetInt32(at), r.GetInt32(at + 1), r.GetInt32(at + 2),
        r.GetInt32(at + 3), r.GetInt32(at + 4), r.GetInt32(at + 5), r.GetInt32(at + 6), r.GetInt32(at + 7), Number(r, at + 8), r.GetInt32(at + 9),
        r.GetInt32(at + 10), Number(r, at + 11), Number(r, at + 12), Number(r, at + 13), Number(r, at + 14));

    private static string? Text(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetString(at);

    private static double? Number(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetDouble(at);
}
