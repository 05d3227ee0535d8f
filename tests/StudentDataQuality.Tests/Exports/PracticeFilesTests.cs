using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ClosedXML.Excel;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Training;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Web;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Tests.Exports;

/// <summary>
/// Every file that leaves a practice database says "练习 / Practice" (docs/training.md, "In the portal and its files"):
/// a worksheet and its receipt downloaded from a practice portal, read back with ClosedXML and with openpyxl, have it in
/// their title line, in every sheet's header and footer (the sheets open in page layout view, so it is seen on screen) and
/// in their properties; the worksheet, corrected and sent back, is still taken; a confirmation PDF has it on every page. The
/// same files from a real database have none of it.
/// </summary>
[Collection(PracticeCollection.Name)]
public sealed class PracticeFilesTests(PracticeSites sites)
{
    private sealed record Files(byte[] Worksheet, byte[] Receipt, byte[] Pdf);

    /// <summary>One school's worksheet downloaded, corrected and returned, its receipt downloaded, and a class's confirmation sheets printed.</summary>
    private static async Task<Files> TakeAsync(PortalRound site, string prefix)
    {
        var db = site.Database;
        var campaign = await ClassCampaign.PrintAsync(site);
        var school = campaign.School;
        var name = prefix + "-files-" + school;
        using var registrar = new PortalBrowser(site.Site);
        await registrar.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, AccountRole.School, school));
        var worksheetId = await db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s LIMIT 1",
            ("r", site.Run.RoundId), ("s", school));
        var download = await registrar.GetAsync($"/school/worksheets/{worksheetId}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var worksheet = await download.Content.ReadAsByteArrayAsync();

        // Corrected as a registrar does and sent back: a practice worksheet is taken as any.
        var answers = RegistrarAnswers.Load(site.Province.RegistrarAnswersPath);
        var edited = RegistrarSimulator.Edit(worksheet, answers.GetValueOrDefault(school) ?? [], RegistrarStyle.Diligent, 19);
        var upload = await registrar.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook);
        Assert.Equal(HttpStatusCode.Redirect, upload.StatusCode);
        var returnId = await db.ScalarAsync<long>("SELECT return_id FROM exchange.worksheet_return WHERE worksheet_id = @w", ("w", worksheetId));
        var receipt = await registrar.GetAsync($"/school/returns/{returnId}/receipt.xlsx");
        Assert.Equal(HttpStatusCode.OK, receipt.StatusCode);

        var pdf = await registrar.PostAsync("/school", "/school/confirmations/print", new()
        {
            ["grade"] = campaign.Class.Grade.ToString(CultureInfo.InvariantCulture), ["class"] = campaign.Class.ClassName,
        });
        Assert.Equal(HttpStatusCode.OK, pdf.StatusCode);
        return new Files(worksheet, await receipt.Content.ReadAsByteArrayAsync(), await pdf.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task FilesFromAPracticePortal_SayPractice_InTheTitleEverySheetsHeaderAndFooterAndEveryPdfPage_ARealOnesNone()
    {
        var practice = await TakeAsync(sites.Practice, "practice");
        var real = await TakeAsync(sites.Real, "real");

        foreach (var (file, titleSheet) in new[] { (practice.Worksheet, 0), (practice.Receipt, -1) })
        {
            // ClosedXML: the title line (the active sheet's A1) starts with the label; every visible sheet's header and footer carry it.
            using (var book = new XLWorkbook(new MemoryStream(file)))
            {
                var title = (titleSheet >= 0 ? book.Worksheet(titleSheet + 1) : book.Worksheets.First(w => w.TabActive)).Cell(1, 1).GetString();
                Assert.StartsWith(Practice.Label + " · ", title, StringComparison.Ordinal);
                Assert.StartsWith(Practice.Label, book.Properties.Title, StringComparison.Ordinal);
                foreach (var sheet in book.Worksheets)
                {
                    Assert.Contains(Practice.Label, sheet.PageSetup.Header.Left.GetText(XLHFOccurrence.OddPages), StringComparison.Ordinal);
                    Assert.Contains(Practice.Label, sheet.PageSetup.Footer.Left.GetText(XLHFOccurrence.OddPages), StringComparison.Ordinal);
                }
            }

            // openpyxl (another program): the same headers and footers, page layout view on every visible sheet, and the property.
            var seen = Openpyxl(file);
            Assert.All(seen.GetProperty("sheets").EnumerateArray(), s =>
            {
                Assert.Contains(Practice.Label, s.GetProperty("header").GetString()!, StringComparison.Ordinal);
                Assert.Contains(Practice.Label, s.GetProperty("footer").GetString()!, StringComparison.Ordinal);
                if (s.GetProperty("state").GetString() == "visible")
                {
                    Assert.Equal("pageLayout", s.GetProperty("view").GetString());
                }
            });
            Assert.Equal(Practice.Label, seen.GetProperty("properties").GetProperty(XlsxWatermark.PracticeProperty).GetString());
            Assert.True(XlsxWatermark.Read(new MemoryStream(file))!.Practice);
        }

        // The confirmation sheets: the label on every page.
        var pages = Poppler.Pages(practice.Pdf);
        Assert.NotEmpty(pages);
        Assert.All(pages, page => Assert.Contains(Practice.Label, page, StringComparison.Ordinal));

        // A real database's files: none of it anywhere.
        foreach (var file in new[] { real.Worksheet, real.Receipt })
        {
            using var book = new XLWorkbook(new MemoryStream(file));
            Assert.All(book.Worksheets, sheet =>
            {
                Assert.DoesNotContain(Practice.Label, sheet.Cell(1, 1).GetString(), StringComparison.Ordinal);
                Assert.DoesNotContain(Practice.Label, sheet.PageSetup.Header.Left.GetText(XLHFOccurrence.OddPages), StringComparison.Ordinal);
                Assert.DoesNotContain(Practice.Label, sheet.PageSetup.Footer.Left.GetText(XLHFOccurrence.OddPages), StringComparison.Ordinal);
            });
            var seen = Openpyxl(file);
            Assert.False(seen.GetProperty("properties").TryGetProperty(XlsxWatermark.PracticeProperty, out _));
            Assert.All(seen.GetProperty("sheets").EnumerateArray(), s => Assert.NotEqual("pageLayout", s.GetProperty("view").GetString()));
            Assert.False(XlsxWatermark.Read(new MemoryStream(file))!.Practice);
        }

        Assert.DoesNotContain(Practice.Label, Poppler.Text(real.Pdf), StringComparison.Ordinal);
    }

    /// <summary>What openpyxl (Debian python3-openpyxl) reads of a workbook: each sheet's left header and footer, view and state; the custom properties.</summary>
    private static JsonElement Openpyxl(byte[] xlsx)
    {
        const string Script = """
            import json, sys, zipfile
            import xml.etree.ElementTree as ET
            import openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            sheets = []
            for ws in book.worksheets:
                sheets.append({"name": ws.title, "state": ws.sheet_state, "view": ws.sheet_view.view or "normal",
                               "header": ws.oddHeader.left.text or "", "footer": ws.oddFooter.left.text or ""})
            props = {}
            with zipfile.ZipFile(sys.argv[1]) as z:
                if "docProps/custom.xml" in z.namelist():
                    for p in ET.fromstring(z.read("docProps/custom.xml")):
                        props[p.get("name")] = "".join(p.itertext())
            print(json.dumps({"sheets": sheets, "properties": props}, ensure_ascii=False))
            """;
        using var folder = new TempFolder();
        var input = Path.Combine(folder.Path, "in.xlsx");
        File.WriteAllBytes(input, xlsx);
        var info = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8,
        };
        info.Environment["PYTHONIOENCODING"] = "utf-8";
        foreach (var argument in new[] { "-c", Script, input })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "openpyxl (Debian python3-openpyxl) failed: " + error.Result);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
