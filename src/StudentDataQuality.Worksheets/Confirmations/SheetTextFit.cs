using System.Globalization;
using System.Text;
using PdfSharp.Drawing;
using PdfSharp.Pdf;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// Text on a confirmation sheet: what is drawn of a value (control and direction characters stripped), and text wrapped and
/// shrunk to fit its box, so that no value, however long or hostile, leaves its box or pushes the page's layout.
/// </summary>
internal sealed class SheetTextFit(XGraphics graphics)
{
    /// <summary>The ellipsis that ends a value cut at the smallest size (it never is at the registry's lengths).</summary>
    private const string Ellipsis = "…";

    private static readonly XPdfFontOptions Unicode = new(PdfFontEncoding.Unicode);
    private readonly Dictionary<double, XFont> _fonts = [];
    private readonly Dictionary<(string Element, double Size), double> _widths = [];

    public XFont Font(double size)
    {
        if (!_fonts.TryGetValue(size, out var font))
        {
            font = new XFont(CjkFontResolver.Family, size, XFontStyleEx.Regular, Unicode);
            _fonts[size] = font;
        }

        return font;
    }

    public static double LineHeight(double size) => size * 1.3;

    /// <summary>
    /// What is drawn of a value: control characters (a line break, a tab: a space; others: nothing), format characters
    /// (right-to-left and other direction marks, zero-width joiners) and private-use characters left out, spaces collapsed.
    /// A value starting with '=' is drawn as it is: a PDF holds no formulas.
    /// </summary>
    public static string Clean(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var text = new StringBuilder(value.Length);
        var space = false;
        foreach (var rune in value.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            var blank = Rune.IsWhiteSpace(rune) || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
            if (blank)
            {
                space = text.Length > 0;
                continue;
            }

            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate
                || rune == Rune.ReplacementChar)
            {
                continue;
            }

            if (space)
            {
                text.Append(' ');
                space = false;
            }

            text.Append(rune.ToString());
        }

        return text.ToString();
    }

    /// <summary>
    /// Draws <paramref name="text"/> inside <paramref name="box"/>: wrapped to the box's width at <paramref name="size"/>, smaller
    /// (to <paramref name="minSize"/>) while the lines are taller than the box, and cut with an ellipsis at the smallest size.
    /// </summary>
    public void Draw(string text, XRect box, double size, double minSize, bool centre = false)
    {
        var (fitted, lines) = Fit(text, box.Width, box.Height, size, minSize);
        var font = Font(fitted);
        var lineHeight = LineHeight(fitted);
        var y = box.Top;
        foreach (var line in lines)
        {
            var format = centre ? XStringFormats.TopCenter : XStringFormats.TopLeft;
            var x = centre ? box.Left + (box.Width / 2) : box.Left;
            graphics.DrawString(line, font, XBrushes.Black, new XPoint(x, y), format);
            y += lineHeight;
        }
    }

    /// <summary>The size the text is drawn at and its lines, the way <see cref="Draw"/> draws them.</summary>
    public (double Size, IReadOnlyList<string> Lines) Fit(string text, double width, double height, double size, double minSize)
    {
        for (var s = size; s > minSize; s -= 0.5)
        {
            var lines = Wrap(text, width, s);
            if (lines.Count * LineHeight(s) <= height)
            {
                return (s, lines);
            }
        }

        var all = Wrap(text, width, minSize);
        var room = Math.Max(1, (int)Math.Floor(height / LineHeight(minSize)));
        if (all.Count <= room)
        {
            return (minSize, all);
        }

        var kept = all.Take(room).ToList();
        var last = kept[^1];
        while (last.Length > 0 && Width(last + Ellipsis, minSize) > width)
        {
            last = last[..PreviousElement(last)];
        }

        kept[^1] = last + Ellipsis;
        return (minSize, kept);
    }

    /// <summary>
    /// The lines of the text at that size within that width: Chinese breaks between any two characters, Latin text at the
    /// last space of the line when there is one (a word longer than the line is broken too).
    /// </summary>
    public IReadOnlyList<string> Wrap(string text, double width, double size)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        var lineWidth = 0.0;
        var elements = StringInfo.GetTextElementEnumerator(text);
        while (elements.MoveNext())
        {
            var element = elements.GetTextElement();
            var w = Width(element, size);
            if (lineWidth + w > width && line.Length > 0)
            {
                var current = line.ToString();
                var space = current.LastIndexOf(' ');
                if (element != " " && !IsCjk(element) && space > 0 && !IsCjk(current[space - 1].ToString()))
                {
                    lines.Add(current[..space]);
                    line.Clear().Append(current[(space + 1)..]);
                }
                else
                {
                    lines.Add(current.TrimEnd());
                    line.Clear();
                }

                lineWidth = Width(line.ToString(), size);
                if (element == " " && line.Length == 0)
                {
                    continue;
                }
            }

            line.Append(element);
            lineWidth += w;
        }

        if (line.Length > 0)
        {
            lines.Add(line.ToString());
        }

        return lines;
    }

    public double Width(string text, double size)
    {
        var total = 0.0;
        var elements = StringInfo.GetTextElementEnumerator(text);
        while (elements.MoveNext())
        {
            var element = elements.GetTextElement();
            if (!_widths.TryGetValue((element, size), out var w))
            {
                w = graphics.MeasureString(element, Font(size)).Width;
                _widths[(element, size)] = w;
            }

            total += w;
        }

        return total;
    }

    private static bool IsCjk(string element) => element.Length > 0 && element[0] is >= '\u2E80' and <= '\uFFEF';

    private static int PreviousElement(string text)
    {
        var starts = StringInfo.ParseCombiningCharacters(text);
        return starts.Length == 0 ? 0 : starts[^1];
    }
}
