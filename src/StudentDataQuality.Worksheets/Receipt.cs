namespace StudentDataQuality.Worksheets;

/// <summary>
/// What the school is told about one returned worksheet (docs/worksheets.md, "The receipt"): per row what became of it, the
/// totals, and what remains open. The same data is kept with the return (as JSON) for the web page, and written as an
/// .xlsx by <c>ReceiptWriter</c>. Every text in it that comes from the server (reasons, rule titles) is already
/// in <see cref="Language"/>; the writer adds only its own headings and labels.
/// </summary>
public sealed record Receipt
{
    /// <summary>How a receipt is kept as JSON (with the return, and read back for the portal): outcomes and severities by name.</summary>
    public static System.Text.Json.JsonSerializerOptions JsonOptions { get; } = new()
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>The return's number on the server: what the school quotes when it asks about this upload.</summary>
    public required long ReturnId { get; init; }

    public required Guid WorksheetId { get; init; }

    public required string RoundCode { get; init; }

    public required string SchoolCode { get; init; }

    public required string SchoolName { get; init; }

    public required int IssueNumber { get; init; }

    /// <summary>The uploaded file's name and sha256, as received.</summary>
    public required string FileName { get; init; }

    public required string Sha256 { get; init; }

    public required DateTimeOffset ReceivedAt { get; init; }

    /// <summary>The account that uploaded the file.</summary>
    public required string ReceivedBy { get; init; }

    public required WorksheetLanguage Language { get; init; }

    /// <summary>One entry per row of the returned file that was issued, added or missing, in Excel row order.</summary>
    public required IReadOnlyList<ReceiptRow> Rows { get; init; }

    /// <summary>What remains open for the school in this round after this return, by student then rule.</summary>
    public required IReadOnlyList<ReceiptOpenProblem> StillOpen { get; init; }

    public int Count(ReceiptOutcome outcome) => Rows.Count(r => r.Outcome == outcome);
}

/// <summary>What became of one row of the returned file.</summary>
public enum ReceiptOutcome
{
    /// <summary>The corrections were applied and the student's record now passes every check.</summary>
    AppliedClean,

    /// <summary>The corrections were applied, but some checks still fail (the row's <see cref="ReceiptRow.StillFailing"/>).</summary>
    AppliedStillFailing,

    /// <summary>Confirmed with an explanation, which waits for the data team's review.</summary>
    AwaitingReview,

    /// <summary>The registration was marked removed (the record is kept, never deleted).</summary>
    Removed,

    /// <summary>Nothing was chosen and nothing changed: the row's problems stay open.</summary>
    Unchanged,

    /// <summary>The row was not taken, for the reasons given (<see cref="ReceiptRow.Reasons"/>).</summary>
    Rejected,

    /// <summary>A row that was added to the sheet or is missing from it: reported, never imported.</summary>
    NotImported,
}

/// <summary>One row's outcome.</summary>
/// <param name="ExcelRow">The row as Excel numbers it in the returned file (for a missing row: where it was issued).</param>
/// <param name="RowKey">The row's key, when it has one.</param>
/// <param name="Changes">The corrections applied from this row (empty unless applied).</param>
/// <param name="Reasons">Why the row was rejected or not imported, in the receipt's language (empty otherwise).</param>
/// <param name="StillFailing">For applied rows: the checks the record still fails after the re-check.</param>
public sealed record ReceiptRow(
    int ExcelRow,
    string? RowKey,
    string? StudentNo,
    string? Name,
    ReceiptOutcome Outcome,
    IReadOnlyList<ReceiptChange> Changes,
    IReadOnlyList<string> Reasons,
    IReadOnlyList<ReceiptProblem> StillFailing)
{
    /// <summary>
    /// The kind of each reason, in the order of <see cref="Reasons"/> (for example the resource key <c>ReturnFormula</c>):
    /// the receipt counts repeated reasons by it. Optional: where a code is missing, the reason's text with its numbers
    /// taken out stands for its kind.
    /// </summary>
    public IReadOnlyList<string> ReasonCodes { get; init; } = [];
}

/// <summary>One correction as applied: the field, the column's header in the returned file, the value before and after.</summary>
public sealed record ReceiptChange(string Field, string ColumnHeader, string? OldValue, string? NewValue);

/// <summary>A check that fails, as the receipt shows it: rule id, severity, field, and the rule's title in the receipt's language.</summary>
public sealed record ReceiptProblem(string RuleId, ProblemSeverity Severity, string? Field, string Title, string? Value);

/// <summary>An open problem of the school after the return, for the "still to do" list.</summary>
public sealed record ReceiptOpenProblem(string? StudentNo, string? Name, ReceiptProblem Problem, bool AwaitingReview);
