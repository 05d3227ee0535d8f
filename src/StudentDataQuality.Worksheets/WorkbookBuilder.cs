using System.Globalization;
using System.Text;
using ClosedXML.Excel;
using StudentDataQuality.Records;
using StudentDataQuality.Text;

namespace StudentDataQuality.Worksheets;

/// <summary>Builds one workbook with ClosedXML. Used once, by <see cref="WorkbookWriter.Write"/>.</summary>
internal sealed class WorkbookBuilder
{
    // Grey for what cannot be edited, Excel's own "Bad" red for flagged cells, a light blue for headers.
    private static readonly XLColor LockedFill = XLColor.FromArgb(0xD9, 0xD9, 0xD9);
    private static readonly XLColor HeaderFill = XLColor.FromArgb(0xDD, 0xEB, 0xF7);
    private static readonly XLColor FlaggedFill = XLColor.FromArgb(0xFF, 0xC7, 0xCE);
    private static readonly XLColor FlaggedFont = XLColor.FromArgb(0x9C, 0x00, 0x06);
    private static readonly XLColor BorderColor = XLColor.FromArgb(0xBF, 0xBF, 0xBF);
    private static readonly CompareInfo ChineseCollation = CultureInfo.GetCultureInfo("zh-CN").CompareInfo;

    private const string TextFormat = "@";
    private const double LineHeight = 15;
    private const int SummaryWidth = 48;
    private const int InstructionsTextWidth = 90;

    private readonly WorksheetDocument _document;
    private readonly WorksheetLanguage _language;
    private readonly IReadOnlyList<WorksheetColumn> _columns;
    private readonly IReadOnlyList<WorksheetRow> _rows;
    private readonly char? _sentinel;
    private readonly string _author;
    private readonly RuleHelp? _ruleHelp;
    private readonly Dictionary<string, string> _listFormulas = new(StringComparer.Ordinal);
    private string _actionListFormula = "";

    public WorkbookBuilder(WorksheetDocument document, WorksheetLanguage language, RuleHelp? ruleHelp = null)
    {
        _ruleHelp = ruleHelp;
        _document = document;
        _language = language;
        _columns = WorksheetLayout.Columns(document.Fields, language);
        _rows = [.. document.Rows.Order(RowOrder.Instance)];
        _sentinel = CarriageReturns.ChooseSentinel(document.Rows.SelectMany(r => WorkbookWriter.IssuedTexts(document, r)));
        _author = Text("NoteAuthor");
    }

    public void Save(Stream output)
    {
        using var workbook = new XLWorkbook();
        Build(workbook);
        CarriageReturns.Save(workbook, output, _sentinel);
    }

    private void Build(XLWorkbook workbook)
    {
        var (instructionsName, problemsName, codesName) = WorksheetText.SheetNames(_language);
        var instructions = workbook.AddWorksheet(instructionsName);
        var problems = workbook.AddWorksheet(problemsName);
        var codes = workbook.AddWorksheet(codesName);
        var meta = workbook.AddWorksheet(WorksheetMeta.SheetName);

        WriteCodes(codes);
        WriteProblems(problems);
        WriteInstructions(instructions);
        WriteMeta(meta, problemsName);

        // A hidden sheet must be neither first nor active (docs/worksheets.md, "Sheets"): _meta is last, the instructions are active.
        meta.Visibility = XLWorksheetVisibility.VeryHidden;
        instructions.SetTabActive().SetTabSelected();
        workbook.Author = _author;
        workbook.Properties.Author = _author;
        workbook.Properties.Title = TitleLine();
        workbook.Properties.Created = _document.GeneratedAt.UtcDateTime;
        workbook.Properties.Modified = _document.GeneratedAt.UtcDateTime;
        // Convenience, not security (the server never trusts the locks): sheets cannot be added, removed or renamed.
        workbook.Protect(null, XLProtectionAlgorithm.Algorithm.SimpleHash, XLWorkbookProtectionElements.Windows);
    }

