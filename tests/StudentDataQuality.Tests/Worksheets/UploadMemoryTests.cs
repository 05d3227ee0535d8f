using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;
using Xunit.Abstractions;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// A returned worksheet is read in bounded memory (docs/security.md, "Uploads bounded in memory"). Each upload goes
/// through the real ingest in a process of its own, <c>sdq ingest --as</c> the school's account against the test database,
/// and the peak resident set of that process (VmHWM, which the kernel keeps as a high-water mark) is what is measured.
/// </summary>
[Trait("Category", "Security")]
public sealed class UploadMemoryTests(DamagedReturnFixture fixture, ITestOutputHelper log) : IClassFixture<DamagedReturnFixture>
{
    /// <summary>The bound of issue 16 for one upload, the whole process included.</summary>
    private const long PeakLimitBytes = 200L * 1024 * 1024;

    private IngestScenario Scenario => fixture.Scenario;

    [Fact]
    public async Task AFileOfTwoMegabytes_WhoseSheetUnpacksToAFewHundred_IsRefusedWithAClearMessage_InBoundedMemory()
    {
        // Formatted empty cells, with a style that changes now and then: about 200 MB of sheet XML that packs 120 to 1,
        // which is how a bomb passes a limit on the packing ratio.
        var (sheet, returned) = Padded(Correctable(0), 200_000_000);
        Assert.InRange(returned.Length, 1024 * 1024, 2 * 1024 * 1024);
        var state = await Scenario.StateAsync();

        var run = await IngestInAProcessAsync(sheet, returned);

        Assert.True(run.PeakBytes < PeakLimitBytes, $"The upload took {Megabytes(run.PeakBytes)} at its peak:\n{run.Output}");
        Assert.True(run.ExitCode == 2, $"Exit code {run.ExitCode}:\n{run.Output}");
        Assert.Contains("refused", run.Output, StringComparison.Ordinal);
        Assert.Contains("unpacks to too much data or is packed abnormally", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output, StringComparison.Ordinal);
        Assert.Equal(state, await Scenario.StateAsync());
    }

    [Fact]
    public async Task TheLargestSheetTheLimitsLetThrough_IsReadAndTaken_InBoundedMemory()
    {
        // 23.5 million characters of formatted empty cells below the rows: a sheet just inside the limits (24 million), read to the end.
        var (sheet, returned) = Padded(Correctable(1), 23_500_000);

        var run = await IngestInAProcessAsync(sheet, returned);

        Assert.True(run.PeakBytes < PeakLimitBytes, $"The upload took {Megabytes(run.PeakBytes)} at its peak:\n{run.Output}");
        Assert.True(run.ExitCode == 0, $"Exit code {run.ExitCode}:\n{run.Output}");
        Assert.Contains($"school {sheet.File.SchoolCode}: ", run.Output, StringComparison.Ordinal);
        Assert.Contains(" 0 not taken", run.Output, StringComparison.Ordinal);
        Assert.Equal(1L, await Scenario.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.worksheet_return WHERE school_code = @school", ("school", sheet.File.SchoolCode)));
    }

    /// <summary>The n-th school whose worksheet has a row to correct (a school of its own for each case of this class).</summary>
    private SchoolSheet Correctable(int n) => fixture.Sheets.Where(s => s.Fixes().Count > 0).OrderBy(s => s.File.SchoolCode, StringComparer.Ordinal).ElementAt(n);

    [Theory]
    [InlineData("manager")]
    [InlineData("school without a worksheet")]
    public async Task AnAccountThatCannotReturnWorksheets_IsRefusedBeforeAnythingOfTheFileIsRead(string kind)
    {
        // The bytes are no workbook at all: had they been read, the refusal would say so (NotXlsx).
        var account = kind == "manager"
            ? new StudentDataQuality.Data.Exchange.Account("manager-1", StudentDataQuality.Data.Exchange.AccountRole.Manager)
            : IngestScenario.AccountOf("2199999999");
        var state = await Scenario.StateAsync();

        var refusal = await Assert.ThrowsAsync<WorksheetRejectedException>(
            () => Scenario.Ingest().IngestAsync(new MemoryStream("not a workbook"u8.ToArray()), "问题清单.xlsx", account));

        Assert.Equal(WorksheetRejection.NotPermitted, refusal.Code);
        Assert.Contains("this account cannot return worksheets", refusal.MessageIn(WorksheetLanguage.English), StringComparison.Ordinal);
        Assert.Contains("此账户不能上传问题清单", refusal.MessageIn(WorksheetLanguage.Chinese), StringComparison.Ordinal);
        Assert.Equal(state, await Scenario.StateAsync());
    }

    [Fact]
    public async Task AnotherSchoolsWorksheet_IsRefusedByItsMeta_BeforeItsRowsAreRead()
    {
        // The problems sheet lost its action header: read to its rows, the file would be refused for the missing column.
        var (sheet, other) = (Correctable(2), Correctable(3));
        var issued = Scenario.Issued(sheet.File);
        var layout = IngestScenario.Read(issued);
        byte[] returned;
        using (var edits = new RegistrarEdits(issued, layout.Meta.Language))
        {
            returned = edits.Type(layout.HeaderRow, layout.ColumnNumbers["action"], "处理").Save();
        }

        var refusal = await Assert.ThrowsAsync<WorksheetRejectedException>(() => Scenario.Ingest().IngestAsync(new MemoryStream(returned),
            Path.GetFileName(sheet.File.RelativePath), IngestScenario.AccountOf(other.File.SchoolCode)));

        Assert.Equal(WorksheetRejection.OtherSchool, refusal.Code);
        Assert.Contains($"school {sheet.File.SchoolCode}, not of your school", refusal.MessageIn(WorksheetLanguage.English), StringComparison.Ordinal);
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.#} MB");

    /// <summary>The school's worksheet with its first correction typed in, and its problems sheet padded with that many characters of formatted empty rows.</summary>
    private (SchoolSheet Sheet, byte[] Bytes) Padded(SchoolSheet sheet, long characters)
    {
        var fix = sheet.Fixes()[0];
        var issued = Scenario.Issued(sheet.File);
        var layout = IngestScenario.Read(issued);
        byte[] corrected;
        using (var edits = new RegistrarEdits(issued, layout.Meta.Language))
        {
            var row = layout.Rows.Single(r => r.RowKey == fix.Row.RowKey).ExcelRow;
            edits.Type(row, layout.ColumnNumbers[fix.Marker], fix.Value)
                .Type(row, layout.ColumnNumbers["action"], WorksheetAction.Corrected.Label(layout.Meta.Language));
            corrected = edits.Save();
        }

        string part;
        using (var document = SpreadsheetDocument.Open(new MemoryStream(corrected), false))
        {
            var workbook = document.WorkbookPart!;
            var problems = workbook.Workbook.Sheets!.Elements<Sheet>().Single(s => s.Name == layout.ProblemsSheet);
            part = workbook.GetPartById(problems.Id!).Uri.OriginalString.TrimStart('/');
        }

        return (sheet, WithPaddedSheet(corrected, part, characters));
    }

    /// <summary>The package again, the sheet's rows followed by formatted empty rows, streamed in so that the test never holds them.</summary>
    private static byte[] WithPaddedSheet(byte[] package, string part, long characters)
    {
        using var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(package), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using var from = entry.Open();
                using var to = target.CreateEntry(entry.FullName, CompressionLevel.Optimal).Open();
                if (entry.FullName != part)
                {
                    from.CopyTo(to);
                    continue;
                }

                var xml = new StreamReader(from, Encoding.UTF8).ReadToEnd();
                // The SDK that saved the edits may have written the spreadsheet namespace with a prefix (x:sheetData).
                var close = System.Text.RegularExpressions.Regex.Match(xml, "</([A-Za-z0-9]+:)?sheetData>");
                Assert.True(close.Success, "the problems sheet has rows");
                var (end, x) = (close.Index, close.Groups[1].Value);
                using var writer = new StreamWriter(to, new UTF8Encoding(false), 1 << 16);
                writer.Write(xml.AsSpan(0, end));
                var random = new Random(16);
                var row = new StringBuilder();
                var cells = 0L;
                for (long written = 0; written < characters; written += row.Length)
                {
                    row.Clear().Append('<').Append(x).Append("row>");
                    for (var c = 0; c < 16; c++, cells++)
                    {
                        row.Append('<').Append(x).Append("c s=\"").Append(cells % 160 == 0 ? random.Next(10) : 1).Append("\"/>");
                    }

                    writer.Write(row.Append("</").Append(x).Append("row>"));
                }

                writer.Write(xml.AsSpan(end));
            }
        }

        return output.ToArray();
    }

