using System.Globalization;
using System.Resources;
using System.Text;
using System.Text.RegularExpressions;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// The watermark's line as a person reads it in a file's header/footer or a PDF's footer (Resources/WatermarkText.resx is
/// zh-CN, the .en.resx English): "导出 EX-7K2MD-9XW4R（问题清单，脱敏）· 导出人 王老师 · 2026-12-07 10:00 · 用途：核对". The time
/// is Beijing time. The same line is read back (<see cref="Parse"/>) when a file's properties were stripped.
/// </summary>
public static partial class WatermarkText
{
    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Worksheets.Resources.WatermarkText", typeof(WatermarkText).Assembly);

    private static readonly TimeSpan Beijing = TimeSpan.FromHours(8);

    private static readonly Lazy<IReadOnlyList<(WorksheetLanguage Language, Regex Pattern)>> Patterns = new(() =>
        [.. Enum.GetValues<WorksheetLanguage>().Select(l => (l, PatternOf(Get("Line", l))))]);

    public static string Get(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The watermark text '{key}' is missing from the resources for {language.Tag()}.");

    /// <summary>Every key of the resources in one language, without falling back to the other (for tests).</summary>
    public static IReadOnlySet<string> Keys(WorksheetLanguage language)
    {
        var culture = language == WorksheetLanguage.Chinese ? CultureInfo.InvariantCulture : language.Culture();
        var set = Resources.GetResourceSet(culture, createIfNotExists: true, tryParents: false)
            ?? throw new InvalidOperationException($"No watermark resources for {language.Tag()}.");
        return set.Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The line, on one line: control and direction characters left out, line breaks as spaces. The taker's name is cut to
    /// <paramref name="maxTakenBy"/> and the purpose to <paramref name="maxPurpose"/> characters (with "…") where a place
    /// holds only so much (Excel's header holds 255 characters); the export id, kind, form and time are never cut.
    /// </summary>
    public static string Line(Watermark watermark, WorksheetLanguage language, int maxTakenBy = int.MaxValue, int maxPurpose = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(watermark);
        return string.Format(language.Culture(), Get("Line", language),
            ExportId.Format(watermark.ExportId),
            Cut(OneLine(watermark.TakenBy), maxTakenBy),
            Minute(watermark.TakenAt),
            Cut(OneLine(watermark.Purpose), maxPurpose),
            Get("Kind." + ExportKinds.Name(watermark.Kind), language),
            Get("Form." + ExportKinds.Name(watermark.Form), language));
    }

    /// <summary>
    /// The watermark a line names (in either language), or null when the text holds no such line. The time is to the minute
    /// (what the line shows) and the purpose as the line shows it (it may have been cut).
    /// </summary>
    public static Watermark? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        foreach (var (language, pattern) in Patterns.Value)
        {
            var match = pattern.Match(text);
            if (!match.Success || ExportId.Normalise(match.Groups["id"].Value) is not { } id)
            {
                continue;
            }

            var kind = Enum.GetValues<ExportKind>().Cast<ExportKind?>()
                .FirstOrDefault(k => Get("Kind." + ExportKinds.Name(k!.Value), language) == match.Groups["kind"].Value);
            var form = Enum.GetValues<ExportForm>().Cast<ExportForm?>()
                .FirstOrDefault(f => Get("Form." + ExportKinds.Name(f!.Value), language) == match.Groups["form"].Value);
            if (kind is null || form is null ||
                !DateTime.TryParseExact(match.Groups["at"].Value, "yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                continue;
            }

            return new Watermark(id, match.Groups["by"].Value, new DateTimeOffset(at, Beijing), match.Groups["purpose"].Value.TrimEnd(), kind.Value, form.Value);
        }

        return null;
    }

    /// <summary>The time as the line shows it: Beijing time, to the minute, the same in both languages.</summary>
    public static string Minute(DateTimeOffset at) => at.ToOffset(Beijing).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    /// <summary>
    /// A value on one line: control, format (direction marks, zero-width) and private-use characters left out, any run of
    /// white space (a line break, a tab) one space, trimmed.
    /// </summary>
    public static string OneLine(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var text = new StringBuilder(value.Length);
        var space = false;
        foreach (var rune in value.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (Rune.IsWhiteSpace(rune) || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                space = text.Length > 0;
                continue;
            }

            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate
                || rune == Rune.ReplacementChar)
            {
                continue;
            }

            if (space)
            {
                text.Append(' ');
                space = false;
            }

            text.Append(rune.ToString());
        }

        return text.ToString();
    }

    private static string Cut(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        // Cut between text elements, never inside a surrogate pair or a combining sequence.
        var starts = StringInfo.ParseCombiningCharacters(text);
        var end = starts.LastOrDefault(s => s <= Math.Max(0, max - 1));
        return text[..end] + "…";
    }

    /// <summary>A pattern for the line's format: the placeholders as groups, the rest literal.</summary>
    private static Regex PatternOf(string format)
    {
        var pattern = new StringBuilder();
        foreach (var part in Placeholder().Split(format))
        {
            pattern.Append(part switch
            {
                "{0}" => @"(?<id>EX-?[0-9A-Za-z]{5}-?[0-9A-Za-z]{5})",
                "{1}" => "(?<by>.*?)",
                "{2}" => @"(?<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2})",
                "{3}" => "(?<purpose>.*)",
                "{4}" => "(?<kind>[^,，()（）]+?)",
                "{5}" => "(?<form>[^,，()（）]+?)",
                _ => Regex.Escape(part),
            });
        }

        return new Regex(pattern.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    [GeneratedRegex(@"(\{[0-9]\})")]
    private static partial Regex Placeholder();
}
