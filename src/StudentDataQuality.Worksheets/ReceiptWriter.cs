using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ClosedXML.Excel;
using StudentDataQuality.Records;
using StudentDataQuality.Text;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Writes the receipt of a returned worksheet as an .xlsx (docs/worksheets.md): a summary (first and active) with the totals,
/// what to do next and the reasons for rows not taken grouped by kind; one line per row of the returned file; and what
/// remains open. Every value is a text cell with the text format; none is ever a formula.
/// </summary>
public static partial class ReceiptWriter
{
    /// <summary>
    /// Writes the receipt, in <see cref="Receipt.Language"/>, to <paramref name="output"/> (left open). With
    /// <paramref name="ruleHelp"/>, every row that still fails a check, and every problem still open, links to its rules' pages.
    /// </summary>
    /// <param name="practice">Written in a practice database (the export's <c>Watermark.Practice</c>): the title line says "练习 / Practice".</param>
    public static void Write(Receipt receipt, Stream output, RuleHelp? ruleHelp = null, bool practice = false)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentNullException.ThrowIfNull(output);
        Validate(receipt);
        new ReceiptBuilder(receipt, ruleHelp, practice).Save(output);
    }

    /// <summary>
    /// <c>&lt;round&gt;_&lt;school code&gt;_&lt;school name&gt;_回执_&lt;return id&gt;.xlsx</c> (<c>_receipt_</c> in English),
    /// each part made safe by <see cref="WorkbookWriter.FileNamePart"/> as the worksheet's own name is.
    /// </summary>
    public static string FileName(Receipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        var round = WorkbookWriter.FileNamePart(receipt.RoundCode, 40);
        var school = WorkbookWriter.FileNamePart(receipt.SchoolCode, 20);
        var name = WorkbookWriter.FileNamePart(receipt.SchoolName, 60);
        var word = WorkbookWriter.FileNamePart(ReceiptText.Get("FileNameWord", receipt.Language), 20);
        var id = receipt.ReturnId.ToString(CultureInfo.InvariantCulture);
        return name.Length == 0 ? $"{round}_{school}_{word}_{id}.xlsx" : $"{round}_{school}_{name}_{word}_{id}.xlsx";
    }

    /// <summary>
    /// The reasons of the rows not taken (rejected or not imported), grouped by outcome and kind: by the reason's code
    /// where <see cref="ReceiptRow.ReasonCodes"/> gives one, else by its text with every run of digits made alike (so
    /// "row 7" and "row 12" are one kind). A row counts once per kind; a row with no reason counts under
    /// <paramref name="noReason"/>. Rejected before not imported, then the most rows first, then as first met.
    /// </summary>
    internal static IReadOnlyList<ReasonGroup> GroupReasons(IEnumerable<ReceiptRow> rows, string noReason)
    {
        var groups = new List<ReasonGroup>();
        var index = new Dictionary<(ReceiptOutcome, string), int>();
        void Add(ReceiptRow row, string kind, string example)
        {
            if (!index.TryGetValue((row.Outcome, kind), out var i))
            {
                i = groups.Count;
                index[(row.Outcome, kind)] = i;
                groups.Add(new ReasonGroup(row.Outcome, example, []));
            }

            groups[i].ExcelRows.Add(row.ExcelRow);
        }

        foreach (var row in rows.Where(r => r.Outcome is ReceiptOutcome.Rejected or ReceiptOutcome.NotImported))
        {
            if (row.Reasons.Count == 0)
            {
                Add(row, "", noReason);
                continue;
            }

            var kinds = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < row.Reasons.Count; i++)
            {
                var reason = row.Reasons[i] ?? "";
                var code = i < row.ReasonCodes.Count ? row.ReasonCodes[i] : null;
                var kind = string.IsNullOrWhiteSpace(code) ? "text:" + Digits().Replace(reason.Trim(), "#") : "code:" + code;
                if (kinds.Add(kind))
                {
                    Add(row, kind, reason.Length == 0 ? noReason : reason);
                }
            }
        }

        return [.. groups.Select((g, i) => (g, i)).OrderBy(x => x.g.Outcome).ThenByDescending(x => x.g.Count).ThenBy(x => x.i).Select(x => x.g)];
    }

    /// <summary>Excel row numbers, ascending, with runs of three or more written as a range: "3–5, 9, 12".</summary>
    internal static string RowList(IEnumerable<int> rows)
    {
        var sorted = rows.Distinct().Order().ToArray();
        var builder = new StringBuilder();
        for (var i = 0; i < sorted.Length;)
        {
            var j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }

            void Append(int n) =>
                builder.Append(builder.Length == 0 ? "" : ", ").Append(n.ToString(CultureInfo.InvariantCulture));

            if (j - i >= 2)
            {
                Append(sorted[i]);
                builder.Append('–').Append(sorted[j].ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                for (var k = i; k <= j; k++)
                {
                    Append(sorted[k]);
                }
            }

            i = j + 1;
        }

        return builder.ToString();
    }

    private static void Validate(Receipt receipt)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(receipt.RoundCode, "receipt.RoundCode");
        ArgumentException.ThrowIfNullOrWhiteSpace(receipt.SchoolCode, "receipt.SchoolCode");
        ArgumentNullException.ThrowIfNull(receipt.SchoolName, "receipt.SchoolName");
        ArgumentNullException.ThrowIfNull(receipt.FileName, "receipt.FileName");
        ArgumentNullException.ThrowIfNull(receipt.Sha256, "receipt.Sha256");
        ArgumentNullException.ThrowIfNull(receipt.ReceivedBy, "receipt.ReceivedBy");
        ArgumentNullException.ThrowIfNull(receipt.Rows, "receipt.Rows");
        ArgumentNullException.ThrowIfNull(receipt.StillOpen, "receipt.StillOpen");
        // An undefined language or outcome throws here, before anything is written, rather than half way through.
        _ = receipt.Language.Culture();
        foreach (var row in receipt.Rows)
        {
            ArgumentNullException.ThrowIfNull(row, "receipt.Rows[]");
            if (row.ExcelRow < 1)
            {
                throw new ArgumentException($"A receipt row has the Excel row {row.ExcelRow}; Excel numbers rows from 1.", nameof(receipt));
            }

            _ = row.Outcome.Label(receipt.Language);
            ArgumentNullException.ThrowIfNull(row.Changes, "ReceiptRow.Changes");
            ArgumentNullException.ThrowIfNull(row.Reasons, "ReceiptRow.Reasons");
            ArgumentNullException.ThrowIfNull(row.StillFailing, "ReceiptRow.StillFailing");
            ArgumentNullException.ThrowIfNull(row.ReasonCodes, "ReceiptRow.ReasonCodes");
            if (row.Changes.Any(c => c is null) || row.StillFailing.Any(p => p is null))
            {
                throw new ArgumentException($"The receipt row of Excel row {row.ExcelRow} holds a null change or problem.", nameof(receipt));
            }
        }

        if (receipt.StillOpen.Any(o => o?.Problem is null))
        {
            throw new ArgumentException("The receipt's still-open list holds a null entry or an entry without its problem.", nameof(receipt));
        }
    }

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();
}