    private void WriteInstructions(IXLWorksheet sheet)
    {
        sheet.Column(1).Width = 20;
        sheet.Column(2).Width = InstructionsTextWidth;
        var errors = _rows.Sum(r => r.Problems.Count(p => p.Severity == ProblemSeverity.Error));
        var warnings = _rows.Sum(r => r.Problems.Count(p => p.Severity == ProblemSeverity.Warning));
        var row = 1;
        var title = sheet.Cell(row, 1);
        SetDisplay(title, TitleLine());
        title.Style.Font.Bold = true;
        title.Style.Font.FontSize = 14;
        if (_document.Practice)
        {
            title.Style.Font.FontColor = XLColor.FromArgb(0xC0, 0x00, 0x00);
        }
        row += 2;

        void Line(string label, string value, bool bold = false)
        {
            SetDisplay(sheet.Cell(row, 1), label);
            SetDisplay(sheet.Cell(row, 2), value);
            sheet.Cell(row, 1).Style.Font.Bold = true;
            sheet.Cell(row, 2).Style.Font.Bold = bold;
            sheet.Row(row).Height = Height(value, InstructionsTextWidth);
            row++;
        }

        void Heading(string key)
        {
            row++;
            var cell = sheet.Cell(row, 1);
            SetDisplay(cell, Text(key));
            cell.Style.Font.Bold = true;
            cell.Style.Font.FontSize = 12;
            row++;
        }

        Line(Text("LabelSchool"), Format("SchoolValue", _document.SchoolName, _document.SchoolCode));
        Line(Text("LabelRound"), Format("RoundValue", _document.RoundCode, _document.IssueNumber));
        Line(Text("LabelDeadline"), Format("DeadlineValue", _document.Deadline.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), bold: true);
        Line(Text("LabelStudents"), Format("StudentsValue", _rows.Count));
        Line(Text("LabelErrors"), Format("ErrorsValue", errors));
        Line(Text("LabelWarnings"), Format("WarningsValue", warnings));
        Line(Text("LabelContact"), _document.Contact);
        Line(Text("LabelGenerated"), _document.GeneratedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture));

        Heading("StepsTitle");
        for (var step = 1; step <= 3; step++)
        {
            Line(step.ToString(CultureInfo.InvariantCulture), Text($"Step{step}"));
        }

        Heading("ActionsTitle");
        foreach (var action in WorksheetActions.All)
        {
            Line(action.Label(_language), action.Meaning(_language));
        }

        Heading("NotesTitle");
        for (var note = 1; note <= 4; note++)
        {
            Line(note.ToString(CultureInfo.InvariantCulture), Text($"Note{note}"));
        }

