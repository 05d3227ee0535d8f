using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Data.Reporting;

/// <summary>The round the common mistakes are read from, and whether it is closed.</summary>
public sealed record MistakesRound(int RoundId, string Code, DateOnly RoundDate, bool Closed);

/// <summary>A district (its code and the round's school master's name for it), one a reader may choose.</summary>
public sealed record MistakesDistrict(string Code, string? Name);

/// <summary>
/// A rule in one of the two lists: its rank (1 first), its catalogue entry (null for a rule no longer in the catalogue) and
/// its count. In the list of the most found, <paramref name="Count"/> is the rule's findings; in the list of the most often
/// still open after a return, it is the rule's findings still open at schools that returned, <paramref name="AtReturned"/>
/// all of the rule's findings at those schools and <paramref name="OpenShare"/> Count / AtReturned.
/// </summary>
public sealed record MistakeCount(int Rank, string RuleId, Rule? Rule, int Count, int AtReturned, double? OpenShare);

/// <summary>Whose mistakes are counted: the province, one district, or none (a school outside the round's school master).</summary>
public enum MistakesScope
{
    /// <summary>Every school of the round.</summary>
    Province,

    /// <summary>The schools of one district (<see cref="CommonMistakesReport.DistrictCode"/>).</summary>
    District,

    /// <summary>The reader's school has no district in the round: nothing to count.</summary>
    NoDistrict,

    /// <summary>The district asked for is not a district of the round: nothing was read.</summary>
    UnknownDistrict,
}

/// <summary>
/// The common mistakes of a round: the rules most found, and the rules most often still open after a return, at most
/// <see cref="CommonMistakes.Top"/> each. Round is null when no round has issued worksheets yet.
/// </summary>
public sealed record CommonMistakesReport(MistakesRound? Round, MistakesScope Scope, string? DistrictCode,
    IReadOnlyList<MistakeCount> MostFound, IReadOnlyList<MistakeCount> StillOpen, IReadOnlyList<MistakesDistrict> Districts);

/// <summary>
/// The common mistakes (issue 20; docs/record.md, "Common mistakes"), counted from <c>quality.finding</c> in two set-based
/// steps: small look-ups of the round and the scope, then one grouped scan of the round's findings with both lists ranked in
/// SQL; never a query per rule or per school.
/// <para>The round: the newest round (by round date, then id) that has issued worksheets and is not closed; else the newest
/// closed round. A finding counts once: superseded findings (the same problem found again by a later run, which has its own
/// finding) are left out, whatever else became of it (open, resolved, confirmed, removed); findings without a school are left out.</para>
/// <para>Still open after a return: a finding of a school that returned its worksheet at least once in the round (one row of
/// <c>exchange.worksheet_return</c>) whose status is still open; its share is over all of the rule's findings at those schools.
/// Ranked by that count (rules with none left out), ties by rule id.</para>
/// <para>Scope comes from the account, never from the request: a district account its own district; a school account and a
/// class teacher the district of their school; the data team and managers the province, or a district they choose (one the
/// mapping names). A school's district is the portal's one mapping, <c>access.school_district</c> (migration 0018).
/// Aggregates only (rule ids and counts): nothing personal, so nothing is audited.</para>
/// </summary>
public sealed class CommonMistakes(NpgsqlDataSource dataSource)
{
    /// <summary>How many rules each list holds at most.</summary>
    public const int Top = 10;

    /// <summary>
    /// The common mistakes <paramref name="reader"/> may read; <paramref name="askedDistrict"/> counts only for the data team
    /// and managers.
    /// </summary>
    public async Task<CommonMistakesReport> ReadAsync(Account reader, string? askedDistrict, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, cancellationToken);
        if (round is null)
        {
            return new CommonMistakesReport(null, MistakesScope.Province, null, [], [], []);
        }

        var districts = await DistrictsAsync(connection, round.RoundId, cancellationToken);
        var asked = string.IsNullOrWhiteSpace(askedDistrict) ? null : askedDistrict.Trim();
        string? district;
        switch (reader.Role)
        {
            case AccountRole.DataTeam or AccountRole.Manager when asked is null:
                district = null;
                break;
            case AccountRole.DataTeam or AccountRole.Manager:
                if (!districts.Any(d => string.Equals(d.Code, asked, StringComparison.Ordinal)))
                {
                    return new CommonMistakesReport(round, MistakesScope.UnknownDistrict, null, [], [], districts);
                }

                district = asked;
                break;
            case AccountRole.District:
                district = reader.DistrictCode;
                break;
            default:
                // A school and a class teacher read the province's: a district's counts less a school's own would be another
                // school's, in a district of two (docs/record.md, "Common mistakes").
                district = null;
                break;
        }

