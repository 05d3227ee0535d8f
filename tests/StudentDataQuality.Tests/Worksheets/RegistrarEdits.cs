using System.IO.Compression;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// Edits a written worksheet as a registrar's spreadsheet program would, with the Open XML SDK alone (not ClosedXML,
/// which wrote it): values typed, actions chosen, rows and columns moved, numbers and formulas where text was.
/// </summary>
public sealed class RegistrarEdits : IDisposable
{
    private readonly MemoryStream _stream;

    public RegistrarEdits(byte[] bytes, WorksheetLanguage language = WorksheetLanguage.Chinese)
    {
        _stream = new MemoryStream();
        _stream.Write(bytes);
        Document = SpreadsheetDocument.Open(_stream, true);
        ProblemsSheet = WorksheetText.SheetNames(language).Problems;
        Language = language;
    }

    public SpreadsheetDocument Document { get; }

    public string ProblemsSheet { get; }

    public WorksheetLanguage Language { get; }

    public WorkbookPart Workbook => Document.WorkbookPart!;

    public Sheet Sheet(string name) => Workbook.Workbook.Sheets!.Elements<Sheet>().Single(s => s.Name == name);

    public SheetData Data(string sheetName) =>
        ((WorksheetPart)Workbook.GetPartById(Sheet(sheetName).Id!)).Worksheet.GetFirstChild<SheetData>()!;

    /// <summary>The Excel row of a key on the problems sheet, as written.</summary>
    public int RowOf(string key)
    {
        var strings = Workbook.SharedStringTablePart!.SharedStringTable.Elements<SharedStringItem>().Select(i => i.InnerText).ToArray();
        foreach (var row in Data(ProblemsSheet).Elements<Row>())
        {
            var cell = row.Elements<Cell>().FirstOrDefault(c => c.CellReference!.Value == "A" + row.RowIndex!.Value);
            if (cell?.CellValue is { } value && cell.DataType?.Value == CellValues.SharedString && strings[int.Parse(value.Text, System.Globalization.CultureInfo.InvariantCulture)] == key)
            {
                return (int)row.RowIndex!.Value;
            }
        }

        throw new InvalidOperationException($"No row with key {key}.");
    }

    public Cell Cell(int row, int column) => Cell(ProblemsSheet, row, column);

    public Cell Cell(string sheetName, int row, int column)
    {
        var data = Data(sheetName);
        var rowElement = data.Elements<Row>().FirstOrDefault(r => r.RowIndex!.Value == (uint)row);
        if (rowElement is null)
        {
            rowElement = new Row { RowIndex = (uint)row };
            var after = data.Elements<Row>().LastOrDefault(r => r.RowIndex!.Value < (uint)row);
            if (after is null)
            {
                data.PrependChild(rowElement);
            }
            else
            {
                after.InsertAfterSelf(rowElement);
            }
        }

        var reference = OpenXmlWorkbook.Reference(row, column);
        var cell = rowElement.Elements<Cell>().FirstOrDefault(c => c.CellReference!.Value == reference);
        if (cell is null)
        {
            cell = new Cell { CellReference = reference };
            var before = rowElement.Elements<Cell>().LastOrDefault(c => ColumnOf(c) < column);
            if (before is null)
            {
                rowElement.PrependChild(cell);
            }
            else
            {
                before.InsertAfterSelf(cell);
            }
        }

        return cell;
    }

    /// <summary>Types text into a cell (an inline string, as some programs write).</summary>
    public RegistrarEdits Type(int row, int column, string text)
    {
        var cell = Cell(row, column);
        cell.RemoveAllChildren();
        cell.DataType = CellValues.InlineString;
        cell.AppendChild(new InlineString(new DocumentFormat.OpenXml.Spreadsheet.Text(text) { Space = SpaceProcessingModeValues.Preserve }));
        return this;
    }

    /// <summary>Types a number into a cell (a General cell): what Excel stores for digits typed without the text format.</summary>
    public RegistrarEdits Number(int row, int column, string raw)
    {
        var cell = Cell(row, column);
        cell.RemoveAllChildren();
        cell.DataType = null;
        cell.AppendChild(new CellValue(raw));
        return this;
    }

