namespace StudentDataQuality.Web;

/// <summary>
/// The portal's shared texts (the layout, the sign-in, the words every page uses): Resources/PortalText.resx is zh-CN, the
/// portal's default; PortalText.en.resx English. Each area of pages has its own marker class and pair of files beside it
/// (SchoolText, TeamText, ManagerText, SecondFactorText), read through <c>IStringLocalizer&lt;T&gt;</c>; a page's text is
/// never a literal in its markup or its handler (a test fails when a key is missing in either language).
/// </summary>
public sealed class PortalText;
