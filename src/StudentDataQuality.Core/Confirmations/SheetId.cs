using System.Security.Cryptography;
using System.Text;

namespace StudentDataQuality.Confirmations;

/// <summary>
/// A confirmation sheet's id: "QS" and ten characters of Crockford's base32 (no I, L, O, U), 50 random bits, so that it
/// cannot be guessed from another sheet's. Printed as text ("QS-7K2MD-9XW4R") and as a QR code; typed back in any case,
/// with or without the dashes and spaces.
/// </summary>
public static class SheetId
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    public static string New()
    {
        Span<byte> random = stackalloc byte[10];
        RandomNumberGenerator.Fill(random);
        var text = new StringBuilder("QS", 12);
        foreach (var b in random)
        {
            text.Append(Alphabet[b & 31]);
        }

        return text.ToString();
    }

    /// <summary>The id as printed: "QS-7K2MD-9XW4R".</summary>
    public static string Format(string sheetId) => sheetId.Length == 12 ? $"{sheetId[..2]}-{sheetId[2..7]}-{sheetId[7..]}" : sheetId;

    /// <summary>The stored id of what someone typed or a reader scanned, or null when it cannot be a sheet id.</summary>
    public static string? Normalise(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 40)
        {
            return null;
        }

        var id = new StringBuilder(12);
        foreach (var c in text.Trim().ToUpperInvariant())
        {
            if (c is '-' or ' ')
            {
                continue;
            }

            // Crockford's reading of look-alikes.
            id.Append(c switch { 'O' => '0', 'I' or 'L' => '1', _ => c });
        }

        var result = id.ToString();
        return result.Length == 12 && result.StartsWith("QS", StringComparison.Ordinal) && result[2..].All(Alphabet.Contains) ? result : null;
    }
}
