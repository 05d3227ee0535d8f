using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace StudentDataQuality.Records;

/// <summary>
/// What a student record's values say about themselves, worked out once by the program when a version is written
/// (staging and corrections alike) and kept beside the values, so that the checks compare booleans and short lists
/// instead of running text tests on every row of a round (sql/rules/README.md). Each fact is defined here once; the rules
/// that read it say what they make of it.
/// </summary>
/// <param name="BlankFields">Fields whose text is missing or white space only (S01); null when none.</param>
/// <param name="BadTextFields">
/// Fields whose text, not blank, holds a control character (U+0001–U+001F, U+007F–U+009F) or the replacement character
/// U+FFFD, or is longer than the field's <see cref="RegistryField.MaxLength"/> in UTF-16 code units (S02); null when none.
/// </param>
/// <param name="StudentNoShapeOk">The normalised student number is G, L or J and 18 letters or digits (F01); null when it has none.</param>
/// <param name="SchoolCodeShapeOk">The normalised school code is 10 digits (F09 adds the province); null when it has none.</param>
/// <param name="NameShapeOk">The trimmed name is 2–30 CJK ideographs or Latin letters in parts joined by · (F10); null when blank.</param>
/// <param name="GuardianNameShapeOk">As <paramref name="NameShapeOk"/>, for the guardian's name.</param>
/// <param name="GuardianPhoneOk">
/// The guardian's phone, its digits once separators and a leading 86 of 13 digits are dropped, is an 11-digit mobile
/// number or a landline with its area code (F11); null when blank.
/// </param>
/// <param name="Name">
/// The name as the rules compare it (the view's <c>name</c>): the received text trimmed of white space, as
/// <c>btrim(name_raw, E' \t\r\n\u3000\u00a0')</c> gives it; null without one. Stored so that the rules that group by
/// name (X05, X06) and the re-check index on it read a column, not the raw text at the end of every row.
/// </param>
public sealed record RecordFacts(
    string[]? BlankFields, string[]? BadTextFields, bool? StudentNoShapeOk, bool? SchoolCodeShapeOk, bool? NameShapeOk, bool? GuardianNameShapeOk,
    bool? GuardianPhoneOk, string? Name)
{
    /// <summary>The columns of registry.record_version that hold the facts, in the order <see cref="Of"/> gives them.</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["blank_fields", "bad_text_fields", "student_no_shape_ok", "school_code_shape_ok", "name_shape_ok", "guardian_name_shape_ok", "guardian_phone_ok", "name"];

    // What the rules call white space around a value (btrim(x, E' \t\r\n\u3000\u00a0') in SQL).
    private static readonly char[] Blank = [' ', '\t', '\r', '\n', '\u3000', '\u00a0'];
    private static readonly SearchValues<char> Unreadable = SearchValues.Create(
        "\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017" +
        "\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d" +
        "\u008e\u008f\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f\ufffd");

    private static readonly RecordLayout Layout = Layouts.Student;
    private static readonly int StudentNo = Layout.IndexOf("student_no");
    private static readonly int SchoolCode = Layout.IndexOf("school_code");
    private static readonly int NameField = Layout.IndexOf("name");
    private static readonly int GuardianName = Layout.IndexOf("guardian_name");
    private static readonly int GuardianPhone = Layout.IndexOf("guardian_phone");

    /// <summary>
    /// The facts of one record of the student layout: <paramref name="raw"/> the text of each field as received (null
    /// for none), <paramref name="typed"/> each field's parsed value (<see cref="FieldParser.Parse"/>), both in the
    /// layout's field order.
    /// </summary>
    public static RecordFacts Of(IReadOnlyList<string?> raw, IReadOnlyList<object?> typed)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(typed);
        List<string>? blank = null;
        List<string>? badText = null;
        for (var i = 0; i < Layout.Fields.Count; i++)
        {
            var value = raw[i];
            if (IsBlank(value))
            {
                (blank ??= []).Add(Layout.Fields[i].Name);
            }
            else if (value.AsSpan().ContainsAny(Unreadable) || value.Length > Layout.Fields[i].MaxLength)
            {
                (badText ??= []).Add(Layout.Fields[i].Name);
            }
        }

        return new RecordFacts(blank?.ToArray(), badText?.ToArray(),
            typed[StudentNo] is string no ? StudentNoShape(no) : null,
            typed[SchoolCode] is string school ? school.Length == 10 && IsAsciiDigits(school) : null,
            NameShape(raw[NameField]), NameShape(raw[GuardianName]),
            IsBlank(raw[GuardianPhone]) ? null : typed[GuardianPhone] is string phone && PhoneShape(phone),
            raw[NameField]?.Trim(Blank));
    }

    private static bool IsBlank([NotNullWhen(false)] string? value) => value is null || value.AsSpan().Trim(Blank).IsEmpty;

    private static bool StudentNoShape(string value)
    {
        if (value.Length != 19 || value[0] is not ('G' or 'L' or 'J'))
        {
            return false;
        }

        foreach (var c in value.AsSpan(1))
        {
            if (!char.IsAsciiDigit(c) && !char.IsAsciiLetterUpper(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool? NameShape(string? raw)
    {
        if (IsBlank(raw))
        {
            return null;
        }

        var name = raw.AsSpan().Trim(Blank);
        if (name.Length is < 2 or > 30)
        {
            return false;
        }

        // Either every part CJK ideographs (U+3400–U+4DBF, U+4E00–U+9FFF) or every part Latin letters, the parts non-empty
        // and joined by a single middle dot (U+00B7).
        var cjk = IsCjk(name[0]);
        var partLength = 0;
        foreach (var c in name)
        {
            if (c == '\u00b7')
            {
                if (partLength == 0)
                {
                    return false;
                }

                partLength = 0;
            }
            else if (cjk ? IsCjk(c) : char.IsAsciiLetter(c))
            {
                partLength++;
            }
            else
            {
                return false;
            }
        }

        return partLength > 0;
    }

    private static bool IsCjk(char c) => c is (>= '\u3400' and <= '\u4dbf') or (>= '\u4e00' and <= '\u9fff');

    private static bool PhoneShape(string digits)
    {
        if (!IsAsciiDigits(digits))
        {
            return false;
        }

        var number = digits.Length == 13 && digits.StartsWith("86", StringComparison.Ordinal) ? digits[2..] : digits;
        // A mobile number: 1, then 3–9, then 9 digits.
        if (number.Length == 11 && number[0] == '1' && number[1] is >= '3' and <= '9')
        {
            return true;
        }

        // A landline: 0 and a 2- or 3-digit area code (the 0 included: 3 or 4 digits), then 7 or 8 digits not starting 0 or 1.
        return number.Length is >= 10 and <= 12 && number[0] == '0' && (IsLandline(number, 3) || IsLandline(number, 4));

        static bool IsLandline(string number, int local) => number.Length - local is 7 or 8 && number[local] is >= '2' and <= '9';
    }

    private static bool IsAsciiDigits(string value) => value.Length > 0 && value.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0;
}
