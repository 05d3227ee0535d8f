using System.Globalization;
using PdfSharp;
using PdfSharp.Drawing;
using PdfSharp.Pdf;
using StudentDataQuality.Guides;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Worksheets.Guides;

/// <summary>
/// A guide (docs/guides, <see cref="GuideMarkdown"/>) as a printable A4 PDF: the title, sections, paragraphs, numbered steps
/// and bullets wrapped to the page, each screenshot scaled to the text's width (never past its own size) and kept whole on
/// a page, and every page numbered "n / N" at its foot. The CJK font is embedded as on the confirmation sheets, so the text
/// can be searched and read back. A guide holds no personal data: nothing here is an export.
/// </summary>
public static class GuidePdf
{
    private const double Margin = 56; // about 20 mm
    private const double Body = 10.5;
    private const double SectionSize = 14;
    private const double TitleSize = 20;
    private const double FootSize = 8.5;
    private static readonly XPdfFontOptions Unicode = new(PdfFontEncoding.Unicode);

    /// <summary>The PDF of the guide; <paramref name="image"/> gives a screenshot's PNG bytes by its name.</summary>
    /// <exception cref="UserErrorException">No CJK font is installed (Pdf.NoCjkFont).</exception>
    /// <exception cref="InvalidOperationException">The guide names a screenshot <paramref name="image"/> does not have.</exception>
    public static byte[] Render(Guide guide, Func<string, byte[]?> image)
    {
        ArgumentNullException.ThrowIfNull(guide);
        ArgumentNullException.ThrowIfNull(image);
        CjkFontResolver.Install();
        using var document = new PdfDocument();
        document.Info.Title = guide.Title;
        document.Info.Creator = ConfirmationSheetPdf.Creator;
        document.Info.Author = "";
        new Writer(document).Write(guide, image);
        var total = document.PageCount;
        for (var i = 0; i < total; i++)
        {
            var page = document.Pages[i];
            using var graphics = XGraphics.FromPdfPage(page, XGraphicsPdfPageOptions.Append);
            var font = new XFont(CjkFontResolver.Family, FootSize, XFontStyleEx.Regular, Unicode);
            var text = string.Create(CultureInfo.InvariantCulture, $"{guide.Title} · {i + 1} / {total}");
            graphics.DrawString(text, font, XBrushes.Gray, new XRect(0, page.Height.Point - Margin + 18, page.Width.Point, 14), XStringFormats.TopCenter);
        }

        using var stream = new MemoryStream();
        document.Save(stream, closeStream: false);
        return stream.ToArray();
    }

    /// <summary>Lays the blocks out page after page: a cursor going down, a new page when the next line or picture does not fit.</summary>
    private sealed class Writer(PdfDocument document)
    {
        private XGraphics? _graphics;
        private PdfPage? _page;
        private double _y;
        private readonly Dictionary<(double, bool), XFont> _fonts = [];

        private double Width => _page!.Width.Point - (2 * Margin);

        private double Bottom => _page!.Height.Point - Margin;

        public void Write(Guide guide, Func<string, byte[]?> image)
        {
            NewPage();
            Lines(guide.Title, Font(TitleSize, true), Margin, Width, XBrushes.Black);
            _y += 8;
            foreach (var block in guide.Blocks)
            {
                switch (block)
                {
                    case GuideSection section:
                        _y += 10;
                        // A heading is never the last line of a page.
                        if (_y + (3 * Line(SectionSize)) > Bottom)
                        {
                            NewPage();
                        }

                        Lines(section.Text, Font(SectionSize, true), Margin, Width, XBrushes.Black);
                        _y += 4;
                        break;
                    case GuideParagraph paragraph:
                        Lines(Text(paragraph.Runs), Font(Body, false), Margin, Width, XBrushes.Black);
                        _y += 6;
                        break;
                    case GuideList list:
                        for (var i = 0; i < list.Items.Count; i++)
                        {
                            var mark = list.Numbered ? (i + 1).ToString(CultureInfo.InvariantCulture) + "." : "•";
                            var font = Font(Body, false);
                            if (_y + Line(Body) > Bottom)
                            {
                                NewPage();
                            }

                            _graphics!.DrawString(mark, font, XBrushes.Black, new XRect(Margin, _y, 20, Line(Body)), XStringFormats.TopLeft);
                            Lines(Text(list.Items[i]), font, Margin + 22, Width - 22, XBrushes.Black);
                            _y += 2;
                        }

                        _y += 6;
                        break;
                    case GuideImage picture:
                        Picture(picture, image(picture.Name)
                            ?? throw new InvalidOperationException($"The guide \"{guide.Title}\" shows {picture.Name}, which is not among its screenshots."));
                        break;
                }
            }

            _graphics?.Dispose();
        }

