using System.Globalization;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// What a returned worksheet holds, as read from the file alone (no database): the <c>_meta</c> properties, one
/// <see cref="ReturnedRow"/> per issued row found on the problems sheet, and the rows that are not imported (added,
/// duplicated or deleted). Whether a row's key and signature match the issued snapshot is for the ingest to check.
/// </summary>
public sealed record ReturnedWorkbook
{
    public required string FileName { get; init; }

    public required ReturnedWorkbookMeta Meta { get; init; }

    /// <summary>The problems sheet's name as found in the file.</summary>
    public required string ProblemsSheet { get; init; }

    /// <summary>The Excel row of the header row (1 unless rows were inserted above it).</summary>
    public required int HeaderRow { get; init; }

    /// <summary>Where each recorded column (by marker) is in the returned file: its column number, after any moves and inserts.</summary>
    public required IReadOnlyDictionary<string, int> ColumnNumbers { get; init; }

    /// <summary>The returned rows whose key <c>_meta</c> records, in file order.</summary>
    public required IReadOnlyList<ReturnedRow> Rows { get; init; }

    /// <summary>Rows never imported: added rows (a key not issued, or no key), repeated keys, and issued rows not found.</summary>
    public required IReadOnlyList<ReturnProblem> NotImported { get; init; }

    public IEnumerable<ReturnProblem> AddedRows => NotImported.Where(p => p.Code == ReturnProblemCode.AddedRow);

    public IEnumerable<ReturnProblem> DeletedRows => NotImported.Where(p => p.Code == ReturnProblemCode.DeletedRow);
}

/// <summary>The properties the <c>_meta</c> sheet records, and its column and row records.</summary>
public sealed record ReturnedWorkbookMeta
{
    public required Guid WorksheetId { get; init; }

    public required int RoundId { get; init; }

    public required string SchoolCode { get; init; }

    public required int IssueNumber { get; init; }

    public required string KeyId { get; init; }

    public required int TemplateVersion { get; init; }

    /// <summary>The problems sheet's name as issued.</summary>
    public required string ProblemsSheet { get; init; }

    /// <summary>The language the workbook was issued in (zh-CN when the property is absent).</summary>
    public required WorksheetLanguage Language { get; init; }

    /// <summary>Every <c>meta</c> record, by name, as text (round code, deadline, generated at…).</summary>
    public required IReadOnlyDictionary<string, string> Properties { get; init; }

    /// <summary>The columns as issued: number, marker, header.</summary>
    public required IReadOnlyList<MetaColumn> Columns { get; init; }

    /// <summary>The rows as issued, by row key.</summary>
    public required IReadOnlyDictionary<string, MetaRow> Rows { get; init; }
}

/// <summary>A <c>column</c> record of <c>_meta</c>.</summary>
public sealed record MetaColumn(int Number, string Marker, string Header)
{
    /// <summary>For a field or identity column, the <c>Layouts.Student</c> field name; null otherwise.</summary>
    public string? FieldName => Marker.StartsWith(WorksheetLayout.FieldMarkerPrefix, StringComparison.Ordinal)
        ? Marker[WorksheetLayout.FieldMarkerPrefix.Length..]
        : Marker.StartsWith("id.", StringComparison.Ordinal) ? Marker[3..] : null;

    public bool IsField => Marker.StartsWith(WorksheetLayout.FieldMarkerPrefix, StringComparison.Ordinal);
}

/// <summary>A <c>row</c> record of <c>_meta</c>.</summary>
public sealed record MetaRow(int ExcelRow, string RowKey, string Signature);

/// <summary>One returned row whose key was issued.</summary>
public sealed record ReturnedRow
{
    /// <summary>The row as Excel numbers it in the returned file.</summary>
    public required int ExcelRow { get; init; }

    public required string RowKey { get; init; }

    /// <summary>Where the row was issued, and the signature <c>_meta</c> records for its key.</summary>
    public required MetaRow Issued { get; init; }

    /// <summary>The locked identity columns as returned (student_no, grade, class_name, name), normalised like the fields.</summary>
    public required IReadOnlyDictionary<string, string?> Identity { get; init; }

    /// <summary>The field columns as returned, by field name, normalised; null for an empty cell.</summary>
    public required IReadOnlyDictionary<string, string?> Values { get; init; }

    /// <summary>The Action cell's text, trimmed; null when empty.</summary>
    public required string? ActionText { get; init; }

    /// <summary>The action the text names (<see cref="WorksheetActions.Parse"/>); null when empty or unknown.</summary>
    public required WorksheetAction? Action { get; init; }

    public required string? Explanation { get; init; }

    /// <summary>What was wrong with the row as read; any of them rejects the row.</summary>
    public required IReadOnlyList<ReturnProblem> Problems { get; init; }

    public bool Rejected => Problems.Count > 0;
}

/// <summary>What a reader found wrong with one row; each code has its message in the resources (<c>Return</c> + the name).</summary>
public enum ReturnProblemCode
{
    /// <summary>A cell of the row holds a formula: its cached value is not trusted, the row is rejected.</summary>
    Formula,

    /// <summary>Confirmed or remove registration was chosen with no explanation.</summary>
    ExplanationRequired,

    /// <summary>The Action cell holds text that names no action.</summary>
    UnknownAction,

    /// <summary>An identifier became a number of more than 15 digits: the digits after the 15th are lost.</summary>
    LostDigits,

    /// <summary>A date field holds a date serial number that is no calendar day (0, 60 in the 1900 system, past 9999).</summary>
    InvalidDate,

    /// <summary>A row whose key was not issued, or that has no key: reported, never imported.</summary>
    AddedRow,

    /// <summary>A second row with a key already seen: reported, never imported.</summary>
    DuplicateKey,

    /// <summary>An issued row not found in the returned file.</summary>
    DeletedRow,

    /// <summary>A locked cell (student number, grade, class, name as registered) differs from what was issued.</summary>
    LockedCellChanged,

    /// <summary>Confirmed or remove registration was chosen, and values were changed too.</summary>
    MixedAction,

    /// <summary>The row's registration was removed by an earlier return.</summary>
    AlreadyRemoved,

    /// <summary>A changed value holds a character PostgreSQL text cannot keep (NUL).</summary>
    Unstorable,

    /// <summary>The row is a previous-round student absent now: it can be explained (confirmed), not corrected or removed.</summary>
    PreviousRound,
}

/// <summary>
/// One thing found wrong while reading, where the registrar finds it: sheet, Excel row, the column's header. The
/// message is rendered in either language from the resources.
/// </summary>
/// <param name="Detail">What was found (the number as Excel showed it, the action text); not translated.</param>
public sealed record ReturnProblem(
    ReturnProblemCode Code, string Sheet, int ExcelRow, string? RowKey, string? Column, string? FieldName, string? Detail)
{
    public string Message(WorksheetLanguage language) =>
        WorksheetText.Format(
            "Return" + Code.ToString(), language, Sheet, ExcelRow.ToString(CultureInfo.InvariantCulture), Column ?? "", Detail ?? "", RowKey ?? "");
}