        var used = sheet.Range(1, 1, row, 2).Style;
        used.NumberFormat.Format = TextFormat;
        used.Alignment.Vertical = XLAlignmentVerticalValues.Top;
        sheet.Range(1, 2, row, 2).Style.Alignment.WrapText = true;
        FitToPageWidth(sheet);
        sheet.Protect().AllowElement(XLSheetProtectionElements.FormatColumns).AllowElement(XLSheetProtectionElements.FormatRows);
    }

    private void WriteCodes(IXLWorksheet sheet)
    {
        var name = sheet.Name;
        SetDisplay(sheet.Cell(1, 1), Text("CodesActionHeader"));
        SetDisplay(sheet.Cell(1, 2), Text("CodesMeaningHeader"));
        var actions = WorksheetActions.All;
        for (var i = 0; i < actions.Count; i++)
        {
            SetDisplay(sheet.Cell(2 + i, 1), actions[i].Label(_language));
            SetDisplay(sheet.Cell(2 + i, 2), actions[i].Meaning(_language));
        }

        _actionListFormula = Reference(name, 1, 2, 1 + actions.Count);
        sheet.Column(1).Width = 20;
        sheet.Column(2).Width = 70;
        sheet.Range(2, 2, 1 + actions.Count, 2).Style.Alignment.WrapText = true;
        // Each list is styled as the cells it fills: styling the rectangle around them all made a cell of every empty
        // slot (241 nationalities times 36 columns), which cost most of a workbook's time when it showed many fields.
        var blocks = new List<IXLRange> { sheet.Range(1, 1, 1 + actions.Count, 2) };

        var column = 4;
        foreach (var fieldName in _document.Fields)
        {
            var field = WorksheetLayout.FieldOf(fieldName);
            if (field.Codes is not { } codes)
            {
                continue;
            }

            var header = WorksheetLayout.FieldHeader(field, _language);
            SetDisplay(sheet.Cell(1, column), header);
            SetDisplay(sheet.Cell(1, column + 1), Format("CodesCodeHeader", header));
            for (var i = 0; i < codes.Entries.Count; i++)
            {
                var entry = codes.Entries[i];
                SetDisplay(sheet.Cell(2 + i, column), _language == WorksheetLanguage.English ? entry.NameEn : entry.NameZh);
                SetDisplay(sheet.Cell(2 + i, column + 1), entry.Code);
            }

            _listFormulas[fieldName] = Reference(name, column, 2, 1 + codes.Entries.Count);
            blocks.Add(sheet.Range(1, column, 1 + codes.Entries.Count, column + 1));
            sheet.Column(column).Width = Math.Max(16, DisplayWidth(header) + 2);
            sheet.Column(column + 1).Width = Math.Max(10, DisplayWidth(header) + 6);
            column += 3;
        }

        var lastColumn = Math.Max(2, column - 2);
        foreach (var block in blocks)
        {
            block.Style.NumberFormat.Format = TextFormat;
            block.Style.Alignment.Vertical = XLAlignmentVerticalValues.Top;
        }

        StyleHeader(sheet.Range(1, 1, 1, lastColumn));
        sheet.SheetView.FreezeRows(1);
        sheet.Protect()
            .AllowElement(XLSheetProtectionElements.FormatColumns)
            .AllowElement(XLSheetProtectionElements.Sort)
            .AllowElement(XLSheetProtectionElements.AutoFilter);
    }

    private void WriteProblems(IXLWorksheet sheet)
    {
        var lastColumn = _columns.Count;
        var firstRow = WorksheetLayout.FirstDataRow;
        var lastRow = firstRow + _rows.Count - 1;
        // Text format and alignment on whole columns: the cells written next take them from there, which costs
        // ClosedXML 0.95 a fraction of styling each cell afterwards (measured), and a value typed below the rows is
        // text too. Locks and fills stay on the rows written, so nothing outside them is editable.
        foreach (var column in _columns)
        {
            var columnStyle = sheet.Column(column.Number).Style;
            columnStyle.NumberFormat.Format = TextFormat;
            columnStyle.Alignment.Vertical = XLAlignmentVerticalValues.Top;
            if (column.Kind is WorksheetColumnKind.Problems or WorksheetColumnKind.Explanation)
            {
                columnStyle.Alignment.WrapText = true;
            }

            sheet.Column(column.Number).Width = Width(column);
            SetDisplay(sheet.Cell(WorksheetLayout.HeaderRow, column.Number), column.Header);
        }

        StyleHeader(sheet.Range(WorksheetLayout.HeaderRow, 1, WorksheetLayout.HeaderRow, lastColumn));
        sheet.Row(WorksheetLayout.HeaderRow).Height = 32;

        if (_rows.Count > 0)
        {
            foreach (var column in _columns)
            {
                var style = sheet.Range(firstRow, column.Number, lastRow, column.Number).Style;
                if (column.Editable)
                {
                    style.Protection.Locked = false;
                }
                else
                {
                    style.Fill.BackgroundColor = LockedFill;
                }
            }
        }

        for (var i = 0; i < _rows.Count; i++)
        {
            WriteRow(sheet, firstRow + i, _rows[i]);
        }

        sheet.SheetView.Freeze(WorksheetLayout.HeaderRow, _columns.Count(c => c.Kind is WorksheetColumnKind.RowKey or WorksheetColumnKind.Identity));
        sheet.Range(WorksheetLayout.HeaderRow, 1, Math.Max(lastRow, WorksheetLayout.HeaderRow), lastColumn).SetAutoFilter();
        if (_rows.Count > 0)
        {
            AddValidations(sheet, firstRow, lastRow);
        }

        FitToPageWidth(sheet);
        sheet.PageSetup.SetRowsToRepeatAtTop(WorksheetLayout.HeaderRow, WorksheetLayout.HeaderRow);

        // Filtering works on the protected sheet. Sorting is allowed too, but Excel refuses to sort a range that holds
        // locked cells on a protected sheet whatever this says, and the key columns are locked: the rows come sorted.
        sheet.Protect()
            .AllowElement(XLSheetProtectionElements.Sort)
            .AllowElement(XLSheetProtectionElements.AutoFilter)
            .AllowElement(XLSheetProtectionElements.FormatColumns)
            .AllowElement(XLSheetProtectionElements.FormatRows);
    }

    private void WriteRow(IXLWorksheet sheet, int excelRow, WorksheetRow row)
    {
        var flagged = row.Problems
            .Where(p => p.Field is not null)
            .GroupBy(p => p.Field!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Order(ProblemOrder.Instance).ToArray(), StringComparer.Ordinal);
        var summaryLines = row.Problems.Order(ProblemOrder.Instance).Select(SummaryLine).ToArray();
        foreach (var column in _columns)
        {
            var cell = sheet.Cell(excelRow, column.Number);
            switch (column.Kind)
            {
                case WorksheetColumnKind.RowKey:
                    SetExact(cell, row.RowKey);
                    break;
                case WorksheetColumnKind.Identity:
                    SetExact(cell, column.FieldName switch
                    {
                        "student_no" => row.StudentNo,
                        "grade" => row.Grade,
                        "class_name" => row.ClassName,
                        _ => row.Name,
                    });
                    break;
                case WorksheetColumnKind.Problems:
                    SetDisplay(cell, string.Join('\n', summaryLines));
                    break;
                case WorksheetColumnKind.Field:
                    SetExact(cell, row.Values.GetValueOrDefault(column.FieldName!));
                    if (flagged.TryGetValue(column.FieldName!, out var problems))
                    {
                        Flag(cell, problems);
                    }

                    break;
                case WorksheetColumnKind.Action:
                case WorksheetColumnKind.Explanation:
                default:
                    break;
            }
        }

        var lines = summaryLines.Sum(l => Math.Max(1, (DisplayWidth(l) + SummaryWidth - 3) / (SummaryWidth - 2)));
        if (lines > 1)
        {
            sheet.Row(excelRow).Height = Math.Min(409, (lines * LineHeight) + 3);
        }
    }

    private void Flag(IXLCell cell, IReadOnlyList<WorksheetProblem> problems)
    {
        cell.Style.Fill.BackgroundColor = FlaggedFill;
        cell.Style.Font.FontColor = FlaggedFont;
        var note = new StringBuilder();
        foreach (var problem in problems)
        {
            if (note.Length > 0)
            {
                note.Append("\n\n");
            }

            note.Append(Format("NoteHeading", Severity(problem.Severity), problem.RuleId, Title(problem)));
            note.Append('\n').Append(Format("NoteFix", Fix(problem)));
            if (!string.IsNullOrWhiteSpace(problem.Detail))
            {
                note.Append('\n').Append(Format("NoteDetail", problem.Detail));
            }

            // A note cannot hold a hyperlink: the address as text, on a line of its own, for the registrar to copy.
            if (_ruleHelp is not null)
            {
                note.Append('\n').Append(Format("NoteHelp", _ruleHelp.UrlOf(problem.RuleId)));
            }
        }

        var text = Clip(NormaliseLineBreaks(note.ToString()));
        var comment = cell.Comment;
        comment.Author = _author;
        comment.AddText(text);
        // A note's box does not grow with its text in every spreadsheet: size it by hand, 40 characters wide.
        var lines = text.Split('\n').Sum(l => Math.Max(1, (DisplayWidth(l) + 63) / 64));
        comment.Style.Size.SetWidth(40).Size.SetHeight(Math.Min(400, (lines * 12) + 8));
    }

    private void AddValidations(IXLWorksheet sheet, int firstRow, int lastRow)
    {
        foreach (var column in _columns)
        {
            var range = sheet.Range(firstRow, column.Number, lastRow, column.Number);
            switch (column.Kind)
            {
                case WorksheetColumnKind.Action:
                {
                    var validation = range.SetDataValidation();
                    validation.List(_actionListFormula, true);
                    validation.IgnoreBlanks = true;
                    validation.ErrorStyle = XLErrorStyle.Stop;
                    validation.ShowErrorMessage = true;
                    validation.ErrorTitle = Text("ActionErrorTitle");
                    validation.ErrorMessage = Text("ActionError");
                    validation.ShowInputMessage = true;
                    validation.InputTitle = Text("ActionPromptTitle");
                    validation.InputMessage = Text("ActionPrompt");
                    break;
                }

                case WorksheetColumnKind.Field when _listFormulas.TryGetValue(column.FieldName!, out var formula):
                {
                    // A warning, not a stop: a code typed by hand (1 for 男) is a right answer too.
                    var validation = range.SetDataValidation();
                    validation.List(formula, true);
                    validation.IgnoreBlanks = true;
                    validation.ErrorStyle = XLErrorStyle.Warning;
                    validation.ShowErrorMessage = true;
                    validation.ErrorTitle = Text("CodeErrorTitle");
                    validation.ErrorMessage = Text("CodeError");
                    break;
                }

                default:
                    break;
            }
        }
    }

    private void WriteMeta(IXLWorksheet sheet, string problemsName)
    {
        var row = 1;
        void Record(string kind, string a, string b, string? c = null)
        {
            SetExact(sheet.Cell(row, 1), kind);
            SetExact(sheet.Cell(row, 2), a);
            SetExact(sheet.Cell(row, 3), b);
            SetDisplay(sheet.Cell(row, 4), c);
            row++;
        }

        void Property(string name, string value) => Record(WorksheetMeta.MetaRecord, name, value);

        var d = _document;
        Property(WorksheetMeta.Properties.Format, WorksheetMeta.Format);
        Property(WorksheetMeta.Properties.WorksheetId, d.WorksheetId.ToString("D"));
        Property(WorksheetMeta.Properties.RoundId, d.RoundId.ToString(CultureInfo.InvariantCulture));
        Property(WorksheetMeta.Properties.RoundCode, d.RoundCode);
        Property(WorksheetMeta.Properties.SchoolCode, d.SchoolCode);
        Property(WorksheetMeta.Properties.IssueNumber, d.IssueNumber.ToString(CultureInfo.InvariantCulture));
        Property(WorksheetMeta.Properties.Deadline, d.Deadline.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Property(WorksheetMeta.Properties.TemplateVersion, d.TemplateVersion.ToString(CultureInfo.InvariantCulture));
        Property(WorksheetMeta.Properties.KeyId, d.KeyId);
        Property(WorksheetMeta.Properties.GeneratedAt, d.GeneratedAt.ToString("O", CultureInfo.InvariantCulture));
        Property(WorksheetMeta.Properties.Language, _language.Tag());
        Property(WorksheetMeta.Properties.ProblemsSheet, problemsName);
        Property(WorksheetMeta.Properties.RowCount, _rows.Count.ToString(CultureInfo.InvariantCulture));
        if (d.Practice)
        {
            Property(WorksheetMeta.Properties.Practice, "yes");
        }
        foreach (var column in _columns)
        {
            Record(WorksheetMeta.ColumnRecord, column.Number.ToString(CultureInfo.InvariantCulture), column.Marker, column.Header);
        }

        for (var i = 0; i < _rows.Count; i++)
        {
            var excelRow = WorksheetLayout.FirstDataRow + i;
            Record(WorksheetMeta.RowRecord, excelRow.ToString(CultureInfo.InvariantCulture), _rows[i].RowKey, _rows[i].Signature);
        }

        sheet.Range(1, 1, Math.Max(1, row - 1), 4).Style.NumberFormat.Format = TextFormat;
        sheet.Protect();
    }

    private string SummaryLine(WorksheetProblem problem)
    {
        var title = Title(problem);
        if (problem.Field is null)
        {
            return Format("ProblemLine", Severity(problem.Severity), problem.RuleId, title);
        }

        var index = Layouts.Student.Fields.Select((f, i) => (f, i)).FirstOrDefault(x => x.f.Name == problem.Field);
        var fieldHeader = index.f is { } field ? WorksheetLayout.FieldHeader(field, _language) : problem.Field;
        return Format("ProblemLineField", Severity(problem.Severity), problem.RuleId, fieldHeader, title);
    }

    private string Severity(ProblemSeverity severity) =>
        Text(severity == ProblemSeverity.Error ? "SeverityError" : "SeverityWarning");

    /// <summary>The instructions' title line (and the document's title): "练习 / Practice · …" in a practice database.</summary>
    private string TitleLine() => _document.Practice
        ? StudentDataQuality.Exports.Watermark.PracticeLabel + " · " + Format("InstructionsTitle", _document.SchoolName)
        : Format("InstructionsTitle", _document.SchoolName);

    private string Title(WorksheetProblem problem) => _language == WorksheetLanguage.English ? problem.TitleEn : problem.TitleZh;

    private string Fix(WorksheetProblem problem) => _language == WorksheetLanguage.English ? problem.FixEn : problem.FixZh;

    private string Text(string key) => WorksheetText.Get(key, _language);

    private string Format(string key, params object?[] args) => WorksheetText.Format(key, _language, args);

    /// <summary>An issued value: written exactly (a CR through the sentinel, see <see cref="CarriageReturns"/>).</summary>
    private void SetExact(IXLCell cell, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        var written = _sentinel is { } sentinel ? text.Replace('\r', sentinel) : text;
        TextCell.Set(cell, written, FormulaText.LooksLikeFormula(text));
    }

    /// <summary>A text for people: line breaks as LF, clipped to what a cell holds.</summary>
    private static void SetDisplay(IXLCell cell, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        var written = Clip(NormaliseLineBreaks(text));
        TextCell.Set(cell, written);
    }

    internal static string NormaliseLineBreaks(string text) =>
        text.Contains('\r', StringComparison.Ordinal) ? text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n') : text;

    internal static string Clip(string text) => text.Length <= WorkbookWriter.MaxCellText ? text : text[..WorkbookWriter.MaxCellText];

    /// <summary>Registrars print: landscape, as many pages down as needed but one page wide.</summary>
    internal static void FitToPageWidth(IXLWorksheet sheet)
    {
        sheet.PageSetup.PageOrientation = XLPageOrientation.Landscape;
        sheet.PageSetup.PaperSize = XLPaperSize.A4Paper;
        sheet.PageSetup.FitToPages(1, 0);
    }

    internal static void StyleHeader(IXLRange range)
    {
        var style = range.Style;
        style.NumberFormat.Format = TextFormat;
        style.Font.Bold = true;
        style.Fill.BackgroundColor = HeaderFill;
        style.Alignment.WrapText = true;
        style.Alignment.Vertical = XLAlignmentVerticalValues.Center;
        style.Border.OutsideBorder = XLBorderStyleValues.Thin;
        style.Border.InsideBorder = XLBorderStyleValues.Thin;
        style.Border.OutsideBorderColor = BorderColor;
        style.Border.InsideBorderColor = BorderColor;
    }

    /// <summary>A column's width in characters, set by hand from its kind (never measured from the content).</summary>
    private static double Width(WorksheetColumn column)
    {
        var byKind = column.Kind switch
        {
            WorksheetColumnKind.RowKey => 12,
            WorksheetColumnKind.Problems => SummaryWidth,
            WorksheetColumnKind.Action => 14,
            WorksheetColumnKind.Explanation => 30,
            _ => WorksheetLayout.FieldOf(column.FieldName!) switch
            {
                { Kind: FieldKind.Identifier } => 22,
                { Kind: FieldKind.Text, MaxLength: > 50 } => 36,
                { Kind: FieldKind.Text } => 12,
                { Kind: FieldKind.Code, Codes.Entries.Count: > 20 } => 14,
                { Kind: FieldKind.Phone } => 16,
                _ => 11,
            },
        };
        return Math.Max(byKind, Math.Min(30, DisplayWidth(column.Header) + 2));
    }

    private static double Height(string text, int width)
    {
        var lines = NormaliseLineBreaks(text).Split('\n').Sum(l => Math.Max(1, (DisplayWidth(l) + width - 3) / (width - 2)));
        return Math.Min(409, (lines * LineHeight) + 3);
    }

    /// <summary>Columns a text takes: two for East Asian wide characters, one for the rest.</summary>
    private static int DisplayWidth(string text)
    {
        var width = 0;
        foreach (var c in text)
        {
            width += c >= '\u2E80' && !char.IsLowSurrogate(c) ? 2 : 1;
        }

        return width;
    }

    private static string Reference(string sheet, int column, int firstRow, int lastRow)
    {
        var letter = XLHelper.GetColumnLetterFromNumber(column);
        return $"'{sheet.Replace("'", "''", StringComparison.Ordinal)}'!${letter}${firstRow}:${letter}${lastRow}";
    }

    /// <summary>Grade (as a number when it reads as one), class (digits by value), name (pinyin order), then key.</summary>
    private sealed class RowOrder : IComparer<WorksheetRow>
    {
        public static readonly RowOrder Instance = new();

        public int Compare(WorksheetRow? x, WorksheetRow? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            if (x is null || y is null)
            {
                return x is null ? -1 : 1;
            }

            var gx = x.Grade is null ? null : FieldParser.ParseGrade(x.Grade);
            var gy = y.Grade is null ? null : FieldParser.ParseGrade(y.Grade);
            var c = (gx ?? int.MaxValue).CompareTo(gy ?? int.MaxValue);
            if (c == 0)
            {
                c = string.CompareOrdinal(x.Grade, y.Grade);
            }

            if (c == 0)
            {
                c = Natural(x.ClassName, y.ClassName);
            }

            if (c == 0)
            {
                c = ChineseCollation.Compare(x.Name, y.Name, CompareOptions.None);
            }

            return c != 0 ? c : string.CompareOrdinal(x.RowKey, y.RowKey);
        }

        private static int Natural(string? x, string? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : 1) : -1;
            }

            var a = TextNormalizer.FoldFullWidth(x);
            var b = TextNormalizer.FoldFullWidth(y);
            int i = 0, j = 0;
            while (i < a.Length && j < b.Length)
            {
                if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
                {
                    var si = i;
                    var sj = j;
                    while (i < a.Length && char.IsAsciiDigit(a[i]))
                    {
                        i++;
                    }

                    while (j < b.Length && char.IsAsciiDigit(b[j]))
                    {
                        j++;
                    }

                    var na = a.AsSpan(si, i - si).TrimStart('0');
                    var nb = b.AsSpan(sj, j - sj).TrimStart('0');
                    var c = na.Length != nb.Length ? na.Length.CompareTo(nb.Length) : na.SequenceCompareTo(nb);
                    if (c != 0)
                    {
                        return c;
                    }
                }
                else
                {
                    var si = i;
                    var sj = j;
                    while (i < a.Length && !char.IsAsciiDigit(a[i]))
                    {
                        i++;
                    }

                    while (j < b.Length && !char.IsAsciiDigit(b[j]))
                    {
                        j++;
                    }

                    var c = ChineseCollation.Compare(a, si, i - si, b, sj, j - sj, CompareOptions.None);
                    if (c != 0)
                    {
                        return c;
                    }
                }
            }

            return (a.Length - i).CompareTo(b.Length - j) is var rest and not 0 ? rest : string.CompareOrdinal(x, y);
        }
    }

    /// <summary>Errors before warnings, then by rule id and field.</summary>
    private sealed class ProblemOrder : IComparer<WorksheetProblem>
    {
        public static readonly ProblemOrder Instance = new();

        public int Compare(WorksheetProblem? x, WorksheetProblem? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : -1) : 1;
            }

            var c = x.Severity.CompareTo(y.Severity);
            if (c == 0)
            {
                c = string.CompareOrdinal(x.RuleId, y.RuleId);
            }

            if (c == 0)
            {
                c = string.CompareOrdinal(x.Field, y.Field);
            }

            return c != 0 ? c : x.FindingId.CompareTo(y.FindingId);
        }
    }
}
