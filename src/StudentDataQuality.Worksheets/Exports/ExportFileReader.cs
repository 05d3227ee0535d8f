using StudentDataQuality.Exports;
using System.Security.Cryptography;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// Reads a found file for <c>sdq export identify</c>: an .xlsx's or .pdf's own watermark, else a sidecar next to it, and in
/// every case the sha256 of its bytes (what the register finds a file by when its watermark was removed). The file is
/// recognised by its first bytes, not its name (a renamed file is still what it is); one that is no readable package or
/// PDF is a found file like any other: its watermark is null, never an error.
/// </summary>
public static class ExportFileReader
{
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <summary>The largest found file whose watermark is read (larger ones are known by their sha256 only).</summary>
    public const long MaxParsedBytes = 1L << 30;

    public static FoundFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string sha256;
        Span<byte> head = stackalloc byte[5];
        int headLength;
        long length;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan))
        {
            sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
            length = stream.Length;
            stream.Position = 0;
            headLength = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        // Only its bytes are hashed of a file larger than any export (a PDF is parsed whole in memory).
        head = length > MaxParsedBytes ? [] : head[..headLength];
        (Watermark Watermark, string From)? found = null;
        if (head.StartsWith("PK\u0003\u0004"u8))
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            found = XlsxWatermark.ReadWithSource(stream);
        }
        else if (head.StartsWith("%PDF-"u8))
        {
            found = PdfWatermark.ReadWithSource(path);
        }

        if (found is null && ExportSidecar.Read(ExportSidecar.PathFor(path)) is { } sidecar)
        {
            found = (sidecar.Watermark, "sidecar");
        }

        return new FoundFile(path, sha256, found?.Watermark, found?.From);
    }
}
