using System.Text;

namespace StudentDataQuality.Synthetic;

/// <summary>RFC 4180 CSV as the national system writes it: CRLF line ends, quotes only where needed.</summary>
internal sealed class CsvExportWriter : IDisposable
{
    private static readonly char[] NeedsQuotes = [',', '"', '\r', '\n'];
    private readonly StreamWriter _writer;

    public CsvExportWriter(string path, Encoding encoding)
    {
        _writer = new StreamWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16), encoding, 1 << 16)
        {
            NewLine = "\r\n",
        };
    }

    public static Encoding EncodingFor(ExportEncoding encoding)
    {
        switch (encoding)
        {
            case ExportEncoding.Utf8:
                return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
            case ExportEncoding.Utf8Bom:
                return new UTF8Encoding(encoderShouldEmitUTF8Identifier: true, throwOnInvalidBytes: true);
            case ExportEncoding.Gb18030:
                Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
                return Encoding.GetEncoding(54936);
            default:
                throw new ArgumentOutOfRangeException(nameof(encoding), encoding, "Unknown export encoding.");
        }
    }

    public void WriteRow(IReadOnlyList<string> fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                _writer.Write(',');
            }

            var field = fields[i] ?? "";
            if (field.AsSpan().IndexOfAny(NeedsQuotes) < 0)
            {
                _writer.Write(field);
                continue;
            }

            _writer.Write('"');
            _writer.Write(field.Replace("\"", "\"\"", StringComparison.Ordinal));
            _writer.Write('"');
        }

        _writer.WriteLine();
    }

    public void Dispose() => _writer.Dispose();
}
