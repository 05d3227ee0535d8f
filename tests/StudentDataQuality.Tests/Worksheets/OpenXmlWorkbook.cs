using System.Text.RegularExpressions;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using XText = DocumentFormat.OpenXml.Spreadsheet.Text;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>A cell as the file says it: its text (escapes decoded), its type, and what its style says.</summary>
public sealed record CellInfo(
    string Reference, int Row, int Column, CellValues? Type, string Text, bool HasFormula,
    bool Locked, string? FillRgb, string NumberFormat, bool QuotePrefix);

/// <summary>A data validation of a sheet.</summary>
public sealed record ValidationInfo(string Sqref, DataValidationValues? Type, string? Formula1, DataValidationErrorStyleValues? ErrorStyle);

/// <summary>
/// Reads a written workbook with the Open XML SDK alone (not ClosedXML, which wrote it), so a test sees what Excel,
/// WPS or LibreOffice would: the parts, the shared strings with their _xHHHH_ escapes decoded (ECMA-376 ST_Xstring),
/// the cell styles, comments and data validations.
/// </summary>
public sealed partial class OpenXmlWorkbook : IDisposable
{
    private readonly MemoryStream _stream;
    private readonly string[] _sharedStrings;
    private readonly Dictionary<string, IReadOnlyDictionary<string, CellInfo>> _cells = new(StringComparer.Ordinal);

    public OpenXmlWorkbook(byte[] bytes)
    {
        _stream = new MemoryStream(bytes, writable: false);
        Document = SpreadsheetDocument.Open(_stream, false);
        WorkbookPart = Document.WorkbookPart ?? throw new InvalidOperationException("No workbook part.");
        _sharedStrings = WorkbookPart.SharedStringTablePart?.SharedStringTable
            .Elements<SharedStringItem>().Select(ItemText).ToArray() ?? [];
    }

    public SpreadsheetDocument Document { get; }

    public WorkbookPart WorkbookPart { get; }

    public IReadOnlyList<Sheet> Sheets => WorkbookPart.Workbook.Sheets!.Elements<Sheet>().ToArray();

    public uint ActiveTab => WorkbookPart.Workbook.BookViews?.Elements<WorkbookView>().First().ActiveTab?.Value ?? 0;

    public WorksheetPart Part(string sheetName)
    {
        var sheet = Sheets.Single(s => s.Name == sheetName);
        return (WorksheetPart)WorkbookPart.GetPartById(sheet.Id!);
    }

    public Worksheet Worksheet(string sheetName) => Part(sheetName).Worksheet;

    /// <summary>Every cell element of a sheet (also the styled empty ones), by reference.</summary>
    public IReadOnlyDictionary<string, CellInfo> Cells(string sheetName)
    {
        if (!_cells.TryGetValue(sheetName, out var cells))
        {
            cells = Worksheet(sheetName).Descendants<Cell>().Select(Info).ToDictionary(c => c.Reference, StringComparer.Ordinal);
            _cells[sheetName] = cells;
        }

        return cells;
    }

    /// <summary>The text of a cell, "" when the cell is absent or empty.</summary>
    public string Text(string sheetName, int row, int column) =>
        Cells(sheetName).TryGetValue(Reference(row, column), out var cell) ? cell.Text : "";

    public CellInfo? Cell(string sheetName, int row, int column) => Cells(sheetName).GetValueOrDefault(Reference(row, column));

    /// <summary>The notes (legacy comments) of a sheet: cell reference to text.</summary>
    public IReadOnlyDictionary<string, string> Comments(string sheetName)
    {
        var part = Part(sheetName).WorksheetCommentsPart;
        if (part is null)
        {
            return new Dictionary<string, string>();
        }

        return part.Comments.CommentList!.Elements<Comment>().ToDictionary(
            c => c.Reference!.Value!,
            c => Decode(string.Concat(c.CommentText!.Descendants<XText>().Select(t => t.Text))),
            StringComparer.Ordinal);
    }

    public IReadOnlyList<string> CommentAuthors(string sheetName) =>
        Part(sheetName).WorksheetCommentsPart?.Comments.Authors?.Elements<Author>().Select(a => a.Text).ToArray() ?? [];

    public IReadOnlyList<ValidationInfo> Validations(string sheetName) =>
        Worksheet(sheetName).Descendants<DataValidation>()
            .Select(v => new ValidationInfo(
                string.Join(' ', v.SequenceOfReferences!.Items.Select(i => i.Value)),
                v.Type?.Value,
                v.Formula1?.Text,
                v.ErrorStyle?.Value))
            .ToArray();

