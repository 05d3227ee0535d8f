using PdfSharp;
using PdfSharp.Drawing;
using PdfSharp.Pdf;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Exports;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// The printable confirmation sheets of one class (docs/confirmations.md, "The confirmation sheet (PDF)"): one A4 page per
/// student, in Chinese (or English), with a CJK font embedded, as text that can be searched and read back.
/// </summary>
public static class ConfirmationSheetPdf
{
    /// <summary>What the PDF's metadata names as its creator.</summary>
    public const string Creator = "StudentDataQuality";

    /// <summary>The PDF of these sheets, one page each, in the order given; with the export's watermark when one is given.</summary>
    /// <exception cref="UserErrorException">No CJK font is installed (Pdf.NoCjkFont).</exception>
    public static byte[] Render(IReadOnlyList<ConfirmationSheet> sheets, bool english = false, Watermark? watermark = null)
    {
        ArgumentNullException.ThrowIfNull(sheets);
        if (sheets.Count == 0)
        {
            throw new ArgumentException("A PDF of confirmation sheets needs at least one sheet.", nameof(sheets));
        }

        CjkFontResolver.Install();
        var language = english ? WorksheetLanguage.English : WorksheetLanguage.Chinese;
        using var document = new PdfDocument();
        var first = sheets[0];
        // Metadata: the round, the school and the class only; never a student's name or ID number.
        document.Info.Title = ConfirmationSheetText.Get("Heading", language);
        var oneClass = sheets.All(s => s.Class == first.Class && s.SchoolCode == first.SchoolCode);
        document.Info.Subject = SheetTextFit.Clean(oneClass
            ? ConfirmationSheetText.Format("Subject", language, first.RoundCode, first.SchoolName, first.SchoolCode, first.Class.Display(english))
            : ConfirmationSheetText.Format("SubjectNoClass", language, first.RoundCode, first.SchoolName, first.SchoolCode));
        document.Info.Creator = Creator;
        document.Info.Author = "";
        document.Info.Keywords = "";
        if (watermark is not null)
        {
            // Who took the file, when and why (staff data): the information's custom keys and the keywords.
            PdfWatermark.Stamp(document, watermark);
        }

        for (var i = 0; i < sheets.Count; i++)
        {
            var page = document.AddPage();
            page.Size = PageSize.A4;
            page.Orientation = PageOrientation.Portrait;
            using var graphics = XGraphics.FromPdfPage(page);
            new SheetPage(graphics, language).Draw(sheets[i], i + 1, sheets.Count);
            if (watermark is not null)
            {
                PdfWatermark.DrawLine(graphics, watermark, language);
            }
        }

        using var stream = new MemoryStream();
        document.Save(stream, closeStream: false);
        return stream.ToArray();
    }
}
