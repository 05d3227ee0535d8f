using System.IO.Compression;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Spreadsheet;

namespace StudentDataQuality.Synthetic;

/// <summary>
/// Streams the student rows into an xlsx workbook with OpenXmlWriter (SAX): every cell an inline string, so an
/// 18-digit ID keeps all its digits; a new sheet every 1,000,000 rows (Excel's limit is 1,048,576), each with the header.
/// The zip is written with ZipArchive in Create mode, one part after the other: OpenXml SDK 2.20 on System.IO.Packaging
/// refuses write-only packages, and a read-write package keeps every part in memory (gigabytes for a province).
/// Entry timestamps are fixed so the same rows give the same bytes.
/// </summary>
internal sealed class XlsxExportWriter : IDisposable
{
    public const int RowsPerSheet = 1_000_000;

    private static readonly DateTimeOffset FixedTime = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ZipArchive _zip;
    private readonly IReadOnlyList<string> _header;
    private int _sheets;
    private Stream? _sheetStream;
    private OpenXmlWriter? _sheet;
    private int _rowsInSheet;

    public XlsxExportWriter(string path, IReadOnlyList<string> header)
    {
        _header = header;
        _zip = new ZipArchive(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16), ZipArchiveMode.Create);
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
        using (var stream = Entry("xl/workbook.xml"))
        using (var writer = OpenXmlWriter.Create(stream, new UTF8Encoding(false)))
        {
            writer.WriteStartElement(new Workbook(), [], [new KeyValuePair<string, string>("r", RelationshipNamespace)]);
            writer.WriteStartElement(new Sheets());
            for (var i = 1; i <= _sheets; i++)
            {
                writer.WriteElement(new Sheet { Name = i == 1 ? "学生" : $"学生{i}", SheetId = (uint)i, Id = $"rId{i}" });
            }

            writer.WriteEndElement();
            writer.WriteEndElement();
        }

        var sheets = Enumerable.Range(1, _sheets).ToArray();
        WriteText("xl/_rels/workbook.xml.rels", Relationships(sheets.Select(i =>
            ($"rId{i}", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet", $"worksheets/sheet{i}.xml"))));
        WriteText("_rels/.rels", Relationships([("rId1", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument", "xl/workbook.xml")]));
        var overrides = string.Concat(sheets.Select(i =>
            $"<Override PartName=\"/xl/worksheets/sheet{i}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"));
        WriteText("[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
            + "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
            + "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
            + "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
            + "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
            + overrides + "</Types>");
        _zip.Dispose();
    }

    private const string RelationshipNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    private static string Relationships(IEnumerable<(string Id, string Type, string Target)> items) =>
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
        + "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        + string.Concat(items.Select(r => $"<Relationship Id=\"{r.Id}\" Type=\"{r.Type}\" Target=\"{r.Target}\"/>"))
        + "</Relationships>";

    private Stream Entry(string name)
    {
        var entry = _zip.CreateEntry(name, CompressionLevel.Fastest);
        entry.LastWriteTime = FixedTime;
        return entry.Open();
    }

    private void WriteText(string name, string content)
    {
        using var stream = Entry(name);
        var bytes = new UTF8Encoding(false).GetBytes(content);
        stream.Write(bytes);
    }

    private void StartSheet()
    {
        EndSheet();
        _sheets++;
        _sheetStream = Entry($"xl/worksheets/sheet{_sheets}.xml");
        _sheet = OpenXmlWriter.Create(_sheetStream, new UTF8Encoding(false));
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
        _sheetStream!.Dispose();
        _sheet = null;
        _sheetStream = null;
    }

    private static readonly OpenXmlAttribute[] InlineStringType = [new("t", "", "inlineStr")];
    private static readonly OpenXmlAttribute[] PreserveSpace = [new("xml", "space", "http://www.w3.org/XML/1998/namespace", "preserve")];

    // The writer only reads an element's name: one instance of each serves every cell (81 million of them for 3M rows).
    private readonly Row _row = new();
    private readonly Cell _cell = new();
    private readonly InlineString _inline = new();
    private readonly DocumentFormat.OpenXml.Spreadsheet.Text _text = new();

    private void WriteCells(IReadOnlyList<string> fields)
    {
        var sheet = _sheet!;
        sheet.WriteStartElement(_row);
        foreach (var field in fields)
        {
            sheet.WriteStartElement(_cell, InlineStringType);
            sheet.WriteStartElement(_inline);
            var value = Escape(field ?? "");
            if (value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])))
            {
                sheet.WriteStartElement(_text, PreserveSpace);
            }
            else
            {
                sheet.WriteStartElement(_text);
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
