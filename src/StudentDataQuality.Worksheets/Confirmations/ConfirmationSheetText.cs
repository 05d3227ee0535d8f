using System.Globalization;
using System.Resources;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// Every text a confirmation sheet shows a parent, from the resources (Resources/ConfirmationSheetText.resx is zh-CN, the
/// .en.resx English). A missing text is a build mistake and throws, rather than printing an empty line on a parent's sheet.
/// </summary>
public static class ConfirmationSheetText
{
    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Worksheets.Resources.ConfirmationSheetText", typeof(ConfirmationSheetText).Assembly);

    public static string Get(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The confirmation sheet text '{key}' is missing from the resources for {language.Tag()}.");

    public static string Format(string key, WorksheetLanguage language, params object?[] args) =>
        string.Format(language.Culture(), Get(key, language), args);

    /// <summary>Every key of the resources in one language, without falling back to the other (for tests).</summary>
    public static IReadOnlySet<string> Keys(WorksheetLanguage language)
    {
        var culture = language == WorksheetLanguage.Chinese ? CultureInfo.InvariantCulture : language.Culture();
        var set = Resources.GetResourceSet(culture, createIfNotExists: true, tryParents: false)
            ?? throw new InvalidOperationException($"No confirmation sheet resources for {language.Tag()}.");
        return set.Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal);
    }
}
