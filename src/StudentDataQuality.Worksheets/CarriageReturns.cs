using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Keeps a carriage return inside an issued value. ClosedXML 0.95.4 writes a CR in a string as a raw CR, which every
/// XML parser reads back as a line feed (XML 1.0 section 2.11), so such a value would not come back as issued. Excel
/// writes it as the escape <c>_x000D_</c> (ECMA-376 ST_Xstring). The writer puts a sentinel character in place of each
/// CR, which ClosedXML escapes as <c>_xFFFF_</c> (it is not an XML character), and this class turns that escape into
/// <c>_x000D_</c> in the saved shared strings. Only files with such a value (bad extracts, rule S02) take this path.
/// </summary>
internal static partial class CarriageReturns
{
    private const string SharedStringsPart = "xl/sharedStrings.xml";

    /// <summary>
    /// A sentinel for the CRs of these texts: a non-character that none of them contains; null when no text has a CR.
    /// </summary>
    public static char? ChooseSentinel(IEnumerable<string?> texts)
    {
        bool cr = false, ffff = false, fffe = false;
        foreach (var text in texts)
        {
            if (text is null)
            {
                continue;
            }

            cr |= text.Contains('\r', StringComparison.Ordinal);
            ffff |= text.Contains('\uFFFF', StringComparison.Ordinal);
            fffe |= text.Contains('\uFFFE', StringComparison.Ordinal);
        }

        if (!cr)
        {
            return null;
        }

        return !ffff ? '\uFFFF'
            : !fffe ? '\uFFFE'
            : throw new NotSupportedException(
                "The worksheet's values hold carriage returns and both non-characters U+FFFE and U+FFFF; such values cannot be written exactly.");
    }

    /// <summary>Rewrites the escaped sentinel as an escaped CR in the shared strings of a saved package.</summary>
    /// <summary>
    /// Saves a workbook written with <paramref name="sentinel"/> in place of carriage returns (none: as it is), putting
    /// the carriage returns back as <c>_x000D_</c>. Formulas are never evaluated on the server.
    /// </summary>
    public static void Save(ClosedXML.Excel.XLWorkbook workbook, Stream output, char? sentinel)
    {
        var options = new ClosedXML.Excel.SaveOptions { EvaluateFormulasBeforeSaving = false, GenerateCalculationChain = false, ValidatePackage = false };
        if (sentinel is not { } character)
        {
            workbook.SaveAs(output, options);
            return;
        }

        using var buffer = new MemoryStream();
        workbook.SaveAs(buffer, options);
        Restore(buffer, character);
        buffer.Position = 0;
        buffer.CopyTo(output);
    }

    public static void Restore(Stream package, char sentinel)
    {
        using var zip = new ZipArchive(package, ZipArchiveMode.Update, leaveOpen: true);
        var entry = zip.GetEntry(SharedStringsPart)
            ?? throw new InvalidOperationException($"The saved workbook has no {SharedStringsPart}, though a value with a carriage return was written.");
        string xml;
        using (var reader = new StreamReader(entry.Open(), Encoding.UTF8))
        {
            xml = reader.ReadToEnd();
        }

        var token = $"{(int)sentinel:X4}";
        // Escapes are read left to right, so the escaped underscore of a literal "_xFFFF_" (written _x005F_xFFFF_) is
        // consumed first and its tail never matches.
        var fixedXml = Escape().Replace(xml, m => string.Equals(m.Groups[1].Value, token, StringComparison.OrdinalIgnoreCase) ? "_x000D_" : m.Value);
        entry.Delete();
        var replacement = zip.CreateEntry(SharedStringsPart, CompressionLevel.Fastest);
        using var writer = new StreamWriter(replacement.Open(), new UTF8Encoding(false));
        writer.Write(fixedXml);
    }

    [GeneratedRegex("_x([0-9A-Fa-f]{4})_", RegexOptions.CultureInvariant)]
    private static partial Regex Escape();
}