/// <summary>Rows not taken for one kind of reason: the outcome, the first row's reason as the example, the rows.</summary>
internal sealed record ReasonGroup(ReceiptOutcome Outcome, string Example, List<int> ExcelRows)
{
    public int Count => ExcelRows.Count;
}

/// <summary>Builds one receipt workbook with ClosedXML. Used once, by <see cref="ReceiptWriter.Write"/>.</summary>
internal sealed class ReceiptBuilder
{
    // Excel's own "Good", "Neutral" and "Bad" cell styles, the worksheet's grey for what is left as it was.
    private static readonly (XLColor Fill, XLColor Font) Good = (XLColor.FromArgb(0xC6, 0xEF, 0xCE), XLColor.FromArgb(0x00, 0x61, 0x00));
    private static readonly (XLColor Fill, XLColor Font) Neutral = (XLColor.FromArgb(0xFF, 0xEB, 0x9C), XLColor.FromArgb(0x9C, 0x57, 0x00));
    private static readonly (XLColor Fill, XLColor Font) Bad = (XLColor.FromArgb(0xFF, 0xC7, 0xCE), XLColor.FromArgb(0x9C, 0x00, 0x06));
    private static readonly (XLColor Fill, XLColor Font) Grey = (XLColor.FromArgb(0xD9, 0xD9, 0xD9), XLColor.FromArgb(0x00, 0x00, 0x00));

