using Microsoft.Playwright;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Guides;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The screenshots the guides show (docs/guides/img), in one place: their names, and where the guides' sources are. The
/// tests of the guides share this list: a guide may show only what <see cref="GuideScreenshotsTests"/> takes.
/// </summary>
public static class GuideScreenshots
{
    /// <summary>Every screenshot a guide shows, each taken by <see cref="GuideScreenshotsTests"/> from the generated province.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["school-status.png", "district-schools.png", "class-teacher-classes.png", "data-team-console.png", "manager-trends.png"];

    /// <summary>docs/guides of the repository this test was built from (found by walking up to StudentDataQuality.sln).</summary>
    public static string Sources
    {
        get
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "StudentDataQuality.sln")))
                {
                    return Path.Combine(folder.FullName, "docs", "guides");
                }
            }

            throw new InvalidOperationException("StudentDataQuality.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static string Images => Path.Combine(Sources, "img");

    /// <summary>True when the bytes start as a PNG file does.</summary>
    public static bool IsPng(byte[] bytes) => bytes.AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A });

    /// <summary>Every guide's source in the repository, parsed: (role, English, guide).</summary>
    public static IEnumerable<(string Role, bool English, Guide Guide)> All() =>
        from role in GuideRoles.All
        from english in new[] { false, true }
        let name = GuideRoles.SourceName(role, english)
        select (role, english, GuideMarkdown.Parse(File.ReadAllText(Path.Combine(Sources, name)), name));
}

/// <summary>
/// The guides' screenshots, taken in a real browser (Debian chromium through Playwright) from the generated province of
/// <see cref="PortalRound"/>, each role signed in as its people are, and written into docs/guides/img of the source tree: a
/// page that changes gives a changed screenshot, to be committed (docs/development.md). And the guides' sources are checked
/// against them: every image a guide shows is there, is a PNG, and is one this test takes.
/// </summary>
public sealed class GuideScreenshotsTests(BrowserTests.Site site) : IClassFixture<BrowserTests.Site>
{
    private readonly PortalRound _round = site.Round;
    private DatabaseFixture Db => _round.Database;

    [Fact]
    public async Task EveryScreenshotTheGuidesShow_IsTakenFromTheGeneratedProvince_AsAPng()
    {
        // The first school with a worksheet and a district, and its district.
        var picked = (await Db.ScalarAsync<string>("""
            SELECT w.school_code || '|' || d.district_code
            FROM   exchange.worksheet w JOIN access.school_district d ON d.school_code = w.school_code AND d.district_code IS NOT NULL
            WHERE  w.round_id = @r ORDER BY w.school_code LIMIT 1
            """, ("r", _round.Run.RoundId))).Split('|');
        var (school, district) = (picked[0], picked[1]);
        var shots = new Dictionary<string, Func<Task<IPage>>>
        {
            ["school-status.png"] = async () => await AtAsync("guide-school", AccountRole.School, "/school", school: school),
            ["district-schools.png"] = async () => await AtAsync("guide-district", AccountRole.District, "/district", district: district),
            ["class-teacher-classes.png"] = ClassTeacherAsync,
            ["data-team-console.png"] = async () => await AtAsync("guide-team", AccountRole.DataTeam, "/team"),
            ["manager-trends.png"] = async () => await AtAsync("guide-manager", AccountRole.Manager, "/trends"),
        };
        Assert.Equal(GuideScreenshots.Names.Order(StringComparer.Ordinal), shots.Keys.Order(StringComparer.Ordinal));

        Directory.CreateDirectory(GuideScreenshots.Images);
        foreach (var (name, open) in shots)
        {
            var page = await open();
            Assert.NotEqual(0, await page.Locator("h1").CountAsync());
            var png = await page.ScreenshotAsync(new PageScreenshotOptions { Type = ScreenshotType.Png });
            await page.Context.CloseAsync();
            Assert.True(GuideScreenshots.IsPng(png), name);
            await File.WriteAllBytesAsync(Path.Combine(GuideScreenshots.Images, name), png);
        }
    }

    [Fact]
    public void EveryImageAGuideShows_IsInTheImagesFolder_IsAPng_AndIsOneThisTestTakes()
    {
        var shown = GuideScreenshots.All().SelectMany(g => g.Guide.Images).ToHashSet(StringComparer.Ordinal);
        foreach (var name in shown)
        {
            var path = Path.Combine(GuideScreenshots.Images, name);
            Assert.True(File.Exists(path), $"a guide shows img/{name}, which is not in docs/guides/img");
            Assert.True(GuideScreenshots.IsPng(File.ReadAllBytes(path)), $"docs/guides/img/{name} is not a PNG");
            Assert.Contains(name, GuideScreenshots.Names);
        }

        // Nothing else lies in the folder (an image no guide shows would be served by nobody and kept by no test).
        foreach (var file in Directory.EnumerateFiles(GuideScreenshots.Images))
        {
            Assert.True(GuideScreenshots.IsPng(File.ReadAllBytes(file)), $"{file} is not a PNG");
            Assert.Contains(Path.GetFileName(file), shown);
        }

        // Every guide exists in both languages, with the same screenshots in each.
        foreach (var role in GuideRoles.All)
        {
            var guides = GuideScreenshots.All().Where(g => g.Role == role).ToList();
            Assert.Equal(2, guides.Count);
            Assert.Equal(guides[0].Guide.Images, guides[1].Guide.Images);
            Assert.NotEmpty(guides[0].Guide.Steps);
        }
    }

    private async Task<IPage> AtAsync(string account, AccountRole role, string path, string? school = null, string? district = null)
    {
        var page = await site.Chromium.NewPageAsync(_round.Site, width: 1100, height: 700);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/", account,
            await PortalBrowser.AccountAsync(Db.DataSource, account, role, school, district));
        await page.GotoAsync(path);
        return page;
    }

    private async Task<IPage> ClassTeacherAsync()
    {
        var picked = await Db.ScalarAsync<string>(
            "SELECT school_code || '|' || grade || '|' || class_name FROM registry.record WHERE round_id = @r AND is_current AND grade IS NOT NULL AND class_name IS NOT NULL ORDER BY 1 LIMIT 1",
            ("r", _round.Run.RoundId));
        var parts = picked.Split('|');
        await Db.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, @g, @c, 'test')",
            ("a", "guide-teacher"), ("s", parts[0]), ("g", new[] { short.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) }), ("c", new[] { parts[2] }));
        // The school prints the class's confirmation sheets, as it does to start the parents' confirmation: the teacher's
        // page then shows the class (generated students only).
        using (var registrar = new PortalBrowser(_round.Site))
        {
            await registrar.SignInFirstTimeAsync("guide-registrar",
                await PortalBrowser.AccountAsync(Db.DataSource, "guide-registrar", AccountRole.School, parts[0]));
            var printed = await registrar.PostAsync("/school", "/school/confirmations/print", new() { ["grade"] = parts[1], ["class"] = parts[2] });
            Assert.Equal(System.Net.HttpStatusCode.OK, printed.StatusCode);
        }

        var password = Passwords.OneTime();
        await new SignIns(Db.DataSource).SetPasswordAsync("guide-teacher", Passwords.Hash("guide-teacher", password), oneTime: true, "test");
        var page = await site.Chromium.NewPageAsync(_round.Site, width: 1100, height: 700);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/", "guide-teacher", password);
        await page.GotoAsync("/class");
        return page;
    }
}
