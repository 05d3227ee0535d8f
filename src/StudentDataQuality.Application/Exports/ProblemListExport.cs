using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Exports;

/// <summary>
/// The problem list (docs/exports.md, "The problem list"): a round's open problems of a district or of the province, one
/// row per open finding (district, school, student number, name, grade and class, rule id and title, severity, field,
/// value, the round it was first seen in), masked by <see cref="StudentDataQuality.Identifiers.Masking"/> when the form is
/// masked. Written as an .xlsx (the caller watermarks it through the export register). Scope in SQL: a district office
/// reads its own district only (<c>access.may_act_for</c>); anything else is an <see cref="OutOfScopeException"/>.
/// </summary>
public sealed class ProblemListExport(NpgsqlDataSource dataSource)
{
    private readonly NpgsqlDataSource dataSource = dataSource;

    /// <summary>The fields a list carries, as the register records them (<c>export.file.fields</c>), in column order.</summary>
    public static IReadOnlyList<string> Fields { get; } =
        ["district", "school", "school_name", "student_no", "name", "grade", "class", "rule", "severity", "field", "value", "first_seen"];

    /// <summary>
    /// The most rows a list holds: a sheet holds 1,048,576 rows, the header is one. A list that would be longer is refused
    /// before anything is written (a district's, or a smaller scope, is the answer).
    /// </summary>
    public const int MaxRows = 1_048_575;

    /// <summary>Writes the list to <paramref name="output"/>; the rows written and the fields the file carries.</summary>
    /// <param name="reader">Who takes it: the data team (any scope), a district office (its own district, or one of its schools).</param>
    /// <param name="scope">
    /// <see cref="ExportScope.Province"/>, <see cref="ExportScope.District"/> or <see cref="ExportScope.School"/>.
    /// </param>
    /// <exception cref="OutOfScopeException">
    /// The scope is not the reader's (a district asking for another; a school account; a manager).
    /// </exception>
    /// <exception cref="UserErrorException">
    /// The round does not exist (<c>ProblemList.NoRound</c>); the list is longer than a sheet holds (<c>ProblemList.TooLong</c>).
    /// </exception>
    public async Task<(int Rows, IReadOnlyList<string> Fields)> WriteAsync(Account reader, int roundId, ExportScope scope, ExportForm form,
        WorksheetLanguage language, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(output);
        if (form == ExportForm.Aggregate)
        {
            throw new ArgumentException("A problem list is a list of students: masked or full, never aggregate.", nameof(form));
        }

        var (district, school) = Narrowing(scope);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(SqlScripts.Load("exports/problem_list.sql"), connection);
        command.Parameters.AddWithValue("round_id", roundId);
        command.Parameters.AddWithValue("role", Account.RoleText(reader.Role));
        command.Parameters.Add(Text("school", reader.SchoolCode));
        command.Parameters.Add(Text("district", reader.DistrictCode));
        command.Parameters.Add(Text("scope_district", district));
        command.Parameters.Add(Text("scope_school", school));
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        if (!await rows.ReadAsync(cancellationToken) || !rows.GetBoolean(0))
        {
            throw new UserErrorException(new UserMessage("ProblemList.NoRound", roundId));
        }

        if (!rows.GetBoolean(1))
        {
            throw new OutOfScopeException("problem list", scope.Text, school, roundId);
        }

        // The rows stream from the query into the workbook (ClosedXML holds the workbook itself in memory until it is
        // saved: docs/exports.md, "The problem list", says what that costs at province size).
        var written = 0;
        var columns = Columns(language);
        var sheetRows = Stream(rows, form == ExportForm.Masked, language, () =>
        {
            if (++written > MaxRows)
            {
                throw new UserErrorException(new UserMessage("ProblemList.TooLong", MaxRows));
            }
        });
        ReportWorkbook.Write(output, ProblemListText.Get("Sheet", language), columns, sheetRows);
        return (written, Fields);
    }

    /// <summary>The district or the school a scope narrows the list to (both null: the province).</summary>
    private static (string? District, string? School) Narrowing(ExportScope scope)
    {
        var (kind, code) = scope.Text.IndexOf(':', StringComparison.Ordinal) is var colon and > 0
            ? (scope.Text[..colon], scope.Text[(colon + 1)..])
            : (scope.Text, "");
        return kind switch
        {
            "province" when code.Length == 0 => (null, null),
            "district" when code.Length > 0 => (code, null),
            "school" when code.Length > 0 => (null, code),
            _ => throw new ArgumentException(
                $"A problem list is of the province, a district or a school, not '{scope.Text}'.", nameof(scope)),
        };
    }

