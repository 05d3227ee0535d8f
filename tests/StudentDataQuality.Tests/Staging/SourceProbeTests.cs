using System.Text;
using StudentDataQuality.Data.Sources;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Staging;

public sealed class SourceProbeTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Chinese text over several read buffers: characters are cut at every possible byte of a buffer edge.</summary>
    private static byte[] LargeChineseCsv(int rows) =>
        Encoding.UTF8.GetBytes(SampleExport.Csv(
            [SampleExport.ChineseHeaders(), .. Enumerable.Range(0, rows).Select(i => SampleExport.Student(("address", $"黑龙江省哈尔滨市道里区{i}号")))]));

    [Fact]
    public void Probe_FindsUtf8_InAFileLargerThanItsReadBuffer()
    {
        var bytes = LargeChineseCsv(20_000);
        Assert.True(bytes.Length > 2 << 20);
        var path = _temp.File("big.csv");
        File.WriteAllBytes(path, bytes);

        var probe = SourceProbe.Probe(path);

        Assert.Equal("csv", probe.Kind);
        Assert.Equal(65001, probe.TextEncoding!.CodePage);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant(), probe.Sha256);
        Assert.True(probe.EndsWithLineBreak);
    }

    [Fact]
    public void Probe_ReportsTheByteWhereDecodingBroke_PastTheFirstBuffer()
    {
        var good = LargeChineseCsv(6_000);
        var at = good.Length;
        byte[] bytes = [.. good, 0xFF, 0xFE, 0xFD, (byte)'\r', (byte)'\n'];
        var path = _temp.File("broken.csv");
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<UserErrorException>(() => SourceProbe.Probe(path));

        Assert.Contains($"breaks at byte {at + 1}, line 6002", error.Message);
    }

    [Fact]
    public void Probe_FindsGb18030_WhenTheTextIsNotUtf8()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var path = _temp.File("gb.csv");
        File.WriteAllBytes(path, Encoding.GetEncoding(54936).GetBytes(SampleExport.Csv([SampleExport.ChineseHeaders(), SampleExport.Student()])));

        Assert.Equal(54936, SourceProbe.Probe(path).TextEncoding!.CodePage);
    }
}
