using DocumentFormat.OpenXml.Spreadsheet;
using DocumentFormat.OpenXml.Validation;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

public sealed class ReceiptWriterTests
{
    private const string Green = "FFC6EFCE";
    private const string Amber = "FFFFEB9C";
    private const string Grey = "FFD9D9D9";
    private const string Red = "FFFFC7CE";

    private static readonly string Id = ResidentId.Create("230102", new DateOnly(2015, 3, 9), 31);
    private static readonly string IdX = FirstWithCheckX();

    // Made-up reasons as the ingest would word them; what matters is how they group.
    private const string FormulaRow7 = "工作表“问题清单”第 7 行：“出生日期”中是公式，该行未导入。";
    private const string FormulaRow8 = "工作表“问题清单”第 8 行：“家庭住址”中是公式，该行未导入。";
    private const string FormulaRow9 = "工作表“问题清单”第 9 行：“监护人联系电话”中是公式，该行未导入。";
    private const string InvalidDateRow8 = "工作表“问题清单”第 8 行：“出生日期”（2015-02-30）不是有效日期，该行未导入。";
    private const string DashReason = "-5 不是有效的处理方式，该行未导入。";
    private const string AddedRow12 = "工作表“问题清单”第 12 行是新增的行，不会导入。";
    private const string AddedRow14 = "工作表“问题清单”第 14 行是新增的行，不会导入。";
    private const string DeletedRow5 = "工作表“问题清单”第 5 行的学生（记录标识“1099”）在上传的文件中缺失，其问题仍未解决。";

