using System.Text.Json;
using Npgsql;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Data.Access;

/// <summary>How a sign-in attempt ended.</summary>
public enum SignInOutcome
{
    SignedIn,
    /// <summary>Signed in with a one-time password: a new password must be chosen before anything else.</summary>
    MustChangePassword,
    /// <summary>Unknown account, no password yet, or the wrong password: the same answer for all three.</summary>
    WrongPassword,
    Locked,
    Sealed,
    /// <summary>The right one-time password, given longer ago than it was valid (told only after the password is right).</summary>
    OneTimePasswordExpired,
}

public sealed record SignInResult(SignInOutcome Outcome, Account? Account = null, DateTimeOffset? LockedUntil = null)
{
    /// <summary>The session stamp of the password signed in with (<see cref="SignIns.Stamp"/>); none when not signed in.</summary>
    public string? Stamp { get; init; }
}

/// <summary>The rules of signing in (defaults: 5 failures lock for 15 minutes; 180 days unused seal the account).</summary>
public sealed record SignInPolicy
{
    public int MaxFailures { get; init; } = 5;
    public TimeSpan LockoutTime { get; init; } = TimeSpan.FromMinutes(15);
    public TimeSpan SealAfterUnused { get; init; } = TimeSpan.FromDays(180);

    /// <summary>How long a one-time password (a new account's first, or a reset) is valid; its expiry is stored when it is given.</summary>
    public TimeSpan OneTimePasswordLifetime { get; init; } = TimeSpan.FromHours(72);

    /// <summary>
    /// A hash of no account's password, checked when the account named has no password (unknown, or not given one yet), so
    /// that such an attempt takes as long as a wrong password: the answer is the same, and so is its time.
    /// </summary>
    public string? DecoyHash { get; init; }

    public static SignInPolicy Default { get; } = new();
}

/// <summary>
/// Signing in and passwords, with the rules in one place and every attempt in the audit log. The password hash is checked
/// by the caller's function (the web framework's hasher): this class never sees a password. The account's row is locked
/// for the attempt, so that parallel attempts count every failure.
/// </summary>
public sealed class SignIns(NpgsqlDataSource dataSource, SignInPolicy? policy = null)
{
    private readonly SignInPolicy _policy = policy ?? SignInPolicy.Default;

    /// <summary>
    /// One attempt: the account's password checked under the lockout and sealing rules, and audited. With
    /// <paramref name="confirmingPassword"/>, the attempt is a signed-in account confirming its current password (to choose
    /// a new one): the same rules, but a success is audited as <c>password.confirm</c>, not as a sign-in.
    /// </summary>
    public async Task<SignInResult> SignInAsync(string accountName, Func<string, bool> passwordMatches, string from, bool confirmingPassword = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passwordMatches);
        // The password is checked with no connection held (a check is tens of milliseconds of CPU: two hundred schools signing
        // in at once would otherwise hold the pool); the outcome is then decided on the account's row, locked, as it is then.
        string? verifiedHash = null;
        var verified = false;
        await using (var peek = dataSource.CreateCommand("SELECT password_hash FROM access.account WHERE account = @name"))
        {
            peek.Parameters.AddWithValue("name", accountName ?? "");
            verifiedHash = await peek.ExecuteScalarAsync(cancellationToken) as string;
        }

