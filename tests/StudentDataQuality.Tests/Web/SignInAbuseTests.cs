using System.Net;
using Microsoft.AspNetCore.Builder;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Sign-in abuse and the language switch's redirect (issue 16, items 3 and 8), on a real Kestrel and the real database:
/// account names checked before the database, the rate limiter's 429 per address and per account, a throttle that slows
/// guessing without keeping a school out from where it works, "sealed" and "locked" told only to the right password, and
/// `/lang/{code}?back=` local paths only. Client addresses are given as a configured proxy gives them (X-Forwarded-For).
/// </summary>
[Trait("Category", "Security")]
public sealed class SignInAbuseTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task AnOverlongOrOddAccountName_IsRefusedBeforeTheDatabase_AndItsAuditEntryIsBounded()
    {
        var signIns = new SignIns(await db.AppDataSourceAsync(), SignInPolicy.Default with { DecoyHash = "decoy" });
        var counted = await db.ScalarAsync<long>("SELECT count(*) FROM access.sign_in_throttle");
        foreach (var name in new[] { new string('a', 5000), "school-1\r\nforged entry", "school'; DROP TABLE x;--", "" })
        {
            var checkedPassword = false;
            var result = await signIns.SignInAsync(name, _ => checkedPassword = true, "198.51.100.1");
            Assert.Equal(SignInOutcome.InvalidName, result.Outcome);
            Assert.False(checkedPassword);
        }

        Assert.Equal(counted, await db.ScalarAsync<long>("SELECT count(*) FROM access.sign_in_throttle"));
        Assert.Equal(4L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'sign-in.refused'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE length(object) > 65 OR object ~ '[[:cntrl:]]'"));

        await using var portal = await PortalAsync();
        using var browser = new PortalBrowser(portal.Site, "en");
        var refused = await browser.SignInAsync(new string('x', 300), "whatever-1234");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("1 to 64 letters", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheRateLimiter_Answers429_AfterNSignInsFromOneAddress_WithAPageInTheReadersLanguage()
    {
        await using var portal = await PortalAsync(s => s with
        {
            RateLimits = RateLimits.Default with { SignInPerAddress = new RateLimit(3, TimeSpan.FromHours(1)) },
        });
        using var english = new PortalBrowser(portal.Site, "en");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await english.SignInAsync($"nobody-r{i}", "wrong-password-1")).StatusCode);
        }

        var limited = await english.SignInAsync("nobody-r3", "wrong-password-1");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var page = await limited.Content.ReadAsStringAsync();
        Assert.Contains("Too many attempts", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", page, StringComparison.Ordinal);
        using var chinese = new PortalBrowser(portal.Site);
        Assert.Contains("尝试过于频繁", await (await chinese.SignInAsync("nobody-r4", "wrong-password-1")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The sign-in page itself is not limited.
        Assert.Equal(HttpStatusCode.OK, (await english.GetAsync("/login")).StatusCode);
    }

    [Fact]
    public async Task TheRateLimiter_LimitsUploadsPerAccount()
    {
        await using var portal = await PortalAsync(s => s with
        {
            RateLimits = RateLimits.Default with { UploadsPerAccount = new RateLimit(2, TimeSpan.FromHours(1)) },
        });
        using var school = new PortalBrowser(portal.Site, "en");
        await school.SignInFirstTimeAsync("school-r5", await PortalBrowser.AccountAsync(db.DataSource, "school-r5", AccountRole.School, "2301000205"));
        for (var i = 0; i < 2; i++)
        {
            Assert.NotEqual(HttpStatusCode.TooManyRequests, (await school.UploadAsync("/", "/school/returns", "a.csv", "x,y\n"u8.ToArray())).StatusCode);
        }

        var limited = await school.UploadAsync("/", "/school/returns", "a.csv", "x,y\n"u8.ToArray());
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Contains("Too many attempts", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailuresFromManyAddresses_DoNotKeepTheRealUserOut_FromWhereTheyUsuallySignIn()
    {
        await using var portal = await PortalAsync(s => s with { KnownProxies = ["127.0.0.1"] });
        var oneTime = await PortalBrowser.AccountAsync(db.DataSource, "school-r6", AccountRole.School, "2301000206");
        using (var usual = From(portal, "198.51.100.6"))
        {
            await usual.SignInFirstTimeAsync("school-r6", oneTime);
        }

        // Guessing from twelve addresses, two each: more than enough failures to slow the account.
        for (var i = 1; i <= 12; i++)
        {
            using var attacker = From(portal, $"203.0.113.{i}");
            for (var j = 0; j < 2; j++)
            {
                var guess = await attacker.SignInAsync("school-r6", $"guess-{i}-{j}");
                Assert.True(guess.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, guess.StatusCode.ToString());
            }
        }

        // From an address the account never signed in from, even the right password now waits (and is not checked).
        using (var elsewhere = From(portal, "203.0.113.99"))
        {
            var slowed = await elsewhere.SignInAsync("school-r6", "chosen-" + oneTime);
            Assert.Equal(HttpStatusCode.TooManyRequests, slowed.StatusCode);
            Assert.Contains("Too many failed sign-ins", await slowed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // From where the school works, it signs in.
        using var school = From(portal, "198.51.100.6");
        Assert.Equal("/", (await school.SignInAsync("school-r6", "chosen-" + oneTime)).Headers.Location?.OriginalString);
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'school-r6' AND action = 'sign-in.throttled'") >= 1);
    }

    [Fact]
    public async Task FailuresFromOneAddress_SlowThatAddress_ForEveryAccount()
    {
        await using var portal = await PortalAsync(s => s with
        {
            KnownProxies = ["127.0.0.1"], SignInPolicy = SignInPolicy.Default with { AddressMaxFailures = 4 },
        });
        var oneTime = await PortalBrowser.AccountAsync(db.DataSource, "school-r7", AccountRole.School, "2301000207");
        using var attacker = From(portal, "203.0.113.70");
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.SignInAsync($"nobody-r7-{i}", "guess-1234567")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await attacker.SignInAsync("school-r7", oneTime)).StatusCode);
        using var elsewhere = From(portal, "198.51.100.7");
        Assert.Equal("/password", (await elsewhere.SignInAsync("school-r7", oneTime)).Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task SealedAndLocked_AreToldOnlyToTheRightPassword()
    {
        await using var portal = await PortalAsync();
        var sealedPassword = await PortalBrowser.AccountAsync(db.DataSource, "district-r8", AccountRole.District, district: "230108");
        await db.ExecuteAsync("""
            UPDATE access.account SET last_sign_in_at = now() - interval '181 days', password_set_at = now() - interval '300 days',
                                      created_at = now() - interval '400 days'
            WHERE  account = 'district-r8'
            """);
        var lockedPassword = await PortalBrowser.AccountAsync(db.DataSource, "school-r9", AccountRole.School, "2301000209");
        await db.ExecuteAsync("UPDATE access.account SET locked_until = now() + interval '1 hour' WHERE account = 'school-r9'");
        using var browser = new PortalBrowser(portal.Site, "en");

        foreach (var (name, password, told) in new[] { ("district-r8", sealedPassword, "sealed"), ("school-r9", lockedPassword, "locked until") })
        {
            var wrong = await browser.SignInAsync(name, "not-the-password-1");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            var wrongPage = await wrong.Content.ReadAsStringAsync();
            Assert.Contains("The account or password is wrong", wrongPage, StringComparison.Ordinal);
            Assert.DoesNotContain(told, wrongPage, StringComparison.Ordinal);

            var right = await browser.SignInAsync(name, password);
            Assert.Equal(HttpStatusCode.Unauthorized, right.StatusCode);
            Assert.Contains(told, await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("//evil.example")]
    [InlineData("https://evil.example")]
    [InlineData("/\\evil.example")]
    [InlineData("/\t/evil.example")]
    [InlineData("/\r\nSet-Cookie: sdq.session=forged")]
    [InlineData("/%0d%0aLocation:%20https://evil.example")]
    [InlineData(" /school")]
    public async Task TheLanguageSwitch_GoesBackOnlyToALocalPath(string back)
    {
        await using var portal = await PortalAsync();
        using var browser = new PortalBrowser(portal.Site, "en");
        var answer = await browser.GetAsync("/lang/zh?back=" + Uri.EscapeDataString(back));
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.Equal("/", answer.Headers.Location?.OriginalString);

        var local = await browser.GetAsync("/lang/en?back=" + Uri.EscapeDataString("/school?code=2301000001"));
        Assert.Equal("/school?code=2301000001", local.Headers.Location?.OriginalString);
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task AnUploadAnotherSiteSent_OrOneWithoutItsLength_IsRefused_WithNothingOnRecordInTheAccountsName()
    {
        await using var portal = await PortalAsync();
        using var school = new PortalBrowser(portal.Site, "en");
        await school.SignInFirstTimeAsync("school-r10", await PortalBrowser.AccountAsync(db.DataSource, "school-r10", AccountRole.School, "2301000210"));
        var token = await school.FormTokenAsync("/");

        // Sent by another site's page (the browser says so): left to the antiforgery check, which refuses it; nothing drained
        // or audited for the account (a school with no worksheet would otherwise be refused, and audited, as an uploader).
        using (var crossSite = new HttpRequestMessage(HttpMethod.Post, "/school/returns") { Content = Upload(null) })
        {
            crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
            Assert.Equal(HttpStatusCode.BadRequest, (await school.Http.SendAsync(crossSite)).StatusCode);
        }

        // Without a Content-Length (chunked): it cannot be judged before it is read, so it is refused, with what to do.
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/school/returns") { Content = new Chunked(Upload(token)) };
        var answer = await school.Http.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.LengthRequired, answer.StatusCode);
        Assert.Contains("Choose the file again", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'school-r10' AND action LIKE 'worksheet.return%'"));

        // The same upload from the portal's own page is judged as the account's (refused: no worksheet of its own), on record.
        var own = await school.UploadAsync("/", "/school/returns", "a.xlsx", "x"u8.ToArray());
        Assert.Equal(HttpStatusCode.Forbidden, own.StatusCode);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'school-r10' AND action LIKE 'worksheet.return%'"));

        MultipartFormDataContent Upload(string? formToken)
        {
            var form = new MultipartFormDataContent { { new ByteArrayContent("x"u8.ToArray()), "file", "a.xlsx" } };
            if (formToken is not null)
            {
                form.Add(new StringContent(formToken), "__RequestVerificationToken");
            }

            return form;
        }
    }

    [Theory]
    [Trait("Category", "Security")]
    [InlineData("/school?code=%3Cscript%3E")]
    [InlineData("/district?code=230101%27%20OR%201%3D1")]
    public async Task ACodeThatCannotBeOne_IsNotFound_WithoutAQuery(string address)
    {
        await using var portal = await PortalAsync();
        using var team = new PortalBrowser(portal.Site, "en");
        var account = "team-r11-" + address.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await team.SignInFirstTimeAsync(account, await PortalBrowser.AccountAsync(db.DataSource, account, AccountRole.DataTeam));
        var answer = await team.GetAsync(address);
        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        Assert.DoesNotContain("<script>", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task AnUnexpectedFailure_IsAPageInTheReadersLanguage_NeverAStackTrace()
    {
        // The database is not there (nothing listens on port 1): the sign-in's first query fails as nothing a user did.
        await using var nowhere = Npgsql.NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=nobody;Database=nothing;Timeout=2");
        await using var portal = await PortalAsync(s => s with { DataSource = nowhere });
        foreach (var (language, told) in new[] { ("en", "Something unexpected went wrong"), ("zh-CN", "处理您的请求时出现意外错误") })
        {
            using var browser = new PortalBrowser(portal.Site, language);
            var answer = await browser.PasswordOnlyAsync("school-r12", "any-password-1");
            Assert.Equal(HttpStatusCode.InternalServerError, answer.StatusCode);
            var page = await answer.Content.ReadAsStringAsync();
            Assert.Contains(told, page, StringComparison.Ordinal);
            Assert.DoesNotContain("Npgsql", page, StringComparison.Ordinal);
            Assert.DoesNotContain(" at StudentDataQuality", page, StringComparison.Ordinal);
        }
    }

    /// <summary>A body sent without its length (chunked), as no browser sends a form.</summary>
    private sealed class Chunked : HttpContent
    {
        private readonly HttpContent inner;

        public Chunked(HttpContent inner)
        {
            this.inner = inner;
            Headers.ContentType = inner.Headers.ContentType;
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            await stream.WriteAsync(await inner.ReadAsByteArrayAsync());

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private static PortalBrowser From(RunningPortal portal, string address)
    {
        var browser = new PortalBrowser(portal.Site, "en");
        browser.Http.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        return browser;
    }

    private async Task<RunningPortal> PortalAsync(Func<PortalSettings, PortalSettings>? with = null)
    {
        var settings = new PortalSettings(await db.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(db), Worksheets.IngestScenario.Key,
            "http://127.0.0.1:0");
        var app = Portal.Build(with is null ? settings : with(settings));
        await app.StartAsync();
        return new RunningPortal(app, new Uri(app.Urls.First()));
    }

    private sealed record RunningPortal(WebApplication App, Uri Site) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
