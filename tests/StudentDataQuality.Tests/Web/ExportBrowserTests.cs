using System.Diagnostics;
using Microsoft.Playwright;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// A request for the province's problem list in full, in a real browser (Debian chromium through Playwright), as the data
/// team works it: one account asks with its purpose, a second approves it on the register, the first downloads it; the
/// file, read by another program (openpyxl), names the export the register recorded.
/// </summary>
public sealed class ExportBrowserTests(BrowserTests.Site site) : IClassFixture<BrowserTests.Site>
{
    private readonly PortalRound _round = site.Round;
    private DatabaseFixture Db => _round.Database;

    [Fact]
    public async Task TheDataTeam_AsksApprovesAndDownloadsTheProvinceProblemList_InTheBrowser_AndTheFileNamesItsExport()
    {
        var asker = await SignedInAsync("team-browser-asks", AccountRole.DataTeam);
        var approver = await SignedInAsync("team-browser-approves", AccountRole.DataTeam);

        // The asker, from the console: the form, the province, a purpose.
        await asker.GotoAsync("/team");
        await asker.GetByRole(AriaRole.Link, new() { Name = "申请导出" }).ClickAsync();
        await asker.WaitForURLAsync("**/exports");
        await asker.Locator("#kind").SelectOptionAsync("problem_list");
        await asker.Locator("#round").SelectOptionAsync("portal");
        await asker.Locator("#scope").SelectOptionAsync("province");
        await asker.Locator("#purpose").FillAsync("全省问题清单：督促各区县整改");
        await asker.GetByRole(AriaRole.Button, new() { Name = "提交申请" }).ClickAsync();
        await asker.WaitForURLAsync("**/exports?asked=*");
        var id = await Db.ScalarAsync<long>("SELECT max(request_id) FROM export.request WHERE requested_by = 'team-browser-asks'");
        var row = asker.Locator($"#request-{id}");
        Assert.Contains("等待审批", await row.InnerTextAsync(), StringComparison.Ordinal);

        // The second account approves it on the register, with a note.
        await approver.GotoAsync("/team");
        await approver.GetByRole(AriaRole.Link, new() { Name = "导出登记" }).ClickAsync();
        await approver.WaitForURLAsync("**/team/exports");
        var waiting = approver.Locator($"#request-{id}");
        await waiting.Locator("input[name=note]").FillAsync("同意");
        await waiting.GetByRole(AriaRole.Button, new() { Name = "批准" }).ClickAsync();
        await approver.WaitForURLAsync("**/team/exports#requests");
        Assert.Contains("已批准", await approver.Locator($"#request-{id}").InnerTextAsync(), StringComparison.Ordinal);

        // The asker downloads it, once.
        await asker.GotoAsync("/exports");
        var download = await asker.RunAndWaitForDownloadAsync(() => asker.Locator($"#request-{id}").GetByRole(AriaRole.Button, new() { Name = "下载" }).ClickAsync());
        var folder = Directory.CreateTempSubdirectory("sdq-export-browser-");
        try
        {
            var path = Path.Combine(folder.FullName, download.SuggestedFilename);
            await download.SaveAsAsync(path);
            Assert.EndsWith(".xlsx", path, StringComparison.Ordinal);
            var exportId = await Db.ScalarAsync<string>("SELECT export_id FROM export.file WHERE request_id = @id", ("id", id));
            var read = await OpenpyxlAsync(path);
            Assert.Contains(exportId, read.Replace("-", "", StringComparison.Ordinal), StringComparison.Ordinal);

            // The register shows the file that left, with its request; the request is spent.
            await approver.GotoAsync("/team/exports");
            Assert.Contains(ExportId.Format(exportId), await approver.Locator("table.files").InnerTextAsync(), StringComparison.Ordinal);
            Assert.Contains("已于", await approver.Locator($"#request-{id}").InnerTextAsync(), StringComparison.Ordinal);
            await approver.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Chromium.Screenshots, "export-register.png"), FullPage = true });
            await asker.GotoAsync("/exports");
            Assert.Equal(0, await asker.Locator($"#request-{id}").GetByRole(AriaRole.Button, new() { Name = "下载" }).CountAsync());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// What openpyxl (Debian python3-openpyxl, another program than the one that wrote it) reads of the workbook's
    /// watermark: the cells of its very hidden sheets, and every sheet's header and footer.
    /// </summary>
    private static async Task<string> OpenpyxlAsync(string path)
    {
        const string Script = """
            import sys
            import openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            for sheet in book.worksheets:
                if sheet.sheet_state == "veryHidden":
                    for row in sheet.iter_rows(values_only=True):
                        print("hidden:", " ".join(str(v) for v in row if v is not None))
                for part in (sheet.oddHeader, sheet.oddFooter):
                    for side in (part.left, part.center, part.right):
                        if side.text:
                            print("header/footer:", side.text)
            """;
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-c", Script, path })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, "openpyxl (Debian python3-openpyxl) failed: " + error);
        return await output;
    }

    private async Task<IPage> SignedInAsync(string account, AccountRole role)
    {
        var page = await site.Chromium.NewPageAsync(_round.Site);
        await Authenticators.SignInFirstTimeInBrowserAsync(page, "/", account, await PortalBrowser.AccountAsync(Db.DataSource, account, role));
        return page;
    }
}
