namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the export pages (the register, the requests, asking for an export and taking it):
/// Resources/ExportText.resx is zh-CN, ExportText.en.resx English.
/// </summary>
public sealed class ExportText;
