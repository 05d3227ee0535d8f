namespace StudentDataQuality.Worksheets;

/// <summary>
/// The layout of the very hidden <c>_meta</c> sheet, for the writer and for the reader of returned files. Every row is
/// one record, its kind in column A, so order and blank rows never matter:
/// <list type="bullet">
/// <item><c>meta | name | value</c>: one property of the worksheet (<see cref="Properties"/>).</item>
/// <item><c>column | number | marker | header</c>: one column of the problems sheet as issued.</item>
/// <item><c>row | excel row | row key | signature</c>: one issued row.</item>
/// </list>
/// Every cell is text. Nothing here is shown to a person, so nothing is translated.
/// </summary>
public static class WorksheetMeta
{
    public const string SheetName = "_meta";

    /// <summary>The value of the <c>format</c> property: what this layout is, for a reader to check first.</summary>
    public const string Format = "sdq.worksheet/1";

    public const string MetaRecord = "meta";
    public const string ColumnRecord = "column";
    public const string RowRecord = "row";

    public static class Properties
    {
        public const string Format = "format";
        public const string WorksheetId = "worksheet_id";
        public const string RoundId = "round_id";
        public const string RoundCode = "round_code";
        public const string SchoolCode = "school_code";
        public const string IssueNumber = "issue_number";
        public const string Deadline = "deadline";
        public const string TemplateVersion = "template_version";
        public const string KeyId = "key_id";
        public const string GeneratedAt = "generated_at";
        public const string Language = "language";
        public const string ProblemsSheet = "sheet.problems";
        public const string RowCount = "row_count";

        /// <summary>Only in a worksheet issued in a practice database: "yes" (optional: a reader needs nothing of it).</summary>
        public const string Practice = "practice";
    }
}
