using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Data.Quality;

/// <summary>Who owns a case: the school, its district (an escalation), or the data team (an escalation).</summary>
public enum CaseOwner
{
    /// <summary>The school, while the case is young.</summary>
    School,

    /// <summary>The school's district, after <see cref="CaseOptions.DistrictAfterRounds"/> rounds or days.</summary>
    District,

    /// <summary>The province's data team, after <see cref="CaseOptions.DataTeamAfterRounds"/> rounds or days.</summary>
    DataTeam,
}

/// <summary>A round's escalations in one district (<see cref="Cases.EscalationsByDistrictAsync"/>); a null district: schools the school master places in none.</summary>
public sealed record DistrictEscalations(string RoundCode, string? DistrictCode, int ToDistrict, int ToDataTeam, int OldestRoundsOpen);

/// <summary>
/// When a case escalates (the hosts read them from the <c>Cases</c> section of the settings). A case is the district's once
/// it has been open more than <see cref="DistrictAfterRounds"/> rounds, or its round is more than
/// <see cref="DistrictAfterDays"/> days past its deadline; the data team's likewise after the data team's figures.
/// </summary>
public sealed record CaseOptions(int DistrictAfterRounds = 2, int DistrictAfterDays = 30, int DataTeamAfterRounds = 4, int DataTeamAfterDays = 90)
{
    /// <summary>The defaults: school in its second round, district from its third, the data team from its fifth.</summary>
    public static CaseOptions Default { get; } = new();
}

/// <summary>
/// Which cases: of one district (NULL: every district in the reader's scope), open at least <paramref name="MinRoundsOpen"/>
/// rounds, of one owner, and the open cases or (<paramref name="Closed"/>) the cases the round closed.
/// </summary>
public sealed record CaseFilter(string? District = null, int? MinRoundsOpen = null, CaseOwner? Owner = null, bool Closed = false);

/// <summary>
/// One case of a round. <see cref="CaseId"/> is the id of the finding that stands for it in the round (or, for a case the
/// round did not find again, in the previous round); <see cref="Status"/> is "open", or how it closed: "resolved",
/// "confirmed", "removed" or "not-found". The student number is in full: callers show it masked (Masking).
/// </summary>
public sealed record CaseEntry(long CaseId, string Fingerprint, string RuleId, string? SchoolCode, string? DistrictCode, string? StudentNo,
    string Field, string? Value, string Status, string FirstRoundCode, DateOnly FirstRoundDate, int RoundsOpen, int DaysOpen, int DaysPastDeadline,
    CaseOwner Owner)
{
    /// <summary>An escalation: a case its school no longer owns alone.</summary>
    public bool Escalated => Owner != CaseOwner.School;
}

/// <summary>A page of cases and how many there are in all.</summary>
public sealed record CasePage(int RoundId, string RoundCode, IReadOnlyList<CaseEntry> Rows, int Total);

/// <summary>
/// A round's cases counted. <see cref="NewThisRound"/> are the open problems first seen in this round (not cases yet: those
/// that survive become cases in the next round), <see cref="TwoRounds"/> the cases in their second round,
/// <see cref="ThreeOrMoreRounds"/> the older ones. Medians are over the open cases (NULL: none).
/// </summary>
public sealed record CaseSummary(int RoundId, string RoundCode, int NewThisRound, int TwoRounds, int ThreeOrMoreRounds, double? MedianRoundsOpen,
    double? MedianDaysOpen, int ToDistrict, int ToDataTeam, int Closed)
{
    /// <summary>Open cases in all.</summary>
    public int Open => TwoRounds + ThreeOrMoreRounds;
}

/// <summary>An explanation a school gave for the case's row in a round, and the decision on it.</summary>
public sealed record CaseExplanation(long ExplanationId, string Status, string? ReviewedBy, DateTimeOffset? ReviewedAt);

/// <summary>A correction a return made to the case's record in a round (values masked as the policy masks the field).</summary>
public sealed record CaseCorrection(long CorrectionId, long ReturnId, string Kind, string? Field, string? OldValue, string? NewValue);

/// <summary>One round of a case's history: its finding there (status, value, rule version), the explanations and the returns.</summary>
public sealed record CaseHistoryStep(int RoundId, string RoundCode, DateOnly RoundDate, long FindingId, string Status, string? Value, int RuleVersion,
    IReadOnlyList<CaseExplanation> Explanations, IReadOnlyList<CaseCorrection> Corrections);

/// <summary>
/// Cases (issue 21, docs/cases.md): problems that survived the round they were first seen in, one per fingerprint, derived
/// from the findings when read (SQL function <c>quality.round_cases</c>, migration 0027), so a re-check changes them exactly as
/// a full run would. Scope: the data team and managers read the province, a district account its district, a school account
/// its school; reads are audited (<c>cases.list</c>, <c>cases.history</c>).
/// </summary>
public sealed class Cases(NpgsqlDataSource dataSource, CaseOptions? options = null, TimeProvider? time = null)
{
    /// <summary>The most rows of a page.</summary>
    public const int MaxPageSize = 1000;

