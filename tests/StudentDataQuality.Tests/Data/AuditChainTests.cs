using Npgsql;
using StudentDataQuality.Data;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Data;

/// <summary>
/// The hash chain over the audit log (migration 0017) and `sdq audit verify` as a real process: an untouched log verifies,
/// whoever writes it and however their transactions interleave; an event changed, removed or slipped in by the owner with
/// the log's triggers disabled is named; an event whose transaction is still open is no break. Each tampering test has a
/// database of its own.
/// </summary>
[Trait("Category", "Security")]
public sealed class AuditChainTests
{
    [Fact]
    public async Task AnUntouchedLog_Verifies_WhoeverWroteIt()
    {
        await WithDatabaseAsync(async db =>
        {
            await WriteEventsAsync(db.DataSource, "owner", 3);
            await WriteEventsAsync(await db.AppDataSourceAsync(), "portal", 3);

            var (exit, output) = await VerifyAsync(db);

            Assert.True(exit == 0, output);
            Assert.Contains("The audit chain is whole", output, StringComparison.Ordinal);
            Assert.Equal(await db.ScalarAsync<long>("SELECT count(*) FROM audit.event"), await db.ScalarAsync<long>("SELECT count(*) FROM audit.link"));
        });
    }

    [Fact]
    public async Task AnEventChangedWithTheTriggersDisabled_IsNamed()
    {
        await WithDatabaseAsync(async db =>
        {
            await WriteEventsAsync(db.DataSource, "owner", 5);
            var victim = await db.ScalarAsync<long>("SELECT event_id FROM audit.event WHERE action = 'test.chain' ORDER BY event_id OFFSET 2 LIMIT 1");
            await db.ExecuteAsync($"""
                ALTER TABLE audit.event DISABLE TRIGGER event_append_only;
                UPDATE audit.event SET actor = 'someone-else' WHERE event_id = {victim};
                ALTER TABLE audit.event ENABLE TRIGGER event_append_only;
                """);

            var (exit, output) = await VerifyAsync(db);

            Assert.NotEqual(0, exit);
            Assert.Contains($"event {victim} ", output, StringComparison.Ordinal);
            Assert.Contains("changed", output, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task ADeletedEvent_IsNamed()
    {
        await WithDatabaseAsync(async db =>
        {
            await WriteEventsAsync(db.DataSource, "owner", 5);
            var victim = await db.ScalarAsync<long>("SELECT event_id FROM audit.event WHERE action = 'test.chain' ORDER BY event_id OFFSET 1 LIMIT 1");
            await db.ExecuteAsync($"""
                ALTER TABLE audit.event DISABLE TRIGGER event_append_only;
                DELETE FROM audit.event WHERE event_id = {victim};
                ALTER TABLE audit.event ENABLE TRIGGER event_append_only;
                """);

            var (exit, output) = await VerifyAsync(db);

            Assert.NotEqual(0, exit);
            Assert.Contains($"event {victim} ", output, StringComparison.Ordinal);
            Assert.Contains("missing", output, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task AnEventSlippedInBehindTheTriggers_IsNamed()
    {
        await WithDatabaseAsync(async db =>
        {
            await WriteEventsAsync(db.DataSource, "owner", 2);
            var slipped = await db.ScalarAsync<long>("""
                ALTER TABLE audit.event DISABLE TRIGGER USER;
                INSERT INTO audit.event (occurred_at, actor, action) VALUES ('2020-01-01 00:00Z', 'backdater', 'sign-in') RETURNING event_id;
                """);
            await db.ExecuteAsync("ALTER TABLE audit.event ENABLE TRIGGER USER");

            var (exit, output) = await VerifyAsync(db);

            Assert.NotEqual(0, exit);
            Assert.Contains($"event {slipped} ", output, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task ALogCutShortFromItsEnd_IsToldByTheEndKept()
    {
        await WithDatabaseAsync(async db =>
        {
            await WriteEventsAsync(db.DataSource, "owner", 4);
            var first = await VerifyAsync(db);
            var end = System.Text.RegularExpressions.Regex.Match(first.Output, "its end is ([0-9]+:[0-9a-f]{64})").Groups[1].Value;
            Assert.NotEmpty(end);
            // The owner removes the newest events and their links, triggers disabled: what is left is a whole chain.
            await db.ExecuteAsync("""
                ALTER TABLE audit.event DISABLE TRIGGER USER;
                ALTER TABLE audit.link DISABLE TRIGGER USER;
                DELETE FROM audit.event WHERE event_id IN (SELECT event_id FROM audit.link ORDER BY seq DESC LIMIT 2);
                DELETE FROM audit.link WHERE seq IN (SELECT seq FROM audit.link ORDER BY seq DESC LIMIT 2);
                ALTER TABLE audit.event ENABLE TRIGGER USER;
                ALTER TABLE audit.link ENABLE TRIGGER USER;
                """);
            Assert.Equal(0, (await VerifyAsync(db)).Exit);

            var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, null, "audit", "verify", "--end", end);

            Assert.Equal(1, exit);
            Assert.Contains("cut from its end", output, StringComparison.Ordinal);
            Assert.NotEqual(0, (await SdqProcess.RunAsync(db.ConnectionString, null, "audit", "verify", "--end", "not-an-end")).Exit);
        });
    }

    [Fact]
    public async Task ConcurrentWriters_AndAnOpenBatch_LeaveAWholeChain()
    {
        await WithDatabaseAsync(async db =>
        {
            var app = await db.AppDataSourceAsync();
            // A long batch: its transaction writes an event and stays open while others write, commit and verify.
            await using var batch = await db.DataSource.OpenConnectionAsync();
            await using var batchTransaction = await batch.BeginTransactionAsync();
            await AuditLog.WriteAsync(batch, "batch", "test.chain", null, null, "open", null);

            // Writers that do not wait for the batch: each commits while it is open (a wait would never end and fail the test).
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
            {
                for (var i = 0; i < 15; i++)
                {
                    await using var connection = await app.OpenConnectionAsync(timeout.Token);
                    await using var transaction = await connection.BeginTransactionAsync(timeout.Token);
                    await AuditLog.WriteAsync(connection, $"writer-{w}", "test.chain", null, null, i.ToString(System.Globalization.CultureInfo.InvariantCulture), null, timeout.Token);
                    await AuditLog.WriteAsync(connection, $"writer-{w}", "test.chain", null, null, "second", null, timeout.Token);
                    await transaction.CommitAsync(timeout.Token);
                }
            })));

            // The batch's event is not sealed yet: no break.
            var whileOpen = await VerifyAsync(db);
            Assert.True(whileOpen.Exit == 0, whileOpen.Output);

            await AuditLog.WriteAsync(batch, "batch", "test.chain", null, null, "closing", null);
            await batchTransaction.CommitAsync();
            var (exit, output) = await VerifyAsync(db);

            Assert.True(exit == 0, output);
            Assert.Contains("The audit chain is whole", output, StringComparison.Ordinal);
            Assert.Equal(6 * 15 * 2 + 2, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event e JOIN audit.link l USING (event_id) WHERE e.action = 'test.chain'"));
        });
    }

    private static async Task WriteEventsAsync(NpgsqlDataSource dataSource, string actor, int count)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        for (var i = 0; i < count; i++)
        {
            await AuditLog.WriteAsync(connection, actor, "test.chain", i, "2301000001", $"object-{i}", new { n = i, text = "a \"quoted\"\nline" });
        }
    }

    private static Task<(int Exit, string Output)> VerifyAsync(DatabaseFixture db) => SdqProcess.RunAsync(db.ConnectionString, null, "audit", "verify");

    private static async Task WithDatabaseAsync(Func<DatabaseFixture, Task> test)
    {
        var db = new DatabaseFixture();
        await db.InitializeAsync();
        try
        {
            await test(db);
        }
        finally
        {
            await db.DisposeAsync();
        }
    }
}
