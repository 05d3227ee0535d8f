using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using StudentDataQuality.Exports;
using StudentDataQuality.Files;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// The watermark of a file that cannot carry one inside without breaking its reader (the registry's CSV import, PROV-JSON):
/// a sidecar <c>&lt;file&gt;.export.json</c> next to it, with the export's fields and the file's sha256 and rows.
/// </summary>
public static class ExportSidecar
{
    public const string Suffix = ".export.json";

    /// <summary>What a sidecar says it is, for a reader to check first.</summary>
    public const string Format = "sdq.export/1";

    /// <summary>A sidecar is a few hundred bytes; anything much larger is not one and is not read.</summary>
    private const long MaxBytes = 1024 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string PathFor(string file) => file + Suffix;

    /// <summary>Writes the sidecar next to <paramref name="file"/> (owner-only, like the file).</summary>
    public static void Write(string file, Watermark watermark, string sha256, int rows, IReadOnlyList<string> fields)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        ArgumentNullException.ThrowIfNull(watermark);
        ArgumentException.ThrowIfNullOrEmpty(sha256);
        ArgumentNullException.ThrowIfNull(fields);
        var content = new SidecarContent
        {
            Format = Format,
            ExportId = ExportId.Format(watermark.ExportId),
            TakenBy = watermark.TakenBy,
            TakenAt = watermark.TakenAt.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture),
            Purpose = watermark.Purpose,
            Kind = ExportKinds.Name(watermark.Kind),
            Form = ExportKinds.Name(watermark.Form),
            Sha256 = sha256.ToLowerInvariant(),
            Rows = rows,
            Fields = [.. fields],
            FileName = Path.GetFileName(file),
            Practice = watermark.Practice ? Watermark.PracticeLabel : null,
        };
        using var stream = OwnerOnly.Create(PathFor(file));
        JsonSerializer.Serialize(stream, content, Json);
    }

    /// <summary>The watermark and sha256 a sidecar holds, or null when it is not one (missing, not JSON, a field missing or wrong).</summary>
    public static (Watermark Watermark, string Sha256)? Read(string sidecarPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sidecarPath);
        SidecarContent? content;
        try
        {
            var info = new FileInfo(sidecarPath);
            if (!info.Exists || info.Length > MaxBytes)
            {
                return null;
            }

            using var stream = info.OpenRead();
            content = JsonSerializer.Deserialize<SidecarContent>(stream, Json);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }

        if (content is null ||
            ExportId.Normalise(content.ExportId) is not { } id ||
            ExportKinds.ParseKind(content.Kind) is not { } kind ||
            ExportKinds.ParseForm(content.Form) is not { } form ||
            !DateTimeOffset.TryParse(content.TakenAt, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ||
            content.Sha256 is not { Length: 64 } sha256 || !sha256.All(char.IsAsciiHexDigit))
        {
            return null;
        }

        return (new Watermark(id, content.TakenBy ?? "", at, content.Purpose ?? "", kind, form) { Practice = content.Practice is not null },
            sha256.ToLowerInvariant());
    }

    /// <summary>The sidecar's JSON (camelCase): what <c>sdq export identify</c> and a person opening it read.</summary>
    private sealed class SidecarContent
    {
        public string? Format { get; init; }

        public string? ExportId { get; init; }

        public string? TakenBy { get; init; }

        public string? TakenAt { get; init; }

        public string? Purpose { get; init; }

        public string? Kind { get; init; }

        public string? Form { get; init; }

        public string? Sha256 { get; init; }

        public int Rows { get; init; }

        public IReadOnlyList<string>? Fields { get; init; }

        public string? FileName { get; init; }

        /// <summary>"练习 / Practice" in a practice database's sidecar (<see cref="Watermark.Practice"/>); absent from a real one's.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Practice { get; init; }
    }
}
