using System.Globalization;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// What a returned worksheet may weigh before it is refused whole (docs/worksheets.md, "Refused whole"; docs/security.md,
/// "Uploads bounded in memory"). The package is measured with System.IO.Compression before any spreadsheet library parses it, so a
/// zip bomb never unpacks; the parts that are parsed are streamed, each stopped at <see cref="MaxCharactersInPart"/>. The one set
/// of limits for every way a return comes in (portal, command line, inbox).
/// <para>
/// Measured on the largest school of the generator's 3,000,000-student province (6,786 students), every student a row with all 25
/// correctable fields and three findings: a 1.7 MB file that unpacks to 41.2 MB, the problems sheet 10.6 MB of it, the cell notes'
/// drawing 19.3 MB and the notes 7.4 MB (neither is parsed), the shared strings 2.4 MB, <c>_meta</c> 1.5 MB.
/// </para>
/// </summary>
public sealed record ReturnLimits
{
    /// <summary>The largest upload, in bytes. One school's worksheet is tens or hundreds of kilobytes, the largest measured 1.7 MB.</summary>
    public long MaxBytes { get; init; } = 20 * 1024 * 1024;

    /// <summary>The most that all entries of the package may unpack to together, in bytes: about 2.4 times the largest measured (41.2 MB).</summary>
    public long MaxUncompressedBytes { get; init; } = 100L * 1024 * 1024;

    /// <summary>
    /// The most characters a parsed part (the workbook, the shared strings, a sheet) may hold; the Open XML SDK's
    /// <c>OpenSettings.MaxCharactersInPart</c>. About 2.3 times the largest measured sheet (10.6 million); the shared strings are
    /// kept while the sheets are read, so this also bounds what they can take.
    /// </summary>
    public long MaxCharactersInPart { get; init; } = 24_000_000;

    /// <summary>
    /// The most bytes <c>[Content_Types].xml</c> and each relationship part (.rels) may unpack to: System.IO.Packaging reads them
    /// whole when the package is opened. A worksheet's are a few kilobytes.
    /// </summary>
    public long MaxPackagePartBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// The most row records <c>_meta</c> may hold, and the most rows of the problems sheet that were not issued (added or copied):
    /// about 3 times the largest school (6,786 students).
    /// </summary>
    public int MaxRows { get; init; } = 20_000;

    /// <summary>
    /// The highest ratio of unpacked to packed size an entry above <see cref="RatioCheckFromBytes"/> may have. Sheet XML
    /// packs 10 to 50 times (the cell notes' drawing up to 90); a bomb packs thousands of times.
    /// </summary>
    public int MaxCompressionRatio { get; init; } = 200;

    /// <summary>Entries smaller than this when unpacked are not held to the ratio (tiny entries pack oddly).</summary>
    public long RatioCheckFromBytes { get; init; } = 1024 * 1024;

    /// <summary>The most entries a package may hold, and the most sheets its workbook may list; a workbook has a few dozen.</summary>
    public int MaxEntries { get; init; } = 2_000;

    public static ReturnLimits Default { get; } = new();

    /// <summary>The refusal of a file over <see cref="MaxBytes"/>, wherever it is stopped (the portal's door, the ingest, the reader).</summary>
    public WorksheetRejectedException TooLarge(string fileName) => new(WorksheetRejection.TooLarge, fileName,
        detail: string.Create(CultureInfo.InvariantCulture, $"> {MaxBytes / 1048576.0:0.##} MB"));

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
