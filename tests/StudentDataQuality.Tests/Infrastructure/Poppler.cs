using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>A word pdftotext found on a page, with its box in points (origin top left).</summary>
public sealed record PdfWord(string Text, double XMin, double YMin, double XMax, double YMax);

/// <summary>A grey picture of a page: one byte a pixel (0 black, 255 white), row by row.</summary>
public sealed record GrayPage(int Width, int Height, byte[] Pixels)
{
    public byte this[int x, int y] => Pixels[(y * Width) + x];
}

/// <summary>
/// Reads PDFs back the way a person's tools do, with Debian's poppler-utils (pdftotext, pdftoppm, pdffonts, pdfinfo): the
/// tests never trust the library that wrote a PDF to read it. A missing program fails the test with how to install it.
/// </summary>
public static partial class Poppler
{
    /// <summary>The text of each page, in page order (pdftotext ends every page with a form feed).</summary>
    public static IReadOnlyList<string> Pages(byte[] pdf)
    {
        var text = Text(pdf);
        var pages = text.Split('\f');
        // After the last form feed there is nothing (or a line end): that is no page.
        return pages[..^1];
    }

    /// <summary>The whole text, pages separated by form feeds.</summary>
    public static string Text(byte[] pdf) => Encoding.UTF8.GetString(Run(pdf, "pdftotext", "-enc", "UTF-8", "{pdf}", "-"));

    /// <summary>The words of one page (1-based) with their boxes (pdftotext -bbox).</summary>
    public static IReadOnlyList<PdfWord> Words(byte[] pdf, int page)
    {
        var html = Encoding.UTF8.GetString(Run(pdf, "pdftotext", "-bbox", "-enc", "UTF-8", "-f", Number(page), "-l", Number(page), "{pdf}", "-"));
        return [.. WordBox().Matches(html).Select(m => new PdfWord(
            System.Net.WebUtility.HtmlDecode(m.Groups[5].Value),
            double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)))];
    }

    /// <summary>pdffonts' table: one line a font, after its two header lines.</summary>
    public static IReadOnlyList<string> Fonts(byte[] pdf) =>
        [.. Encoding.UTF8.GetString(Run(pdf, "pdffonts", "{pdf}")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2)];

    /// <summary>pdfinfo's lines (Title, Subject, Creator, Pages…).</summary>
    public static string Info(byte[] pdf) => Encoding.UTF8.GetString(Run(pdf, "pdfinfo", "-enc", "UTF-8", "{pdf}"));

    /// <summary>One page as a PNG file (pdftoppm -png) at that resolution.</summary>
    public static void SavePng(byte[] pdf, int page, int dpi, string pngPath)
    {
        var png = Run(pdf, "pdftoppm", "-png", "-r", Number(dpi), "-f", Number(page), "-l", Number(page), "-singlefile", "{pdf}");
        File.WriteAllBytes(pngPath, png);
    }

    /// <summary>One page in grey (pdftoppm -gray writes a binary PGM: "P5 width height 255", then the pixels).</summary>
    public static GrayPage Gray(byte[] pdf, int page, int dpi)
    {
        var pgm = Run(pdf, "pdftoppm", "-gray", "-r", Number(dpi), "-f", Number(page), "-l", Number(page), "-singlefile", "{pdf}");
        var position = 0;
        string Token()
        {
            while (char.IsWhiteSpace((char)pgm[position]))
            {
                position++;
            }

            var start = position;
            while (!char.IsWhiteSpace((char)pgm[position]))
            {
                position++;
            }

            return Encoding.ASCII.GetString(pgm, start, position - start);
        }

        Assert.Equal("P5", Token());
        var width = int.Parse(Token(), CultureInfo.InvariantCulture);
        var height = int.Parse(Token(), CultureInfo.InvariantCulture);
        Assert.Equal("255", Token());
        position++; // the one whitespace byte before the pixels
        Assert.Equal(width * height, pgm.Length - position);
        return new GrayPage(width, height, pgm[position..]);
    }

    /// <summary>Runs a program on the PDF (written to a temporary file, "{pdf}" in the arguments) and returns what it wrote.</summary>
    public static byte[] Run(byte[] pdf, string program, params string[] arguments)
    {
        var path = Path.Combine(Path.GetTempPath(), $"sdq-{Guid.NewGuid():N}.pdf");
        File.WriteAllBytes(path, pdf);
        try
        {
            return Run(program, [.. arguments.Select(a => a == "{pdf}" ? path : a)]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Runs a program and returns its standard output; a failure or a missing program fails the test.</summary>
    public static byte[] Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The PDF tests need {program}: apt-get install -y poppler-utils zbar-tools (.ci/run does).", e);
        }

        using (process)
        {
            using var output = new MemoryStream();
            var error = process.StandardError.ReadToEndAsync();
            process.StandardOutput.BaseStream.CopyTo(output);
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{program} failed ({process.ExitCode}): {error.Result}");
            return output.ToArray();
        }
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("""<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>""")]
    private static partial Regex WordBox();
}
