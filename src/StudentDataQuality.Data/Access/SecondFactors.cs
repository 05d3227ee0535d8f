using Npgsql;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Data.Access;

/// <summary>An account's authenticator as stored: the encrypted secret, whether enrolment is finished, and its throttle.</summary>
public sealed record SecondFactorState(bool Enrolled, byte[] ProtectedSecret, string KeyId, int RecoveryCodesLeft, DateTimeOffset? LockedUntil);

/// <summary>A sign-in whose password was right, waiting for its second factor (no session yet).</summary>
public sealed record PendingSignIn(Account Account, string Stamp, bool MustChange);

/// <summary>
/// The second factor's storage (migration 0019): an account's TOTP secret (encrypted by the caller; this class never sees
/// it in clear, nor a code), the step of the last code taken (a code is taken once), recovery codes as hashes (each
/// taken once), failures throttled like password failures (<see cref="SignInPolicy.MaxFailures"/> lock for
/// <see cref="SignInPolicy.LockoutTime"/>), and the sign-ins waiting for a code. Each change that matters is audited in
/// the same transaction.
/// </summary>
public sealed class SecondFactors(NpgsqlDataSource dataSource, SignInPolicy? policy = null)
{
    private readonly SignInPolicy _policy = policy ?? SignInPolicy.Default;

