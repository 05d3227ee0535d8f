using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;
using StudentDataQuality.Reference;
using StudentDataQuality.Text;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Synthetic;

/// <summary>How a simulated registrar treats the problem worksheet of a school.</summary>
public enum RegistrarStyle
{
    /// <summary>Answers every row it has an answer for.</summary>
    Diligent,

    /// <summary>Answers about half of those rows (chosen from the seed); the others stay untouched.</summary>
    Partial,

    /// <summary>Changes nothing and does not send the worksheet back: the workbook returned is the issued one, byte for byte.</summary>
    Leaves,

    /// <summary>Answers every row, and in a few corrected rows also types a value that breaks a rule into another shown field.</summary>
    Sloppy,
}

/// <summary>One cell of a <c>field.&lt;name&gt;</c> column the simulator changed. Values as text, null for an empty cell.</summary>
public sealed record SimulatedEdit(string RowKey, string StudentNo, string Field, string? OldValue, string? NewValue);

/// <summary>The action the simulator chose for a row, and the explanation it typed (null when none).</summary>
public sealed record SimulatedAnswer(string RowKey, string StudentNo, WorksheetAction Action, string? Explanation);

/// <summary>A finding the checks will give once a Sloppy return is applied: the registrar's new mistake (ground-truth shape).</summary>
public sealed record ExpectedNewFinding(string StudentNo, string SchoolCode, string RuleId, string Field);

/// <summary>What the simulated registrar did to a worksheet.</summary>
/// <param name="Workbook">The returned workbook (for <see cref="RegistrarStyle.Leaves"/>, the issued bytes: there is no return).</param>
/// <param name="Edits">Every field cell changed (corrections and new mistakes), in sheet order.</param>
/// <param name="Answers">One per row given an action, in sheet order.</param>
/// <param name="NewMistakes">The findings the Sloppy registrar's new values will produce.</param>
/// <param name="RowsLeft">Row keys of the issued rows left without an action, in sheet order.</param>
public sealed record SimulatedReturn(
    byte[] Workbook,
    IReadOnlyList<SimulatedEdit> Edits,
    IReadOnlyList<SimulatedAnswer> Answers,
    IReadOnlyList<ExpectedNewFinding> NewMistakes,
    IReadOnlyList<string> RowsLeft);

/// <summary>
/// Acts as a school's registrar for demos, tests and benchmarks: fills in an issued problem worksheet with the answers of
/// registrar_answers.csv, the way a spreadsheet program would save it. Edits the package with the Open XML SDK (not
/// ClosedXML, which wrote it, and not the project's writer), so a reader sees a file the writer did not produce.
/// </summary>
/// <remarks>
/// Columns are found by the headers the <c>_meta</c> column records give their markers, rows by the keys its row records
/// list; a row is matched to answers by the student number it shows (school from the <c>school_code</c> property). A
/// <c>correct</c> answer whose field has no column on the sheet cannot be typed: the whole row is then left untouched.
/// When several rows show one student number (S03), a <c>remove</c> answer takes the last of them, and the others get
/// the number's other answers, if any. Every value is typed as an inline string, keeping the cell's style (the text
/// format), and action labels are those of the worksheet's language. Everything follows from the seed and the school.
/// </remarks>
public static partial class RegistrarSimulator
{
    /// <summary>How many corrected rows a Sloppy registrar also puts a new mistake in (fewer when fewer qualify).</summary>
    public const int SloppyMistakeRows = 3;

    private const int HeaderSearchRows = 20;

