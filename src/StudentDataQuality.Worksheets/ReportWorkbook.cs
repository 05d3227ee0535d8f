using ClosedXML.Excel;

namespace StudentDataQuality.Worksheets;

/// <summary>How a report column's cells are typed and shown.</summary>
public enum ReportFormat
{
    /// <summary>Text, kept as text (a code of digits stays a code).</summary>
    Text,

    /// <summary>A whole number, with thousands separators.</summary>
    Integer,

    /// <summary>A number with one decimal (rates per 1,000, days).</summary>
    Decimal,

    /// <summary>A share between 0 and 1, shown as a percentage with one decimal.</summary>
    Percent,

    /// <summary>A date (<see cref="DateOnly"/>), shown as yyyy-mm-dd.</summary>
    Date,
}

/// <summary>A column of a report table: its header and its format.</summary>
public sealed record ReportColumn(string Header, ReportFormat Format, double Width = 14);

/// <summary>A table of figures as one sheet of a report: its name (at most 31 characters, unique in the workbook), columns and rows.</summary>
public sealed record ReportSheet(string Name, IReadOnlyList<ReportColumn> Columns, IEnumerable<IReadOnlyList<object?>> Rows);

/// <summary>
/// Writes tables of figures as an .xlsx, a sheet each: a header row (bold, frozen, with a filter), then a row per item, every value
/// typed by its column (numbers as numbers with their format, text as text, an empty cell for a missing value). Never a
/// formula. Column widths are set by hand (AdjustToContents needs libgdiplus and is slow, docs/development.md).
/// </summary>
public static class ReportWorkbook
{
    /// <summary>Writes the table to <paramref name="output"/> (left open). Each row has a value per column, in column order.</summary>
    public static void Write(Stream output, string sheetName, IReadOnlyList<ReportColumn> columns, IEnumerable<IReadOnlyList<object?>> rows) =>
        Write(output, [new ReportSheet(sheetName, columns, rows)]);

    /// <summary>Writes each table as a sheet of one workbook, in order, to <paramref name="output"/> (left open).</summary>
    public static void Write(Stream output, IReadOnlyList<ReportSheet> sheets)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(sheets);
        if (sheets.Count == 0)
        {
            throw new ArgumentException("A report has at least one sheet.", nameof(sheets));
        }

        using var workbook = new XLWorkbook();
        foreach (var sheet in sheets)
        {
            AddSheet(workbook, sheet.Name, sheet.Columns, sheet.Rows);
        }

        workbook.SaveAs(output);
    }

    private static void AddSheet(XLWorkbook workbook, string sheetName, IReadOnlyList<ReportColumn> columns, IEnumerable<IReadOnlyList<object?>> rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentException.ThrowIfNullOrEmpty(sheetName);
        var sheet = workbook.Worksheets.Add(sheetName.Length > 31 ? sheetName[..31] : sheetName);
        for (var c = 0; c < columns.Count; c++)
        {
            var header = sheet.Cell(1, c + 1);
            TextCell.Set(header, columns[c].Header);
            header.Style.Font.Bold = true;
            header.Style.Fill.BackgroundColor = XLColor.FromHtml("#E8EEF4");
            header.Style.Alignment.WrapText = true;
            sheet.Column(c + 1).Width = columns[c].Width;
        }

        var row = 1;
        foreach (var values in rows)
        {
            row++;
            if (values.Count != columns.Count)
            {
                throw new ArgumentException($"Row {row} has {values.Count} values for {columns.Count} columns.", nameof(rows));
            }

            for (var c = 0; c < columns.Count; c++)
            {
                Set(sheet.Cell(row, c + 1), columns[c].Format, values[c]);
            }
        }

        sheet.SheetView.FreezeRows(1);
        if (columns.Count > 0)
        {
            sheet.Range(1, 1, row, columns.Count).SetAutoFilter();
        }
    }

    private static void Set(IXLCell cell, ReportFormat format, object? value)
    {
        switch (value)
        {
            case null:
                return;
            case DateOnly date:
                cell.SetValue(date.ToDateTime(TimeOnly.MinValue));
                cell.Style.NumberFormat.Format = "yyyy-mm-dd";
                return;
            case string text:
                TextCell.Set(cell, text);
                return;
        }

        var number = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
        if (double.IsNaN(number) || double.IsInfinity(number))
        {
            return;
        }

        cell.SetValue(number);
        cell.Style.NumberFormat.Format = format switch
        {
            ReportFormat.Integer => "#,##0",
            ReportFormat.Decimal => "#,##0.0",
            ReportFormat.Percent => "0.0%",
            _ => "General",
        };
    }
}
