using System.Globalization;
using StudentDataQuality.Data.Reporting;

namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the common mistakes page (/help/mistakes): Resources/MistakesText.resx is zh-CN, MistakesText.en.resx English,
/// read through <c>IStringLocalizer&lt;MistakesText&gt;</c>. The rules' titles and fix hints come from their files' headers.
/// </summary>
public sealed class MistakesText
{
    /// <summary>A share (0–1) as a whole percentage, the same in both languages.</summary>
    public static string Share(double? share) =>
        share is { } s ? Math.Round(s * 100, MidpointRounding.AwayFromZero).ToString("0", CultureInfo.InvariantCulture) + "%" : "";

    /// <summary>The district as the page names it: its code, and the school master's name when there is one.</summary>
    public static string District(MistakesDistrict district) =>
        string.IsNullOrWhiteSpace(district.Name) ? district.Code : district.Code + " " + district.Name;
}
