using System.Security.Cryptography;
using Npgsql;

namespace StudentDataQuality.Data.Access;

/// <summary>How long a portal session lasts: at most <see cref="Lifetime"/> from sign-in, and ends after <see cref="IdleTimeout"/> unused.</summary>
public sealed record SessionPolicy
{
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromHours(12);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How stale a session's last use may be before it is written again: a session's row is written at most once a minute, not
    /// on every request; the idle timeout is therefore kept to within this.
    /// </summary>
    public TimeSpan TouchEvery { get; init; } = TimeSpan.FromMinutes(1);

    public static SessionPolicy Default { get; } = new();
}

/// <summary>
/// Portal sessions on the server (access.session, migration 0016). The cookie carries a random token of 256 bits; the table
/// keeps only its sha256. Each request is checked with one statement (<see cref="ContinueAsync"/>): the session is open,
/// within its lifetime and idle time, its account is not sealed and still has the password it was opened with.
/// </summary>
public sealed class Sessions(NpgsqlDataSource dataSource, SessionPolicy? policy = null, TimeProvider? clock = null)
{
    private readonly SessionPolicy _policy = policy ?? SessionPolicy.Default;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Opens a session for an account signed in with the password of <paramref name="stamp"/>; the answer is the cookie's token.</summary>
    public async Task<string> OpenAsync(string accountName, string stamp, string from, CancellationToken cancellationToken = default)
    {
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = _clock.GetUtcNow();
        await using var batch = dataSource.CreateBatch();
        // The account's sessions that are over are cleared as a new one opens (sign-in and sign-out stay in the audit log).
        batch.BatchCommands.Add(Command("DELETE FROM access.session WHERE account = @account AND (ended_at IS NOT NULL OR expires_at < @now)",
            ("account", accountName), ("now", now)));
        batch.BatchCommands.Add(Command("""
            INSERT INTO access.session (token_hash, account, stamp, created_at, last_seen_at, expires_at, created_from)
            VALUES (@hash, @account, @stamp, @now, @now, @expires, @from)
            """, ("hash", Hash(token)), ("account", accountName), ("stamp", stamp), ("now", now), ("expires", now + _policy.Lifetime),
            ("from", from.Length > 64 ? from[..64] : from)));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return token;
    }

    /// <summary>
    /// Whether the session of <paramref name="token"/> may go on for <paramref name="accountName"/>; its last use is recorded
    /// (at most once per <see cref="SessionPolicy.TouchEvery"/>). One statement, one round trip.
    /// </summary>
    public async Task<bool> ContinueAsync(string token, string accountName, CancellationToken cancellationToken = default)
    {
        var now = _clock.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            WITH live AS (
                SELECT s.token_hash, s.last_seen_at
                FROM   access.session s JOIN access.account a ON a.account = s.account
                WHERE  s.token_hash = @hash AND s.account = @account AND s.ended_at IS NULL
                  AND  s.expires_at > @now AND s.last_seen_at > @now - @idle
                  AND  a.sealed_at IS NULL AND left(encode(sha256(convert_to(a.password_hash, 'UTF8')), 'hex'), 16) = s.stamp),
            touched AS (
                UPDATE access.session s SET last_seen_at = @now FROM live
                WHERE  s.token_hash = live.token_hash AND live.last_seen_at < @now - @touch)
            SELECT count(*) FROM live
            """);
        command.Parameters.AddWithValue("hash", Hash(token));
        command.Parameters.AddWithValue("account", accountName);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("idle", _policy.IdleTimeout);
        command.Parameters.AddWithValue("touch", _policy.TouchEvery);
        return await command.ExecuteScalarAsync(cancellationToken) is 1L;
    }

    /// <summary>Ends one session (sign-out): its cookie, and every copy of it, opens nothing any more. On record as <c>sign-out</c>.</summary>
    public async Task EndAsync(string token, string from, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            UPDATE access.session s SET ended_at = @now FROM access.account a
            WHERE  s.token_hash = @hash AND s.ended_at IS NULL AND a.account = s.account
            RETURNING s.account, a.school_code
            """, connection);
        command.Parameters.AddWithValue("hash", Hash(token));
        command.Parameters.AddWithValue("now", _clock.GetUtcNow());
        string? account = null, school = null;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                account = reader.GetString(0);
                school = reader.IsDBNull(1) ? null : reader.GetString(1);
            }
        }

        if (account is not null)
        {
            await AuditLog.WriteAsync(connection, account, "sign-out", null, school, account, new { from }, cancellationToken);
        }
    }

    /// <summary>Ends every open session of an account (a new password: the sessions opened before it end).</summary>
    public async Task EndAllAsync(string accountName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE access.session SET ended_at = @now WHERE account = @account AND ended_at IS NULL");
        command.Parameters.AddWithValue("account", accountName);
        command.Parameters.AddWithValue("now", _clock.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static byte[] Hash(string token) => SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(token));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
