using System.Globalization;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Confirmations;

/// <summary>
/// A class of a school: its grade (1–12, the record's normalised grade) and its name as the registry writes it ("3班").
/// Written "4年级3班" for people; <see cref="Parse"/> also takes "4/3班".
/// </summary>
public sealed partial record ClassKey(int Grade, string ClassName)
{
    public override string ToString() => Grade.ToString(CultureInfo.InvariantCulture) + "年级" + ClassName;

    /// <summary>The class for a reader of that language ("4年级3班", "Grade 4, 3班").</summary>
    public string Display(bool english) => english ? $"Grade {Grade.ToString(CultureInfo.InvariantCulture)}, {ClassName}" : ToString();

    /// <summary>"4年级3班" or "4/3班" (grade 1–12, a class name of at most 40 characters); null when it is neither.</summary>
    public static ClassKey? TryParse(string? text)
    {
        // Full-width digits, as a Chinese input method types them, read as the digits they are.
        var folded = new string((text ?? "").Trim().Select(c => c is >= '０' and <= '９' ? (char)('0' + (c - '０')) : c).ToArray());
        var match = Shape().Match(folded);
        if (!match.Success)
        {
            return null;
        }

        var grade = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var name = match.Groups[2].Value.Trim();
        return grade is >= 1 and <= 12 && name.Length is > 0 and <= 40 ? new ClassKey(grade, name) : null;
    }

    /// <summary>The class of that text.</summary>
    /// <exception cref="UserErrorException">Neither "4年级3班" nor "4/3班".</exception>
    public static ClassKey Parse(string? text) =>
        TryParse(text) ?? throw new UserErrorException(new UserMessage("Confirmation.ClassInvalid", text ?? ""));

    [GeneratedRegex(@"^([0-9]{1,2})\s*(?:年级|/)\s*(.+)$")]
    private static partial Regex Shape();
}