    private static readonly HashSet<string> KnownRegions =
        ReferenceData.Regions.Select(r => r.SixDigitCode).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Fills in the issued worksheet <paramref name="issued"/> with the <paramref name="answers"/> for its school (answers
    /// of other schools are ignored), as a registrar of the given <paramref name="style"/> would.
    /// </summary>
    public static SimulatedReturn Edit(byte[] issued, IReadOnlyList<RegistrarAnswer> answers, RegistrarStyle style, int seed)
    {
        ArgumentNullException.ThrowIfNull(issued);
        ArgumentNullException.ThrowIfNull(answers);
        if (!Enum.IsDefined(style))
        {
            throw new ArgumentOutOfRangeException(nameof(style), style, "Unknown registrar style.");
        }

        if (style == RegistrarStyle.Leaves)
        {
            // Opened read-only: the SDK re-serialises what it loaded when a package opened for editing is closed.
            using var original = new MemoryStream(issued, writable: false);
            using var readOnly = SpreadsheetDocument.Open(original, false);
            var untouched = new ProblemsSheet(readOnly);
            return new SimulatedReturn(issued.ToArray(), [], [], [], [.. untouched.Rows.Select(r => r.Key)]);
        }

        using var stream = new MemoryStream();
        stream.Write(issued);
        stream.Position = 0;
        var edits = new List<SimulatedEdit>();
        var actions = new List<SimulatedAnswer>();
        var mistakes = new List<ExpectedNewFinding>();
        var left = new List<string>();
        using (var document = SpreadsheetDocument.Open(stream, true))
        {
            var sheet = new ProblemsSheet(document);
            var rng = new Random(Mix(seed, sheet.SchoolCode));
            var plans = Plan(sheet, answers);
            var chosen = style == RegistrarStyle.Partial ? Half(plans, rng) : plans;
            foreach (var plan in chosen)
            {
                Apply(sheet, plan, edits, actions);
            }

            if (style == RegistrarStyle.Sloppy)
            {
                MakeMistakes(sheet, chosen, rng, edits, mistakes);
            }

            var actioned = chosen.Select(p => p.Row.Key).ToHashSet(StringComparer.Ordinal);
            left.AddRange(sheet.Rows.Where(r => !actioned.Contains(r.Key)).Select(r => r.Key));
            sheet.Save();
        }

        return new SimulatedReturn(stream.ToArray(), SortBySheet(edits, actions), actions, mistakes, left);
    }

    /// <summary>
    /// A style for a school, drawn from <paramref name="shares"/> (relative weights, not necessarily summing to 1) by a
    /// stable hash of the school code and seed: the same school and seed always get the same style.
    /// </summary>
    public static RegistrarStyle StyleFor(
        string schoolCode, int seed, (double Diligent, double Partial, double Leaves, double Sloppy) shares)
    {
        ArgumentNullException.ThrowIfNull(schoolCode);
        (RegistrarStyle Style, double Share)[] weights =
        [
            (RegistrarStyle.Diligent, shares.Diligent), (RegistrarStyle.Partial, shares.Partial),
            (RegistrarStyle.Leaves, shares.Leaves), (RegistrarStyle.Sloppy, shares.Sloppy),
        ];
        if (weights.Any(w => !double.IsFinite(w.Share) || w.Share < 0) || weights.Sum(w => w.Share) <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(shares), shares, "Shares must be finite, not negative, and not all zero.");
        }

        var point = Unit(seed, schoolCode) * weights.Sum(w => w.Share);
        foreach (var (style, share) in weights)
        {
            if (point < share)
            {
                return style;
            }

            point -= share;
        }

        // Rounding at the very top of the range: the last style with a share.
        return weights.Last(w => w.Share > 0).Style;
    }

    /// <summary>What to do with one row: its action, the answers behind it and the cells a correction types.</summary>
    private sealed record RowPlan(SheetRow Row, WorksheetAction Action, IReadOnlyList<RegistrarAnswer> Answers,
        IReadOnlyList<(string Field, int Column, string Value)> Corrections);

    private static List<RowPlan> Plan(ProblemsSheet sheet, IReadOnlyList<RegistrarAnswer> answers)
    {
        var mine = answers.Where(a => string.Equals(a.SchoolCode, sheet.SchoolCode, StringComparison.Ordinal))
            .ToLookup(a => a.StudentNo.Trim(), StringComparer.Ordinal);
        var plans = new List<RowPlan>();
        foreach (var rows in sheet.Rows.GroupBy(r => r.StudentNo, StringComparer.Ordinal))
        {
            var own = mine[rows.Key].ToList();
            if (own.Count == 0)
            {
                continue;
            }

            var removes = own.Where(a => a.Action == WorksheetAction.RemoveRegistration).ToList();
            var others = own.Where(a => a.Action != WorksheetAction.RemoveRegistration).ToList();
            var list = rows.ToList();
            if (removes.Count > 0)
            {
                plans.Add(new RowPlan(list[^1], WorksheetAction.RemoveRegistration, removes, []));
                list.RemoveAt(list.Count - 1);
            }

            if (others.Count == 0)
            {
                continue;
            }

            foreach (var row in list)
            {
                if (PlanOf(sheet, row, others) is { } plan)
                {
                    plans.Add(plan);
                }
            }
        }

        return [.. plans.OrderBy(p => p.Row.ExcelRow)];
    }

