using System.IO.Compression;
using System.Security;
using System.Text;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// Writes a minimal .xlsx by hand (the OOXML parts a reader needs), independent of the project's writers, so that
/// tests control exactly how each cell is typed: a string becomes an inline string, a double a number cell.
/// </summary>
public static class MiniXlsx
{
    public static void Write(string path, IEnumerable<object?[]> rows)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        Entry(zip, "[Content_Types].xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
            <Default Extension="xml" ContentType="application/xml"/>
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
            <Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
            </Types>
            """);
        Entry(zip, "_rels/.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
            </Relationships>
            """);
        Entry(zip, "xl/workbook.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <sheets><sheet name="学生" sheetId="1" r:id="rId1"/></sheets>
            </workbook>
            """);
        Entry(zip, "xl/_rels/workbook.xml.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
            </Relationships>
            """);
        var sheet = new StringBuilder("""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>""");
        var r = 0;
        foreach (var row in rows)
        {
            r++;
            sheet.Append($"<row r=\"{r}\">");
            for (var c = 0; c < row.Length; c++)
            {
                var reference = Column(c) + r;
                switch (row[c])
                {
                    case null:
                        break;
                    case double d:
                        sheet.Append($"<c r=\"{reference}\"><v>{d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}</v></c>");
                        break;
                    case string s:
                        sheet.Append($"<c r=\"{reference}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{Escape(s)}</t></is></c>");
                        break;
                }
            }

            sheet.Append("</row>");
        }

        sheet.Append("</sheetData></worksheet>");
        Entry(zip, "xl/worksheets/sheet1.xml", sheet.ToString());
    }

    /// <summary>XML escaping, with characters XML cannot carry written as OOXML's _xHHHH_ escapes.</summary>
    private static string Escape(string value)
    {
        var escaped = new StringBuilder();
        foreach (var ch in value)
        {
            escaped.Append(ch < 0x20 && ch is not ('\t' or '\n' or '\r') ? $"_x{(int)ch:X4}_" : SecurityElement.Escape(ch.ToString()));
        }

        return escaped.ToString();
    }

    private static string Column(int index) => index < 26 ? ((char)('A' + index)).ToString() : Column((index / 26) - 1) + (char)('A' + (index % 26));

    private static void Entry(ZipArchive zip, string name, string content)
    {
        using var writer = new StreamWriter(zip.CreateEntry(name).Open(), new UTF8Encoding(false));
        writer.Write(content.Trim());
    }
}