    private readonly CaseOptions _options = options ?? CaseOptions.Default;
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The newest round (by round date, then id), or NULL where there is none.</summary>
    public async Task<string?> NewestRoundAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT code FROM registry.round ORDER BY round_date DESC, round_id DESC LIMIT 1");
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>
    /// One page of the round's cases (open, or closed with <see cref="CaseFilter.Closed"/>), sorted by age: rounds open, days
    /// open (both oldest first), then school, student number, rule and field; filtered and paged in SQL.
    /// </summary>
    public async Task<CasePage> ListAsync(Account reader, string roundCode, CaseFilter filter, int offset = 0, int limit = 100,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPageSize);
        if (filter.MinRoundsOpen is < 1)
        {
            throw new UserErrorException(new UserMessage("Cases.RoundsInvalid", filter.MinRoundsOpen));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        var (district, school) = Scope(reader, filter.District, round.RoundId);
        await using var command = new NpgsqlCommand($"""
            SELECT c.case_id, c.fingerprint, c.rule_id, c.school_code, c.district_code, c.student_no, c.field, c.value, c.status,
                   c.first_round_code, c.first_round_date, c.rounds_open, c.days_open, c.days_past_deadline, c.owner,
                   count(*) OVER ()::integer AS total
            FROM   {Call} c
            WHERE  (@district::text IS NULL OR c.district_code = @district::text)
              AND  (@school::text IS NULL OR c.school_code = @school::text)
              AND  (@min_rounds::integer IS NULL OR c.rounds_open >= @min_rounds::integer)
              AND  (@owner::text IS NULL OR c.owner = @owner::text)
            ORDER  BY c.rounds_open DESC, c.days_open DESC, c.school_code, c.student_no, c.rule_id, c.field, c.case_id
            LIMIT  @limit OFFSET @offset
            """, connection);
        Bind(command, round.RoundId, filter.Closed);
        Text(command, "district", district);
        Text(command, "school", school);
        command.Parameters.Add(new NpgsqlParameter("min_rounds", NpgsqlDbType.Integer) { Value = (object?)filter.MinRoundsOpen ?? DBNull.Value });
        Text(command, "owner", filter.Owner is { } owner ? OwnerText(owner) : null);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("offset", offset);
        var rows = new List<CaseEntry>();
        var total = 0;
        await using (var r = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                rows.Add(new CaseEntry(r.GetInt64(0), r.GetString(1), r.GetString(2), Nullable(r, 3), Nullable(r, 4), Nullable(r, 5), r.GetString(6),
                    Nullable(r, 7), r.GetString(8), r.GetString(9), r.GetFieldValue<DateOnly>(10), r.GetInt32(11), r.GetInt32(12), r.GetInt32(13),
                    ParseOwner(r.GetString(14)) ?? CaseOwner.School));
                total = r.GetInt32(15);
            }
        }