    public async Task<SecondFactorState?> FindAsync(string accountName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT enrolled_at IS NOT NULL, secret_protected, key_id, cardinality(recovery_code_hashes), locked_until
            FROM   access.second_factor WHERE account = @name
            """);
        command.Parameters.AddWithValue("name", accountName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new SecondFactorState(reader.GetBoolean(0), reader.GetFieldValue<byte[]>(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4))
            : null;
    }

    /// <summary>
    /// Starts (or starts again) an enrolment with a new secret; false when the account has a finished enrolment, which only
    /// the data team's reset removes. The failures counted so far stay.
    /// </summary>
    public async Task<bool> StartEnrolmentAsync(string accountName, byte[] protectedSecret, string keyId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO access.second_factor (account, secret_protected, key_id) VALUES (@name, @secret, @key)
            ON CONFLICT (account) DO UPDATE SET secret_protected = excluded.secret_protected, key_id = excluded.key_id, started_at = now()
            WHERE  access.second_factor.enrolled_at IS NULL
            """);
        command.Parameters.AddWithValue("name", accountName);
        command.Parameters.AddWithValue("secret", protectedSecret);
        command.Parameters.AddWithValue("key", keyId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Finishes an enrolment whose first code (of <paramref name="step"/>) was right: the secret becomes the account's, with
    /// its recovery codes (hashes). False when there was no enrolment under way (finished meanwhile, or reset).
    /// </summary>
    public async Task<bool> FinishEnrolmentAsync(Account account, long step, IReadOnlyList<string> recoveryCodeHashes, string from,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(recoveryCodeHashes);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var finish = new NpgsqlCommand("""
            UPDATE access.second_factor SET enrolled_at = now(), last_step = @step, recovery_code_hashes = @hashes, recovery_codes_used = 0,
                                            failed_codes = 0, locked_until = NULL
            WHERE  account = @name AND enrolled_at IS NULL
            """, connection, transaction))
        {
            finish.Parameters.AddWithValue("name", account.Name);
            finish.Parameters.AddWithValue("step", step);
            finish.Parameters.AddWithValue("hashes", recoveryCodeHashes.ToArray());
            if (await finish.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await AuditLog.WriteAsync(connection, account.Name, "second-factor.enrol", null, account.SchoolCode, account.Name,
            new { from, recovery_codes = recoveryCodeHashes.Count }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Takes a right code of <paramref name="step"/>: false when a code of that step or a later one was taken before (a
    /// replayed code). A code taken clears the failures.
    /// </summary>
    public async Task<bool> TakeCodeAsync(Account account, long step, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var take = new NpgsqlCommand("""
            UPDATE access.second_factor SET last_step = @step, failed_codes = 0
            WHERE  account = @name AND enrolled_at IS NOT NULL AND (last_step IS NULL OR last_step < @step)
              -- A code checked while the lock was being set by a parallel attempt is not taken.
              AND  (locked_until IS NULL OR locked_until <= now())
            """, connection, transaction))
        {
            take.Parameters.AddWithValue("name", account.Name);
            take.Parameters.AddWithValue("step", step);
            if (await take.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await AuditLog.WriteAsync(connection, account.Name, "sign-in.second-factor", null, account.SchoolCode, account.Name, new { from, with = "code" },
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Takes a recovery code (by its hash), once: the codes left, or null when it is none of the account's unused codes.</summary>
    public async Task<int?> TakeRecoveryCodeAsync(Account account, string codeHash, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        int left;
        await using (var take = new NpgsqlCommand("""
            UPDATE access.second_factor SET recovery_code_hashes = array_remove(recovery_code_hashes, @hash),
                                            recovery_codes_used = recovery_codes_used + 1, failed_codes = 0
            WHERE  account = @name AND enrolled_at IS NOT NULL AND @hash = ANY (recovery_code_hashes)
              AND  (locked_until IS NULL OR locked_until <= now())
            RETURNING cardinality(recovery_code_hashes)
            """, connection, transaction))
        {
            take.Parameters.AddWithValue("name", account.Name);
            take.Parameters.AddWithValue("hash", codeHash);
            if (await take.ExecuteScalarAsync(cancellationToken) is not int remaining)
            {
                return null;
            }

            left = remaining;
        }

        await AuditLog.WriteAsync(connection, account.Name, "second-factor.recovery-code", null, account.SchoolCode, account.Name,
            new { from, left }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return left;
    }

    /// <summary>
    /// Counts a wrong, replayed or unreadable code, audited with its <paramref name="reason"/>; at the policy's number of
    /// failures the second factor is locked for the lockout time, and that time is returned (else null).
    /// </summary>
    public async Task<DateTimeOffset?> FailedAsync(Account account, string reason, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Every MaxFailures failures lock it, each lock twice as long as the one before (LockoutTime, then double, up to a
        // day), until a right code clears the count: guessing a six-digit code stays out of reach however long it goes on.
        int failures = 1;
        DateTimeOffset? until = null;
        await using (var fail = new NpgsqlCommand("""
            UPDATE access.second_factor SET
                   failed_codes = failed_codes + 1,
                   locked_until = CASE WHEN (failed_codes + 1) % @max = 0
                                       THEN now() + least(@lockout * power(2, least((failed_codes + 1) / @max - 1, 10)), interval '24 hours')
                                       ELSE locked_until END
            WHERE  account = @name
            RETURNING failed_codes, locked_until
            """, connection, transaction))
        {
            fail.Parameters.AddWithValue("name", account.Name);
            fail.Parameters.AddWithValue("max", _policy.MaxFailures);
            fail.Parameters.AddWithValue("lockout", _policy.LockoutTime);
            await using var reader = await fail.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                failures = reader.GetInt32(0);
                until = reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1);
            }
        }

        var locks = failures % _policy.MaxFailures == 0;
        await AuditLog.WriteAsync(connection, account.Name, "second-factor.failed", null, account.SchoolCode, account.Name,
            new { from, reason, failures, locked = locks }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return locks ? until : null;
    }

    /// <summary>A code refused without being checked, because the second factor is locked: audited like a locked sign-in.</summary>
    public async Task LockedAttemptAsync(Account account, DateTimeOffset lockedUntil, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, account.Name, "second-factor.locked", null, account.SchoolCode, account.Name,
            new { from, locked_until = lockedUntil }, cancellationToken);
    }

    /// <summary>
    /// Removes an account's second factor (enrolled or under way), as the data team does for a lost phone: the account
    /// enrols again at its next sign-in (or may, for a role that does not need one). Audited, also when there was none.
    /// </summary>
    public async Task<bool> ResetAsync(string accountName, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(accountName);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string? school;
        bool exists;
        await using (var find = new NpgsqlCommand("SELECT school_code FROM access.account WHERE account = @name", connection, transaction))
        {
            find.Parameters.AddWithValue("name", accountName);
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            exists = await reader.ReadAsync(cancellationToken);
            school = exists && !reader.IsDBNull(0) ? reader.GetString(0) : null;
        }

        if (!exists)
        {
            throw new UserErrorException(new UserMessage("SecondFactor.NoAccount", accountName));
        }

        bool wasEnrolled = false, removed;
        await using (var delete = new NpgsqlCommand(
            "DELETE FROM access.second_factor WHERE account = @name RETURNING enrolled_at IS NOT NULL", connection, transaction))
        {
            delete.Parameters.AddWithValue("name", accountName);
            var answer = await delete.ExecuteScalarAsync(cancellationToken);
            removed = answer is bool;
            wasEnrolled = answer is true;
        }

        await using (var pending = new NpgsqlCommand("DELETE FROM access.pending_sign_in WHERE account = @name", connection, transaction))
        {
            pending.Parameters.AddWithValue("name", accountName);
            await pending.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.WriteAsync(connection, actor, "second-factor.reset", null, school, accountName,
            new { was_enrolled = wasEnrolled, enrolment_under_way = removed && !wasEnrolled }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return wasEnrolled;
    }

    /// <summary>Keeps a sign-in waiting for its second factor for <paramref name="lifetime"/>, under the hash of its cookie's token.</summary>
    public async Task StartPendingAsync(string tokenHash, Account account, string stamp, bool mustChange, TimeSpan lifetime,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        await using var command = dataSource.CreateCommand("""
            WITH gone AS (DELETE FROM access.pending_sign_in WHERE expires_at < now() - interval '1 hour')
            INSERT INTO access.pending_sign_in (token_hash, account, stamp, must_change, expires_at) VALUES (@token, @name, @stamp, @must_change, now() + @lifetime)
            """);
        command.Parameters.AddWithValue("token", tokenHash);
        command.Parameters.AddWithValue("name", account.Name);
        command.Parameters.AddWithValue("stamp", stamp);
        command.Parameters.AddWithValue("must_change", mustChange);
        command.Parameters.AddWithValue("lifetime", lifetime);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The sign-in waiting under that token, while it has not expired.</summary>
    public Task<PendingSignIn?> FindPendingAsync(string tokenHash, CancellationToken cancellationToken = default) =>
        PendingAsync(take: false, tokenHash, factorDoneOnly: false, cancellationToken);

    /// <summary>
    /// Takes the sign-in waiting under that token (once: a second call finds nothing), while it has not expired; with
    /// <paramref name="factorDoneOnly"/>, only when its code was entered at enrolment (<see cref="FactorDoneAsync"/>).
    /// </summary>
    public Task<PendingSignIn?> TakePendingAsync(string tokenHash, bool factorDoneOnly, CancellationToken cancellationToken = default) =>
        PendingAsync(take: true, tokenHash, factorDoneOnly, cancellationToken);

    /// <summary>Marks the sign-in waiting under that token as having passed its second factor (at enrolment).</summary>
    public async Task FactorDoneAsync(string tokenHash, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE access.pending_sign_in SET factor_done = true WHERE token_hash = @token");
        command.Parameters.AddWithValue("token", tokenHash);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<PendingSignIn?> PendingAsync(bool take, string tokenHash, bool factorDoneOnly, CancellationToken cancellationToken)
    {
        var sql = take
            ? """
              WITH taken AS (DELETE FROM access.pending_sign_in WHERE token_hash = @token AND (factor_done OR NOT @done_only)
                             RETURNING account, stamp, must_change, expires_at)
              SELECT a.account, a.role, a.school_code, a.district_code, t.stamp, t.must_change
              FROM   taken t JOIN access.account a USING (account) WHERE t.expires_at > now()
              """
            : """
              SELECT a.account, a.role, a.school_code, a.district_code, p.stamp, p.must_change
              FROM   access.pending_sign_in p JOIN access.account a USING (account) WHERE p.token_hash = @token AND p.expires_at > now()
              """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("token", tokenHash);
        if (take)
        {
            command.Parameters.AddWithValue("done_only", factorDoneOnly);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new PendingSignIn(new Account(reader.GetString(0), Account.ParseRole(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3)), reader.GetString(4), reader.GetBoolean(5))
            : null;
    }
}
