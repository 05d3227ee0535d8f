using StudentDataQuality.Exports;

namespace StudentDataQuality.Worksheets.Exports;

// The watermark writers and readers (docs/exports.md, "Watermarks, in the files"):
//   XlsxWatermark.cs    an .xlsx's document properties, header/footer on every worksheet, very hidden sheet
//   PdfWatermark.cs     a PDF's footer line (drawn by ConfirmationSheetPdf) and its document information
//   ExportSidecar.cs    <file>.export.json beside a file that cannot carry one inside (.csv, PROV-JSON)
//   ExportFileReader.cs what a found file says about itself, for `sdq export identify`
//   WatermarkText.cs    the watermark's line, in Chinese or English, and its reading back

/// <summary>What a found file says about itself: its watermark (null: none or stripped), and the sha256 of its bytes.</summary>
/// <param name="WatermarkFrom">
/// Where the watermark was read: "properties", "hidden sheet", "header" (an .xlsx), "pdf metadata", "pdf footer" (a PDF), or
/// "sidecar"; null when there is none.
/// </param>
public sealed record FoundFile(string Path, string Sha256, Watermark? Watermark, string? WatermarkFrom);
