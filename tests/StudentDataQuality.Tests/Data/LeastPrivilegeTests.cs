using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.Configuration;
using Npgsql;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Data;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Data;

/// <summary>
/// What sdq_app, the portal's database role, may no longer do (migration 0017): choose an audit event's time or id, add,
/// remove or re-role accounts or write a password itself, write the parts of Hangfire's storage only a worker writes. What
/// the portal needs (appending audit entries, enqueuing and scheduling jobs) it still does.
/// </summary>
[Trait("Category", "Security")]
public sealed class LeastPrivilegeTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Theory]
    [InlineData("INSERT INTO audit.event (occurred_at, actor, action) VALUES ('2020-01-01 08:00+08', 'backdater', 'sign-in')")]
    [InlineData("INSERT INTO audit.event (event_id, actor, action) OVERRIDING SYSTEM VALUE VALUES (1, 'backdater', 'sign-in')")]
    [InlineData("INSERT INTO audit.event (event_id, actor, action) OVERRIDING SYSTEM VALUE VALUES (-5, 'backdater', 'sign-in')")]
    public async Task TheAppRole_CannotChooseAnAuditEventsTimeOrId(string sql)
    {
        var refusal = await RefusedAsync(sql);

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refusal.SqlState);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'backdater'"));
        // What the portal writes still goes in, with the time and id of the database.
        await using var connection = await (await db.AppDataSourceAsync()).OpenConnectionAsync();
        await AuditLog.WriteAsync(connection, "portal", "test.append", null, null, "x", null);
        Assert.True(await db.ScalarAsync<bool>("SELECT occurred_at > now() - interval '1 hour' FROM audit.event WHERE actor = 'portal' ORDER BY event_id DESC LIMIT 1"));
    }

    [Theory]
    [InlineData("INSERT INTO access.account (account, role, created_by) VALUES ('intruder', 'data_team', 'portal')")]
    [InlineData("DELETE FROM access.account WHERE account = 'lp-school'")]
    [InlineData("UPDATE access.account SET role = 'data_team' WHERE account = 'lp-school'")]
    [InlineData("UPDATE access.account SET school_code = '2301000099' WHERE account = 'lp-school'")]
    [InlineData("UPDATE access.account SET password_hash = 'chosen', must_change_password = false WHERE account = 'lp-school'")]
    [InlineData("SELECT access.reset_password('lp-school', 'chosen', now() + interval '1 day', 'portal')")]
    [InlineData("SELECT access.add_account('intruder', 'data_team', NULL, NULL, 'portal')")]
    public async Task TheAppRole_CannotAddRemoveOrRecastAccounts_NorGiveAPassword(string sql)
    {
        await db.ExecuteAsync("""
            INSERT INTO access.account (account, role, school_code, created_by, password_hash) VALUES ('lp-school', 'school', '2301000001', 'test', 'kept')
            ON CONFLICT DO NOTHING
            """);

        var refusal = await RefusedAsync(sql);

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refusal.SqlState);
        Assert.Equal("school,2301000001,kept", await db.ScalarAsync<string>(
            "SELECT concat_ws(',', role, school_code, password_hash) FROM access.account WHERE account = 'lp-school'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM access.account WHERE account = 'intruder'"));
    }

    [Fact]
    public async Task TheAppRole_StillKeepsTheSignInCounters()
    {
        await db.ExecuteAsync("""
            INSERT INTO access.account (account, role, school_code, created_by, password_hash) VALUES ('lp-counted', 'school', '2301000002', 'test', 'kept')
            """);
        await using var command = (await db.AppDataSourceAsync()).CreateCommand("""
            UPDATE access.account SET failed_sign_ins = failed_sign_ins + 1, locked_until = now(), last_sign_in_at = now(),
                                      sealed_at = now()
            WHERE  account = 'lp-counted'
            """);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    [Theory]
    [InlineData("INSERT INTO hangfire.server (id, data, lastheartbeat) VALUES ('fake-server', '{}', now())")]
    [InlineData("UPDATE hangfire.schema SET version = version")]
    [InlineData("DELETE FROM hangfire.aggregatedcounter")]
    [InlineData("INSERT INTO hangfire.list (key, value) VALUES ('k', 'v')")]
    [InlineData("DELETE FROM hangfire.server")]
    public async Task TheAppRole_CannotWriteTheJobStorageItDoesNotNeed(string sql)
    {
        // As `sdq web` prepares it: the owner installs Hangfire's schema (and restricts it), the portal then uses it as sdq_app.
        _ = JobHost.Storage(db.DataSource, new ConfigurationBuilder().Build());

        var refusal = await RefusedAsync(sql);

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refusal.SqlState);
    }

    [Fact]
    public async Task TheAppRole_StillEnqueuesSchedulesAndDeletesJobs()
    {
        _ = JobHost.Storage(db.DataSource, new ConfigurationBuilder().Build());
        var storage = JobHost.Storage(await db.AppDataSourceAsync(), new ConfigurationBuilder().Build(), prepareSchema: false);
        var client = new BackgroundJobClient(storage);
        var recurring = new RecurringJobManager(storage);

        var id = client.Create(() => Console.WriteLine("least privilege"), new EnqueuedState("default"));
        recurring.AddOrUpdate("least-privilege", () => Console.WriteLine("every day"), Cron.Daily());
        Assert.True(client.ChangeState(id, new DeletedState()));
        recurring.RemoveIfExists("least-privilege");

        Assert.Equal(DeletedState.StateName, await db.ScalarAsync<string>("SELECT statename FROM hangfire.job WHERE id = @id", ("id", long.Parse(id, System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM hangfire.hash WHERE key = 'recurring-job:least-privilege'"));
    }

    private async Task<PostgresException> RefusedAsync(string sql)
    {
        await using var connection = await (await db.AppDataSourceAsync()).OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
    }
}
