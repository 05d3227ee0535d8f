using System.Globalization;
using System.Text;
using nietras.SeparatedValues;
using StudentDataQuality.Files;
using StudentDataQuality.Text;

namespace StudentDataQuality.Data.Files;

/// <summary>
/// The one writer of every CSV the project writes for people (change sets, manifests, reminders, account lists): UTF-8
/// with a byte order mark (so that Excel reads the Chinese), CRLF, RFC 4180 quoting (a field with a comma, quote or line
/// break in quotes, a quote doubled), on Sep. Every field is text, and text that a spreadsheet would take for a formula
/// is written with a leading apostrophe (<see cref="FormulaText"/>, OWASP "CSV injection"): a value of the registry such as
/// <c>=HYPERLINK(…)</c> arrives in Excel as the text it was. A file is owner-only (<see cref="OwnerOnly"/>).
/// </summary>
/// <remarks>
/// The synthetic generator's registry export (StudentDataQuality.Synthetic) does not use it: it simulates the registry,
/// an outside system whose files may hold such values raw, and tests need them raw.
/// </remarks>
public sealed class CsvTableWriter : IDisposable
{
    private readonly TextWriter _text;
    private readonly bool _ownsText;
    private readonly SepWriter _sep;

    /// <summary>Writes to <paramref name="text"/> (left open), lines ended with its <see cref="TextWriter.NewLine"/>.</summary>
    public CsvTableWriter(TextWriter text)
        : this(text, ownsText: false)
    {
    }

    private CsvTableWriter(TextWriter text, bool ownsText)
    {
        ArgumentNullException.ThrowIfNull(text);
        _text = text;
        _ownsText = ownsText;
        _sep = Sep.New(',').Writer(o => o with { WriteHeader = false, Escape = true, CultureInfo = CultureInfo.InvariantCulture }).To(text, leaveOpen: true);
    }

    /// <summary>A new or replaced file, owner-only, its folder created owner-only when missing.</summary>
    /// <param name="mode"><see cref="FileMode.CreateNew"/> refuses a file that exists (an <see cref="IOException"/>).</param>
    public static CsvTableWriter Create(string path, FileMode mode = FileMode.Create) =>
        new(new StreamWriter(OwnerOnly.Create(path, mode), new UTF8Encoding(encoderShouldEmitUTF8Identifier: true)) { NewLine = "\r\n" }, ownsText: true);

    /// <summary>The whole table as the text of a file (without the byte order mark), for callers that hash or hold it before writing.</summary>
    public static string Text(IEnumerable<IEnumerable<string?>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\r\n" };
        using (var writer = new CsvTableWriter(text))
        {
            foreach (var row in rows)
            {
                writer.WriteRow(row);
            }
        }

        return text.ToString();
    }

    /// <summary>One line; null is written as an empty field. Every line of a table has the same number of fields.</summary>
    public void WriteRow(IEnumerable<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var row = _sep.NewRow();
        var column = 0;
        foreach (var value in values)
        {
            row[column++].Set(FormulaText.Neutralise(value ?? ""));
        }
    }

    /// <summary>One line of whole numbers and text (numbers in the invariant culture; a number is never taken for a formula).</summary>
    public void WriteRow(params object?[] values) =>
        WriteRow(values.Select(v => v is null ? null : Convert.ToString(v, CultureInfo.InvariantCulture)));

    public void Dispose()
    {
        _sep.Dispose();
        _text.Flush();
        if (_ownsText)
        {
            _text.Dispose();
        }
    }
}