    private static RowPlan? PlanOf(ProblemsSheet sheet, SheetRow row, List<RegistrarAnswer> answers)
    {
        var corrections = new List<(string, int, string)>();
        foreach (var answer in answers.Where(a => a.Action == WorksheetAction.Corrected))
        {
            if (sheet.FieldColumn(answer.Field) is not { } column)
            {
                // The field is not on the sheet: the registrar cannot type the clean value, so the row stays open.
                return null;
            }

            corrections.Add((answer.Field, column, answer.Value));
        }

        return new RowPlan(row, corrections.Count > 0 ? WorksheetAction.Corrected : WorksheetAction.Confirmed, answers, corrections);
    }

    /// <summary>About half of the rows: (n + 0 or 1) / 2 of them, chosen by the seed, in sheet order.</summary>
    private static List<RowPlan> Half(List<RowPlan> plans, Random rng)
    {
        var shuffled = plans.ToArray();
        rng.Shuffle(shuffled);
        var count = (plans.Count + rng.Next(2)) / 2;
        return [.. shuffled.Take(count).OrderBy(p => p.Row.ExcelRow)];
    }

    private static void Apply(ProblemsSheet sheet, RowPlan plan, List<SimulatedEdit> edits, List<SimulatedAnswer> actions)
    {
        var row = plan.Row;
        foreach (var (field, column, value) in plan.Corrections)
        {
            var old = sheet.Text(row, column);
            var typed = value.Length == 0 ? null : value;
            sheet.Type(row, column, typed);
            edits.Add(new SimulatedEdit(row.Key, row.StudentNo, field, old, typed));
        }

        var explained = plan.Answers.Where(a => a.Action != WorksheetAction.Corrected).ToList();
        var explanation = explained.Count == 0 ? null : Explanation(explained, plan.Action, sheet.Language);
        sheet.Type(row, sheet.ActionColumn, plan.Action.Label(sheet.Language));
        if (explanation is not null)
        {
            sheet.Type(row, sheet.ExplanationColumn, explanation);
        }

        actions.Add(new SimulatedAnswer(row.Key, row.StudentNo, plan.Action, explanation));
    }

    /// <summary>
    /// In up to <see cref="SloppyMistakeRows"/> rows that were only corrected (so they are clean once the corrections are
    /// applied), a value that breaks exactly one rule is typed into another field the row shows.
    /// </summary>
    private static void MakeMistakes(ProblemsSheet sheet, List<RowPlan> plans, Random rng, List<SimulatedEdit> edits,
        List<ExpectedNewFinding> mistakes)
    {
        var candidates = plans
            .Where(p => p.Action == WorksheetAction.Corrected && p.Answers.All(a => a.Action == WorksheetAction.Corrected))
            .ToArray();
        rng.Shuffle(candidates);
        var made = 0;
        foreach (var plan in candidates)
        {
            if (made == SloppyMistakeRows)
            {
                break;
            }

            var corrected = plan.Corrections.Select(c => c.Field).ToHashSet(StringComparer.Ordinal);
            var options = new List<(string Field, int Column, string Old, string Value, string Rule)>();
            foreach (var (field, column) in sheet.FieldColumns)
            {
                if (!corrected.Contains(field) && sheet.Text(plan.Row, column) is { } current &&
                    Mistake(field, current, rng) is { } mistake)
                {
                    options.Add((field, column, current, mistake.Value, mistake.Rule));
                }
            }

            if (options.Count == 0)
            {
                continue;
            }

            var (f, col, oldValue, bad, rule) = options[rng.Next(options.Count)];
            sheet.Type(plan.Row, col, bad);
            edits.Add(new SimulatedEdit(plan.Row.Key, plan.Row.StudentNo, f, oldValue, bad));
            // The checks name the row by the student number it has once the return is applied (C03 corrects it).
            var studentNo = plan.Corrections.Where(c => c.Field == "student_no").Select(c => c.Value).LastOrDefault() ?? plan.Row.StudentNo;
            mistakes.Add(new ExpectedNewFinding(studentNo, sheet.SchoolCode, rule, f));
            made++;
        }
    }

