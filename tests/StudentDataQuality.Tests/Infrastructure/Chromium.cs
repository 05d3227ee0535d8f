using Microsoft.Playwright;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// The machine's chromium (Debian's /usr/bin/chromium, or SDQ_CHROMIUM) driven by Playwright, headless: no browser is
/// downloaded (docs/development.md). One browser per test class; each test opens its own contexts (cookies apart, like people).
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    private readonly IPlaywright _playwright;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("SDQ_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";

    /// <summary>Where the browser tests leave their screenshots (beside the test results).</summary>
    public static string Screenshots => Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    public static async Task<Chromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"The browser tests need chromium at {ExecutablePath}: apt-get install -y chromium fonts-wqy-microhei (.ci/run does), or set SDQ_CHROMIUM.");
        }

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage"],
        });
        return new Chromium(playwright, browser);
    }

    /// <summary>A new person at a browser: own cookies, a language, a screen (1280 px wide unless a phone is asked for).</summary>
    public async Task<IPage> NewPageAsync(Uri site, string locale = "zh-CN", int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = site.ToString(),
            Locale = locale,
            AcceptDownloads = true,
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        // How long a step may wait for the page (not a measure of speed): on a 2-core CI machine running the whole suite in
        // parallel, a sign-in's redirect chain once took longer than 30 s.
        context.SetDefaultTimeout(90_000);
        return await context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
