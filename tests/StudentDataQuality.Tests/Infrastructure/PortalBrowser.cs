using System.Net;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// Speaks to the portal as a browser does: cookies kept, redirects not followed (so that each answer can be asserted),
/// forms posted with the antiforgery token of the page they are on.
/// </summary>
public sealed partial class PortalBrowser : IDisposable
{
    /// <summary>A browser on the portal; <paramref name="language"/> is what it asks for (Accept-Language), none: the portal's default, Chinese.</summary>
    public PortalBrowser(Uri site, string? language = null)
    {
        Http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = site };
        if (language is not null)
        {
            Http.DefaultRequestHeaders.AcceptLanguage.ParseAdd(language);
        }
    }

    public HttpClient Http { get; }

    /// <summary>The cookies it holds (a test copies them, as a thief would).</summary>
    public CookieContainer Cookies { get; } = new();

    public void Dispose() => Http.Dispose();

    public Task<HttpResponseMessage> GetAsync(string path) => Http.GetAsync(new Uri(Http.BaseAddress!, path));

    /// <summary>
    /// Signs in as a person does: the password, then the second factor when the portal asks for it (enrolment with the
    /// secret its page shows, kept in <see cref="Authenticators"/>, or a code from it). The answer is the last one: the
    /// start of the session (or the password's refusal).
    /// </summary>
    public async Task<HttpResponseMessage> SignInAsync(string account, string password)
    {
        var answer = await PasswordOnlyAsync(account, password);
        return answer.Headers.Location?.OriginalString switch
        {
            Authenticators.EnrolPath => (await EnrolAsync(account)).Answer,
            Authenticators.CodePath => await PostAsync(Authenticators.CodePath, Authenticators.CodePath,
                new() { ["code"] = Authenticators.NextCode(Http.BaseAddress!, account) }),
            _ => answer,
        };
    }

    /// <summary>The password step of signing in only: its answer (to the second factor, or the session, or a refusal).</summary>
    public Task<HttpResponseMessage> PasswordOnlyAsync(string account, string password) =>
        PostAsync("/login", "/login", new() { ["account"] = account, ["password"] = password });

    /// <summary>
    /// Enrols at sign-in (the password given, the portal sent here): reads the secret from the enrolment page, enters a code
    /// of it, reads the recovery codes, and goes on; the answer of going on (the session's start) and what was shown.
    /// </summary>
    public async Task<(HttpResponseMessage Answer, string Secret, IReadOnlyList<string> RecoveryCodes)> EnrolAsync(string account)
    {
        var page = await Http.GetStringAsync(new Uri(Http.BaseAddress!, Authenticators.EnrolPath));
        var secret = SecretField().Match(page);
        Assert.True(secret.Success, "no secret on the enrolment page");
        Authenticators.Remember(Http.BaseAddress!, account, secret.Groups[1].Value);
        var shown = await Http.PostAsync(new Uri(Http.BaseAddress!, Authenticators.EnrolPath), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [TokenName] = Token(page), ["code"] = Authenticators.NextCode(Http.BaseAddress!, account),
        }));
        var codesPage = await shown.Content.ReadAsStringAsync();
        Assert.True(shown.StatusCode == HttpStatusCode.OK, $"enrolment refused: {shown.StatusCode}");
        var codes = RecoveryCodeField().Matches(codesPage).Select(m => m.Groups[1].Value).ToArray();
        var answer = await Http.PostAsync(new Uri(Http.BaseAddress!, Authenticators.EnrolPath + "/done"),
            new FormUrlEncodedContent(new Dictionary<string, string> { [TokenName] = Token(codesPage) }));
        return (answer, secret.Groups[1].Value, codes);
    }

    /// <summary>Signs in with a one-time password and chooses a new one, as a first sign-in does.</summary>
    public async Task SignInFirstTimeAsync(string account, string oneTimePassword)
    {
        await SignInAsync(account, oneTimePassword);
        var chosen = "chosen-" + oneTimePassword;
        var changed = await PostAsync("/password", "/password", new() { ["current"] = oneTimePassword, ["new"] = chosen, ["confirm"] = chosen });
        Assert.Equal("/", changed.Headers.Location?.OriginalString);
    }

    /// <summary>Opens the form's page (for its antiforgery token and cookie) and posts the form.</summary>
    public async Task<HttpResponseMessage> PostAsync(string page, string action, Dictionary<string, string> fields)
    {
        fields[TokenName] = await TokenAsync(page);
        return await Http.PostAsync(new Uri(Http.BaseAddress!, action), new FormUrlEncodedContent(fields));
    }

    /// <summary>Uploads a file with the form of a page, as a file input does.</summary>
    public async Task<HttpResponseMessage> UploadAsync(string page, string action, string fileName, byte[] bytes)
    {
        using var form = new MultipartFormDataContent { { new StringContent(await TokenAsync(page)), TokenName }, { new ByteArrayContent(bytes), "file", fileName } };
        return await Http.PostAsync(new Uri(Http.BaseAddress!, action), form);
    }

    /// <summary>The antiforgery token of a page's form, as a browser holds it while the page is open.</summary>
    public Task<string> FormTokenAsync(string page) => TokenAsync(page);

    /// <summary>Uploads a file with a token read before (<see cref="FormTokenAsync"/>), as the open page's form does.</summary>
    public async Task<HttpResponseMessage> UploadWithTokenAsync(string action, string token, string fileName, byte[] bytes, CancellationToken cancellationToken)
    {
        using var form = new MultipartFormDataContent { { new StringContent(token), TokenName }, { new ByteArrayContent(bytes), "file", fileName } };
        return await Http.PostAsync(new Uri(Http.BaseAddress!, action), form, cancellationToken);
    }

    private string TokenName { get; set; } = "__RequestVerificationToken";

    private async Task<string> TokenAsync(string page) => Token(await Http.GetStringAsync(new Uri(Http.BaseAddress!, page)));

    /// <summary>The antiforgery token of a page read before.</summary>
    public string Token(string html)
    {
        var token = TokenField().Match(html);
        Assert.True(token.Success, "no antiforgery token on the page");
        TokenName = token.Groups[1].Value;
        return WebUtility.HtmlDecode(token.Groups[2].Value);
    }

    /// <summary>The name of the antiforgery field (as the last page read names it).</summary>
    public string TokenFieldName => TokenName;

    /// <summary>Adds the account (if new) and gives it a one-time password, as `sdq user add` and `sdq user reset` do.</summary>
    public static async Task<string> AccountAsync(Npgsql.NpgsqlDataSource dataSource, string name, AccountRole role, string? school = null, string? district = null)
    {
        await new AccountStore(dataSource).AddAsync(new Account(name, role, school, district), "test");
        var password = Passwords.OneTime();
        await new SignIns(dataSource).SetPasswordAsync(name, Passwords.Hash(name, password), oneTime: true, "test");
        return password;
    }

    [GeneratedRegex("""<input type="hidden" name="([^"]+)" value="([^"]+)"\s*/?>""")]
    private static partial Regex TokenField();

    [GeneratedRegex("""<code id="secret">([A-Z2-7 ]+)</code>""")]
    private static partial Regex SecretField();

    [GeneratedRegex("""<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>""")]
    private static partial Regex RecoveryCodeField();
}