    /// <summary>
    /// A value for <paramref name="field"/> that, on a row that is otherwise clean, gives exactly one finding (the rule
    /// returned) and hides nothing else: a value that fails its stage-2 rule is absent for every later rule (sql/rules).
    /// Null when the current value does not allow one.
    /// </summary>
    private static (string Value, string Rule)? Mistake(string field, string current, Random rng)
    {
        switch (field)
        {
            case "id_number":
                // F03: a wrong check character on a valid resident ID of a known region (no F05), with a real birth
                // segment (no F04), never the 15 digits + 000 of a padded number (F12's).
                var id = TextNormalizer.NormalizeCode(current);
                if (!ResidentId.HasValidCheckCharacter(id) || ResidentId.BirthDate(id) is null || !KnownRegions.Contains(id[..6]))
                {
                    return null;
                }

                const string checks = "0123456789X";
                var start = rng.Next(checks.Length);
                for (var k = 0; k < checks.Length; k++)
                {
                    var bad = id[..17] + checks[(start + k) % checks.Length];
                    if (bad[17] != id[17] && !(bad.EndsWith("000", StringComparison.Ordinal) && TextNormalizer.IsDigits(bad)))
                    {
                        return (bad, "F03");
                    }
                }

                return null;
            case "birth_date":
                // F06: 30 February is no date.
                return FieldParser.ParseDate(current) is { } birth
                    ? (birth.Year.ToString("D4", CultureInfo.InvariantCulture) + "-02-30", "F06")
                    : null;
            case "entry_month":
                // F07: month 13.
                return FieldParser.ParseYearMonth(current) is { } entry
                    ? (entry.Year.ToString("D4", CultureInfo.InvariantCulture) + "13", "F07")
                    : null;
            case "guardian_phone":
                // F11: a mobile number with its last digit lost (10 digits starting with 1 is neither mobile nor landline).
                return Mobile().IsMatch(current) ? (current[..10], "F11") : null;
            case "grade":
                // F08: no grade 13.
                return FieldParser.ParseGrade(current) is not null ? ("13", "F08") : null;
            case "gender":
                return CodeLists.Gender.Match(current) is not null ? ("3", "F08") : null;
            case "migrant_child":
                return CodeLists.YesNo.Match(current) is not null ? ("2", "F08") : null;
            case "left_behind":
                return CodeLists.LeftBehind.Match(current) is not null ? ("3", "F08") : null;
            default:
                return null;
        }
    }

    private static string Explanation(IReadOnlyList<RegistrarAnswer> answers, WorksheetAction action, WorksheetLanguage language)
    {
        var english = language == WorksheetLanguage.English;
        var texts = answers
            .Select(a => action == WorksheetAction.RemoveRegistration ? RemoveReason(a.RuleId, english) : ConfirmReason(a.RuleId, english))
            .Distinct(StringComparer.Ordinal);
        return string.Join(english ? " " : "", texts);
    }

    private static string RemoveReason(string rule, bool english) => rule switch
    {
        "X03" => english ? "The student does not attend this school; they are registered at the other school." : "该生不在本校就读，已在其他学校注册。",
        "X02" => english ? "This school does not teach the student's grade; the student does not attend here." : "本校不开设该年级，该生不在本校就读。",
        _ => english ? "Duplicate registration of a student who keeps the other record." : "重复登记，该生保留另一条学籍。",
    };

    private static string ConfirmReason(string rule, bool english) => rule switch
    {
        "T01" => english
            ? "The student left at the end of last term (transferred out); the papers are being filed."
            : "该生上学期末已转学离校，转出手续正在办理。",
        "T02" => english
            ? "Checked against the household register: the current record is right, last round's was wrong."
            : "已核对户口簿，现登记信息正确，上一轮信息有误。",
        "T03" => english ? "The student repeats the year; the grade registered now is right." : "该生本学年留级，现登记年级正确。",
        "C04" => english ? "The student started school late or skipped a year; the birth date is right." : "该生入学较晚或跳级，出生日期属实。",
        "C10" or "X05" => english ? "The student has no identity document; proof of attendance is on file." : "该生无身份证件，已留存就读证明。",
        "F05" => english ? "The ID card was issued under a region code since retired; the number is right." : "身份证按已撤销的行政区划代码签发，号码属实。",
        "C08" => english ? "An overseas Chinese student studying on a Chinese passport." : "该生为华侨，持中国护照就读。",
        "X03" or "X04" or "X06" or "S03" => english
            ? "The student attends this school and this registration is right; the duplicate is being removed."
            : "该生在本校就读，本条学籍正确，重复的登记正在删除。",
        _ => english ? "Checked: the record is right as it stands." : "经核对，登记信息属实。",
    };