    /// <summary>The cells a range such as 'Codes'!$D$2:$D$4 names, as text, top to bottom.</summary>
    public IReadOnlyList<string> RangeValues(string formula)
    {
        var match = RangeFormula().Match(formula);
        if (!match.Success)
        {
            throw new FormatException($"'{formula}' is not a reference to one column of another sheet.");
        }

        var sheet = match.Groups["sheet"].Value.Replace("''", "'", StringComparison.Ordinal);
        var column = ColumnNumber(match.Groups["col"].Value);
        var first = int.Parse(match.Groups["r1"].Value, System.Globalization.CultureInfo.InvariantCulture);
        var last = int.Parse(match.Groups["r2"].Value, System.Globalization.CultureInfo.InvariantCulture);
        return Enumerable.Range(first, last - first + 1).Select(r => Text(sheet, r, column)).ToArray();
    }

    public static (string Sheet, string Column, int FirstRow, int LastRow) ParseRange(string formula)
    {
        var match = RangeFormula().Match(formula);
        return (match.Groups["sheet"].Value, match.Groups["col"].Value,
            int.Parse(match.Groups["r1"].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(match.Groups["r2"].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    public static string Reference(int row, int column)
    {
        var letters = "";
        for (var c = column; c > 0; c = (c - 1) / 26)
        {
            letters = (char)('A' + ((c - 1) % 26)) + letters;
        }

        return letters + row.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public static int ColumnNumber(string letters) => letters.Aggregate(0, (n, c) => (n * 26) + (c - 'A' + 1));

    /// <summary>ECMA-376 Part 1, 22.9.2.19 ST_Xstring: _xHHHH_ is the UTF-16 code unit HHHH, read left to right.</summary>
    public static string Decode(string text) =>
        text.Contains("_x", StringComparison.Ordinal)
            ? Escape().Replace(text, m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString())
            : text;

    public void Dispose()
    {
        Document.Dispose();
        _stream.Dispose();
    }

    private static string ItemText(SharedStringItem item) =>
        Decode(item.Text is { } text ? text.Text : string.Concat(item.Elements<Run>().Select(r => r.Text?.Text)));

    private CellInfo Info(Cell cell)
    {
        var reference = cell.CellReference!.Value!;
        var match = CellReference().Match(reference);
        var row = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        var column = ColumnNumber(match.Groups[1].Value);
        var type = cell.DataType?.Value;
        var raw = cell.CellValue?.Text;
        var text = type == CellValues.SharedString && raw is not null ? _sharedStrings[int.Parse(raw, System.Globalization.CultureInfo.InvariantCulture)]
            : type == CellValues.InlineString ? Decode(cell.InlineString?.InnerText ?? "")
            : raw ?? "";
        var (locked, fill, format, quote) = Style(cell.StyleIndex?.Value ?? 0);
        return new CellInfo(reference, row, column, type, text, cell.CellFormula is not null, locked, fill, format, quote);
    }

    private (bool Locked, string? Fill, string NumberFormat, bool QuotePrefix) Style(uint index)
    {
        var styles = WorkbookPart.WorkbookStylesPart!.Stylesheet;
        var xf = styles.CellFormats!.Elements<CellFormat>().ElementAt((int)index);
        // A cell is locked unless its format says otherwise (ECMA-376 18.8.33: locked defaults to true).
        var locked = xf.Protection?.Locked?.Value ?? true;
        var fill = styles.Fills!.Elements<Fill>().ElementAt((int)(xf.FillId?.Value ?? 0)).PatternFill;
        var fillRgb = fill?.PatternType?.Value == PatternValues.Solid ? fill.ForegroundColor?.Rgb?.Value : null;
        var numFmtId = xf.NumberFormatId?.Value ?? 0;
        var format = numFmtId == 49 ? "@"
            : styles.NumberingFormats?.Elements<NumberingFormat>().FirstOrDefault(n => n.NumberFormatId?.Value == numFmtId)?.FormatCode?.Value
              ?? $"builtin:{numFmtId}";
        return (locked, fillRgb, format, xf.QuotePrefix?.Value ?? false);
    }

    [GeneratedRegex("_x([0-9A-Fa-f]{4})_")]
    private static partial Regex Escape();

    [GeneratedRegex("^([A-Z]+)([0-9]+)$")]
    private static partial Regex CellReference();

    [GeneratedRegex(@"^'?(?<sheet>(?:[^']|'')+?)'?!\$(?<col>[A-Z]+)\$(?<r1>[0-9]+):\$[A-Z]+\$(?<r2>[0-9]+)$")]
    private static partial Regex RangeFormula();
}
