namespace StudentDataQuality.Web;

/// <summary>
/// The texts of a download refused by the export register (<see cref="Downloads"/>): Resources/DownloadText.resx is zh-CN,
/// the default; DownloadText.en.resx English. Read through <c>IStringLocalizer&lt;DownloadText&gt;</c>.
/// </summary>
public sealed class DownloadText;
