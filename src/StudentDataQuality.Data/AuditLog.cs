using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace StudentDataQuality.Data;

/// <summary>
/// What the audit search looks for: each filter exact (none given: none applied), the dates inclusive, in Beijing time.
/// </summary>
public sealed record AuditQuery(string? Actor = null, string? Action = null, string? SchoolCode = null, DateOnly? From = null, DateOnly? To = null);

/// <summary>One entry of the audit log as the search shows it.</summary>
public sealed record AuditEntry(long EventId, DateTimeOffset OccurredAt, string Actor, string Action, int? RoundId, string? SchoolCode, string? Object,
    string Details);

/// <summary>One page of the search, the newest first, and whether older entries follow.</summary>
public sealed record AuditResults(IReadOnlyList<AuditEntry> Entries, bool More);

/// <summary>
/// One entry of the append-only audit log, written on the caller's connection (inside its transaction when it has one,
/// so that the entry stands or falls with what it records). Details are serialised as JSON.
/// </summary>
public static class AuditLog
{
    public static async Task WriteAsync(NpgsqlConnection connection, string actor, string action, int? roundId, string? schoolCode, string? obj,
        object? details, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new NpgsqlCommand("""
            INSERT INTO audit.event (actor, action, round_id, school_code, object, details)
            VALUES (@actor, @action, @round, @school, @object, @details::jsonb)
            """, connection);
        command.Parameters.AddWithValue("actor", actor.Length > 64 ? actor[..64] : actor);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)roundId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)schoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("object", NpgsqlDbType.Text) { Value = (object?)obj ?? DBNull.Value });
        command.Parameters.AddWithValue("details", JsonSerializer.Serialize(details ?? new { }));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The entries matching <paramref name="query"/>, the newest first: <paramref name="limit"/> of them after skipping
    /// <paramref name="offset"/>, filtered and paged in the database (the log is never read whole).
    /// </summary>
    public static async Task<AuditResults> SearchAsync(NpgsqlDataSource dataSource, AuditQuery query, int offset, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var command = dataSource.CreateCommand("""
            SELECT event_id, occurred_at, actor, action, round_id, school_code, object, details::text FROM audit.event
            WHERE  (@actor::text IS NULL OR actor = @actor) AND (@school::text IS NULL OR school_code = @school)
              AND  (@action::text IS NULL OR action = @action)
              AND  (@from::date IS NULL OR occurred_at >= (@from::date::timestamp AT TIME ZONE 'Asia/Shanghai'))
              AND  (@to::date IS NULL OR occurred_at < ((@to::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))
            ORDER  BY event_id DESC
            LIMIT  @limit OFFSET @offset
            """);
        command.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = (object?)query.Actor ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlDbType.Text) { Value = (object?)query.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("action", NpgsqlDbType.Text) { Value = (object?)query.Action ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.Date) { Value = (object?)query.From ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.Date) { Value = (object?)query.To ?? DBNull.Value });
        // One more than shown: whether there is a next page, without counting the whole log.
        command.Parameters.AddWithValue("limit", limit + 1);
        command.Parameters.AddWithValue("offset", offset);
        var entries = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetString(7)));
        }

        var more = entries.Count > limit;
        return new AuditResults(more ? entries[..limit] : entries, more);
    }
}
