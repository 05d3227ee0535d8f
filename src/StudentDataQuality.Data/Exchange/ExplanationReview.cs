using Npgsql;

namespace StudentDataQuality.Data.Exchange;

/// <summary>A school's explanation waiting for the data team: which student, which findings, what the school said.</summary>
public sealed record PendingExplanation(long ExplanationId, string RoundCode, string SchoolCode, string? StudentNo, string? Name,
    IReadOnlyList<string> RuleIds, string Text, DateTimeOffset ReceivedAt, string ReceivedBy);

/// <summary>
/// Which explanations the data team's list shows: each filter exact, none given none applied; <see cref="Status"/> one of
/// <see cref="ExplanationReview.Statuses"/> (pending unless asked).
/// </summary>
public sealed record ExplanationFilter(string? RoundCode = null, string? DistrictCode = null, string? SchoolCode = null, string? RuleId = null,
    string Status = "pending");

/// <summary>An explanation as the data team's list shows it: whose, of which rules, what the school said, where it stands.</summary>
public sealed record ExplanationRow(long ExplanationId, string RoundCode, string SchoolCode, string? DistrictCode, string? StudentNo, string? Name,
    IReadOnlyList<string> RuleIds, string Text, DateTimeOffset ReceivedAt, string Status, string? ReviewedBy, string? ReviewNote);

/// <summary>One page of the list: its rows, and how many match the filter in all.</summary>
public sealed record ExplanationPage(IReadOnlyList<ExplanationRow> Rows, int Total);

/// <summary>How many explanations wait for review that explain findings of one rule.</summary>
public sealed record RulePending(string RuleId, int Explanations);

/// <summary>What a decision on a selection did: how many explanations were decided, how many findings they confirmed.</summary>
public sealed record SelectionDecided(int Explanations, int FindingsConfirmed);

/// <summary>
/// The data team's review of explanations (docs/record.md, "Resolution actions"): accepted, the findings it explains become confirmed and
/// stay so while the value is unchanged; refused, they stay open and the school sees the note. Every decision is audited,
/// one entry per explanation, also when a selection is decided at once.
/// </summary>
public sealed class ExplanationReview(NpgsqlDataSource dataSource)
{
    /// <summary>The states an explanation can be in, the filter's choices.</summary>
    public static readonly IReadOnlyList<string> Statuses = ["pending", "accepted", "refused", "superseded"];

    /// <summary>The most explanations one decision takes (a page of the list).</summary>
    public const int MaxSelection = 50;

    // The filter of the list, the same for a page, its count and a decision on a selection (round r, explanation e).
    private const string Matching = """
        e.status = @status
          AND  (@round::text IS NULL OR r.code = @round)
          AND  (@school::text IS NULL OR e.school_code = @school)
          AND  (@district::text IS NULL OR EXISTS (SELECT 1 FROM registry.school s
                                                   WHERE s.round_id = e.round_id AND s.school_code = e.school_code AND s.district_code = @district))
          AND  (@rule::text IS NULL OR EXISTS (SELECT 1 FROM unnest(e.fingerprints) f WHERE split_part(f, '|', 1) = @rule))
        """;

