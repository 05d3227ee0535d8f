namespace StudentDataQuality.Worksheets;

/// <summary>What a school answers for a problem row (docs/record.md, "Resolution actions").</summary>
public enum WorksheetAction
{
    /// <summary>变更: the flagged values were edited in place.</summary>
    Corrected,

    /// <summary>佐证: the value is right as it stands; an explanation is required.</summary>
    Confirmed,

    /// <summary>删除: the student is not at this school; a reason is required. The record is marked, never deleted.</summary>
    RemoveRegistration,
}

public static class WorksheetActions
{
    public static IReadOnlyList<WorksheetAction> All { get; } =
        [WorksheetAction.Corrected, WorksheetAction.Confirmed, WorksheetAction.RemoveRegistration];

    /// <summary>The label the Action dropdown offers in this language.</summary>
    public static string Label(this WorksheetAction action, WorksheetLanguage language) =>
        WorksheetText.Get(LabelKey(action), language);

    /// <summary>What choosing the action means, as the instructions and codes sheets explain it.</summary>
    public static string Meaning(this WorksheetAction action, WorksheetLanguage language) =>
        WorksheetText.Get(LabelKey(action) + "Meaning", language);

    /// <summary>Whether the Explanation column must be filled for this action.</summary>
    public static bool RequiresExplanation(this WorksheetAction action) => action != WorksheetAction.Corrected;

    /// <summary>
    /// The action a returned cell names, in either language, ignoring case and surrounding white space; null for
    /// anything else (free text typed over the dropdown is normal, and is reported by the reader, not guessed at).
    /// </summary>
    public static WorksheetAction? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var trimmed = text.Trim();
        foreach (var action in All)
        {
            foreach (var language in Enum.GetValues<WorksheetLanguage>())
            {
                if (string.Equals(trimmed, action.Label(language), StringComparison.OrdinalIgnoreCase))
                {
                    return action;
                }
            }
        }

        return null;
    }

    private static string LabelKey(WorksheetAction action) => action switch
    {
        WorksheetAction.Corrected => "ActionCorrected",
        WorksheetAction.Confirmed => "ActionConfirmed",
        WorksheetAction.RemoveRegistration => "ActionRemove",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown worksheet action."),
    };
}
