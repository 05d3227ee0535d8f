using System.Globalization;
using PdfSharp.Drawing;
using PdfSharp.Pdf;
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
public static class PdfWatermark
{
    public const string ExportIdKey = "/SdqExportId";
    public const string TakenByKey = "/SdqTakenBy";
    public const string TakenAtKey = "/SdqTakenAt";
    public const string PurposeKey = "/SdqPurpose";
    public const string KindKey = "/SdqKind";
    public const string FormKey = "/SdqForm";

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
    }

    /// <summary>
    /// Draws the watermark's line at the foot of an A4 page, below the sheet's footer, across the width between the margins:
    /// one line, shrunk to fit, and cut (the purpose's end) with "…" when it is still too long.
    /// </summary>
    internal static void DrawLine(XGraphics graphics, Watermark watermark, WorksheetLanguage language)
    {
        var text = new SheetTextFit(graphics);
        text.Draw(WatermarkText.Line(watermark, language), new XRect(Margin, PageHeight - 15, PageWidth - (2 * Margin), 9), 6.5, 5);
    }

    /// <summary>The watermark a PDF's document information holds, or null (no such keys, or not a PDF PDFsharp can open).</summary>
    public static Watermark? Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var document = PdfReader.Open(path, PdfDocumentOpenMode.Import);
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
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A found file can be anything, and PDFsharp's reader fails on a damaged one in many ways (its own exceptions,
            // InvalidOperationException, IndexOutOfRangeException…): a file it cannot open carries no watermark it can read.
            return null;
        }
    }
}