    private sealed record Run(int ExitCode, string Output, long PeakBytes);

    /// <summary>
    /// <c>sdq ingest</c> of the file as the school's account, in a process of its own; its VmHWM read every few
    /// milliseconds until it ends. The high-water mark only grows, so the last reading is the peak of the whole run up to a
    /// few milliseconds before the process ended (its reading of the file is long over by then). The managed heap is capped
    /// at 1 GB only to spare the machine when the reading is not bounded.
    /// </summary>
    private async Task<Run> IngestInAProcessAsync(SchoolSheet sheet, byte[] bytes)
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, Path.GetFileName(sheet.File.RelativePath));
        await File.WriteAllBytesAsync(path, bytes);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { WorkerProcess.SdqAssembly(), "ingest", path, "--as", IngestScenario.SchoolAccount(sheet.File.SchoolCode),
                     "--receipts", Path.Combine(folder.Path, "receipts") })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SDQ_DB"] = fixture.ConnectionString;
        info.Environment["SDQ_SIGNING_KEY"] = Convert.ToBase64String(IngestScenario.Key.Key);
        info.Environment["SDQ_DATA_DIR"] = folder.Path;
        info.Environment["DOTNET_GCHeapHardLimit"] = "0x40000000";
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        var status = $"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/status";
        long peak = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (!process.HasExited && !timeout.IsCancellationRequested)
        {
            peak = Math.Max(peak, HighWaterMark(status));
            await Task.Delay(5);
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        log.WriteLine($"{Megabytes(bytes.Length)} file: exit {process.ExitCode}, peak {Megabytes(peak)}");
        // The console wraps lines at 80 columns when it writes to a pipe: one line of words again.
        var text = System.Text.RegularExpressions.Regex.Replace(await output + await errors, @"\s*\n\s*", " ");
        return new Run(process.ExitCode, text, peak);
    }

    /// <summary>VmHWM of /proc/[pid]/status in bytes; 0 once the process has gone.</summary>
    private static long HighWaterMark(string status)
    {
        try
        {
            foreach (var line in File.ReadLines(status))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended between two readings.
        }

        return 0;
    }
}
