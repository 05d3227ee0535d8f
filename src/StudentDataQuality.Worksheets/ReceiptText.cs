using System.Globalization;
using System.Resources;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Every text a receipt shows a person, from the resources (Resources/ReceiptText.resx is zh-CN, the .en.resx English).
/// The outcome labels and meanings are here so that the web page and the CLI say exactly what the receipt workbook says.
/// A missing text is a build mistake and throws, rather than showing an empty cell to a registrar.
/// </summary>
public static class ReceiptText
{
    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Worksheets.Resources.ReceiptText", typeof(ReceiptText).Assembly);

    /// <summary>Every outcome, in the order the receipt lists them: taken, then left as it was, then not taken.</summary>
    public static IReadOnlyList<ReceiptOutcome> Outcomes { get; } =
    [
        ReceiptOutcome.AppliedClean,
        ReceiptOutcome.AppliedStillFailing,
        ReceiptOutcome.AwaitingReview,
        ReceiptOutcome.Removed,
        ReceiptOutcome.Unchanged,
        ReceiptOutcome.Rejected,
        ReceiptOutcome.NotImported,
    ];

    public static string Get(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The receipt text '{key}' is missing from the resources for {language.Tag()}.");

    public static string Format(string key, WorksheetLanguage language, params object?[] args) =>
        string.Format(language.Culture(), Get(key, language), args);

    /// <summary>The outcome's short label in this language (as the receipt's outcome cells show it).</summary>
    public static string Label(this ReceiptOutcome outcome, WorksheetLanguage language) => Get(OutcomeKey(outcome), language);

    /// <summary>What the outcome means for the school, in one or two sentences.</summary>
    public static string Meaning(this ReceiptOutcome outcome, WorksheetLanguage language) => Get(OutcomeKey(outcome) + "Meaning", language);

    /// <summary>The receipt's sheets' names in one language: summary, rows, still open.</summary>
    public static (string Summary, string Rows, string StillOpen) SheetNames(WorksheetLanguage language) =>
        (Get("SheetSummary", language), Get("SheetRows", language), Get("SheetStillOpen", language));

    /// <summary>Every key of the resources in one language, without falling back to the other (for tests).</summary>
    public static IReadOnlySet<string> Keys(WorksheetLanguage language)
    {
        var culture = language == WorksheetLanguage.Chinese ? CultureInfo.InvariantCulture : language.Culture();
        var set = Resources.GetResourceSet(culture, createIfNotExists: true, tryParents: false)
            ?? throw new InvalidOperationException($"No receipt resources for {language.Tag()}.");
        return set.Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal);
    }

    private static string OutcomeKey(ReceiptOutcome outcome) => outcome switch
    {
        ReceiptOutcome.AppliedClean => "OutcomeAppliedClean",
        ReceiptOutcome.AppliedStillFailing => "OutcomeAppliedStillFailing",
        ReceiptOutcome.AwaitingReview => "OutcomeAwaitingReview",
        ReceiptOutcome.Removed => "OutcomeRemoved",
        ReceiptOutcome.Unchanged => "OutcomeUnchanged",
        ReceiptOutcome.Rejected => "OutcomeRejected",
        ReceiptOutcome.NotImported => "OutcomeNotImported",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Unknown receipt outcome."),
    };
}
