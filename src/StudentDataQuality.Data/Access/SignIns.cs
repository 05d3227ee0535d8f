using System.Net;
using System.Net.Sockets;
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
    /// <summary>The account is locked until <see cref="SignInResult.LockedUntil"/>; told only to the right password.</summary>
    Locked,
    /// <summary>Unused for too long, or sealed by the data team; told only to the right password.</summary>
    Sealed,
    /// <summary>
    /// Too many failures from this address, or on this account from addresses it never signed in from: the password was not
    /// checked; the attempt may be made again at <see cref="SignInResult.LockedUntil"/>.
    /// </summary>
    Throttled,
    /// <summary>The name typed cannot be any account's (<see cref="AccountNames"/>): refused before any look-up.</summary>
    InvalidName,
    /// <summary>The right one-time password, given longer ago than it was valid (told only after the password is right).</summary>
    OneTimePasswordExpired,
}

public sealed record SignInResult(SignInOutcome Outcome, Account? Account = null, DateTimeOffset? LockedUntil = null)
{
    /// <summary>The session stamp of the password signed in with (<see cref="SignIns.Stamp"/>); none when not signed in.</summary>
    public string? Stamp { get; init; }
}

/// <summary>
/// The rules of signing in. Failures are counted per account name and per client address; past the number allowed, each
/// further attempt waits a delay (1 minute, doubled at each failure, at most 15 minutes). An account's delay applies only
/// to addresses it has never signed in from, so that guessing from elsewhere cannot keep it out from where it works; an
/// address's delay applies to every account tried from it. 180 days unused seal an account.
/// </summary>
public sealed record SignInPolicy
{
    /// <summary>Failures on one account name before attempts on it from addresses it never signed in from wait.</summary>
    public int MaxFailures { get; init; } = 5;

    /// <summary>Failures from one address (any account names) before attempts from it wait: more, as an office or school shares one.</summary>
    public int AddressMaxFailures { get; init; } = 20;

