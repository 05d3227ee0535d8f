using nietras.SeparatedValues;

namespace StudentDataQuality.Data.Sources;

/// <summary>
/// Streams a CSV export (RFC 4180: quoted fields may hold commas, quotes and line breaks; CRLF or LF) in the
/// encoding the probe found. Rows with more or fewer fields than the header are kept as they are (missing fields
/// are null): they become findings later, they are never dropped. A file that ends inside a quoted field, or whose
/// last row is short and has no line end, was cut off, and is refused.
/// </summary>
public sealed class CsvRowSource : IRowSource
{
    private readonly ProbeResult _probe;
    private readonly StreamReader _reader;
    private readonly SepReader _sep;

    public CsvRowSource(ProbeResult probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        _probe = probe;
        Name = Path.GetFileName(probe.Path);
        _reader = new StreamReader(probe.Path, probe.TextEncoding!, detectEncodingFromByteOrderMarks: false,
            new FileStreamOptions { BufferSize = 1 << 20, Options = FileOptions.SequentialScan });
        if (_reader.Peek() == '\uFEFF')
        {
            _reader.Read();
        }

        _sep = Sep.New(',').Reader(o => o with { HasHeader = false, DisableColCountCheck = true }).From(_reader);
        if (!_sep.MoveNext())
        {
            throw new UserErrorException(new UserMessage("Source.Empty", Name));
        }

        var header = _sep.Current;
        var headers = new string[header.ColCount];
        for (var i = 0; i < headers.Length; i++)
        {
            headers[i] = Unquote(header[i].Span, 1);
        }

        Headers = headers;
    }

    public string Kind => "csv";

    public string Name { get; }

    public string? Encoding => _probe.TextEncoding is { CodePage: 54936 } ? "GB18030" : "UTF-8";

    public IReadOnlyList<string> Headers { get; }

    public IEnumerable<SourceRow> Rows(CancellationToken cancellationToken)
    {
        var rowNumber = 1;
        var width = Headers.Count;
        string?[]? previous = null;
        var previousNumber = 0;
        while (_sep.MoveNext())
        {
            cancellationToken.ThrowIfCancellationRequested();
            rowNumber++;
            var (values, columnCount, blank) = ReadCurrent(width, rowNumber);
            if (blank)
            {
                continue;
            }

            if (previous is not null)
            {
                yield return new SourceRow(null, previousNumber, previous);
            }

            previous = values;
            previousNumber = rowNumber;
            if (columnCount < width)
            {
                // Only the very last row may be cut off; keep it back until we know whether more follows.
                continue;
            }

            yield return new SourceRow(null, previousNumber, previous);
            previous = null;
        }

        if (previous is not null)
        {
            var present = previous.Count(v => v is not null);
            if (!_probe.EndsWithLineBreak)
            {
                throw new UserErrorException(new UserMessage("Source.CsvCutOffShortRow", Name, previousNumber, present, width));
            }

            yield return new SourceRow(null, previousNumber, previous);
        }
    }

    private (string?[] Values, int ColumnCount, bool Blank) ReadCurrent(int width, int rowNumber)
    {
        var row = _sep.Current;
        var values = new string?[Math.Max(width, row.ColCount)];
        var blank = true;
        for (var i = 0; i < row.ColCount; i++)
        {
            var value = Unquote(row[i].Span, rowNumber);
            values[i] = value;
            blank &= string.IsNullOrWhiteSpace(value);
        }

        return (values, row.ColCount, blank);
    }

    /// <summary>
    /// The text of a field: a quoted field loses its outer quotes and its doubled inner quotes. An odd number of
    /// quotes in a quoted field means it was opened and never closed, which the parser only lets happen at the end
    /// of the file: the file was cut off.
    /// </summary>
    private string Unquote(ReadOnlySpan<char> raw, int rowNumber)
    {
        if (raw.IsEmpty)
        {
            return "";
        }

        if (raw[0] != '"')
        {
            // A quote inside a value that is not enclosed in quotes makes the parser read on, across commas and line
            // ends, to the next quote: the rows in between would be merged into this value. Refuse, naming the row.
            if (raw.Contains('"') && raw.ContainsAny(',', '\n', '\r'))
            {
                throw new UserErrorException(new UserMessage("Source.CsvStrayQuote", Name, rowNumber));
            }

            return new string(raw);
        }

        if (raw.Count('"') % 2 == 1)
        {
            throw new UserErrorException(new UserMessage("Source.CsvCutOffInQuote", Name, rowNumber));
        }

        if (raw[^1] != '"')
        {
            // "abc"def: not valid CSV, kept exactly as written so that a rule reports it.
            return new string(raw);
        }

        return raw[1..^1].ToString().Replace("\"\"", "\"", StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _sep.Dispose();
        _reader.Dispose();
    }
}
