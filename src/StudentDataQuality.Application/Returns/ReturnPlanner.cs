using System.Globalization;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Returns;

/// <summary>What becomes of one returned row.</summary>
public enum RowDecisionKind
{
    /// <summary>Nothing to take: no change and no action, or "corrected" with nothing changed (then a note says so).</summary>
    Leave,

    /// <summary>Changed values: a new record version and a correction per value.</summary>
    Correct,

    /// <summary>"Confirmed" with an explanation: the data team reviews it.</summary>
    Explain,

    /// <summary>"Remove registration" with an explanation: a new version that ends the registration.</summary>
    Remove,

    /// <summary>Removed by an earlier return, and nothing asked of it now.</summary>
    AlreadyRemoved,

    /// <summary>Something in the row cannot be taken; nothing of it is.</summary>
    Reject,
}

/// <summary>One changed value: the field, its header and cell in the returned file, the registry's value now and the returned one.</summary>
public sealed record FieldChange(string Field, string Header, string Cell, string? Old, string? New);

/// <summary>The decision for one returned row, with what it is decided from.</summary>
public sealed record RowDecision(ReturnedRow Row, IssuedRow Issued, CurrentVersion Current, RowDecisionKind Kind, IReadOnlyList<FieldChange> Changes,
    IReadOnlyList<ReturnProblem> Problems, string? Note, bool Repeated = false)
{
    /// <summary>Whether the row gives its record a new version (a correction or a removal).</summary>
    public bool GivesNewVersion => Kind is RowDecisionKind.Correct or RowDecisionKind.Remove;
}

/// <summary>
/// The plan of a return: a decision for every returned row, and what it writes: the next record versions, the lineage
/// lines and the explanations for review.
/// </summary>
public sealed record ReturnPlan(IReadOnlyList<RowDecision> Decisions, string Sheet)
{
    /// <summary>The rows that give their record a new version.</summary>
    public IReadOnlyList<RowDecision> Changed { get; } = Decisions.Where(d => d.GivesNewVersion).ToList();

    /// <summary>The records the return changes: what its re-check must judge again.</summary>
    public IEnumerable<long> ChangedRecords => Changed.Select(d => d.Issued.RecordId);

    /// <summary>The records whose registration the return removes.</summary>
    public IEnumerable<long> RemovedRecords => Changed.Where(d => d.Kind == RowDecisionKind.Remove).Select(d => d.Issued.RecordId);

    /// <summary>The next version of each changed record, written by return <paramref name="returnId"/>.</summary>
    public IEnumerable<NextVersion> Versions(long returnId) => Changed.Select(d => new NextVersion(d.Issued.RecordId, d.Current.Version + 1,
        d.Kind == RowDecisionKind.Remove ? d.Current.RawValues : Apply(d.Current.RawValues, d.Changes), d.Current.ExtraRaw, returnId,
        d.Kind == RowDecisionKind.Remove));

    /// <summary>The lineage: a line per changed value, or one per removal with the registrar's explanation as its reason.</summary>
    public IEnumerable<CorrectionLine> Corrections => Changed.SelectMany(d => d.Kind == RowDecisionKind.Remove
        ? [new CorrectionLine(d.Issued.RecordId, d.Current.Version, true, null, null, null, d.Row.Explanation, d.Row.RowKey, Sheet, d.Row.ExcelRow, null, null)]
        : d.Changes.Select(c => new CorrectionLine(d.Issued.RecordId, d.Current.Version, false, c.Field, c.Old, c.New, null, d.Row.RowKey, Sheet,
            d.Row.ExcelRow, c.Header, c.Cell)));

    /// <summary>The confirmations for the data team's review; one given again unchanged is not sent twice.</summary>
    public IReadOnlyList<ExplanationLine> Explanations => Decisions.Where(d => d.Kind == RowDecisionKind.Explain && !d.Repeated)
        .Select(d => new ExplanationLine(d.Issued.RecordId, d.Current.Version, d.Row.RowKey, d.Row.ExcelRow, d.Row.Explanation ?? "")).ToList();

    private static Dictionary<string, string?> Apply(IReadOnlyDictionary<string, string?> values, IReadOnlyList<FieldChange> changes)
    {
        var next = new Dictionary<string, string?>(values, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            next[change.Field] = change.New;
        }

        return next;
    }
}

/// <summary>
/// Decides, row by row, what a verified return asks for (docs/worksheets.md, "Taken row by row"): corrections,
/// confirmations, removals, rejections. A pure function of the returned workbook, the issued snapshot, the records as
/// they are now and what earlier returns of the same worksheet set; no database.
/// </summary>
public static class ReturnPlanner
{
    /// <summary>The locked identity columns: a change to any of them rejects the row.</summary>
    public static IReadOnlyList<string> IdentityFields { get; } = ["student_no", "grade", "class_name", "name"];

    /// <param name="workbook">The returned file as read.</param>
    /// <param name="snapshot">The issued rows by row key (every returned row's key is among them: the signatures were verified).</param>
    /// <param name="current">The current version of every record the rows show.</param>
    /// <param name="issuedIdentity">The locked columns of each issued record version.</param>
    /// <param name="before">What earlier returns of this worksheet set.</param>
    public static ReturnPlan Plan(ReturnedWorkbook workbook, IReadOnlyDictionary<string, IssuedRow> snapshot, IReadOnlyDictionary<long, CurrentVersion> current,
        IReadOnlyDictionary<(long RecordId, int Version), IReadOnlyDictionary<string, string?>> issuedIdentity, EarlierReturns before)
    {
        ArgumentNullException.ThrowIfNull(workbook);
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(issuedIdentity);
        ArgumentNullException.ThrowIfNull(before);
        var headers = workbook.Meta.Columns.ToDictionary(c => c.Marker, c => c.Header, StringComparer.Ordinal);
        var decisions = workbook.Rows.Select(row =>
        {
            var issued = snapshot[row.RowKey];
            return Decide(workbook, row, issued, current[issued.RecordId], issuedIdentity[(issued.RecordId, issued.RecordVersion)], before, headers);
        }).ToList();
        return new ReturnPlan(decisions, workbook.ProblemsSheet);
    }