    /// <summary>The first delay, doubled at each further failure.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest delay.</summary>
    public TimeSpan LockoutTime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Failures are forgotten this long after the last one (and an account's at a new password).</summary>
    public TimeSpan ForgetFailuresAfter { get; init; } = TimeSpan.FromDays(1);

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
/// by the caller's function (the web framework's hasher): this class never sees a password. An attempt is decided in this
/// order: the name (<see cref="AccountNames"/>), the throttle (<see cref="ThrottleAsync"/>), the password, and only then
/// sealed, locked or a new password to choose: nothing about the account is told to a wrong password. The attempts on one
/// account name are taken one at a time (its throttle row is locked), so that parallel attempts all count.
/// </summary>
public sealed class SignIns(NpgsqlDataSource dataSource, SignInPolicy? policy = null, TimeProvider? clock = null)
{
    private readonly SignInPolicy _policy = policy ?? SignInPolicy.Default;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Puts a refused account name on record (cut to 64 characters, control characters replaced).</summary>
    public async Task RefuseNameAsync(string? accountName, string from, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, "anonymous", "sign-in.refused", null, null, AccountNames.ForRecord(accountName),
            new { from, reason = "not an account name", length = accountName?.Length ?? 0 }, cancellationToken);
    }

    /// <summary>
    /// Whether an attempt on <paramref name="accountName"/> from <paramref name="from"/> must wait, and until when (null: it
    /// may go on). A wait is put on record as <c>sign-in.throttled</c>.
    /// </summary>
    public async Task<DateTimeOffset?> ThrottleAsync(string accountName, string from, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await ThrottledAsync(connection, null, accountName, from, cancellationToken);
    }

    /// <summary>
    /// One attempt: the account's password checked under the throttle and sealing rules, and audited. With
    /// <paramref name="confirmingPassword"/>, the attempt is a signed-in account confirming its current password (to choose
    /// a new one): the same rules, but a success is audited as <c>password.confirm</c>, not as a sign-in.
    /// </summary>
    public async Task<SignInResult> SignInAsync(string accountName, Func<string, bool> passwordMatches, string from, bool confirmingPassword = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passwordMatches);
        ArgumentNullException.ThrowIfNull(from);
        if (!AccountNames.IsValid(accountName))
        {
            await RefuseNameAsync(accountName, from, cancellationToken);
            return new SignInResult(SignInOutcome.InvalidName);
        }

        // The password is checked with no connection held (a check is tens of milliseconds of CPU: two hundred schools signing
        // in at once would otherwise hold the pool); the outcome is then decided on the account's rows, locked, as they are then.
        string? verifiedHash;
        var verified = false;
        await using (var peek = dataSource.CreateCommand("SELECT password_hash FROM access.account WHERE account = @name"))
        {
            peek.Parameters.AddWithValue("name", accountName);
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
        // Attempts on one name, one at a time: a burst sent at once is counted, and throttled, as if sent one after another. An
        // advisory lock of the transaction, not the throttle's row: a name with no failures yet has no row to lock.
        await using (var serialise = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended(@subject, 0))", connection, transaction))
        {
            serialise.Parameters.AddWithValue("subject", AccountSubject(accountName));
            await serialise.ExecuteNonQueryAsync(cancellationToken);
        }

        if (await ThrottledAsync(connection, transaction, accountName, from, cancellationToken) is { } wait)
        {
            await transaction.CommitAsync(cancellationToken);
            return new SignInResult(SignInOutcome.Throttled, LockedUntil: wait);
        }

        Account? account = null;
        string? hash = null;
        bool mustChange = false, sealedNow = false, expired = false;
        DateTimeOffset? lockedUntil = null, passwordSetAt = null;
        await using (var read = new NpgsqlCommand("""
            SELECT account, role, school_code, district_code, password_hash, must_change_password, locked_until, password_set_at,
                   sealed_at IS NOT NULL OR greatest(last_sign_in_at, password_set_at, created_at) < now() - @seal,
                   must_change_password AND password_expires_at <= now()
            FROM   access.account WHERE account = @name FOR UPDATE
            """, connection, transaction))
        {
            read.Parameters.AddWithValue("name", accountName);
            read.Parameters.AddWithValue("seal", _policy.SealAfterUnused);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                account = new Account(reader.GetString(0), Account.ParseRole(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3));
                hash = reader.IsDBNull(4) ? null : reader.GetString(4);
                mustChange = reader.GetBoolean(5);
                lockedUntil = reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6);
                passwordSetAt = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7);
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
        if (account is null || hash is null || !verified)
        {
            var failures = await CountFailureAsync(connection, accountName, from, passwordSetAt, cancellationToken);
            result = new SignInResult(SignInOutcome.WrongPassword);
            var reason = account is null ? "unknown account" : hash is null ? "no password set" : "wrong password";
            await AuditLog.WriteAsync(connection, accountName, "sign-in.failed", null, account?.SchoolCode, accountName,
                new { from, reason, failures }, cancellationToken);
        }
        else if (sealedNow)
        {
            result = new SignInResult(SignInOutcome.Sealed, account);
            await Execute(connection, "UPDATE access.account SET sealed_at = coalesce(sealed_at, now()) WHERE account = @name", account.Name, cancellationToken);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.sealed", null, account.SchoolCode, account.Name, new { from }, cancellationToken);
        }
        else if (lockedUntil is { } lockedTill && lockedTill > _clock.GetUtcNow())
        {
            result = new SignInResult(SignInOutcome.Locked, account, lockedTill);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.locked", null, account.SchoolCode, account.Name, new { from, locked_until = lockedTill }, cancellationToken);
        }
        else if (expired)
        {
            // The password was right: saying that it expired tells nothing to someone who did not know it.
            result = new SignInResult(SignInOutcome.OneTimePasswordExpired, account);
            await AuditLog.WriteAsync(connection, account.Name, "sign-in.expired", null, account.SchoolCode, account.Name, new { from }, cancellationToken);
        }
        else
        {
            await using (var succeeded = new NpgsqlBatch(connection))
            {
                succeeded.BatchCommands.Add(Batched("DELETE FROM access.sign_in_throttle WHERE subject IN (@account_subject, @address_subject)",
                    ("account_subject", AccountSubject(account.Name)), ("address_subject", AddressSubject(from))));
                succeeded.BatchCommands.Add(Batched("""
                    INSERT INTO access.sign_in_origin (account, address, last_success_at) VALUES (@name, @address, @now)
                    ON CONFLICT (account, address) DO UPDATE SET last_success_at = excluded.last_success_at
                    """, ("name", account.Name), ("address", AddressKey(from)), ("now", _clock.GetUtcNow())));
                succeeded.BatchCommands.Add(Batched("UPDATE access.account SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = now() WHERE account = @name",
                    ("name", account.Name)));
                await succeeded.ExecuteNonQueryAsync(cancellationToken);
            }

            result = new SignInResult(mustChange ? SignInOutcome.MustChangePassword : SignInOutcome.SignedIn, account) { Stamp = Stamp(hash) };
            await AuditLog.WriteAsync(connection, account.Name, confirmingPassword ? "password.confirm" : "sign-in", null, account.SchoolCode, account.Name,
                new { from, must_change_password = mustChange }, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// The address a throttle counts by: an IPv4 address itself; an IPv6 address by its /64 (one subscriber's network, in
    /// which an attacker has addresses to spare).
    /// </summary>
    public static string AddressKey(string from)
    {
        if (!IPAddress.TryParse(from, out var address))
        {
            return from.Length > 64 ? from[..64] : from;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static string AccountSubject(string accountName) => "account:" + accountName;

    private static string AddressSubject(string from) => "address:" + AddressKey(from);

    private async Task<DateTimeOffset?> ThrottledAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string accountName, string from,
        CancellationToken cancellationToken)
    {
        DateTimeOffset? until;
        await using (var command = new NpgsqlCommand("""
            SELECT max(until) FROM (
                SELECT blocked_until AS until FROM access.sign_in_throttle WHERE subject = @address_subject
                UNION ALL
                SELECT t.blocked_until FROM access.sign_in_throttle t
                WHERE  t.subject = @account_subject
                  AND  t.last_failure_at > coalesce((SELECT password_set_at FROM access.account WHERE account = @name), '-infinity')
                  AND  NOT EXISTS (SELECT FROM access.sign_in_origin o WHERE o.account = @name AND o.address = @address)) blocks
            WHERE until > @now
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("address_subject", AddressSubject(from));
            command.Parameters.AddWithValue("account_subject", AccountSubject(accountName));
            command.Parameters.AddWithValue("name", accountName);
            command.Parameters.AddWithValue("address", AddressKey(from));
            command.Parameters.AddWithValue("now", _clock.GetUtcNow());
            until = await command.ExecuteScalarAsync(cancellationToken) is DateTime at ? new DateTimeOffset(at, TimeSpan.Zero) : null;
        }

        if (until is not null)
        {
            await AuditLog.WriteAsync(connection, accountName, "sign-in.throttled", null, null, accountName, new { from, until }, cancellationToken);
        }

        return until;
    }

    /// <summary>Counts a failure against the account name and the address; the answer is the account name's count.</summary>
    private async Task<int> CountFailureAsync(NpgsqlConnection connection, string accountName, string from, DateTimeOffset? passwordSetAt,
        CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        var forget = now - _policy.ForgetFailuresAfter;
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Failure(AccountSubject(accountName), _policy.MaxFailures, passwordSetAt > forget ? passwordSetAt.Value : forget));
        batch.BatchCommands.Add(Failure(AddressSubject(from), _policy.AddressMaxFailures, forget));
        batch.BatchCommands.Add(Batched("DELETE FROM access.sign_in_throttle WHERE last_failure_at < @forget", ("forget", forget)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetInt32(0);

        NpgsqlBatchCommand Failure(string subject, int allowed, DateTimeOffset forgetBefore) => Batched("""
            INSERT INTO access.sign_in_throttle AS t (subject, failures, last_failure_at, blocked_until)
            VALUES (@subject, 1, @now, @now + access.sign_in_delay(1, @allowed, @first, @ceiling))
            ON CONFLICT (subject) DO UPDATE SET
                failures        = CASE WHEN t.last_failure_at <= @forget THEN 1 ELSE t.failures + 1 END,
                last_failure_at = @now,
                blocked_until   = @now + access.sign_in_delay(CASE WHEN t.last_failure_at <= @forget THEN 1 ELSE t.failures + 1 END,
                                                              @allowed, @first, @ceiling)
            RETURNING failures
            """, ("subject", subject), ("now", now), ("allowed", allowed), ("first", _policy.FirstDelay), ("ceiling", _policy.LockoutTime),
            ("forget", forgetBefore));
    }

    private static NpgsqlBatchCommand Batched(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
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
            throw new UserErrorException(new UserMessage("Account.NotFound", accountName));
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
            throw new UserErrorException(new UserMessage("Account.NotFound", accountName));
        }
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("name", name);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
