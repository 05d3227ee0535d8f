using System.Net;
using Microsoft.AspNetCore.Builder;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The portal's sign-in on a real Kestrel and the real database, spoken to as a browser does (cookies, forms with their
/// antiforgery token, no redirects followed): one-time passwords, lockout, sealed accounts, the jobs dashboard for the
/// data team only, forms without a token refused, security headers. Every attempt and refusal is asserted in the audit log.
/// </summary>
public sealed class SignInTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IAsyncLifetime
{
    private WebApplication _app = null!;
    private Uri _base = null!;

    public async Task InitializeAsync()
    {
        // As `sdq web` runs it: on the portal's database role, which cannot change the audit log.
        _app = Portal.Build(new PortalSettings(await db.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(db), Worksheets.IngestScenario.Key,
            "http://127.0.0.1:0")
        {
            SignInPolicy = new SignInPolicy { MaxFailures = 3, LockoutTime = TimeSpan.FromMinutes(10) },
        });
        await _app.StartAsync();
        _base = new Uri(_app.Urls.First());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task AOneTimePassword_LeadsOnlyToChoosingANewOne_ThenTheNewOneSignsIn()
    {
        var password = await AccountAsync("school-a1", AccountRole.School, school: "2301000001");
        using var browser = Browser();
        var signIn = await SignInAsync(browser, "school-a1", password);
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Equal("/password", signIn.Headers.Location!.OriginalString);
        Assert.Equal("/password", (await browser.GetAsync("/")).Headers.Location!.OriginalString);

        var tooShort = await PostAsync(browser, "/password", "/password", new() { ["current"] = password, ["new"] = "short1", ["confirm"] = "short1" });
        Assert.Equal(HttpStatusCode.BadRequest, tooShort.StatusCode);
        Assert.Contains("at least 10 characters", await tooShort.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var changed = await PostAsync(browser, "/password", "/password",
            new() { ["current"] = password, ["new"] = "a-new-secret-42", ["confirm"] = "a-new-secret-42" });
        Assert.Equal("/", changed.Headers.Location!.OriginalString);
        var home = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Contains("school-a1", await home.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var later = Browser();
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(later, "school-a1", password)).StatusCode);
        Assert.Equal("/", (await SignInAsync(later, "school-a1", "a-new-secret-42")).Headers.Location!.OriginalString);
        Assert.Equal(1L, await AuditAsync("school-a1", "account.password.change"));
        Assert.Equal(2L, await AuditAsync("school-a1", "sign-in"));
        Assert.Equal(1L, await AuditAsync("school-a1", "password.confirm"));
        Assert.Equal(1L, await AuditAsync("school-a1", "sign-in.failed"));
        Assert.False(await db.ScalarAsync<bool>("SELECT must_change_password FROM access.account WHERE account = 'school-a1'"));
        Assert.DoesNotContain("a-new-secret-42", await db.ScalarAsync<string>("SELECT password_hash FROM access.account WHERE account = 'school-a1'"),
            StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task RepeatedFailures_SlowTheAccountFromNewAddresses_EvenForTheRightPassword_UntilTheDataTeamResetsIt()
    {
        var password = await AccountAsync("school-a2", AccountRole.School, school: "2301000002");
        using var browser = Browser();
        var first = await SignInAsync(browser, "school-a2", "wrong-1");
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Contains("The account or password is wrong", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await SignInAsync(browser, "school-a2", "wrong-2");
        var third = await SignInAsync(browser, "school-a2", "wrong-3");
        Assert.Contains("The account or password is wrong", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The account never signed in from here: attempts from here now wait, the right password too (it is not checked).
        var right = await SignInAsync(browser, "school-a2", password);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.Contains("Too many failed sign-ins", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(3L, await AuditAsync("school-a2", "sign-in.failed"));
        Assert.Equal(1L, await AuditAsync("school-a2", "sign-in.throttled"));

        // A new password from the data team starts the account's count afresh.
        var reset = await AccountAsync("school-a2", AccountRole.School, school: "2301000002");
        Assert.Equal("/password", (await SignInAsync(browser, "school-a2", reset)).Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task AnAccountUnusedFor180Days_IsSealed_AndAnUnknownAccountGetsTheWrongPasswordAnswer()
    {
        var password = await AccountAsync("district-a3", AccountRole.District, district: "230102");
        await db.ExecuteAsync("""
            UPDATE access.account SET last_sign_in_at = now() - interval '181 days', password_set_at = now() - interval '300 days',
                                      created_at = now() - interval '400 days'
            WHERE  account = 'district-a3'
            """);
        using var browser = Browser();
        var sealedAnswer = await SignInAsync(browser, "district-a3", password);
        Assert.Equal(HttpStatusCode.Unauthorized, sealedAnswer.StatusCode);
        Assert.Contains("sealed", await sealedAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(await db.ScalarAsync<bool>("SELECT sealed_at IS NOT NULL FROM access.account WHERE account = 'district-a3'"));
        Assert.Equal(1L, await AuditAsync("district-a3", "sign-in.sealed"));

        // The data team's reset opens it again (its last sign-in stays long ago; the new password is what counts).
        var reset = await AccountAsync("district-a3", AccountRole.District, district: "230102");
        Assert.Equal("/password", (await SignInAsync(browser, "district-a3", reset)).Headers.Location?.OriginalString);

        using var another = Browser();
        var unknown = await SignInAsync(another, "nobody-here", "whatever-1234");
        Assert.Contains("The account or password is wrong", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1L, await AuditAsync("nobody-here", "sign-in.failed"));
    }

    [Fact]
    public async Task TheJobsDashboard_AnswersTheDataTeamOnly_AndEveryRefusalIsAudited()
    {
        using var anonymous = Browser();
        Assert.NotEqual(HttpStatusCode.OK, (await anonymous.GetAsync(Portal.DashboardPath)).StatusCode);
        foreach (var (name, role, school, district) in new[]
                 {
                     ("manager-a4", AccountRole.Manager, (string?)null, (string?)null), ("school-a4", AccountRole.School, "2301000004", null),
                     ("district-a4", AccountRole.District, null, "230104"),
                 })
        {
            using var browser = await SignedInAsync(name, role, school, district);
            Assert.Equal(HttpStatusCode.Forbidden, (await browser.GetAsync(Portal.DashboardPath + "/recurring")).StatusCode);
            Assert.Equal(1L, await AuditAsync(name, "dashboard.refused"));
        }

        using var team = await SignedInAsync("team-a4", AccountRole.DataTeam, null, null);
        var dashboard = await team.GetAsync(Portal.DashboardPath + "/recurring");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("StudentDataQuality jobs", await dashboard.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1L, await AuditAsync("anonymous", "dashboard.refused"));
    }

    [Fact]
    public async Task AFormWithoutItsToken_IsRefused_AndEveryPageCarriesTheSecurityHeaders()
    {
        var password = await AccountAsync("school-a5", AccountRole.School, school: "2301000005");
        using var browser = Browser();
        var forged = await browser.Http.PostAsync(new Uri(_base, "/login"),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["account"] = "school-a5", ["password"] = password }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(0L, await AuditAsync("school-a5", "sign-in"));

        var page = await browser.GetAsync("/login");
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var signedIn = await SignInAsync(browser, "school-a5", password);
        var session = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("sdq.session=", StringComparison.Ordinal));
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", session, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ASealedAccount_OrANewPassword_EndsTheSessionsOpenedBefore()
    {
        using var sealedOne = await SignedInAsync("school-a6", AccountRole.School, "2123100006", null);
        using var resetOne = await SignedInAsync("school-a7", AccountRole.School, "2123100007", null);
        Assert.Equal(HttpStatusCode.OK, (await sealedOne.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await resetOne.GetAsync("/")).StatusCode);

        await new SignIns(db.DataSource).SealAsync("school-a6", "test");
        await AccountAsync("school-a7", AccountRole.School, "2123100007");
        // The next request of each open session is sent to sign in again; so is the one after (the cookie is gone).
        foreach (var browser in new[] { sealedOne, resetOne })
        {
            Assert.StartsWith("/login", (await browser.GetAsync("/")).Headers.Location?.AbsolutePath, StringComparison.Ordinal);
            Assert.StartsWith("/login", (await browser.GetAsync("/school")).Headers.Location?.AbsolutePath, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AnUnknownAccount_IsCheckedAgainstTheDecoy_AsAWrongPasswordIsAgainstItsHash()
    {
        var signIns = new SignIns(db.DataSource, SignInPolicy.Default with { DecoyHash = "decoy-hash" });
        await AccountAsync("school-a8", AccountRole.School, "2123100008");
        var stored = await db.ScalarAsync<string>("SELECT password_hash FROM access.account WHERE account = 'school-a8'");
        var checkedHashes = new List<string>();

        var unknown = await signIns.SignInAsync("nobody-at-all", hash => { checkedHashes.Add(hash); return false; }, "test");
        var wrong = await signIns.SignInAsync("school-a8", hash => { checkedHashes.Add(hash); return false; }, "test");

        Assert.Equal(SignInOutcome.WrongPassword, unknown.Outcome);
        Assert.Equal(SignInOutcome.WrongPassword, wrong.Outcome);
        // One full check each: the decoy for the unknown account, the account's own hash for the wrong password.
        Assert.Equal(["decoy-hash", stored], checkedHashes);
    }

    private Task<string> AccountAsync(string name, AccountRole role, string? school = null, string? district = null) =>
        PortalBrowser.AccountAsync(db.DataSource, name, role, school, district);

    private async Task<PortalBrowser> SignedInAsync(string name, AccountRole role, string? school, string? district)
    {
        var browser = Browser();
        await browser.SignInFirstTimeAsync(name, await AccountAsync(name, role, school, district));
        return browser;
    }

    // Read in English (Accept-Language), as a reader who chose it; the Chinese pages are the default (the switch has its own test).
    private PortalBrowser Browser() => new(_base, "en");

    private static Task<HttpResponseMessage> SignInAsync(PortalBrowser browser, string account, string password) => browser.SignInAsync(account, password);

    private static Task<HttpResponseMessage> PostAsync(PortalBrowser browser, string page, string action, Dictionary<string, string> fields) =>
        browser.PostAsync(page, action, fields);

    private Task<long> AuditAsync(string actor, string action) =>
        db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = @a AND action = @x", ("a", actor), ("x", action));
}
