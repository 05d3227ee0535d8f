using System.Net;
using Microsoft.AspNetCore.Builder;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Sessions on the server (issue 16, item 4): a copied cookie is worth nothing after sign-out, a session ends after its
/// absolute lifetime and after an idle time (on a clock the test moves, never by waiting), a new password ends the
/// account's other sessions; over TLS (a configured proxy's X-Forwarded-Proto) cookies are `__Host-` and Secure and HSTS
/// is sent; forwarded headers count only from configured proxies. Each on a real Kestrel and the real database.
/// </summary>
[Trait("Category", "Security")]
public sealed class SessionSecurityTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task ACopiedSessionCookie_StopsWorking_AtSignOut()
    {
        await using var portal = await PortalAsync();
        using var browser = await SignedInAsync(portal, "school-s1", "2301000101");
        var copied = browser.Cookies.GetCookieHeader(portal.Site);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);

        var signedOut = await browser.PostAsync("/", "/logout", []);
        Assert.Equal("/login", signedOut.Headers.Location?.OriginalString);

        using var thief = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = portal.Site };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Cookie", copied);
        var stolen = await thief.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, stolen.StatusCode);
        Assert.StartsWith("/login", stolen.Headers.Location?.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'school-s1' AND action = 'sign-out'"));
    }

    [Fact]
    public async Task ASession_EndsAfterItsAbsoluteLifetime_ThoughUsedEveryFewMinutes()
    {
        var clock = new ManualClock();
        await using var portal = await PortalAsync(s => s with { Clock = clock });
        using var browser = await SignedInAsync(portal, "school-s2", "2301000102");
        // Used every 25 minutes (never idle for 30) up to 11 h 40 min, then once more past 12 hours.
        for (var used = TimeSpan.Zero; used < TimeSpan.FromHours(11.5); used += TimeSpan.FromMinutes(25))
        {
            clock.Advance(TimeSpan.FromMinutes(25));
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);
        }

        clock.Advance(TimeSpan.FromMinutes(25));
        Assert.StartsWith("/login", (await browser.GetAsync("/")).Headers.Location?.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASession_EndsAfterItsIdleTimeout()
    {
        var clock = new ManualClock();
        await using var portal = await PortalAsync(s => s with { Clock = clock, Sessions = new SessionPolicy { IdleTimeout = TimeSpan.FromMinutes(30) } });
        using var browser = await SignedInAsync(portal, "school-s3", "2301000103");
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.StartsWith("/login", (await browser.GetAsync("/")).Headers.Location?.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APasswordChange_EndsTheAccountsOtherSessions()
    {
        await using var portal = await PortalAsync();
        var oneTime = await PortalBrowser.AccountAsync(db.DataSource, "school-s4", AccountRole.School, "2301000104");
        using var first = new PortalBrowser(portal.Site, "en");
        await first.SignInFirstTimeAsync("school-s4", oneTime);
        // A second browser signs in with the password the first chose (as SignInFirstTimeAsync chooses it), then changes it.
        using var second = new PortalBrowser(portal.Site, "en");
        var password = "chosen-" + oneTime;
        Assert.Equal("/", (await second.SignInAsync("school-s4", password)).Headers.Location?.OriginalString);
        var changed = await second.PostAsync("/password", "/password", new() { ["current"] = password, ["new"] = "another-secret-44", ["confirm"] = "another-secret-44" });
        Assert.Equal("/", changed.Headers.Location?.OriginalString);

        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/")).StatusCode);
        Assert.StartsWith("/login", (await first.GetAsync("/")).Headers.Location?.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverTls_CookiesAreHostPrefixedAndSecure_AndHstsIsSent()
    {
        await using var portal = await PortalAsync(s => s with { Tls = true, KnownProxies = ["127.0.0.1"] });
        var password = await PortalBrowser.AccountAsync(db.DataSource, "school-s5", AccountRole.School, "2301000105");
        // As the TLS proxy forwards a browser's requests: X-Forwarded-Proto https; cookies kept by hand (they are Secure,
        // and this client speaks plain http to the proxy's side of the portal).
        using var proxy = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = portal.Site };
        var jar = new Dictionary<string, string>();
        var login = await SendAsync(proxy, jar, HttpMethod.Get, "/login", null);
        Assert.Equal("max-age=31536000; includeSubDomains", login.Headers.GetValues("Strict-Transport-Security").Single());
        var antiforgery = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-sdq.antiforgery=", StringComparison.Ordinal));
        AssertHostCookie(antiforgery);
        var language = await SendAsync(proxy, jar, HttpMethod.Get, "/lang/en?back=/login", null);
        AssertHostCookie(language.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-sdq.lang=", StringComparison.Ordinal)));

        var html = await login.Content.ReadAsStringAsync();
        var token = System.Text.RegularExpressions.Regex.Match(html, """<input type="hidden" name="([^"]+)" value="([^"]+)"\s*/?>""");
        var signIn = await SendAsync(proxy, jar, HttpMethod.Post, "/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [token.Groups[1].Value] = WebUtility.HtmlDecode(token.Groups[2].Value), ["account"] = "school-s5", ["password"] = password,
        }));
        Assert.Equal("/password", signIn.Headers.Location?.OriginalString);
        var session = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-sdq.session=", StringComparison.Ordinal));
        AssertHostCookie(session);
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", session, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(proxy, jar, HttpMethod.Get, "/password", null)).StatusCode);

        static void AssertHostCookie(string cookie)
        {
            Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("; path=/", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("domain=", cookie, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task ForwardedHeaders_CountOnlyFromConfiguredProxies()
    {
        foreach (var (proxies, expected) in new[] { (Array.Empty<string>(), "127.0.0.1"), (["127.0.0.1"], "203.0.113.7") })
        {
            await using var portal = await PortalAsync(s => s with { KnownProxies = proxies });
            using var browser = new PortalBrowser(portal.Site, "en");
            browser.Http.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
            var name = "nobody-" + proxies.Length;
            Assert.Equal(HttpStatusCode.Unauthorized, (await browser.SignInAsync(name, "wrong-password-1")).StatusCode);
            Assert.Equal(expected, await db.ScalarAsync<string>(
                "SELECT details->>'from' FROM audit.event WHERE actor = @a AND action = 'sign-in.failed'", ("a", name)));
            // Without a configured proxy the page is not taken for https either: no HSTS over plain http.
            Assert.False((await browser.GetAsync("/login")).Headers.Contains("Strict-Transport-Security"));
        }
    }

    private async Task<RunningPortal> PortalAsync(Func<PortalSettings, PortalSettings>? with = null)
    {
        var settings = new PortalSettings(await db.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(db), Worksheets.IngestScenario.Key,
            "http://127.0.0.1:0");
        var app = Portal.Build(with is null ? settings : with(settings));
        await app.StartAsync();
        return new RunningPortal(app, new Uri(app.Urls.First()));
    }

    private async Task<PortalBrowser> SignedInAsync(RunningPortal portal, string name, string school)
    {
        var browser = new PortalBrowser(portal.Site, "en");
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, AccountRole.School, school));
        return browser;
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, Dictionary<string, string> jar, HttpMethod method, string path, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.AcceptLanguage.ParseAdd("en");
        if (jar.Count > 0)
        {
            request.Headers.Add("Cookie", string.Join("; ", jar.Select(c => $"{c.Key}={c.Value}")));
        }

        var response = await client.SendAsync(request);
        foreach (var cookie in response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [])
        {
            var pair = cookie.Split(';')[0].Split('=', 2);
            jar[pair[0]] = pair[1];
        }

        return response;
    }

    private sealed record RunningPortal(WebApplication App, Uri Site) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
