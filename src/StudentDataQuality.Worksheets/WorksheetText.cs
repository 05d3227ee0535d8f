using System.Globalization;
using System.Resources;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Every text a workbook shows a person, from the resources (Resources/WorksheetText.resx is zh-CN, the .en.resx
/// English). A missing text is a build mistake and throws, rather than showing an empty cell to a registrar.
/// </summary>
public static class WorksheetText
{
    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Worksheets.Resources.WorksheetText", typeof(WorksheetText).Assembly);

    public static string Get(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The worksheet text '{key}' is missing from the resources for {language.Tag()}.");

    public static string Format(string key, WorksheetLanguage language, params object?[] args) =>
        string.Format(language.Culture(), Get(key, language), args);

    /// <summary>The visible sheets' names in one language: instructions, problems, codes.</summary>
    public static (string Instructions, string Problems, string Codes) SheetNames(WorksheetLanguage language) =>
        (Get("SheetInstructions", language), Get("SheetProblems", language), Get("SheetCodes", language));

    /// <summary>Every key of the resources in one language, without falling back to the other (for tests).</summary>
    public static IReadOnlySet<string> Keys(WorksheetLanguage language)
    {
        var culture = language == WorksheetLanguage.Chinese ? CultureInfo.InvariantCulture : language.Culture();
        var set = Resources.GetResourceSet(culture, createIfNotExists: true, tryParents: false)
            ?? throw new InvalidOperationException($"No worksheet resources for {language.Tag()}.");
        return set.Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal);
    }
}
