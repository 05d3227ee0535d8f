using System.Security.Cryptography;
using System.Text;

namespace StudentDataQuality.Identifiers;

/// <summary>
/// A random id: two letters and ten characters of Crockford's base32 (no I, L, O, U; 50 random bits, not guessable from
/// another), printed with dashes ("QS-7K2MD-9XW4R"), read back in any case with Crockford's look-alikes.
/// </summary>
public static class RandomId
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    public static string New(string prefix)
    {
        Span<byte> random = stackalloc byte[10];
        RandomNumberGenerator.Fill(random);
        var text = new StringBuilder(prefix, prefix.Length + 10);
        foreach (var b in random)
        {
            text.Append(Alphabet[b & 31]);
        }

        return text.ToString();
    }

    /// <summary>The id as printed: "QS-7K2MD-9XW4R".</summary>
    public static string Format(string id) => id.Length == 12 ? $"{id[..2]}-{id[2..7]}-{id[7..]}" : id;

    /// <summary>The stored id of what someone typed or a reader scanned, or null when it cannot be an id with this prefix.</summary>
    public static string? Normalise(string? text, string prefix)
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
        return result.Length == 12 && result.StartsWith(prefix, StringComparison.Ordinal) && result[2..].All(Alphabet.Contains) ? result : null;
    }
}
