using Npgsql;

namespace StudentDataQuality.Data.Exchange;

/// <summary>A school's explanation waiting for the data team: which student, which findings, what the school said.</summary>
public sealed record PendingExplanation(long ExplanationId, string RoundCode, string SchoolCode, string? StudentNo, string? Name,
    IReadOnlyList<string> RuleIds, string Text, DateTimeOffset ReceivedAt, string ReceivedBy);

/// <summary>
/// The data team's review of explanations (docs/record.md, "Resolution actions"): accepted, the findings it explains become confirmed and
/// stay so while the value is unchanged; refused, they stay open and the school sees the note. Every decision is audited.
/// </summary>
public sealed class ExplanationReview(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The explanations waiting for review as the data team's console lists them (at most <paramref name="limit"/>), the
    /// read audited as <c>explanations.read</c>: how many rows, of how many schools, shown to whom from where.
    /// </summary>
    public async Task<IReadOnlyList<PendingExplanation>> ReviewListAsync(Account reader, string from, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var shown = (await PendingAsync(cancellationToken: cancellationToken)).Take(limit).ToList();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, reader.Name, "explanations.read", null, null, null,
            new { rows = shown.Count, schools = shown.Select(e => e.SchoolCode).Distinct(StringComparer.Ordinal).Count(), from }, cancellationToken);
        return shown;
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
        ArgumentNullException.ThrowIfNull(reviewer);
        if (reviewer.Role != AccountRole.DataTeam)
        {
            throw new UserErrorException($"Only the data team reviews explanations; '{reviewer.Name}' is not of the data team.");
        }

        if (!accept && string.IsNullOrWhiteSpace(note))
        {
            throw new UserErrorException("Say why the explanation is refused (--note): the school reads it.");
        }

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
                throw new UserErrorException($"There is no explanation {explanationId}. 'sdq review' lists the pending ones.");
            }

            (status, roundId, school) = (reader.GetString(0), reader.GetInt32(1), reader.GetString(2));
        }

        if (status != "pending")
        {
            throw new UserErrorException($"Explanation {explanationId} is {status}, not pending: it was decided (or replaced by a later one) already.");
        }

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
        var confirmed = (int)(await decide.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return confirmed;
    }
}
