namespace StudentDataQuality.Identifiers;

/// <summary>
/// The 18-character resident ID number of GB 11643-1999: 6-digit region, 8-digit birth date, 3-digit
/// sequence (odd male, even female) and an ISO 7064 MOD 11-2 check character.
/// </summary>
public static class ResidentId
{
    public const int Length = 18;

    private static readonly int[] Weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    private const string CheckCharacters = "10X98765432";

    /// <summary>The check character for the first 17 digits.</summary>
    public static char ComputeCheckCharacter(ReadOnlySpan<char> first17)
    {
        if (first17.Length != 17 || !Text.TextNormalizer.IsDigits(first17))
        {
            throw new ArgumentException("The first 17 characters of a resident ID number must be digits.", nameof(first17));
        }

        var sum = 0;
        for (var i = 0; i < 17; i++)
        {
            sum += (first17[i] - '0') * Weights[i];
        }

        return CheckCharacters[sum % 11];
    }

    /// <summary>17 digits followed by a digit or X (already normalised: upper case, half-width).</summary>
    public static bool HasValidShape(ReadOnlySpan<char> id) =>
        id.Length == Length && Text.TextNormalizer.IsDigits(id[..17]) && (char.IsAsciiDigit(id[17]) || id[17] == 'X');

    public static bool HasValidCheckCharacter(ReadOnlySpan<char> id) =>
        HasValidShape(id) && ComputeCheckCharacter(id[..17]) == id[17];

    /// <summary>The birth date in positions 7–14, when it is a real calendar date.</summary>
    public static DateOnly? BirthDate(ReadOnlySpan<char> id)
    {
        if (!HasValidShape(id))
        {
            return null;
        }

        var year = int.Parse(id.Slice(6, 4));
        var month = int.Parse(id.Slice(10, 2));
        var day = int.Parse(id.Slice(12, 2));
        return year >= 1 && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(year, month)
            ? new DateOnly(year, month, day)
            : null;
    }

    /// <summary>
    /// What a normalised number says about itself, as staged beside it: NULL check result unless it has the resident-ID
    /// shape, then whether the check character is right; and the birth segment when it is a real date.
    /// </summary>
    public static (bool? CheckOk, DateOnly? Birth) Facts(string? id) =>
        id is not null && HasValidShape(id) ? (ComputeCheckCharacter(id.AsSpan(0, 17)) == id[17], BirthDate(id)) : (null, null);

    /// <summary>1 (male) for an odd sequence, 2 (female) for an even one, as the record's gender code (docs/record.md).</summary>
    public static int? GenderCode(ReadOnlySpan<char> id) =>
        HasValidShape(id) ? ((id[16] - '0') % 2 == 1 ? 1 : 2) : null;

    /// <summary>Builds a valid number from its parts (used by the synthetic province).</summary>
    public static string Create(string regionCode, DateOnly birthDate, int sequence)
    {
        ArgumentException.ThrowIfNullOrEmpty(regionCode);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sequence, 999);
        var first17 = $"{regionCode}{birthDate:yyyyMMdd}{sequence:D3}";
        return first17 + ComputeCheckCharacter(first17);
    }
}
