using StudentDataQuality.Exports;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// The watermark of an .xlsx (docs/exports.md, "Watermarks"), written into the package as it is, whoever made it: the
/// export's fields as custom document properties (<c>sdq.ExportId</c>, <c>sdq.TakenBy</c>, <c>sdq.TakenAt</c>,
/// <c>sdq.Purpose</c>, <c>sdq.Kind</c>, <c>sdq.Form</c>), one line in the header/footer of every sheet, and a very hidden
/// sheet that holds them too. The workbook's own sheets, cells and signatures are left byte for byte.
/// </summary>
public static class XlsxWatermark
{
    /// <summary>The workbook with the watermark added (an earlier watermark replaced).</summary>
    public static byte[] Apply(byte[] xlsx, Watermark watermark, WorksheetLanguage language = WorksheetLanguage.Chinese) =>
        throw new NotImplementedException();

    /// <summary>The watermark an .xlsx carries (from its properties, else its very hidden sheet, else its header/footer), or null.</summary>
    public static Watermark? Read(Stream xlsx) => throw new NotImplementedException();
}

/// <summary>
/// The watermark of a file that cannot carry one inside without breaking its reader (the registry's CSV import, PROV-JSON):
/// a sidecar <c>&lt;file&gt;.export.json</c> next to it, with the export's fields and the file's sha256 and rows.
/// </summary>
public static class ExportSidecar
{
    public const string Suffix = ".export.json";

    public static string PathFor(string file) => file + Suffix;

    /// <summary>Writes the sidecar next to <paramref name="file"/> (owner-only, like the file).</summary>
    public static void Write(string file, Watermark watermark, string sha256, int rows, IReadOnlyList<string> fields) =>
        throw new NotImplementedException();

    /// <summary>The watermark and sha256 a sidecar holds, or null when it is not one.</summary>
    public static (Watermark Watermark, string Sha256)? Read(string sidecarPath) => throw new NotImplementedException();
}

/// <summary>What a found file says about itself: its watermark (null: none or stripped), and the sha256 of its bytes.</summary>
public sealed record FoundFile(string Path, string Sha256, Watermark? Watermark, string? WatermarkFrom);

/// <summary>
/// Reads a found file for <c>sdq export identify</c>: an .xlsx's or .pdf's own watermark, else a sidecar next to it, and in
/// every case the sha256 of its bytes (what the register finds a file by when its watermark was removed).
/// </summary>
public static class ExportFileReader
{
    public static FoundFile Read(string path) => throw new NotImplementedException();
}
