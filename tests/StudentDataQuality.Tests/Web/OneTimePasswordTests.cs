using System.Net;
using Microsoft.AspNetCore.Builder;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// One-time passwords expire (72 hours by default, configurable): an expired one is refused with its own message, told only
/// to whoever typed it right; `sdq user reset` says until when the password it prints is valid. The password change through
/// the portal (as sdq_app, through the database's account function) still works and is audited.
/// </summary>
[Trait("Category", "Security")]
public sealed class OneTimePasswordTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IAsyncLifetime
{
    private WebApplication _app = null!;
    private Uri _base = null!;

    public async Task InitializeAsync()
    {
        _app = Portal.Build(new PortalSettings(await db.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(db), Worksheets.IngestScenario.Key,
            "http://127.0.0.1:0"));
        await _app.StartAsync();
        _base = new Uri(_app.Urls.First());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task AnExpiredOneTimePassword_IsRefused_AndSaidSoOnlyAfterTheRightPassword()
    {
        var password = await PortalBrowser.AccountAsync(db.DataSource, "otp-expired", AccountRole.School, "2301000011");
        Assert.Equal(TimeSpan.FromHours(72), await db.ScalarAsync<TimeSpan>(
            "SELECT date_trunc('minute', password_expires_at - password_set_at + interval '30 seconds') FROM access.account WHERE account = 'otp-expired'"));
        await db.ExecuteAsync("UPDATE access.account SET password_expires_at = now() - interval '1 minute' WHERE account = 'otp-expired'");
        using var browser = new PortalBrowser(_base, "en");

        var wrong = await browser.SignInAsync("otp-expired", "not-the-password-1");
        var wrongText = await wrong.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("The account or password is wrong", wrongText, StringComparison.Ordinal);
        Assert.DoesNotContain("expired", wrongText, StringComparison.Ordinal);

        var right = await browser.SignInAsync("otp-expired", password);
        Assert.Equal(HttpStatusCode.Unauthorized, right.StatusCode);
        Assert.Contains("ask your data team for a new one", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/")).StatusCode); // no session
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'otp-expired' AND action = 'sign-in.expired'"));

        // A new one from the data team works.
        var renewed = await PortalBrowser.AccountAsync(db.DataSource, "otp-expired", AccountRole.School, "2301000011");
        Assert.Equal("/password", (await browser.SignInAsync("otp-expired", renewed)).Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task ThePasswordChange_ThroughThePortal_EndsTheExpiry_AndIsAudited()
    {
        var password = await PortalBrowser.AccountAsync(db.DataSource, "otp-change", AccountRole.School, "2301000012");
        using var browser = new PortalBrowser(_base, "en");
        await browser.SignInFirstTimeAsync("otp-change", password);

        Assert.Equal("f,t", await db.ScalarAsync<string>(
            "SELECT concat_ws(',', must_change_password, password_expires_at IS NULL) FROM access.account WHERE account = 'otp-change'"));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event e JOIN audit.link l USING (event_id) WHERE e.actor = 'otp-change' AND e.action = 'account.password.change'"));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task TheResetCommand_SaysUntilWhenThePasswordIsValid_AsConfigured()
    {
        await new AccountStore(db.DataSource).AddAsync(new Account("otp-cli", AccountRole.School, "2301000013"), "test");

        var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, new Dictionary<string, string> { ["Accounts:OneTimePasswordHours"] = "24" },
            "user", "reset", "otp-cli");

        Assert.True(exit == 0, output);
        var until = await db.ScalarAsync<DateTime>("SELECT password_expires_at FROM access.account WHERE account = 'otp-cli'");
        Assert.InRange(until - DateTime.UtcNow, TimeSpan.FromHours(23), TimeSpan.FromHours(24));
        var beijing = new DateTimeOffset(until, TimeSpan.Zero).ToOffset(TimeSpan.FromHours(8));
        Assert.Contains($"valid until {beijing:yyyy-MM-dd HH:mm}", output, StringComparison.Ordinal);
    }
}
