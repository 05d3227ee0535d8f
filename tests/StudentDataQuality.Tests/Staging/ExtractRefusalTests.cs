using System.IO.Compression;
using System.Text;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Staging;

/// <summary>Bad input gets one clear message and stages nothing.</summary>
public sealed class ExtractRefusalTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task<string> RefusedAsync(params string[] paths)
    {
        var round = "r" + Guid.NewGuid().ToString("N")[..10];
        var before = await db.StateCountsAsync();
        var error = await Assert.ThrowsAsync<UserErrorException>(() =>
            new ExtractService(db.DataSource).ExtractFilesAsync(new ExtractRequest(round, "test") { RoundDate = new(2026, 10, 15) }, paths));
        Assert.Equal(before, await db.StateCountsAsync());
        return error.Message;
    }

    private string Bytes(string name, byte[] content)
    {
        var path = _temp.File(name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public async Task Extract_Refuses_MissingRequiredColumns_NamingThem()
    {
        var headers = SampleExport.ChineseHeaders().Where(h => h is not ("出生日期" or "民族")).ToArray();
        var row = SampleExport.Student().Where((_, i) => Layouts.Student.Fields[i].Name is not ("birth_date" or "ethnicity")).ToArray();
        var path = SampleExport.WriteCsv(_temp.Path, "students.csv", [headers, row]);

        var message = await RefusedAsync(path);

        Assert.Contains("students.csv", message);
        Assert.Contains("出生日期", message);
        Assert.Contains("民族", message);
        Assert.Contains("missing", message);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF })]
    public async Task Extract_Refuses_AnEmptyFile(byte[] content)
    {
        var message = await RefusedAsync(Bytes("empty.csv", content));

        Assert.Contains("empty.csv: the file is empty", message);
    }

    [Fact]
    public async Task Extract_Refuses_AHeaderOnlyOrUnrecognisedFile()
    {
        var path = SampleExport.WriteCsv(_temp.Path, "other.csv", [["订单号", "金额"], ["1", "2"]]);

        var message = await RefusedAsync(path);

        Assert.Contains("does not look like a registry export", message);
    }

    [Fact]
    public async Task Extract_Refuses_AnOldXlsWorkbook()
    {
        var message = await RefusedAsync(Bytes("students.xlsx", [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0]));

        Assert.Contains("Excel 97", message);
        Assert.Contains("save it as .xlsx", message);
    }

    [Fact]
    public async Task Extract_Refuses_BinaryAndPdfFiles()
    {
        Assert.Contains("%PDF".Length > 0 ? "PDF" : "", await RefusedAsync(Bytes("students.csv", Encoding.ASCII.GetBytes("%PDF-1.7\n..."))));
        Assert.Contains("binary data", await RefusedAsync(Bytes("photo.csv", [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0x0D])));
    }

    [Fact]
    public async Task Extract_Refuses_AZipThatIsNotAWorkbook_AndAMacroWorkbook()
    {
        var zipPath = _temp.File("archive.xlsx");
        using (var zip = ZipFile.Open(zipPath, ZipArchiveMode.Create))
        {
            zip.CreateEntry("readme.txt");
        }

        Assert.Contains("not an Excel workbook", await RefusedAsync(zipPath));

        var macroPath = _temp.File("macro.xlsx");
        using (var zip = ZipFile.Open(macroPath, ZipArchiveMode.Create))
        {
            zip.CreateEntry("xl/workbook.xml");
            zip.CreateEntry("xl/vbaProject.bin");
        }

        Assert.Contains("macros", await RefusedAsync(macroPath));
    }

    [Fact]
    public async Task Extract_Refuses_ATruncatedWorkbook()
    {
        var full = _temp.File("full.xlsx");
        using (var zip = ZipFile.Open(full, ZipArchiveMode.Create))
        {
            using var writer = new StreamWriter(zip.CreateEntry("xl/workbook.xml").Open());
            writer.Write(new string('x', 5000));
        }

        var bytes = File.ReadAllBytes(full);
        var message = await RefusedAsync(Bytes("cut.xlsx", bytes[..(bytes.Length / 2)]));

        Assert.Contains("cut.xlsx: the workbook is damaged or truncated", message);
    }

    [Fact]
    public async Task Extract_Refuses_ACsvCutOffInsideAQuotedField()
    {
        var text = SampleExport.Csv([SampleExport.ChineseHeaders(), SampleExport.Student(), SampleExport.Student()]);
        var cut = text[..(text.LastIndexOf("黑龙江", StringComparison.Ordinal) + 2)];
        var headerAndRows = cut[..cut.LastIndexOf(',')] + ",\"黑龙江省哈尔";
        var path = _temp.File("cut.csv");
        File.WriteAllText(path, headerAndRows, new UTF8Encoding(false));

        var message = await RefusedAsync(path);

        Assert.Contains("cut.csv: the file looks cut off at row 3", message);
        Assert.Contains("quoted field", message);
    }

    [Fact]
    public async Task Extract_Refuses_ACsvWhoseLastRowIsShortWithoutLineEnd()
    {
        var text = SampleExport.Csv([SampleExport.ChineseHeaders(), SampleExport.Student(), SampleExport.Student()]);
        var path = _temp.File("short.csv");
        File.WriteAllText(path, text[..(text.Length - 60)], new UTF8Encoding(false));

        var message = await RefusedAsync(path);

        Assert.Contains("short.csv: the file looks cut off at row 3", message);
        Assert.Contains("no line end", message);
    }

    [Fact]
    public async Task Extract_Refuses_AnUndecodableFile_SayingWhereItBroke()
    {
        var good = Encoding.UTF8.GetBytes(SampleExport.Csv([SampleExport.ChineseHeaders(), SampleExport.Student()]));
        // 0x80 cannot start a character in UTF-8, and 0xFF 0xFF is not a GB18030 sequence either.
        byte[] bytes = [.. good, .. "王"u8.ToArray(), 0xFF, 0xFF, 0x80, (byte)'\r', (byte)'\n'];

        var message = await RefusedAsync(Bytes("broken.csv", bytes));

        Assert.Contains("broken.csv", message);
        Assert.Contains("cannot be decoded as UTF-8", message);
        Assert.Contains($"byte {good.Length + 4}", message);
        Assert.Contains("line 3", message);
    }

    [Fact]
    public async Task Extract_OfSeveralFiles_OneBad_StagesNoneOfThem()
    {
        var folder = Path.Combine(_temp.Path, "export");
        SampleExport.WriteCsv(folder, "a.csv", [SampleExport.ChineseHeaders(), SampleExport.Student()]);
        SampleExport.WriteCsv(folder, "b.csv", [SampleExport.ChineseHeaders().Skip(1).ToArray(), SampleExport.Student().Skip(1).ToArray()]);

        var message = await RefusedAsync(folder);

        Assert.Contains("b.csv: required column missing: 全国学籍号", message);
    }

    [Fact]
    public async Task Extract_Refuses_AFolderWithoutExports_AndAMissingPath()
    {
        Directory.CreateDirectory(Path.Combine(_temp.Path, "nothing"));
        Assert.Contains("holds no export files", await RefusedAsync(Path.Combine(_temp.Path, "nothing")));
        Assert.Contains("no such file or folder", await RefusedAsync(Path.Combine(_temp.Path, "missing.csv")));
    }
}
