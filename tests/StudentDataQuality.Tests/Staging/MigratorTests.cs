using Npgsql;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Staging;

public sealed class MigratorTests
{
    [Fact]
    public async Task TwoMigratorsAtOnce_ApplyEachScriptExactlyOnce()
    {
        var (name, connectionString) = await CreateEmptyDatabaseAsync();
        try
        {
            await using var first = NpgsqlDataSource.Create(connectionString);
            await using var second = NpgsqlDataSource.Create(connectionString);

            var results = await Task.WhenAll(
                Task.Run(() => new Migrator().MigrateAsync(first)),
                Task.Run(() => new Migrator().MigrateAsync(second)));

            var all = Migrator.Embedded().Select(m => m.Version).ToArray();
            Assert.Equal(all, results.SelectMany(r => r).Order());
            await using var command = first.CreateCommand("SELECT count(*) FROM public.schema_migration");
            Assert.Equal((long)all.Length, await command.ExecuteScalarAsync());
            Assert.Empty(await new Migrator().MigrateAsync(first));
            await using var regions = first.CreateCommand("SELECT name FROM reference.region WHERE code = '230102'");
            Assert.Equal("道里区", await regions.ExecuteScalarAsync());
        }
        finally
        {
            await DropAsync(name);
        }
    }

    [Fact]
    public async Task Migrator_RefusesADatabaseWithANewerSchema()
    {
        var (name, connectionString) = await CreateEmptyDatabaseAsync();
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await new Migrator().MigrateAsync(dataSource);
            await using (var command = dataSource.CreateCommand(
                "INSERT INTO public.schema_migration (version, name, checksum, elapsed_ms) VALUES (9999, 'future', 'x', 0)"))
            {
                await command.ExecuteNonQueryAsync();
            }

            var error = await Assert.ThrowsAsync<UserErrorException>(() => new Migrator().MigrateAsync(dataSource));
            Assert.Contains("schema version 9999", error.Message);
        }
        finally
        {
            await DropAsync(name);
        }
    }

    private static async Task<(string Name, string ConnectionString)> CreateEmptyDatabaseAsync()
    {
        var admin = await TestDatabase.AdminConnectionStringAsync();
        var name = TestDatabase.NewDatabaseName();
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return (name, new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
    }

    private static async Task DropAsync(string name)
    {
        await using var connection = new NpgsqlConnection(await TestDatabase.AdminConnectionStringAsync());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
