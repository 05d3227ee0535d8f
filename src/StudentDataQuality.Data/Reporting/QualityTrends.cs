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

/// <summary>The account may not read trends of that scope (a school account, or a district account asking for another district).</summary>
public sealed class TrendScopeRefusedException(string account, string? districtCode)
    : Exception($"The account '{account}' may not read the quality trends of {(districtCode is null ? "the province" : "district " + districtCode)}.")
{
    /// <summary>The refused account.</summary>
    public string Account { get; } = account;
}

/// <summary>
/// Quality trends for managers, the data team and district offices, read from the quality snapshots (sql/reports/trend_*.sql,
/// each table one set-based query). Each round counts by its snapshot of record: the close snapshot of a closed round, else
/// its newest live one. Scope is decided here, not by the pages: managers and the data team read the province (or a
/// district they name), a district account only its own district, a school account nothing; a refusal is audited as
/// <c>access.refused</c>, and an export as <c>report.export</c>. Aggregates only: codes, names of schools and districts, counts.
/// </summary>
public sealed class QualityTrends(NpgsqlDataSource dataSource)
{
    /// <summary>How many districts and schools each list of worst and most improved holds.</summary>
    public const int MoversPerList = 10;

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

    private async Task<IReadOnlyList<T>> ReadAsync<T>(TrendRequest request, string table, string script, int? top, Func<NpgsqlDataReader, T> map,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var district = await ScopeAsync(connection, request, table, cancellationToken);
        await using var command = new NpgsqlCommand(SqlScripts.Load(script), connection);
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)district ?? DBNull.Value });
        if (top is { } limit)
        {
            command.Parameters.AddWithValue("top", limit);
        }
        else
        {
            command.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)request.RoundId ?? DBNull.Value });
        }

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

    /// <summary>The district the request reads (NULL: the province), or a refusal, audited, for what the account may not read.</summary>
    private static async Task<string?> ScopeAsync(NpgsqlConnection connection, TrendRequest request, string table, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var asked = string.IsNullOrWhiteSpace(request.DistrictCode) ? null : request.DistrictCode.Trim();
        switch (reader.Role)
        {
            case AccountRole.DataTeam or AccountRole.Manager:
                return asked;
            case AccountRole.District when reader.DistrictCode is { } own && (asked is null || string.Equals(asked, own, StringComparison.Ordinal)):
                return own;
            default:
                await AuditLog.WriteAsync(connection, reader.Name, "access.refused", request.RoundId, null, "trends/" + table,
                    new { what = "trends", district = asked, from = request.From }, cancellationToken);
                throw new TrendScopeRefusedException(reader.Name, asked);
        }
    }

    private static TrendMeasures Measures(NpgsqlDataReader r, int at) => new(r.GetInt32(at), r.GetInt32(at + 1), r.GetInt32(at + 2),
        r.GetInt32(at + 3), r.GetInt32(at + 4), r.GetInt32(at + 5), r.GetInt32(at + 6), r.GetInt32(at + 7), Number(r, at + 8), r.GetInt32(at + 9),
        r.GetInt32(at + 10), Number(r, at + 11), Number(r, at + 12), Number(r, at + 13), Number(r, at + 14));

    private static string? Text(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetString(at);

    private static double? Number(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetDouble(at);
}
