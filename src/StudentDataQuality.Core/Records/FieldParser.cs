using System.Globalization;
using StudentDataQuality.Text;

namespace StudentDataQuality.Records;

/// <summary>
/// Turns a field's raw text into its typed, normalised value. A value that does not parse gives null (the raw
/// text is kept beside it, and the quality rules report it); nothing here throws for bad data.
/// </summary>
public static class FieldParser
{
    private static readonly object True = true;
    private static readonly object False = false;
    private static readonly object[] Grades = Enumerable.Range(0, 13).Select(g => (object)(short)g).ToArray();

    private static readonly Dictionary<string, int> GradeWords = BuildGradeWords();

    /// <summary>The typed value (string, short, DateOnly or bool by <see cref="RegistryField.TypedType"/>), or null.</summary>
    public static object? Parse(RegistryField field, string? raw)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        return field.Kind switch
        {
            FieldKind.Text => NullIfEmpty(TextNormalizer.Trim(raw)),
            FieldKind.Identifier => NullIfEmpty(TextNormalizer.NormalizeCode(raw)),
            FieldKind.Code => field.Codes!.Match(raw),
            FieldKind.Flag => field.Codes!.Match(raw) switch { "1" => True, "0" => False, _ => null },
            FieldKind.Date => ParseDate(raw),
            FieldKind.YearMonth => ParseYearMonth(raw),
            FieldKind.Region => ParseRegion(raw),
            FieldKind.Grade => ParseGrade(raw) is { } grade ? Grades[grade] : null,
            FieldKind.Phone => ParsePhone(raw),
            _ => throw new ArgumentOutOfRangeException(nameof(field), field.Kind, "Unknown field kind."),
        };
    }

    /// <summary>
    /// The text a typed value is written as, for the field kinds where that text is unambiguous (identifiers, codes,
    /// regions, phones as text; the grade as its number); null for the others. Staging stores the raw text only where
    /// it differs from this: the common case, a value received exactly in its typed form, costs one column, not two.
    /// </summary>
    public static string? CanonicalText(RegistryField field, object? typed)
    {
        ArgumentNullException.ThrowIfNull(field);
        return typed switch
        {
            string s when field.Kind is FieldKind.Identifier or FieldKind.Code or FieldKind.Region or FieldKind.Phone => s,
            short grade when field.Kind == FieldKind.Grade => grade.ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
    }

    /// <summary>
    /// True when parsing changed more than surrounding white space: full-width characters folded, or a lower-case
    /// letter of an identifier raised (a lower-case x). The record keeps which fields were normalised this way.
    /// </summary>
    public static bool IsNormalised(RegistryField field, string? raw) =>
        raw is not null && (TextNormalizer.HasFullWidth(raw) || (field.Kind == FieldKind.Identifier && raw.AsSpan().ContainsAnyInRange('a', 'z')));

    public static DateOnly? ParseDate(string raw)
    {
        var s = TextNormalizer.Trim(TextNormalizer.FoldFullWidth(raw));
        if (s.Length == 8 && TextNormalizer.IsDigits(s))
        {
            return MakeDate(Digits(s, 0, 4), Digits(s, 4, 2), Digits(s, 6, 2));
        }

        if (s.Length == 10 && s[4] == s[7] && s[4] is '-' or '/' && TextNormalizer.IsDigits(s.AsSpan(0, 4))
            && TextNormalizer.IsDigits(s.AsSpan(5, 2)) && TextNormalizer.IsDigits(s.AsSpan(8, 2)))
        {
            return MakeDate(Digits(s, 0, 4), Digits(s, 5, 2), Digits(s, 8, 2));
        }

        var parts = s.TrimEnd('日').Split(['-', '/', '.', '年', '月'], StringSplitOptions.None);
        return parts.Length == 3 && parts[0].Length == 4 && parts[1].Length is 1 or 2 && parts[2].Length is 1 or 2
            ? MakeDate(parts[0], parts[1], parts[2])
            : null;
    }

    public static DateOnly? ParseYearMonth(string raw)
    {
        var s = TextNormalizer.Trim(TextNormalizer.FoldFullWidth(raw));
        if (s.Length == 6 && TextNormalizer.IsDigits(s))
        {
            return MakeDate(Digits(s, 0, 4), Digits(s, 4, 2), 1);
        }

        // A whole date where a month is asked (a spreadsheet's date cell, a database date column): its month.
        if (s.Length >= 8 && ParseDate(s) is { } date)
        {
            return new DateOnly(date.Year, date.Month, 1);
        }

        var parts = s.TrimEnd('月').Split(['-', '/', '.', '年'], StringSplitOptions.None);
        return parts.Length == 2 && parts[0].Length == 4 && parts[1].Length is 1 or 2 ? MakeDate(parts[0], parts[1], "1") : null;
    }

    public static int? ParseGrade(string raw)
    {
        var s = TextNormalizer.Trim(TextNormalizer.FoldFullWidth(raw));
        if (TextNormalizer.IsDigits(s) && s.Length <= 2)
        {
            var n = Digits(s, 0, s.Length);
            return n is >= 1 and <= 12 ? n : null;
        }

        return GradeWords.TryGetValue(s, out var grade) ? grade : null;
    }

    private static string? ParseRegion(string raw)
    {
        if (raw.Length == 6 && TextNormalizer.IsDigits(raw))
        {
            return raw;
        }

        var s = TextNormalizer.Trim(TextNormalizer.FoldFullWidth(raw));
        return s.Length == 6 && TextNormalizer.IsDigits(s) ? s : null;
    }

    private static string? ParsePhone(string raw)
    {
        if (TextNormalizer.IsDigits(raw))
        {
            return raw;
        }

        // No phone number is longer than this; anything longer is not one (and must not size a stack buffer).
        if (raw.Length > 40)
        {
            return null;
        }

        var s = TextNormalizer.FoldFullWidth(raw);
        Span<char> digits = stackalloc char[s.Length];
        var n = 0;
        foreach (var c in s)
        {
            if (char.IsAsciiDigit(c))
            {
                digits[n++] = c;
            }
            else if (c is not (' ' or '-' or '(' or ')' or '\u3000' or '+'))
            {
                return null;
            }
        }

        return n == 0 ? null : new string(digits[..n]);
    }

    private static int Digits(string s, int start, int length)
    {
        var n = 0;
        for (var i = start; i < start + length; i++)
        {
            n = (n * 10) + (s[i] - '0');
        }

        return n;
    }

    private static DateOnly? MakeDate(int y, int m, int d) =>
        y is >= 1 and <= 9999 && m is >= 1 and <= 12 && d >= 1 && d <= DateTime.DaysInMonth(y, m) ? new DateOnly(y, m, d) : null;

    private static DateOnly? MakeDate(string year, string month, string day)
    {
        if (!int.TryParse(year, NumberStyles.None, CultureInfo.InvariantCulture, out var y)
            || !int.TryParse(month, NumberStyles.None, CultureInfo.InvariantCulture, out var m)
            || !int.TryParse(day, NumberStyles.None, CultureInfo.InvariantCulture, out var d))
        {
            return null;
        }

        return y is >= 1 and <= 9999 && m is >= 1 and <= 12 && d >= 1 && d <= DateTime.DaysInMonth(y, m)
            ? new DateOnly(y, m, d)
            : null;
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    private static Dictionary<string, int> BuildGradeWords()
    {
        string[] numerals = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"];
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var g = 1; g <= 12; g++)
        {
            words[$"{numerals[g - 1]}年级"] = g;
            words[$"{g}年级"] = g;
        }

        for (var i = 0; i < 3; i++)
        {
            words[$"初{numerals[i]}"] = 7 + i;
            words[$"高{numerals[i]}"] = 10 + i;
            words[$"初中{numerals[i]}年级"] = 7 + i;
            words[$"高中{numerals[i]}年级"] = 10 + i;
        }

        return words;
    }
}
