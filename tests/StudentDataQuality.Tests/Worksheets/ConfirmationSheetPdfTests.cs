using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// The confirmation sheets as a parent gets them: real PDFs from <see cref="ConfirmationSheetPdf.Render"/>, read back with
/// poppler (pdftotext, pdffonts, pdfinfo, pdftoppm) and the QR code with zbarimg. Synthetic students only.
/// </summary>
public sealed partial class ConfirmationSheetPdfTests
{
    private const string FontFile = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
    private static readonly string[] Surnames = ["张", "李", "王", "赵", "刘"];
    private static readonly string[] GivenNames = ["小明", "小红", "小刚", "小丽", "小华", "小军", "小芳", "小强", "小燕"];
    private static readonly ClassKey Class = new(4, "3班");

    [Fact]
    public void EachSheet_IsOnePage_WithItsStudentsValues_ItsSheetId_AndTheChineseLabels()
    {
        var sheets = Enumerable.Range(1, 3).Select(n => Sheet(n)).ToList();

        var pdf = ConfirmationSheetPdf.Render(sheets);

        var pages = Poppler.Pages(pdf);
        Assert.Equal(3, pages.Count);
        for (var i = 0; i < sheets.Count; i++)
        {
            var page = Flat(pages[i]);
            var sheet = sheets[i];
            Assert.Contains("学籍基础信息确认表", page, StringComparison.Ordinal);
            foreach (var label in new[] { "姓名", "性别", "出生日期", "出生地", "民族", "身份证件号", "户口所在地", "户口性质", "监护人姓名", "监护人关系", "监护人联系电话", "家庭住址" })
            {
                Assert.Contains(label, page, StringComparison.Ordinal);
            }

            foreach (var value in sheet.Values.Where(v => v.Value is not null))
            {
                Assert.Contains(Flat(value.Value!), page, StringComparison.Ordinal);
            }

            // A code with its name from the field's code list; a region code with its name.
            Assert.Contains("1男", page, StringComparison.Ordinal);
            Assert.Contains("01汉族", page, StringComparison.Ordinal);
            Assert.Contains("2母亲", page, StringComparison.Ordinal);
            Assert.Contains("230102道里区", page, StringComparison.Ordinal);
            Assert.Contains(Flat(SheetId.Format(sheet.SheetId)), page, StringComparison.Ordinal);
            Assert.Contains("实验小学（4301050007）", page, StringComparison.Ordinal);
            Assert.Contains("4年级3班", page, StringComparison.Ordinal);
            Assert.Contains("2026-autumn", page, StringComparison.Ordinal);
            Assert.Contains("正确", page, StringComparison.Ordinal);
            Assert.Contains("应为", page, StringComparison.Ordinal);
            Assert.Contains("监护人签名", page, StringComparison.Ordinal);
            Assert.Contains("班主任核对", page, StringComparison.Ordinal);
            Assert.Contains("请勿拍照", page, StringComparison.Ordinal);
            Assert.Contains($"第{i + 1}页，共3页", page, StringComparison.Ordinal);
            Assert.DoesNotContain("null", page, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    [Trait("Category", "Security")]
    public void TheIdNumber_IsOnItsOwnStudentsPageOnly_AndNoPersonalDataIsInTheMetadata()
    {
        var sheets = Enumerable.Range(1, 4).Select(n => Sheet(n)).ToList();

        var pdf = ConfirmationSheetPdf.Render(sheets);

        var pages = Poppler.Pages(pdf).Select(Flat).ToList();
        for (var i = 0; i < sheets.Count; i++)
        {
            var id = sheets[i]["id_number"]!;
            Assert.Equal([i], pages.Select((p, n) => (p, n)).Where(x => x.p.Contains(id, StringComparison.Ordinal)).Select(x => x.n));
        }

        var info = Poppler.Info(pdf);
        Assert.Contains("学籍基础信息确认表", info, StringComparison.Ordinal);
        Assert.Matches(@"Subject:\s+2026-autumn · 实验小学（4301050007）· 4年级3班", info);
        Assert.Matches(@"Creator:\s+StudentDataQuality", info);
        Assert.Matches(@"Pages:\s+4", info);
        foreach (var sheet in sheets)
        {
            foreach (var value in sheet.Values.Where(v => v.Field is not ("gender" or "ethnicity" or "household_type" or "guardian_relation")))
            {
                Assert.DoesNotContain(value.Value!, info, StringComparison.Ordinal);
            }

            Assert.DoesNotContain(sheet.StudentNo!, info, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void InEnglish_TheLabelsAndCodeNamesAreEnglish()
    {
        var pdf = ConfirmationSheetPdf.Render([Sheet(1), Sheet(2)], english: true);
        Poppler.SavePng(pdf, 2, 110, Path.Combine(Chromium.Screenshots, "confirmation-sheet-en.png"));

        var pages = Poppler.Pages(pdf);
        Assert.Equal(2, pages.Count);
        var page = Spaced(pages[1]);
        foreach (var text in new[] { "Student record confirmation sheet", "Name", "Gender", "Birth date", "ID number", "Guardian phone", "Address",
            "correct", "should be:", "Guardian's signature:", "Checked by the class teacher:", "Do not photograph", "Grade 4, 3班", "1 male",
            "2 mother", "Page 2 of 2", SheetId.Format(Sheet(2).SheetId), "张小红" })
        {
            Assert.Contains(text, page, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("确认表", page, StringComparison.Ordinal);
        Assert.Matches(@"Title:\s+Student record confirmation sheet", Poppler.Info(pdf));
    }

    [Fact]
    public void TheCjkFont_IsEmbedded()
    {
        var pdf = ConfirmationSheetPdf.Render([Sheet(1)]);

        var fonts = Poppler.Fonts(pdf);
        Assert.NotEmpty(fonts);
        // pdffonts: name, type, encoding, emb, sub, uni, object, generation; every font embedded, with a Unicode map.
        Assert.All(fonts, line =>
        {
            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["yes", "yes", "yes"], columns[^5..^2]);
        });
        Assert.Contains(fonts, line => line.Contains("WenQuanYi", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The first page as a picture (kept as bin/…/screenshots/confirmation-sheet.png), and in grey: the table is drawn with
    /// ink where the labels and values are, and the page is not a blank or a box of tofu (the glyphs' ink is thin: a page of
    /// boxes or of nothing has far less or far more).
    /// </summary>
    [Fact]
    public void ThePage_RendersWithInkInTheTable_AndIsKeptAsAScreenshot()
    {
        var pdf = ConfirmationSheetPdf.Render([Sheet(1)]);
        var screenshot = Path.Combine(Chromium.Screenshots, "confirmation-sheet.png");

        Poppler.SavePng(pdf, 1, 110, screenshot);
        var page = Poppler.Gray(pdf, 1, 72);

        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is (nearly) empty");
        Assert.InRange(page.Width, 594, 596);
        Assert.InRange(page.Height, 841, 843);
        // The label column of the table (x 42–132 pt, y 196–650 pt at 72 dpi: one pixel a point) and the value column.
        var labels = Dark(page, 47, 196, 127, 650);
        var values = Dark(page, 137, 196, 364, 650);
        Assert.InRange(labels, 0.02, 0.5);
        Assert.InRange(values, 0.02, 0.5);
        // The margins are white.
        Assert.Equal(0, Dark(page, 0, 0, 30, page.Height - 1));
    }

    [Fact]
    public void TheQrCode_ReadsAsTheSheetId()
    {
        var sheet = Sheet(7);
        var pdf = ConfirmationSheetPdf.Render([sheet]);
        var png = Path.Combine(Chromium.Screenshots, "confirmation-sheet-qr.png");
        Poppler.SavePng(pdf, 1, 150, png);

        var read = Encoding.UTF8.GetString(Poppler.Run("zbarimg", "--raw", "-q", png)).Trim();

        Assert.Equal(SheetId.Format(sheet.SheetId), read);
        Assert.Equal(sheet.SheetId, SheetId.Normalise(read));
    }

    [Fact]
    [Trait("Category", "Security")]
    public void HostileAndLongValues_StayInTheirBoxes_WithoutControlCharacters()
    {
        var address = string.Concat(Enumerable.Repeat("黑龙江省哈尔滨市道里区安静街道幸福小区甲", 10));
        Assert.Equal(200, address.Length);
        var sheet = Sheet(1, values =>
        {
            values["name"] = "\u0007张\u202E小\u200F明\u0000";
            values["address"] = address[..100] + "\r\n\t" + address[100..];
            values["birthplace"] = "=HYPERLINK(\"http://example.invalid\",\"点击\")";
            values["guardian_name"] = "שלום مرحبا 😀 ‮abc";
            values["guardian_phone"] = "1380000\u00000001\u001b[31m";
            values["household_region"] = new string('长', 1000);
            values["ethnicity"] = null;
            values["household_type"] = "";
        }) with { SchoolName = new string('校', 300) + "\u202E", StudentNo = "\r\n=1+1\u0085" };

        var pdf = ConfirmationSheetPdf.Render([sheet, Sheet(2)]);
        Poppler.SavePng(pdf, 1, 110, Path.Combine(Chromium.Screenshots, "confirmation-sheet-hostile.png"));

        var pages = Poppler.Pages(pdf);
        Assert.Equal(2, pages.Count);
        var text = pages[0];
        Assert.DoesNotMatch(@"[\u0000-\u0008\u000B\u000E-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]", text);
        var flat = Flat(text);
        Assert.Contains("张小明", flat, StringComparison.Ordinal);
        Assert.Contains(Flat(address), flat, StringComparison.Ordinal);
        Assert.Contains("=HYPERLINK", flat, StringComparison.Ordinal);
        Assert.Contains("=1+1", flat, StringComparison.Ordinal);
        Assert.Contains("13800000001[31m", flat, StringComparison.Ordinal);
        Assert.Contains("…", flat, StringComparison.Ordinal);
        Assert.DoesNotContain("null", flat, StringComparison.OrdinalIgnoreCase);

        // Every word lies on the page within its margins; the values within the value column; the parts after the
        // table (why the school asks, the signatures) where they belong, not pushed off by a long value.
        var words = Poppler.Words(pdf, 1);
        Assert.All(words, w => Assert.True(w.XMin >= 41 && w.XMax <= 555 && w.YMin >= 30 && w.YMax <= 830, $"{w} leaves the page's margins"));
        var addressWords = words.Where(w => w.Text.Contains("幸福", StringComparison.Ordinal) || w.Text.Contains("道里区安", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(addressWords);
        Assert.All(addressWords, w => Assert.True(w.XMin >= 132 && w.XMax <= 365 && w.YMin >= 548 && w.YMax <= 651, $"{w} leaves the address's box"));
        var region = words.Where(w => w.Text.StartsWith("长长", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(region);
        Assert.All(region, w => Assert.True(w.XMin >= 132 && w.XMax <= 365 && w.YMin >= 388 && w.YMax <= 421, $"{w} leaves the region's box"));
        Assert.Contains(words, w => w.Text.StartsWith("为什么请您核对", StringComparison.Ordinal) && w.YMin > 650 && w.YMin < 670);
        Assert.Contains(words, w => w.Text.StartsWith("监护人签名", StringComparison.Ordinal) && w.YMin > 755 && w.YMin < 775);
        // The other student's page is untouched.
        Assert.Contains(Flat(Sheet(2)["address"]!), Flat(pages[1]), StringComparison.Ordinal);
    }

    [Fact]
    public void AClassOf45_RendersFortyFivePages_EachWithItsSheetAndPageOfTheClass()
    {
        var sheets = Enumerable.Range(1, 45).Select(n => Sheet(n)).ToList();

        var pdf = ConfirmationSheetPdf.Render(sheets);

        var pages = Poppler.Pages(pdf).Select(Flat).ToList();
        Assert.Equal(45, pages.Count);
        for (var i = 0; i < 45; i++)
        {
            Assert.Contains(Flat(SheetId.Format(sheets[i].SheetId)), pages[i], StringComparison.Ordinal);
            Assert.Contains(sheets[i]["name"]!, pages[i], StringComparison.Ordinal);
            Assert.Contains($"第{i + 1}页，共45页", pages[i], StringComparison.Ordinal);
        }

        Assert.Equal(45, sheets.Select(s => s["name"]).Distinct().Count());
    }

    [Fact]
    public void NoCjkFont_IsAClearError_SayingWhatToInstall()
    {
        var nowhere = Path.Combine(Path.GetTempPath(), $"sdq-no-fonts-{Guid.NewGuid():N}");

        var error = Assert.Throws<UserErrorException>(() => CjkFont.Find([nowhere]));

        Assert.Equal("Pdf.NoCjkFont", error.Text?.Code);
        var english = error.MessageIn(CultureInfo.GetCultureInfo("en"));
        Assert.Contains("fonts-wqy-microhei", english, StringComparison.Ordinal);
        Assert.Contains(nowhere, english, StringComparison.Ordinal);
        Assert.Contains("fonts-wqy-microhei", error.MessageIn(CultureInfo.GetCultureInfo("zh-CN")), StringComparison.Ordinal);
        Assert.Equal(FontFile, CjkFont.Find(CjkFont.Folders));
    }

    /// <summary>
    /// The machine's WenQuanYi Micro Hei is a collection (.ttc), which PDFsharp refuses; the face taken out of it is a
    /// standalone TrueType font whose tables are the face's, byte for byte, each at a new offset, with sound checksums.
    /// </summary>
    [Fact]
    public void TheFontCollectionsFace_BecomesAStandaloneTrueTypeFont()
    {
        var collection = File.ReadAllBytes(FontFile);
        Assert.Equal("ttcf", Encoding.ASCII.GetString(collection, 0, 4));
        var faceOffset = (int)BinaryPrimitives.ReadUInt32BigEndian(collection.AsSpan(12));
        var tableCount = BinaryPrimitives.ReadUInt16BigEndian(collection.AsSpan(faceOffset + 4));

        var font = CjkFont.ExtractFace(collection, 0);

        Assert.True(CjkFont.IsStandaloneTrueType(font));
        Assert.Equal(tableCount, BinaryPrimitives.ReadUInt16BigEndian(font.AsSpan(4)));
        var tags = new List<string>();
        for (var i = 0; i < tableCount; i++)
        {
            var source = collection.AsSpan(faceOffset + 12 + (16 * i), 16);
            var record = font.AsSpan(12 + (16 * i), 16);
            var tag = Encoding.ASCII.GetString(record[..4]);
            tags.Add(tag);
            Assert.True(source[..8].SequenceEqual(record[..8]), $"table {tag}: tag or checksum changed");
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(record[12..]);
            var offset = (int)BinaryPrimitives.ReadUInt32BigEndian(record[8..]);
            Assert.Equal(0, offset % 4);
            var table = font.AsSpan(offset, length);
            if (tag != "head")
            {
                // The head table differs in its checkSumAdjustment only (worked out for the new file below); the machine's
                // collection records a checksum for it that is none of its face's, so it is carried over as it was.
                Assert.True(collection.AsSpan((int)BinaryPrimitives.ReadUInt32BigEndian(source[8..]), length).SequenceEqual(table), $"table {tag} differs");
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(record[4..]), CjkFont.Checksum(table));
            }
        }

        Assert.Contains("glyf", tags);
        Assert.Contains("cmap", tags);
        Assert.Equal(0xB1B0AFBAu, CjkFont.Checksum(font));
        // A font that is no collection is taken as it is; a face the collection does not have is refused.
        Assert.Same(font, CjkFont.ExtractFace(font, 0));
        Assert.Throws<InvalidDataException>(() => CjkFont.ExtractFace(collection, 99));
        Assert.Throws<InvalidDataException>(() => CjkFont.ExtractFace(collection[..100], 0));
    }

    [Fact]
    public void BothLanguages_HaveEveryText_AndEnglishIsEnglish()
    {
        var chinese = ConfirmationSheetText.Keys(WorksheetLanguage.Chinese);
        var english = ConfirmationSheetText.Keys(WorksheetLanguage.English);

        Assert.NotEmpty(chinese);
        Assert.Equal(chinese.Order(StringComparer.Ordinal), english.Order(StringComparer.Ordinal));
        Assert.All(english, k => Assert.DoesNotMatch(@"\p{IsCJKUnifiedIdeographs}", ConfirmationSheetText.Get(k, WorksheetLanguage.English)));
        Assert.All(chinese.Where(k => !k.StartsWith("Subject", StringComparison.Ordinal)),
            k => Assert.Matches(@"\p{IsCJKUnifiedIdeographs}", ConfirmationSheetText.Get(k, WorksheetLanguage.Chinese)));
    }

    /// <summary>The share of dark pixels (below mid grey) in a rectangle of the page (inclusive, in pixels).</summary>
    private static double Dark(GrayPage page, int left, int top, int right, int bottom)
    {
        var dark = 0;
        for (var y = top; y <= bottom; y++)
        {
            for (var x = left; x <= right; x++)
            {
                if (page[x, y] < 128)
                {
                    dark++;
                }
            }
        }

        return (double)dark / ((right - left + 1) * (bottom - top + 1));
    }

    /// <summary>The text without any white space (pdftotext may set spaces between Chinese characters, or not).</summary>
    private static string Flat(string text) => Whitespace().Replace(text, "");

    /// <summary>The text with its white space as single spaces.</summary>
    private static string Spaced(string text) => Whitespace().Replace(text, " ");

    /// <summary>A synthetic student's sheet (names like 张小明; no real person's data).</summary>
    private static ConfirmationSheet Sheet(int n, Action<Dictionary<string, string?>>? change = null)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["name"] = Surnames[(n - 1) / GivenNames.Length % Surnames.Length] + GivenNames[(n - 1) % GivenNames.Length],
            ["gender"] = "1",
            ["birth_date"] = string.Create(CultureInfo.InvariantCulture, $"2016-03-{n % 28 + 1:D2}"),
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
        change?.Invoke(values);
        var id = "QS" + string.Create(CultureInfo.InvariantCulture, $"{n:D2}").Replace('0', 'A') + "7K2MD9XW";
        return new ConfirmationSheet(id, "2026-autumn", "4301050007", "实验小学", Class, string.Create(CultureInfo.InvariantCulture, $"G2016{n:D4}"), 1000 + n, 1,
            [.. ConfirmationFields.All.Select(f => new SheetValue(f, values[f]))], new DateTimeOffset(2026, 10, 20, 8, 0, 0, TimeSpan.Zero));
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

/// <summary>
/// The PDF of a real class printed through the confirmation store (its own copy of a generated round): a page per student
/// of the class, in the store's order, each with its sheet id and its student's ID number, which is on no other page.
/// </summary>
public sealed partial class ConfirmationSheetPrintTests(StudentDataQuality.Tests.Confirmations.ConfirmationRound round)
    : IClassFixture<StudentDataQuality.Tests.Confirmations.ConfirmationRound>
{
    [Fact]
    public async Task PrintingAClass_RendersAPagePerStudent_WithItsSheetIdAndItsIdNumberOnly()
    {
        var store = new StudentDataQuality.Data.Confirmations.ConfirmationStore(round.Database.DataSource);

        var printed = await store.PrintAsync(round.Registrar, StudentDataQuality.Tests.Confirmations.ConfirmationRound.Round, round.School, round.Class,
            sheets => ConfirmationSheetPdf.Render(sheets));

        Assert.True(printed.Sheets.Count > 5, $"only {printed.Sheets.Count} students in the class");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(printed.Pdf)), printed.Sha256, ignoreCase: true);
        var pages = Poppler.Pages(printed.Pdf).Select(p => Whitespace().Replace(p, "")).ToList();
        Assert.Equal(printed.Sheets.Count, pages.Count);
        for (var i = 0; i < pages.Count; i++)
        {
            var sheet = printed.Sheets[i];
            Assert.Contains(SheetId.Format(sheet.SheetId), pages[i], StringComparison.Ordinal);
            Assert.Contains(round.Class.ToString(), pages[i], StringComparison.Ordinal);
            if (sheet["id_number"] is { } id && IdShape().IsMatch(id))
            {
                Assert.Equal([i], pages.Select((p, n) => (p, n)).Where(x => x.p.Contains(id, StringComparison.Ordinal)).Select(x => x.n));
            }
        }

        Assert.Contains(printed.Sheets, s => s["id_number"] is { } id && IdShape().IsMatch(id));
    }

    [GeneratedRegex(@"^\d{17}[\dX]$")]
    private static partial Regex IdShape();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
