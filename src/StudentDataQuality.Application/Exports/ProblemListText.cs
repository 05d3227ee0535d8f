using System.Resources;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Exports;

/// <summary>
/// The problem list's own texts (its sheet's name, column headers, severities), from Resources/ProblemListText.resx
/// (zh-CN) and its .en.resx. A missing text is a build mistake and throws, rather than writing an empty header.
/// </summary>
public static class ProblemListText
{
    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Application.Resources.ProblemListText", typeof(ProblemListText).Assembly);

    public static string Get(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The problem list text '{key}' is missing from the resources for {language.Tag()}.");
}
