using StudentDataQuality.Records;

namespace StudentDataQuality.Worksheets;

/// <summary>Which record fields a worksheet shows as editable columns.</summary>
public static class WorksheetFields
{
    /// <summary>
    /// Fields a school does not correct in its worksheet: the school's own identity, which comes from the school master.
    /// </summary>
    public static IReadOnlyList<string> NotCorrectable { get; } = ["school_code", "school_name"];

    /// <summary>The given field names, each once, in <c>Layouts.Student</c> order. Throws for a name the layout lacks.</summary>
    public static IReadOnlyList<string> InLayoutOrder(IEnumerable<string> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        return fields.Distinct(StringComparer.Ordinal)
            .Select(f => (Field: f, Index: Layouts.Student.IndexOf(f)))
            .OrderBy(x => x.Index)
            .Select(x => x.Field)
            .ToArray();
    }

    /// <summary>
    /// The correctable fields that at least one row has a problem with, in layout order: the columns a worksheet needs
    /// at the least. A caller may add related fields (the ID number beside a birth date that disagrees with it). A
    /// problem whose field is not a record field stays in the row's summary and adds no column.
    /// </summary>
    public static IReadOnlyList<string> WithProblems(IEnumerable<WorksheetRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return InLayoutOrder(rows
            .SelectMany(r => r.Problems)
            .Select(p => p.Field)
            .OfType<string>()
            .Where(f => !NotCorrectable.Contains(f, StringComparer.Ordinal) && Layouts.Student.Fields.Any(x => x.Name == f)));
    }
}
