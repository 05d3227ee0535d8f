using System.Text;
using ClosedXML.Excel;
using StudentDataQuality.Data.Files;
using StudentDataQuality.Tests.Synthetic;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Text;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Security;

/// <summary>The one CSV writer and the one cell writer, start character by start character.</summary>
public sealed class FormulaWriterTests : IDisposable
{
    private readonly Infrastructure.TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> FormulaLike() => [.. FormulaValueTests.FormulaLike];

    /// <summary>
    /// Ordinary text stays as it is, a sign inside it included. Decided: a negative-looking value ("-5") is text like any
    /// other and gets the apostrophe (FormulaLike); the project's numbers are written as numbers, never negative.
    /// </summary>
    public static TheoryData<string> Ordinary() =>
    [
        "", "王小明", "黑龙江省哈尔滨市道里区友谊路1-3号", "2班", "G23010220180901002X", "0123", "a=b", "1+1", "x@example.invalid", "'quoted",
        "半角 与 全角＝", "13912345678",
    ];

    [Theory]
    [MemberData(nameof(FormulaLike))]
    [Trait("Category", "Security")]
    public void TheCsvWriter_PrefixesFormulaLikeText_WithAnApostrophe(string value)
    {
        var text = CsvTableWriter.Text([["a", value, "b"]]);

        var fields = Assert.Single(PlainCsv.Parse(text));
        Assert.Equal(["a", "'" + value, "b"], fields);
        Assert.True(FormulaText.LooksLikeFormula(value));
    }

    [Theory]
    [MemberData(nameof(Ordinary))]
    [Trait("Category", "Security")]
    public void TheCsvWriter_WritesOrdinaryText_AsItIs(string value)
    {
        var text = CsvTableWriter.Text([[value, "x"]]);

        Assert.Equal([value, "x"], Assert.Single(PlainCsv.Parse(text)));
        Assert.False(FormulaText.LooksLikeFormula(value));
    }

    [Fact]
    [Trait("Category", "Security")]
    public void TheCsvWriter_QuotesAsRfc4180_WithCrlfLines()
    {
        var text = CsvTableWriter.Text([["a,b", "say \"hi\"", "line\nbreak", "=1,2"], ["1", "2", "3", "4"]]);

        Assert.Equal("\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"'=1,2\"\r\n1,2,3,4\r\n", text);
    }

    [Fact]
    [Trait("Category", "Security")]
    public void ACsvFile_HasAByteOrderMark_AndNumbersAsWritten()
    {
        var path = _temp.File("t.csv");
        using (var csv = CsvTableWriter.Create(path))
        {
            csv.WriteRow("学校", "n");
            csv.WriteRow("=x", 12_345);
        }

        var bytes = File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);
        Assert.Equal("学校,n\r\n'=x,12345\r\n", Encoding.UTF8.GetString(bytes[3..]));
    }

    [Theory]
    [MemberData(nameof(FormulaLike))]
    [Trait("Category", "Security")]
    public void TheCellWriter_WritesFormulaLikeText_AsQuotePrefixedText(string value)
    {
        using var book = Cell(value);

        var cell = Assert.Single(book.Cells("s").Values);
        Assert.False(cell.HasFormula);
        Assert.Equal(DocumentFormat.OpenXml.Spreadsheet.CellValues.SharedString, cell.Type);
        Assert.Equal("@", cell.NumberFormat);
        Assert.True(cell.QuotePrefix);
        Assert.Equal(value.Replace('\r', '\n'), cell.Text.Replace('\r', '\n'));
    }

    [Theory]
    [MemberData(nameof(Ordinary))]
    [Trait("Category", "Security")]
    public void TheCellWriter_WritesOrdinaryText_AsText_WithoutAPrefix(string value)
    {
        if (value.Length == 0)
        {
            return;
        }

        using var book = Cell(value);
        var cell = Assert.Single(book.Cells("s").Values);
        Assert.Equal((value, "@", false, false), (cell.Text, cell.NumberFormat, cell.QuotePrefix, cell.HasFormula));
    }

    private static OpenXmlWorkbook Cell(string value)
    {
        using var workbook = new XLWorkbook();
        TextCell.Set(workbook.Worksheets.Add("s").Cell(1, 1), value);
        using var stream = new MemoryStream();
        workbook.SaveAs(stream);
        return new OpenXmlWorkbook(stream.ToArray());
    }
}
