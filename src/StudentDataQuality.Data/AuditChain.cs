using Npgsql;

namespace StudentDataQuality.Data;

/// <summary>The first place where the audit chain does not hold: which event, when, and what differs.</summary>
public sealed record AuditChainBreak(long EventId, DateTimeOffset OccurredAt, long Position, string Problem);

/// <summary>
/// What <see cref="AuditChain.VerifyAsync"/> found: how many events the chain links, its end (position and hash, worth
/// keeping outside the database: a log cut short from its end is told only by comparing with a kept end), and the first
/// break, if any.
/// </summary>
public sealed record AuditChainReport(long Linked, long Position, string Head, AuditChainBreak? Break)
{
    public bool Whole => Break is null;
}

/// <summary>
/// The hash chain over the audit log (migration 0017): every event is linked at its commit to the one sealed before it, by
/// sha256 over the previous hash and the event's canonical text. Verifying seals what is waiting first, then walks the chain
/// in order; events whose transaction is still open are invisible here and not yet part of the chain, so they are no break.
/// Run as the owner (`sdq audit verify`).
/// </summary>
public static class AuditChain
{
    private const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>Links the committed events that are not linked yet; returns how many.</summary>
    public static async Task<long> SealAsync(NpgsqlDataSource owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        await using var command = owner.CreateCommand("SELECT audit.seal()");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Verifies the chain; with <paramref name="keptEnd"/> (an end an earlier verify printed, kept outside the database) also
    /// that the chain still holds that link: a log rewritten from before it, or cut short, no longer does.
    /// </summary>
    public static async Task<AuditChainReport> VerifyAsync(NpgsqlDataSource owner, (long Position, string Hash)? keptEnd = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        await SealAsync(owner, cancellationToken);
        await using var connection = await owner.OpenConnectionAsync(cancellationToken);
        // One snapshot for the walk and the look for unlinked events: what a commit adds meanwhile is seen by neither.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        long linked = 0, position = 0;
        var head = Genesis;
        await using (var summary = new NpgsqlCommand("SELECT count(*), coalesce(max(seq), 0) FROM audit.link", connection, transaction))
        await using (var reader = await summary.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (linked, position) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        await using (var last = new NpgsqlCommand("SELECT hash FROM audit.link ORDER BY seq DESC LIMIT 1", connection, transaction))
        {
            head = await last.ExecuteScalarAsync(cancellationToken) as string ?? Genesis;
        }

        // The first link, in chain order, that fails one of the checks; the events are recomputed in the database, where their
        // canonical text is made (audit.canonical), as they were when sealed.
        await using (var walk = new NpgsqlCommand($"""
            WITH chain AS (
                SELECT l.seq, l.event_id, l.occurred_at, l.prev_hash, l.hash,
                       lag(l.seq) OVER w AS before_seq, lag(l.hash) OVER w AS before_hash, lag(l.event_id) OVER w AS before_event
                FROM   audit.link l
                WINDOW w AS (ORDER BY l.seq))
            SELECT c.seq, c.event_id, coalesce(e.occurred_at, c.occurred_at), e.event_id IS NULL, c.before_seq, c.before_event,
                   c.prev_hash = coalesce(c.before_hash, '{Genesis}'),
                   e.event_id IS NOT NULL AND audit.link_hash(c.prev_hash, e) = c.hash,
                   e.event_id IS NOT NULL AND e.occurred_at = c.occurred_at
            FROM   chain c LEFT JOIN audit.event e ON e.event_id = c.event_id
            WHERE  c.seq <> coalesce(c.before_seq, 0) + 1
               OR  c.prev_hash <> coalesce(c.before_hash, '{Genesis}')
               OR  e.event_id IS NULL
               OR  audit.link_hash(c.prev_hash, e) <> c.hash
            ORDER  BY c.seq LIMIT 1
            """, connection, transaction))
        await using (var reader = await walk.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                var seq = reader.GetInt64(0);
                var eventId = reader.GetInt64(1);
                var at = reader.GetFieldValue<DateTimeOffset>(2);
                var missing = reader.GetBoolean(3);
                long? beforeSeq = reader.IsDBNull(4) ? null : reader.GetInt64(4);
                long? beforeEvent = reader.IsDBNull(5) ? null : reader.GetInt64(5);
                var prevHolds = reader.GetBoolean(6);
                var timeHolds = reader.GetBoolean(8);
                var problem =
                    seq != (beforeSeq ?? 0) + 1
                        ? $"the links at positions {(beforeSeq ?? 0) + 1} to {seq - 1} are missing (after {(beforeEvent is { } b ? $"event {b}" : "the start")}): events and their links were removed"
                    : missing ? "the event is missing from the log: it was deleted after it was sealed"
                    : !prevHolds ? $"its link does not follow the one before ({(beforeEvent is { } p ? $"event {p}" : "the start")}): the link was changed"
                    : !timeHolds ? "its time was changed after it was sealed"
                    : "its recorded fields (actor, action, round, school, object or details) were changed after it was sealed";
                return new AuditChainReport(linked, position, head, new AuditChainBreak(eventId, at, seq, problem));
            }
        }

        // An event in no link and not waiting to be sealed was put into the log behind its triggers (or its link removed).
        await using (var outside = new NpgsqlCommand("""
            SELECT e.event_id, e.occurred_at FROM audit.event e
            WHERE  NOT EXISTS (SELECT FROM audit.link l WHERE l.event_id = e.event_id)
              AND  NOT EXISTS (SELECT FROM audit.unlinked u WHERE u.event_id = e.event_id)
            ORDER  BY e.event_id LIMIT 1
            """, connection, transaction))
        await using (var reader = await outside.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                return new AuditChainReport(linked, position, head, new AuditChainBreak(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), 0,
                    "the event is in no link of the chain: it was put into the log with the log's triggers disabled, or its link was removed"));
            }
        }

        if (keptEnd is { } kept)
        {
            await using var check = new NpgsqlCommand("SELECT l.hash, l.event_id, l.occurred_at FROM audit.link l WHERE l.seq = @seq", connection, transaction);
            check.Parameters.AddWithValue("seq", kept.Position);
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return new AuditChainReport(linked, position, head, new AuditChainBreak(0, DateTimeOffset.MinValue, kept.Position,
                    $"the chain ends at position {position}, before the end kept ({kept.Position}): events were cut from its end"));
            }

            if (!string.Equals(reader.GetString(0), kept.Hash, StringComparison.OrdinalIgnoreCase))
            {
                return new AuditChainReport(linked, position, head, new AuditChainBreak(reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2),
                    kept.Position, "its link is not the end kept: the log was rewritten up to it, and every link after it recomputed"));
            }
        }

        return new AuditChainReport(linked, position, head, null);
    }
}