    /// <summary>Edits in sheet order of their rows (corrections and mistakes were collected in two passes).</summary>
    private static List<SimulatedEdit> SortBySheet(List<SimulatedEdit> edits, List<SimulatedAnswer> actions)
    {
        var position = actions.Select((a, i) => (a.RowKey, i)).ToDictionary(x => x.RowKey, x => x.i, StringComparer.Ordinal);
        return [.. edits.Select((e, i) => (e, i))
            .OrderBy(x => position.GetValueOrDefault(x.e.RowKey, int.MaxValue)).ThenBy(x => x.i)
            .Select(x => x.e)];
    }

    private static byte[] Hash(int seed, string schoolCode) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{seed}|{schoolCode}")));

    private static int Mix(int seed, string schoolCode) => BitConverter.ToInt32(Hash(seed, schoolCode), 0);

    /// <summary>A number in [0, 1) from the seed and school: 53 bits of the hash.</summary>
    private static double Unit(int seed, string schoolCode) =>
        (BitConverter.ToUInt64(Hash(seed, schoolCode), 8) >> 11) * (1.0 / (1UL << 53));

    [GeneratedRegex(@"^1[3-9][0-9]{9}$", RegexOptions.CultureInvariant)]
    private static partial Regex Mobile();

    /// <summary>An issued row as found on the problems sheet.</summary>
    private sealed record SheetRow(int ExcelRow, string Key, string StudentNo, Row Element);

    /// <summary>
    /// The problems sheet of an issued worksheet, read through its <c>_meta</c> sheet: the school, the language, each
    /// column by its marker (found by the header recorded for it), and the issued rows by their keys.
    /// </summary>
    private sealed partial class ProblemsSheet
    {
        private readonly WorksheetPart _part;
        private readonly string[] _sharedStrings;
        private readonly Dictionary<string, int> _columns = new(StringComparer.Ordinal);
        private readonly Dictionary<int, uint?> _columnStyles = [];

        public ProblemsSheet(SpreadsheetDocument document)
        {
            var workbook = document.WorkbookPart ?? throw new InvalidOperationException("The worksheet has no workbook part.");
            _sharedStrings = workbook.SharedStringTablePart?.SharedStringTable?
                .Elements<SharedStringItem>().Select(ItemText).ToArray() ?? [];
            var sheets = workbook.Workbook.Sheets?.Elements<Sheet>().ToArray() ?? [];
            WorksheetPart PartOf(string name) =>
                sheets.FirstOrDefault(s => s.Name?.Value == name) is { Id.Value: { } id } && workbook.GetPartById(id) is WorksheetPart part
                    ? part
                    : throw new InvalidOperationException($"The worksheet has no sheet '{name}'.");

            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            var markers = new List<(int Number, string Marker, string Header)>();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (_, cells) in Grid(PartOf(WorksheetMeta.SheetName)))
            {
                string Part(int column) => cells.GetValueOrDefault(column) ?? "";
                switch (Part(1))
                {
                    case WorksheetMeta.MetaRecord:
                        properties[Part(2)] = Part(3);
                        break;
                    case WorksheetMeta.ColumnRecord:
                        markers.Add((int.Parse(Part(2), CultureInfo.InvariantCulture), Part(3), Part(4)));
                        break;
                    case WorksheetMeta.RowRecord:
                        keys.Add(Part(3));
                        break;
                }
            }

            SchoolCode = properties.GetValueOrDefault(WorksheetMeta.Properties.SchoolCode)
                ?? throw new InvalidOperationException("The worksheet's _meta sheet names no school.");
            Language = properties.GetValueOrDefault(WorksheetMeta.Properties.Language) == WorksheetLanguage.English.Tag()
                ? WorksheetLanguage.English
                : WorksheetLanguage.Chinese;
            _part = PartOf(properties.GetValueOrDefault(WorksheetMeta.Properties.ProblemsSheet)
                ?? WorksheetText.SheetNames(Language).Problems);