        if (verifiedHash is not null)
        {
            verified = passwordMatches(verifiedHash);
        }
        else if (_policy.DecoyHash is { } decoy)
        {
            _ = passwordMatches(decoy);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        Account? account = null;
        string? hash = null;
        bool mustChange = false, sealedNow = false, expired = false;
        int failures = 0;
        DateTimeOffset? lockedUntil = null;
        await using (var read = new NpgsqlCommand("""
            SELECT account, role, school_code, district_code, password_hash, must_change_password, failed_sign_ins, locked_until,
                   sealed_at IS NOT NULL OR greatest(last_sign_in_at, password_set_at, created_at) < now() - @seal,
                   must_change_password AND password_expires_at <= now()
            FROM   access.account WHERE account = @name FOR UPDATE
            """, connection, transaction))
        {
            read.Parameters.AddWithValue("name", accountName ?? "");
            read.Parameters.AddWithValue("seal", _policy.SealAfterUnused);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                account = new Account(reader.GetString(0), Account.ParseRole(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3));
                hash = reader.IsDBNull(4) ? null : reader.GetString(4);
                mustChange = reader.GetBoolean(5);
                failures = reader.GetInt32(6);
                lockedUntil = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7);
                sealedNow = reader.GetBoolean(8);
                expired = !reader.IsDBNull(9) && reader.GetBoolean(9);
            }
        }

        // The password changed between the check and the lock (rare): checked again against the password of now.
        if (hash is not null && hash != verifiedHash)
        {
            verified = passwordMatches(hash);
        }

        SignInResult result;
        if (account is null || hash is null)
        {
            result = new SignInResult(SignInOutcome.WrongPassword);
            await AuditLog.WriteAsync(connection, accountName ?? "", "sign-in.failed", null, account?.SchoolCode, accountName ?? "", new { from, reason = account is null ? "unknown account" : "no password set" }, cancellationToken);
        }
        else if (sealedNow)
        {
            result = new SignInResult(SignInOutcome.Sealed, account);
            await Execute(connection, "UPDATE access.account SET sealed_at = coalesce(sealed_at, now()) WHERE account = @name", account.Name, cancellationToken);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.sealed", null, account.SchoolCode, account.Name, new { from }, cancellationToken);
        }
        else if (lockedUntil is { } lockedTill && lockedTill > DateTimeOffset.UtcNow)
        {
            result = new SignInResult(SignInOutcome.Locked, account, lockedTill);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.locked", null, account.SchoolCode, account.Name, new { from, locked_until = lockedTill }, cancellationToken);
        }
        else if (!verified)
        {
            var locks = failures + 1 >= _policy.MaxFailures;
            var until = DateTimeOffset.UtcNow + _policy.LockoutTime;
            await using (var fail = new NpgsqlCommand("""
                UPDATE access.account SET failed_sign_ins = CASE WHEN @locks THEN 0 ELSE failed_sign_ins + 1 END,
                                          locked_until = CASE WHEN @locks THEN @until ELSE locked_until END
                WHERE  account = @name
                """, connection))
            {
                fail.Parameters.AddWithValue("locks", locks);
                fail.Parameters.AddWithValue("until", until);
                fail.Parameters.AddWithValue("name", account.Name);
                await fail.ExecuteNonQueryAsync(cancellationToken);
            }

            result = locks ? new SignInResult(SignInOutcome.Locked, account, until) : new SignInResult(SignInOutcome.WrongPassword);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.failed", null, account.SchoolCode, account.Name,
                new { from, reason = "wrong password", failures = failures + 1, locked = locks }, cancellationToken);
        }
        else if (expired)
        {
            // The password was right: saying that it expired tells nothing to someone who did not know it.
            result = new SignInResult(SignInOutcome.OneTimePasswordExpired, account);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.expired", null, account.SchoolCode, account.Name, new { from }, cancellationToken);
        }
        else
        {
            await Execute(connection, "UPDATE access.account SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = now() WHERE account = @name",
                account.Name, cancellationToken);
            result = new SignInResult(mustChange ? SignInOutcome.MustChangePassword : SignInOutcome.SignedIn, account) { Stamp = Stamp(hash) };
            await AuditLog.WriteAsync(connection, account.Name, confirmingPassword ? "password.confirm" : "sign-in", null, account.SchoolCode, account.Name,
                new { from, must_change_password = mustChange }, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// Sets an account's password hash: a one-time password from the data team (must be changed at first sign-in, valid for
    /// the policy's <see cref="SignInPolicy.OneTimePasswordLifetime"/>, and opens a locked or sealed account), or the
    /// account's own new password. Through the database's account functions (migration 0017), which write the audit entry:
    /// the portal's role may not write a password itself. Returns until when a one-time password is valid.
    /// </summary>
    public async Task<DateTimeOffset?> SetPasswordAsync(string accountName, string passwordHash, bool oneTime, string actor,
        CancellationToken cancellationToken = default)
    {
        DateTimeOffset? validUntil = oneTime ? DateTimeOffset.UtcNow + _policy.OneTimePasswordLifetime : null;
        await using var command = oneTime
            ? dataSource.CreateCommand("SELECT access.reset_password(@name, @hash, @until, @actor)")
            : dataSource.CreateCommand("SELECT access.change_password(@name, @hash)");
        command.Parameters.AddWithValue("name", accountName);
        command.Parameters.AddWithValue("hash", passwordHash);
        if (oneTime)
        {
            command.Parameters.AddWithValue("until", validUntil!.Value);
            command.Parameters.AddWithValue("actor", actor);
        }

        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            throw new UserErrorException($"There is no account '{accountName}'; `sdq user list` shows them.");
        }

        return validUntil;
    }

    /// <summary>
    /// A session's stamp: derived from the password hash it was opened with, so that a new password (a reset by the data
    /// team, or the account's own change) ends every session opened before it.
    /// </summary>
    public static string Stamp(string passwordHash) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(passwordHash)))[..16];

    /// <summary>Whether a session may go on: its account is there, not sealed, and its password is the one the session was opened with.</summary>
    public async Task<bool> SessionValidAsync(string accountName, string stamp, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT sealed_at IS NULL AND left(encode(sha256(convert_to(password_hash, 'UTF8')), 'hex'), 16) = @stamp
            FROM   access.account WHERE account = @name
            """);
        command.Parameters.AddWithValue("name", accountName);
        command.Parameters.AddWithValue("stamp", stamp);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Seals an account: it cannot sign in until the data team gives it a new one-time password.</summary>
    public async Task SealAsync(string accountName, string actor, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT access.seal_account(@name, @actor)");
        command.Parameters.AddWithValue("name", accountName);
        command.Parameters.AddWithValue("actor", actor);
        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            throw new UserErrorException($"There is no account '{accountName}'; `sdq user list` shows them.");
        }
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("name", name);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
