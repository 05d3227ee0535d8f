using System.Text;

namespace StudentDataQuality.Identifiers;

/// <summary>What kind of personal value a field holds, for masking (<see cref="Masking"/>).</summary>
public enum MaskKind
{
    /// <summary>Shown in full (names, codes, dates, addresses).</summary>
    None,

    /// <summary>An identity document's number: a resident ID (18 or 15 characters), a passport, a permit.</summary>
    IdNumber,

    /// <summary>A student number: its letter and, for G and L numbers, a resident ID after it.</summary>
    StudentNo,

    /// <summary>A phone: a mobile or a landline.</summary>
    Phone,
}

/// <summary>
/// The one masking policy of the project: how a personal value is shown where the reader does not need it whole, used by
/// pages and files alike, so that no two places show different parts of the same number (docs/security.md, "Masking").
/// <list type="bullet">
/// <item>An ID number of 10 characters or more (a resident ID of 18 or 15, a long permit): the first 6 (the region) and the
/// last 4, <c>*</c> between — <c>230102********0441</c>. A shorter one (a passport, <c>E12345678</c>): its first character
/// and last 2 — <c>E******78</c>; under 6 characters, all <c>*</c>.</item>
/// <item>A student number: its letter, then the rest as an ID number — <c>G230102********0441</c>.</item>
/// <item>A mobile (11 digits from 1, with or without +86 and spaces): the first 3 and last 4 — <c>138****5678</c>. A landline:
/// its area code (before the dash) and the last 4 digits of the number — <c>0451-***5432</c>; without a dash, the first 3
/// digits and the last 4.</item>
/// </list>
/// Masking a masked value changes nothing; a blank value stays blank.
/// </summary>
public static class Masking
{
    /// <summary>The kind of a registry field (<c>Layouts.Student</c> names).</summary>
    public static MaskKind KindOf(string field) => field switch
    {
        "id_number" or "guardian_id_number" => MaskKind.IdNumber,
        "student_no" => MaskKind.StudentNo,
        "guardian_phone" => MaskKind.Phone,
        _ => MaskKind.None,
    };

    /// <summary>A registry field's value as the policy shows it masked.</summary>
    public static string? Field(string field, string? value) => Mask(KindOf(field), value);

    public static string? Mask(MaskKind kind, string? value) => kind switch
    {
        MaskKind.IdNumber => IdNumber(value),
        MaskKind.StudentNo => StudentNo(value),
        MaskKind.Phone => Phone(value),
        _ => value,
    };

    public static string? IdNumber(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return value;
        }

        var text = value.Trim();
        return text.Length switch
        {
            >= 10 => text[..6] + Stars(text.Length - 10) + text[^4..],
            >= 6 => text[..1] + Stars(text.Length - 3) + text[^2..],
            _ => Stars(text.Length),
        };
    }

    public static string? StudentNo(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return value;
        }

        var text = value.Trim();
        return text.Length >= 2 && char.IsAsciiLetter(text[0]) ? text[0] + IdNumber(text[1..]) : IdNumber(text);
    }

    public static string? Phone(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return value;
        }

        var text = value.Trim().Replace(" ", "", StringComparison.Ordinal);
        if (text.StartsWith("+86", StringComparison.Ordinal))
        {
            text = text[3..];
        }

        if (text.Length == 11 && text[0] == '1' && text.All(c => char.IsAsciiDigit(c) || c == '*'))
        {
            return text[..3] + "****" + text[^4..];
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var (kept, number) = dash > 0 ? (text[..(dash + 1)], text[(dash + 1)..]) : (text.Length > 7 ? text[..3] : "", text.Length > 7 ? text[3..] : text);
        return number.Length <= 4 ? kept + Stars(number.Length) : kept + Stars(number.Length - 4) + number[^4..];
    }

    /// <summary>
    /// A free text with the numbers in it masked by the one policy: a reason quotes a cell as typed (a number that lost its
    /// digits, a locked cell that was changed) and keeps no field with it, and an explanation is what a registrar wrote.
    /// A run of 10 or more digits (an X last) is masked as an ID number, or as a student number with the letter before it,
    /// or as a mobile when it is 11 digits from 1; shorter numbers (rows, dates, grades) stay as they are.
    /// </summary>
    public static string InText(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        var shown = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var end = i;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            if (end - i >= 9 && end < text.Length && text[end] is 'X' or 'x')
            {
                end++;
            }

            if (end - i < 10)
            {
                shown.Append(text, i, Math.Max(end - i, 1));
                i += Math.Max(end - i, 1);
                continue;
            }

            var number = text[i..end];
            if (shown.Length > 0 && char.IsAsciiLetter(shown[^1]))
            {
                number = shown[^1] + number;
                shown.Length--;
            }

            shown.Append((char.IsAsciiLetter(number[0]) ? StudentNo(number)
                : number.Length == 11 && number[0] == '1' ? Phone(number) : IdNumber(number)) ?? number);
            i = end;
        }

        return shown.ToString();
    }

    private static string Stars(int count) => new('*', Math.Max(count, 0));
}
