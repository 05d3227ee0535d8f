using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace StudentDataQuality.Data.Migrations;

/// <summary>One numbered migration script.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    public string Checksum { get; } = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Sql))).ToLowerInvariant();
}

/// <summary>
/// Applies the numbered, forward-only scripts of sql/migrations under a PostgreSQL advisory lock, each in its own
/// transaction, recording them in a version table. Safe when several processes start at once: the second waits
/// for the lock, then finds nothing left to do. A landed script that was edited is refused, never re-run.
/// </summary>
public sealed partial class Migrator
{
    // An arbitrary constant that identifies "the schema migration" among advisory locks of this database.
    private const long AdvisoryLockKey = 0x5344_515F_4D49_4752; // "SDQ_MIGR"

    private readonly ILogger _logger;

    public Migrator(ILogger<Migrator>? logger = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The scripts embedded in this build, in version order.</summary>
    public static IReadOnlyList<Migration> Embedded()
    {
        var migrations = SqlScripts.List("migrations").Select(path =>
        {
            var file = Path.GetFileName(path);
            var match = FileNamePattern().Match(file);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Migration file '{file}' must be named NNNN_name.sql.");
            }

            return new Migration(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value,
                SqlScripts.Load(path));
        }).OrderBy(m => m.Version).ToArray();

        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two migrations share version {duplicate.Key}.");
        }

        return migrations;
    }

    /// <summary>Brings the database up to date; returns the versions applied by this call.</summary>
    public async Task<IReadOnlyList<int>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var migrations = Embedded();
        var applied = new List<int>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await Execute(connection, "SELECT pg_advisory_lock(@key)", cancellationToken, ("key", AdvisoryLockKey));
        try
        {
            await Execute(connection, """
                CREATE TABLE IF NOT EXISTS public.schema_migration (
                    version     integer PRIMARY KEY,
                    name        text NOT NULL,
                    checksum    text NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now(),
                    elapsed_ms  bigint NOT NULL
                )
                """, cancellationToken);

            var done = new Dictionary<int, string>();
            await using (var read = new NpgsqlCommand("SELECT version, checksum FROM public.schema_migration", connection))
            await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    done[reader.GetInt32(0)] = reader.GetString(1);
                }
            }

            var newest = migrations.Count == 0 ? 0 : migrations[^1].Version;
            var unknown = done.Keys.Where(v => v > newest).ToArray();
            if (unknown.Length > 0)
            {
                throw new UserErrorException(new UserMessage("Database.SchemaNewer", unknown.Max(), newest));
            }

            foreach (var migration in migrations)
            {
                if (done.TryGetValue(migration.Version, out var checksum))
                {
                    if (checksum != migration.Checksum)
                    {
                        throw new InvalidOperationException(
                            $"Migration {migration.Version:D4}_{migration.Name} was changed after it was applied. " +
                            "Landed migrations are never edited: add a new numbered script instead.");
                    }

                    continue;
                }

                var watch = Stopwatch.StartNew();
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await Execute(connection, migration.Sql, cancellationToken);
                await Execute(connection,
                    "INSERT INTO public.schema_migration (version, name, checksum, elapsed_ms) VALUES (@v, @n, @c, @ms)",
                    cancellationToken, ("v", migration.Version), ("n", migration.Name), ("c", migration.Checksum), ("ms", watch.ElapsedMilliseconds));
                await transaction.CommitAsync(cancellationToken);
                applied.Add(migration.Version);
                _logger.LogInformation("Applied migration {Version} {Name} in {ElapsedMs} ms", migration.Version, migration.Name, watch.ElapsedMilliseconds);
            }

            await ReferenceDataSync.SyncAsync(connection, cancellationToken);
        }
        finally
        {
            await Execute(connection, "SELECT pg_advisory_unlock(@key)", CancellationToken.None, ("key", AdvisoryLockKey));
        }

        // Types created by migrations (enums, composites) must be known to every pooled connection.
        await connection.ReloadTypesAsync(cancellationToken);
        return applied;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        // A migration may rewrite every staged record (0003 fills new columns): no time limit.
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [GeneratedRegex(@"^(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();
}
