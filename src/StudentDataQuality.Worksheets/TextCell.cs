using ClosedXML.Excel;
using StudentDataQuality.Text;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// The one way every .xlsx the project writes (worksheets, receipts, trend exports) puts text into a cell: a string cell
/// with the text format (<c>@</c>), never a formula, and for text that a spreadsheet would take for a formula
/// (<see cref="FormulaText"/>: <c>= + - @</c>, their full-width forms, a leading tab, CR or LF) the quote prefix as well,
/// so that it stays text when someone re-enters the cell.
/// </summary>
public static class TextCell
{
    /// <summary>The text number format.</summary>
    public const string TextFormat = "@";

    /// <summary>Writes <paramref name="text"/> as text, quote-prefixed when it looks like a formula.</summary>
    public static void Set(IXLCell cell, string text) => Set(cell, text, FormulaText.LooksLikeFormula(text));

    /// <summary>
    /// Writes <paramref name="written"/> as text, quote-prefixed when <paramref name="looksLikeFormula"/>: for a value
    /// written in another form than it is judged in (a carriage return through a sentinel, a clipped text).
    /// </summary>
    public static void Set(IXLCell cell, string written, bool looksLikeFormula)
    {
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(written);
        // SetValue, never Value: the Value setter guesses a type ("012345678901234567" would become a number, "=1+1" a formula).
        cell.SetValue(written);
        var style = cell.Style;
        if (style.NumberFormat.Format != TextFormat)
        {
            style.NumberFormat.Format = TextFormat;
        }

        if (looksLikeFormula)
        {
            // A string cell is never evaluated; the quote prefix keeps it text when someone re-enters the cell too.
            style.IncludeQuotePrefix = true;
        }
    }
}
