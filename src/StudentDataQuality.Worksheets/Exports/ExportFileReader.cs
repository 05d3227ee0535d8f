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
    public static FoundFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string sha256;
        Span<byte> head = stackalloc byte[5];
        int headLength;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan))
        {
            sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
            stream.Position = 0;
            headLength = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        head = head[..headLength];
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