    private const string TextFormat = "@";
    private const double LineHeight = 15;
    private const int LabelWidth = 32;
    private const int TextWidth = 72;
    private const int CountWidth = 10;
    private const int RowListWidth = 28;

    private readonly Receipt _receipt;
    private readonly WorksheetLanguage _language;
    private readonly IReadOnlyList<ReceiptRow> _rows;
    private readonly char? _sentinel;
    private readonly RuleHelp? _ruleHelp;

    private readonly bool _practice;

    public ReceiptBuilder(Receipt receipt, RuleHelp? ruleHelp = null, bool practice = false)
    {
        _receipt = receipt;
        _ruleHelp = ruleHelp;
        _practice = practice;
        _language = receipt.Language;
        // Stable: a missing row reported at the Excel row where it was issued stays after the row now there.
        _rows = [.. receipt.Rows.OrderBy(r => r.ExcelRow)];
        _sentinel = CarriageReturns.ChooseSentinel(ExactTexts());
    }

    public void Save(Stream output)
    {
        using var workbook = new XLWorkbook();
        Build(workbook);
        CarriageReturns.Save(workbook, output, _sentinel);
    }

    /// <summary>The texts written exactly as received: identities, values, the file's name and the uploader.</summary>
    private IEnumerable<string?> ExactTexts()
    {
        yield return _receipt.RoundCode;
        yield return _receipt.FileName;
        yield return _receipt.Sha256;
        yield return _receipt.ReceivedBy;
        foreach (var row in _receipt.Rows)
        {
            yield return row.RowKey;
            yield return row.StudentNo;
            yield return row.Name;
        }

        foreach (var open in _receipt.StillOpen)
        {
            yield return open.StudentNo;
            yield return open.Name;
            yield return open.Problem.Value;
        }
    }

    private void Build(XLWorkbook workbook)
    {
        var (summaryName, rowsName, openName) = ReceiptText.SheetNames(_language);
        var summary = workbook.AddWorksheet(summaryName);
        var rows = workbook.AddWorksheet(rowsName);
        var open = workbook.AddWorksheet(openName);

        WriteRows(rows);
        WriteStillOpen(open);
        WriteSummary(summary, rowsName, openName);

        summary.SetTabActive().SetTabSelected();
        var author = Text("Author");
        workbook.Author = author;
        workbook.Properties.Author = author;
        workbook.Properties.Title = TitleLine();
        workbook.Properties.Created = _receipt.ReceivedAt.UtcDateTime;
        workbook.Properties.Modified = _receipt.ReceivedAt.UtcDateTime;
    }

    /// <summary>The summary's title line (and the document's title): "练习 / Practice · …" in a practice database.</summary>
    private string TitleLine() => _practice
        ? StudentDataQuality.Exports.Watermark.PracticeLabel + " · " + Format("Title", _receipt.SchoolName)
        : Format("Title", _receipt.SchoolName);