    [Theory]
    [InlineData(WorksheetLanguage.Chinese, "回执", "逐行结果", "仍待处理")]
    [InlineData(WorksheetLanguage.English, "Summary", "Rows", "Still open")]
    public void Sheets_AreSummaryRowsStillOpen_SummaryFirstAndActive_NoneHidden(WorksheetLanguage language, string summary, string rows, string open)
    {
        using var book = Write(Sample(language));
        Assert.Equal([summary, rows, open], book.Sheets.Select(s => s.Name!.Value));
        Assert.Equal(ReceiptText.SheetNames(language), (summary, rows, open));
        Assert.Equal(0u, book.ActiveTab);
        Assert.All(book.Sheets, s => Assert.True(s.State is null || s.State.Value == SheetStateValues.Visible));
        var selected = book.Sheets.Where(s => book.Worksheet(s.Name!).SheetViews?.Elements<SheetView>().Any(v => v.TabSelected?.Value == true) == true);
        Assert.Equal([summary], selected.Select(s => s.Name!.Value));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void Summary_TotalsPerOutcome_EqualTheRowsOutcomes_WithTheirMeaning(WorksheetLanguage language)
    {
        var receipt = Sample(language);
        using var book = Write(receipt);
        var sheet = ReceiptText.SheetNames(language).Summary;
        var heading = RowOf(book, sheet, ReceiptText.Get("OutcomesTitle", language));
        Assert.Equal(
            [ReceiptText.Get("HeaderOutcome", language), ReceiptText.Get("HeaderMeaning", language), ReceiptText.Get("HeaderCount", language)],
            Enumerable.Range(1, 3).Select(c => book.Text(sheet, heading + 1, c)));

        var expected = new Dictionary<ReceiptOutcome, int>
        {
            [ReceiptOutcome.AppliedClean] = 1,
            [ReceiptOutcome.AppliedStillFailing] = 1,
            [ReceiptOutcome.AwaitingReview] = 1,
            [ReceiptOutcome.Removed] = 1,
            [ReceiptOutcome.Unchanged] = 1,
            [ReceiptOutcome.Rejected] = 5,
            [ReceiptOutcome.NotImported] = 3,
        };
        var outcomes = Enum.GetValues<ReceiptOutcome>();
        Assert.Equal(7, outcomes.Length);
        for (var i = 0; i < outcomes.Length; i++)
        {
            var row = heading + 2 + i;
            var outcome = ReceiptText.Outcomes[i];
            Assert.Equal(outcome.Label(language), book.Text(sheet, row, 1));
            Assert.Equal(outcome.Meaning(language), book.Text(sheet, row, 2));
            Assert.Equal(expected[outcome].ToString(System.Globalization.CultureInfo.InvariantCulture), book.Text(sheet, row, 3));
            Assert.Equal(receipt.Count(outcome), expected[outcome]);
        }

        Assert.Equal(ReceiptText.Get("TotalLabel", language), book.Text(sheet, heading + 9, 1));
        Assert.Equal("13", book.Text(sheet, heading + 9, 3));
        Assert.Equal(outcomes.Order(), ReceiptText.Outcomes.Order());
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void Summary_NamesTheUploadAndWhatRemainsOpen(WorksheetLanguage language)
    {
        using var book = Write(Sample(language));
        var sheet = ReceiptText.SheetNames(language).Summary;
        string Value(string key) => book.Text(sheet, RowOf(book, sheet, ReceiptText.Get(key, language)), 2);

        Assert.Equal(ReceiptText.Format("Title", language, "第一实验小学"), book.Text(sheet, 1, 1));
        Assert.Equal(ReceiptText.Format("SchoolValue", language, "第一实验小学", "2123000001"), Value("LabelSchool"));
        Assert.Contains("2123000001", Value("LabelSchool"), StringComparison.Ordinal);
        Assert.Equal("2025-秋", Value("LabelRound"));
        Assert.Equal(ReceiptText.Format("IssueValue", language, 2), Value("LabelIssue"));
        Assert.Equal("2025-秋_2123000001_第一实验小学_v2.xlsx", Value("LabelFile"));
        Assert.Equal(new string('a', 64), Value("LabelSha256"));
        Assert.Equal("2025-11-03T14:05:09+08:00", Value("LabelReceivedAt"));
        Assert.Equal("school-2123000001", Value("LabelReceivedBy"));
        Assert.Equal("42", Value("LabelReturnId"));
        // Open: F06, F03 and S02 are errors, F11 a warning; W02 waits for review and counts there only.
        Assert.Equal("3", Value("LabelOpenErrors"));
        Assert.Equal("1", Value("LabelOpenWarnings"));
        Assert.Equal("1", Value("LabelAwaitingReview"));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void Summary_NextSteps_FollowWhatHappened(WorksheetLanguage language)
    {
        var names = ReceiptText.SheetNames(language);
        using (var book = Write(Sample(language)))
        {
            var texts = Column(book, names.Summary, 2);
            Assert.Contains(ReceiptText.Format("NextRejected", language, 8, names.Rows), texts);
            Assert.Contains(ReceiptText.Format("NextOpen", language, 3, 1, names.StillOpen), texts);
            Assert.Contains(ReceiptText.Format("NextAwaiting", language, 1), texts);
            Assert.Contains(ReceiptText.Format("NextKeep", language, "42"), texts);
            Assert.DoesNotContain(ReceiptText.Get("NextDone", language), texts);
        }

        var clean = Sample(language) with
        {
            Rows = [Row(2, "1001", ReceiptOutcome.AppliedClean)],
            StillOpen = [],
        };
        using (var book = Write(clean))
        {
            var texts = Column(book, names.Summary, 2);
            Assert.Contains(ReceiptText.Get("NextDone", language), texts);
            Assert.Contains(ReceiptText.Format("NextKeep", language, "42"), texts);
            // Exactly two steps: nothing to do, and keep the receipt.
            var next = RowOf(book, names.Summary, ReceiptText.Get("NextTitle", language));
            Assert.Equal(
                [("1", ReceiptText.Get("NextDone", language)), ("2", ReceiptText.Format("NextKeep", language, "42")), ("", "")],
                Enumerable.Range(next + 1, 3).Select(r => (book.Text(names.Summary, r, 1), book.Text(names.Summary, r, 2))));
            // Nothing was refused: the groups table says so instead of showing an empty table.
            var groups = RowOf(book, names.Summary, ReceiptText.Get("GroupsTitle", language));
            Assert.Equal(ReceiptText.Get("GroupsNone", language), book.Text(names.Summary, groups + 1, 1));
            Assert.Equal("", book.Text(names.Summary, groups + 1, 2));
        }
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void Summary_GroupsTheReasonsByKind_WithCountsAndRows(WorksheetLanguage language)
    {
        using var book = Write(Sample(language));
        var sheet = ReceiptText.SheetNames(language).Summary;
        var title = RowOf(book, sheet, ReceiptText.Get("GroupsTitle", language));
        Assert.Equal(
            [ReceiptText.Get("HeaderOutcome", language), ReceiptText.Get("HeaderReason", language),
             ReceiptText.Get("HeaderCount", language), ReceiptText.Get("HeaderRowNumbers", language)],
            Enumerable.Range(1, 4).Select(c => book.Text(sheet, title + 1, c)));
        var rejected = ReceiptOutcome.Rejected.Label(language);
        var notImported = ReceiptOutcome.NotImported.Label(language);
        (string, string, string, string)[] expected =
        [
            // Three rows with the same code and three different texts are one kind; row 8 also counts for its second reason.
            (rejected, FormulaRow7, "3", "7–9"),
            (rejected, InvalidDateRow8, "1", "8"),
            (rejected, DashReason, "1", "10"),
            (rejected, ReceiptText.Get("NoReason", language), "1", "11"),
            // Without codes, texts that differ only in their numbers are one kind.
            (notImported, AddedRow12, "2", "12, 14"),
            (notImported, DeletedRow5, "1", "5"),
        ];
        var actual = Enumerable.Range(title + 2, expected.Length + 1)
            .Select(r => (book.Text(sheet, r, 1), book.Text(sheet, r, 2), book.Text(sheet, r, 3), book.Text(sheet, r, 4)))
            .ToArray();
        Assert.Equal([.. expected, ("", "", "", "")], actual);
        Assert.Equal(Red, book.Cell(sheet, title + 2, 1)!.FillRgb);
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void RowsSheet_HasEveryRowInExcelRowOrder_WithItsOutcomeChangesReasonsAndChecks(WorksheetLanguage language)
    {
        var receipt = Sample(language);
        using var book = Write(receipt);
        var sheet = ReceiptText.SheetNames(language).Rows;
        string[] headers = ["HeaderExcelRow", "HeaderRowKey", "HeaderStudentNo", "HeaderName", "HeaderOutcome", "HeaderChanges", "HeaderReasons",
            "HeaderStillFailing"];
        Assert.Equal(headers.Select(h => ReceiptText.Get(h, language)), Enumerable.Range(1, 8).Select(c => book.Text(sheet, 1, c)));

        // The sample lists its rows out of order; the missing row issued at row 5 comes after the row now there.
        string[] keys = ["1001", "1002", "1003", "1004", "1099", "1005", "1006", "1007", "1008", "1009", "1010", "", ""];
        int[] excelRows = [2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12, 14];
        Assert.Equal(keys, Enumerable.Range(2, 13).Select(r => book.Text(sheet, r, 2)));
        Assert.Equal(excelRows.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)), Enumerable.Range(2, 13).Select(r => book.Text(sheet, r, 1)));
        Assert.DoesNotContain(book.Cells(sheet).Values, c => c.Row > 14 && c.Text.Length > 0);

        var byKey = receipt.Rows.Where(r => r.RowKey is not null).ToDictionary(r => r.RowKey!);
        for (var line = 2; line <= 12; line++)
        {
            var row = byKey[book.Text(sheet, line, 2)];
            Assert.Equal(row.StudentNo ?? "", book.Text(sheet, line, 3));
            Assert.Equal(row.Name ?? "", book.Text(sheet, line, 4));
            Assert.Equal(row.Outcome.Label(language), book.Text(sheet, line, 5));
            Assert.Equal(string.Join('\n', row.Reasons), book.Text(sheet, line, 7));
        }

        var (separator, empty, error, warning) = language == WorksheetLanguage.English
            ? (": ", "(empty)", "[Error] ", "[Warning] ")
            : ("：", "（空）", "【错误】", "【警告】");
        Assert.Equal($"出生日期{separator}0123 → 2015-03-09\n监护人联系电话{separator}{empty} → 13800000000", book.Text(sheet, 2, 6));
        // Without a column header the field's own header stands in.
        var gender = language == WorksheetLanguage.English ? "Gender" : "性别";
        Assert.Equal($"{gender}{separator}3 → 1", book.Text(sheet, 3, 6));
        Assert.Equal($"{error}F06 出生日期不是有效日期\n{warning}F11 联系电话格式可疑", book.Text(sheet, 3, 8));
        Assert.Equal($"{FormulaRow8}\n{InvalidDateRow8}", book.Text(sheet, 9, 7));
        Assert.Equal(AddedRow12, book.Text(sheet, 13, 7));
        Assert.Equal(ReceiptOutcome.NotImported.Label(language), book.Text(sheet, 14, 5));
    }

    [Fact]
    public void RowsSheet_ColoursTheOutcome()
    {
        using var book = Write(Sample(WorksheetLanguage.Chinese));
        string[] expected = [Green, Amber, Amber, Grey, Red, Grey, Red, Red, Red, Red, Red, Red, Red];
        Assert.Equal(expected, Enumerable.Range(2, 13).Select(r => book.Cell("逐行结果", r, 5)!.FillRgb));
        // Only the outcome is coloured; the other cells of a row keep no fill.
        Assert.Null(book.Cell("逐行结果", 2, 4)!.FillRgb);
    }

    [Fact]
    public void StillOpenSheet_ListsEveryOpenProblem()
    {
        var receipt = Sample(WorksheetLanguage.English);
        using var book = Write(receipt);
        const string sheet = "Still open";
        Assert.Equal(["Student number", "Name", "Rule", "Severity", "Field", "Problem", "Value", "Awaiting review"],
            Enumerable.Range(1, 8).Select(c => book.Text(sheet, 1, c)));
        string[][] expected =
        [
            ["G" + Id, "王小明", "F06", "Error", "Birth date", "出生日期不是有效日期", "2015-02-30", ""],
            ["G" + Id, "王小明", "F11", "Warning", "Guardian phone", "联系电话格式可疑", "+86 138 0000 0000", ""],
            ["L0000000000001003", "=1+1", "W02", "Warning", "", "说明待审核", "=HYPERLINK(\"http://127.0.0.1\",\"x\")", "Yes"],
            ["L0000000000001005", "赵六", "F03", "Error", "ID number", "身份证件号校验位错误", IdX, ""],
            ["L0000000000001005", "赵六", "S02", "Error", "Address", "含有控制字符", "甲\r乙", ""],
        ];
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], Enumerable.Range(1, 8).Select(c => book.Text(sheet, i + 2, c)));
        }

        Assert.Equal("", book.Text(sheet, 7, 1));
        Assert.Equal(Amber, book.Cell(sheet, 4, 8)!.FillRgb);
        Assert.Equal("字段", ReceiptText.Get("HeaderField", WorksheetLanguage.Chinese));
        using var chinese = Write(receipt with { Language = WorksheetLanguage.Chinese });
        Assert.Equal(["错误", "出生日期", "是"], new[] { (2, 4), (2, 5), (4, 8) }.Select(x => chinese.Text("仍待处理", x.Item1, x.Item2)));
    }

