namespace StudentDataQuality.Data.Sources;

/// <summary>One data row of a source: where it is (sheet and row as a spreadsheet numbers them) and its texts.</summary>
/// <param name="Sheet">1-based sheet number in a workbook; null for CSV and database sources.</param>
/// <param name="RowNumber">The row as Excel would number it (the header is row 1); for a query, the result row + 1.</param>
/// <param name="Values">The texts in source column order; null where the source had no value.</param>
public readonly record struct SourceRow(short? Sheet, int RowNumber, string?[] Values);

/// <summary>A stream of rows with one header, read once, front to back, never whole in memory.</summary>
public interface IRowSource : IDisposable
{
    /// <summary>csv, xlsx or database.</summary>
    string Kind { get; }

    /// <summary>The name shown to users: the file name, or "query" for a source database.</summary>
    string Name { get; }

    /// <summary>The detected text encoding (csv), or null.</summary>
    string? Encoding { get; }

    IReadOnlyList<string> Headers { get; }

    IEnumerable<SourceRow> Rows(CancellationToken cancellationToken);
}