            var grid = Grid(_part);
            string HeaderOf(string marker) => markers.Where(m => m.Marker == marker).Select(m => m.Header).FirstOrDefault()
                ?? throw new InvalidOperationException($"The worksheet's _meta sheet records no column '{marker}'.");
            var headerRow = grid.Where(r => r.Key <= HeaderSearchRows)
                .FirstOrDefault(r => r.Value.Values.Select(Trim).Contains(HeaderOf("row_key")) &&
                                     r.Value.Values.Select(Trim).Contains(HeaderOf("action")))
                .Key;
            if (headerRow == 0)
            {
                throw new InvalidOperationException("The problems sheet has no header row with the row key and action headers.");
            }

            foreach (var (_, marker, header) in markers)
            {
                var found = grid[headerRow].Where(c => Trim(c.Value) == Trim(header)).Select(c => c.Key).ToArray();
                if (found.Length == 1)
                {
                    _columns[marker] = found[0];
                }
            }

            int Required(string marker) => _columns.TryGetValue(marker, out var column)
                ? column
                : throw new InvalidOperationException($"The problems sheet has no column '{HeaderOf(marker)}' ({marker}).");
            var keyColumn = Required("row_key");
            var studentColumn = Required("id.student_no");
            ActionColumn = Required("action");
            ExplanationColumn = Required("explanation");
            FieldColumns = [.. _columns.Where(c => c.Key.StartsWith(WorksheetLayout.FieldMarkerPrefix, StringComparison.Ordinal))
                .OrderBy(c => c.Value).Select(c => (c.Key[WorksheetLayout.FieldMarkerPrefix.Length..], c.Value))];

            var elements = SheetData.Elements<Row>().Where(r => r.RowIndex?.Value is not null).ToDictionary(r => (int)r.RowIndex!.Value);
            var rows = new List<SheetRow>();
            foreach (var (excelRow, cells) in grid.Where(r => r.Key > headerRow))
            {
                if (cells.GetValueOrDefault(keyColumn) is { } key && keys.Contains(Trim(key)) &&
                    elements.TryGetValue(excelRow, out var element))
                {
                    rows.Add(new SheetRow(excelRow, Trim(key), Trim(cells.GetValueOrDefault(studentColumn) ?? ""), element));
                }
            }

            Rows = rows;
        }

        public string SchoolCode { get; }

        public WorksheetLanguage Language { get; }

        public int ActionColumn { get; }

        public int ExplanationColumn { get; }

        /// <summary>The field columns: field name and column number, left to right.</summary>
        public IReadOnlyList<(string Field, int Column)> FieldColumns { get; }

        public IReadOnlyList<SheetRow> Rows { get; }

        private SheetData SheetData => _part.Worksheet.GetFirstChild<SheetData>()
            ?? throw new InvalidOperationException("The problems sheet has no data.");

        public int? FieldColumn(string field) =>
            _columns.TryGetValue(WorksheetLayout.FieldMarkerPrefix + field, out var column) ? column : null;

        /// <summary>A cell's text as the file holds it (escapes decoded); null when empty.</summary>
        public string? Text(SheetRow row, int column) =>
            FindCell(row.Element, column) is { } cell && CellText(cell) is { Length: > 0 } text ? text : null;

        /// <summary>Types text into a cell as an inline string, keeping its style; null empties it.</summary>
        public void Type(SheetRow row, int column, string? text)
        {
            var cell = FindCell(row.Element, column) ?? AddCell(row, column);
            cell.RemoveAllChildren();
            if (text is null)
            {
                cell.DataType = null;
                return;
            }

            cell.DataType = CellValues.InlineString;
            var typed = new DocumentFormat.OpenXml.Spreadsheet.Text(Escape(text)) { Space = SpaceProcessingModeValues.Preserve };
            cell.AppendChild(new InlineString(typed));
        }

        public void Save() => _part.Worksheet.Save();

        private Cell AddCell(SheetRow row, int column)
        {
            // A cell the writer left out takes its column's style (the text format), as a spreadsheet program does.
            var cell = new Cell { CellReference = Reference(row.ExcelRow, column), StyleIndex = ColumnStyle(column) };
            var before = row.Element.Elements<Cell>().LastOrDefault(c => ColumnOf(c) < column);
            if (before is null)
            {
                row.Element.PrependChild(cell);
            }
            else
            {
                before.InsertAfterSelf(cell);
            }

            return cell;
        }

