using Microsoft.Playwright;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// The class teacher's pages in a real browser (Debian chromium through Playwright) at a phone's width (390 px): the teacher
/// signs in, finds a sheet by typing its id as printed, enters a corrected phone with the buttons of the form and reads what
/// became of it; the page fits the phone's width (no sideways scrolling of the page itself), in Chinese and in English.
/// </summary>
public sealed class ClassBrowserTests(ClassBrowserTests.Site site) : IClassFixture<ClassBrowserTests.Site>
{
    public sealed class Site : IAsyncLifetime
    {
        public PortalRound Round { get; } = new();
        public ClassCampaign Campaign { get; private set; } = null!;
        public Chromium Chromium { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Round.InitializeAsync();
            Campaign = await ClassCampaign.PrintAsync(Round);
            Chromium = await Chromium.LaunchAsync();
        }

        public async Task DisposeAsync()
        {
            await Chromium.DisposeAsync();
            await Round.DisposeAsync();
        }
    }

    private DatabaseFixture Db => site.Round.Database;

    private async Task<IPage> TeacherOnAPhoneAsync(string name)
    {
        var page = await site.Chromium.NewPageAsync(site.Round.Site, "zh-CN", width: 390, height: 844);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/class", name, await site.Campaign.TeacherAsync(Db, name));
        return page;
    }

    /// <summary>The page is no wider than the screen: only tables scroll sideways, inside their own box.</summary>
    private static async Task AssertFitsAsync(IPage page) =>
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
            $"{page.Url} is wider than the phone");

    [Fact]
    public async Task OnAPhone_TheTeacherFindsASheetById_AndEntersACorrectedPhone()
    {
        var page = await TeacherOnAPhoneAsync("teacher-phone");
        var sheet = site.Campaign.Printed.Sheets[0];

        await page.GetByRole(AriaRole.Link, new() { Name = "我的班级" }).ClickAsync();
        await page.WaitForURLAsync("**/class");
        Assert.Contains(site.Campaign.Class.ToString(), await page.Locator("h2").First.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(site.Campaign.Printed.Sheets.Count, await page.Locator("table.students tr:has(td)").CountAsync());
        await AssertFitsAsync(page);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "class-phone.png"), FullPage = true });

        // The id as printed on the sheet, typed into the search box.
        await page.GetByLabel("确认表编号、学籍号或姓名").FillAsync(SheetId.Format(sheet.SheetId));
        await page.GetByRole(AriaRole.Button, new() { Name = "查找" }).ClickAsync();
        await page.WaitForURLAsync("**/class/sheets/" + sheet.SheetId);
        Assert.Contains(SheetId.Format(sheet.SheetId), await page.Locator("h1").InnerTextAsync(), StringComparison.Ordinal);
        await AssertFitsAsync(page);

        var phone = ClassCampaign.Other(sheet["guardian_phone"], "13812345678", "13887654321");
        await page.Locator("#v-guardian_phone").FillAsync(phone);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "class-sheet-phone.png"), FullPage = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "录入更正" }).ClickAsync();
        await page.Locator("table.changes").WaitForAsync();
        Assert.Equal("家长回执已录入", await page.Locator("h1").InnerTextAsync());
        var row = await page.Locator("table.changes tr:has(td)").InnerTextAsync();
        Assert.Contains(phone, row, StringComparison.Ordinal);
        Assert.Contains("已更正", row, StringComparison.Ordinal);
        await AssertFitsAsync(page);
        Assert.Equal(phone, await Db.ScalarAsync<string>(
            "SELECT guardian_phone_raw FROM registry.record WHERE round_id = @r AND record_id = @id AND is_current",
            ("r", site.Round.Run.RoundId), ("id", sheet.RecordId)));

        // Back on the class page, the student stands corrected.
        await page.GetByRole(AriaRole.Link, new() { Name = "返回我的班级" }).ClickAsync();
        await page.WaitForURLAsync("**/class");
        Assert.Contains("家长已更正", await page.Locator("table.students tr", new() { HasText = SheetId.Format(sheet.SheetId) }).InnerTextAsync(),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnAPhone_InEnglish_TheTeacherConfirmsASheetUnchanged()
    {
        var page = await TeacherOnAPhoneAsync("teacher-phone-en");
        var sheet = site.Campaign.Printed.Sheets[1];

        // The language switch of the page, as a reader uses it; it comes back to the same page.
        await page.GotoAsync("/class");
        await page.GetByRole(AriaRole.Link, new() { Name = "English", Exact = true }).ClickAsync();
        // The address is /class before and after the switch: the English heading says the switch has come back.
        await page.Locator("h1", new() { HasText = "My classes" }).WaitForAsync();
        await page.WaitForURLAsync("**/class");
        Assert.Equal("My classes · parents' confirmations", await page.Locator("h1").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = SheetId.Format(sheet.SheetId) }).ClickAsync();
        await page.WaitForURLAsync("**/class/sheets/" + sheet.SheetId);
        await AssertFitsAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirmed unchanged" }).ClickAsync();
        await page.WaitForURLAsync("**/class/sheets/" + sheet.SheetId);
        Assert.Equal("The parent's answer is entered", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("Recorded: the parent confirmed the record unchanged.", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "class-unchanged-en.png"), FullPage = true });
        Assert.Equal("unchanged", await Db.ScalarAsync<string>("SELECT outcome FROM confirm.answer WHERE sheet_id = @s", ("s", sheet.SheetId)));
    }
}
