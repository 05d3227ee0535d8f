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
/// lookup does not find it, and say through <see cref="Font"/> whether it was found. Aggregates only.
/// </summary>
internal static class TrendCharts
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
    public static byte[] TrendLine(IReadOnlyList<RoundTrend> rounds, string title)
    {
        ArgumentNullException.ThrowIfNull(rounds);
        var plot = NewPlot(title);
        double[] xs = [.. Enumerable.Range(0, rounds.Count).Select(i => (double)i)];
        var problems = plot.Add.Scatter(xs, [.. rounds.Select(r => r.Measures.ProblemsPer1000 ?? double.NaN)]);
        problems.LegendText = Html.T("问题数/千人", "Problems per 1,000");
        problems.LineWidth = 2;
        problems.MarkerSize = 8;
        var errors = plot.Add.Scatter(xs, [.. rounds.Select(r => r.Measures.OpenErrorsPer1000 ?? double.NaN)]);
        errors.LegendText = Html.T("未解决错误/千人", "Open errors per 1,000");
        errors.LineWidth = 2;
        errors.MarkerSize = 8;
        plot.Axes.Bottom.SetTicks(xs, [.. rounds.Select(r => r.RoundCode)]);
        plot.Axes.Bottom.Label.Text = Html.T("轮次", "Round");
        plot.Axes.Left.Label.Text = Html.T("每千名学生", "Per 1,000 students");
        plot.Axes.SetLimitsX(-0.5, Math.Max(rounds.Count - 0.5, 0.5));
        plot.Axes.SetLimitsY(0, Math.Max(1, rounds.SelectMany(r => new[] { r.Measures.ProblemsPer1000 ?? 0, r.Measures.OpenErrorsPer1000 ?? 0 }).DefaultIfEmpty(0).Max() * 1.15));
        plot.ShowLegend(Alignment.UpperRight);
        return Png(plot);
    }

    /// <summary>A bar per district: open errors per 1,000 students in the round (a district without students has no bar).</summary>
    public static byte[] DistrictBars(IReadOnlyList<DistrictTrend> districts, string title)
    {
        ArgumentNullException.ThrowIfNull(districts);
        var plot = NewPlot(title);
        var values = districts.Select(d => d.Measures.OpenErrorsPer1000 ?? 0).ToArray();
        var bars = plot.Add.Bars(values);
        bars.Color = Colors.SteelBlue;
        double[] xs = [.. Enumerable.Range(0, districts.Count).Select(i => (double)i)];
        plot.Axes.Bottom.SetTicks(xs, [.. districts.Select(d => d.DistrictName is { Length: > 0 } name ? name : d.DistrictCode ?? Html.T("无区县", "no district"))]);
        if (districts.Count > 8)
        {
            // Many names: slanted, with room below the axis for them (ScottPlot does not make it by itself).
            plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            plot.Axes.Bottom.MinimumSize = 80;
        }

        plot.Axes.Left.Label.Text = Html.T("未解决错误/千人", "Open errors per 1,000");
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
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

    private static byte[] Png(Plot plot) => plot.GetImageBytes(Width, Height, ImageFormat.Png);
}
