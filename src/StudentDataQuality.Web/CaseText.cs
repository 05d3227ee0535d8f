namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the cases pages (Components/Cases): Resources/CaseText.resx is zh-CN, the default; CaseText.en.resx
/// English. Read through <c>IStringLocalizer&lt;CaseText&gt;</c>.
/// </summary>
public sealed class CaseText;
