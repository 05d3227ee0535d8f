using Npgsql;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Staging;

public sealed class EmbeddedPostgresTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sdq-embedded-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try
        {
            new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = _folder }).Stop();
        }
        finally
        {
            if (Directory.Exists(_folder))
            {
                Directory.Delete(_folder, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Start_CreatesTheCluster_Stop_StopsIt_AndTheNextStartReusesItsData()
    {
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = _folder, Disposable = true });
        Assert.False(cluster.Status().Initialised);

        var connectionString = cluster.Start();
        await ExecuteAsync(connectionString, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
        var running = cluster.Status();
        Assert.True(running.Running);
        Assert.Matches(@"^\d+\.\d+$", running.Version ?? "");
        // Text compares bytewise (code point order, as C.UTF-8 orders it, without the C library), letters are UTF-8's.
        Assert.Equal("C", await ScalarAsync(connectionString, "SELECT datcollate FROM pg_database WHERE datname = current_database()"));
        Assert.Equal("ÄÖ 张", await ScalarAsync(connectionString, "SELECT upper('äö 张')"));
        Assert.Equal("a,z,ä,张", await ScalarAsync(connectionString, "SELECT string_agg(v, ',' ORDER BY v) FROM (VALUES ('张'), ('ä'), ('z'), ('a')) t (v)"));

        Assert.True(cluster.Stop());
        // The pool's connections died with the server.
        NpgsqlConnection.ClearAllPools();
        Assert.False(cluster.Status().Running);
        Assert.False(cluster.Stop());

        var again = cluster.Start();
        Assert.Equal(connectionString, again);
        Assert.Equal("still here", await ScalarAsync(again, "SELECT v FROM kept"));
        Assert.Equal(connectionString, cluster.Start());
    }

    [Fact]
    public void ASecret_IsMadeOnce_ReadableByTheOwnerOnly()
    {
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(_folder, "secrets") });
        var made = 0;

        var first = cluster.LoadOrCreateSecret("signing-key", () => $"secret-{++made}");
        var second = cluster.LoadOrCreateSecret("signing-key", () => $"secret-{++made}");

        Assert.Equal("secret-1", first);
        Assert.Equal(first, second);
        Assert.Equal(1, made);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_folder, "secrets", "signing-key")));
        }

        Assert.Throws<ArgumentException>(() => cluster.LoadOrCreateSecret("../elsewhere", () => "x"));
    }

    [Fact]
    public void Start_WithoutServerPrograms_SaysHowToGetThem()
    {
        var empty = Path.Combine(_folder, "no-bin");
        Directory.CreateDirectory(empty);
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = _folder, BinDirectory = empty });

        var error = Assert.Throws<UserErrorException>(cluster.Start);

        Assert.Contains("apt-get install postgresql", error.Message);
        Assert.Contains("docker compose up -d db", error.Message);
        Assert.Contains("SDQ_DB", error.Message);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
