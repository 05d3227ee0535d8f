using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace StudentDataQuality.Data;

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
}
