using System.Buffers.Binary;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// The CJK font the confirmation sheets embed: WenQuanYi Micro Hei (Debian fonts-wqy-microhei), the font the charts use.
/// It ships as a TrueType collection (.ttc), which PDFsharp 6.2.4 refuses ("TrueType collection fonts are not yet
/// supported by PDFsharp", OpenTypeFontFace.Read; empira/PDFsharp), so the first face is taken out of the collection into
/// a standalone TrueType font in memory (<see cref="ExtractFace"/>).
/// </summary>
public static class CjkFont
{
    /// <summary>The font's file name, found in the places fontconfig looks (Debian installs it under truetype/wqy).</summary>
    public const string FileName = "wqy-microhei.ttc";

    /// <summary>Where the font is looked for, in this order: the Debian path first, then every folder of fonts.</summary>
    public static IReadOnlyList<string> Folders { get; } =
    [
        "/usr/share/fonts/truetype/wqy",
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "fonts"),
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".fonts"),
    ];

    private const uint CollectionTag = 0x74746366; // 'ttcf'
    private const uint TrueTypeVersion = 0x00010000;
    private const uint HeadTag = 0x68656164; // 'head'

    // PublicationOnly: a missing font is not remembered, so that installing it needs no restart of the portal.
    private static readonly Lazy<byte[]> Face = new(() => ExtractFace(File.ReadAllBytes(Find(Folders)), 0), LazyThreadSafetyMode.PublicationOnly);

    /// <summary>The first face of the font, as a standalone TrueType font (read once per process).</summary>
    /// <exception cref="UserErrorException">The font is not installed (Pdf.NoCjkFont).</exception>
    public static byte[] Bytes => Face.Value;

    /// <summary>The first <see cref="FileName"/> in these folders (searched in order, each with its subfolders).</summary>
    /// <exception cref="UserErrorException">In none of them (Pdf.NoCjkFont: what is missing and how to install it).</exception>
    public static string Find(IEnumerable<string> folders)
    {
        ArgumentNullException.ThrowIfNull(folders);
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, MatchCasing = MatchCasing.CaseInsensitive };
        var searched = new List<string>();
        foreach (var folder in folders)
        {
            searched.Add(folder);
            if (Directory.Exists(folder) && Directory.EnumerateFiles(folder, FileName, options).FirstOrDefault() is { } file)
            {
                return file;
            }
        }

        throw new UserErrorException(new UserMessage("Pdf.NoCjkFont", FileName, string.Join(", ", searched)));
    }

    /// <summary>
    /// One face of a TrueType collection as a standalone TrueType font: the face's table directory becomes a new offset
    /// table, each table is copied (4-byte aligned) and its offset rewritten, and the head table's checkSumAdjustment is
    /// worked out again for the new file. A font that is no collection is returned as it is.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a collection with that face, or a table lies outside them.</exception>
    public static byte[] ExtractFace(byte[] font, int index)
    {
        ArgumentNullException.ThrowIfNull(font);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (font.Length < 12)
        {
            throw new InvalidDataException("The font file is too short to be a TrueType font.");
        }

        if (U32(font, 0) != CollectionTag)
        {
            return font;
        }

        var faces = U32(font, 8);
        if (index >= faces || 12 + (4 * faces) > font.Length)
        {
            throw new InvalidDataException($"The font collection has {faces} faces; face {index} was asked for.");
        }

        var face = checked((int)U32(font, 12 + (4 * index)));
        Need(font, face, 12);
        var tableCount = U16(font, face + 4);
        Need(font, face + 12, 16 * tableCount);

        var tables = new (uint Tag, uint Checksum, int Offset, int Length)[tableCount];
        for (var i = 0; i < tableCount; i++)
        {
            var record = face + 12 + (16 * i);
            tables[i] = (U32(font, record), U32(font, record + 4), checked((int)U32(font, record + 8)), checked((int)U32(font, record + 12)));
            Need(font, tables[i].Offset, tables[i].Length);
        }

        var headerLength = 12 + (16 * tableCount);
        var size = headerLength + tables.Sum(t => Align(t.Length));
        var result = new byte[size];
        // The offset table: the face's own version and search fields, as the face's directory has them.
        Array.Copy(font, face, result, 0, 12);
        var position = headerLength;
        var headOffset = -1;
        for (var i = 0; i < tableCount; i++)
        {
            var (tag, checksum, offset, length) = tables[i];
            var record = 12 + (16 * i);
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(record), tag);
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(record + 4), checksum);
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(record + 8), (uint)position);
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(record + 12), (uint)length);
            Array.Copy(font, offset, result, position, length);
            if (tag == HeadTag && length >= 12)
            {
                headOffset = position;
            }

            position += Align(length);
        }

        if (headOffset >= 0)
        {
            // checkSumAdjustment (head offset 8) = 0xB1B0AFBA − the sum of the whole font computed with it set to zero.
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(headOffset + 8), 0);
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(headOffset + 8), unchecked(0xB1B0AFBA - Checksum(result)));
        }

        return result;
    }

    /// <summary>The OpenType checksum: the sum of the big-endian 32-bit words, the last one padded with zeros.</summary>
    public static uint Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        var whole = data.Length & ~3;
        for (var i = 0; i < whole; i += 4)
        {
            sum = unchecked(sum + BinaryPrimitives.ReadUInt32BigEndian(data[i..]));
        }

        if (whole < data.Length)
        {
            Span<byte> last = stackalloc byte[4];
            data[whole..].CopyTo(last);
            sum = unchecked(sum + BinaryPrimitives.ReadUInt32BigEndian(last));
        }

        return sum;
    }

    /// <summary>True for a standalone TrueType font (version 1.0 outlines), as PDFsharp takes it.</summary>
    public static bool IsStandaloneTrueType(ReadOnlySpan<byte> font) => font.Length >= 12 && BinaryPrimitives.ReadUInt32BigEndian(font) == TrueTypeVersion;

    private static int Align(int length) => (length + 3) & ~3;

    private static uint U32(byte[] data, int offset)
    {
        Need(data, offset, 4);
        return BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
    }

    private static int U16(byte[] data, int offset)
    {
        Need(data, offset, 2);
        return BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(offset));
    }

    private static void Need(byte[] data, int offset, int length)
    {
        if (offset < 0 || length < 0 || (long)offset + length > data.Length)
        {
            throw new InvalidDataException($"The font file is damaged: {length} bytes at {offset} lie outside its {data.Length} bytes.");
        }
    }
}
