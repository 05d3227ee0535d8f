namespace StudentDataQuality.Worksheets;

/// <summary>
/// What a returned worksheet may weigh before it is refused whole (WORKSHEETS.md, "What the server accepts back"). The
/// package is measured with System.IO.Compression before any spreadsheet library parses it, so a zip bomb never unpacks.
/// </summary>
public sealed record ReturnLimits
{
    /// <summary>The largest upload, in bytes. One school's worksheet is tens or hundreds of kilobytes.</summary>
    public long MaxBytes { get; init; } = 20 * 1024 * 1024;

    /// <summary>The most that all entries of the package may unpack to together, in bytes.</summary>
    public long MaxUncompressedBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// The highest ratio of unpacked to packed size an entry above <see cref="RatioCheckFromBytes"/> may have. Sheet XML
    /// packs 10 to 50 times; a bomb packs thousands of times.
    /// </summary>
    public int MaxCompressionRatio { get; init; } = 200;

    /// <summary>Entries smaller than this when unpacked are not held to the ratio (tiny entries pack oddly).</summary>
    public long RatioCheckFromBytes { get; init; } = 1024 * 1024;

    /// <summary>The most entries a package may hold; a workbook has a few dozen.</summary>
    public int MaxEntries { get; init; } = 2_000;

    public static ReturnLimits Default { get; } = new();

    /// <summary>
    /// Whether a file found in a folder of returns is one to take: a workbook by its extension (.xlsx, and .xlsm and .xls so
    /// that they are refused with a reason), not hidden, not an office lock file (~$…). Anything else is left alone.
    /// </summary>
    public static bool IsReturnCandidate(string path)
    {
        var name = Path.GetFileName(path);
        return !name.StartsWith('.') && !name.StartsWith("~$", StringComparison.Ordinal)
            && Path.GetExtension(name).ToLowerInvariant() is ".xlsx" or ".xlsm" or ".xls";
    }
}
