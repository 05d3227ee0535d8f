using ScottPlot;
using SkiaSharp;
using StudentDataQuality.Data.Reporting;

namespace StudentDataQuality.Web;

/// <summary>Which font the charts draw their labels with, and whether it was found (else Chinese comes out as boxes).</summary>
/// <param name="Family">The family asked for.</param>
/// <param name="Found">True when a typeface of that family, with glyphs for Chinese, was found.</param>
/// <param name="Source">Where it came from: the system's fonts, the file, or nothing.</param>
internal sealed record ChartFont(string Family, bool Found, string Source);

/// <summary>
/// The trend charts as PNG, drawn with ScottPlot (SkiaSharp). Labels are in the reader's language; Chinese needs a CJK font,
/// so the charts use WenQuanYi Micro Hei (Debian fonts-wqy-microhei) by name, or from its file where the system's font
/// lookup does not find it, and say through <see cref="Font"/> whether it was found. Aggregates only. The page draws its
/// charts itself (inline, with the numbers in a table beside each); these images are the same charts to take elsewhere.
/// </summary>
internal sealed class TrendCharts(TrendTables tables)
{
    public const string FontFamily = "WenQuanYi Micro Hei";
    public const string FontFile = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
    public const int Width = 960;
    public const int Height = 480;

    /// <summary>A few characters the chart labels use: the font must have glyphs for them.</summary>
    private const string ChineseSample = "问题率未解决错误区县轮次";

    private static readonly Lazy<ChartFont> Chosen = new(FindFont);

    /// <summary>The charts' font, looked up once per process.</summary>
    public static ChartFont Font => Chosen.Value;

    private static ChartFont FindFont()
    {
        using (var system = SKFontManager.Default.MatchFamily(FontFamily))
        {
            if (system is not null && string.Equals(system.FamilyName, FontFamily, StringComparison.OrdinalIgnoreCase) && HasGlyphs(system))
            {
                return new ChartFont(FontFamily, true, "system");
            }
        }

        if (File.Exists(FontFile))
        {
            using var fromFile = SKTypeface.FromFile(FontFile);
            if (fromFile is not null && HasGlyphs(fromFile))
            {
                Fonts.AddFontFile(FontFamily, FontFile);
                return new ChartFont(FontFamily, true, FontFile);
            }
        }

        return new ChartFont(FontFamily, false, "none");
    }

    private static bool HasGlyphs(SKTypeface typeface)
    {
        using var font = new SKFont(typeface);
        return font.ContainsGlyphs(ChineseSample);
    }

    /// <summary>Problems and open errors per 1,000 students across the rounds, in round order.</summary>
    public byte[] TrendLine(IReadOnlyList<RoundTrend> rounds, string title, string roundLabel, string problemsLabel, string openLabel)
    {
        ArgumentNullException.ThrowIfNull(rounds);
        var plot = NewPlot(title);
        double[] xs = [.. Enumerable.Range(0, rounds.Count).Select(i => (double)i)];
        var problems = plot.Add.Scatter(xs, [.. rounds.Select(r => r.Measures.ProblemsPer1000 ?? double.NaN)]);
        problems.LegendText = problemsLabel;
        problems.LineWidth = 2;
        problems.MarkerSize = 8;
        var errors = plot.Add.Scatter(xs, [.. rounds.Select(r => r.Measures.OpenErrorsPer1000 ?? double.NaN)]);
        errors.LegendText = openLabel;
        errors.LineWidth = 2;
        errors.MarkerSize = 8;
        errors.LinePattern = LinePattern.Dashed;
        plot.Axes.Bottom.SetTicks(xs, [.. rounds.Select(r => r.RoundCode)]);
        plot.Axes.Bottom.Label.Text = roundLabel;
        plot.Axes.SetLimitsX(-0.5, Math.Max(rounds.Count - 0.5, 0.5));
        plot.Axes.SetLimitsY(0, Math.Max(1, rounds.SelectMany(r => new[] { r.Measures.ProblemsPer1000 ?? 0, r.Measures.OpenErrorsPer1000 ?? 0 }).DefaultIfEmpty(0).Max() * 1.15));
        plot.ShowLegend(Alignment.UpperRight);
        return Png(plot, Height);
    }

    /// <summary>
    /// The ranking as horizontal bars, a district's name beside its bar, from the worst at the top down to the best; the groups
    /// that are not districts are left out (the page shows them apart). Taller with more bars, so that names never crowd.
    /// </summary>
    public byte[] DistrictBars(DistrictRanking ranking, string title, string figureLabel)
    {
        ArgumentNullException.ThrowIfNull(ranking);
        var plot = NewPlot(title);
        var shown = ranking.Worst.Concat(ranking.Best).ToList();
        // From the top down: the first district at the highest position.
        double[] ys = [.. Enumerable.Range(0, shown.Count).Select(i => (double)(shown.Count - 1 - i))];
        var bars = plot.Add.Bars(ys, [.. shown.Select(d => d.Measures.OpenErrorsPer1000 ?? 0)]);
        bars.Horizontal = true;
        bars.Color = Colors.SteelBlue;
        for (var i = 0; i < bars.Bars.Count; i++)
        {
            bars.Bars[i].FillColor = i < ranking.Worst.Count ? Colors.DarkRed : Colors.SteelBlue;
        }

        plot.Axes.Left.SetTicks(ys, [.. shown.Select(tables.Label)]);
        plot.Axes.Left.MinimumSize = 160;
        plot.Axes.Bottom.Label.Text = figureLabel;
        plot.Axes.Margins(left: 0);
        return Png(plot, Math.Max(Height, 22 * shown.Count + 120));
    }

    private static Plot NewPlot(string title)
    {
        var plot = new Plot();
        var font = Font;
        if (font.Found)
        {
            plot.Font.Set(font.Family);
        }

        plot.Title(title);
        return plot;
    }

    private static byte[] Png(Plot plot, int height) => plot.GetImageBytes(Width, height, ImageFormat.Png);
}
