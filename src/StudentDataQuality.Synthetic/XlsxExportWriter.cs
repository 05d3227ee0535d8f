using System.IO.Packaging;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;

namespace StudentDataQuality.Synthetic;

/// <summary>
/// Streams the student rows into an xlsx workbook with OpenXmlWriter (SAX): every cell an inline string, so an
/// 18-digit ID keeps all its digits; a new sheet every 1,000,000 rows (Excel's limit is 1,048,576), each with the header.
/// The package is opened write-only so that System.IO.Packaging streams the zip instead of buffering it in memory.
/// </summary>
internal sealed class XlsxExportWriter : IDisposable
{
    public const int RowsPerSheet = 1_000_000;

    private readonly FileStream _stream;
    private readonly Package _package;
    private readonly SpreadsheetDocument _document;
    private readonly WorkbookPart _workbook;
    private readonly IReadOnlyList<string> _header;
    private readonly List<string> _sheetPartIds = [];
    private OpenXmlWriter? _sheet;
    private int _rowsInSheet;

    public XlsxExportWriter(string path, IReadOnlyList<string> header)
    {
        _header = header;
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        _package = Package.Open(_stream, FileMode.Create, FileAccess.Write);
        _document = SpreadsheetDocument.Create(_package, DocumentFormat.OpenXml.SpreadsheetDocumentType.Workbook, autoSave: false);
        _workbook = _document.AddWorkbookPart();
    }

    public void WriteRow(IReadOnlyList<string> fields)
    {
        if (_sheet is null || _rowsInSheet == RowsPerSheet)
        {
            StartSheet();
        }

        WriteCells(fields);
        _rowsInSheet++;
    }

    public void Dispose()
    {
        if (_sheet is null)
        {
            StartSheet();
        }

        EndSheet();
        using (var writer = OpenXmlWriter.Create(_workbook))
        {
            writer.WriteStartElement(new Workbook());
            writer.WriteStartElement(new Sheets());
            for (var i = 0; i < _sheetPartIds.Count; i++)
            {
                writer.WriteElement(new Sheet
                {
                    Name = i == 0 ? "学生" : $"学生{i + 1}",
                    SheetId = (uint)(i + 1),
                    Id = _sheetPartIds[i],
                });
            }

            writer.WriteEndElement();
            writer.WriteEndElement();
        }

        _document.Dispose();
        _package.Close();
        _stream.Dispose();
    }

    private void StartSheet()
    {
        EndSheet();
        var part = _workbook.AddNewPart<WorksheetPart>();
        _sheetPartIds.Add(_workbook.GetIdOfPart(part));
        _sheet = OpenXmlWriter.Create(part, Encoding.UTF8);
        _sheet.WriteStartElement(new Worksheet());
        _sheet.WriteStartElement(new SheetData());
        _rowsInSheet = 0;
        WriteCells(_header);
    }

    private void EndSheet()
    {
        if (_sheet is null)
        {
            return;
        }

        _sheet.WriteEndElement();
        _sheet.WriteEndElement();
        _sheet.Close();
        _sheet = null;
    }

    private static readonly OpenXmlAttribute[] InlineStringType = [new("t", "", "inlineStr")];

    private void WriteCells(IReadOnlyList<string> fields)
    {
        var sheet = _sheet!;
        sheet.WriteStartElement(new Row());
        foreach (var field in fields)
        {
            sheet.WriteStartElement(new Cell(), InlineStringType);
            sheet.WriteStartElement(new InlineString());
            var text = new DocumentFormat.OpenXml.Spreadsheet.Text();
            var value = Escape(field ?? "");
            if (value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])))
            {
                sheet.WriteStartElement(text, [new OpenXmlAttribute("xml", "space", "http://www.w3.org/XML/1998/namespace", "preserve")]);
            }
            else
            {
                sheet.WriteStartElement(text);
            }

            sheet.WriteString(value);
            sheet.WriteEndElement();
            sheet.WriteEndElement();
            sheet.WriteEndElement();
        }

        sheet.WriteEndElement();
    }

    /// <summary>
    /// XML cannot carry most control characters; OOXML writes them as _xHHHH_ (ECMA-376 ST_Xstring), and a literal
    /// "_x" that would read as such an escape gets its underscore escaped as _x005F_.
    /// </summary>
    public static string Escape(string value)
    {
        var needs = false;
        foreach (var c in value)
        {
            if ((c < 0x20 && c is not ('\t' or '\n' or '\r')) || c == '_' || c is '\uFFFE' or '\uFFFF')
            {
                needs = true;
                break;
            }
        }

        if (!needs)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 16);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if ((c < 0x20 && c is not ('\t' or '\n' or '\r')) || c is '\uFFFE' or '\uFFFF')
            {
                sb.Append("_x").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture)).Append('_');
            }
            else if (c == '_' && LooksLikeEscape(value, i))
            {
                sb.Append("_x005F_");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static bool LooksLikeEscape(string s, int i) =>
        i + 6 < s.Length && s[i + 1] == 'x' && s[i + 6] == '_' && s.AsSpan(i + 2, 4).ContainsAnyExcept("0123456789abcdefABCDEF") is false;
}
