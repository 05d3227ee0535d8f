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
            throw new UserErrorException(new UserMessage("Source.NotRegistryExport", sourceName, shown));
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
                throw new UserErrorException(new UserMessage(
                    "Source.ColumnsSameMeaning", sourceName, headers[fieldColumns[field]], fieldColumns[field] + 1, headers[column], column + 1,
                    layout.Fields[field].Header));
            }

            fieldColumns[field] = column;
        }

        var missing = layout.Fields.Where((f, i) => f.Required && fieldColumns[i] < 0).ToArray();
        if (missing.Length > 0)
        {
            // The headers as the registry writes them; the English text adds what each means.
            var withMeaning = string.Join(", ", missing.Select(f => $"{f.Header} ({f.EnglishHeader})"));
            var names = string.Join("、", missing.Select(f => f.Header));
            throw new UserErrorException(new UserMessage(
                missing.Length > 1 ? "Source.RequiredColumnsMissing" : "Source.RequiredColumnMissing", sourceName, withMeaning, names));
        }

        return new HeaderMapping(layout, fieldColumns, [.. extraColumns], extraColumns.Select(c => headers[c]).ToArray());
    }
}