        private void Picture(GuideImage picture, byte[] png)
        {
            using var stream = new MemoryStream(png, writable: false);
            using var shot = XImage.FromStream(stream);
            var width = Math.Min(Width, shot.PointWidth);
            var height = shot.PointHeight * (width / shot.PointWidth);
            var captionFont = Font(Body - 1, false);
            var room = Bottom - Margin - Line(Body) - 8;
            if (height > room)
            {
                // Taller than a page: scaled down to fit one.
                width *= room / height;
                height = room;
            }

            if (_y + height + Line(Body) + 8 > Bottom)
            {
                NewPage();
            }

            _y += 4;
            _graphics!.DrawImage(shot, Margin, _y, width, height);
            _graphics.DrawRectangle(XPens.LightGray, Margin, _y, width, height);
            _y += height + 3;
            Lines(picture.Caption, captionFont, Margin, Width, XBrushes.DimGray);
            _y += 8;
        }

        /// <summary>Draws text wrapped to the width, a new page when a line does not fit.</summary>
        private void Lines(string text, XFont font, double x, double width, XBrush brush)
        {
            foreach (var line in Wrap(text, font, width))
            {
                if (_y + Line(font.Size) > Bottom)
                {
                    NewPage();
                }

                _graphics!.DrawString(line, font, brush, new XRect(x, _y, width, Line(font.Size)), XStringFormats.TopLeft);
                _y += Line(font.Size);
            }
        }

        /// <summary>
        /// The text in lines no wider than the width: broken between words (at spaces) or between Chinese characters, a word
        /// too long for a line broken where it must.
        /// </summary>
        private List<string> Wrap(string text, XFont font, double width)
        {
            var lines = new List<string>();
            var line = "";
            foreach (var token in Tokens(text))
            {
                var next = line + token;
                if (line.Length > 0 && _graphics!.MeasureString(next.TrimEnd(), font).Width > width)
                {
                    lines.Add(line.TrimEnd());
                    line = token.TrimStart();
                    while (line.Length > 1 && _graphics.MeasureString(line, font).Width > width)
                    {
                        var cut = line.Length - 1;
                        while (cut > 1 && _graphics.MeasureString(line[..cut], font).Width > width)
                        {
                            cut--;
                        }

                        lines.Add(line[..cut]);
                        line = line[cut..];
                    }
                }
                else
                {
                    line = next;
                }
            }

            if (line.Trim().Length > 0)
            {
                lines.Add(line.TrimEnd());
            }

            return lines;
        }

        /// <summary>Words with their following space, and each wide (Chinese) character on its own, with the punctuation after it.</summary>
        private static IEnumerable<string> Tokens(string text)
        {
            var token = new System.Text.StringBuilder();
            foreach (var c in text)
            {
                var wide = c >= '\u2E80';
                var closing = "，。、；：！？）》」』”’".Contains(c, StringComparison.Ordinal);
                if (wide && !closing && token.Length > 0)
                {
                    yield return token.ToString();
                    token.Clear();
                }

                token.Append(c);
                if (c == ' ' || (wide && closing))
                {
                    yield return token.ToString();
                    token.Clear();
                }
            }

            if (token.Length > 0)
            {
                yield return token.ToString();
            }
        }

        /// <summary>A paragraph's text: a link as its text with its address after it, for the reader of paper.</summary>
        private static string Text(IReadOnlyList<GuideRun> runs) =>
            string.Concat(runs.Select(r => r.Href is null ? r.Text : $"{r.Text} ({r.Href})"));

        private static double Line(double size) => size * 1.45;

        private XFont Font(double size, bool bold)
        {
            if (!_fonts.TryGetValue((size, bold), out var font))
            {
                // The font has one face: a heading is set apart by its size.
                font = new XFont(CjkFontResolver.Family, size, XFontStyleEx.Regular, Unicode);
                _fonts[(size, bold)] = font;
            }

            return font;
        }

        private void NewPage()
        {
            _graphics?.Dispose();
            _page = document.AddPage();
            _page.Size = PageSize.A4;
            _page.Orientation = PageOrientation.Portrait;
            _graphics = XGraphics.FromPdfPage(_page);
            _y = Margin;
        }
    }
}
