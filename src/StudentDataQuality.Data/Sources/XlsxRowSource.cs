using System.Globalization;
using System.Text;
using ExcelDataReader;

namespace StudentDataQuality.Data.Sources;

/// <summary>
/// Streams the rows of an .xlsx export with ExcelDataReader (never the whole workbook in memory). Every sheet
/// carries its own header row (large exports are split over sheets); its first row is the header. Cells that a
/// spreadsheet typed are turned back into the text a registrar would see: numbers in their shortest exact form
/// (so an ID number stored as a number shows its lost digits, e.g. 2.30102200001011E+17), dates as yyyy-MM-dd,
/// booleans as 1/0.
/// </summary>
public sealed class XlsxRowSource : IRowSource
{
    private readonly IExcelDataReader _reader;
    private readonly FileStream _stream;

    static XlsxRowSource() => System.Text.Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public XlsxRowSource(ProbeResult probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        Name = Path.GetFileName(probe.Path);
        _stream = new FileStream(probe.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            _reader = ExcelReaderFactory.CreateOpenXmlReader(_stream);
            Headers = ReadHeader(1) ?? throw new UserErrorException(new UserMessage("Source.WorkbookNoRows", Name));
        }
        catch (Exception e) when (e is not UserErrorException and (InvalidDataException or IOException or ExcelDataReader.Exceptions.ExcelReaderException
                                      or System.Xml.XmlException))
        {
            _stream.Dispose();
            throw new UserErrorException(new UserMessage("Source.WorkbookUnreadable", Name, e.Message), e);
        }
    }

    public string Kind => "xlsx";

    public string Name { get; }

    public string? Encoding => null;

    public IReadOnlyList<string> Headers { get; private set; }

    public IEnumerable<SourceRow> Rows(CancellationToken cancellationToken)
    {
        short sheet = 1;
        var rowNumber = 1;
        var columnMap = Enumerable.Range(0, Headers.Count).ToArray();
        while (true)
        {
            while (Read())
            {
                cancellationToken.ThrowIfCancellationRequested();
                rowNumber++;
                var values = new string?[Headers.Count];
                var blank = true;
                for (var i = 0; i < _reader.FieldCount; i++)
                {
                    var target = i < columnMap.Length ? columnMap[i] : -1;
                    var text = CellText(_reader.GetValue(i));
                    if (target < 0)
                    {
                        if (!string.IsNullOrWhiteSpace(text))
                        {
                            throw new UserErrorException(new UserMessage("Source.ValueWithoutHeader", Name, _reader.Name, rowNumber, i + 1));
                        }

                        continue;
                    }

                    values[target] = text ?? "";
                    blank &= string.IsNullOrWhiteSpace(text);
                }

                if (!blank)
                {
                    yield return new SourceRow(sheet, rowNumber, values);
                }
            }

            if (!NextSheet())
            {
                yield break;
            }

            sheet++;
            var headers = ReadHeader(sheet);
            if (headers is null)
            {
                continue;
            }

            columnMap = MapSheetColumns(headers, sheet);
            rowNumber = 1;
        }
    }

    private string[]? ReadHeader(short sheet)
    {
        if (!Read())
        {
            return null;
        }

        var headers = new string[_reader.FieldCount];
        for (var i = 0; i < headers.Length; i++)
        {
            headers[i] = CellText(_reader.GetValue(i)) ?? "";
        }

        // Trailing empty header cells are formatting, not columns.
        var count = headers.Length;
        while (count > 0 && string.IsNullOrWhiteSpace(headers[count - 1]))
        {
            count--;
        }

        if (count == 0 && sheet == 1)
        {
            throw new UserErrorException(new UserMessage("Source.FirstRowEmpty", Name));
        }

        return headers[..count];
    }

    /// <summary>Later sheets must carry the same columns as the first (in any order).</summary>
    private int[] MapSheetColumns(string[] headers, short sheet)
    {
        var map = new int[headers.Length];
        for (var i = 0; i < headers.Length; i++)
        {
            map[i] = Headers.ToList().FindIndex(h => string.Equals(h, headers[i], StringComparison.Ordinal));
            if (map[i] < 0)
            {
                throw new UserErrorException(new UserMessage("Source.SheetExtraColumn", Name, sheet, _reader.Name, headers[i]));
            }
        }

        return map;
    }

    private bool Read() => Guard(() => _reader.Read());

    private bool NextSheet() => Guard(() => _reader.NextResult());

    private bool Guard(Func<bool> step)
    {
        try
        {
            return step();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ExcelDataReader.Exceptions.ExcelReaderException or System.Xml.XmlException)
        {
            throw new UserErrorException(new UserMessage("Source.WorkbookTruncated", Name, e.Message), e);
        }
    }

    private static string? CellText(object? value) => value switch
    {
        null => null,
        string s => s,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => t.TimeOfDay == TimeSpan.Zero ? t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        bool b => b ? "1" : "0",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }
}