        private uint? ColumnStyle(int column)
        {
            if (!_columnStyles.TryGetValue(column, out var style))
            {
                style = _part.Worksheet.GetFirstChild<Columns>()?.Elements<Column>()
                    .FirstOrDefault(c => c.Min?.Value <= column && column <= c.Max?.Value)?.Style?.Value;
                _columnStyles[column] = style;
            }

            return style;
        }

        private static Cell? FindCell(Row row, int column) => row.Elements<Cell>().FirstOrDefault(c => ColumnOf(c) == column);

        private string? CellText(Cell cell)
        {
            var value = cell.CellValue?.Text;
            return cell.DataType?.Value switch
            {
                CellValues.SharedString =>
                    int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < _sharedStrings.Length
                    ? _sharedStrings[i]
                    : null,
                CellValues.InlineString => cell.InlineString is { } inline ? ItemText(inline) : null,
                CellValues.String => value is null ? null : Decode(value),
                _ => value,
            };
        }

        private SortedDictionary<int, Dictionary<int, string>> Grid(WorksheetPart part)
        {
            var grid = new SortedDictionary<int, Dictionary<int, string>>();
            foreach (var row in part.Worksheet.GetFirstChild<SheetData>()?.Elements<Row>() ?? [])
            {
                if (row.RowIndex?.Value is not { } index)
                {
                    continue;
                }

                var cells = new Dictionary<int, string>();
                foreach (var cell in row.Elements<Cell>())
                {
                    if (CellText(cell) is { Length: > 0 } text)
                    {
                        cells[ColumnOf(cell)] = text;
                    }
                }

                if (cells.Count > 0)
                {
                    grid[(int)index] = cells;
                }
            }

            return grid;
        }

        private static string Trim(string text) => TextNormalizer.Trim(text);

        private static string ItemText(OpenXmlElement item) => Decode(
            item.GetFirstChild<DocumentFormat.OpenXml.Spreadsheet.Text>() is { } text
                ? text.Text
                : string.Concat(item.Elements<Run>().Select(r => r.Text?.Text)));

        /// <summary>ECMA-376 Part 1, 22.9.2.19 ST_Xstring: _xHHHH_ is the UTF-16 code unit HHHH.</summary>
        private static string Decode(string text) =>
            text.Contains("_x", StringComparison.Ordinal)
                ? EscapeSequence().Replace(
                    text, m => ((char)int.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToString())
                : text;

        /// <summary>
        /// The ST_Xstring form of a text: what XML cannot carry (control characters, U+FFFE, U+FFFF) and a CR (which XML
        /// reads back as LF) as _xHHHH_, and the underscore of a literal _xHHHH_ as _x005F_.
        /// </summary>
        private static string Escape(string text)
        {
            var builder = new StringBuilder(text.Length);
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                var literalEscape = c == '_' && i + 7 <= text.Length && text[i + 1] == 'x' && text[i + 6] == '_' &&
                                    !text.AsSpan(i + 2, 4).ContainsAnyExcept(HexDigits);
                if (literalEscape)
                {
                    builder.Append("_x005F_");
                }
                else if ((c < ' ' && c is not ('\t' or '\n')) || c is '\uFFFE' or '\uFFFF')
                {
                    builder.Append("_x").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)).Append('_');
                }
                else
                {
                    builder.Append(c);
                }
            }

            return builder.ToString();
        }

        private static int ColumnOf(Cell cell) =>
            cell.CellReference?.Value is { } reference
                ? reference.TakeWhile(char.IsAsciiLetter).Aggregate(0, (n, c) => (n * 26) + (char.ToUpperInvariant(c) - 'A' + 1))
                : throw new InvalidOperationException("A cell of the worksheet has no reference.");

        private static string Reference(int row, int column)
        {
            var letters = "";
            for (var c = column; c > 0; c = (c - 1) / 26)
            {
                letters = (char)('A' + ((c - 1) % 26)) + letters;
            }

            return letters + row.ToString(CultureInfo.InvariantCulture);
        }

        private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789ABCDEFabcdef");

        [GeneratedRegex("_x([0-9A-Fa-f]{4})_", RegexOptions.CultureInvariant)]
        private static partial Regex EscapeSequence();
    }
}
