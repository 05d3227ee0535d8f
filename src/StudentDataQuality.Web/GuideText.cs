namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the help's front page and the guides' pages around the guides' own words (which come from docs/guides):
/// Resources/GuideText.resx is zh-CN, GuideText.en.resx English, read through <c>IStringLocalizer&lt;GuideText&gt;</c>.
/// </summary>
public sealed class GuideText
{
}
