using System.Globalization;
using Microsoft.Playwright;
using OtpNet;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// The authenticator app of the tests' people: it keeps the secret each enrolment page showed (per site and account) and
/// gives codes from it as a phone would, never one of a step it gave before (the portal takes each code once), waiting for
/// the next step when the window is used up.
/// </summary>
public static class Authenticators
{
    private static readonly Dictionary<string, (byte[] Secret, long LastStep)> Known = [];
    private static readonly Lock Gate = new();

    public const string EnrolPath = "/login/enrol";
    public const string CodePath = "/login/second-factor";

    /// <summary>Keeps the secret an enrolment page showed (base32, spaces allowed).</summary>
    public static byte[] Remember(Uri site, string account, string shownSecret)
    {
        var secret = Base32Encoding.ToBytes(shownSecret.Replace(" ", "", StringComparison.Ordinal).Trim());
        lock (Gate)
        {
            Known[Key(site, account)] = (secret, 0);
        }

        return secret;
    }

    /// <summary>The secret kept for the account.</summary>
    public static byte[] Remembered(Uri site, string account)
    {
        lock (Gate)
        {
            return Known.TryGetValue(Key(site, account), out var known) ? known.Secret
                : throw new InvalidOperationException($"No authenticator was set up for {account} on {site} in these tests.");
        }
    }

    /// <summary>A code of the secret kept for the account, of a step not given before.</summary>
    public static string NextCode(Uri site, string account)
    {
        while (true)
        {
            lock (Gate)
            {
                if (!Known.TryGetValue(Key(site, account), out var known))
                {
                    throw new InvalidOperationException($"No authenticator was set up for {account} on {site} in these tests.");
                }

                var now = Step(DateTimeOffset.UtcNow);
                var step = Math.Max(now, known.LastStep + 1);
                if (step <= now + 1)
                {
                    Known[Key(site, account)] = (known.Secret, step);
                    return Code(known.Secret, step);
                }
            }

            Thread.Sleep(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>The code of a secret at a 30-second step (RFC 6238, as the apps compute it).</summary>
    public static string Code(byte[] secret, long step) => new Totp(secret).ComputeTotp(DateTimeOffset.FromUnixTimeSeconds(step * 30).UtcDateTime);

    public static long Step(DateTimeOffset time) => time.ToUnixTimeSeconds() / 30;

    /// <summary>
    /// In a real browser on <paramref name="page"/>: opens <paramref name="start"/> (which sends it to sign in), signs in with
    /// the one-time password (and the second factor when the portal asks), chooses a new password, and ends on the home page.
    /// </summary>
    public static async Task SignInFirstTimeInBrowserAsync(IPage page, string start, string account, string oneTimePassword)
    {
        ArgumentNullException.ThrowIfNull(page);
        await page.GotoAsync(start);
        await page.WaitForURLAsync("**/login**");
        await page.Locator("#account").FillAsync(account);
        await page.Locator("#password").FillAsync(oneTimePassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "登录" }).ClickAsync();
        // The data team and districts set up their second factor first (the page's secret into the tests' authenticator).
        await PassInBrowserAsync(page, account);
        await page.WaitForURLAsync("**/password");
        await page.Locator("#current").FillAsync(oneTimePassword);
        await page.Locator("#new").FillAsync("browser-" + oneTimePassword);
        await page.Locator("#confirm").FillAsync("browser-" + oneTimePassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "保存" }).ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/");
    }

    /// <summary>
    /// In a real browser, after the password: enrols (reading the secret the page shows, entering a code, going past the
    /// recovery codes) or gives a code, when the portal asks for either; otherwise does nothing.
    /// </summary>
    public static async Task PassInBrowserAsync(IPage page, string account)
    {
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath != "/login");
        var url = new Uri(page.Url);
        var site = new Uri(url.GetLeftPart(UriPartial.Authority));
        if (url.AbsolutePath == EnrolPath)
        {
            Remember(site, account, await page.Locator("#secret").InnerTextAsync());
            await page.Locator("#code").FillAsync(NextCode(site, account));
            await page.Locator($"form[action='{EnrolPath}'] button").ClickAsync();
            await page.Locator("#recovery-codes").WaitForAsync();
            await page.Locator($"form[action='{EnrolPath}/done'] button").ClickAsync();
        }
        else if (url.AbsolutePath == CodePath)
        {
            await page.Locator("#code").FillAsync(NextCode(site, account));
            await page.Locator($"form[action='{CodePath}'] button").ClickAsync();
        }
    }

    private static string Key(Uri site, string account) => string.Create(CultureInfo.InvariantCulture, $"{site.Authority}|{account}");
}
