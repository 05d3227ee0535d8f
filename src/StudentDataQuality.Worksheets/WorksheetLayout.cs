using StudentDataQuality.Records;

namespace StudentDataQuality.Worksheets;

public enum WorksheetColumnKind
{
    /// <summary>The row's opaque key: locked, grey.</summary>
    RowKey,

    /// <summary>Student number, grade, class or name as registered: locked, grey.</summary>
    Identity,

    /// <summary>The read-only summary of the row's findings: locked, grey.</summary>
    Problems,

    /// <summary>A correctable record field: editable, red where flagged.</summary>
    Field,

    /// <summary>The action dropdown: editable.</summary>
    Action,

    /// <summary>Free text, required for confirmed and remove registration: editable.</summary>
    Explanation,
}

/// <summary>
/// One column of the problems sheet. <see cref="Marker"/> is its identity, recorded in <c>_meta</c> with its number and
/// header, so a reader recognises moved or inserted columns by header and marker, never by position.
/// </summary>
/// <param name="Number">1-based column number as issued.</param>
/// <param name="Marker">row_key, id.student_no, id.grade, id.class_name, id.name, problems, field.&lt;name&gt;, action, explanation.</param>
/// <param name="FieldName">For an identity or field column, the <c>Layouts.Student</c> field it shows.</param>
public sealed record WorksheetColumn(int Number, string Marker, WorksheetColumnKind Kind, string? FieldName, string Header, bool Editable);

/// <summary>The columns of the problems sheet, derived from the document's fields and the language.</summary>
public static class WorksheetLayout
{
    /// <summary>The header row of the problems sheet; data starts on the next row.</summary>
    public const int HeaderRow = 1;

    public const int FirstDataRow = 2;

    public const string FieldMarkerPrefix = "field.";

    public static IReadOnlyList<WorksheetColumn> Columns(IReadOnlyList<string> fields, WorksheetLanguage language)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var columns = new List<WorksheetColumn>(fields.Count + 8);
        void Add(string marker, WorksheetColumnKind kind, string? field, string header, bool editable) =>
            columns.Add(new WorksheetColumn(columns.Count + 1, marker, kind, field, header, editable));

        Add("row_key", WorksheetColumnKind.RowKey, null, WorksheetText.Get("HeaderRowKey", language), false);
        Add("id.student_no", WorksheetColumnKind.Identity, "student_no", WorksheetText.Get("HeaderStudentNo", language), false);
        Add("id.grade", WorksheetColumnKind.Identity, "grade", WorksheetText.Get("HeaderGrade", language), false);
        Add("id.class_name", WorksheetColumnKind.Identity, "class_name", WorksheetText.Get("HeaderClass", language), false);
        Add("id.name", WorksheetColumnKind.Identity, "name", WorksheetText.Get("HeaderName", language), false);
        Add("problems", WorksheetColumnKind.Problems, null, WorksheetText.Get("HeaderProblems", language), false);
        foreach (var name in fields)
        {
            Add(FieldMarkerPrefix + name, WorksheetColumnKind.Field, name, FieldHeader(FieldOf(name), language), true);
        }

        Add("action", WorksheetColumnKind.Action, null, WorksheetText.Get("HeaderAction", language), true);
        Add("explanation", WorksheetColumnKind.Explanation, null, WorksheetText.Get("HeaderExplanation", language), true);
        return columns;
    }

    /// <summary>A field's header: the national system's Chinese header, or the English one.</summary>
    public static string FieldHeader(RegistryField field, WorksheetLanguage language)
    {
        ArgumentNullException.ThrowIfNull(field);
        return language == WorksheetLanguage.English ? field.EnglishHeader : field.Header;
    }

    internal static RegistryField FieldOf(string name) => Layouts.Student.Fields[Layouts.Student.IndexOf(name)];
}