        await AuditLog.WriteAsync(connection, reader.Name, "cases.list", round.RoundId, school, district,
            new { district, school, min_rounds = filter.MinRoundsOpen, owner = filter.Owner?.ToString(), closed = filter.Closed, offset, rows = rows.Count, total },
            cancellationToken);
        return new CasePage(round.RoundId, round.Code, rows, total);
    }

    /// <summary>The round's cases counted by age, with the medians, the escalations and the closed cases (of the reader's scope).</summary>
    public async Task<CaseSummary> SummaryAsync(Account reader, string roundCode, string? district = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        var (inDistrict, school) = Scope(reader, district, round.RoundId);
        await using var command = new NpgsqlCommand($"""
            WITH open_cases AS (
                SELECT c.* FROM {Call.Replace("@closed", "false", StringComparison.Ordinal)} c
                WHERE  (@district::text IS NULL OR c.district_code = @district::text) AND (@school::text IS NULL OR c.school_code = @school::text)
            ), closed_cases AS (
                SELECT c.* FROM {Call.Replace("@closed", "true", StringComparison.Ordinal)} c
                WHERE  (@district::text IS NULL OR c.district_code = @district::text) AND (@school::text IS NULL OR c.school_code = @school::text)
            ), new_problems AS (
                SELECT count(DISTINCT f.fingerprint)::integer AS n
                FROM   quality.finding f
                LEFT   JOIN (SELECT DISTINCT ON (s.school_code) s.school_code, s.district_code FROM registry.school s
                             WHERE  s.round_id = @round AND s.district_code IS NOT NULL ORDER BY s.school_code, s.row_no) d
                       ON d.school_code = f.school_code
                WHERE  f.round_id = @round AND f.status = 'open' AND f.first_seen_round_id = @round
                  AND  (@district::text IS NULL OR d.district_code = @district::text) AND (@school::text IS NULL OR f.school_code = @school::text)
            )
            SELECT (SELECT n FROM new_problems),
                   count(*) FILTER (WHERE o.rounds_open = 2)::integer,
                   count(*) FILTER (WHERE o.rounds_open >= 3)::integer,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY o.rounds_open),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY o.days_open),
                   count(*) FILTER (WHERE o.owner = 'district')::integer,
                   count(*) FILTER (WHERE o.owner = 'data-team')::integer,
                   (SELECT count(*) FROM closed_cases)::integer
            FROM   open_cases o
            """, connection);
        Bind(command, round.RoundId, closed: false);
        Text(command, "district", inDistrict);
        Text(command, "school", school);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return new CaseSummary(round.RoundId, round.Code, r.GetInt32(0), r.GetInt32(1), r.GetInt32(2), r.IsDBNull(3) ? null : r.GetDouble(3),
            r.IsDBNull(4) ? null : r.GetDouble(4), r.GetInt32(5), r.GetInt32(6), r.GetInt32(7));
    }

    /// <summary>
    /// The history of one case of the round, named by its case id (a number) or its fingerprint: each round's finding of the
    /// fingerprint, oldest round first, with the explanations and returns that touched its record in that round. One query.
    /// Values are masked as the policy masks their field. An unknown case is a user error.
    /// </summary>
    public async Task<IReadOnlyList<CaseHistoryStep>> HistoryAsync(Account reader, string roundCode, string caseIdOrFingerprint,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrWhiteSpace(caseIdOrFingerprint);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        var (district, school) = Scope(reader, null, round.RoundId);
        long? caseId = long.TryParse(caseIdOrFingerprint, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            ? id : null;
        await using var command = new NpgsqlCommand("""
            WITH RECURSIVE chain AS (
                SELECT r.round_id, r.previous_round_id, 1 AS depth FROM registry.round r WHERE r.round_id = @round
                UNION ALL
                SELECT p.round_id, p.previous_round_id, c.depth + 1 FROM chain c JOIN registry.round p ON p.round_id = c.previous_round_id
                WHERE c.depth < 1000
            ), asked AS (
                SELECT f.fingerprint, f.school_code
                FROM   quality.finding f
                WHERE  (@case_id::bigint IS NOT NULL AND f.round_id IN (SELECT c.round_id FROM chain c WHERE c.depth <= 2) AND f.finding_id = @case_id::bigint)
                   OR  (@case_id::bigint IS NULL AND f.round_id IN (SELECT c.round_id FROM chain c) AND f.fingerprint = @fingerprint)
                LIMIT  1
            )
            SELECT r.round_id, r.code, r.round_date, f.finding_id, f.status, f.field, f.value, f.rule_version,
                   (SELECT coalesce(json_agg(json_build_array(e.explanation_id, e.status, e.reviewed_by, e.reviewed_at) ORDER BY e.explanation_id), '[]')
                    FROM   exchange.explanation e
                    WHERE  e.round_id = f.round_id AND e.record_id = f.record_id AND f.fingerprint = ANY (e.fingerprints))::text,
                   (SELECT coalesce(json_agg(json_build_array(k.correction_id, k.return_id, k.kind, k.field, k.old_value, k.new_value) ORDER BY k.correction_id), '[]')
                    FROM   exchange.correction k
                    WHERE  k.round_id = f.round_id AND k.record_id = f.record_id)::text,
                   a.school_code,
                   (SELECT s.district_code FROM registry.school s WHERE s.round_id = @round AND s.school_code = a.school_code
                    AND s.district_code IS NOT NULL ORDER BY s.row_no LIMIT 1)
            FROM   asked a
            JOIN   chain c ON true
            JOIN   quality.finding f ON f.round_id = c.round_id AND f.fingerprint = a.fingerprint
            JOIN   registry.round r ON r.round_id = f.round_id
            ORDER  BY r.round_date, r.round_id, f.finding_id
            """, connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.Add(new NpgsqlParameter("case_id", NpgsqlDbType.Bigint) { Value = (object?)caseId ?? DBNull.Value });
        command.Parameters.AddWithValue("fingerprint", caseIdOrFingerprint);
        var steps = new List<CaseHistoryStep>();
        string? caseSchool = null, caseDistrict = null;
        await using (var r = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                var field = r.GetString(5);
                using var explanations = JsonDocument.Parse(r.GetString(8));
                using var corrections = JsonDocument.Parse(r.GetString(9));
                steps.Add(new CaseHistoryStep(r.GetInt32(0), r.GetString(1), r.GetFieldValue<DateOnly>(2), r.GetInt64(3), r.GetString(4),
                    Identifiers.Masking.Field(field, Nullable(r, 6)), r.GetInt32(7),
                    explanations.RootElement.EnumerateArray().Select(e => new CaseExplanation(e[0].GetInt64(), e[1].GetString()!, e[2].GetString(),
                        e[3].ValueKind == JsonValueKind.Null ? null : e[3].GetDateTimeOffset())).ToList(),
                    corrections.RootElement.EnumerateArray().Select(e => new CaseCorrection(e[0].GetInt64(), e[1].GetInt64(), e[2].GetString()!,
                        e[3].GetString(), Identifiers.Masking.Field(e[3].GetString() ?? "", e[4].GetString()),
                        Identifiers.Masking.Field(e[3].GetString() ?? "", e[5].GetString()))).ToList()));
                caseSchool = Nullable(r, 10);
                caseDistrict = Nullable(r, 11);
            }
        }

        if (steps.Count == 0 || (school is not null && caseSchool != school) || (district is not null && caseDistrict != district))
        {
            // A case outside the reader's scope is told as one that is not there.
            throw new UserErrorException(new UserMessage("Cases.CaseNotFound", caseIdOrFingerprint.Length > 80 ? caseIdOrFingerprint[..80] : caseIdOrFingerprint,
                round.Code));
        }

        await AuditLog.WriteAsync(connection, reader.Name, "cases.history", round.RoundId, caseSchool, steps[^1].FindingId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new { rounds = steps.Count }, cancellationToken);
        return steps;
    }

    /// <summary>The owner as the command line and the settings spell it: school, district, data-team (NULL: not one of them).</summary>
    public static CaseOwner? ParseOwner(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "school" => CaseOwner.School,
        "district" => CaseOwner.District,
        "data-team" => CaseOwner.DataTeam,
        _ => null,
    };

    /// <summary>
    /// A round's escalations per district (the daily reminders report: the province's, for the data team's jobs; counts only,
    /// no student): the cases owned by the district and by the data team, and the oldest's rounds open; districts with none
    /// left out. One query.
    /// </summary>
    public async Task<IReadOnlyList<DistrictEscalations>> EscalationsByDistrictAsync(string roundCode, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT c.district_code, count(*) FILTER (WHERE c.owner = 'district')::int, count(*) FILTER (WHERE c.owner = 'data-team')::int,
                   max(c.rounds_open)::int
            FROM   {Call} c
            WHERE  c.owner <> 'school'
            GROUP  BY c.district_code
            ORDER  BY c.district_code NULLS LAST
            """, connection);
        Bind(command, round.RoundId, closed: false);
        var rows = new List<DistrictEscalations>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new DistrictEscalations(roundCode, Nullable(reader, 0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3)));
        }

        return rows;
    }

    /// <summary>The owner's spelling (school, district, data-team).</summary>
    public static string OwnerText(CaseOwner owner) => owner switch
    {
        CaseOwner.District => "district",
        CaseOwner.DataTeam => "data-team",
        _ => "school",
    };

    private const string Call =
        "quality.round_cases(@round, @today, @district_rounds, @district_days, @team_rounds, @team_days, @closed)";

    private void Bind(NpgsqlCommand command, int roundId, bool closed)
    {
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("today", DateOnly.FromDateTime(_time.GetUtcNow().ToOffset(TimeSpan.FromHours(8)).DateTime));
        command.Parameters.AddWithValue("district_rounds", _options.DistrictAfterRounds);
        command.Parameters.AddWithValue("district_days", _options.DistrictAfterDays);
        command.Parameters.AddWithValue("team_rounds", _options.DataTeamAfterRounds);
        command.Parameters.AddWithValue("team_days", _options.DataTeamAfterDays);
        command.Parameters.AddWithValue("closed", closed);
    }

    private static void Text(NpgsqlCommand command, string name, string? value) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value });

    private static string? Nullable(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static async Task<Round> RoundAsync(NpgsqlConnection connection, string roundCode, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(roundCode);
        return await RoundStore.FindAsync(connection, roundCode, cancellationToken)
            ?? throw new UserErrorException(new UserMessage("Cases.RoundNotFound", roundCode));
    }

    /// <summary>The district and school the reader may read (NULL: any), a district asked for narrowing it.</summary>
    private static (string? District, string? School) Scope(Account reader, string? district, int roundId) => reader.Role switch
    {
        AccountRole.DataTeam or AccountRole.Manager => (district, null),
        AccountRole.District when reader.DistrictCode is not null && (district is null || district == reader.DistrictCode) => (reader.DistrictCode, null),
        AccountRole.School when reader.SchoolCode is not null && district is null => (null, reader.SchoolCode),
        _ => throw new OutOfScopeException("cases", district ?? reader.Role.ToString(), reader.SchoolCode, roundId),
    };
}
