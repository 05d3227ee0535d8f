using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Jobs;
using StudentDataQuality.Worksheets;
using XText = DocumentFormat.OpenXml.Spreadsheet.Text;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// A corpus of damaged returns (docs/worksheets.md, "Taken row by row"), each taken through the real ingest
/// service on a real database: what a registrar's spreadsheet program, or the registrar, does to a worksheet on its way
/// back. A file refused whole changes nothing but the refusal's audit entry, and its message says, in both languages,
/// which file, sheet, row or column is at fault; a file taken is taken row by row, each row's outcome naming the
/// sheet, the Excel row and the column header. Every file starts as a school's issued worksheet with one correction
/// typed in, so that a refusal that took anything would show.
/// </summary>
public sealed class DamagedReturnTests(DamagedReturnFixture fixture) : IClassFixture<DamagedReturnFixture>
{
    private const WorksheetLanguage English = WorksheetLanguage.English;
    private const WorksheetLanguage Chinese = WorksheetLanguage.Chinese;

    private IngestScenario Scenario => fixture.Scenario;

    // ---- refused whole ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task AnotherSchoolsWorksheet_IsRefused_NamingTheSchoolItBelongsTo()
    {
        var (sheet, fix, returned) = Refusable();
        var other = fixture.Sheets.First(s => s.File.SchoolCode != sheet.File.SchoolCode).File.SchoolCode;

        var refusal = await RefusedAsync(returned, FileName(sheet), WorksheetRejection.OtherSchool, IngestScenario.AccountOf(other));

        Assert.Contains($"school {sheet.File.SchoolCode}, not of your school", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains($"是学校 {sheet.File.SchoolCode} 的问题清单", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    [Fact]
    public async Task AWorksheetOfAClosedRound_IsRefused_NamingTheRound()
    {
        var (sheet, fix, returned) = Refusable();
        await SetRoundStatusAsync("closed");
        try
        {
            var refusal = await RefusedAsync(returned, FileName(sheet), WorksheetRejection.RoundClosed);

            Assert.Contains($"round {Scenario.Round}, which is closed", refusal.MessageIn(English), StringComparison.Ordinal);
            Assert.Contains($"已结束的核查轮次 {Scenario.Round}", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        }
        finally
        {
            await SetRoundStatusAsync("open");
        }

        await AssertNotTakenAsync(fix.Row);
    }

    [Fact]
    public async Task AnOlderIssue_IsRefused_OnceANewerWasIssued_AndTheNewerIsTaken()
    {
        var sheet = fixture.Claim("stale-issue");
        var row = sheet.Rows[0];
        var old = Edit(Scenario.Issued(sheet.File), (e, layout) => Confirm(e, layout, row.RowKey, "学生信息已核对"));
        var newer = await IssueAgainAsync(sheet, "stale-issue", WorksheetLanguage.Chinese);
        Assert.Equal(sheet.File.IssueNumber + 1, newer.File.IssueNumber);

        var school = IngestScenario.AccountOf(sheet.File.SchoolCode);
        var refusal = await RefusedAsync(old, FileName(sheet), WorksheetRejection.StaleIssue, school);

        var versions = $"v{sheet.File.IssueNumber}, newest v{newer.File.IssueNumber}";
        Assert.Contains($"older issue of your worksheet ({versions})", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains($"旧版本（第 {sheet.File.IssueNumber} 版，最新为第 {newer.File.IssueNumber} 版）", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(row);
        // The same answer in the newer issue is taken.
        var again = Edit(newer.Bytes, (e, layout) => Confirm(e, layout, row.RowKey, "学生信息已核对"));
        var result = await Scenario.IngestAsync(newer.File, again);
        Assert.Equal(ReceiptOutcome.AwaitingReview, Line(result, row.RowKey).Outcome);
    }

    [Theory]
    [InlineData("row signature")]
    [InlineData("worksheet id")]
    [InlineData("row key")]
    public async Task AChangedMetaSheet_IsRefused(string tampered)
    {
        var (sheet, fix, _) = Refusable();
        var worksheetId = Guid.NewGuid();
        var meta = MetaRecords(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, layout) =>
        {
            Correct(e, layout, fix);
            // Records are: meta | name | value, and row | excel row | row key | signature.
            var (rowRecord, record) = meta.Single(m => m.Record is ["row", _, var key, _] && key == fix.Row.RowKey);
            switch (tampered)
            {
                case "row signature":
                    TypeInto(e, WorksheetMeta.SheetName, rowRecord, 4, (record[3][0] == '0' ? "1" : "0") + record[3][1..]);
                    break;
                case "worksheet id":
                    var idRecord = meta.Single(m => m.Record is ["meta", "worksheet_id", ..]).Row;
                    TypeInto(e, WorksheetMeta.SheetName, idRecord, 3, worksheetId.ToString());
                    break;
                default:
                    TypeInto(e, WorksheetMeta.SheetName, rowRecord, 3, "9" + fix.Row.RowKey);
                    break;
            }
        });

        var code = tampered == "worksheet id" ? WorksheetRejection.UnknownWorksheet : WorksheetRejection.BadSignature;
        var refusal = await RefusedAsync(returned, FileName(sheet), code);

        if (code == WorksheetRejection.UnknownWorksheet)
        {
            Assert.Contains($"its worksheet number {worksheetId} is unknown here", refusal.MessageIn(English), StringComparison.Ordinal);
            Assert.Contains($"清单编号 {worksheetId} 在本系统中不存在", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        }
        else
        {
            var expected = tampered == "row signature"
                ? $"the signature of row key {fix.Row.RowKey} does not verify"
                : $"row key 9{fix.Row.RowKey} was not issued";
            Assert.Contains($"The hidden sheet '_meta' of the file '{FileName(sheet)}' does not match what this system issued ({expected})",
                refusal.MessageIn(English), StringComparison.Ordinal);
            Assert.Contains("的隐藏工作表“_meta”与系统下发的内容不符", refusal.MessageIn(Chinese), StringComparison.Ordinal);
            // What is wrong is told in Chinese too, not glued in English.
            Assert.Contains(tampered == "row signature" ? $"行键 {fix.Row.RowKey} 的签名验证不通过" : $"行键 9{fix.Row.RowKey} 不是下发的行",
                refusal.MessageIn(Chinese), StringComparison.Ordinal);
        }

        await AssertNotTakenAsync(fix.Row);
    }

    [Fact]
    public async Task AWorkbookWithoutItsMetaSheet_IsRefused_NamingTheMissingSheet()
    {
        var (sheet, fix, _) = Refusable();
        var returned = Edit(Scenario.Issued(sheet.File), (e, layout) =>
        {
            Correct(e, layout, fix);
            var meta = e.Sheet(WorksheetMeta.SheetName);
            var part = e.Workbook.GetPartById(meta.Id!);
            meta.Remove();
            e.Workbook.DeletePart(part);
        });

        var refusal = await RefusedAsync(returned, FileName(sheet), WorksheetRejection.NoMeta);

        Assert.Contains("its hidden sheet '_meta' is missing", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("缺少隐藏的工作表“_meta”", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    [Theory]
    [InlineData("xls")]
    [InlineData("csv renamed to xlsx")]
    public async Task AFileThatIsNoXlsx_IsRefused(string kind)
    {
        var (sheet, fix, _) = Refusable();
        // An old Excel file (an OLE compound file), or the sheet saved as CSV and given back its .xlsx name.
        byte[] ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, .. RandomNumberGenerator.GetBytes(4096)];
        var text = $"记录标识,{fix.Field},处理方式\r\n{fix.Row.RowKey},{fix.Value},变更\r\n";
        byte[] csv = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(text)];
        var (bytes, name) = kind == "xls" ? (ole, Path.ChangeExtension(FileName(sheet), ".xls")) : (csv, FileName(sheet));

        var refusal = await RefusedAsync(bytes, name, WorksheetRejection.NotXlsx);

        Assert.Contains("is not an Excel workbook (.xlsx)", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("save it as Excel Workbook (*.xlsx)", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("不是 Excel 工作簿（.xlsx）", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    [Theory]
    [InlineData("vbaProject.bin")]
    [InlineData("macro content type")]
    public async Task AWorkbookWithMacros_IsRefused(string kind)
    {
        const string Workbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml";
        const string MacroWorkbook = "application/vnd.ms-excel.sheet.macroEnabled.main+xml";
        const string VbaProject = """<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>""";
        var (sheet, fix, corrected) = Refusable();
        // Saved as .xlsm: a VBA project part, or just the workbook declared macro-enabled.
        var returned = kind == "vbaProject.bin"
            ? RegistrarEdits.WithEntry(corrected, "xl/vbaProject.bin", [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, .. new byte[1024]],
                types => types.Replace("</Types>", VbaProject + "</Types>", StringComparison.Ordinal))
            : RegistrarEdits.WithEntry(corrected, "xl/dummy.txt", "x"u8.ToArray(),
                types => types.Replace(Workbook, MacroWorkbook, StringComparison.Ordinal));
        var name = Path.ChangeExtension(FileName(sheet), ".xlsm");

        var refusal = await RefusedAsync(returned, name, WorksheetRejection.Macros);

        Assert.Contains("contains macros", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("含有宏", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    [Theory]
    [InlineData(300)]
    [InlineData(60)]
    public async Task AZipBomb_IsRefused_BeforeItIsUnpacked(int megabytesOfZeros)
    {
        // 300 MB of zeros pass the unpacked limit (100 MB); 60 MB do not, but pack a thousand to one, which no sheet does.
        var (sheet, fix, corrected) = Refusable();
        var returned = WithZeros(corrected, "xl/media/image1.png", megabytesOfZeros * 1024L * 1024);
        Assert.True(returned.Length < ReturnLimits.Default.MaxBytes, "the bomb itself is small");

        var refusal = await RefusedAsync(returned, FileName(sheet), WorksheetRejection.ZipBomb);

        Assert.Contains("unpacks to too much data or is packed abnormally", refusal.MessageIn(English), StringComparison.Ordinal);
        var detail = megabytesOfZeros == 300 ? "MB > 100 MB unpacked" : "xl/media/image1.png: more than 200:1";
        Assert.Contains(detail, refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("解压后过大或压缩异常", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    [Fact]
    public async Task AFileLargerThanTheLimit_IsRefused_WithItsSize()
    {
        // A registrar pasted a 21 MB photo into the sheet; pictures do not pack.
        var (sheet, fix, corrected) = Refusable();
        var returned = RegistrarEdits.WithEntry(corrected, "xl/media/image1.jpeg", RandomNumberGenerator.GetBytes(21 * 1024 * 1024));
        Assert.True(returned.Length > ReturnLimits.Default.MaxBytes);

        var refusal = await RefusedAsync(returned, FileName(sheet), WorksheetRejection.TooLarge, sha256Known: false);

        Assert.Contains("is too large (> 20 MB) to upload", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("太大（> 20 MB）", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    // ---- taken row by row -------------------------------------------------------------------------------------------

    [Fact]
    public async Task EditedLockedCells_RejectThoseRows_AndTheOtherRowsAreTaken()
    {
        // An English worksheet, so that the reasons are checked in English here (the other cases read them in Chinese).
        var sheet = fixture.Claim("locked-cells");
        var english = await IssueAgainAsync(sheet, "locked-cells", English);
        var fix = sheet.Fixes()[0];
        var (numberRow, nameRow) = (sheet.Rows.First(r => r != fix.Row), sheet.Rows.Last(r => r != fix.Row));
        Assert.NotEqual(numberRow, nameRow);
        var layout = IngestScenario.Read(english.Bytes);
        var returned = Edit(english.Bytes, (e, _) =>
        {
            Correct(e, layout, fix, English);
            var number = layout.Rows.Single(r => r.RowKey == numberRow.RowKey).Identity["student_no"] ?? "G";
            e.Type(Row(layout, numberRow.RowKey), layout.ColumnNumbers["id.student_no"], number[..^1] + (number.EndsWith('1') ? "2" : "1"));
            e.Type(Row(layout, nameRow.RowKey), layout.ColumnNumbers["id.name"], "李四四");
        });

        var result = await Scenario.IngestAsync(english.File, returned);

        Assert.Equal(English, result.Receipt.Language);
        var reason = Assert.Single(AssertRejected(result, numberRow.RowKey));
        var row = Row(layout, numberRow.RowKey);
        Assert.StartsWith($"Sheet 'Problems', row {row}: the locked cell 'Student number (registered)' was changed", reason,
            StringComparison.Ordinal);
        reason = Assert.Single(AssertRejected(result, nameRow.RowKey));
        row = Row(layout, nameRow.RowKey);
        Assert.StartsWith($"Sheet 'Problems', row {row}: the locked cell 'Name (registered)' was changed", reason,
            StringComparison.Ordinal);
        Assert.Contains("李四四", reason, StringComparison.Ordinal);
        await AssertNotTakenAsync(numberRow, nameRow);
        await AssertAppliedAsync(result, fix);
    }

    [Fact]
    public async Task AFormulaInAFieldCell_RejectsItsRow_EvenWithAPlausibleCachedValue()
    {
        var sheet = fixture.Claim("formula");
        var fix = sheet.Fixes()[0];
        var row = sheet.Rows.First(r => r != fix.Row);
        var field = sheet.Fields.FirstOrDefault(row.Shows) ?? sheet.Fields[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var header = Header(layout, "field." + field);
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            Correct(e, layout, fix);
            e.Formula(Row(layout, row.RowKey), layout.ColumnNumbers["field." + field], "CONCATENATE(\"幸福\",\"路1号\")", "幸福路1号");
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        var reason = Assert.Single(AssertRejected(result, row.RowKey));
        Assert.StartsWith($"工作表“问题清单”第 {Row(layout, row.RowKey)} 行的“{header}”是公式", reason, StringComparison.Ordinal);
        await AssertNotTakenAsync(row);
        await AssertAppliedAsync(result, fix);
    }

    [Fact]
    public async Task AddedAndCopiedRows_AreReported_AndNeverImported()
    {
        var sheet = fixture.Claim("added-rows");
        var row = sheet.Rows[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var last = layout.Rows.Max(r => r.ExcelRow);
        var (added, keyless, copied) = (last + 1, last + 2, last + 3);
        var (versions, corrections) = (await CountAsync("registry.record_version"), await CountAsync("exchange.correction"));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            // A new student typed under the list with an invented key, another without a key, and a copied row.
            var at = layout.ColumnNumbers;
            e.Type(added, at["row_key"], "900000001").Type(added, at["id.name"], "新同学")
                .Type(added, at["action"], Label(WorksheetAction.Corrected));
            e.Type(keyless, at["id.name"], "插班生").Type(keyless, at["id.student_no"], "G110101201503091234");
            e.Type(copied, at["row_key"], row.RowKey).Type(copied, at["action"], Label(WorksheetAction.RemoveRegistration))
                .Type(copied, at["explanation"], "复制的行");
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        var original = Assert.Single(result.Receipt.Rows, r => r.RowKey == row.RowKey && r.ExcelRow == row.ExcelRow);
        Assert.Equal(ReceiptOutcome.Unchanged, original.Outcome);
        var notImported = result.Receipt.Rows.Where(r => r.Outcome == ReceiptOutcome.NotImported).ToDictionary(r => r.ExcelRow);
        Assert.Equal(new[] { added, keyless, copied }, notImported.Keys.Order());
        Assert.StartsWith($"工作表“问题清单”第 {added} 行是新增的行（编号“900000001”不在下发的清单中），不会导入", Assert.Single(notImported[added].Reasons),
            StringComparison.Ordinal);
        Assert.StartsWith($"工作表“问题清单”第 {keyless} 行是新增的行", Assert.Single(notImported[keyless].Reasons), StringComparison.Ordinal);
        Assert.StartsWith($"工作表“问题清单”第 {copied} 行与前面某一行的编号“{row.RowKey}”相同（复制的行），不会导入", Assert.Single(notImported[copied].Reasons),
            StringComparison.Ordinal);
        Assert.Equal((versions, corrections), (await CountAsync("registry.record_version"), await CountAsync("exchange.correction")));
        await AssertNotTakenAsync(row);
    }

    [Fact]
    public async Task ADeletedRow_IsReported_AndItsStudentsProblemsStayOpen()
    {
        var sheet = fixture.Claim("deleted-rows");
        var fix = sheet.Fixes()[0];
        var deleted = sheet.Rows.First(r => r != fix.Row);
        var open = await Scenario.OpenFindingsAsync(deleted.RecordId);
        Assert.NotEmpty(open);
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        // Deleting a row moves the rows under it up.
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            Correct(e, layout, fix);
            e.MapRows(r => r == deleted.ExcelRow ? null : r > deleted.ExcelRow ? r - 1 : r);
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        var line = Line(result, deleted.RowKey);
        Assert.Equal((ReceiptOutcome.NotImported, deleted.ExcelRow), (line.Outcome, line.ExcelRow));
        Assert.Equal($"下发时工作表“问题清单”第 {deleted.ExcelRow} 行的学生（编号“{deleted.RowKey}”）在返回的文件中找不到，这名学生的问题仍未处理。", Assert.Single(line.Reasons));
        Assert.Equal(open, await Scenario.OpenFindingsAsync(deleted.RecordId));
        await AssertNotTakenAsync(deleted);
        await AssertAppliedAsync(result, fix, fix.Row.ExcelRow > deleted.ExcelRow ? fix.Row.ExcelRow - 1 : fix.Row.ExcelRow);
    }

    [Fact]
    public async Task ReorderedRows_AreTakenByKey_EachValueForItsOwnStudent()
    {
        var sheet = fixture.Claim("re-ordered");
        var fixes = sheet.Fixes().Take(2).ToArray();
        Assert.NotEqual(fixes[0].Value, fixes[1].Value);
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var (first, last) = (layout.Rows.Min(r => r.ExcelRow), layout.Rows.Max(r => r.ExcelRow));
        int Sorted(int row) => row >= first ? first + last - row : row;
        // Sorted the other way round, then corrected where each row now is.
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            e.MapRows(r => Sorted(r));
            foreach (var fix in fixes)
            {
                e.Type(Sorted(fix.Row.ExcelRow), layout.ColumnNumbers[fix.Marker], fix.Value);
            }
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        foreach (var fix in fixes)
        {
            await AssertAppliedAsync(result, fix, Sorted(fix.Row.ExcelRow));
            Assert.Equal(Sorted(fix.Row.ExcelRow), await Scenario.ScalarAsync<int>(
                "SELECT excel_row FROM exchange.correction WHERE record_id = @id", ("id", fix.Row.RecordId)));
        }

        Assert.DoesNotContain(result.Receipt.Rows, r => r.Outcome is ReceiptOutcome.Rejected or ReceiptOutcome.NotImported);
        Assert.Equal(sheet.Rows.Count, result.Receipt.Rows.Count);
    }

    [Fact]
    public async Task MovedAndInsertedColumns_AreFoundByTheirHeaders()
    {
        var sheet = fixture.Claim("moved-columns");
        var fix = sheet.Fixes()[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var (field, lastColumn) = (layout.ColumnNumbers[fix.Marker], layout.ColumnNumbers.Values.Max());
        // A note column inserted before the first, and the corrected column dragged past the last.
        int Moved(int column) => column == field ? lastColumn + 2 : column + 1;
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            e.MapColumns(Moved);
            e.Type(WorksheetLayout.HeaderRow, 1, "备注").Type(fix.Row.ExcelRow, 1, "已电话核实");
            e.Type(fix.Row.ExcelRow, Moved(field), fix.Value)
                .Type(fix.Row.ExcelRow, Moved(layout.ColumnNumbers["action"]), Label(WorksheetAction.Corrected));
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        await AssertAppliedAsync(result, fix);
        var cell = OpenXmlWorkbook.Reference(fix.Row.ExcelRow, lastColumn + 2);
        Assert.Equal($"{Header(layout, fix.Marker)}|{cell}", await Scenario.ScalarAsync<string>(
            "SELECT column_header || '|' || cell FROM exchange.correction WHERE record_id = @id", ("id", fix.Row.RecordId)));
        Assert.DoesNotContain(result.Receipt.Rows, r => r.Outcome is ReceiptOutcome.Rejected or ReceiptOutcome.NotImported);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADateTypedAsADate_IsReadFromItsSerialNumber_InEitherDateSystem(bool date1904)
    {
        var sheet = fixture.Claim(date1904 ? "dates-1904" : "dates-1900");
        var fix = sheet.Fixes(FixKind.BirthDate)[0];
        var day = DateOnly.ParseExact(fix.Value, "yyyyMMdd", CultureInfo.InvariantCulture);
        // Excel stores a date as days since its epoch: 1899-12-30 in the 1900 system (counting Lotus's 1900-02-29),
        // 1904-01-01 in the 1904 system.
        var serial = day.DayNumber - (date1904 ? new DateOnly(1904, 1, 1) : new DateOnly(1899, 12, 30)).DayNumber;
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            e.Number(fix.Row.ExcelRow, layout.ColumnNumbers[fix.Marker], serial.ToString(CultureInfo.InvariantCulture));
            if (date1904)
            {
                var workbook = e.Workbook.Workbook;
                (workbook.WorkbookProperties ??= new WorkbookProperties()).Date1904 = true;
            }
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        await AssertAppliedAsync(result, fix);
        Assert.Equal(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), await Scenario.ScalarAsync<string>(
            "SELECT birth_date::text FROM registry.current_record WHERE record_id = @id", ("id", fix.Row.RecordId)));
    }

    [Fact]
    public async Task AnIdNumberTypedAsANumber_LostItsLastDigits_AndItsRowIsRejected()
    {
        var sheet = fixture.Claim("id-as-number");
        var row = sheet.Rows.First(r => r.Shows("id_number") && sheet.Fixes().Any(f => f.Row != r));
        var fix = sheet.Fixes().First(f => f.Row != row);
        var digits = row.IdNumber is { Length: 18 } id && id.All(char.IsAsciiDigit) && id[15..] != "000" ? id : "110101201503091234";
        // Excel keeps 15 significant digits of a number and writes it in scientific notation: 1.10101201503091E+17.
        var fifteen = double.Parse(digits, CultureInfo.InvariantCulture).ToString("E14", CultureInfo.InvariantCulture);
        var stored = double.Parse(fifteen, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            Correct(e, layout, fix);
            e.Number(row.ExcelRow, layout.ColumnNumbers["field.id_number"], stored);
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        var reason = Assert.Single(AssertRejected(result, row.RowKey));
        Assert.StartsWith($"工作表“问题清单”第 {row.ExcelRow} 行“{Header(layout, "field.id_number")}”中的号码被当成了数字（{stored}），第 15 位以后的数字已经丢失",
            reason, StringComparison.Ordinal);
        await AssertNotTakenAsync(row);
        await AssertAppliedAsync(result, fix);
    }

    [Fact]
    public async Task APhoneTypedAsANumber_IsExact_AndTaken()
    {
        var sheet = fixture.Claim("phone-as-number");
        var fix = sheet.Fixes(FixKind.Phone)[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) => e.Number(fix.Row.ExcelRow, layout.ColumnNumbers[fix.Marker], fix.Value));

        var result = await Scenario.IngestAsync(sheet.File, returned);

        await AssertAppliedAsync(result, fix);
    }

    [Fact]
    public async Task FullWidthDigitsAndTrailingSpaces_AreNormalised_AndTaken()
    {
        var sheet = fixture.Claim("phone-full-width");
        var fix = sheet.Fixes(FixKind.Phone)[0];
        var fullWidth = new string(fix.Value.Select(c => (char)(c - '0' + '０')).ToArray()) + "\u3000 ";
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) => e.Type(fix.Row.ExcelRow, layout.ColumnNumbers[fix.Marker], fullWidth));

        var result = await Scenario.IngestAsync(sheet.File, returned);

        await AssertAppliedAsync(result, fix);
    }

    [Fact]
    public async Task MergedCells_AreIgnored_AndTheFileIsTaken()
    {
        var sheet = fixture.Claim("merged-cells");
        var fix = sheet.Fixes()[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        // The problem summary is read-only and never read back: where it was issued.
        var problems = layout.Meta.Columns.Single(c => c.Marker == "problems").Number;
        var (first, lastColumn) = (layout.Rows.Min(r => r.ExcelRow), layout.ColumnNumbers.Values.Max());
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            Correct(e, layout, fix);
            // The problem summaries of two rows merged (Excel keeps the top-left value and empties the rest), and a note
            // merged over a block beside the table.
            e.Cell(first + 1, problems).RemoveAllChildren();
            e.Cell(first + 1, problems).DataType = null;
            e.Type(first, lastColumn + 2, "请核对后上传");
            Merge(e, $"{OpenXmlWorkbook.Reference(first, problems)}:{OpenXmlWorkbook.Reference(first + 1, problems)}",
                $"{OpenXmlWorkbook.Reference(first, lastColumn + 2)}:{OpenXmlWorkbook.Reference(first + 2, lastColumn + 4)}");
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        await AssertAppliedAsync(result, fix);
        Assert.All(result.Receipt.Rows.Where(r => r.RowKey != fix.Row.RowKey), r => Assert.Equal(ReceiptOutcome.Unchanged, r.Outcome));
        Assert.Equal(sheet.Rows.Count, result.Receipt.Rows.Count);
    }

    [Fact]
    public async Task EmptyPhantomRowsInTheMiddle_AreSkipped_AndTheRowsUnderThemAreTaken()
    {
        var sheet = fixture.Claim("phantom-rows");
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var (first, lastColumn) = (layout.Rows.Min(r => r.ExcelRow), layout.ColumnNumbers.Values.Max());
        var fixes = sheet.Fixes().Where(f => f.Row.ExcelRow > first).ToArray();
        Assert.NotEmpty(fixes);
        int Shifted(int row) => row > first ? row + 3 : row;
        // Three rows inserted under the first: one formatted, one with a typed space, one with an empty string.
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            e.MapRows(r => Shifted(r));
            e.Phantom(first + 1, lastColumn);
            e.Type(first + 2, layout.ColumnNumbers["explanation"], " ");
            e.Type(first + 3, layout.ColumnNumbers["action"], "");
            foreach (var fix in fixes)
            {
                e.Type(Shifted(fix.Row.ExcelRow), layout.ColumnNumbers[fix.Marker], fix.Value);
            }
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        foreach (var fix in fixes)
        {
            await AssertAppliedAsync(result, fix, fix.Row.ExcelRow + 3);
        }

        Assert.Equal(sheet.Rows.Count, result.Receipt.Rows.Count);
        Assert.DoesNotContain(result.Receipt.Rows, r => r.Outcome is ReceiptOutcome.Rejected or ReceiptOutcome.NotImported);
    }

    [Theory]
    [InlineData(WorksheetAction.Corrected)]
    [InlineData(WorksheetAction.RemoveRegistration)]
    [InlineData(WorksheetAction.Confirmed)]
    public async Task AStudentMissingFromThisRound_MayBeConfirmed_ButNotCorrectedNorRemoved(WorksheetAction action)
    {
        // T01 shows the previous round's record: a return of a worksheet holding one must not fail, and must not write
        // a version of last round's record into this round.
        var sheet = fixture.Claim(action switch
        {
            WorksheetAction.Corrected => "missing-student-corrected",
            WorksheetAction.RemoveRegistration => "missing-student-removed",
            _ => "missing-student-confirmed",
        });
        var row = sheet.Rows.First(r => r.MissingNow);
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            if (action == WorksheetAction.Corrected)
            {
                var number = row.Issued["student_no"] ?? "";
                e.Type(row.ExcelRow, layout.ColumnNumbers["field.student_no"], number[..^1] + (number.EndsWith('1') ? "2" : "1"));
            }

            e.Type(row.ExcelRow, layout.ColumnNumbers["action"], Label(action))
                .Type(row.ExcelRow, layout.ColumnNumbers["explanation"], "该生上学期末已转学离校");
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        if (action == WorksheetAction.Confirmed)
        {
            Assert.Equal(ReceiptOutcome.AwaitingReview, Line(result, row.RowKey).Outcome);
            Assert.Contains(result.Receipt.StillOpen,
                p => p.AwaitingReview && p.Problem.RuleId == "T01" && p.StudentNo == row.Issued["student_no"]);
            Assert.Equal("pending|该生上学期末已转学离校", await Scenario.ScalarAsync<string>(
                "SELECT status || '|' || text FROM exchange.explanation WHERE record_id = @id", ("id", row.RecordId)));
        }
        else
        {
            var reason = Assert.Single(AssertRejected(result, row.RowKey));
            Assert.StartsWith($"工作表“问题清单”第 {row.ExcelRow} 行：该学生只在上一轮数据中（本轮缺失），只能说明情况：请选择“{Label(WorksheetAction.Confirmed)}”", reason,
                StringComparison.Ordinal);
            await AssertNotTakenAsync(row);
        }

        Assert.Equal(1L, await Scenario.ScalarAsync<long>(
            "SELECT count(*) FROM registry.record_version WHERE record_id = @id", ("id", row.RecordId)));
        Assert.All(result.Receipt.Rows.Where(r => r.RowKey != row.RowKey), r => Assert.Equal(ReceiptOutcome.Unchanged, r.Outcome));
    }

    [Fact]
    public async Task ConfirmedOrRemovedWithoutAnExplanation_IsRejected()
    {
        var sheet = fixture.Claim("explanation-required");
        var (confirmed, removed) = (sheet.Rows[0], sheet.Rows[1]);
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var header = Header(layout, "explanation");
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            e.Type(confirmed.ExcelRow, layout.ColumnNumbers["action"], Label(WorksheetAction.Confirmed));
            e.Type(removed.ExcelRow, layout.ColumnNumbers["action"], Label(WorksheetAction.RemoveRegistration))
                .Type(removed.ExcelRow, layout.ColumnNumbers["explanation"], " \u3000 ");
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        foreach (var (row, action) in new[] { (confirmed, WorksheetAction.Confirmed), (removed, WorksheetAction.RemoveRegistration) })
        {
            var reason = Assert.Single(AssertRejected(result, row.RowKey));
            Assert.Equal($"工作表“问题清单”第 {row.ExcelRow} 行的处理方式是“{Label(action)}”，但“{header}”没有填写，这一行没有导入。请填写说明后重新上传。", reason);
        }

        await AssertNotTakenAsync(confirmed, removed);
    }

    [Fact]
    public async Task ConfirmedWithChangedValues_IsRejectedAsMixed()
    {
        var sheet = fixture.Claim("mixed-action");
        var fix = sheet.Fixes()[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) =>
        {
            e.Type(fix.Row.ExcelRow, layout.ColumnNumbers[fix.Marker], fix.Value);
            Confirm(e, layout, fix.Row.RowKey, "与户口簿一致");
        });

        var result = await Scenario.IngestAsync(sheet.File, returned);

        var reason = Assert.Single(AssertRejected(result, fix.Row.RowKey));
        Assert.StartsWith($"工作表“问题清单”第 {fix.Row.ExcelRow} 行：处理方式为“{Label(WorksheetAction.Confirmed)}”，但同时修改了数据，该行未导入", reason,
            StringComparison.Ordinal);
        await AssertNotTakenAsync(fix.Row);
    }

    [Fact]
    public async Task TheSameBytesTwice_GiveTheEarlierReceipt_AndChangeNothing()
    {
        var sheet = fixture.Claim("same-bytes");
        var fix = sheet.Fixes()[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        var returned = Edit(Scenario.Issued(sheet.File), (e, _) => Correct(e, layout, fix));
        var first = await Scenario.IngestAsync(sheet.File, returned);
        await AssertAppliedAsync(first, fix);
        var state = await Scenario.StateAsync();

        var second = await Scenario.IngestAsync(sheet.File, returned, name: "再次上传.xlsx");

        Assert.True(second.AlreadyIngested);
        Assert.Equal((first.Receipt.ReturnId, first.Receipt.Sha256, first.CheckRunId),
            (second.Receipt.ReturnId, second.Receipt.Sha256, second.CheckRunId));
        Assert.Equal(first.Receipt.Rows.Select(r => (r.ExcelRow, r.RowKey, r.Outcome)),
            second.Receipt.Rows.Select(r => (r.ExcelRow, r.RowKey, r.Outcome)));
        // Only the audit log grows: by the repeat's entry.
        Assert.Equal(state.Split(',')[..^1], (await Scenario.StateAsync()).Split(',')[..^1]);
        Assert.Equal(1L, await Scenario.ScalarAsync<long>("""
            SELECT count(*) FROM audit.event
            WHERE  action = 'worksheet.return.repeat' AND object = '再次上传.xlsx' AND (details->>'return_id')::bigint = @id
            """, ("id", first.Receipt.ReturnId)));
        Assert.Equal(2, await VersionAsync(fix.Row));
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    /// <summary>The school every refused file comes from, its first correction, and its file with the correction typed in.</summary>
    private (SchoolSheet Sheet, Fix Fix, byte[] Corrected) Refusable()
    {
        var sheet = fixture.Claim("refusals");
        var fix = sheet.Fixes()[0];
        var layout = IngestScenario.Read(Scenario.Issued(sheet.File));
        return (sheet, fix, Edit(Scenario.Issued(sheet.File), (e, _) => Correct(e, layout, fix)));
    }

    /// <summary>
    /// Ingests a file that must be refused whole: the code, nothing written but one refusal entry in the audit log
    /// (with the file's sha256 where the whole file was read), and a message in either language that names the file.
    /// </summary>
    private async Task<WorksheetRejectedException> RefusedAsync(byte[] bytes, string fileName, WorksheetRejection code,
        Account? account = null, bool sha256Known = true)
    {
        account ??= IngestScenario.AccountOf(fixture.Claim("refusals").File.SchoolCode);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var filter = sha256Known ? "details->>'sha256' = @sha" : "details->>'sha256' IS NULL AND @sha <> ''";
        var audit = $"""
            SELECT count(*) FROM audit.event
            WHERE  action = 'worksheet.return.refused' AND actor = @actor AND object = @file AND details->>'code' = @code AND {filter}
            """;
        (string, object)[] parameters = [("actor", account.Name), ("file", fileName), ("code", code.ToString()), ("sha", sha256)];
        var state = await Scenario.StateAsync();
        var audited = await Scenario.ScalarAsync<long>(audit, parameters);

        var refusal = await Assert.ThrowsAsync<WorksheetRejectedException>(
            () => Scenario.Ingest().IngestAsync(new MemoryStream(bytes), fileName, account));

        Assert.Equal(code, refusal.Code);
        Assert.Equal(state, await Scenario.StateAsync());
        Assert.Equal(audited + 1, await Scenario.ScalarAsync<long>(audit, parameters));
        Assert.Contains($"'{fileName}'", refusal.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains($"“{fileName}”", refusal.MessageIn(Chinese), StringComparison.Ordinal);
        return refusal;
    }

    private static string FileName(SchoolSheet sheet) => Path.GetFileName(sheet.File.RelativePath);

    private static string Label(WorksheetAction action) => action.Label(WorksheetLanguage.Chinese);

    private static string Header(ReturnedWorkbook layout, string marker) => layout.Meta.Columns.Single(c => c.Marker == marker).Header;

    private static int Row(ReturnedWorkbook layout, string rowKey) => layout.Rows.Single(r => r.RowKey == rowKey).ExcelRow;

    private static ReceiptRow Line(IngestResult result, string rowKey) => Assert.Single(result.Receipt.Rows, r => r.RowKey == rowKey);

    private static IReadOnlyList<string> AssertRejected(IngestResult result, string rowKey)
    {
        var line = Line(result, rowKey);
        Assert.Equal(ReceiptOutcome.Rejected, line.Outcome);
        Assert.Empty(line.Changes);
        return line.Reasons;
    }

    private static byte[] Edit(byte[] issued, Action<RegistrarEdits, ReturnedWorkbook> edit)
    {
        var layout = IngestScenario.Read(issued);
        using var edits = new RegistrarEdits(issued, layout.Meta.Language);
        edit(edits, layout);
        return edits.Save();
    }

    /// <summary>Types the correction where the issued file has its row, and chooses the corrected action.</summary>
    private static void Correct(RegistrarEdits e, ReturnedWorkbook layout, Fix fix, WorksheetLanguage language = WorksheetLanguage.Chinese)
    {
        var row = Row(layout, fix.Row.RowKey);
        e.Type(row, layout.ColumnNumbers[fix.Marker], fix.Value)
            .Type(row, layout.ColumnNumbers["action"], WorksheetAction.Corrected.Label(language));
    }

    private static void Confirm(RegistrarEdits e, ReturnedWorkbook layout, string rowKey, string explanation)
    {
        var row = Row(layout, rowKey);
        e.Type(row, layout.ColumnNumbers["action"], Label(WorksheetAction.Confirmed))
            .Type(row, layout.ColumnNumbers["explanation"], explanation);
    }

    /// <summary>Types text into a cell of any sheet (an inline string).</summary>
    private static void TypeInto(RegistrarEdits e, string sheet, int row, int column, string text)
    {
        var cell = e.Cell(sheet, row, column);
        cell.RemoveAllChildren();
        cell.DataType = CellValues.InlineString;
        cell.AppendChild(new InlineString(new XText(text) { Space = SpaceProcessingModeValues.Preserve }));
    }

    /// <summary>The records of <c>_meta</c>: each row's Excel number and its texts in columns A to D.</summary>
    private static List<(int Row, string[] Record)> MetaRecords(byte[] bytes)
    {
        using var workbook = new OpenXmlWorkbook(bytes);
        return workbook.Cells(WorksheetMeta.SheetName).Values.Select(c => c.Row).Distinct().Order()
            .Select(r => (r, Enumerable.Range(1, 4).Select(c => workbook.Text(WorksheetMeta.SheetName, r, c)).ToArray()))
            .ToList();
    }

    /// <summary>Adds merged ranges to the problems sheet, where ECMA-376 (18.3.1.99, CT_Worksheet) puts them.</summary>
    private static void Merge(RegistrarEdits e, params string[] ranges)
    {
        var worksheet = e.Data(e.ProblemsSheet).Parent as Worksheet ?? throw new InvalidOperationException("No worksheet.");
        var merged = worksheet.GetFirstChild<MergeCells>();
        if (merged is null)
        {
            merged = new MergeCells();
            OpenXmlElement after = worksheet.GetFirstChild<SheetData>()!;
            foreach (var element in worksheet.ChildElements)
            {
                if (element is SheetCalculationProperties or SheetProtection or ProtectedRanges or Scenarios or AutoFilter or SortState
                    or DataConsolidate or CustomSheetViews)
                {
                    after = element;
                }
            }

            after.InsertAfterSelf(merged);
        }

        foreach (var range in ranges)
        {
            merged.AppendChild(new MergeCell { Reference = range });
        }

        merged.Count = (uint)merged.ChildElements.Count;
    }

    /// <summary>The package with an entry of zeros added, streamed in so that the test never holds them.</summary>
    private static byte[] WithZeros(byte[] bytes, string name, long length)
    {
        using var stream = new MemoryStream();
        stream.Write(bytes);
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Update, leaveOpen: true))
        {
            using var entry = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
            var zeros = new byte[1024 * 1024];
            for (long written = 0; written < length; written += zeros.Length)
            {
                entry.Write(zeros, 0, (int)Math.Min(zeros.Length, length - written));
            }
        }

        return stream.ToArray();
    }

    private async Task<(IssuedFile File, byte[] Bytes)> IssueAgainAsync(SchoolSheet sheet, string folder, WorksheetLanguage language)
    {
        var directory = Path.Combine(fixture.Folder, "again", folder);
        var files = await new WorksheetIssuer(Scenario.DataSource, IngestScenario.Key).IssueAsync(
            new WorksheetRequest(Scenario.Round, directory, "test") { School = sheet.File.SchoolCode, Language = language });
        var file = Assert.Single(files);
        return (file, await File.ReadAllBytesAsync(Path.Combine(directory, file.RelativePath)));
    }

    private Task SetRoundStatusAsync(string status) =>
        Scenario.ScalarAsync<object>("UPDATE registry.round SET status = @status WHERE code = @round RETURNING status", ("status", status),
            ("round", Scenario.Round));

    /// <summary>The rows of a table that belong to this round (the cases run one by one: a difference is the case's own).</summary>
    private Task<long> CountAsync(string table) =>
        table is "exchange.correction" or "registry.record_version"
            ? Scenario.ScalarAsync<long>($"""
                SELECT count(*) FROM {table} t JOIN registry.round r ON r.round_id = t.round_id WHERE r.code = @round
                """, ("round", Scenario.Round))
            : throw new ArgumentOutOfRangeException(nameof(table), table, "Not a table counted by round here.");

    private Task<string?> CurrentValueAsync(long recordId, string field) =>
        field is "guardian_phone" or "birth_date" or "id_number" or "address" or "guardian_name"
            ? Scenario.ScalarAsync<string?>($"""
                SELECT c.{field}_raw FROM registry.current_record c JOIN registry.round r ON r.round_id = c.round_id
                WHERE  r.code = @round AND c.record_id = @id
                """, ("round", Scenario.Round), ("id", recordId))
            : throw new ArgumentOutOfRangeException(nameof(field), field, "Not a field read back here.");

    /// <summary>
    /// The row's correction was applied: the receipt says so (clean, where the fix was the real one), with the value,
    /// at the Excel row the file had it; the record's new version holds the value.
    /// </summary>
    private async Task AssertAppliedAsync(IngestResult result, Fix fix, int? excelRow = null)
    {
        var line = Line(result, fix.Row.RowKey);
        if (fix.Clean)
        {
            Assert.Equal(ReceiptOutcome.AppliedClean, line.Outcome);
        }
        else
        {
            Assert.Contains(line.Outcome, new[] { ReceiptOutcome.AppliedClean, ReceiptOutcome.AppliedStillFailing });
        }

        Assert.Equal(excelRow ?? fix.Row.ExcelRow, line.ExcelRow);
        var change = Assert.Single(line.Changes);
        Assert.Equal((fix.Field, fix.Value), (change.Field, change.NewValue));
        Assert.Equal(fix.Value, await CurrentValueAsync(fix.Row.RecordId, fix.Field));
        Assert.Equal(2, await VersionAsync(fix.Row));
    }

    private Task<int> VersionAsync(SheetRow row) =>
        Scenario.ScalarAsync<int>("SELECT version FROM registry.current_record WHERE record_id = @id", ("id", row.RecordId));

    /// <summary>
    /// Nothing of the rows was taken: each record has its first version only (record ids are unique across rounds), and
    /// this round has no correction or explanation of it.
    /// </summary>
    private async Task AssertNotTakenAsync(params SheetRow[] rows)
    {
        foreach (var row in rows)
        {
            Assert.Equal("1|0|0", await Scenario.ScalarAsync<string>("""
                SELECT concat_ws('|', (SELECT count(*) FROM registry.record_version v WHERE v.record_id = @id),
                                      (SELECT count(*) FROM exchange.correction c WHERE c.round_id = r.round_id AND c.record_id = @id),
                                      (SELECT count(*) FROM exchange.explanation x WHERE x.round_id = r.round_id AND x.record_id = @id))
                FROM   registry.round r WHERE r.code = @round
                """, ("round", Scenario.Round), ("id", row.RecordId)));
        }
    }
}
