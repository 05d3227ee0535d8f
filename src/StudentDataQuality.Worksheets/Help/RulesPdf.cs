using System.Globalization;
using System.Resources;
using PdfSharp;
using PdfSharp.Drawing;
using PdfSharp.Pdf;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Worksheets.Help;

/// <summary>One rule of the catalogue as the printable catalogue shows it, in one language (the caller picks the texts).</summary>
public sealed record RuleSheet(string Id, string Title, bool IsError, string Stage, IReadOnlyList<string> Fields, string? Why, string Fix,
    bool? Explainable, IReadOnlyList<(string Wrong, string Right)> Examples);

/// <summary>
/// The rule catalogue as a printable A4 PDF (<c>sdq rules --doc FILE.pdf</c>): the same content as the Markdown, in one
/// language, with the CJK font embedded, as text that can be searched and read back; long text wraps, a rule that does not
/// fit on what is left of a page starts on the next, and every page carries its number.
/// </summary>
public static class RulesPdf
{
    private const double Margin = 50;
    private const double FooterSpace = 30;
    private const double TitleSize = 16;
    private const double HeadingSize = 12.5;
    private const double TextSize = 9.5;

    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Worksheets.Resources.RulesPdfText", typeof(RulesPdf).Assembly);

    /// <summary>A text of the PDF in one language (a missing text is a build mistake and throws).</summary>
    public static string Text(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The rule catalogue text '{key}' is missing from the resources for {language.Tag()}.");

    /// <summary>The PDF of these rules, in the order given.</summary>
    /// <exception cref="UserErrorException">No CJK font is installed (Pdf.NoCjkFont).</exception>
    public static byte[] Render(IReadOnlyList<RuleSheet> rules, WorksheetLanguage language)
    {
        ArgumentNullException.ThrowIfNull(rules);
        CjkFontResolver.Install();
        using var document = new PdfDocument();
        document.Info.Title = Text("Title", language);
        document.Info.Creator = ConfirmationSheetPdf.Creator;
        document.Info.Author = "";
        new Writer(document, language).Write(rules);
        // The page numbers, once the number of pages is known.
        var pages = document.Pages.Count;
        for (var i = 0; i < pages; i++)
        {
            var page = document.Pages[i];
            using var graphics = XGraphics.FromPdfPage(page, XGraphicsPdfPageOptions.Append);
            var fit = new SheetTextFit(graphics);
            var footer = string.Format(language.Culture(), Text("Footer", language), i + 1, pages);
            graphics.DrawString(footer, fit.Font(8), XBrushes.Gray,
                new XRect(Margin, page.Height.Point - Margin + 10, page.Width.Point - (2 * Margin), 12), XStringFormats.Center);
        }

        using var stream = new MemoryStream();
        document.Save(stream, closeStream: false);
        return stream.ToArray();
    }

    /// <summary>Lays out the rules top to bottom, page after page.</summary>
    private sealed class Writer(PdfDocument document, WorksheetLanguage language) : IDisposable
    {
        private XGraphics? _graphics;
        private SheetTextFit? _fit;
        private double _y;
        private double _bottom;
        private double _width;

        public void Write(IReadOnlyList<RuleSheet> rules)
        {
            try
            {
                NewPage();
                Paragraph(Text("Title", language), TitleSize, XBrushes.Black);
                _y += 4;
                Paragraph(Text("Intro", language), TextSize, XBrushes.Black);
                Paragraph(string.Format(language.Culture(), Text("Count", language), rules.Count), TextSize, XBrushes.Gray);
                foreach (var rule in rules)
                {
                    Rule(rule);
                }
            }
            finally
            {
                Dispose();
            }
        }

        private void Rule(RuleSheet rule)
        {
            // A rule starts where its heading and its first lines fit; else on the next page.
            _y += 10;
            if (_y + 80 > _bottom)
            {
                NewPage();
            }

            Paragraph($"{rule.Id}  {rule.Title}", HeadingSize, XBrushes.Black);
            var severity = Text(rule.IsError ? "SeverityError" : "SeverityWarning", language);
            var stage = Resources.GetString("Stage." + rule.Stage, language.Culture()) ?? rule.Stage;
            Paragraph(string.Format(language.Culture(), Text("Facts", language), severity, stage, string.Join(", ", rule.Fields)), TextSize, XBrushes.Gray);
            if (!string.IsNullOrWhiteSpace(rule.Why))
            {
                Labelled("LabelWhy", rule.Why);
            }

            Labelled("LabelFix", rule.Fix);
            if (rule.Explainable is { } explainable)
            {
                Labelled("LabelExplain", Text(explainable ? "ExplainYes" : "ExplainNo", language));
            }

            if (rule.Examples.Count > 0)
            {
                Paragraph(Text("LabelExamples", language), TextSize, XBrushes.Black);
                foreach (var (wrong, right) in rule.Examples)
                {
                    Example(wrong, right);
                }
            }
        }

        private void Labelled(string label, string text) =>
            Paragraph(Text(label, language) + " " + Clean(text), TextSize, XBrushes.Black);

        /// <summary>One example as two columns: the wrong value, then its right form, each wrapped within its column.</summary>
        private void Example(string wrong, string right)
        {
            var column = (_width - 20) / 2;
            var left = Fit.Wrap(Text("Wrong", language) + " " + Shown(wrong), column - 6, TextSize);
            var rightLines = Fit.Wrap("→ " + Text("Right", language) + " " + Shown(right), column - 6, TextSize);
            var lines = Math.Max(left.Count, rightLines.Count);
            var height = lines * SheetTextFit.LineHeight(TextSize);
            if (_y + height > _bottom)
            {
                NewPage();
            }

            // The wrong value whole, then the right one: a reader that follows the drawing order (copying, pdftotext -raw) keeps each together.
            for (var i = 0; i < left.Count; i++)
            {
                Graphics.DrawString(left[i], Fit.Font(TextSize), XBrushes.DarkRed,
                    new XRect(Margin + 20, _y + (i * SheetTextFit.LineHeight(TextSize)), column, SheetTextFit.LineHeight(TextSize)), XStringFormats.TopLeft);
            }

            for (var i = 0; i < rightLines.Count; i++)
            {
                Graphics.DrawString(rightLines[i], Fit.Font(TextSize), XBrushes.DarkGreen,
                    new XRect(Margin + 20 + column, _y + (i * SheetTextFit.LineHeight(TextSize)), column, SheetTextFit.LineHeight(TextSize)), XStringFormats.TopLeft);
            }

            _y += height + 2;
        }

        /// <summary>An example's value as drawn: an empty value said as such, anything else cleaned of control characters.</summary>
        private string Shown(string value) => Clean(value) is { Length: > 0 } text ? $"“{text}”" : Text("EmptyValue", language);

        /// <summary>Text wrapped to the width, continued on the next page when it reaches the bottom.</summary>
        private void Paragraph(string text, double size, XBrush brush)
        {
            var lineHeight = SheetTextFit.LineHeight(size);
            foreach (var line in Fit.Wrap(Clean(text), _width, size))
            {
                if (_y + lineHeight > _bottom)
                {
                    NewPage();
                }

                Graphics.DrawString(line, Fit.Font(size), brush, new XRect(Margin, _y, _width, lineHeight), XStringFormats.TopLeft);
                _y += lineHeight;
            }

            _y += 2;
        }

        /// <summary>
        /// The catalogue's own text as drawn: control characters (a line break, a tab) as a space, everything else kept, so
        /// that an example of a garbled value ("�") shows what the registrar will see.
        /// </summary>
        private static string Clean(string? text) =>
            string.IsNullOrEmpty(text) ? "" : string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c)).Trim();

        private XGraphics Graphics => _graphics ?? throw new InvalidOperationException("No page.");

        private SheetTextFit Fit => _fit ?? throw new InvalidOperationException("No page.");

        private void NewPage()
        {
            _graphics?.Dispose();
            var page = document.AddPage();
            page.Size = PageSize.A4;
            page.Orientation = PageOrientation.Portrait;
            _graphics = XGraphics.FromPdfPage(page);
            _fit = new SheetTextFit(_graphics);
            _y = Margin;
            _bottom = page.Height.Point - Margin - FooterSpace + 10;
            _width = page.Width.Point - (2 * Margin);
        }

        public void Dispose()
        {
            _graphics?.Dispose();
            _graphics = null;
        }
    }
}
