using System.Globalization;

namespace StudentDataQuality.Worksheets;

/// <summary>The language of a workbook's text: Simplified Chinese for schools, English on request.</summary>
public enum WorksheetLanguage
{
    /// <summary>zh-CN, the default.</summary>
    Chinese,

    /// <summary>en.</summary>
    English,
}

public static class WorksheetLanguages
{
    private static readonly CultureInfo Chinese = CultureInfo.GetCultureInfo("zh-CN");
    private static readonly CultureInfo English = CultureInfo.GetCultureInfo("en");

    /// <summary>The culture whose resources a workbook in this language is written from.</summary>
    public static CultureInfo Culture(this WorksheetLanguage language) => language switch
    {
        WorksheetLanguage.Chinese => Chinese,
        WorksheetLanguage.English => English,
        _ => throw new ArgumentOutOfRangeException(nameof(language), language, "Unknown worksheet language."),
    };

    /// <summary>The BCP 47 tag recorded in <c>_meta</c>: zh-CN or en.</summary>
    public static string Tag(this WorksheetLanguage language) => language.Culture().Name;
}
