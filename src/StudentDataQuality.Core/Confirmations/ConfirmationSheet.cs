namespace StudentDataQuality.Confirmations;

/// <summary>One value printed on a sheet: the registry field and its value as the registry holds it now (null when blank).</summary>
public sealed record SheetValue(string Field, string? Value);

/// <summary>
/// One student's confirmation sheet as printed: its id, the round, the school and class, the student, and the values the
/// parent is asked to judge (<see cref="ConfirmationFields.All"/>, in that order). The ID number is printed in full on the
/// student's own sheet only.
/// </summary>
public sealed record ConfirmationSheet(string SheetId, string RoundCode, string SchoolCode, string SchoolName, ClassKey Class, string? StudentNo,
    long RecordId, int RecordVersion, IReadOnlyList<SheetValue> Values, DateTimeOffset PrintedAt)
{
    public string? this[string field] => Values.FirstOrDefault(v => v.Field == field)?.Value;
}

/// <summary>
/// What came back on one sheet: the parent confirmed it unchanged (<see cref="Corrections"/> empty) or wrote corrected
/// values (field → value as written), and the date the parent signed.
/// </summary>
public sealed record SheetAnswer(string SheetId, DateOnly SignedOn, IReadOnlyDictionary<string, string> Corrections)
{
    public bool Unchanged => Corrections.Count == 0;

    /// <summary>Where in a class answer workbook the answer was written (Excel row), when it came from one.</summary>
    public int? ExcelRow { get; init; }
}

/// <summary>The class answer workbook the answers came from (its name as sent and its sha256), or none (typed in the portal).</summary>
public sealed record AnswerFile(string FileName, string Sha256);

/// <summary>What became of one corrected value: applied at once, or waiting for the registrar (and why).</summary>
public enum ChangeStatus
{
    Applied,
    Pending,
    Refused,
}

/// <summary>
/// One value a parent corrected, and what became of it. <see cref="WaitsBecause"/>: "identity" (an identity field) or
/// "changed_since_print" (the record no longer holds the value printed).
/// </summary>
public sealed record AnsweredChange(long ChangeId, string Field, string? PrintedValue, string NewValue, ChangeStatus Status, string? WaitsBecause)
{
    /// <summary>For a value applied by this call: whether the record now passes every rule on that field (after the re-check).</summary>
    public bool? NowPasses { get; init; }
}

/// <summary>What became of one sheet's answer.</summary>
public sealed record AnswerOutcome(string SheetId, long AnswerId, bool Unchanged, IReadOnlyList<AnsweredChange> Changes);
