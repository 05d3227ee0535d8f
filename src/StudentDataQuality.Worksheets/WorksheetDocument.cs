namespace StudentDataQuality.Worksheets;

/// <summary>
/// One school's problem worksheet for one round and issue (docs/worksheets.md): what the workbook shows and what its
/// <c>_meta</c> sheet records. The caller builds it from the issued snapshot; <see cref="WorkbookWriter"/> writes it.
/// </summary>
public sealed record WorksheetDocument
{
    public required Guid WorksheetId { get; init; }

    /// <summary>Issued in a practice database: the title line says "练习 / Practice" and _meta holds <see cref="WorksheetMeta.Properties.Practice"/>.</summary>
    public bool Practice { get; init; }

    public required int RoundId { get; init; }

    /// <summary>The round's code as people know it (e.g. 2025-秋); also the first part of the file name.</summary>
    public required string RoundCode { get; init; }

    public required string SchoolCode { get; init; }

    public required string SchoolName { get; init; }

    /// <summary>1 for the first worksheet of this school in this round, then 2, 3… for each re-issue.</summary>
    public required int IssueNumber { get; init; }

    public required DateOnly Deadline { get; init; }

    public required DateTimeOffset GeneratedAt { get; init; }

    /// <summary>Which server key signed the rows (the key itself never leaves the server).</summary>
    public required string KeyId { get; init; }

    /// <summary>Who the school asks for help: name and phone or e-mail, as one line of text.</summary>
    public required string Contact { get; init; }

    /// <summary>
    /// The correctable record fields shown as editable columns, by their names in <c>Layouts.Student</c>, in layout
    /// order (<see cref="WorksheetFields.InLayoutOrder"/> builds such a list). This is also the order of the values a
    /// row signature covers.
    /// </summary>
    public required IReadOnlyList<string> Fields { get; init; }

    /// <summary>One row per student with at least one open finding; the writer sorts them by grade, class, name.</summary>
    public required IReadOnlyList<WorksheetRow> Rows { get; init; }

    /// <summary>The layout version the workbook is written in; <see cref="WorkbookWriter.TemplateVersion"/> unless a test says otherwise.</summary>
    public int TemplateVersion { get; init; } = WorkbookWriter.TemplateVersion;
}

/// <summary>One student's row of the problems sheet.</summary>
public sealed record WorksheetRow
{
    /// <summary>The row's opaque, stable key (e.g. the record id); unique within the worksheet.</summary>
    public required string RowKey { get; init; }

    /// <summary>The identity shown in the locked grey columns, as registered.</summary>
    public required string? StudentNo { get; init; }

    public required string? Grade { get; init; }

    public required string? ClassName { get; init; }

    public required string? Name { get; init; }

    /// <summary>
    /// The issued value of each shown field, as the school's raw text (null when the record has none). Fields not in
    /// <see cref="WorksheetDocument.Fields"/> are ignored; a shown field missing here is issued as null.
    /// </summary>
    public required IReadOnlyDictionary<string, string?> Values { get; init; }

    public required IReadOnlyList<WorksheetProblem> Problems { get; init; }

    /// <summary>The row's signature from <see cref="RowSignature"/>; the writer refuses a row without one.</summary>
    public string Signature { get; init; } = "";
}

public enum ProblemSeverity
{
    /// <summary>Must be fixed before sign-off.</summary>
    Error,

    /// <summary>Fix it or explain it.</summary>
    Warning,
}

/// <summary>One open finding of a row, with the rule's texts in both languages (from the rule catalogue).</summary>
public sealed record WorksheetProblem
{
    public required long FindingId { get; init; }

    public required string RuleId { get; init; }

    public required ProblemSeverity Severity { get; init; }

    /// <summary>The field the finding is about (a <c>Layouts.Student</c> field name), or null for a whole-row finding.</summary>
    public string? Field { get; init; }

    /// <summary>The value the rule saw.</summary>
    public string? Value { get; init; }

    /// <summary>What the rule adds about this case (e.g. the other schools of a duplicate registration).</summary>
    public string? Detail { get; init; }

    public required string TitleZh { get; init; }

    public required string TitleEn { get; init; }

    public required string FixZh { get; init; }

    public required string FixEn { get; init; }
}
