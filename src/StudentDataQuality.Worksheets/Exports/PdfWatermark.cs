using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using PdfSharp.Drawing;
using PdfSharp.Pdf;
using PdfSharp.Pdf.Content;
using PdfSharp.Pdf.Content.Objects;
using PdfSharp.Pdf.IO;
using StudentDataQuality.Exports;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// The watermark of a PDF (docs/exports.md, "Watermarks, in the files"): a small line at the foot of every page, below the
/// page's own footer, and the export's fields in the document information (custom keys <c>/SdqExportId</c>,
/// <c>/SdqTakenBy</c>, <c>/SdqTakenAt</c>, <c>/SdqPurpose</c>, <c>/SdqKind</c>, <c>/SdqForm</c>; the keywords name the export
/// id). The exporter's name and the purpose are staff data: a student's data never goes into the metadata.
/// </summary>
public static partial class PdfWatermark
{
    public const string ExportIdKey = "/SdqExportId";
    public const string TakenByKey = "/SdqTakenBy";
    public const string TakenAtKey = "/SdqTakenAt";
    public const string PurposeKey = "/SdqPurpose";
    public const string KindKey = "/SdqKind";
    public const string FormKey = "/SdqForm";

    /// <summary>A practice database's PDF (<see cref="Watermark.Practice"/>): the key holds <see cref="Watermark.PracticeLabel"/>.</summary>
    public const string PracticeKey = "/SdqPractice";

    /// <summary>A4 in points, and the margin every confirmation sheet keeps (SheetPage).</summary>
    private const double PageWidth = 595.28;
    private const double PageHeight = 841.89;
    private const double Margin = 42;