        var everyDistrict = reader.Role is AccountRole.DataTeam or AccountRole.Manager ? districts : [];
        if (district is null && reader.Role is AccountRole.District)
        {
            return new CommonMistakesReport(round, MistakesScope.NoDistrict, null, [], [], everyDistrict);
        }

        var (mostFound, stillOpen) = await CountsAsync(connection, round.RoundId, district, cancellationToken);
        var scope = district is null ? MistakesScope.Province : MistakesScope.District;
        return new CommonMistakesReport(round, scope, district, mostFound, stillOpen, everyDistrict);
    }

    private static async Task<MistakesRound?> RoundAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT r.round_id, r.code, r.round_date, r.status = 'closed'
            FROM   registry.round r
            WHERE  r.status = 'closed'
               OR  EXISTS (SELECT 1 FROM exchange.worksheet w WHERE w.round_id = r.round_id)
            ORDER  BY r.status = 'closed', r.round_date DESC, r.round_id DESC
            LIMIT  1
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new MistakesRound(reader.GetInt32(0), reader.GetString(1), reader.GetFieldValue<DateOnly>(2), reader.GetBoolean(3))
            : null;
    }

    private static async Task<IReadOnlyList<MistakesDistrict>> DistrictsAsync(NpgsqlConnection connection, int roundId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT d.district_code, min(s.district_name_raw)
            FROM   access.school_district d
            LEFT   JOIN registry.school s ON s.round_id = @round AND s.school_code = d.school_code
            WHERE  d.district_code IS NOT NULL
            GROUP  BY d.district_code
            ORDER  BY d.district_code COLLATE "C"
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        var rows = new List<MistakesDistrict>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new MistakesDistrict(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        return rows;
    }

    private static async Task<(IReadOnlyList<MistakeCount> MostFound, IReadOnlyList<MistakeCount> StillOpen)> CountsAsync(
        NpgsqlConnection connection, int roundId, string? district, CancellationToken cancellationToken)
    {
        // One scan of the round's partition of quality.finding, grouped by rule; both rankings are taken from the same counts.
        await using var command = new NpgsqlCommand("""
            WITH scope AS (
                SELECT school_code FROM access.school_district WHERE district_code = @district
            ), returned AS (
                SELECT DISTINCT school_code FROM exchange.worksheet_return WHERE round_id = @round
            ), by_rule AS (
                SELECT f.rule_id,
                       count(*) AS found,
                       count(*) FILTER (WHERE r.school_code IS NOT NULL) AS at_returned,
                       count(*) FILTER (WHERE r.school_code IS NOT NULL AND f.status = 'open') AS still_open
                FROM   quality.finding f
                LEFT   JOIN returned r ON r.school_code = f.school_code
                WHERE  f.round_id = @round AND f.status <> 'superseded' AND f.school_code IS NOT NULL
                  AND  (@district::text IS NULL OR f.school_code IN (SELECT school_code FROM scope))
                GROUP  BY f.rule_id
            ), ranked AS (
                SELECT b.*,
                       row_number() OVER (ORDER BY b.found DESC, b.rule_id COLLATE "C") AS found_rank,
                       row_number() OVER (ORDER BY b.still_open DESC, b.rule_id COLLATE "C") AS open_rank
                FROM   by_rule b
            )
            SELECT rule_id, found::integer, at_returned::integer, still_open::integer, found_rank::integer, open_rank::integer
            FROM   ranked
            WHERE  found_rank <= @top OR (open_rank <= @top AND still_open > 0)
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlDbType.Text) { Value = (object?)district ?? DBNull.Value });
        command.Parameters.AddWithValue("top", Top);

        var mostFound = new List<MistakeCount>();
        var stillOpen = new List<MistakeCount>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var ruleId = reader.GetString(0);
            var rule = RuleCatalog.All.FirstOrDefault(r => r.Id == ruleId);
            int found = reader.GetInt32(1), atReturned = reader.GetInt32(2), open = reader.GetInt32(3);
            int foundRank = reader.GetInt32(4), openRank = reader.GetInt32(5);
            if (foundRank <= Top)
            {
                mostFound.Add(new MistakeCount(foundRank, ruleId, rule, found, atReturned, null));
            }

            if (openRank <= Top && open > 0)
            {
                stillOpen.Add(new MistakeCount(openRank, ruleId, rule, open, atReturned, (double)open / atReturned));
            }
        }

        return (mostFound.OrderBy(m => m.Rank).ToList(), stillOpen.OrderBy(m => m.Rank).ToList());
    }
}
