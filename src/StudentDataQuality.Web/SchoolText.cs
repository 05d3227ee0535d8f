namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the school's and the district's pages (Components/School): Resources/SchoolText.resx is zh-CN, the
/// default; SchoolText.en.resx English. Read through <c>IStringLocalizer&lt;SchoolText&gt;</c>.
/// </summary>
public sealed class SchoolText;
