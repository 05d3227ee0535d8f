using System.Globalization;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

public sealed class ReturnedWorkbookReaderTests
{
    private const string FileName = "2025-秋_2123000001_示范第一小学_v2.xlsx";

    private static readonly WorksheetDocument Document = WorksheetSamples.Tricky();
    private static readonly byte[] Issued = WorksheetSamples.Write(Document);
    private static readonly IReadOnlyList<WorksheetColumn> Columns = WorksheetLayout.Columns(Document.Fields, WorksheetLanguage.Chinese);

    private static int Col(string marker) => Columns.Single(c => c.Marker == marker).Number;

    private static string Label(WorksheetAction action) => action.Label(WorksheetLanguage.Chinese);

    private static ReturnedWorkbook Read(byte[] bytes, ReturnLimits? limits = null)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return ReturnedWorkbookReader.Read(stream, FileName, limits ?? ReturnLimits.Default);
    }

    private static WorksheetRejectedException Rejected(byte[] bytes, WorksheetRejection code, ReturnLimits? limits = null)
    {
        var e = Assert.Throws<WorksheetRejectedException>(() => Read(bytes, limits));
        Assert.Equal(code, e.Code);
        Assert.Equal(FileName, e.FileName);
        Assert.Contains(FileName, e.MessageIn(WorksheetLanguage.Chinese), StringComparison.Ordinal);
        Assert.Contains(FileName, e.MessageIn(WorksheetLanguage.English), StringComparison.Ordinal);
        Assert.NotEqual(e.MessageIn(WorksheetLanguage.Chinese), e.MessageIn(WorksheetLanguage.English));
        return e;
    }

    private static byte[] Edit(Action<RegistrarEdits> edit)
    {
        using var edits = new RegistrarEdits(Issued);
        edit(edits);
        return edits.Save();
    }

    private static ReturnedRow Row(ReturnedWorkbook book, string key) => book.Rows.Single(r => r.RowKey == key);

    [Fact]
    public void Unchanged_ReadsMetaAndEveryIssuedRow()
    {
        var book = Read(Issued);
        Assert.Equal(Document.WorksheetId, book.Meta.WorksheetId);
        Assert.Equal(7, book.Meta.RoundId);
        Assert.Equal("2123000001", book.Meta.SchoolCode);
        Assert.Equal(2, book.Meta.IssueNumber);
        Assert.Equal("key-2025-1", book.Meta.KeyId);
        Assert.Equal(WorkbookWriter.TemplateVersion, book.Meta.TemplateVersion);
        Assert.Equal("问题清单", book.ProblemsSheet);
        Assert.Empty(book.NotImported);
        Assert.Equal(Document.Rows.Count, book.Rows.Count);
        foreach (var row in book.Rows)
        {
            var issued = Document.Rows.Single(r => r.RowKey == row.RowKey);
            Assert.Equal(issued.Signature, row.Issued.Signature);
            Assert.Equal(row.Issued.ExcelRow, row.ExcelRow);
            Assert.Empty(row.Problems);
            Assert.Null(row.Action);
            Assert.Equal(issued.Values["id_number"], row.Values["id_number"]);
            Assert.Equal(issued.Name?.Trim(), row.Identity["name"]);
        }

        Assert.Equal("=1+1", Row(book, "1003").Values["address"]);
        Assert.Equal("第一行\r第二行\r\n第三行", Row(book, "1001").Values["address"]);
    }

    [Fact]
    public void RegistrarChoices_AreReadAsTyped_InEitherLanguage()
    {
        var bytes = Edit(e =>
        {
            var a = e.RowOf("1003");
            e.Type(a, Col("field.birth_date"), "2015-03-09 ").Type(a, Col("action"), Label(WorksheetAction.Corrected));
            var b = e.RowOf("1001");
            e.Type(b, Col("action"), WorksheetAction.Confirmed.Label(WorksheetLanguage.English))
                .Type(b, Col("explanation"), "  户口簿上就是这样写的 ");
            var c = e.RowOf("1002");
            e.Type(c, Col("action"), Label(WorksheetAction.RemoveRegistration)).Type(c, Col("explanation"), "已转学");
        });
        var book = Read(bytes);
        var corrected = Row(book, "1003");
        Assert.Equal(WorksheetAction.Corrected, corrected.Action);
        Assert.Equal("2015-03-09", corrected.Values["birth_date"]);
        Assert.Empty(corrected.Problems);
        var confirmed = Row(book, "1001");
        Assert.Equal(WorksheetAction.Confirmed, confirmed.Action);
        Assert.Equal("户口簿上就是这样写的", confirmed.Explanation);
        Assert.Equal(WorksheetAction.RemoveRegistration, Row(book, "1002").Action);
        Assert.All(book.Rows, r => Assert.False(r.Rejected));
    }

    [Fact]
    public void Confirmed_WithoutExplanation_RejectsTheRow()
    {
        int excelRow = 0;
        var book = Read(Edit(e =>
        {
            excelRow = e.RowOf("1001");
            e.Type(excelRow, Col("action"), Label(WorksheetAction.Confirmed)).Type(excelRow, Col("explanation"), "   ");
        }));
        var row = Row(book, "1001");
        var problem = Assert.Single(row.Problems);
        Assert.Equal(ReturnProblemCode.ExplanationRequired, problem.Code);
        Assert.Equal(excelRow, problem.ExcelRow);
        Assert.Equal("说明", problem.Column);
        Assert.True(row.Rejected);
        Assert.Contains(excelRow.ToString(CultureInfo.InvariantCulture), problem.Message(WorksheetLanguage.Chinese), StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownActionText_RejectsTheRow()
    {
        var book = Read(Edit(e => e.Type(e.RowOf("1004"), Col("action"), "改好了")));
        var problem = Assert.Single(Row(book, "1004").Problems);
        Assert.Equal(ReturnProblemCode.UnknownAction, problem.Code);
        Assert.Equal("改好了", problem.Detail);
        Assert.Null(Row(book, "1004").Action);
    }

    [Fact]
    public void RenamedCsv_IsRefused()
    {
        var csv = Encoding.UTF8.GetBytes("编号,姓名\n1001,李晓红\n");
        Rejected(csv, WorksheetRejection.NotXlsx);
    }

    [Fact]
    public void XlsSignature_IsRefused()
    {
        var xls = new byte[4096];
        new byte[] { 0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1 }.CopyTo(xls, 0);
        var e = Rejected(xls, WorksheetRejection.NotXlsx);
        Assert.Contains("OLE", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyFile_IsRefused() => Rejected([], WorksheetRejection.NotXlsx);

    [Fact]
    public void OtherZip_IsRefused()
    {
        using var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = zip.CreateEntry("readme.txt").Open();
            entry.Write("hello"u8);
        }

        Rejected(stream.ToArray(), WorksheetRejection.NotXlsx);
    }

    [Fact]
    public void Xlsm_WithVbaProject_IsRefused()
    {
        var xlsm = RegistrarEdits.WithEntry(Issued, "xl/vbaProject.bin", [0xD0, 0xCF, 0x11, 0xE0, 1, 2, 3]);
        Rejected(xlsm, WorksheetRejection.Macros);
    }

    [Fact]
    public void Xlsm_ContentType_IsRefused()
    {
        var xlsm = RegistrarEdits.WithEntry(Issued, "xl/extra.bin", [1], xml => xml.Replace(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml", StringComparison.Ordinal));
        Rejected(xlsm, WorksheetRejection.Macros);
    }

    [Fact]
    public void ZipBomb_HighlyCompressibleEntry_IsRefusedBeforeParsing()
    {
        var bomb = RegistrarEdits.WithEntry(Issued, "xl/media/image1.bin", new byte[16 * 1024 * 1024]);
        Assert.True(bomb.Length < 1024 * 1024);
        var e = Rejected(bomb, WorksheetRejection.ZipBomb);
        Assert.Contains("image1.bin", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ZipBomb_TotalUnpackedSizeOverTheLimit_IsRefused()
    {
        var limits = new ReturnLimits { MaxUncompressedBytes = 64 * 1024 };
        Rejected(Issued, WorksheetRejection.ZipBomb, limits);
    }

    [Fact]
    public void OversizedFile_IsRefused()
    {
        var e = Rejected(Issued, WorksheetRejection.TooLarge, new ReturnLimits { MaxBytes = 1024 });
        Assert.Contains("MB", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void OversizedFile_FromAnUnseekableStream_IsRefused()
    {
        using var stream = new UnseekableStream(Issued);
        var e = Assert.Throws<WorksheetRejectedException>(() => ReturnedWorkbookReader.Read(stream, FileName, new ReturnLimits { MaxBytes = 1024 }));
        Assert.Equal(WorksheetRejection.TooLarge, e.Code);
    }

    [Fact]
    public void MissingMeta_IsRefused()
    {
        var bytes = Edit(e =>
        {
            var sheet = e.Sheet(WorksheetMeta.SheetName);
            e.Workbook.DeletePart(sheet.Id!);
            sheet.Remove();
        });
        var e = Rejected(bytes, WorksheetRejection.NoMeta);
        Assert.Equal(WorksheetMeta.SheetName, e.Sheet);
    }

    [Theory]
    [InlineData("hidden")]
    [InlineData("visible")]
    public void MetaHiddenOrVisible_IsAccepted(string state)
    {
        var bytes = Edit(e => e.Sheet(WorksheetMeta.SheetName).State = state == "hidden" ? SheetStateValues.Hidden : SheetStateValues.Visible);
        var book = Read(bytes);
        Assert.Equal(Document.Rows.Count, book.Rows.Count);
    }

    [Fact]
    public void MetaWithAnEditedRowRecord_IsRefused()
    {
        var bytes = Edit(e =>
        {
            var data = e.Data(WorksheetMeta.SheetName);
            // The last record is a row record: row | excel row | key | signature.
            var rowRecord = data.Elements<DocumentFormat.OpenXml.Spreadsheet.Row>().Last();
            var cell = e.Cell(WorksheetMeta.SheetName, (int)rowRecord.RowIndex!.Value, 4);
            cell.RemoveAllChildren();
            cell.DataType = CellValues.InlineString;
            cell.AppendChild(new InlineString(new DocumentFormat.OpenXml.Spreadsheet.Text("not a signature")));
        });
        var e = Rejected(bytes, WorksheetRejection.BadMeta);
        Assert.Equal(WorksheetMeta.SheetName, e.Sheet);
        Assert.NotNull(e.ExcelRow);
    }

    [Fact]
    public void Formula_InAnyCellOfTheRow_RejectsTheRow()
    {
        int excelRow = 0;
        var book = Read(Edit(e =>
        {
            excelRow = e.RowOf("1004");
            e.Formula(excelRow, Col("field.guardian_phone"), "CONCATENATE(\"139\",\"00000000\")", "13900000000");
            e.Type(excelRow, Col("action"), Label(WorksheetAction.Corrected));
        }));
        var row = Row(book, "1004");
        var problem = Assert.Single(row.Problems);
        Assert.Equal(ReturnProblemCode.Formula, problem.Code);
        Assert.Equal(excelRow, problem.ExcelRow);
        Assert.Equal(Columns.Single(c => c.Marker == "field.guardian_phone").Header, problem.Column);
        Assert.True(row.Rejected);
    }

    [Fact]
    public void Formula_InAnUnrecordedColumn_StillRejectsTheRow()
    {
        var book = Read(Edit(e => e.Formula(e.RowOf("1001"), Columns.Count + 3, "1+1", "2")));
        Assert.Equal(ReturnProblemCode.Formula, Assert.Single(Row(book, "1001").Problems).Code);
    }

    [Fact]
    public void AddedRows_AreReported_NeverImported()
    {
        var last = 1 + Document.Rows.Count;
        var book = Read(Edit(e =>
        {
            e.Type(last + 1, 1, "9999").Type(last + 1, Col("id.name"), "新同学");
            e.Type(last + 2, Col("id.name"), "没有编号的同学").Type(last + 2, Col("action"), Label(WorksheetAction.Corrected));
        }));
        Assert.Equal(Document.Rows.Count, book.Rows.Count);
        var added = book.AddedRows.ToArray();
        Assert.Equal(2, added.Length);
        Assert.Equal((last + 1, "9999"), (added[0].ExcelRow, added[0].RowKey));
        Assert.Equal((last + 2, (string?)null), (added[1].ExcelRow, added[1].RowKey));
        Assert.Contains("9999", added[0].Message(WorksheetLanguage.Chinese), StringComparison.Ordinal);
    }

    [Fact]
    public void CopiedRow_WithARepeatedKey_IsReported()
    {
        var last = 1 + Document.Rows.Count;
        var book = Read(Edit(e => e.Type(last + 1, 1, "1001")));
        var duplicate = Assert.Single(book.NotImported);
        Assert.Equal(ReturnProblemCode.DuplicateKey, duplicate.Code);
        Assert.Equal(last + 1, duplicate.ExcelRow);
    }

    [Fact]
    public void DeletedRow_IsReportedWithItsIssuedRow()
    {
        int deleted = 0;
        var book = Read(Edit(e =>
        {
            deleted = e.RowOf("1002");
            e.MapRows(r => r == deleted ? null : r > deleted ? r - 1 : r);
        }));
        Assert.Equal(Document.Rows.Count - 1, book.Rows.Count);
        var problem = Assert.Single(book.DeletedRows);
        Assert.Equal(("1002", deleted), (problem.RowKey, problem.ExcelRow));
    }

    [Fact]
    public void ReorderedRows_AreMatchedByKey_AtTheirNewExcelRows()
    {
        int a = 0, b = 0;
        var book = Read(Edit(e =>
        {
            a = e.RowOf("1001");
            b = e.RowOf("1004");
            e.Type(a, Col("field.guardian_phone"), "13900000001");
            e.MapRows(r => r == a ? b : r == b ? a : r);
        }));
        Assert.Equal(b, Row(book, "1001").ExcelRow);
        Assert.Equal(a, Row(book, "1001").Issued.ExcelRow);
        Assert.Equal("13900000001", Row(book, "1001").Values["guardian_phone"]);
        Assert.Equal(a, Row(book, "1004").ExcelRow);
        Assert.Empty(book.NotImported);
    }

    [Fact]
    public void MovedColumns_ResolveByHeader()
    {
        int key = Col("row_key"), id = Col("field.id_number"), action = Col("action");
        var book = Read(Edit(e =>
        {
            e.Type(e.RowOf("1003"), action, Label(WorksheetAction.Corrected));
            // Swap the ID column with the action column, and move the key column to the far right.
            e.MapColumns(c => c == id ? action : c == action ? id : c == key ? Columns.Count + 1 : c);
        }));
        var row = Row(book, "1003");
        Assert.Equal(WorksheetAction.Corrected, row.Action);
        Assert.Equal(Document.Rows.Single(r => r.RowKey == "1003").Values["id_number"], row.Values["id_number"]);
        Assert.Equal(Document.Rows.Count, book.Rows.Count);
    }

    [Fact]
    public void InsertedColumn_IsIgnored_AndTheOthersResolveByHeader()
    {
        var birth = Col("field.birth_date");
        var book = Read(Edit(e =>
        {
            e.MapColumns(c => c >= birth ? c + 1 : c);
            e.Type(1, birth, "备注");
            e.Type(e.RowOf("1004"), birth, "班主任已核对");
        }));
        Assert.Equal("20180101", Row(book, "1004").Values["birth_date"]);
        Assert.All(book.Rows, r => Assert.Empty(r.Problems));
    }

    [Fact]
    public void DeletedColumn_RefusesTheFile_NamingTheColumn()
    {
        var birth = Col("field.birth_date");
        var bytes = Edit(e =>
        {
            foreach (var row in e.Data(e.ProblemsSheet).Elements<DocumentFormat.OpenXml.Spreadsheet.Row>())
            {
                row.Elements<Cell>().FirstOrDefault(c => RegistrarEdits.ColumnOf(c) == birth)?.Remove();
            }
        });
        var e = Rejected(bytes, WorksheetRejection.MissingColumn);
        Assert.Equal("出生日期", e.Column);
        Assert.Equal(1, e.ExcelRow);
        Assert.Contains("出生日期", e.MessageIn(WorksheetLanguage.Chinese), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DateSerialNumbers_InADateField_BecomeYyyyMMdd(bool date1904)
    {
        var day = new DateOnly(2015, 3, 9);
        var serial = date1904 ? day.DayNumber - new DateOnly(1904, 1, 1).DayNumber : day.DayNumber - new DateOnly(1899, 12, 30).DayNumber;
        var book = Read(Edit(e =>
        {
            if (date1904)
            {
                e.Workbook.Workbook.WorkbookProperties ??= new WorkbookProperties();
                e.Workbook.Workbook.WorkbookProperties.Date1904 = true;
            }

            e.Number(e.RowOf("1003"), Col("field.birth_date"), serial.ToString(CultureInfo.InvariantCulture));
            e.Number(e.RowOf("1004"), Col("field.birth_date"), "20180102");
        }));
        Assert.Equal("20150309", Row(book, "1003").Values["birth_date"]);
        Assert.Equal("20180102", Row(book, "1004").Values["birth_date"]);
        Assert.All(book.Rows, r => Assert.Empty(r.Problems));
    }

    [Fact]
    public void DateSerial60_In1900System_IsNoDay()
    {
        var book = Read(Edit(e => e.Number(e.RowOf("1003"), Col("field.birth_date"), "60")));
        Assert.Equal(ReturnProblemCode.InvalidDate, Assert.Single(Row(book, "1003").Problems).Code);
    }

    [Fact]
    public void IdTypedAsNumber_WithFifteenDigitsOrFewer_IsExact()
    {
        var book = Read(Edit(e =>
        {
            e.Number(e.RowOf("1004"), Col("field.guardian_phone"), "13800000000");
            e.Number(e.RowOf("1001"), Col("field.id_number"), "2.30102201503093E+14");
        }));
        Assert.Equal("13800000000", Row(book, "1004").Values["guardian_phone"]);
        Assert.Equal("230102201503093", Row(book, "1001").Values["id_number"]);
        Assert.All(book.Rows, r => Assert.Empty(r.Problems));
    }

    [Theory]
    [InlineData("2.30102200001E+17")]
    [InlineData("230102201503093000")]
    public void IdTypedAsNumber_WithLostDigits_RejectsTheRow(string stored)
    {
        int excelRow = 0;
        var book = Read(Edit(e =>
        {
            excelRow = e.RowOf("1001");
            e.Number(excelRow, Col("field.id_number"), stored);
        }));
        var problem = Assert.Single(Row(book, "1001").Problems);
        Assert.Equal(ReturnProblemCode.LostDigits, problem.Code);
        Assert.Equal((excelRow, "id_number", stored), (problem.ExcelRow, problem.FieldName, problem.Detail));
        Assert.Equal(Columns.Single(c => c.Marker == "field.id_number").Header, problem.Column);
    }

    [Fact]
    public void FullWidthDigitsAndSurroundingSpaces_AreNormalised()
    {
        var book = Read(Edit(e => e.Type(e.RowOf("1004"), Col("field.guardian_phone"), "\u3000１３９００００００００ ")));
        Assert.Equal("13900000000", Row(book, "1004").Values["guardian_phone"]);
    }

    [Fact]
    public void Booleans_BecomeText()
    {
        var book = Read(Edit(e =>
        {
            e.Boolean(e.RowOf("1004"), Col("field.only_child"), true);
            e.Boolean(e.RowOf("1001"), Col("field.address"), false);
        }));
        Assert.Equal("1", Row(book, "1004").Values["only_child"]);
        Assert.Equal("FALSE", Row(book, "1001").Values["address"]);
    }

    [Fact]
    public void MergedCellsAndExtraSheets_AreIgnoredSafely()
    {
        var book = Read(Edit(e =>
        {
            int a = e.RowOf("1001"), b = e.RowOf("1002");
            e.Type(a, Col("explanation"), "同一原因").Type(a, Col("action"), Label(WorksheetAction.Confirmed));
            var worksheet = ((DocumentFormat.OpenXml.Packaging.WorksheetPart)e.Workbook.GetPartById(e.Sheet(e.ProblemsSheet).Id!)).Worksheet;
            var merges = new MergeCells(new MergeCell
            {
                Reference = OpenXmlWorkbook.Reference(a, Col("explanation")) + ":" + OpenXmlWorkbook.Reference(b, Col("explanation")),
            });
            worksheet.InsertAfter(merges, worksheet.GetFirstChild<SheetData>());
            var extra = e.Workbook.AddNewPart<DocumentFormat.OpenXml.Packaging.WorksheetPart>();
            extra.Worksheet = new Worksheet(new SheetData(new DocumentFormat.OpenXml.Spreadsheet.Row(
                new Cell { CellReference = "A1", DataType = CellValues.InlineString, InlineString = new InlineString(new DocumentFormat.OpenXml.Spreadsheet.Text("1001")) })
            { RowIndex = 1 }));
            e.Workbook.Workbook.Sheets!.AppendChild(new Sheet { Name = "草稿", SheetId = 99, Id = e.Workbook.GetIdOfPart(extra) });
        }));
        Assert.Equal("同一原因", Row(book, "1001").Explanation);
        Assert.Null(Row(book, "1002").Explanation);
        Assert.Empty(book.NotImported);
        Assert.All(book.Rows, r => Assert.Empty(r.Problems));
    }

    [Fact]
    public void EmptyRowsInTheMiddle_AndPhantomRows_AreSkipped_WithRealExcelRows()
    {
        var book = Read(Edit(e =>
        {
            // Push every data row from the third Excel row down by two, leaving two formatted empty rows in the middle.
            e.MapRows(r => r >= 3 ? r + 2 : r);
            e.Phantom(3, Columns.Count).Phantom(4, Columns.Count).Phantom(50, Columns.Count + 5);
        }));
        Assert.Equal(Document.Rows.Count, book.Rows.Count);
        Assert.Empty(book.NotImported);
        Assert.All(book.Rows, r => Assert.Equal(r.Issued.ExcelRow >= 3 ? r.Issued.ExcelRow + 2 : r.Issued.ExcelRow, r.ExcelRow));
    }

    [Fact]
    public void RenamedProblemsSheet_IsFoundByItsHeaders()
    {
        var book = Read(Edit(e => e.Sheet(e.ProblemsSheet).Name = "我的修改"));
        Assert.Equal("我的修改", book.ProblemsSheet);
        Assert.Equal(Document.Rows.Count, book.Rows.Count);
    }

    [Fact]
    public void EnglishWorkbook_IsReadByItsEnglishHeaders()
    {
        var english = WorksheetSamples.Write(Document, WorksheetLanguage.English);
        var columns = WorksheetLayout.Columns(Document.Fields, WorksheetLanguage.English);
        using var edits = new RegistrarEdits(english, WorksheetLanguage.English);
        var row = edits.RowOf("1001");
        edits.Type(row, columns.Single(c => c.Marker == "action").Number, WorksheetAction.Confirmed.Label(WorksheetLanguage.English));
        var book = Read(edits.Save());
        Assert.Equal(WorksheetLanguage.English, book.Meta.Language);
        var problem = Assert.Single(Row(book, "1001").Problems);
        Assert.Equal(ReturnProblemCode.ExplanationRequired, problem.Code);
        Assert.DoesNotMatch(@"\p{IsCJKUnifiedIdeographs}", problem.Message(WorksheetLanguage.English));
    }

    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
