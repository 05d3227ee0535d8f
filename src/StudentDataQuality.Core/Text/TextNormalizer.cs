namespace StudentDataQuality.Text;

/// <summary>
/// The small, exact normalisations a registry value may get: full-width ASCII (digits, letters, punctuation
/// typed with a Chinese input method) folded to half-width, and surrounding white space removed.
/// Nothing else is changed; whether a value is valid is for the quality rules to say.
/// </summary>
public static class TextNormalizer
{
    private const char FullWidthFirst = '\uFF01';
    private const char FullWidthLast = '\uFF5E';
    private const int FullWidthOffset = 0xFEE0;

    /// <summary>Trims white space (including the ideographic space U+3000) at both ends.</summary>
    public static string Trim(string value) => value.Trim(' ', '\t', '\r', '\n', '\u3000', '\u00A0');

    /// <summary>True when the text holds a full-width ASCII character (U+FF01–U+FF5E) or an ideographic space.</summary>
    public static bool HasFullWidth(ReadOnlySpan<char> value) =>
        value.ContainsAnyInRange(FullWidthFirst, FullWidthLast) || value.Contains('\u3000');

    /// <summary>Folds full-width ASCII to half-width and the ideographic space to a space.</summary>
    public static string FoldFullWidth(string value)
    {
        if (!HasFullWidth(value))
        {
            return value;
        }

        return string.Create(value.Length, value, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = c switch
                {
                    >= FullWidthFirst and <= FullWidthLast => (char)(c - FullWidthOffset),
                    '\u3000' => ' ',
                    _ => c,
                };
            }
        });
    }

    /// <summary>Trim, fold full-width, upper-case ASCII letters: the normal form of identifiers and codes.</summary>
    public static string NormalizeCode(string value)
    {
        // Nearly every identifier is already in normal form (digits and capitals): return it as it is.
        if (value.Length > 0 && !value.AsSpan().ContainsAnyExcept(NormalCodeCharacters))
        {
            return value;
        }

        return Trim(FoldFullWidth(value)).ToUpperInvariant();
    }

    private static readonly System.Buffers.SearchValues<char> NormalCodeCharacters =
        System.Buffers.SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");

    /// <summary>True when every character is an ASCII digit (and there is at least one).</summary>
    public static bool IsDigits(ReadOnlySpan<char> value) => !value.IsEmpty && !value.ContainsAnyExceptInRange('0', '9');
}