    public RegistrarEdits Boolean(int row, int column, bool value)
    {
        var cell = Cell(row, column);
        cell.RemoveAllChildren();
        cell.DataType = CellValues.Boolean;
        cell.AppendChild(new CellValue(value ? "1" : "0"));
        return this;
    }

    public RegistrarEdits Formula(int row, int column, string formula, string cachedText)
    {
        var cell = Cell(row, column);
        cell.RemoveAllChildren();
        cell.DataType = CellValues.String;
        cell.AppendChild(new CellFormula(formula));
        cell.AppendChild(new CellValue(cachedText));
        return this;
    }

    /// <summary>A formatted but empty row (a style on its cells), as readers count as used.</summary>
    public RegistrarEdits Phantom(int row, int lastColumn)
    {
        for (var c = 1; c <= lastColumn; c++)
        {
            Cell(row, c).StyleIndex = 0;
        }

        return this;
    }

    /// <summary>Renumbers the rows of a sheet (null: the row is deleted), as sorting or deleting rows does.</summary>
    public RegistrarEdits MapRows(Func<int, int?> map, string? sheetName = null)
    {
        var data = Data(sheetName ?? ProblemsSheet);
        var kept = new List<Row>();
        foreach (var row in data.Elements<Row>().ToList())
        {
            row.Remove();
            if (map((int)row.RowIndex!.Value) is not { } target)
            {
                continue;
            }

            row.RowIndex = (uint)target;
            foreach (var cell in row.Elements<Cell>())
            {
                cell.CellReference = OpenXmlWorkbook.Reference(target, ColumnOf(cell));
            }

            kept.Add(row);
        }

        foreach (var row in kept.OrderBy(r => r.RowIndex!.Value))
        {
            data.AppendChild(row);
        }

        return this;
    }

    /// <summary>Renumbers the columns of a sheet, as moving or inserting columns does.</summary>
    public RegistrarEdits MapColumns(Func<int, int> map, string? sheetName = null)
    {
        foreach (var row in Data(sheetName ?? ProblemsSheet).Elements<Row>())
        {
            var cells = row.Elements<Cell>().ToList();
            foreach (var cell in cells)
            {
                cell.Remove();
                cell.CellReference = OpenXmlWorkbook.Reference((int)row.RowIndex!.Value, map(ColumnOf(cell)));
            }

            foreach (var cell in cells.OrderBy(ColumnOf))
            {
                row.AppendChild(cell);
            }
        }

        return this;
    }

    public byte[] Save()
    {
        Document.Save();
        Document.Dispose();
        return _stream.ToArray();
    }

    public void Dispose()
    {
        Document.Dispose();
        _stream.Dispose();
    }

    public static int ColumnOf(Cell cell) =>
        OpenXmlWorkbook.ColumnNumber(new string(cell.CellReference!.Value!.TakeWhile(char.IsLetter).ToArray()));

    /// <summary>Adds (or replaces) an entry of the package, with System.IO.Compression.</summary>
    public static byte[] WithEntry(byte[] bytes, string name, byte[] content, Func<string, string>? contentTypes = null)
    {
        using var stream = new MemoryStream();
        stream.Write(bytes);
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Update, leaveOpen: true))
        {
            zip.GetEntry(name)?.Delete();
            using (var entry = zip.CreateEntry(name, CompressionLevel.Optimal).Open())
            {
                entry.Write(content);
            }

            if (contentTypes is not null)
            {
                var types = zip.GetEntry("[Content_Types].xml")!;
                string xml;
                using (var reader = new StreamReader(types.Open(), Encoding.UTF8))
                {
                    xml = reader.ReadToEnd();
                }

                types.Delete();
                using var writer = new StreamWriter(zip.CreateEntry("[Content_Types].xml").Open(), new UTF8Encoding(false));
                writer.Write(contentTypes(xml));
            }
        }

        return stream.ToArray();
    }
}