    private static NpgsqlParameter Text(string name, string? value) =>
        new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    private static ReportColumn[] Columns(WorksheetLanguage language) =>
    [
        new(ProblemListText.Get("Col.District", language), ReportFormat.Text, 10),
        new(ProblemListText.Get("Col.SchoolCode", language), ReportFormat.Text, 13),
        new(ProblemListText.Get("Col.SchoolName", language), ReportFormat.Text, 24),
        new(ProblemListText.Get("Col.StudentNo", language), ReportFormat.Text, 22),
        new(ProblemListText.Get("Col.Name", language), ReportFormat.Text, 12),
        new(ProblemListText.Get("Col.Grade", language), ReportFormat.Text, 7),
        new(ProblemListText.Get("Col.Class", language), ReportFormat.Text, 10),
        new(ProblemListText.Get("Col.Rule", language), ReportFormat.Text, 7),
        new(ProblemListText.Get("Col.Title", language), ReportFormat.Text, 36),
        new(ProblemListText.Get("Col.Severity", language), ReportFormat.Text, 8),
        new(ProblemListText.Get("Col.Field", language), ReportFormat.Text, 16),
        new(ProblemListText.Get("Col.Value", language), ReportFormat.Text, 24),
        new(ProblemListText.Get("Col.FirstSeen", language), ReportFormat.Text, 14),
    ];

    /// <summary>The query's rows after its verdict row, as the sheet's rows: read one at a time, masked as they pass.</summary>
    private static IEnumerable<IReadOnlyList<object?>> Stream(DbDataReader rows, bool masked, WorksheetLanguage language, Action counted)
    {
        var english = language == WorksheetLanguage.English;
        var error = ProblemListText.Get("Severity.Error", language);
        var warning = ProblemListText.Get("Severity.Warning", language);
        // Synchronous reads: ClosedXML takes the rows as an enumerable; the connection is the caller's alone.
        while (rows.Read())
        {
            counted();
            var field = String(rows, 14) ?? "";
            var studentNo = String(rows, 6);
            var value = String(rows, 15);
            yield return
            [
                Shown(String(rows, 3)), Shown(String(rows, 4)), Shown(String(rows, 5)),
                Shown(masked ? Masking.StudentNo(studentNo) : studentNo),
                Shown(String(rows, 7)), Shown(String(rows, 8)), Shown(String(rows, 9)),
                Shown(String(rows, 10)), Shown(String(rows, english ? 12 : 11)),
                String(rows, 13) == "error" ? error : warning,
                Shown(FieldHeader(field, english)),
                Shown(masked ? Masked(field, value) : value),
                Shown(String(rows, 16)),
            ];
        }
    }

    /// <summary>
    /// A value masked by its field's kind; a value of any other field (or of a finding without one) has the numbers in it
    /// masked as text, since a finding may quote another field's value (a duplicate's ID number, a school-wide list).
    /// </summary>
    private static string? Masked(string? field, string? value) =>
        value is null ? null : field is not null && Masking.KindOf(field) != MaskKind.None ? Masking.Field(field, value) : Masking.InText(value);

    private static string? String(DbDataReader rows, int ordinal) => rows.IsDBNull(ordinal) ? null : rows.GetString(ordinal);

    /// <summary>A registry field's header in the language (the name itself for a field of no column, e.g. a school-wide check).</summary>
    internal static string FieldHeader(string field, bool english) =>
        Layouts.Student.Fields.FirstOrDefault(f => f.Name == field) is { } known ? english ? known.EnglishHeader : known.Header : field;

    /// <summary>
    /// A text for people (line breaks as LF, clipped to what a cell holds); written by <see cref="TextCell"/>, a formula-like
    /// text stays text.
    /// </summary>
    private static string? Shown(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var shown = text.Contains('\r', StringComparison.Ordinal)
            ? text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n')
            : text;
        return shown.Length <= WorkbookWriter.MaxCellText ? shown : shown[..WorkbookWriter.MaxCellText];
    }
}
