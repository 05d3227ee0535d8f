namespace StudentDataQuality.Identifiers;

/// <summary>
/// How an identity number is shown where the reader does not need it whole (docs/confirmations.md, "The class answer
/// workbook"): the first 6 characters (the region) and the last 4, with <c>*</c> between — <c>230102********0441</c>, the
/// common practice. A student number that carries a resident ID number after its letter (<c>G</c> + ID) is masked the same
/// way after the letter.
/// </summary>
public static class Masking
{
    public static string? IdNumber(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value;
        }

        var text = value.Trim();
        return text.Length >= 10 ? text[..6] + new string('*', text.Length - 10) + text[^4..] : new string('*', text.Length);
    }

    public static string? StudentNo(string? value) =>
        value is { Length: >= 11 } && char.IsAsciiLetter(value[0]) && value[1..].All(char.IsAsciiLetterOrDigit) ? value[0] + IdNumber(value[1..]) : value;
}
