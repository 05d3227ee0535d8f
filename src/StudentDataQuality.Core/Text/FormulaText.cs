namespace StudentDataQuality.Text;

/// <summary>
/// Text that a spreadsheet program would read as a formula (OWASP "CSV injection"), one definition for every file the
/// project writes for people and for the rule S04 that sends such a value back to its school (docs/security.md).
/// </summary>
/// <remarks>
/// A text looks like a formula when it starts with a tab, a carriage return or a line feed (spreadsheet programs drop
/// them before reading a cell), or when its first character after leading white space (space, tab, CR, LF, the
/// no-break space U+00A0 and the ideographic space U+3000: the white space <see cref="TextNormalizer.Trim"/> removes) is
/// one of <c>= + - @</c> or their full-width forms <c>＝ ＋ － ＠</c> (U+FF1D, U+FF0B, U+FF0D, U+FF20), which a Chinese
/// input method types and some programs fold to half-width. Such text is written with a leading apostrophe
/// (<see cref="Neutralise"/>), the way OWASP recommends, and in .xlsx as a text cell with a quote prefix.
/// </remarks>
public static class FormulaText
{
    /// <summary>The characters a formula starts with, half- and full-width.</summary>
    public const string StartCharacters = "=+-@\uFF1D\uFF0B\uFF0D\uFF20";

    /// <summary>The leading white space skipped before the first character is judged.</summary>
    public const string LeadingWhiteSpace = " \t\r\n\u00A0\u3000";

    /// <summary>The prefix that keeps formula-like text text.</summary>
    public const char Prefix = '\'';

    /// <summary>Whether a spreadsheet program could take <paramref name="text"/> for a formula.</summary>
    public static bool LooksLikeFormula(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return false;
        }

        if (text[0] is '\t' or '\r' or '\n')
        {
            return true;
        }

        var first = text.IndexOfAnyExcept(LeadingWhiteSpace);
        return first >= 0 && StartCharacters.Contains(text[first], StringComparison.Ordinal);
    }

    /// <summary>The text as written for people: with a leading apostrophe when it looks like a formula, else as it is.</summary>
    public static string Neutralise(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return LooksLikeFormula(text) ? Prefix + text : text;
    }
}