    private static void AddFilter(NpgsqlCommand command, ExplanationFilter filter)
    {
        if (!Statuses.Contains(filter.Status, StringComparer.Ordinal))
        {
            throw new ArgumentException($"Unknown explanation status '{filter.Status}'.", nameof(filter));
        }

        command.Parameters.AddWithValue("status", filter.Status);
        command.Parameters.Add(new NpgsqlParameter("round", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)filter.RoundCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)filter.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)filter.DistrictCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("rule", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)filter.RuleId ?? DBNull.Value });
    }

    /// <summary>
    /// One page of the explanations matching <paramref name="filter"/> (by school, then as they came), filtered and paged in
    /// the database; the read audited as <c>explanations.read</c>: how many rows, of how many schools, shown to whom from where.
    /// </summary>
    public async Task<ExplanationPage> ListAsync(ExplanationFilter filter, int offset, int limit, Account reader, string from,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(reader);
        // The schools' explanations across the province are the data team's to read, whoever calls (the pages' policy says so too).
        if (reader.Role != AccountRole.DataTeam)
        {
            throw new OutOfScopeException("explanations", filter.SchoolCode ?? filter.DistrictCode ?? "province", filter.SchoolCode);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int total;
        await using (var count = new NpgsqlCommand($"""
            SELECT count(*)::int FROM exchange.explanation e JOIN registry.round r ON r.round_id = e.round_id
            WHERE  {Matching}
            """, connection))
        {
            AddFilter(count, filter);
            total = (int)(await count.ExecuteScalarAsync(cancellationToken))!;
        }

        var rows = new List<ExplanationRow>();
        await using (var command = new NpgsqlCommand($"""
            SELECT e.explanation_id, r.code, e.school_code, d.district_code, c.student_no_raw, c.name,
                   ARRAY(SELECT DISTINCT split_part(f, '|', 1) FROM unnest(e.fingerprints) f ORDER BY 1), e.text, t.received_at,
                   e.status, e.reviewed_by, e.review_note
            FROM   exchange.explanation e
            JOIN   registry.round r ON r.round_id = e.round_id
            JOIN   exchange.worksheet_return t ON t.return_id = e.return_id
            LEFT   JOIN LATERAL (SELECT s.district_code FROM registry.school s
                                 WHERE s.round_id = e.round_id AND s.school_code = e.school_code ORDER BY s.row_no LIMIT 1) d ON true
            LEFT   JOIN registry.record c ON c.round_id = e.round_id AND c.record_id = e.record_id AND c.version = e.record_version
            WHERE  {Matching}
            ORDER  BY e.school_code, e.explanation_id
            LIMIT  @limit OFFSET @offset
            """, connection))
        {
            AddFilter(command, filter);
            command.Parameters.AddWithValue("limit", limit);
            command.Parameters.AddWithValue("offset", offset);
            await using var data = await command.ExecuteReaderAsync(cancellationToken);
            while (await data.ReadAsync(cancellationToken))
            {
                rows.Add(new ExplanationRow(data.GetInt64(0), data.GetString(1), data.GetString(2), data.IsDBNull(3) ? null : data.GetString(3),
                    data.IsDBNull(4) ? null : data.GetString(4), data.IsDBNull(5) ? null : data.GetString(5), data.GetFieldValue<string[]>(6),
                    data.GetString(7), data.GetFieldValue<DateTimeOffset>(8), data.GetString(9), data.IsDBNull(10) ? null : data.GetString(10),
                    data.IsDBNull(11) ? null : data.GetString(11)));
            }
        }

        await AuditLog.WriteAsync(connection, reader.Name, "explanations.read", null, null, null,
            new
            {
                rows = rows.Count, schools = rows.Select(e => e.SchoolCode).Distinct(StringComparer.Ordinal).Count(), from,
                // Which explanations (and so whose students) were shown: the page's own ids, at most a page.
                explanation_ids = rows.Select(e => e.ExplanationId),
            }, cancellationToken);
        return new ExplanationPage(rows, total);
    }

    /// <summary>The explanations waiting for review, counted by the rules of the findings they explain (most first).</summary>
    public async Task<IReadOnlyList<RulePending>> PendingByRuleAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT split_part(f, '|', 1) AS rule_id, count(DISTINCT e.explanation_id)::int
            FROM   exchange.explanation e, unnest(e.fingerprints) f
            WHERE  e.status = 'pending'
            GROUP  BY 1 ORDER BY 2 DESC, 1
            """);
        var counts = new List<RulePending>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts.Add(new RulePending(reader.GetString(0), reader.GetInt32(1)));
        }

        return counts;
    }

    public async Task<IReadOnlyList<PendingExplanation>> PendingAsync(string? roundCode = null, string? schoolCode = null,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT e.explanation_id, r.code, e.school_code, c.student_no_raw, c.name,
                   ARRAY(SELECT DISTINCT split_part(f, '|', 1) FROM unnest(e.fingerprints) f ORDER BY 1), e.text, t.received_at, t.received_by
            FROM   exchange.explanation e
            JOIN   registry.round r ON r.round_id = e.round_id
            JOIN   exchange.worksheet_return t ON t.return_id = e.return_id
            LEFT   JOIN registry.record c ON c.round_id = e.round_id AND c.record_id = e.record_id AND c.version = e.record_version
            WHERE  e.status = 'pending' AND (@round::text IS NULL OR r.code = @round) AND (@school::text IS NULL OR e.school_code = @school)
            ORDER  BY e.school_code, e.explanation_id
            """);
        command.Parameters.AddWithValue("round", (object?)roundCode ?? DBNull.Value);
        command.Parameters.AddWithValue("school", (object?)schoolCode ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<PendingExplanation>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new PendingExplanation(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetFieldValue<string[]>(5), reader.GetString(6),
                reader.GetFieldValue<DateTimeOffset>(7), reader.GetString(8)));
        }

        return list;
    }

    /// <summary>Accepts or refuses a pending explanation; returns the number of findings it confirmed.</summary>
    public async Task<int> DecideAsync(long explanationId, bool accept, string? note, Account reviewer, CancellationToken cancellationToken = default)
    {
        Guard(accept, note, reviewer);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT status, round_id, school_code FROM exchange.explanation WHERE explanation_id = @id FOR UPDATE
            """, connection);
        command.Parameters.AddWithValue("id", explanationId);
        string status;
        int roundId;
        string school;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new UserErrorException(new UserMessage("Team.Review.NoSuchExplanation", explanationId));
            }

            (status, roundId, school) = (reader.GetString(0), reader.GetInt32(1), reader.GetString(2));
        }

        if (status != "pending")
        {
            throw new UserErrorException(new UserMessage("Team.Review.NotPending", explanationId));
        }

        var confirmed = await DecideLockedAsync(connection, explanationId, roundId, school, accept, note, reviewer, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return confirmed;
    }

    /// <summary>
    /// Accepts or refuses every explanation of a selection, with one note, in one transaction: each one decided and audited
    /// as <see cref="DecideAsync"/> does (one entry each). A selection is all or nothing: when any id is not a pending
    /// explanation matching <paramref name="filter"/> (decided meanwhile, of another filter, unknown), nothing is decided and
    /// the error names those ids.
    /// </summary>
    public async Task<SelectionDecided> DecideSelectionAsync(IReadOnlyCollection<long> explanationIds, ExplanationFilter filter, bool accept, string? note,
        Account reviewer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(explanationIds);
        ArgumentNullException.ThrowIfNull(filter);
        Guard(accept, note, reviewer);
        var ids = explanationIds.Distinct().Order().ToArray();
        if (ids.Length == 0)
        {
            throw new UserErrorException(new UserMessage("Team.Review.NoneSelected"));
        }

        if (ids.Length > MaxSelection)
        {
            throw new UserErrorException(new UserMessage("Team.Review.TooMany", ids.Length, MaxSelection));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var found = new List<(long Id, int RoundId, string School)>();
        await using (var command = new NpgsqlCommand($"""
            SELECT e.explanation_id, e.round_id, e.school_code
            FROM   exchange.explanation e JOIN registry.round r ON r.round_id = e.round_id
            WHERE  e.explanation_id = ANY(@ids) AND {Matching}
            ORDER  BY e.explanation_id
            FOR    UPDATE OF e
            """, connection))
        {
            AddFilter(command, filter with { Status = "pending" });
            command.Parameters.AddWithValue("ids", ids);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                found.Add((reader.GetInt64(0), reader.GetInt32(1), reader.GetString(2)));
            }
        }

        var missing = ids.Except(found.Select(f => f.Id)).ToList();
        if (missing.Count > 0)
        {
            throw new UserErrorException(new UserMessage("Team.Review.NotInSelection", missing.Count,
                string.Join(", ", missing.Take(20).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)))));
        }

        var confirmed = 0;
        foreach (var (id, roundId, school) in found)
        {
            confirmed += await DecideLockedAsync(connection, id, roundId, school, accept, note, reviewer, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return new SelectionDecided(found.Count, confirmed);
    }

    private static void Guard(bool accept, string? note, Account reviewer)
    {
        ArgumentNullException.ThrowIfNull(reviewer);
        if (reviewer.Role != AccountRole.DataTeam)
        {
            throw new UserErrorException(new UserMessage("Team.Review.NotDataTeam", reviewer.Name));
        }

        if (!accept && string.IsNullOrWhiteSpace(note))
        {
            throw new UserErrorException(new UserMessage("Team.Review.NoteRequired"));
        }
    }

    /// <summary>Decides one explanation, locked and pending, on the caller's transaction: the decision, the findings, the audit entry.</summary>
    private static async Task<int> DecideLockedAsync(NpgsqlConnection connection, long explanationId, int roundId, string school, bool accept, string? note,
        Account reviewer, CancellationToken cancellationToken)
    {
        await using var decide = new NpgsqlCommand("""
            WITH decided AS (
                UPDATE exchange.explanation
                SET    status = @status, reviewed_by = @by, reviewed_at = now(), review_note = @note
                WHERE  explanation_id = @id
                RETURNING round_id, record_id, fingerprints),
            confirmed AS (
                UPDATE quality.finding f SET status = 'confirmed'
                FROM   decided d
                WHERE  @accept AND f.round_id = d.round_id AND f.record_id = d.record_id AND f.status = 'open' AND f.fingerprint = ANY(d.fingerprints)
                RETURNING f.finding_id),
            audited AS (
                -- A data-modifying WITH runs to completion whether or not the main query reads it.
                INSERT INTO audit.event (actor, action, round_id, school_code, object, details)
                SELECT @by, CASE WHEN @accept THEN 'explanation.accept' ELSE 'explanation.refuse' END, @round, @school, @id::text,
                       jsonb_build_object('note', @note, 'findings_confirmed', (SELECT count(*) FROM confirmed)))
            SELECT count(*)::int FROM confirmed
            """, connection);
        decide.Parameters.AddWithValue("id", explanationId);
        decide.Parameters.AddWithValue("status", accept ? "accepted" : "refused");
        decide.Parameters.AddWithValue("by", reviewer.Name);
        decide.Parameters.Add(new NpgsqlParameter("note", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)note ?? DBNull.Value });
        decide.Parameters.AddWithValue("accept", accept);
        decide.Parameters.AddWithValue("round", roundId);
        decide.Parameters.AddWithValue("school", school);
        return (int)(await decide.ExecuteScalarAsync(cancellationToken))!;
    }
}
