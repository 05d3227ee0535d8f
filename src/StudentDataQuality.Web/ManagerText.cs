namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the managers' trends (overview, a district's page, the charts, the exports): Resources/ManagerText.resx is
/// zh-CN, ManagerText.en.resx English, read through <c>IStringLocalizer&lt;ManagerText&gt;</c>.
/// </summary>
public sealed class ManagerText;
