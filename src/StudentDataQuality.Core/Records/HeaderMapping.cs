namespace StudentDataQuality.Records;

/// <summary>
/// How the columns of one source map to a layout's fields: which layout the header row is (registry export or
/// school master), the source column of each field (-1 when absent), and the columns no field claims (kept raw,
/// reported once, never an error).
/// </summary>
public sealed class HeaderMapping
{
    private HeaderMapping(RecordLayout layout, int[] fieldColumns, int[] extraColumns, IReadOnlyList<string> extraHeaders)
    {
        Layout = layout;
        FieldColumns = fieldColumns;
        ExtraColumns = extraColumns;
        ExtraHeaders = extraHeaders;
    }

    public RecordLayout Layout { get; }

    /// <summary>For each field of the layout, its column in the source, or -1.</summary>
    public IReadOnlyList<int> FieldColumns { get; }

    public IReadOnlyList<int> ExtraColumns { get; }

    public IReadOnlyList<string> ExtraHeaders { get; }

    /// <summary>
    /// Maps a header row to the layout it matches best. Refuses (with the names a registrar knows) a header that
    /// matches no layout, lacks required columns, or names one field twice.
    /// </summary>
    public static HeaderMapping Map(IReadOnlyList<string> headers, string sourceName, IReadOnlyList<RecordLayout>? layouts = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        layouts ??= Layouts.All;
        var best = layouts
            .Select(layout => (Layout: layout, Matches: headers.Count(h => layout.Match(h) >= 0)))
            .OrderByDescending(x => x.Matches)
            .First();
        if (best.Matches < 2)
        {
            var shown = string.Join(", ", headers.Take(8).Select(h => $"'{h}'"));
            throw new UserErrorException(
                $"{sourceName}: the first row does not look like a registry export or a school master: none of its headers " +
                $"({shown}) are known columns such as 全国学籍号, 姓名 or 学校标识码. The first row must hold the column headers.");
        }

        var layout = best.Layout;
        var fieldColumns = Enumerable.Repeat(-1, layout.Fields.Count).ToArray();
        var extraColumns = new List<int>();
        for (var column = 0; column < headers.Count; column++)
        {
            var field = layout.Match(headers[column]);
            if (field < 0)
            {
                extraColumns.Add(column);
                continue;
            }

            if (fieldColumns[field] >= 0)
            {
                throw new UserErrorException(
                    $"{sourceName}: the columns '{headers[fieldColumns[field]]}' (column {fieldColumns[field] + 1}) and '{headers[column]}' " +
                    $"(column {column + 1}) both mean {layout.Fields[field].Header}. Keep one of them and try again.");
            }

            fieldColumns[field] = column;
        }

        var missing = layout.Fields.Where((f, i) => f.Required && fieldColumns[i] < 0).ToArray();
        if (missing.Length > 0)
        {
            var names = string.Join("、", missing.Select(f => $"{f.Header} ({f.EnglishHeader})"));
            throw new UserErrorException(
                $"{sourceName}: required column{(missing.Length > 1 ? "s" : "")} missing: {names}. " +
                "Export the registry again with all columns, or add the missing header to the first row.");
        }

        return new HeaderMapping(layout, fieldColumns, [.. extraColumns], extraColumns.Select(c => headers[c]).ToArray());
    }
}
