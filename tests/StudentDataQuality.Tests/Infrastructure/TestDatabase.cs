using System.Security.Cryptography;
using System.Text;
using Npgsql;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Migrations;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// The suite's PostgreSQL: the same embedded cluster the program starts (in a throw-away folder, fsync off), or the
/// server named by SDQ_TEST_DB. Started once per run; a template database is migrated once per set of migrations,
/// and each test class gets its own database copied from it. An unreachable server fails the run, never skips it.
/// </summary>
public static class TestDatabase
{
    private static readonly SemaphoreSlim CreateLock = new(1, 1);
    private static readonly Lazy<Task<(string Admin, string Template)>> Server = new(StartAsync);
    private static readonly Lazy<Task<string>> AppPassword = new(SetAppPasswordAsync);

    public static string DataDirectory =>
        Environment.GetEnvironmentVariable("SDQ_TEST_DATA_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Path.GetTempPath(), $"sdq-test-cluster-{Environment.UserName}");

    /// <summary>
    /// A name for a test database. The process id in it lets a later run tell a leftover of a killed run from a
    /// database in use.
    /// </summary>
    public static string NewDatabaseName() =>
        $"sdq_t_{Environment.ProcessId}_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();

    /// <summary>A new database with the current schema; the caller drops it with <see cref="DropAsync"/>.</summary>
    public static async Task<(string Name, string ConnectionString)> CreateAsync()
    {
        var (admin, template) = await Server.Value;
        var name = NewDatabaseName();
        await CreateLock.WaitAsync();
        try
        {
            await ExecuteAsync(admin, $"CREATE DATABASE {name} TEMPLATE {template}");
        }
        finally
        {
            CreateLock.Release();
        }

        return (name, WithDatabase(admin, name));
    }

    public static async Task DropAsync(string name)
    {
        var (admin, _) = await Server.Value;
        await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    /// <summary>
    /// A connection string of database <paramref name="name"/> as the portal's role, sdq_app (migration 0010). Its password
    /// is set once per run, derived from the administrative connection string, so that two test runs on one cluster agree.
    /// </summary>
    public static async Task<string> AppConnectionStringAsync(string name) =>
        AppRole.ConnectionString(WithDatabase((await Server.Value).Admin, name), await AppPassword.Value);

    private static async Task<string> SetAppPasswordAsync()
    {
        var (admin, _) = await Server.Value;
        var password = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("sdq_app|" + admin)))[..32].ToLowerInvariant();
        await using var dataSource = NpgsqlDataSource.Create(admin);
        await AppRole.SetPasswordAsync(dataSource, password);
        return password;
    }

    /// <summary>The administrative connection string (database postgres) of the test server.</summary>
    public static async Task<string> AdminConnectionStringAsync() => (await Server.Value).Admin;

    private static async Task<(string Admin, string Template)> StartAsync()
    {
        var admin = Environment.GetEnvironmentVariable("SDQ_TEST_DB") is { Length: > 0 } configured
            ? configured
            : new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = DataDirectory, Database = "postgres", Disposable = true }).Start();
        admin = WithDatabase(admin, "postgres");

        var fingerprint = string.Join("|", Migrator.Embedded().Select(m => m.Checksum));
        var template = "sdq_tpl_" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint)))[..12].ToLowerInvariant();
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        var stale = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname LIKE 'sdq\\_t\\_%' OR (datname LIKE 'sdq\\_tpl\\_%' AND datname <> @t)", connection))
        {
            list.Parameters.AddWithValue("t", template);
            await using var reader = await list.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stale.Add(reader.GetString(0));
            }
        }

        foreach (var name in stale.Where(n => !n.StartsWith("sdq_t_", StringComparison.Ordinal) || !OwnerIsAlive(n)))
        {
            // Left by an earlier run that was killed, or a template of older migrations.
            await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        }

        // Two test runs starting together must not both build the template.
        await using (var lockTemplate = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext(@t))", connection))
        {
            lockTemplate.Parameters.AddWithValue("t", template);
            await lockTemplate.ExecuteNonQueryAsync();
        }

        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @t", connection))
        {
            exists.Parameters.AddWithValue("t", template);
            if (await exists.ExecuteScalarAsync() is null)
            {
                // As the program makes its databases (bytewise text order), also on a server given by SDQ_TEST_DB.
                await ExecuteAsync(admin, $"CREATE DATABASE {template} {EmbeddedPostgres.DatabaseCollation}");
                await using var dataSource = NpgsqlDataSource.Create(WithDatabase(admin, template));
                await new Migrator().MigrateAsync(dataSource);
            }
        }

        await using (var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", connection))
        {
            await unlock.ExecuteNonQueryAsync();
        }

        return (admin, template);
    }

    /// <summary>Whether the test process that created a database (sdq_t_PID_xxxx) still runs.</summary>
    private static bool OwnerIsAlive(string database)
    {
        var parts = database.Split('_');
        if (parts.Length < 4 || !int.TryParse(parts[2], out var pid))
        {
            return false;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string WithDatabase(string connectionString, string database) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Database = database }.ConnectionString;

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A database of its own for one test class.</summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    private string? _name;

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    private NpgsqlDataSource? _appDataSource;

    /// <summary>
    /// This database as the web portal's role sdq_app (migration 0010): what the portal is built on in the tests, so that
    /// everything it does is shown to work without the owner's rights.
    /// </summary>
    public async Task<NpgsqlDataSource> AppDataSourceAsync() =>
        _appDataSource ??= NpgsqlDataSource.Create(await AppConnectionStringAsync());

    /// <summary>The connection string of <see cref="AppDataSourceAsync"/>.</summary>
    public Task<string> AppConnectionStringAsync() => TestDatabase.AppConnectionStringAsync(_name!);

    public async Task InitializeAsync()
    {
        (_name, ConnectionString) = await TestDatabase.CreateAsync();
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        if (_appDataSource is not null)
        {
            await _appDataSource.DisposeAsync();
        }

        if (_name is not null)
        {
            await TestDatabase.DropAsync(_name);
        }
    }

    /// <summary>
    /// A fingerprint of everything staging can leave behind (rounds, files, records, schools, audit entries): equal
    /// before and after an operation means it changed nothing.
    /// </summary>
    public Task<string> StateCountsAsync() => ScalarAsync<string>("""
        SELECT concat_ws(',', (SELECT count(*) FROM registry.round), (SELECT count(*) FROM staging.source_file),
                              (SELECT count(*) FROM registry.record_version), (SELECT count(*) FROM registry.school),
                              (SELECT count(*) FROM audit.event))
        """);

    public async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        // SQL NULL reads as null for a nullable T (and fails the cast for any other, as it should).
        var result = await command.ExecuteScalarAsync();
        return result is DBNull && default(T) is null ? default! : (T)result!;
    }

    public async Task<int> ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteNonQueryAsync();
    }
}