    private void WriteSummary(IXLWorksheet sheet, string rowsName, string openName)
    {
        sheet.Column(1).Width = LabelWidth;
        sheet.Column(2).Width = TextWidth;
        sheet.Column(3).Width = CountWidth;
        sheet.Column(4).Width = RowListWidth;
        var r = _receipt;
        var row = 1;
        var title = sheet.Cell(row, 1);
        SetDisplay(title, TitleLine());
        title.Style.Font.Bold = true;
        title.Style.Font.FontSize = 14;
        if (_practice)
        {
            title.Style.Font.FontColor = XLColor.FromArgb(0xC0, 0x00, 0x00);
        }
        row += 2;

        void Line(string label, string value, bool exact = false)
        {
            SetDisplay(sheet.Cell(row, 1), label);
            if (exact)
            {
                SetExact(sheet.Cell(row, 2), value);
            }
            else
            {
                SetDisplay(sheet.Cell(row, 2), value);
            }

            sheet.Cell(row, 1).Style.Font.Bold = true;
            sheet.Row(row).Height = Height(value, TextWidth);
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

        void TableHeader(params string[] headers)
        {
            for (var i = 0; i < headers.Length; i++)
            {
                SetDisplay(sheet.Cell(row, i + 1), headers[i]);
            }

            WorkbookBuilder.StyleHeader(sheet.Range(row, 1, row, headers.Length));
            row++;
        }

        Line(Text("LabelSchool"), Format("SchoolValue", r.SchoolName, r.SchoolCode));
        Line(Text("LabelRound"), r.RoundCode, exact: true);
        Line(Text("LabelIssue"), Format("IssueValue", r.IssueNumber));
        Line(Text("LabelFile"), r.FileName, exact: true);
        Line(Text("LabelSha256"), r.Sha256, exact: true);
        Line(Text("LabelReceivedAt"), ReceivedAt(r.ReceivedAt));
        Line(Text("LabelReceivedBy"), r.ReceivedBy, exact: true);
        Line(Text("LabelReturnId"), Number(r.ReturnId));

        Heading("OutcomesTitle");
        TableHeader(Text("HeaderOutcome"), Text("HeaderMeaning"), Text("HeaderCount"));
        foreach (var outcome in ReceiptText.Outcomes)
        {
            var label = sheet.Cell(row, 1);
            SetDisplay(label, outcome.Label(_language));
            Colour(label, outcome);
            var meaning = outcome.Meaning(_language);
            SetDisplay(sheet.Cell(row, 2), meaning);
            SetDisplay(sheet.Cell(row, 3), Number(_rows.Count(x => x.Outcome == outcome)));
            sheet.Row(row).Height = Height(meaning, TextWidth);
            row++;
        }

        SetDisplay(sheet.Cell(row, 1), Text("TotalLabel"));
        SetDisplay(sheet.Cell(row, 3), Number(_rows.Count));
        sheet.Range(row, 1, row, 3).Style.Font.Bold = true;
        row++;

        var openErrors = r.StillOpen.Count(o => !o.AwaitingReview && o.Problem.Severity == ProblemSeverity.Error);
        var openWarnings = r.StillOpen.Count(o => !o.AwaitingReview && o.Problem.Severity == ProblemSeverity.Warning);
        var awaiting = r.StillOpen.Count(o => o.AwaitingReview);
        Heading("OpenTitle");
        Line(Text("LabelOpenErrors"), Number(openErrors));
        Line(Text("LabelOpenWarnings"), Number(openWarnings));
        Line(Text("LabelAwaitingReview"), Number(awaiting));

        Heading("NextTitle");
        var notTaken = _rows.Count(x => x.Outcome is ReceiptOutcome.Rejected or ReceiptOutcome.NotImported);
        var steps = new List<string>();
        if (notTaken > 0)
        {
            steps.Add(Format("NextRejected", notTaken, rowsName));
        }

        if (openErrors + openWarnings > 0)
        {
            steps.Add(Format("NextOpen", openErrors, openWarnings, openName));
        }

        if (awaiting > 0)
        {
            steps.Add(Format("NextAwaiting", awaiting));
        }

        if (steps.Count == 0)
        {
            steps.Add(Text("NextDone"));
        }

        steps.Add(Format("NextKeep", Number(r.ReturnId)));
        for (var i = 0; i < steps.Count; i++)
        {
            Line(Number(i + 1), steps[i]);
        }

        Heading("GroupsTitle");
        var groups = ReceiptWriter.GroupReasons(_rows, Text("NoReason"));
        if (groups.Count == 0)
        {
            SetDisplay(sheet.Cell(row, 1), Text("GroupsNone"));
            row++;
        }
        else
        {
            TableHeader(Text("HeaderOutcome"), Text("HeaderReason"), Text("HeaderCount"), Text("HeaderRowNumbers"));
            foreach (var group in groups)
            {
                var label = sheet.Cell(row, 1);
                SetDisplay(label, group.Outcome.Label(_language));
                Colour(label, group.Outcome);
                SetDisplay(sheet.Cell(row, 2), group.Example);
                SetDisplay(sheet.Cell(row, 3), Number(group.Count));
                var list = ReceiptWriter.RowList(group.ExcelRows);
                SetDisplay(sheet.Cell(row, 4), list);
                sheet.Row(row).Height = Math.Max(Height(group.Example, TextWidth), Height(list, RowListWidth));
                row++;
            }
        }

        var used = sheet.Range(1, 1, row, 4).Style;
        used.NumberFormat.Format = TextFormat;
        used.Alignment.Vertical = XLAlignmentVerticalValues.Top;
        sheet.Range(3, 2, row, 2).Style.Alignment.WrapText = true;
        sheet.Range(3, 4, row, 4).Style.Alignment.WrapText = true;
        WorkbookBuilder.FitToPageWidth(sheet);
        sheet.Protect().AllowElement(XLSheetProtectionElements.FormatColumns).AllowElement(XLSheetProtectionElements.FormatRows);
    }

    private void WriteRows(IXLWorksheet sheet)
    {
        (string Header, int Width, bool Wrap)[] columns =
        [
            (Text("HeaderExcelRow"), 8, false),
            (Text("HeaderRowKey"), 12, false),
            (Text("HeaderStudentNo"), 22, false),
            (Text("HeaderName"), 12, false),
            (Text("HeaderOutcome"), 18, false),
            (Text("HeaderChanges"), 44, true),
            (Text("HeaderReasons"), 60, true),
            (Text("HeaderStillFailing"), 44, true),
            .. HelpColumn(),
        ];
        WriteHeader(sheet, columns);

        for (var i = 0; i < _rows.Count; i++)
        {
            var excelRow = i + 2;
            var row = _rows[i];
            SetDisplay(sheet.Cell(excelRow, 1), Number(row.ExcelRow));
            SetExact(sheet.Cell(excelRow, 2), row.RowKey);
            SetExact(sheet.Cell(excelRow, 3), row.StudentNo);
            SetExact(sheet.Cell(excelRow, 4), row.Name);
            var outcome = sheet.Cell(excelRow, 5);
            SetDisplay(outcome, row.Outcome.Label(_language));
            Colour(outcome, row.Outcome);
            var changes = string.Join('\n', row.Changes.Select(ChangeLine));
            var reasons = string.Join('\n', row.Reasons.Select(WorkbookBuilder.NormaliseLineBreaks));
            var failing = string.Join('\n', row.StillFailing.Select(ProblemLine));
            SetDisplay(sheet.Cell(excelRow, 6), changes);
            SetDisplay(sheet.Cell(excelRow, 7), reasons);
            SetDisplay(sheet.Cell(excelRow, 8), failing);
            LinkRules(sheet.Cell(excelRow, 9), row.StillFailing.Select(p => p.RuleId));
            var height = Math.Max(Height(changes, columns[5].Width), Math.Max(Height(reasons, columns[6].Width), Height(failing, columns[7].Width)));
            if (height > LineHeight + 3)
            {
                sheet.Row(excelRow).Height = height;
            }
        }

        FinishTable(sheet, columns.Length, _rows.Count, frozenColumns: 4);
    }

    private void WriteStillOpen(IXLWorksheet sheet)
    {
        (string Header, int Width, bool Wrap)[] columns =
        [
            (Text("HeaderStudentNo"), 22, false),
            (Text("HeaderName"), 12, false),
            (Text("HeaderRule"), 8, false),
            (Text("HeaderSeverity"), 8, false),
            (Text("HeaderField"), 16, false),
            (Text("HeaderProblem"), 44, true),
            (Text("HeaderValue"), 24, true),
            (Text("HeaderAwaitingReview"), 12, false),
            .. HelpColumn(),
        ];
        WriteHeader(sheet, columns);

        var open = _receipt.StillOpen;
        for (var i = 0; i < open.Count; i++)
        {
            var excelRow = i + 2;
            var entry = open[i];
            var problem = entry.Problem;
            SetExact(sheet.Cell(excelRow, 1), entry.StudentNo);
            SetExact(sheet.Cell(excelRow, 2), entry.Name);
            SetDisplay(sheet.Cell(excelRow, 3), problem.RuleId);
            SetDisplay(sheet.Cell(excelRow, 4), Severity(problem.Severity));
            SetDisplay(sheet.Cell(excelRow, 5), FieldHeader(problem.Field));
            SetDisplay(sheet.Cell(excelRow, 6), problem.Title);
            SetExact(sheet.Cell(excelRow, 7), problem.Value);
            if (entry.AwaitingReview)
            {
                var flag = sheet.Cell(excelRow, 8);
                SetDisplay(flag, Text("AwaitingReviewYes"));
                Colour(flag, ReceiptOutcome.AwaitingReview);
            }

            LinkRules(sheet.Cell(excelRow, 9), [problem.RuleId]);

            var height = Math.Max(Height(problem.Title ?? "", columns[5].Width), Height(problem.Value ?? "", columns[6].Width));
            if (height > LineHeight + 3)
            {
                sheet.Row(excelRow).Height = height;
            }
        }

        FinishTable(sheet, columns.Length, open.Count, frozenColumns: 2);
    }

    private static void WriteHeader(IXLWorksheet sheet, (string Header, int Width, bool Wrap)[] columns)
    {
        // Text format and alignment on whole columns, as the worksheet does: cheaper than per cell, and a value typed
        // below the rows is text too.
        for (var i = 0; i < columns.Length; i++)
        {
            var column = sheet.Column(i + 1);
            column.Style.NumberFormat.Format = TextFormat;
            column.Style.Alignment.Vertical = XLAlignmentVerticalValues.Top;
            column.Style.Alignment.WrapText = columns[i].Wrap;
            column.Width = Math.Max(columns[i].Width, Math.Min(30, DisplayWidth(columns[i].Header) + 2));
            SetDisplay(sheet.Cell(1, i + 1), columns[i].Header);
        }

        WorkbookBuilder.StyleHeader(sheet.Range(1, 1, 1, columns.Length));
    }

    private static void FinishTable(IXLWorksheet sheet, int columnCount, int rowCount, int frozenColumns)
    {
        sheet.SheetView.Freeze(1, frozenColumns);
        sheet.Range(1, 1, Math.Max(1 + rowCount, 1), columnCount).SetAutoFilter();
        WorkbookBuilder.FitToPageWidth(sheet);
        sheet.PageSetup.SetRowsToRepeatAtTop(1, 1);
        // Convenience, not security: filtering works on the protected sheet; nothing here is for editing.
        sheet.Protect()
            .AllowElement(XLSheetProtectionElements.Sort)
            .AllowElement(XLSheetProtectionElements.AutoFilter)
            .AllowElement(XLSheetProtectionElements.FormatColumns)
            .AllowElement(XLSheetProtectionElements.FormatRows);
    }

    /// <summary>The last column of a table, with the rules' pages: only when the portal's address is known.</summary>
    private (string Header, int Width, bool Wrap)[] HelpColumn() => _ruleHelp is null ? [] : [(Text("HeaderRuleHelp"), 44, true)];

    /// <summary>
    /// The pages of the rules (each once, in order) as text, one address a line, and the first as the cell's hyperlink (a
    /// cell holds one): a click opens it, and every address can be copied.
    /// </summary>
    private void LinkRules(IXLCell cell, IEnumerable<string> ruleIds)
    {
        if (_ruleHelp is null)
        {
            return;
        }

        var urls = ruleIds.Distinct(StringComparer.Ordinal).Select(_ruleHelp.UrlOf).ToList();
        if (urls.Count == 0)
        {
            return;
        }

        SetDisplay(cell, string.Join('\n', urls));
        cell.Hyperlink = new XLHyperlink(new Uri(urls[0], UriKind.Absolute));
        cell.Style.Font.FontColor = XLColor.FromArgb(0x05, 0x63, 0xC1);
        cell.Style.Font.Underline = XLFontUnderlineValues.Single;
    }

    private string ChangeLine(ReceiptChange change)
    {
        var header = string.IsNullOrWhiteSpace(change.ColumnHeader) ? FieldHeader(change.Field) : change.ColumnHeader;
        var empty = Text("EmptyValue");
        return Format("ChangeLine", header,
            string.IsNullOrEmpty(change.OldValue) ? empty : change.OldValue,
            string.IsNullOrEmpty(change.NewValue) ? empty : change.NewValue);
    }

    private string ProblemLine(ReceiptProblem problem) => Format("ProblemLine", Severity(problem.Severity), problem.RuleId, problem.Title);

    /// <summary>A field's header in the receipt's language, or the name itself for a field the layout does not know.</summary>
    private string? FieldHeader(string? field)
    {
        if (string.IsNullOrEmpty(field))
        {
            return field;
        }

        var known = Layouts.Student.Fields.FirstOrDefault(f => string.Equals(f.Name, field, StringComparison.Ordinal));
        return known is null ? field : WorksheetLayout.FieldHeader(known, _language);
    }

    private string Severity(ProblemSeverity severity) => Text(severity == ProblemSeverity.Error ? "SeverityError" : "SeverityWarning");

    private string Text(string key) => ReceiptText.Get(key, _language);

    private string Format(string key, params object?[] args) => ReceiptText.Format(key, _language, args);

    /// <summary>ISO 8601 in the offset the time carries: the server's local time, with the offset that makes it exact.</summary>
    private static string ReceivedAt(DateTimeOffset at) => at.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static void Colour(IXLCell cell, ReceiptOutcome outcome)
    {
        var (fill, font) = outcome switch
        {
            ReceiptOutcome.AppliedClean => Good,
            ReceiptOutcome.AppliedStillFailing or ReceiptOutcome.AwaitingReview => Neutral,
            ReceiptOutcome.Removed or ReceiptOutcome.Unchanged => Grey,
            _ => Bad,
        };
        cell.Style.Fill.BackgroundColor = fill;
        cell.Style.Font.FontColor = font;
    }

    /// <summary>A value as received (an identity, a cell's value): written exactly, a CR through the sentinel.</summary>
    private void SetExact(IXLCell cell, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        var written = _sentinel is { } sentinel ? text.Replace('\r', sentinel) : text;
        TextCell.Set(cell, WorkbookBuilder.Clip(written), FormulaText.LooksLikeFormula(text));
    }

    /// <summary>A text for people: line breaks as LF, clipped to what a cell holds.</summary>
    private static void SetDisplay(IXLCell cell, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        var written = WorkbookBuilder.Clip(WorkbookBuilder.NormaliseLineBreaks(text));
        TextCell.Set(cell, written);
    }

    private static double Height(string text, int width)
    {
        var lines = WorkbookBuilder.NormaliseLineBreaks(text).Split('\n').Sum(l => Math.Max(1, (DisplayWidth(l) + width - 3) / (width - 2)));
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
}
