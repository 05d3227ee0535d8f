using DocumentFormat.OpenXml.Spreadsheet;
using DocumentFormat.OpenXml.Validation;
using StudentDataQuality.Records;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

public sealed class WorkbookWriterTests
{
    private const string Red = "FFFFC7CE";
    private const string Grey = "FFD9D9D9";

    private static readonly WorksheetDocument Document = WorksheetSamples.Tricky();

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void IssuedValues_ReadBackExactly_ByTheOpenXmlSdk(WorksheetLanguage language)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, language));
        var problems = WorksheetText.SheetNames(language).Problems;
        var columns = WorksheetLayout.Columns(Document.Fields, language);
        var byKey = Document.Rows.ToDictionary(r => r.RowKey);
        for (var excelRow = 2; excelRow < 2 + Document.Rows.Count; excelRow++)
        {
            var row = byKey[book.Text(problems, excelRow, 1)];
            foreach (var column in columns)
            {
                var expected = column.Kind switch
                {
                    WorksheetColumnKind.RowKey => row.RowKey,
                    WorksheetColumnKind.Identity => column.FieldName switch
                    {
                        "student_no" => row.StudentNo,
                        "grade" => row.Grade,
                        "class_name" => row.ClassName,
                        _ => row.Name,
                    },
                    WorksheetColumnKind.Field => row.Values.GetValueOrDefault(column.FieldName!),
                    WorksheetColumnKind.Action or WorksheetColumnKind.Explanation => null,
                    _ => book.Text(problems, excelRow, column.Number),
                };
                // A spreadsheet cell cannot tell null from empty: both are an empty cell.
                Assert.Equal(expected ?? "", book.Text(problems, excelRow, column.Number));
            }
        }
    }

    [Fact]
    public void Identifiers_KeepAllDigitsAndLeadingZeros_AsTextCells()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document));
        var idColumn = WorksheetLayout.Columns(Document.Fields, WorksheetLanguage.Chinese).Single(c => c.Marker == "field.id_number").Number;
        var ids = Enumerable.Range(2, Document.Rows.Count).Select(r => book.Cell("问题清单", r, idColumn)!).ToArray();
        Assert.Contains(ids, c => c.Text.Length == 18 && c.Text.EndsWith('X'));
        Assert.All(ids, c => Assert.Equal(CellValues.SharedString, c.Type));
        Assert.All(ids, c => Assert.Equal("@", c.NumberFormat));
        var cells = book.Cells("问题清单").Values;
        Assert.Contains(cells, c => c.Text == "0123" && c.Type == CellValues.SharedString);
        Assert.Contains(cells, c => c.Text == "01" && c.Type == CellValues.SharedString);
    }

    [Fact]
    public void EveryCellInEverySheet_IsTextWithTheTextFormat_NeverAFormula()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document));
        foreach (var sheet in book.Sheets)
        {
            foreach (var cell in book.Cells(sheet.Name!).Values)
            {
                Assert.False(cell.HasFormula, $"{sheet.Name}!{cell.Reference} has a formula");
                // A written value is a shared string; a cell with only a style has no value (and no type that matters).
                Assert.True(cell.Text.Length == 0 || cell.Type == CellValues.SharedString, $"{sheet.Name}!{cell.Reference} is {cell.Type}");
                Assert.True(cell.Text.Length == 0 || cell.NumberFormat == "@", $"{sheet.Name}!{cell.Reference} has format {cell.NumberFormat}");
            }
        }
    }

    [Theory]
    [InlineData("=1+1")]
    [InlineData("+86 138 0000 0000")]
    [InlineData("-5")]
    [InlineData("@x")]
    [InlineData("\t=cmd")]
    [InlineData("\r=1+1")]
    [InlineData("=HYPERLINK(\"http://127.0.0.1\",\"x\")")]
    [InlineData("＝1+1")]
    public void FormulaLikeText_IsAStringWithAQuotePrefix_NeverAFormula(string value)
    {
        var row = WorksheetSamples.Row("9", "1", "1班", value, new() { ["address"] = value, ["name"] = value });
        var document = RowSignature.SignRows(WorksheetSamples.Key, Document with { Fields = ["name", "address"], Rows = [row] });
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(document));
        var cells = book.Cells("问题清单").Values.Where(c => c.Text == value).ToArray();
        Assert.Equal(3, cells.Length); // name as registered, name and address
        Assert.All(cells, c =>
        {
            Assert.False(c.HasFormula);
            Assert.Equal(CellValues.SharedString, c.Type);
            Assert.True(c.QuotePrefix);
            Assert.Equal("@", c.NumberFormat);
        });
    }

    [Fact]
    public void InstructionsFirstAndActive_MetaVeryHiddenAndLast()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document));
        var sheets = book.Sheets;
        Assert.Equal(["说明", "问题清单", "代码表", "_meta"], sheets.Select(s => s.Name!.Value));
        Assert.Equal(0u, book.ActiveTab);
        Assert.Equal(SheetStateValues.VeryHidden, sheets[^1].State!.Value);
        Assert.All(sheets.Take(3), s => Assert.True(s.State is null || s.State.Value == SheetStateValues.Visible));
        // Only the active sheet is selected (a selected hidden sheet would be shown grouped).
        var selected = sheets.Where(s => book.Worksheet(s.Name!).SheetViews?.Elements<SheetView>().Any(v => v.TabSelected?.Value == true) == true);
        Assert.Equal(["说明"], selected.Select(s => s.Name!.Value));
        Assert.True(book.WorkbookPart.Workbook.WorkbookProtection?.LockStructure?.Value);
    }

    [Fact]
    public void Meta_RecordsTheWorksheet_AndEveryRowsSignatureVerifies()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document));
        var records = MetaRecords(book);
        var properties = records.Where(r => r[0] == WorksheetMeta.MetaRecord).ToDictionary(r => r[1], r => r[2]);
        Assert.Equal(WorksheetMeta.Format, properties["format"]);
        Assert.Equal(Document.WorksheetId.ToString(), properties["worksheet_id"]);
        Assert.Equal("7", properties["round_id"]);
        Assert.Equal("2025-秋", properties["round_code"]);
        Assert.Equal("2123000001", properties["school_code"]);
        Assert.Equal("2", properties["issue_number"]);
        Assert.Equal("1", properties["template_version"]);
        Assert.Equal("key-2025-1", properties["key_id"]);
        Assert.Equal(Document.GeneratedAt, DateTimeOffset.Parse(properties["generated_at"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("2025-11-30", properties["deadline"]);
        Assert.Equal("zh-CN", properties["language"]);
        Assert.Equal(Document.Rows.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), properties["row_count"]);

        var rows = records.Where(r => r[0] == WorksheetMeta.RowRecord).ToArray();
        Assert.Equal(Document.Rows.Count, rows.Length);
        var byKey = Document.Rows.ToDictionary(r => r.RowKey);
        foreach (var record in rows)
        {
            var excelRow = int.Parse(record[1], System.Globalization.CultureInfo.InvariantCulture);
            var rowKey = record[2];
            Assert.Equal(rowKey, book.Text("问题清单", excelRow, 1));
            // The signature in the file verifies against the model's issued values; and against the values read back.
            Assert.True(RowSignature.Verify(WorksheetSamples.Key, Document.WorksheetId, rowKey,
                RowSignature.IssuedValues(Document.Fields, byKey[rowKey]), record[3]));
            var readBack = Document.Fields.Select(f => (string?)book.Text("问题清单", excelRow, ColumnOf(book, "field." + f))).ToArray();
            var issued = RowSignature.IssuedValues(Document.Fields, byKey[rowKey]).Select(v => v ?? "").ToArray();
            Assert.Equal(issued, readBack);
        }
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void Meta_MarksEveryColumn_ByNumberMarkerAndHeader(WorksheetLanguage language)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, language));
        var problems = WorksheetText.SheetNames(language).Problems;
        var columns = MetaRecords(book).Where(r => r[0] == WorksheetMeta.ColumnRecord).ToArray();
        var expected = WorksheetLayout.Columns(Document.Fields, language);
        Assert.Equal(expected.Select(c => c.Marker), columns.Select(c => c[2]));
        foreach (var column in columns)
        {
            Assert.Equal(column[3], book.Text(problems, 1, int.Parse(column[1], System.Globalization.CultureInfo.InvariantCulture)));
        }

        Assert.Equal(Document.Fields.Select(f => "field." + f), columns.Select(c => c[2]).Where(m => m.StartsWith("field.", StringComparison.Ordinal)));
        // Headers are distinct, so a reader can find a moved column by its header.
        Assert.Equal(columns.Length, columns.Select(c => c[3]).Distinct().Count());
    }

    [Fact]
    public void KeyColumnsLockedAndGrey_FieldActionAndExplanationEditable_SheetsProtected()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document));
        var columns = WorksheetLayout.Columns(Document.Fields, WorksheetLanguage.Chinese);
        for (var excelRow = 2; excelRow < 2 + Document.Rows.Count; excelRow++)
        {
            foreach (var column in columns)
            {
                var cell = book.Cell("问题清单", excelRow, column.Number);
                Assert.NotNull(cell); // every data cell carries its style, also the empty ones
                var editable = column.Kind is WorksheetColumnKind.Field or WorksheetColumnKind.Action or WorksheetColumnKind.Explanation;
                Assert.Equal(!editable, cell.Locked);
                Assert.Equal("@", cell.NumberFormat);
                if (!editable)
                {
                    Assert.Equal(Grey, cell.FillRgb);
                }
            }
        }

        Assert.All(book.Cells("问题清单").Values.Where(c => c.Row == 1), c => Assert.True(c.Locked));
        var protection = book.Worksheet("问题清单").GetFirstChild<SheetProtection>()!;
        Assert.True(protection.Sheet?.Value);
        // In SpreadsheetML, false means "not locked": sorting and filtering stay allowed on the protected sheet.
        Assert.False(protection.Sort?.Value ?? true);
        Assert.False(protection.AutoFilter?.Value ?? true);
        Assert.Null(protection.Password); // convenience, not security
        foreach (var sheet in new[] { "说明", "代码表", "_meta" })
        {
            Assert.True(book.Worksheet(sheet).GetFirstChild<SheetProtection>()?.Sheet?.Value, sheet);
            Assert.All(book.Cells(sheet).Values, c => Assert.True(c.Locked, $"{sheet}!{c.Reference}"));
        }
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void FlaggedCells_AreRedWithANote_OthersAreNot(WorksheetLanguage language)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, language));
        var problems = WorksheetText.SheetNames(language).Problems;
        var comments = book.Comments(problems);
        var fieldColumns = WorksheetLayout.Columns(Document.Fields, language).Where(c => c.Kind == WorksheetColumnKind.Field).ToArray();
        var flagged = 0;
        for (var excelRow = 2; excelRow < 2 + Document.Rows.Count; excelRow++)
        {
            var row = Document.Rows.Single(r => r.RowKey == book.Text(problems, excelRow, 1));
            foreach (var column in fieldColumns)
            {
                var reference = OpenXmlWorkbook.Reference(excelRow, column.Number);
                var cellProblems = row.Problems.Where(p => p.Field == column.FieldName).ToArray();
                var cell = book.Cell(problems, excelRow, column.Number)!;
                if (cellProblems.Length == 0)
                {
                    Assert.Null(cell.FillRgb);
                    Assert.False(comments.ContainsKey(reference), reference);
                    continue;
                }

                flagged++;
                Assert.Equal(Red, cell.FillRgb);
                var note = comments[reference];
                foreach (var problem in cellProblems)
                {
                    Assert.Contains(problem.RuleId, note, StringComparison.Ordinal);
                    Assert.Contains(language == WorksheetLanguage.English ? problem.TitleEn : problem.TitleZh, note, StringComparison.Ordinal);
                    Assert.Contains(language == WorksheetLanguage.English ? problem.FixEn : problem.FixZh, note, StringComparison.Ordinal);
                    if (problem.Detail is not null)
                    {
                        Assert.Contains(problem.Detail, note, StringComparison.Ordinal);
                    }
                }
            }

            // The summary lists every problem with its rule id, also those of fields not shown (X03 on school_code).
            var summary = book.Text(problems, excelRow, 6);
            Assert.All(row.Problems, p => Assert.Contains(p.RuleId, summary, StringComparison.Ordinal));
            Assert.Equal(row.Problems.Count, summary.Split('\n').Length);
        }

        Assert.Equal(Document.Rows.SelectMany(r => r.Problems).Count(p => Document.Fields.Contains(p.Field)), flagged);
        Assert.Equal(flagged, comments.Count);
        // The notes' author is the system, never the account the server runs under.
        Assert.Equal([WorksheetText.Get("NoteAuthor", language)], book.CommentAuthors(problems));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void ActionAndCodedFields_ValidateAgainstRangesOfTheCodesSheet(WorksheetLanguage language)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, language));
        var (_, problems, codes) = WorksheetText.SheetNames(language);
        var columns = WorksheetLayout.Columns(Document.Fields, language);
        var validations = book.Validations(problems);
        var lastRow = 1 + Document.Rows.Count;
        string Letter(int column) => OpenXmlWorkbook.Reference(1, column)[..^1];

        var action = columns.Single(c => c.Kind == WorksheetColumnKind.Action);
        var actionValidation = validations.Single(v => v.Sqref == $"{Letter(action.Number)}2:{Letter(action.Number)}{lastRow}");
        Assert.Equal(Xml.List, actionValidation.Type);
        Assert.Equal(codes, OpenXmlWorkbook.ParseRange(actionValidation.Formula1!).Sheet);
        Assert.Equal(WorksheetActions.All.Select(a => a.Label(language)), book.RangeValues(actionValidation.Formula1!));

        var coded = columns.Where(c => c.Kind == WorksheetColumnKind.Field && WorksheetLayout_Field(c).Codes is not null).ToArray();
        Assert.Equal(["gender", "nationality", "ethnicity", "only_child"], coded.Select(c => c.FieldName!));
        foreach (var column in coded)
        {
            var validation = validations.Single(v => v.Sqref == $"{Letter(column.Number)}2:{Letter(column.Number)}{lastRow}");
            Assert.Equal(Xml.List, validation.Type);
            Assert.Equal(codes, OpenXmlWorkbook.ParseRange(validation.Formula1!).Sheet);
            // Each choice of the dropdown is read back by the same code list as the code it stands for.
            var list = WorksheetLayout_Field(column).Codes!;
            var choices = book.RangeValues(validation.Formula1!);
            Assert.Equal(list.Entries.Select(e => e.Code), choices.Select(c => list.Match(c)));
        }

        // Never an inline list (Excel refuses those past 255 characters); nothing else validated.
        Assert.All(validations, v => Assert.False(v.Formula1!.StartsWith('"')));
        Assert.Equal(coded.Length + 1, validations.Count);
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void CodesSheet_HoldsItsListsAsText_AndNoEmptyCellBelowTheHeaders(WorksheetLanguage language)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, language));
        var (_, _, codes) = WorksheetText.SheetNames(language);
        var listed = book.Cells(codes).Values.Where(c => c.Row > 1).ToList();

        // The actions and each coded field's names and codes (nationality alone has 241), every one a text cell.
        var coded = Document.Fields.Select(f => Layouts.Student.Fields[Layouts.Student.IndexOf(f)].Codes).OfType<CodeList>().ToList();
        Assert.Equal(2 * (WorksheetActions.All.Count + coded.Sum(list => list.Entries.Count)), listed.Count);
        Assert.All(listed, c => Assert.Equal("@", c.NumberFormat));
        // No empty cell: the lists are styled as the cells they fill, not as the rectangle around them all, whose
        // empty cells (241 nationalities times the columns) cost most of the time of writing a workbook.
        Assert.All(listed, c => Assert.NotEqual("", c.Text));
    }

    [Fact]
    public void Rows_AreSortedByGradeThenClassThenName()
    {
        var document = WorksheetSamples.Tricky(extraRows: 30);
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(document));
        var keys = Enumerable.Range(2, document.Rows.Count).Select(r => book.Text("问题清单", r, 1)).ToArray();
        var rows = keys.Select(k => document.Rows.Single(r => r.RowKey == k)).ToArray();
        var grades = rows.Select(r => FieldParser.ParseGrade(r.Grade!)!.Value).ToArray();
        Assert.Equal(grades.Order(), grades);
        // Within grade 3: 2班 before 10班 (by number, not by text); the grade 7 row (初一) comes after every numeric grade below it.
        Assert.Equal(["1001", "1003"], rows.Where(r => r.Grade == "3" && r.RowKey.StartsWith("100", StringComparison.Ordinal)).Select(r => r.RowKey));
        Assert.Equal("1002", rows[^1].RowKey);
        for (var i = 1; i < rows.Length; i++)
        {
            if (grades[i] == grades[i - 1] && rows[i].ClassName == rows[i - 1].ClassName)
            {
                Assert.True(string.Compare(rows[i - 1].Name, rows[i].Name, System.Globalization.CultureInfo.GetCultureInfo("zh-CN"), System.Globalization.CompareOptions.None) <= 0);
            }
        }
    }

    [Fact]
    public void ProblemsSheet_HeaderFrozen_FilterOn_WidthsSetByHand()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document));
        var sheet = book.Worksheet("问题清单");
        var pane = sheet.Descendants<Pane>().Single();
        Assert.Equal(PaneStateValues.FrozenSplit, pane.State!.Value);
        Assert.Equal(1d, pane.VerticalSplit!.Value);
        var columns = WorksheetLayout.Columns(Document.Fields, WorksheetLanguage.Chinese);
        var lastLetter = OpenXmlWorkbook.Reference(1, columns.Count)[..^1];
        Assert.Equal($"A1:{lastLetter}{1 + Document.Rows.Count}", sheet.GetFirstChild<AutoFilter>()!.Reference!.Value);
        var widths = sheet.Descendants<Column>().ToArray();
        Assert.All(widths, c => Assert.True(c.CustomWidth?.Value));
        Assert.Equal(columns.Count, widths.Sum(c => (int)(c.Max!.Value - c.Min!.Value + 1)));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void WrittenWorkbook_PassesTheOpenXmlValidator(WorksheetLanguage language)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(WorksheetSamples.Tricky(extraRows: 5), language));
        var errors = new OpenXmlValidator().Validate(book.Document).Select(e => $"{e.Part?.Uri} {e.Path?.XPath}: {e.Description}").ToArray();
        Assert.Empty(errors);
    }

    [Fact]
    public void EmptyWorksheet_IsStillAValidWorkbook()
    {
        var document = Document with { Rows = [] };
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(document));
        Assert.Empty(new OpenXmlValidator().Validate(book.Document));
        Assert.Empty(book.Validations("问题清单"));
        Assert.DoesNotContain(MetaRecords(book), r => r[0] == WorksheetMeta.RowRecord);
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese, "说明", "问题清单", "代码表", "处理方式", "变更", "错误")]
    [InlineData(WorksheetLanguage.English, "Instructions", "Problems", "Codes", "Action", "corrected", "Errors")]
    public void Language_SetsSheetNamesHeadersActionsAndInstructions(
        WorksheetLanguage language, string instructions, string problems, string codes, string actionHeader, string corrected, string errorsLabel)
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, language));
        Assert.Equal([instructions, problems, codes, "_meta"], book.Sheets.Select(s => s.Name!.Value));
        var headers = book.Cells(problems).Values.Where(c => c.Row == 1).Select(c => c.Text).ToArray();
        Assert.Contains(actionHeader, headers);
        var field = Layouts.Student.Fields[Layouts.Student.IndexOf("id_number")];
        Assert.Contains(language == WorksheetLanguage.English ? field.EnglishHeader : field.Header, headers);
        Assert.Equal(corrected, book.Text(codes, 2, 1));
        var texts = book.Cells(instructions).Values.Select(c => c.Text).ToArray();
        Assert.Contains(errorsLabel, texts);
        Assert.Contains(texts, t => t.Contains("2025-11-30", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Contains(Document.Contact, StringComparison.Ordinal));
    }

    [Fact]
    public void Instructions_CountErrorsWarningsAndStudents()
    {
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(Document, WorksheetLanguage.English));
        var cells = book.Cells("Instructions").Values;
        string ValueOf(string label) => book.Text("Instructions", cells.Single(c => c.Column == 1 && c.Text == label).Row, 2);
        Assert.Equal("7 (must be fixed)", ValueOf("Errors"));
        Assert.Equal("3 (fix them, or choose confirmed and explain)", ValueOf("Warnings"));
        Assert.Equal("4", ValueOf("Students to check"));
        Assert.Equal("示范第一小学 (2123000001)", ValueOf("School"));
        // A contact starting with + is text, not a formula, there too.
        var contact = cells.Single(c => c.Text == Document.Contact);
        Assert.True(contact.QuotePrefix);
    }

    [Fact]
    public void CarriageReturns_SurviveEvenBesideNonCharacters()
    {
        // U+FFFF in a value makes the writer pick the other sentinel (see CarriageReturns).
        var values = new Dictionary<string, string?> { ["address"] = "x\r\uFFFF\ry", ["name"] = "_xFFFF_\r" };
        var document = RowSignature.SignRows(WorksheetSamples.Key,
            Document with { Fields = ["name", "address"], Rows = [WorksheetSamples.Row("1", "1", "1班", "a\rb", values)] });
        using var book = new OpenXmlWorkbook(WorksheetSamples.Write(document));
        var texts = book.Cells("问题清单").Values.Select(c => c.Text).ToArray();
        Assert.Contains("x\r\uFFFF\ry", texts);
        Assert.Contains("_xFFFF_\r", texts);
        Assert.Contains("a\rb", texts);
        Assert.Empty(new OpenXmlValidator().Validate(book.Document));
    }

    [Fact]
    public void Refuses_UnsignedRows_DuplicateKeys_AndFieldsOutOfLayoutOrder()
    {
        var unsigned = Document with { Rows = [Document.Rows[0] with { Signature = "" }] };
        Assert.Contains("not signed", Assert.Throws<ArgumentException>(() => WorksheetSamples.Write(unsigned)).Message, StringComparison.Ordinal);
        var duplicate = Document with { Rows = [Document.Rows[0], Document.Rows[0]] };
        Assert.Contains("used by two rows", Assert.Throws<ArgumentException>(() => WorksheetSamples.Write(duplicate)).Message, StringComparison.Ordinal);
        var disordered = Document with { Fields = ["gender", "name"] };
        Assert.Contains("order", Assert.Throws<ArgumentException>(() => WorksheetSamples.Write(disordered)).Message, StringComparison.Ordinal);
        var unknown = Document with { Fields = ["favourite_colour"] };
        Assert.Throws<ArgumentException>(() => WorksheetSamples.Write(unknown));
    }

    [Theory]
    [InlineData("2025-秋", "2123000001", "示范第一小学", 1, "2025-秋_2123000001_示范第一小学_v1.xlsx")]
    [InlineData("2025/秋", "2123000001", "示范:第一<小学>?", 12, "2025-秋_2123000001_示范-第一-小学--_v12.xlsx")]
    [InlineData("2025 秋.", "2123000001", " . ", 3, "2025 秋_2123000001_v3.xlsx")]
    [InlineData("r1", "2123000001", "a\\b|c*d\"e\tf", 1, "r1_2123000001_a-b-c-d-e-f_v1.xlsx")]
    public void FileName_FollowsTheContract_WithNothingWindowsRefuses(string round, string school, string name, int issue, string expected)
    {
        var document = Document with { RoundCode = round, SchoolCode = school, SchoolName = name, IssueNumber = issue };
        var fileName = WorkbookWriter.FileName(document);
        Assert.Equal(expected, fileName);
        Assert.DoesNotContain(fileName, c => c < ' ' || "\\/:*?\"<>|".Contains(c, StringComparison.Ordinal));
    }

    [Fact]
    public void FileName_CutsALongSchoolNameBetweenCharacters()
    {
        var name = string.Concat(Enumerable.Repeat("学校𠀋", 40)); // 𠀋 is a surrogate pair
        var fileName = WorkbookWriter.FileName(Document with { SchoolName = name });
        var part = fileName.Split('_')[2];
        Assert.True(part.Length <= 60);
        Assert.False(char.IsHighSurrogate(part[^1]));
        Assert.EndsWith("_v2.xlsx", fileName, StringComparison.Ordinal);
    }

    private static RegistryField WorksheetLayout_Field(WorksheetColumn column) => Layouts.Student.Fields[Layouts.Student.IndexOf(column.FieldName!)];

    private static int ColumnOf(OpenXmlWorkbook book, string marker) =>
        int.Parse(MetaRecords(book).Single(r => r[0] == WorksheetMeta.ColumnRecord && r[2] == marker)[1], System.Globalization.CultureInfo.InvariantCulture);

    private static string[][] MetaRecords(OpenXmlWorkbook book) =>
        book.Cells("_meta").Values.GroupBy(c => c.Row).OrderBy(g => g.Key)
            .Select(g => Enumerable.Range(1, 4).Select(col => book.Text("_meta", g.Key, col)).ToArray())
            .ToArray();

    private static class Xml
    {
        public static readonly DataValidationValues List = DataValidationValues.List;
    }
}
