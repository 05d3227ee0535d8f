using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace StudentDataQuality.Data.Access;

/// <summary>
/// <c>sdq_app</c>, the database role the web portal connects as (migration 0010): it reads and writes the project's tables
/// but may only read and append to the audit log, owns nothing and cannot become the owner.
/// </summary>
public static class AppRole
{
    public const string Name = "sdq_app";

    /// <summary>
    /// Sets the role's password, as the owner. The server is given a SCRAM-SHA-256 verifier, never the password, so the
    /// password appears in no statement the server could log.
    /// </summary>
    public static async Task SetPasswordAsync(NpgsqlDataSource owner, string password, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentException.ThrowIfNullOrEmpty(password);
        await using var connection = await owner.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // ALTER ROLE takes no parameters: the verifier travels as a setting of this transaction and is quoted by format().
        await using (var set = new NpgsqlCommand("SELECT set_config('sdq.app_role_verifier', @verifier, true)", connection, transaction))
        {
            set.Parameters.AddWithValue("verifier", ScramVerifier(password));
            await set.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var alter = new NpgsqlCommand(
            "DO $$ BEGIN EXECUTE format('ALTER ROLE sdq_app PASSWORD %L', current_setting('sdq.app_role_verifier')); END $$",
            connection, transaction))
        {
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The owner's connection string with the app role as the user instead (same server and database).</summary>
    public static string ConnectionString(string ownerConnectionString, string password) =>
        new NpgsqlConnectionStringBuilder(ownerConnectionString) { Username = Name, Password = password }.ConnectionString;

    /// <summary>
    /// Takes from sdq_app what it need not write of Hangfire's storage (the server, list, aggregated-counter and schema tables;
    /// migration 0017). Hangfire makes and upgrades its schema at run time, after the migrations, with the default privileges of
    /// 0010: whoever prepared the storage as the owner calls this after it.
    /// </summary>
    public static void RestrictJobStorage(NpgsqlConnection owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        using var command = new NpgsqlCommand("SELECT access.restrict_job_storage()", owner);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// What the data source's role may do that the portal's should not: be a superuser, own or change the audit log, choose an
    /// audit event's time or id, add, remove or re-role accounts. Empty when it is as restricted as sdq_app (a configured
    /// SDQ_WEB_DB is checked with this at start).
    /// </summary>
    public static async Task<IReadOnlyList<string>> ExcessPrivilegesAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand("""
            SELECT r.rolsuper, r.rolbypassrls,
                   pg_has_role(current_user, c.relowner, 'USAGE'),
                   has_table_privilege('audit.event', 'UPDATE'), has_table_privilege('audit.event', 'DELETE'),
                   has_table_privilege('audit.event', 'TRUNCATE'),
                   has_column_privilege('audit.event', 'occurred_at', 'INSERT'), has_column_privilege('audit.event', 'event_id', 'INSERT'),
                   has_table_privilege('access.account', 'INSERT'), has_table_privilege('access.account', 'DELETE'),
                   has_column_privilege('access.account', 'role', 'UPDATE'), has_column_privilege('access.account', 'password_hash', 'UPDATE')
            FROM   pg_catalog.pg_roles r, pg_catalog.pg_class c
            WHERE  r.rolname = current_user AND c.oid = 'audit.event'::regclass
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        string[] what = ["is a superuser", "bypasses row security", "owns the audit log (or may act as its owner)",
            "may UPDATE the audit log", "may DELETE from the audit log", "may TRUNCATE the audit log",
            "may choose an audit event's time", "may choose an audit event's id", "may add accounts", "may delete accounts",
            "may change an account's role", "may write a password hash"];
        return Enumerable.Range(0, what.Length).Where(reader.GetBoolean).Select(i => what[i]).ToArray();
    }

    /// <summary>
    /// A SCRAM-SHA-256 verifier as PostgreSQL stores it (RFC 5802/7677; PostgreSQL's scram_build_secret):
    /// <c>SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey</c>, base64.
    /// </summary>
    public static string ScramVerifier(string password, int iterations = 4096)
    {
        ArgumentNullException.ThrowIfNull(password);
        var salt = RandomNumberGenerator.GetBytes(16);
        // PostgreSQL applies SASLprep to the password, which leaves printable ASCII unchanged; the passwords made here are ASCII.
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var storedKey = SHA256.HashData(HMACSHA256.HashData(salted, "Client Key"u8));
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}");
    }
}