    /// <summary>Puts the watermark's fields into the document's information (the keywords: the export id).</summary>
    public static void Stamp(PdfDocument document, Watermark watermark)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(watermark);
        var id = ExportId.Format(watermark.ExportId);
        document.Info.Keywords = id;
        var info = document.Info.Elements;
        info[ExportIdKey] = new PdfString(id);
        info[TakenByKey] = new PdfString(WatermarkText.OneLine(watermark.TakenBy), PdfStringEncoding.Unicode);
        info[TakenAtKey] = new PdfString(watermark.TakenAt.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture));
        info[PurposeKey] = new PdfString(WatermarkText.OneLine(watermark.Purpose), PdfStringEncoding.Unicode);
        info[KindKey] = new PdfString(ExportKinds.Name(watermark.Kind));
        info[FormKey] = new PdfString(ExportKinds.Name(watermark.Form));
        if (watermark.Practice)
        {
            info[PracticeKey] = new PdfString(Watermark.PracticeLabel, PdfStringEncoding.Unicode);
        }
    }

    /// <summary>
    /// Draws the watermark's line at the foot of an A4 page, below the sheet's footer, across the width between the margins:
    /// one line, shrunk to fit, and cut (the purpose's end) with "…" when it is still too long.
    /// </summary>
    internal static void DrawLine(XGraphics graphics, Watermark watermark, WorksheetLanguage language)
    {
        var text = new SheetTextFit(graphics);
        text.Draw(WatermarkText.Line(watermark, language), new XRect(Margin, PageHeight - 15, PageWidth - (2 * Margin), 9), 6.5, 5);
        if (watermark.Practice)
        {
            // A practice file's banner across the top of every page, above the sheet's margin: large, framed in red.
            var banner = new XRect(Margin, 6, PageWidth - (2 * Margin), 30);
            graphics.DrawRectangle(new XPen(XColor.FromArgb(192, 0, 0), 2), banner);
            text.Draw(Watermark.PracticeLabel, new XRect(banner.Left, banner.Top + 4, banner.Width, banner.Height - 6), 18, 12, centre: true);
        }
    }

    /// <summary>The watermark a PDF's document information holds, or null (no such keys, or not a PDF PDFsharp can open).</summary>
    public static Watermark? Read(string path) => ReadWithSource(path)?.Watermark;

    /// <summary>
    /// The watermark from the document information ("pdf metadata"), else from the line at the foot of a page ("pdf footer"),
    /// or null: no watermark, or not a PDF PDFsharp can open.
    /// </summary>
    internal static (Watermark Watermark, string From)? ReadWithSource(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var document = PdfReader.Open(path, PdfDocumentOpenMode.Import);
            if (FromInformation(document) is { } information)
            {
                return (information, "pdf metadata");
            }

            return FromFooter(document) is { } footer ? (footer, "pdf footer") : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A found file can be anything, and PDFsharp's reader fails on a damaged one in many ways (its own exceptions,
            // InvalidOperationException, IndexOutOfRangeException…): a file it cannot open carries no watermark it can read.
            return null;
        }
    }

    private static Watermark? FromInformation(PdfDocument document)
    {
        var info = document.Info.Elements;
        string? Get(string key) => info.ContainsKey(key) ? info.GetString(key) : null;
        if (ExportId.Normalise(Get(ExportIdKey)) is not { } id ||
            ExportKinds.ParseKind(Get(KindKey)) is not { } kind ||
            ExportKinds.ParseForm(Get(FormKey)) is not { } form ||
            !DateTimeOffset.TryParse(Get(TakenAtKey), CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
        {
            return null;
        }

        return new Watermark(id, Get(TakenByKey) ?? "", at, Get(PurposeKey) ?? "", kind, form);
    }

    /// <summary>
    /// The watermark's line as drawn on a page, when the document information was stripped: each text the page shows
    /// (Tj / TJ) decoded through its font's ToUnicode map (the CJK font is embedded as glyph ids), read as a watermark line.
    /// </summary>
    private static Watermark? FromFooter(PdfDocument document)
    {
        foreach (var page in document.Pages)
        {
            var maps = new Dictionary<string, Dictionary<int, string>>(StringComparer.Ordinal);
            if (page.Elements.GetDictionary("/Resources")?.Elements.GetDictionary("/Font") is { } fonts)
            {
                foreach (var name in fonts.Elements.Keys)
                {
                    if (fonts.Elements.GetDictionary(name)?.Elements.GetDictionary("/ToUnicode")?.Stream?.UnfilteredValue is { } cmap)
                    {
                        maps[name] = ToUnicode(Encoding.Latin1.GetString(cmap));
                    }
                }
            }

            Dictionary<int, string>? font = null;
            foreach (var op in ContentReader.ReadContent(page).OfType<COperator>())
            {
                if (op.OpCode.Name == "Tf" && op.Operands.Count > 0 && op.Operands[0] is CName fontName)
                {
                    font = maps.GetValueOrDefault(fontName.Name);
                }
                else if (font is not null && op.OpCode.Name is "Tj" or "TJ")
                {
                    var text = new StringBuilder();
                    foreach (var s in op.Operands.SelectMany(o => o is CArray array ? array.OfType<CString>() : o is CString one ? [one] : []))
                    {
                        var value = s.Value;
                        for (var i = 0; i + 1 < value.Length; i += 2)
                        {
                            text.Append(font.GetValueOrDefault(((value[i] & 0xFF) << 8) | (value[i + 1] & 0xFF), ""));
                        }
                    }

                    if (WatermarkText.Parse(text.ToString()) is { } watermark)
                    {
                        return watermark;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>A ToUnicode CMap's two-byte codes and their text (bfchar and bfrange, ISO 32000-1 9.10.3).</summary>
    private static Dictionary<int, string> ToUnicode(string cmap)
    {
        var map = new Dictionary<int, string>();
        static string Utf16(string hex) => Encoding.BigEndianUnicode.GetString(Convert.FromHexString(hex.Length % 4 == 0 ? hex : hex.PadLeft(4, '0')));
        static int Code(string hex) => int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        foreach (Match block in BfChar().Matches(cmap))
        {
            foreach (Match pair in HexPair().Matches(block.Groups[1].Value))
            {
                map[Code(pair.Groups[1].Value)] = Utf16(pair.Groups[2].Value);
            }
        }

        foreach (Match block in BfRange().Matches(cmap))
        {
            foreach (Match range in HexRange().Matches(block.Groups[1].Value))
            {
                var (low, high) = (Code(range.Groups[1].Value), Code(range.Groups[2].Value));
                if (high < low || high - low > 0xFFFF)
                {
                    continue;
                }

                if (range.Groups[3].Success)
                {
                    var first = Utf16(range.Groups[3].Value);
                    for (var code = low; code <= high; code++)
                    {
                        map[code] = first[..^1] + (char)(first[^1] + (code - low));
                    }
                }
                else
                {
                    var targets = HexString().Matches(range.Groups[4].Value);
                    for (var i = 0; i < targets.Count && low + i <= high; i++)
                    {
                        map[low + i] = Utf16(targets[i].Groups[1].Value);
                    }
                }
            }
        }

        return map;
    }

    [GeneratedRegex(@"beginbfchar(.*?)endbfchar", RegexOptions.Singleline)]
    private static partial Regex BfChar();

    [GeneratedRegex(@"beginbfrange(.*?)endbfrange", RegexOptions.Singleline)]
    private static partial Regex BfRange();

    [GeneratedRegex(@"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")]
    private static partial Regex HexPair();

    [GeneratedRegex(@"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(?:<([0-9A-Fa-f]+)>|\[([^\]]*)\])")]
    private static partial Regex HexRange();

    [GeneratedRegex(@"<([0-9A-Fa-f]+)>")]
    private static partial Regex HexString();
}
