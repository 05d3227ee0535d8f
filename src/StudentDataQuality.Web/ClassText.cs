namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the class teacher's pages (Components/Class): Resources/ClassText.resx is zh-CN, the default;
/// ClassText.en.resx English. Read through <c>IStringLocalizer&lt;ClassText&gt;</c>.
/// </summary>
public sealed class ClassText;
