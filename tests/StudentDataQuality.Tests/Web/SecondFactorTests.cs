using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Resources;
using Microsoft.AspNetCore.Builder;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The second factor (issue 16, item 5) on a real Kestrel and the real database, spoken to as a browser does: the data
/// team and districts cannot reach a page with their password alone; enrolment shows the secret and its QR code, and a
/// code finishes it; wrong, replayed and late codes are refused and throttled; recovery codes work once; schools sign in
/// with their password unless they enrol; `sdq user reset-2fa` removes an enrolment, on record.
/// </summary>
[Trait("Category", "Security")]
public sealed class SecondFactorTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IAsyncLifetime
{
    private WebApplication _app = null!;
    private Uri _base = null!;

    public async Task InitializeAsync()
    {
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
    public async Task ADataTeamAccount_CannotReachTheConsole_WithItsPasswordAlone()
    {
        var password = await PortalBrowser.AccountAsync(db.DataSource, "team-f1", AccountRole.DataTeam);
        using var browser = Browser();

        var signIn = await browser.PasswordOnlyAsync("team-f1", password);

        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Equal("/login/enrol", signIn.Headers.Location?.OriginalString);
        Assert.DoesNotContain(signIn.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : [], c => c.StartsWith("sdq.session=", StringComparison.Ordinal));
        foreach (var page in new[] { "/team", "/", "/password", Portal.DashboardPath })
        {
            Assert.NotEqual(HttpStatusCode.OK, (await browser.GetAsync(page)).StatusCode);
        }

        // Skipping the code, straight to where an enrolment ends, starts no session either.
        var skipped = await browser.PostAsync("/login", "/login/enrol/done", []);
        Assert.Equal(HttpStatusCode.Unauthorized, skipped.StatusCode);
        Assert.StartsWith("/login", (await browser.GetAsync("/team")).Headers.Location?.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enrolment_ShowsTheSecretAndItsQrCode_AndACodeFromItGivesASession()
    {
        var password = await PortalBrowser.AccountAsync(db.DataSource, "district-f2", AccountRole.District, district: "230102");
        using var browser = Browser();
        Assert.Equal("/login/enrol", (await browser.PasswordOnlyAsync("district-f2", password)).Headers.Location?.OriginalString);

        var page = await browser.GetAsync("/login/enrol");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<svg", html, StringComparison.Ordinal);           // the QR code, drawn on the server, inline
        Assert.DoesNotContain("data:", html, StringComparison.Ordinal);    // no data: URL (the CSP allows none)
        Assert.Contains("<code id=\"secret\">", html, StringComparison.Ordinal);
        var secret = System.Text.RegularExpressions.Regex.Match(html, "<code id=\"secret\">([A-Z2-7 ]+)</code>").Groups[1].Value;
        var secretBytes = Authenticators.Remember(_base, "district-f2", secret);
        // The secret is kept encrypted: its bytes are not in the row.
        var stored = await db.ScalarAsync<byte[]>("SELECT secret_protected FROM access.second_factor WHERE account = 'district-f2'");
        Assert.False(stored.AsSpan().IndexOf(secretBytes) >= 0);

        var shown = await browser.Http.PostAsync(new Uri(_base, "/login/enrol"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [browser.TokenFieldName] = browser.Token(html), ["code"] = Authenticators.NextCode(_base, "district-f2"),
        }));
        var codesPage = await shown.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
        Assert.Equal(10, System.Text.RegularExpressions.Regex.Matches(codesPage, "<li><code>[a-z2-9]{5}-[a-z2-9]{5}</code></li>").Count);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, codesPage, StringComparison.Ordinal);

        var done = await browser.Http.PostAsync(new Uri(_base, "/login/enrol/done"),
            new FormUrlEncodedContent(new Dictionary<string, string> { [browser.TokenFieldName] = browser.Token(codesPage) }));
        Assert.Equal("/password", done.Headers.Location?.OriginalString);
        var chosen = "chosen-" + password;
        Assert.Equal("/", (await browser.PostAsync("/password", "/password", new() { ["current"] = password, ["new"] = chosen, ["confirm"] = chosen }))
            .Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/district")).StatusCode);
        Assert.Equal(1L, await AuditAsync("district-f2", "second-factor.enrol"));

        // The secret is shown once: the next sign-in asks for a code, not for enrolment.
        using var later = Browser();
        Assert.Equal("/login/second-factor", (await later.PasswordOnlyAsync("district-f2", chosen)).Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, (await later.GetAsync("/login/enrol")).StatusCode);
    }

    [Fact]
    public async Task AWrongCode_AReplayedCode_AndAnExpiredPendingSignIn_AreRefused()
    {
        var (password, secret) = await EnrolledAsync("team-f3", AccountRole.DataTeam);

        using var browser = Browser();
        Assert.Equal("/login/second-factor", (await browser.PasswordOnlyAsync("team-f3", password)).Headers.Location?.OriginalString);
        var wrong = await CodeAsync(browser, WrongCode(secret));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("The code is wrong", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotEqual(HttpStatusCode.OK, (await browser.GetAsync("/team")).StatusCode);

        // The code taken at enrolment, again: refused as used.
        var usedStep = await db.ScalarAsync<long>("SELECT last_step FROM access.second_factor WHERE account = 'team-f3'");
        var replayed = await CodeAsync(browser, Authenticators.Code(secret, usedStep));
        Assert.Equal(HttpStatusCode.Unauthorized, replayed.StatusCode);
        Assert.Contains("used already", await replayed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(2L, await AuditAsync("team-f3", "second-factor.failed"));

        // A right code now starts the session; the same code a second time, in another sign-in, does not.
        var code = Authenticators.NextCode(_base, "team-f3");
        var right = await CodeAsync(browser, code);
        Assert.Equal("/", right.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/team")).StatusCode);
        using var copycat = Browser();
        await copycat.PasswordOnlyAsync("team-f3", password);
        Assert.Contains("used already", await (await CodeAsync(copycat, code)).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A pending sign-in past its time: a right code is refused, and no session starts.
        using var slow = Browser();
        Assert.Equal("/login/second-factor", (await slow.PasswordOnlyAsync("team-f3", password)).Headers.Location?.OriginalString);
        await db.ExecuteAsync("UPDATE access.pending_sign_in SET expires_at = now() - interval '1 second' WHERE account = 'team-f3'");
        Assert.Equal(HttpStatusCode.Unauthorized, (await slow.GetAsync("/login/second-factor")).StatusCode);
        // The form as it was open before the time ran out (its token read from another page of the site).
        var late = await slow.PostAsync("/login", "/login/second-factor", new() { ["code"] = Authenticators.NextCode(_base, "team-f3") });
        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
        Assert.Contains("Sign in again", await late.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotEqual(HttpStatusCode.OK, (await slow.GetAsync("/team")).StatusCode);
    }

    [Fact]
    public async Task WrongCodes_AreThrottled_LikeWrongPasswords()
    {
        var (password, secret) = await EnrolledAsync("district-f4", AccountRole.District, district: "230104");
        using var browser = Browser();
        await browser.PasswordOnlyAsync("district-f4", password);
        await CodeAsync(browser, WrongCode(secret));
        await CodeAsync(browser, WrongCode(secret));
        var third = await CodeAsync(browser, WrongCode(secret));
        Assert.Contains("locked until", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Locked: a right code, in a new sign-in, is refused too, and on record.
        using var again = Browser();
        Assert.Equal("/login/second-factor", (await again.PasswordOnlyAsync("district-f4", password)).Headers.Location?.OriginalString);
        var right = await CodeAsync(again, Authenticators.NextCode(_base, "district-f4"));
        Assert.Contains("locked until", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotEqual(HttpStatusCode.OK, (await again.GetAsync("/district")).StatusCode);
        Assert.Equal(3L, await AuditAsync("district-f4", "second-factor.failed"));
        Assert.Equal(1L, await AuditAsync("district-f4", "second-factor.locked"));
    }

    [Fact]
    public async Task ARecoveryCode_SignsInOnce()
    {
        var password = await PortalBrowser.AccountAsync(db.DataSource, "team-f5", AccountRole.DataTeam);
        using var first = Browser();
        await first.PasswordOnlyAsync("team-f5", password);
        var (_, _, recovery) = await first.EnrolAsync("team-f5");
        Assert.Equal(10, recovery.Count);

        using var phoneLost = Browser();
        await phoneLost.PasswordOnlyAsync("team-f5", password);
        var used = await CodeAsync(phoneLost, recovery[3].ToUpperInvariant());
        Assert.Equal("/password", used.Headers.Location?.OriginalString);
        Assert.Equal(1L, await AuditAsync("team-f5", "second-factor.recovery-code"));
        Assert.Equal(9, await db.ScalarAsync<int>("SELECT cardinality(recovery_code_hashes) FROM access.second_factor WHERE account = 'team-f5'"));

        using var again = Browser();
        await again.PasswordOnlyAsync("team-f5", password);
        var twice = await CodeAsync(again, recovery[3]);
        Assert.Equal(HttpStatusCode.Unauthorized, twice.StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, (await again.GetAsync("/")).StatusCode);
        Assert.Equal("/password", (await CodeAsync(again, recovery[4])).Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task ASchool_SignsInWithItsPasswordOnly_UntilItEnrolsFromItsPage()
    {
        var password = await PortalBrowser.AccountAsync(db.DataSource, "school-f6", AccountRole.School, school: "2301000006");
        using var browser = Browser();
        Assert.Equal("/password", (await browser.PasswordOnlyAsync("school-f6", password)).Headers.Location?.OriginalString);
        var chosen = "chosen-" + password;
        await browser.PostAsync("/password", "/password", new() { ["current"] = password, ["new"] = chosen, ["confirm"] = chosen });
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);

        // It may enrol, signed in: the same secret and QR page, then a code.
        var page = await (await browser.GetAsync("/account/second-factor")).Content.ReadAsStringAsync();
        Assert.Contains("<svg", page, StringComparison.Ordinal);
        var secret = System.Text.RegularExpressions.Regex.Match(page, "<code id=\"secret\">([A-Z2-7 ]+)</code>").Groups[1].Value;
        Authenticators.Remember(_base, "school-f6", secret);
        // Setting up a factor asks for the password again: a session alone (a copied cookie, a machine left signed in) cannot
        // put someone else's authenticator on the account.
        Assert.Contains("name=\"password\"", page, StringComparison.Ordinal);
        var unconfirmed = await browser.Http.PostAsync(new Uri(_base, "/account/second-factor"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [browser.TokenFieldName] = browser.Token(page), ["code"] = Authenticators.NextCode(_base, "school-f6"), ["password"] = "not-" + chosen,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);
        Assert.Equal(0L, await AuditAsync("school-f6", "second-factor.enrol"));
        var enrolled = await browser.Http.PostAsync(new Uri(_base, "/account/second-factor"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [browser.TokenFieldName] = browser.Token(page), ["code"] = Authenticators.NextCode(_base, "school-f6"), ["password"] = chosen,
        }));
        Assert.Equal(HttpStatusCode.OK, enrolled.StatusCode);
        Assert.Contains("recovery-codes", await enrolled.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Enrolled: its next sign-in asks for a code.
        using var later = Browser();
        Assert.Equal("/login/second-factor", (await later.PasswordOnlyAsync("school-f6", chosen)).Headers.Location?.OriginalString);
        Assert.Equal("/", (await CodeAsync(later, Authenticators.NextCode(_base, "school-f6"))).Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task ResetTwoFa_RemovesTheEnrolment_AndIsAudited()
    {
        var (password, _) = await EnrolledAsync("district-f7", AccountRole.District, district: "230107");

        var (exit, output) = await SdqAsync("user", "reset-2fa", "district-f7");

        Assert.True(exit == 0, output);
        Assert.Contains("is removed", output, StringComparison.Ordinal);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM access.second_factor WHERE account = 'district-f7'"));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'second-factor.reset' AND object = 'district-f7' AND actor LIKE 'cli:%' AND details->>'was_enrolled' = 'true'"));
        using var browser = Browser();
        Assert.Equal("/login/enrol", (await browser.PasswordOnlyAsync("district-f7", password)).Headers.Location?.OriginalString);

        // An unknown account: one line that says so, nothing written.
        var unknown = await SdqAsync("user", "reset-2fa", "nobody-f7");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("There is no account 'nobody-f7'", unknown.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThePortalRole_MayNotRemoveAnEnrolment()
    {
        await EnrolledAsync("team-f8", AccountRole.DataTeam);
        var app = await db.AppDataSourceAsync(); // the fixture's, shared: not disposed here
        await using var delete = app.CreateCommand("DELETE FROM access.second_factor WHERE account = 'team-f8'");
        var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => delete.ExecuteNonQueryAsync());
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }

    [Theory]
    [InlineData("en", "en")]
    [InlineData("zh-CN", "zh-CN")]
    public async Task TheCodePage_AndTheEnrolmentPage_AreInTheReadersLanguage(string language, string htmlLang)
    {
        var culture = CultureInfo.GetCultureInfo(language);
        var suffix = language == "en" ? "en" : "zh";
        // Enrolment: a district's first sign-in.
        var oneTime = await PortalBrowser.AccountAsync(db.DataSource, "district-l" + suffix, AccountRole.District, district: "230108");
        using var enrolling = new PortalBrowser(_base, language);
        Assert.Equal("/login/enrol", (await enrolling.PasswordOnlyAsync("district-l" + suffix, oneTime)).Headers.Location?.OriginalString);
        var enrol = await PageTextAsync(enrolling, "/login/enrol");
        Assert.Contains($"<html lang=\"{htmlLang}\">", enrol, StringComparison.Ordinal);
        foreach (var key in new[] { "Enrol.Title", "Enrol.Scan", "Enrol.Secret", "Enrol.CodeLabel", "Enrol.Finish" })
        {
            Assert.Contains(Text(key, culture), enrol, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(Text("Enrol.Title", Other(culture)), enrol, StringComparison.Ordinal);

        // The code: an enrolled account's next sign-in.
        var (password, secret) = await EnrolledAsync("team-l" + suffix, AccountRole.DataTeam);
        using var signingIn = new PortalBrowser(_base, language);
        Assert.Equal("/login/second-factor", (await signingIn.PasswordOnlyAsync("team-l" + suffix, password)).Headers.Location?.OriginalString);
        var code = await PageTextAsync(signingIn, "/login/second-factor");
        Assert.Contains($"<html lang=\"{htmlLang}\">", code, StringComparison.Ordinal);
        foreach (var key in new[] { "Title", "Code.Intro", "Code.Label", "Code.Verify" })
        {
            Assert.Contains(Text(key, culture), code, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(Text("Code.Intro", Other(culture)), code, StringComparison.Ordinal);

        // A wrong code: the refusal in the same language.
        var wrong = await CodeAsync(signingIn, WrongCode(secret));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains(Text("Code.Wrong", culture), WebUtility.HtmlDecode(await wrong.Content.ReadAsStringAsync()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/login/second-factor")]
    [InlineData("/login/enrol")]
    [InlineData("/login/enrol/done")]
    public async Task APostWithoutItsFormToken_IsRefusedBeforeItsHandler(string path)
    {
        // A pending sign-in (the password given), as a forged form from another site would find it in the victim's browser.
        var (password, secret) = await EnrolledAsync("team-t" + path.Length, AccountRole.DataTeam);
        using var browser = Browser();
        Assert.Equal("/login/second-factor", (await browser.PasswordOnlyAsync("team-t" + path.Length, password)).Headers.Location?.OriginalString);
        var failedBefore = await AuditAsync("team-t" + path.Length, "second-factor.failed");

        var forged = await browser.Http.PostAsync(new Uri(_base, path), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["code"] = WrongCode(secret),
        }));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("The form expired", WebUtility.HtmlDecode(await forged.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        // The handler did not run: no attempt counted, no session.
        Assert.Equal(failedBefore, await AuditAsync("team-t" + path.Length, "second-factor.failed"));
        Assert.NotEqual(HttpStatusCode.OK, (await browser.GetAsync("/team")).StatusCode);
        // The pending sign-in is still there: the page with its token goes on.
        Assert.Equal("/", (await CodeAsync(browser, Authenticators.NextCode(_base, "team-t" + path.Length))).Headers.Location?.OriginalString);
    }

    private static async Task<string> PageTextAsync(PortalBrowser browser, string path)
    {
        var page = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        return WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync());
    }

    private static readonly ResourceManager SecondFactorTexts = new("StudentDataQuality.Web.Resources.SecondFactorText", typeof(SecondFactorText).Assembly);

    /// <summary>A text of the second factor's pages as its resources hold it in that language.</summary>
    private static string Text(string key, CultureInfo culture) =>
        SecondFactorTexts.GetString(key, culture) ?? throw new InvalidOperationException($"no text {key}");

    private static CultureInfo Other(CultureInfo culture) => CultureInfo.GetCultureInfo(culture.TwoLetterISOLanguageName == "en" ? "zh-CN" : "en");

    /// <summary>An account of that role with its second factor set up through the pages: its password (changed) and secret.</summary>
    private async Task<(string Password, byte[] Secret)> EnrolledAsync(string name, AccountRole role, string? district = null)
    {
        var oneTime = await PortalBrowser.AccountAsync(db.DataSource, name, role, district: district);
        using var browser = Browser();
        await browser.SignInFirstTimeAsync(name, oneTime);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM access.second_factor WHERE account = @a AND enrolled_at IS NOT NULL", ("a", name)));
        return ("chosen-" + oneTime, Authenticators.Remembered(_base, name));
    }

    private static Task<HttpResponseMessage> CodeAsync(PortalBrowser browser, string code) =>
        browser.PostAsync("/login/second-factor", "/login/second-factor", new() { ["code"] = code });

    /// <summary>Six digits that are none of the codes taken now (one step either side).</summary>
    private static string WrongCode(byte[] secret)
    {
        var now = Authenticators.Step(DateTimeOffset.UtcNow);
        var taken = Enumerable.Range(-2, 5).Select(d => Authenticators.Code(secret, now + d)).ToHashSet();
        return Enumerable.Range(0, 10).Select(d => new string((char)('0' + d), 6)).First(c => !taken.Contains(c));
    }

    private PortalBrowser Browser() => new(_base, "en");

    private Task<long> AuditAsync(string actor, string action) =>
        db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = @a AND action = @x", ("a", actor), ("x", action));

    private async Task<(int Exit, string Output)> SdqAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(WorkerProcess.SdqAssembly());
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SDQ_DB"] = db.ConnectionString;
        info.Environment["COLUMNS"] = "400";
        // The command line speaks the language of its locale: English here, as the assertions read it.
        info.Environment["LANG"] = "en_US.UTF-8";
        info.Environment["LC_ALL"] = "en_US.UTF-8";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, System.Text.RegularExpressions.Regex.Replace(await output + await error, @"\s+", " "));
    }
}
