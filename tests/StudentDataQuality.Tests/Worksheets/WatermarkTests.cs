using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ClosedXML.Excel;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Exports;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// The watermarks in the files (docs/exports.md, "Watermarks, in the files"): real workbooks (ClosedXML's and an issued
/// worksheet) watermarked and read back by another program (openpyxl, Debian python3-openpyxl) and by the worksheet's own
/// reader; real PDFs read back with poppler; sidecars and found files on disk. Synthetic data only.
/// </summary>
public sealed partial class WatermarkTests
{
    private const string Hostile =
        "核对 <b>&amp;</b> & \"引号\" '单引' =cmd|' /C calc'!A0 &P&N _x0041_ \u0001\u0007\u001f\r\n第二行\t" + "，很长的用途";

    private static readonly Watermark Plain = new(
        ExportId.New(), "王老师 & 李主任", new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.FromHours(8)), "核对本区问题清单",
        ExportKind.ProblemList, ExportForm.Masked);

    private static string Id(Watermark watermark) => ExportId.Format(watermark.ExportId);

    [Fact]
    public void ClosedXmlWorkbook_Watermarked_NamesTheExport_InItsPropertiesEverySheetsFooterAndAVeryHiddenSheet_ToOpenpyxl()
    {
        var original = ClosedXmlWorkbook();

        var marked = XlsxWatermark.Apply(original, Plain);

        var seen = Openpyxl(marked);
        Assert.Equal(["数据", "说明", XlsxWatermark.SheetName], seen.GetProperty("sheets").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        foreach (var sheet in seen.GetProperty("sheets").EnumerateArray())
        {
            var footer = sheet.GetProperty("footer").GetString()!;
            Assert.Contains(Id(Plain), footer, StringComparison.Ordinal);
            Assert.Contains("导出人 王老师 && 李主任", footer, StringComparison.Ordinal); // '&' doubled: Excel's header code for '&'
            Assert.Contains("2026-12-07 10:00", footer, StringComparison.Ordinal);
            Assert.Contains("用途：核对本区问题清单", footer, StringComparison.Ordinal);
            Assert.Contains("问题清单，脱敏", footer, StringComparison.Ordinal);
            Assert.Equal(Id(Plain), sheet.GetProperty("header").GetString());
        }

        var states = seen.GetProperty("sheets").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("state").GetString());
        Assert.Equal("visible", states["数据"]);
        Assert.Equal("veryHidden", states[XlsxWatermark.SheetName]);

        var properties = seen.GetProperty("properties");
        Assert.Equal(Id(Plain), properties.GetProperty("sdq.ExportId").GetString());
        Assert.Equal("王老师 & 李主任", properties.GetProperty("sdq.TakenBy").GetString());
        Assert.Equal(Plain.TakenAt, DateTimeOffset.Parse(properties.GetProperty("sdq.TakenAt").GetString()!, CultureInfo.InvariantCulture));
        Assert.Equal("核对本区问题清单", properties.GetProperty("sdq.Purpose").GetString());
        Assert.Equal("problem_list", properties.GetProperty("sdq.Kind").GetString());
        Assert.Equal("masked", properties.GetProperty("sdq.Form").GetString());

        var hidden = seen.GetProperty("export").EnumerateArray().Select(r => (r[0].GetString(), r[1].GetString())).ToList();
        Assert.Contains(("sdq.ExportId", Id(Plain)), hidden);
        Assert.Contains(("sdq.Purpose", "核对本区问题清单"), hidden);

        // The workbook's own content as it was: cells, the sheet's protection, its data validation.
        var data = seen.GetProperty("sheets")[0];
        Assert.Equal("012345678901234567", data.GetProperty("a2").GetString());
        Assert.Equal("=1+1", data.GetProperty("b2").GetString());
        Assert.True(data.GetProperty("protected").GetBoolean());
        Assert.Equal(1, data.GetProperty("validations").GetInt32());

        // Every part the watermark has no business in is the same, byte for byte.
        AssertUntouchedPartsAreTheSame(original, marked);
        Assert.Equal(Plain, XlsxWatermark.Read(new MemoryStream(marked)));
    }

    [Fact]
    public void IssuedWorksheet_Watermarked_ReadsBackAsTheUnwatermarkedOne_SignaturesValid_AlsoAfterOpenpyxlSavesIt()
    {
        var document = WorksheetSamples.Tricky(extraRows: 20);
        var issued = WorksheetSamples.Write(document);

        var marked = XlsxWatermark.Apply(issued, Plain);

        var before = ReadReturn(issued);
        AssertSameReturn(before, ReadReturn(marked));
        AssertSignaturesValid(document, ReadReturn(marked));
        AssertUntouchedPartsAreTheSame(issued, marked);

        // A registrar's other program (openpyxl) opens and saves the watermarked worksheet: it still reads back the same,
        // and the file still names its export.
        var resaved = OpenpyxlResave(marked);
        AssertSameReturn(ReadReturn(OpenpyxlResave(issued)), ReadReturn(resaved));
        AssertSignaturesValid(document, ReadReturn(resaved));
        var again = XlsxWatermark.Read(new MemoryStream(resaved));
        Assert.NotNull(again);
        Assert.Equal(Plain.ExportId, again.ExportId);
        Assert.Equal(Plain.Purpose, again.Purpose);
        Assert.Equal(Plain.TakenAt, again.TakenAt);
        var seen = Openpyxl(resaved);
        Assert.All(seen.GetProperty("sheets").EnumerateArray(), s => Assert.Contains(Id(Plain), s.GetProperty("footer").GetString()!, StringComparison.Ordinal));
    }

    [Fact]
    public void ApplyingTwice_ReplacesTheWatermark_NeverDuplicatesIt()
    {
        var second = Plain with { ExportId = ExportId.New(), TakenBy = "数据组 赵", Purpose = "第二次", Form = ExportForm.Full };

        var twice = XlsxWatermark.Apply(XlsxWatermark.Apply(WorksheetSamples.Write(WorksheetSamples.Tricky()), Plain), second, WorksheetLanguage.English);

        Assert.Equal(second, XlsxWatermark.Read(new MemoryStream(twice)));
        using var zip = new ZipArchive(new MemoryStream(twice), ZipArchiveMode.Read);
        Assert.Equal(zip.Entries.Count, zip.Entries.Select(e => e.FullName).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        var workbook = Part(zip, "xl/workbook.xml");
        Assert.Single(Regex.Matches(workbook, "name=\"_export\""));
        var custom = Part(zip, "docProps/custom.xml");
        Assert.Single(Regex.Matches(custom, "name=\"sdq.ExportId\""));
        Assert.DoesNotContain(Id(Plain), custom, StringComparison.Ordinal);
        foreach (var sheet in zip.Entries.Where(e => e.FullName.StartsWith("xl/worksheets/", StringComparison.Ordinal) && e.FullName.EndsWith(".xml", StringComparison.Ordinal)))
        {
            var xml = Part(zip, sheet.FullName);
            Assert.Single(Regex.Matches(xml, "<([A-Za-z0-9]+:)?headerFooter[ >]"));
            Assert.Contains(Id(second), xml, StringComparison.Ordinal);
            Assert.Contains("taken by 数据组 赵", xml, StringComparison.Ordinal);
            Assert.DoesNotContain(Id(Plain), xml, StringComparison.Ordinal);
        }

        var seen = Openpyxl(twice);
        Assert.Equal(1, seen.GetProperty("sheets").EnumerateArray().Count(s => s.GetProperty("name").GetString() == XlsxWatermark.SheetName));
    }

    [Fact]
    [Trait("Category", "Security")]
    public void HostilePurposeAndName_StayText_AndTheWorkbookStaysReadable()
    {
        var hostile = Plain with { TakenBy = "<script>&\"'", Purpose = Hostile + new string('长', 500) };

        var marked = XlsxWatermark.Apply(ClosedXmlWorkbook(), hostile);

        var seen = Openpyxl(marked);
        foreach (var sheet in seen.GetProperty("sheets").EnumerateArray())
        {
            var footer = sheet.GetProperty("footerRaw").GetString()!;
            Assert.True(footer.Length <= XlsxWatermark.MaxHeaderFooterCharacters, $"{footer.Length} characters in a footer");
            Assert.Contains(Id(hostile), footer, StringComparison.Ordinal);
            Assert.DoesNotContain('\u0001', footer);
            Assert.DoesNotContain("\n", footer, StringComparison.Ordinal);
        }

        var hidden = seen.GetProperty("export").EnumerateArray().ToDictionary(r => r[0].GetString()!, r => (Value: r[1].GetString()!, Type: r[2].GetString()));
        Assert.Equal("s", hidden["sdq.Purpose"].Type); // a string cell, never a formula
        Assert.StartsWith("核对 <b>&amp;</b> & \"引号\" '单引' =cmd|' /C calc'!A0 &P&N", hidden["sdq.Purpose"].Value, StringComparison.Ordinal);
        Assert.Equal("<script>&\"'", hidden["sdq.TakenBy"].Value);
        Assert.Equal("<script>&\"'", seen.GetProperty("properties").GetProperty("sdq.TakenBy").GetString());

        // Read back whole, the characters XML cannot hold left out and nothing else changed.
        var read = XlsxWatermark.Read(new MemoryStream(marked));
        Assert.NotNull(read);
        Assert.Equal(hostile.Purpose.Replace("\u0001", "", StringComparison.Ordinal).Replace("\u0007", "", StringComparison.Ordinal)
            .Replace("\u001f", "", StringComparison.Ordinal), read.Purpose);
        Assert.Equal(hostile.TakenBy, read.TakenBy);

        // The very hidden sheet alone (properties stripped) gives the literal "_x0041_" back as it was written.
        var fromSheet = ExportFileReaderOn(WithoutEntries(marked, "docProps/custom.xml"), ".xlsx");
        Assert.Equal("hidden sheet", fromSheet.WatermarkFrom);
        Assert.Contains(" _x0041_ ", fromSheet.Watermark!.Purpose, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NamesTheExport_FromTheHiddenSheet_WhenThePropertiesAreStripped_AndFromTheFooter_WhenTheSheetIsGoneToo()
    {
        var marked = XlsxWatermark.Apply(WorksheetSamples.Write(WorksheetSamples.Tricky()), Plain, WorksheetLanguage.English);

        var fromSheet = ExportFileReaderOn(WithoutEntries(marked, "docProps/custom.xml"), ".xlsx");
        Assert.Equal("hidden sheet", fromSheet.WatermarkFrom);
        Assert.Equal(Plain, fromSheet.Watermark);

        using var zip = new ZipArchive(new MemoryStream(marked), ZipArchiveMode.Read);
        var exportPart = zip.Entries.Single(e => e.FullName.Contains("sdq_export", StringComparison.Ordinal)).FullName;
        var fromFooter = ExportFileReaderOn(WithoutEntries(marked, "docProps/custom.xml", exportPart), ".xlsx");
        Assert.Equal("header", fromFooter.WatermarkFrom);
        Assert.Equal(Plain.ExportId, fromFooter.Watermark!.ExportId);
        Assert.Equal(Plain.TakenBy, fromFooter.Watermark.TakenBy);
        Assert.Equal(Plain.TakenAt, fromFooter.Watermark.TakenAt); // to the minute: the line shows minutes
        Assert.Equal(Plain.Kind, fromFooter.Watermark.Kind);
        Assert.Equal(Plain.Form, fromFooter.Watermark.Form);

        Assert.Null(XlsxWatermark.Read(new MemoryStream(WorksheetSamples.Write(WorksheetSamples.Tricky()))));
    }

    [Fact]
    public void ConfirmationSheetPdf_WithAWatermark_HasTheLineOnEveryPage_AndTheMetadata_AndKeepsTheSheetsLayout()
    {
        var sheets = Enumerable.Range(1, 3).Select(Sheet).ToList();
        var plainPdf = ConfirmationSheetPdf.Render(sheets);

        var pdf = ConfirmationSheetPdf.Render(sheets, watermark: Plain);

        var pages = Poppler.Pages(pdf);
        Assert.Equal(3, pages.Count);
        foreach (var page in pages.Select(Flat))
        {
            Assert.Contains(Flat($"导出 {Id(Plain)}（问题清单，脱敏）· 导出人 王老师 & 李主任 · 2026-12-07 10:00 · 用途：核对本区问题清单"), page, StringComparison.Ordinal);
        }

        // The sheet as it was: every word where it was, the watermark's line below the page's own footer.
        for (var page = 1; page <= 3; page++)
        {
            var before = Poppler.Words(plainPdf, page);
            var after = Poppler.Words(pdf, page);
            foreach (var word in before)
            {
                Assert.Contains(word, after);
            }

            var footer = before.Max(w => w.YMax);
            Assert.All(after.Except(before), w => Assert.True(w.YMin >= footer, $"'{w.Text}' at {w.YMin}, above the footer's end {footer}"));
        }

        var info = Encoding.UTF8.GetString(Poppler.Run(pdf, "pdfinfo", "-custom", "-enc", "UTF-8", "{pdf}"));
        Assert.Contains("SdqExportId:     " + Id(Plain), info, StringComparison.Ordinal);
        Assert.Matches(@"SdqTakenBy:\s+王老师 & 李主任", info);
        Assert.Matches(@"SdqPurpose:\s+核对本区问题清单", info);
        Assert.Matches(@"SdqTakenAt:\s+2026-12-07T10:00:00\+08:00", info);
        Assert.Matches(@"Keywords:\s+" + Id(Plain), info);
        foreach (var sheet in sheets)
        {
            Assert.DoesNotContain(sheet["id_number"]!, info, StringComparison.Ordinal);
            Assert.DoesNotContain(sheet["name"]!, info, StringComparison.Ordinal);
        }

        var found = ExportFileReaderOn(pdf, ".pdf");
        Assert.Equal("pdf metadata", found.WatermarkFrom);
        Assert.Equal(Plain, found.Watermark);

        // Without a watermark: as before, no line and no keys.
        Assert.DoesNotContain("Sdq", Encoding.UTF8.GetString(Poppler.Run(plainPdf, "pdfinfo", "-custom", "{pdf}")), StringComparison.Ordinal);
        Assert.DoesNotContain("导出人", Poppler.Text(plainPdf), StringComparison.Ordinal);
    }

    [Fact]
    public void ConfirmationSheetPdf_WhoseMetadataWasStripped_StillNamesItsExport_FromTheFooterLine()
    {
        var pdf = ConfirmationSheetPdf.Render([Sheet(1), Sheet(2)], watermark: Plain);
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "stripped.pdf");
        File.WriteAllBytes(path, pdf);
        using (var document = PdfSharp.Pdf.IO.PdfReader.Open(path, PdfSharp.Pdf.IO.PdfDocumentOpenMode.Modify))
        {
            foreach (var key in document.Info.Elements.Keys.Where(k => k.StartsWith("/Sdq", StringComparison.Ordinal)).ToList())
            {
                document.Info.Elements.Remove(key);
            }

            document.Info.Keywords = "";
            document.Save(path);
        }

        var stripped = File.ReadAllBytes(path);
        Assert.DoesNotContain("Sdq", Encoding.UTF8.GetString(Poppler.Run(stripped, "pdfinfo", "-custom", "{pdf}")), StringComparison.Ordinal);

        var found = ExportFileReader.Read(path);

        Assert.Equal("pdf footer", found.WatermarkFrom);
        Assert.Equal(Plain, found.Watermark); // the time to the minute, as the line shows it
    }

    [Fact]
    [Trait("Category", "Security")]
    public void ConfirmationSheetPdf_WithAHostilePurpose_KeepsOneLine_WithTheExportIdWhole()
    {
        var hostile = Plain with { Purpose = Hostile + new string('长', 500) };

        var pdf = ConfirmationSheetPdf.Render([Sheet(1)], english: true, watermark: hostile);

        var page = Poppler.Pages(pdf)[0];
        var line = page.Split('\n').Single(l => l.Contains(Id(hostile), StringComparison.Ordinal));
        Assert.StartsWith($"Export {Id(hostile)} (problem list, masked) · taken by", line.Trim(), StringComparison.Ordinal);
        Assert.EndsWith("…", line.Trim(), StringComparison.Ordinal);
        Assert.Equal(hostile.ExportId, PdfWatermarkOf(pdf)?.ExportId);
    }

    [Fact]
    public void Sidecar_RoundTrips_OwnerOnly_InCamelCaseJson()
    {
        using var folder = new TempFolder();
        var csv = Path.Combine(folder.Path, "changes_2026-autumn.csv");
        File.WriteAllText(csv, "student_no,name\nG1,张三\n");
        var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(csv)));
        var watermark = Plain with { Kind = ExportKind.Changes, Form = ExportForm.Full, Purpose = Hostile };

        ExportSidecar.Write(csv, watermark, sha, 1, ["student_no", "name"]);

        var path = ExportSidecar.PathFor(csv);
        Assert.Equal(csv + ".export.json", path);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        using (var json = JsonDocument.Parse(File.ReadAllText(path)))
        {
            var root = json.RootElement;
            Assert.Equal(Id(watermark), root.GetProperty("exportId").GetString());
            Assert.Equal(watermark.TakenBy, root.GetProperty("takenBy").GetString());
            Assert.Equal(watermark.Purpose, root.GetProperty("purpose").GetString());
            Assert.Equal("changes", root.GetProperty("kind").GetString());
            Assert.Equal("full", root.GetProperty("form").GetString());
            Assert.Equal(sha, root.GetProperty("sha256").GetString());
            Assert.Equal(1, root.GetProperty("rows").GetInt32());
            Assert.Equal(["student_no", "name"], root.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
            Assert.Equal("changes_2026-autumn.csv", root.GetProperty("fileName").GetString());
        }

        var read = ExportSidecar.Read(path);
        Assert.NotNull(read);
        Assert.Equal(watermark, read.Value.Watermark);
        Assert.Equal(sha, read.Value.Sha256);

        File.WriteAllText(path, "{\"exportId\": \"not an id\"}");
        Assert.Null(ExportSidecar.Read(path));
        File.WriteAllText(path, "\u0000\u0001 not json");
        Assert.Null(ExportSidecar.Read(path));
        Assert.Null(ExportSidecar.Read(path + ".missing"));
    }

    [Fact]
    public void ExportFileReader_NamesTheWatermark_OfAnXlsxAPdfACsvWithItsSidecar_AndNoneOfAnythingElse()
    {
        using var folder = new TempFolder();
        string Save(string name, byte[] bytes)
        {
            var path = Path.Combine(folder.Path, name);
            File.WriteAllBytes(path, bytes);
            return path;
        }

        var xlsx = Save("问题清单.xlsx", XlsxWatermark.Apply(ClosedXmlWorkbook(), Plain));
        var renamed = Save("renamed.bin", File.ReadAllBytes(xlsx));
        var pdf = Save("确认表.pdf", ConfirmationSheetPdf.Render([Sheet(1)], watermark: Plain with { Kind = ExportKind.ConfirmationSheets }));
        var csv = Save("changes.csv", "student_no,name\nG1,张三\n"u8.ToArray());
        var csvSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(csv)));
        ExportSidecar.Write(csv, Plain with { Kind = ExportKind.Changes }, csvSha, 1, ["student_no", "name"]);
        var lonely = Save("lonely.csv", "student_no\nG2\n"u8.ToArray());
        var garbage = Save("garbage.xlsx", [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 37))]);
        var brokenZip = Save("broken.xlsx", [.. "PK\u0003\u0004"u8, .. Enumerable.Repeat((byte)0x41, 200)]);
        var brokenPdf = Save("broken.pdf", [.. "%PDF-1.7\n"u8, .. Enumerable.Repeat((byte)0x20, 100)]);
        var empty = Save("empty.xlsx", []);

        Assert.Equal(("properties", Plain), Identify(xlsx));
        Assert.Equal(("properties", Plain), Identify(renamed));
        Assert.Equal(("pdf metadata", Plain with { Kind = ExportKind.ConfirmationSheets }), Identify(pdf));
        Assert.Equal(("sidecar", Plain with { Kind = ExportKind.Changes }), Identify(csv));
        Assert.Equal(csvSha, ExportFileReader.Read(csv).Sha256);
        foreach (var none in new[] { lonely, garbage, brokenZip, brokenPdf, empty })
        {
            var found = ExportFileReader.Read(none);
            Assert.Null(found.Watermark);
            Assert.Null(found.WatermarkFrom);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(none))), found.Sha256);
        }

        static (string?, Watermark?) Identify(string path)
        {
            var found = ExportFileReader.Read(path);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), found.Sha256);
            Assert.Equal(path, found.Path);
            return (found.WatermarkFrom, found.Watermark);
        }
    }

    [Fact]
    public void AFoundPackage_BuiltToExhaustItsReader_IsNotRead()
    {
        var marked = XlsxWatermark.Apply(ClosedXmlWorkbook(), Plain);
        using var bombed = new MemoryStream();
        bombed.Write(marked);
        using (var zip = new ZipArchive(bombed, ZipArchiveMode.Update, leaveOpen: true))
        {
            // 64 MiB of zeros packs to about 64 KiB: a thousand to one, far past any workbook's XML.
            using var entry = zip.CreateEntry("xl/media/zeros.bin", CompressionLevel.Optimal).Open();
            var zeros = new byte[1 << 20];
            for (var i = 0; i < 64; i++)
            {
                entry.Write(zeros);
            }
        }

        Assert.Equal(Plain.ExportId, XlsxWatermark.Read(new MemoryStream(marked))?.ExportId);
        Assert.Null(XlsxWatermark.Read(new MemoryStream(bombed.ToArray())));
    }

    [Fact]
    public void WatermarkTexts_HaveEveryKey_InBothLanguages_AndEveryKindAndForm()
    {
        Assert.Equal(WatermarkText.Keys(WorksheetLanguage.Chinese), WatermarkText.Keys(WorksheetLanguage.English));
        foreach (var language in Enum.GetValues<WorksheetLanguage>())
        {
            foreach (var kind in Enum.GetValues<ExportKind>())
            {
                foreach (var form in Enum.GetValues<ExportForm>())
                {
                    var watermark = Plain with { Kind = kind, Form = form };
                    Assert.Equal(watermark with { Purpose = Plain.Purpose }, WatermarkText.Parse(WatermarkText.Line(watermark, language)));
                }
            }
        }
    }

    // ----- helpers -----

    /// <summary>A workbook as ClosedXML writes one: two sheets, a protected one with a data validation, text that looks like numbers and formulas.</summary>
    private static byte[] ClosedXmlWorkbook()
    {
        using var workbook = new XLWorkbook();
        var data = workbook.AddWorksheet("数据");
        data.Cell(1, 1).SetValue("学籍号");
        data.Cell(1, 2).SetValue("备注");
        data.Cell(2, 1).Style.NumberFormat.Format = "@";
        data.Cell(2, 1).SetValue("012345678901234567");
        data.Cell(2, 2).SetValue("=1+1");
        data.Range("C2:C10").SetDataValidation().List("\"是,否\"");
        data.Protect();
        workbook.AddWorksheet("说明").Cell(1, 1).SetValue("说明 & 注意");
        using var stream = new MemoryStream();
        workbook.SaveAs(stream);
        return stream.ToArray();
    }

    private static ReturnedWorkbook ReadReturn(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return ReturnedWorkbookReader.Read(stream, "2025-秋_2123000001_示范第一小学_v2.xlsx", ReturnLimits.Default);
    }

    private static void AssertSameReturn(ReturnedWorkbook expected, ReturnedWorkbook actual)
    {
        Assert.Equal(expected.Meta.WorksheetId, actual.Meta.WorksheetId);
        Assert.Equal(expected.Meta.Rows, actual.Meta.Rows);
        Assert.Equal(expected.ProblemsSheet, actual.ProblemsSheet);
        Assert.Equal(expected.Rows.Count, actual.Rows.Count);
        for (var i = 0; i < expected.Rows.Count; i++)
        {
            var (e, a) = (expected.Rows[i], actual.Rows[i]);
            Assert.Equal(e.RowKey, a.RowKey);
            Assert.Equal(e.ExcelRow, a.ExcelRow);
            Assert.Equal(e.Issued, a.Issued);
            Assert.Equal(e.Values, a.Values);
            Assert.Equal(e.Identity, a.Identity);
            Assert.Equal(e.Problems, a.Problems);
        }

        Assert.Equal(expected.NotImported, actual.NotImported);
    }

    private static void AssertSignaturesValid(WorksheetDocument document, ReturnedWorkbook read)
    {
        var byKey = document.Rows.ToDictionary(r => r.RowKey);
        Assert.Equal(document.Rows.Count, read.Rows.Count);
        foreach (var row in read.Rows)
        {
            Assert.True(RowSignature.Verify(WorksheetSamples.Key, document.WorksheetId, row.RowKey,
                RowSignature.IssuedValues(document.Fields, byKey[row.RowKey]), row.Issued.Signature), $"row {row.RowKey}");
        }
    }

    /// <summary>Every part but the workbook, the worksheets, the relationships, the content types and the custom properties: byte for byte.</summary>
    private static void AssertUntouchedPartsAreTheSame(byte[] original, byte[] marked)
    {
        using var before = new ZipArchive(new MemoryStream(original), ZipArchiveMode.Read);
        using var after = new ZipArchive(new MemoryStream(marked), ZipArchiveMode.Read);
        var untouched = before.Entries.Where(e => !e.FullName.StartsWith("xl/worksheets/sheet", StringComparison.Ordinal)
            && e.FullName is not ("xl/workbook.xml" or "[Content_Types].xml" or "docProps/custom.xml") && !e.FullName.EndsWith(".rels", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(untouched);
        foreach (var entry in untouched)
        {
            Assert.True(Bytes(entry).SequenceEqual(Bytes(after.GetEntry(entry.FullName)!)), entry.FullName + " changed");
        }

        // In a worksheet, only the header/footer: the rest of the part reads the same.
        foreach (var sheet in before.Entries.Where(e => e.FullName.StartsWith("xl/worksheets/sheet", StringComparison.Ordinal)))
        {
            static XElement Without(XElement root)
            {
                root.Elements().Where(e => e.Name.LocalName == "headerFooter").Remove();
                return root;
            }

            var a = Without(XElement.Parse(Part(before, sheet.FullName), System.Xml.Linq.LoadOptions.PreserveWhitespace));
            var b = Without(XElement.Parse(Part(after, sheet.FullName), System.Xml.Linq.LoadOptions.PreserveWhitespace));
            Assert.True(XNode.DeepEquals(a, b), sheet.FullName + " changed beyond its header/footer");
        }

        static byte[] Bytes(ZipArchiveEntry entry)
        {
            using var stream = entry.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }

    private static string Part(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open(), Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static byte[] WithoutEntries(byte[] xlsx, params string[] names)
    {
        using var copy = new MemoryStream();
        copy.Write(xlsx);
        using (var zip = new ZipArchive(copy, ZipArchiveMode.Update, leaveOpen: true))
        {
            foreach (var name in names)
            {
                zip.GetEntry(name)!.Delete();
            }
        }

        return copy.ToArray();
    }

    private static FoundFile ExportFileReaderOn(byte[] bytes, string extension)
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "found" + extension);
        File.WriteAllBytes(path, bytes);
        return ExportFileReader.Read(path);
    }

    private static Watermark? PdfWatermarkOf(byte[] pdf) => ExportFileReaderOn(pdf, ".pdf").Watermark;

    /// <summary>
    /// What openpyxl (Debian python3-openpyxl) sees: each sheet's name, state, header (right) and footer (centre, and as
    /// written), protection and data validations, cells A2/B2; the custom properties (openpyxl 3.1's custom_doc_props, or the
    /// part read with the standard library where openpyxl is older); the rows of the very hidden sheet with their cell types.
    /// </summary>
    private static JsonElement Openpyxl(byte[] xlsx)
    {
        const string Script = """
            import json, sys, zipfile
            import xml.etree.ElementTree as ET
            import openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            sheets = []
            for ws in book.worksheets:
                footer = ws.oddFooter.center.text or ""
                sheets.append({
                    "name": ws.title, "state": ws.sheet_state,
                    "header": ws.oddHeader.right.text or "", "footer": footer,
                    "footerRaw": footer,
                    "protected": bool(ws.protection.sheet),
                    "validations": len(ws.data_validations.dataValidation),
                    "a2": ws["A2"].value, "b2": ws["B2"].value,
                })
            props = {}
            if hasattr(book, "custom_doc_props"):
                for p in book.custom_doc_props.props:
                    props[p.name] = p.value
            else:
                with zipfile.ZipFile(sys.argv[1]) as z:
                    if "docProps/custom.xml" in z.namelist():
                        for p in ET.fromstring(z.read("docProps/custom.xml")):
                            props[p.get("name")] = "".join(p.itertext())
            export = []
            if "_export" in book.sheetnames:
                for row in book["_export"].iter_rows(min_col=1, max_col=2):
                    export.append([row[0].value, row[1].value, row[1].data_type])
            print(json.dumps({"sheets": sheets, "properties": props, "export": export}, ensure_ascii=False))
            """;
        var output = Python(xlsx, Script);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    /// <summary>The workbook loaded and saved by openpyxl, as a registrar's other program would.</summary>
    private static byte[] OpenpyxlResave(byte[] xlsx)
    {
        const string Script = """
            import sys
            import openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            book.save(sys.argv[2])
            """;
        using var folder = new TempFolder();
        var output = Path.Combine(folder.Path, "out.xlsx");
        Python(xlsx, Script, output);
        return File.ReadAllBytes(output);
    }

    private static string Python(byte[] xlsx, string script, string? output = null)
    {
        using var folder = new TempFolder();
        var input = Path.Combine(folder.Path, "in.xlsx");
        File.WriteAllBytes(input, xlsx);
        var info = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8,
        };
        info.Environment["PYTHONIOENCODING"] = "utf-8";
        foreach (var argument in new[] { "-c", script, input, output ?? "" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "openpyxl (Debian python3-openpyxl) failed: " + error.Result);
        return text;
    }

    private static ConfirmationSheet Sheet(int n)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["name"] = "张小" + "明红刚丽华"[n % 5],
            ["gender"] = "1",
            ["birth_date"] = string.Create(CultureInfo.InvariantCulture, $"2016-03-{(n % 28) + 1:D2}"),
            ["birthplace"] = "230102",
            ["ethnicity"] = "01",
            ["id_number"] = string.Create(CultureInfo.InvariantCulture, $"2301022016{n:D4}{n * 7 % 1000:D3}X"),
            ["household_region"] = "230103",
            ["household_type"] = "2",
            ["guardian_name"] = "张大明",
            ["guardian_relation"] = "2",
            ["guardian_phone"] = string.Create(CultureInfo.InvariantCulture, $"1380000{n:D4}"),
            ["address"] = string.Create(CultureInfo.InvariantCulture, $"黑龙江省哈尔滨市道里区安静街{n}号"),
        };
        var id = "QS" + string.Create(CultureInfo.InvariantCulture, $"{n:D2}").Replace('0', 'A') + "7K2MD9XW";
        return new ConfirmationSheet(id, "2026-autumn", "4301050007", "实验小学", new ClassKey(4, "3班"), string.Create(CultureInfo.InvariantCulture, $"G2016{n:D4}"),
            1000 + n, 1, [.. ConfirmationFields.All.Select(f => new SheetValue(f, values[f]))], new DateTimeOffset(2026, 10, 20, 8, 0, 0, TimeSpan.Zero));
    }

    private static string Flat(string text) => Whitespace().Replace(text, "");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    private sealed class TempFolder : IDisposable
    {
        private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("sdq-watermark-");

        public string Path => _folder.FullName;

        public void Dispose() => _folder.Delete(recursive: true);
    }
}
