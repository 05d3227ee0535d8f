using System.Diagnostics;
using StudentDataQuality.Guides;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Web;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// Every guide's printable PDF (Worksheets/Guides/GuidePdf, as the portal serves it), read back by poppler-utils, not by the
/// library that wrote it: A4 pages, the title and every numbered step of its source in docs/guides (Chinese and English),
/// each page numbered "n / N", and one embedded picture for each screenshot the guide shows.
/// </summary>
public sealed class GuidePdfTests
{
    public static TheoryData<string, bool> Guides()
    {
        var data = new TheoryData<string, bool>();
        foreach (var role in GuideRoles.All)
        {
            data.Add(role, false);
            data.Add(role, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Guides))]
    public void TheGuidesPdf_HasItsTitleStepsPageNumbersAndScreenshots(string role, bool english)
    {
        var guide = GuideScreenshots.All().Single(g => g.Role == role && g.English == english).Guide;
        var pdf = GuideLibrary.Pdf(role, english);

        var info = Poppler.Info(pdf);
        Assert.Contains("(A4)", info, StringComparison.Ordinal);
        var pages = Poppler.Pages(pdf);
        Assert.Equal(pages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            System.Text.RegularExpressions.Regex.Match(info, @"Pages:\s+(\d+)").Groups[1].Value);
        // The pages' text without their feet ("title · n / N"), which may fall in the middle of a step that goes on overleaf.
        var text = Squeeze(string.Concat(pages.Select((page, i) => page.Replace($"{guide.Title} · {i + 1} / {pages.Count}", "", StringComparison.Ordinal))));
        Assert.Contains(Squeeze(guide.Title), text, StringComparison.Ordinal);
        foreach (var step in guide.Blocks.OfType<GuideList>().Where(l => l.Numbered).SelectMany(l => l.Items))
        {
            foreach (var run in step)
            {
                Assert.Contains(Squeeze(run.Text), text, StringComparison.Ordinal);
            }
        }

        for (var i = 0; i < pages.Count; i++)
        {
            Assert.Contains($"{i + 1} / {pages.Count}", pages[i], StringComparison.Ordinal);
        }

        // pdfimages -list: two header lines, then one line per picture (a soft mask is a line of its own, of type smask).
        var images = Pdfimages(pdf).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(c => c[2] == "image").ToList();
        Assert.Equal(guide.Images.Count, images.Count);
        Assert.True(images.All(c => int.Parse(c[3], System.Globalization.CultureInfo.InvariantCulture) >= 600), "a screenshot lost its resolution");
    }

    /// <summary>Text without white space: pdftotext breaks the lines where the PDF wrapped them.</summary>
    private static string Squeeze(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    private static string Pdfimages(byte[] pdf)
    {
        var path = Path.Combine(Path.GetTempPath(), $"sdq-guide-{Guid.NewGuid():N}.pdf");
        File.WriteAllBytes(path, pdf);
        try
        {
            using var process = Process.Start(new ProcessStartInfo("pdfimages", ["-list", path]) { RedirectStandardOutput = true, UseShellExecute = false })
                ?? throw new InvalidOperationException("pdfimages did not start: apt-get install -y poppler-utils");
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
            return output;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
