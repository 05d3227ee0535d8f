using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

namespace StudentDataQuality.Data.Sources;

/// <summary>What a first pass over a file found: its fingerprint, its kind and (for text) its encoding.</summary>
public sealed record ProbeResult(string Path, string Sha256, long Length, string Kind, Encoding? TextEncoding, bool EndsWithLineBreak);

/// <summary>
/// Reads a file once, front to back, before anything is staged: the sha256 (the idempotency key), the kind
/// (xlsx or CSV text; anything else is refused with what it looks like), and for text the encoding — strict
/// UTF-8 (with or without BOM), else strict GB18030, else a refusal that says where decoding broke.
/// </summary>
public static class SourceProbe
{
    private const int BufferSize = 1 << 20;

    public static Encoding Gb18030 { get; } = GetGb18030();

    public static ProbeResult Probe(string path)
    {
        var fileName = System.IO.Path.GetFileName(path);
        if (!File.Exists(path))
        {
            throw new UserErrorException(new UserMessage("Source.NoSuchFile", path));
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        var head = new byte[8];
        var headLength = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        if (stream.Length == 0 || (headLength == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF))
        {
            throw new UserErrorException(new UserMessage("Source.Empty", fileName));
        }

        if (head[0] == 0xD0 && head[1] == 0xCF && head[2] == 0x11 && head[3] == 0xE0)
        {
            throw new UserErrorException(new UserMessage("Source.OldExcel", fileName));
        }

        if (head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
        {
            var sha = Sha256Of(stream);
            CheckWorkbook(path, fileName);
            return new ProbeResult(path, sha, stream.Length, "xlsx", null, false);
        }

        if (head[0] == (byte)'%' && head[1] == (byte)'P' && head[2] == (byte)'D' && head[3] == (byte)'F')
        {
            throw new UserErrorException(new UserMessage("Source.Pdf", fileName));
        }

        return ProbeText(stream, path, fileName);
    }

    private static ProbeResult ProbeText(FileStream stream, string path, string fileName)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // Room for up to three bytes of a UTF-8 sequence cut by the previous read, ahead of each new read.
        var buffer = new byte[BufferSize + 3];
        var carry = 0;
        long offset = 0;
        long lineBreaks = 0;
        long utf8FailedAt = -1;
        long utf8FailedLine = -1;
        var last = (byte)0;
        int read;
        while ((read = stream.Read(buffer, carry, BufferSize)) > 0)
        {
            var fresh = buffer.AsSpan(carry, read);
            hash.AppendData(fresh);
            var nul = fresh.IndexOf((byte)0);
            if (nul >= 0)
            {
                throw new UserErrorException(new UserMessage("Source.Binary", fileName, offset + nul + 1));
            }

            var data = buffer.AsSpan(0, carry + read);
            var complete = data.Length - IncompleteTail(data);
            if (utf8FailedAt < 0 && !Utf8.IsValid(data[..complete]))
            {
                // Rare path: find where it broke, for the message.
                Utf8.ToUtf16(data[..complete], new char[complete], out var validBytes, out _, replaceInvalidSequences: false);
                utf8FailedAt = offset - carry + validBytes;
                utf8FailedLine = lineBreaks + data[..validBytes].Count((byte)'\n') + 1;
            }

            lineBreaks += fresh.Count((byte)'\n');
            last = fresh[^1];
            offset += read;
            data[complete..].CopyTo(buffer);
            carry = data.Length - complete;
        }

        var sha = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
        var endsWithLineBreak = last is (byte)'\n' or (byte)'\r';
        if (utf8FailedAt < 0 && carry > 0)
        {
            // The file ends inside a multi-byte character.
            utf8FailedAt = offset - carry;
            utf8FailedLine = lineBreaks + 1;
        }

        if (utf8FailedAt < 0)
        {
            return new ProbeResult(path, sha, offset, "csv", new UTF8Encoding(false, true), endsWithLineBreak);
        }

        var chars = new char[BufferSize + 4];
        // Not UTF-8: the national system's other encoding is GB18030 (a superset of GBK and GB2312).
        stream.Position = 0;
        var gb = Gb18030.GetDecoder();
        offset = 0;
        lineBreaks = 0;
        while (true)
        {
            read = stream.Read(buffer, 0, buffer.Length);
            try
            {
                gb.GetChars(buffer, 0, read, chars, 0, flush: read == 0);
            }
            catch (DecoderFallbackException e)
            {
                var at = offset + Math.Max(0, e.Index);
                var line = lineBreaks + buffer.AsSpan(0, Math.Clamp(e.Index, 0, read)).Count((byte)'\n') + 1;
                throw new UserErrorException(new UserMessage("Source.Undecodable", fileName, utf8FailedAt + 1, utf8FailedLine, at + 1, line));
            }

            if (read == 0)
            {
                break;
            }

            lineBreaks += buffer.AsSpan(0, read).Count((byte)'\n');
            offset += read;
        }

        return new ProbeResult(path, sha, offset, "csv", Gb18030, endsWithLineBreak);
    }

    /// <summary>How many bytes at the end start a UTF-8 sequence that the data does not complete (0 to 3).</summary>
    private static int IncompleteTail(ReadOnlySpan<byte> data)
    {
        for (var back = 1; back <= Math.Min(3, data.Length); back++)
        {
            var b = data[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return length > back ? back : 0;
        }

        return 0;
    }

    private static void CheckWorkbook(string path, string fileName)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.OrdinalIgnoreCase);
            if (!names.Contains("xl/workbook.xml"))
            {
                throw new UserErrorException(new UserMessage("Source.ZipNotWorkbook", fileName));
            }

            if (names.Contains("xl/vbaProject.bin"))
            {
                throw new UserErrorException(new UserMessage("Source.Macros", fileName));
            }
        }
        catch (InvalidDataException e)
        {
            throw new UserErrorException(new UserMessage("Source.WorkbookDamaged", fileName, e.Message), e);
        }
    }

    private static string Sha256Of(Stream stream)
    {
        stream.Position = 0;
        var sha = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        stream.Position = 0;
        return sha;
    }

    private static Encoding GetGb18030()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        return Encoding.GetEncoding(54936, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
    }
}