    [Fact]
    public void IdentifiersAndLeadingZeros_StayTextWithAllTheirDigits()
    {
        using var book = Write(Sample(WorksheetLanguage.Chinese));
        var studentNo = book.Cell("逐行结果", 2, 3)!;
        Assert.Equal("012345678901234567", studentNo.Text);
        Assert.Equal(CellValues.SharedString, studentNo.Type);
        Assert.Equal("@", studentNo.NumberFormat);
        var id = book.Cell("仍待处理", 5, 7)!;
        Assert.Equal(IdX, id.Text);
        Assert.Equal(18, id.Text.Length);
        Assert.Equal(CellValues.SharedString, id.Type);
        Assert.Equal("@", id.NumberFormat);
        Assert.StartsWith("出生日期：0123 → ", book.Text("逐行结果", 2, 6), StringComparison.Ordinal);
        // The row numbers and counts are text too, as every value.
        Assert.Equal(CellValues.SharedString, book.Cell("逐行结果", 2, 1)!.Type);
        // A carriage return inside a value comes back as issued (ECMA-376 _x000D_), not as a line feed.
        Assert.Equal("甲\r乙", book.Text("仍待处理", 6, 7));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void EveryCell_IsTextWithTheTextFormat_FormulaLikeTextQuoted_NeverAFormula(WorksheetLanguage language)
    {
        using var book = Write(Sample(language));
        var quoted = new List<string>();
        foreach (var sheet in book.Sheets)
        {
            foreach (var cell in book.Cells(sheet.Name!).Values.Where(c => c.Text.Length > 0))
            {
                var where = $"{sheet.Name}!{cell.Reference}";
                Assert.False(cell.HasFormula, $"{where} has a formula");
                Assert.Equal(CellValues.SharedString, cell.Type);
                Assert.True(cell.NumberFormat == "@", $"{where} has format {cell.NumberFormat}");
                var formulaLike = cell.Text[0] is '=' or '+' or '-' or '@' or '\t' or '\r' or '\n';
                Assert.True(formulaLike == cell.QuotePrefix, $"{where} '{cell.Text}' quote prefix {cell.QuotePrefix}");
                if (formulaLike)
                {
                    quoted.Add(cell.Text);
                }
            }
        }

        // A name, a value and a reason that a spreadsheet would evaluate, each where the receipt shows it.
        Assert.Contains("=1+1", quoted);
        Assert.Contains("=HYPERLINK(\"http://127.0.0.1\",\"x\")", quoted);
        Assert.Contains("+86 138 0000 0000", quoted);
        Assert.Equal(2, quoted.Count(t => t == DashReason)); // on the rows sheet and as the example of its group
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void TableSheets_HeaderFrozen_FilterOn_WidthsByHand_AndEverySheetProtected(WorksheetLanguage language)
    {
        using var book = Write(Sample(language));
        var names = ReceiptText.SheetNames(language);
        foreach (var (sheet, rows, frozenColumns) in new[] { (names.Rows, 13, 4), (names.StillOpen, 5, 2) })
        {
            var worksheet = book.Worksheet(sheet);
            var pane = worksheet.Descendants<Pane>().Single();
            Assert.Equal(PaneStateValues.FrozenSplit, pane.State!.Value);
            Assert.Equal(1d, pane.VerticalSplit!.Value);
            Assert.Equal(frozenColumns, pane.HorizontalSplit!.Value);
            Assert.Equal($"A1:H{1 + rows}", worksheet.GetFirstChild<AutoFilter>()!.Reference!.Value);
            var widths = worksheet.Descendants<Column>().ToArray();
            Assert.All(widths, c => Assert.True(c.CustomWidth?.Value));
            Assert.Equal(8, widths.Sum(c => (int)(c.Max!.Value - c.Min!.Value + 1)));
            var protection = worksheet.GetFirstChild<SheetProtection>()!;
            Assert.False(protection.AutoFilter?.Value ?? true);
        }

        foreach (var sheet in book.Sheets)
        {
            var protection = book.Worksheet(sheet.Name!).GetFirstChild<SheetProtection>();
            Assert.True(protection?.Sheet?.Value, sheet.Name);
            Assert.Null(protection!.Password); // convenience, not security
        }

        Assert.All(book.Worksheet(names.Summary).Descendants<Column>(), c => Assert.True(c.CustomWidth?.Value));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void WrittenReceipt_PassesTheOpenXmlValidator_AlsoWhenEmpty(WorksheetLanguage language)
    {
        using (var book = Write(Sample(language)))
        {
            Assert.Empty(new OpenXmlValidator().Validate(book.Document).Select(e => $"{e.Part?.Uri} {e.Path?.XPath}: {e.Description}"));
        }

        var names = ReceiptText.SheetNames(language);
        using var empty = Write(Sample(language) with { Rows = [], StillOpen = [] });
        Assert.Empty(new OpenXmlValidator().Validate(empty.Document));
        Assert.Equal("A1:H1", empty.Worksheet(names.Rows).GetFirstChild<AutoFilter>()!.Reference!.Value);
        Assert.Equal(ReceiptText.Get("HeaderExcelRow", language), empty.Text(names.Rows, 1, 1));
        Assert.Equal("", empty.Text(names.Rows, 2, 1));
        var heading = RowOf(empty, names.Summary, ReceiptText.Get("OutcomesTitle", language));
        Assert.All(Enumerable.Range(heading + 2, 8), r => Assert.Equal("0", empty.Text(names.Summary, r, 3)));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese, "2025-秋_2123000001_第一-实验-小学-_回执_42.xlsx")]
    [InlineData(WorksheetLanguage.English, "2025-秋_2123000001_第一-实验-小学-_receipt_42.xlsx")]
    public void FileName_NamesRoundSchoolAndReturn_SafeOnWindows(WorksheetLanguage language, string expected)
    {
        var receipt = Sample(language) with { SchoolName = " 第一/实验:小学* " };
        Assert.Equal(expected, ReceiptWriter.FileName(receipt));
        Assert.Equal("2025-秋_2123000001_回执_7.xlsx", ReceiptWriter.FileName(Sample(WorksheetLanguage.Chinese) with { SchoolName = "..", ReturnId = 7 }));
    }

    [Fact]
    public void Write_RefusesWhatItCannotWrite()
    {
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentNullException>(() => ReceiptWriter.Write(null!, stream));
        Assert.Throws<ArgumentNullException>(() => ReceiptWriter.Write(Sample(WorksheetLanguage.Chinese), null!));
        Assert.Throws<ArgumentNullException>(() => ReceiptWriter.Write(Sample(WorksheetLanguage.Chinese) with { Rows = [null!] }, stream));
        Assert.Throws<ArgumentException>(() => ReceiptWriter.Write(Sample(WorksheetLanguage.Chinese) with { Rows = [Row(0, "1", ReceiptOutcome.Unchanged)] }, stream));
        Assert.Throws<ArgumentException>(() => ReceiptWriter.Write(Sample(WorksheetLanguage.Chinese) with { SchoolCode = " " }, stream));
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void BothLanguages_HaveEveryText()
    {
        var chinese = ReceiptText.Keys(WorksheetLanguage.Chinese);
        var english = ReceiptText.Keys(WorksheetLanguage.English);
        Assert.True(chinese.Count > 50, $"{chinese.Count} keys");
        Assert.Equal(chinese.Order(StringComparer.Ordinal), english.Order(StringComparer.Ordinal));
        // English really comes from its own resources, not from the Chinese fallback; Chinese is really Chinese.
        Assert.All(english, k => Assert.DoesNotMatch(@"\p{IsCJKUnifiedIdeographs}", ReceiptText.Get(k, WorksheetLanguage.English)));
        Assert.Matches(@"\p{IsCJKUnifiedIdeographs}", ReceiptText.Get("OutcomeRejected", WorksheetLanguage.Chinese));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void OutcomeLabels_AreDistinct_AndEveryOutcomeHasAMeaning(WorksheetLanguage language)
    {
        var outcomes = Enum.GetValues<ReceiptOutcome>();
        Assert.Equal(outcomes.Length, outcomes.Select(o => o.Label(language)).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(outcomes, o => Assert.True(o.Meaning(language).Length > o.Label(language).Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => ((ReceiptOutcome)99).Label(language));
        var (summary, rows, open) = ReceiptText.SheetNames(language);
        string[] names = [summary, rows, open];
        Assert.Equal(3, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(names, n => Assert.True(n.Length is > 0 and <= 31 && n.IndexOfAny(['[', ']', ':', '*', '?', '/', '\\', '\'']) < 0, n));
    }

    private static OpenXmlWorkbook Write(Receipt receipt)
    {
        using var stream = new MemoryStream();
        ReceiptWriter.Write(receipt, stream);
        return new OpenXmlWorkbook(stream.ToArray());
    }

    /// <summary>The first row whose first cell reads <paramref name="text"/>.</summary>
    private static int RowOf(OpenXmlWorkbook book, string sheet, string text) =>
        book.Cells(sheet).Values.Where(c => c.Column == 1 && c.Text == text).Select(c => c.Row).DefaultIfEmpty(-1).Min() is var row and > 0
            ? row
            : throw new Xunit.Sdk.XunitException($"No row of '{sheet}' starts with '{text}'.");

    private static string[] Column(OpenXmlWorkbook book, string sheet, int column) =>
        [.. book.Cells(sheet).Values.Where(c => c.Column == column).OrderBy(c => c.Row).Select(c => c.Text)];

    private static ReceiptRow Row(int excelRow, string? key, ReceiptOutcome outcome, string? studentNo = null, string? name = null,
        ReceiptChange[]? changes = null, string[]? reasons = null, ReceiptProblem[]? failing = null, string[]? codes = null) =>
        new(excelRow, key, studentNo ?? (key is null ? null : "L000000000000" + key), name ?? (key is null ? null : "学生" + key), outcome,
            changes ?? [], reasons ?? [], failing ?? [])
        {
            ReasonCodes = codes ?? [],
        };

    private static ReceiptProblem Problem(string rule, ProblemSeverity severity, string? field, string title, string? value) =>
        new(rule, severity, field, title, value);

    /// <summary>
    /// Every outcome; rows out of Excel-row order; a missing row reported at the row where it was issued; reasons with
    /// and without codes; 18-digit identifiers, leading zeros, formula-like text and a carriage return.
    /// </summary>
    private static Receipt Sample(WorksheetLanguage language) => new()
    {
        ReturnId = 42,
        WorksheetId = Guid.Parse("6f1c2a0e-3b7d-4c55-9a11-2f0e8d7c6b5a"),
        RoundCode = "2025-秋",
        SchoolCode = "2123000001",
        SchoolName = "第一实验小学",
        IssueNumber = 2,
        FileName = "2025-秋_2123000001_第一实验小学_v2.xlsx",
        Sha256 = new string('a', 64),
        ReceivedAt = new DateTimeOffset(2025, 11, 3, 14, 5, 9, TimeSpan.FromHours(8)),
        ReceivedBy = "school-2123000001",
        Language = language,
        Rows =
        [
            Row(14, null, ReceiptOutcome.NotImported, reasons: [AddedRow14]),
            Row(9, "1008", ReceiptOutcome.Rejected, reasons: [FormulaRow9], codes: ["ReturnFormula"]),
            Row(3, "1002", ReceiptOutcome.AppliedStillFailing, studentNo: "G" + Id, name: "王小明",
                changes: [new ReceiptChange("gender", "", "3", "1")],
                failing: [Problem("F06", ProblemSeverity.Error, "birth_date", "出生日期不是有效日期", "2015-02-30"),
                    Problem("F11", ProblemSeverity.Warning, "guardian_phone", "联系电话格式可疑", "+86 138 0000 0000")]),
            Row(2, "1001", ReceiptOutcome.AppliedClean, studentNo: "012345678901234567", name: "李晓红",
                changes: [new ReceiptChange("birth_date", "出生日期", "0123", "2015-03-09"),
                    new ReceiptChange("guardian_phone", "监护人联系电话", null, "13800000000")]),
            Row(4, "1003", ReceiptOutcome.AwaitingReview, name: "=1+1"),
            Row(5, "1004", ReceiptOutcome.Removed),
            Row(5, "1099", ReceiptOutcome.NotImported, reasons: [DeletedRow5], codes: ["ReturnDeletedRow"]),
            Row(6, "1005", ReceiptOutcome.Unchanged, name: "赵六"),
            Row(8, "1007", ReceiptOutcome.Rejected, reasons: [FormulaRow8, InvalidDateRow8], codes: ["ReturnFormula", "ReturnInvalidDate"]),
            Row(7, "1006", ReceiptOutcome.Rejected, reasons: [FormulaRow7], codes: ["ReturnFormula"]),
            Row(10, "1009", ReceiptOutcome.Rejected, reasons: [DashReason]),
            Row(11, "1010", ReceiptOutcome.Rejected),
            Row(12, null, ReceiptOutcome.NotImported, reasons: [AddedRow12]),
        ],
        StillOpen =
        [
            new("G" + Id, "王小明", Problem("F06", ProblemSeverity.Error, "birth_date", "出生日期不是有效日期", "2015-02-30"), false),
            new("G" + Id, "王小明", Problem("F11", ProblemSeverity.Warning, "guardian_phone", "联系电话格式可疑", "+86 138 0000 0000"), false),
            new("L0000000000001003", "=1+1", Problem("W02", ProblemSeverity.Warning, null, "说明待审核", "=HYPERLINK(\"http://127.0.0.1\",\"x\")"), true),
            new("L0000000000001005", "赵六", Problem("F03", ProblemSeverity.Error, "id_number", "身份证件号校验位错误", IdX), false),
            new("L0000000000001005", "赵六", Problem("S02", ProblemSeverity.Error, "address", "含有控制字符", "甲\r乙"), false),
        ],
    };

    private static string FirstWithCheckX()
    {
        for (var sequence = 0; ; sequence++)
        {
            var id = ResidentId.Create("110105", new DateOnly(2014, 9, 1), sequence);
            if (id[17] == 'X')
            {
                return id;
            }
        }
    }
}