    private static RowDecision Decide(ReturnedWorkbook workbook, ReturnedRow row, IssuedRow issued, CurrentVersion current,
        IReadOnlyDictionary<string, string?> issuedIdentity, EarlierReturns before, IReadOnlyDictionary<string, string> headers)
    {
        var problems = new List<ReturnProblem>(row.Problems);
        foreach (var field in IdentityFields)
        {
            if (row.Identity.TryGetValue(field, out var returned) && ReturnedWorkbookReader.Normalise(issuedIdentity.GetValueOrDefault(field)) != returned)
            {
                problems.Add(Problem(workbook, row, ReturnProblemCode.LockedCellChanged, headers.GetValueOrDefault("id." + field), field,
                    $"{issuedIdentity.GetValueOrDefault(field)} → {returned}"));
            }
        }

        // What changed is what differs from the value this worksheet last gave the server: the issued value, or what an
        // earlier return of the same worksheet set. A second return applies only what changed since the first.
        var changes = new List<FieldChange>();
        var earlier = before.Values.GetValueOrDefault(row.RowKey);
        for (var i = 0; i < issued.Fields.Count; i++)
        {
            var field = issued.Fields[i];
            if (!row.Values.TryGetValue(field, out var returned))
            {
                continue;
            }

            var last = earlier is not null && earlier.TryGetValue(field, out var set) ? set : issued.Values[i];
            if (ReturnedWorkbookReader.Normalise(last) == returned)
            {
                continue;
            }

            var header = headers.GetValueOrDefault(WorksheetLayout.FieldMarkerPrefix + field) ?? field;
            if (returned is not null && returned.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add(Problem(workbook, row, ReturnProblemCode.Unstorable, header, field, null));
            }

            changes.Add(new FieldChange(field, header, CellName(workbook, row, field), current.RawValues.GetValueOrDefault(field), returned));
        }

        if (problems.Count > 0)
        {
            return new RowDecision(row, issued, current, RowDecisionKind.Reject, [], problems, null);
        }

        if (current.Removed)
        {
            return changes.Count > 0 || row.Action is WorksheetAction.Corrected or WorksheetAction.Confirmed
                ? new RowDecision(row, issued, current, RowDecisionKind.Reject, [], [Problem(workbook, row, ReturnProblemCode.AlreadyRemoved, null, null, null)],
                    null)
                : new RowDecision(row, issued, current, RowDecisionKind.AlreadyRemoved, [], [], null);
        }

        var language = workbook.Meta.Language;
        if (current.RoundId != workbook.Meta.RoundId && (changes.Count > 0 || row.Action == WorksheetAction.RemoveRegistration))
        {
            return new RowDecision(row, issued, current, RowDecisionKind.Reject, [], [Problem(workbook, row, ReturnProblemCode.PreviousRound, null, null, null)],
                null);
        }

        if (changes.Count > 0)
        {
            // Changed values with no action chosen are corrections: the registrar fixed the red cells and forgot the dropdown.
            return row.Action is WorksheetAction.Confirmed or WorksheetAction.RemoveRegistration
                ? new RowDecision(row, issued, current, RowDecisionKind.Reject, [],
                    [Problem(workbook, row, ReturnProblemCode.MixedAction, null, null, row.Action.Value.Label(language))], null)
                : new RowDecision(row, issued, current, RowDecisionKind.Correct, changes, [], null);
        }

        return row.Action switch
        {
            WorksheetAction.Confirmed => new RowDecision(row, issued, current, RowDecisionKind.Explain, [], [], null,
                Repeated: before.Explanations.TryGetValue(row.RowKey, out var text) && text == row.Explanation),
            WorksheetAction.RemoveRegistration => new RowDecision(row, issued, current, RowDecisionKind.Remove, [], [], null),
            WorksheetAction.Corrected => new RowDecision(row, issued, current, RowDecisionKind.Leave, [], [],
                WorksheetText.Format("ReturnCorrectedNothingChanged", language, workbook.ProblemsSheet, row.ExcelRow)),
            _ => new RowDecision(row, issued, current, RowDecisionKind.Leave, [], [], null),
        };
    }

    private static ReturnProblem Problem(ReturnedWorkbook workbook, ReturnedRow row, ReturnProblemCode code, string? column, string? field, string? detail) =>
        new(code, workbook.ProblemsSheet, row.ExcelRow, row.RowKey, column, field, detail);

    /// <summary>The cell a field's value came from, as Excel names it (C12): the column is found by its marker, wherever it was moved.</summary>
    private static string CellName(ReturnedWorkbook workbook, ReturnedRow row, string field) =>
        workbook.ColumnNumbers.TryGetValue(WorksheetLayout.FieldMarkerPrefix + field, out var column)
            ? ColumnLetters(column) + row.ExcelRow.ToString(CultureInfo.InvariantCulture)
            : "";

    private static string ColumnLetters(int number)
    {
        var letters = "";
        for (; number > 0; number = (number - 1) / 26)
        {
            letters = (char)('A' + ((number - 1) % 26)) + letters;
        }

        return letters;
    }
}
