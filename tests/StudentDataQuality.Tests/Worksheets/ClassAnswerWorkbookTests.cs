using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using ClosedXML.Excel;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// The class answer workbook as a file (docs/confirmations.md, "The class answer workbook"): written, filled in by a class
/// teacher's spreadsheet program (ClosedXML, and openpyxl as another program would), and read back; each refusal names the file,
/// the sheet, the Excel row and the column.
/// </summary>
public sealed class ClassAnswerWorkbookTests
{
    private const string FileName = "4年级3班_家长回执.xlsx";

    private static readonly byte[] Key = SHA256.HashData("a test key for class answer workbooks"u8.ToArray());
    private static readonly ClassKey Class = new(4, "3班");
    private static readonly DateOnly Today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));

    private static readonly ConfirmationSheet[] Sheets =
    [
        Sheet("QS0000000001", "G230102201503021234", "张小明", "13812345678", "黑龙江省哈尔滨市道里区安静街1号"),
        Sheet("QS0000000002", "G230102201504051111", "李 红", "0451-8765432", "=HYPERLINK(\"http://example.invalid\",\"点我\")"),
        Sheet("QS0000000003", "G230102201506071222", "王晓", null, "哈尔滨市南岗区\r\n学府路2号"),
    ];

    private static readonly byte[] Issued = ClassAnswerWorkbook.Write(Sheets, Key);

    private static ConfirmationSheet Sheet(string id, string studentNo, string name, string? phone, string address) => new(
        id, "2026-autumn", "2123000001", "示范第一小学", Class, studentNo, 1000 + int.Parse(id[^1..], CultureInfo.InvariantCulture), 1,
        ConfirmationFields.All.Select(f => new SheetValue(f, f switch
        {
            "name" => name,
            "gender" => "1",
            "birth_date" => "20150302",
            "birthplace" => "230102",
            "ethnicity" => "01",
            "id_number" => "230102201503021234",
            "household_region" => "230102",
            "household_type" => "1",
            "guardian_name" => "张伟",
            "guardian_relation" => "父亲",
            "guardian_phone" => phone,
            _ => address,
        })).ToArray(), DateTimeOffset.UtcNow);

    /// <summary>The Excel row of a sheet (rows are written in student-number order, below the header).</summary>
    private static int RowOf(string sheetId) => 2 + Array.FindIndex(Sheets.OrderBy(s => s.StudentNo, StringComparer.Ordinal).ToArray(), s => s.SheetId == sheetId);

    /// <summary>The column of a header on the answers sheet as written.</summary>
    private static int ColumnOf(string header)
    {
        using var book = new XLWorkbook(new MemoryStream(Issued));
        return book.Worksheet(Header("SheetAnswers")).Row(1).CellsUsed().Single(c => c.GetString() == header).Address.ColumnNumber;
    }

    private static string Header(string key, params object[] args) => ClassAnswerText.Format(key, WorksheetLanguage.Chinese, args);

    private static string FieldHeader(string field) => WorksheetLayout.FieldHeader(ConfirmationFields.Field(field), WorksheetLanguage.Chinese);

    private static string ShouldBe(string field) => Header("HeaderShouldBe", FieldHeader(field));

    private static ClassAnswerContent Read(byte[] bytes, ReturnLimits? limits = null)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return ClassAnswerWorkbook.Read(stream, FileName, Key, limits);
    }

    /// <summary>Fills the answers sheet with ClosedXML, by column header, as a class teacher's spreadsheet program would save it.</summary>
    private static byte[] Fill(byte[] workbook, Action<IXLWorksheet, Func<string, int>> fill)
    {
        using var input = new MemoryStream(workbook);
        using var book = new XLWorkbook(input);
        var sheet = book.Worksheet(ClassAnswerText.Get("SheetAnswers", WorksheetLanguage.Chinese));
        int Column(string header) => sheet.Row(1).CellsUsed().Single(c => c.GetString() == header).Address.ColumnNumber;
        fill(sheet, Column);
        using var output = new MemoryStream();
        book.SaveAs(output);
        return output.ToArray();
    }

    private static UserErrorException Refused(byte[] bytes, string code, ReturnLimits? limits = null)
    {
        var e = Assert.ThrowsAny<UserErrorException>(() => Read(bytes, limits));
        Assert.Equal("AnswerWorkbook." + code, e.Text?.Code);
        Assert.Contains(FileName, e.Message, StringComparison.Ordinal);
        Assert.Contains(FileName, e.MessageIn(CultureInfo.GetCultureInfo("zh-CN")), StringComparison.Ordinal);
        return e;
    }

    /// <summary>A refusal of one row: the message names the sheet, the Excel row and the column header.</summary>
    private static void RefusedAt(byte[] bytes, string code, int row, string header)
    {
        var e = Refused(bytes, code);
        Assert.Contains(ClassAnswerText.Get("SheetAnswers", WorksheetLanguage.Chinese), e.Message, StringComparison.Ordinal);
        Assert.Contains($"row {row.ToString(CultureInfo.InvariantCulture)} ", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"第 {row.ToString(CultureInfo.InvariantCulture)} 行", e.MessageIn(CultureInfo.GetCultureInfo("zh-CN")), StringComparison.Ordinal);
        Assert.Contains(header, e.Message, StringComparison.Ordinal);
    }

    /// <summary>Student 1 confirmed unchanged (a date cell), student 2 corrected (a phone as text, a name), student 3 not back yet.</summary>
    private static byte[] TwoAnswers() => Fill(Issued, (sheet, column) =>
    {
        sheet.Cell(RowOf("QS0000000001"), column(Header("HeaderConfirmed"))).SetValue("是");
        sheet.Cell(RowOf("QS0000000001"), column(Header("HeaderSignedOn"))).SetValue(new DateTime(2026, 10, 12));
        sheet.Cell(RowOf("QS0000000002"), column(ShouldBe("guardian_phone"))).SetValue("13900001111");
        sheet.Cell(RowOf("QS0000000002"), column(ShouldBe("name"))).SetValue(" 李虹 ");
        sheet.Cell(RowOf("QS0000000002"), column(Header("HeaderSignedOn"))).SetValue("2026年10月3日");
    });

    private static void AssertTwoAnswers(ClassAnswerContent content)
    {
        Assert.Equal(("2026-autumn", "2123000001", Class), (content.RoundCode, content.SchoolCode, content.Class));
        Assert.Equal(2, content.Answers.Count);
        var unchanged = content.Answers.Single(a => a.SheetId == "QS0000000001");
        Assert.True(unchanged.Unchanged);
        Assert.Equal(new DateOnly(2026, 10, 12), unchanged.SignedOn);
        Assert.Equal(RowOf("QS0000000001"), unchanged.ExcelRow);
        var corrected = content.Answers.Single(a => a.SheetId == "QS0000000002");
        Assert.Equal(new DateOnly(2026, 10, 3), corrected.SignedOn);
        Assert.Equal(RowOf("QS0000000002"), corrected.ExcelRow);
        Assert.Equal(new Dictionary<string, string> { ["guardian_phone"] = "13900001111", ["name"] = "李虹" }, corrected.Corrections);
    }

    [Fact]
    public void Written_MasksIdentityNumbers_TheWholeClassNeverInOneFile()
    {
        using var book = new XLWorkbook(new MemoryStream(Issued));
        var cells = book.Worksheets.SelectMany(w => w.CellsUsed()).Select(c => c.GetString()).ToList();
        Assert.DoesNotContain(cells, c => c.Contains("230102201503021234", StringComparison.Ordinal));
        Assert.Contains(cells, c => c == "230102********1234");
        Assert.Contains(cells, c => c == "G230102********1234");
        // Still read back: the masked values are what the rows are signed with.
        Assert.Equal(2, Read(TwoAnswers()).Answers.Count);
    }

    [Fact]
    public void Written_HasInstructionsFirst_MetaVeryHidden_PrintedCellsLocked_AnswerCellsOpen_SignatureHidden()
    {
        using var stream = new MemoryStream(Issued);
        using var book = new XLWorkbook(stream);
        Assert.Equal(
            [Header("SheetInstructions"), Header("SheetAnswers"), "_meta"],
            book.Worksheets.Select(s => s.Name).ToArray());
        Assert.Equal(XLWorksheetVisibility.VeryHidden, book.Worksheet("_meta").Visibility);
        var sheet = book.Worksheet(Header("SheetAnswers"));
        Assert.True(sheet.IsProtected);
        int Column(string header) => sheet.Row(1).CellsUsed().Single(c => c.GetString() == header).Address.ColumnNumber;
        var row = RowOf("QS0000000002");
        Assert.Equal("QS-00000-00002", sheet.Cell(row, Column(Header("HeaderSheetId"))).GetString());
        // A printed value that looks like a formula is text, quote-prefixed: never a formula in the file.
        var address = sheet.Cell(row, Column(FieldHeader("address")));
        Assert.False(address.HasFormula);
        Assert.Equal(Sheets[1]["address"], address.GetString());
        Assert.True(address.Style.Protection.Locked);
        Assert.False(sheet.Cell(row, Column(ShouldBe("address"))).Style.Protection.Locked);
        Assert.False(sheet.Cell(row, Column(Header("HeaderConfirmed"))).Style.Protection.Locked);
        Assert.False(sheet.Cell(row, Column(Header("HeaderSignedOn"))).Style.Protection.Locked);
        Assert.True(sheet.Column(Column(Header("HeaderSignature"))).IsHidden);
        Assert.Contains(sheet.DataValidations, v => v.AllowedValues == XLAllowedValues.List && v.Value.Contains("是,否", StringComparison.Ordinal));
        Assert.Contains(sheet.DataValidations, v => v.AllowedValues == XLAllowedValues.Date);
    }

    [Fact]
    public void Read_UntouchedWorkbook_HasNoAnswers()
    {
        var content = Read(Issued);
        Assert.Empty(content.Answers);
        Assert.Equal(Class, content.Class);
    }

    [Fact]
    public void Read_FilledWithClosedXml_GivesTheAnswers_AndSkipsRowsNotBackYet() => AssertTwoAnswers(Read(TwoAnswers()));

    [Fact]
    public void Read_EnglishWorkbook_TakesYes()
    {
        var english = ClassAnswerWorkbook.Write(Sheets, Key, english: true);
        using var input = new MemoryStream(english);
        using var book = new XLWorkbook(input);
        var sheet = book.Worksheet(ClassAnswerText.Get("SheetAnswers", WorksheetLanguage.English));
        int Column(string key) => sheet.Row(1).CellsUsed().Single(c => c.GetString() == ClassAnswerText.Get(key, WorksheetLanguage.English)).Address.ColumnNumber;
        sheet.Cell(RowOf("QS0000000003"), Column("HeaderConfirmed")).SetValue("Yes");
        sheet.Cell(RowOf("QS0000000003"), Column("HeaderSignedOn")).SetValue("2026-10-01");
        using var output = new MemoryStream();
        book.SaveAs(output);
        var answer = Assert.Single(Read(output.ToArray()).Answers);
        Assert.Equal(("QS0000000003", true, new DateOnly(2026, 10, 1)), (answer.SheetId, answer.Unchanged, answer.SignedOn));
    }

    [Fact]
    public void Read_FilledWithOpenpyxl_GivesTheSameAnswers()
    {
        // openpyxl saves a date as a date cell (a serial with a date style) and a number typed as a number cell.
        static int Column(string header) => ColumnOf(header);
        var edits = new object[][]
        {
            [RowOf("QS0000000001"), Column(Header("HeaderConfirmed")), "str", "是"],
            [RowOf("QS0000000001"), Column(Header("HeaderSignedOn")), "date", "2026-10-12"],
            [RowOf("QS0000000002"), Column(ShouldBe("guardian_phone")), "int", "13900001111"],
            [RowOf("QS0000000002"), Column(ShouldBe("name")), "str", " 李虹 "],
            [RowOf("QS0000000002"), Column(Header("HeaderSignedOn")), "str", "2026年10月3日"],
        };
        AssertTwoAnswers(Read(Openpyxl(Issued, edits)));
    }

    [Fact]
    public void Read_FormulaInShouldBeCell_IsTakenAsItsText_NeverEvaluated()
    {
        var row = RowOf("QS0000000001");
        var filled = Fill(Issued, (sheet, column) =>
        {
            // One typed into the text cell as Excel keeps it (a string), one a real formula of the file.
            sheet.Cell(row, column(ShouldBe("guardian_name"))).SetValue("=1+1");
            sheet.Cell(row, column(ShouldBe("address"))).FormulaA1 = "HYPERLINK(\"http://example.invalid\",\"x\")";
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        });
        var answer = Assert.Single(Read(filled).Answers);
        Assert.Equal("=1+1", answer.Corrections["guardian_name"]);
        Assert.Equal("=HYPERLINK(\"http://example.invalid\",\"x\")", answer.Corrections["address"]);

        // openpyxl stores "=2*3" as a formula (with no cached result): still its text.
        var viaOpenpyxl = Openpyxl(Issued, [[row, ColumnOf(ShouldBe("guardian_name")), "str", "=2*3"], [row, ColumnOf(Header("HeaderSignedOn")), "str", "2026-10-02"]]);
        Assert.Equal("=2*3", Assert.Single(Read(viaOpenpyxl).Answers).Corrections["guardian_name"]);
    }

    [Fact]
    public void Refuses_AFileThatIsNoWorkbook() => Refused("学生,姓名\n1,张三\n"u8.ToArray(), "NotXlsx");

    [Fact]
    public void Refuses_AFileOverTheLimit() => Refused(Issued, "TooLarge", new ReturnLimits { MaxBytes = 1024 });

    [Fact]
    public void Refuses_APackageThatUnpacksAbnormally()
    {
        // 3 MB of zeros packs about a thousand times: a zip bomb's shape, refused before any part is parsed.
        using var package = new MemoryStream();
        package.Write(Issued);
        using (var zip = new System.IO.Compression.ZipArchive(package, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            using var entry = zip.CreateEntry("xl/media/padding.bin", System.IO.Compression.CompressionLevel.SmallestSize).Open();
            entry.Write(new byte[3 * 1024 * 1024]);
        }

        Refused(package.ToArray(), "Damaged");
    }

    [Fact]
    public void Refuses_AWorkbookSignedWithAnotherKey()
    {
        using var stream = new MemoryStream(Issued, writable: false);
        var e = Assert.Throws<UserErrorException>(() => ClassAnswerWorkbook.Read(stream, FileName, SHA256.HashData("another key"u8.ToArray())));
        Assert.Equal("AnswerWorkbook.OtherKey", e.Text?.Code);
    }

    [Fact]
    public void Refuses_AWorkbookWithoutMeta()
    {
        using var book = new XLWorkbook(new MemoryStream(Issued));
        book.Worksheet("_meta").Delete();
        using var output = new MemoryStream();
        book.SaveAs(output);
        Refused(output.ToArray(), "NoMeta");
    }

    [Fact]
    public void Refuses_MetaEditedToAnotherClass()
    {
        using var book = new XLWorkbook(new MemoryStream(Issued));
        var meta = book.Worksheet("_meta");
        var cell = meta.RangeUsed()!.Rows().Single(r => r.Cell(2).GetString() == "class_name").Cell(3);
        cell.SetValue("5班");
        using var output = new MemoryStream();
        book.SaveAs(output);
        Refused(output.ToArray(), "MetaChanged");
    }

    [Fact]
    public void Refuses_ARowCopiedFromAnotherClassesWorkbook()
    {
        // The other class's workbook of the same students' sheets: its rows are signed for class 4/2 and another workbook.
        var other = ClassAnswerWorkbook.Write(Sheets.Select(s => s with { Class = new ClassKey(4, "2班") }).ToArray(), Key);
        using var otherBook = new XLWorkbook(new MemoryStream(other));
        var otherRow = otherBook.Worksheet(Header("SheetAnswers")).Row(RowOf("QS0000000001"));
        var row = RowOf("QS0000000001");
        var filled = Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(Header("HeaderSignature"))).SetValue(otherRow.Cell(column(Header("HeaderSignature"))).GetString());
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        });
        RefusedAt(filled, "RowChanged", row, Header("HeaderSheetId"));
    }

    [Fact]
    public void Refuses_ARowWhosePrintedValueOrSheetIdWasChanged()
    {
        var row = RowOf("QS0000000002");
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(FieldHeader("guardian_phone"))).SetValue("13900001111");
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        }), "RowChanged", row, Header("HeaderSheetId"));
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(Header("HeaderSheetId"))).SetValue("QS-00000-00009");
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        }), "RowChanged", row, Header("HeaderSheetId"));
    }

    [Fact]
    public void Refuses_ARowCopiedWithinTheWorkbook()
    {
        var from = RowOf("QS0000000001");
        var filled = Fill(Issued, (sheet, column) =>
        {
            sheet.Row(from).CopyTo(sheet.Row(10));
            sheet.Cell(from, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(from, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
            sheet.Cell(10, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(10, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        });
        RefusedAt(filled, "DuplicateSheet", 10, Header("HeaderSheetId"));
    }

    [Fact]
    public void Refuses_ARowBothConfirmedAndCorrected()
    {
        var row = RowOf("QS0000000003");
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(ShouldBe("address"))).SetValue("哈尔滨市南岗区学府路3号");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        }), "ConfirmedAndCorrected", row, ShouldBe("address"));
    }

    [Fact]
    public void Refuses_ACorrectionWithoutDate()
    {
        var row = RowOf("QS0000000003");
        RefusedAt(Fill(Issued, (sheet, column) => sheet.Cell(row, column(ShouldBe("guardian_phone"))).SetValue("13900001111")),
            "DateMissing", row, Header("HeaderSignedOn"));
    }

    [Fact]
    public void Refuses_ADateInTheFutureOrUnreadable()
    {
        var row = RowOf("QS0000000001");
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue(Today.AddDays(2).ToDateTime(TimeOnly.MinValue));
        }), "DateFuture", row, Header("HeaderSignedOn"));
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("上周二");
        }), "DateInvalid", row, Header("HeaderSignedOn"));
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(Header("HeaderConfirmed"))).SetValue("是");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-02-30");
        }), "DateInvalid", row, Header("HeaderSignedOn"));
    }

    [Fact]
    public void Refuses_AValueTooLongOrWithControlCharacters()
    {
        var row = RowOf("QS0000000002");
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(ShouldBe("name"))).SetValue(new string('李', 31));
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        }), "ValueTooLong", row, ShouldBe("name"));
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(ShouldBe("guardian_name"))).SetValue("张\n伟");
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        }), "ControlCharacter", row, ShouldBe("guardian_name"));
    }

    [Fact]
    public void Refuses_AnIdNumberThatLostDigitsAsANumber()
    {
        var row = RowOf("QS0000000002");
        RefusedAt(Fill(Issued, (sheet, column) =>
        {
            sheet.Cell(row, column(ShouldBe("id_number"))).SetValue(230102201504051111d);
            sheet.Cell(row, column(Header("HeaderSignedOn"))).SetValue("2026-10-02");
        }), "LostDigits", row, ShouldBe("id_number"));
    }

    /// <summary>Edits the workbook with openpyxl (Debian python3-openpyxl): each edit is row, column, kind (str, int, date) and value.</summary>
    private static byte[] Openpyxl(byte[] workbook, object[][] edits)
    {
        var folder = Directory.CreateTempSubdirectory("sdq-openpyxl-");
        try
        {
            var input = Path.Combine(folder.FullName, "in.xlsx");
            var output = Path.Combine(folder.FullName, "out.xlsx");
            File.WriteAllBytes(input, workbook);
            const string Script = """
                import datetime, json, sys
                import openpyxl
                book = openpyxl.load_workbook(sys.argv[1])
                sheet = book.worksheets[1]
                for row, column, kind, value in json.loads(sys.argv[3]):
                    cell = sheet.cell(row=row, column=column)
                    cell.value = int(value) if kind == "int" else datetime.date.fromisoformat(value) if kind == "date" else value
                book.save(sys.argv[2])
                """;
            var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { "-c", Script, input, output, JsonSerializer.Serialize(edits) })
            {
                info.ArgumentList.Add(argument);
            }

            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, "openpyxl (Debian python3-openpyxl) failed: " + error);
            return File.ReadAllBytes(output);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
