using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Cli;

/// <summary>
/// The command line tells its errors in its reader's language, as a process: English by default (no setting, a C locale),
/// Chinese when its setting (Cli:Language, or SDQ_LANGUAGE) says zh-CN; with the wording that names its options.
/// </summary>
public sealed class CliLanguageTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task AnOptionRefused_IsToldInEnglish_ByDefault_AndInChinese_WhenTheSettingSaysSo()
    {
        string[] start = ["round", "start", "2026-autumn", "--source", "/nonexistent", "--round-date", "2026-13-45", "--no-follow"];

        var (englishExit, english) = await SdqProcess.RunAsync(db.ConnectionString, null, start);
        var (chineseExit, chinese) = await SdqProcess.RunAsync(db.ConnectionString, new Dictionary<string, string> { ["Cli:Language"] = "zh-CN" }, start);

        Assert.Equal(2, englishExit);
        Assert.Contains("Error: --round-date must be YYYY-MM-DD, not '2026-13-45'.", english, StringComparison.Ordinal);
        Assert.Equal(2, chineseExit);
        Assert.Contains("错误： --round-date 必须写成 YYYY-MM-DD，不能是“2026-13-45”。", chinese, StringComparison.Ordinal);
        Assert.DoesNotContain("Error", chinese, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMessageOfTheData_IsToldWithTheCommandsToUse_InTheReadersLanguage()
    {
        var (englishExit, english) = await SdqProcess.RunAsync(db.ConnectionString, null, "user", "reset", "nobody-here");
        var (chineseExit, chinese) = await SdqProcess.RunAsync(db.ConnectionString, new Dictionary<string, string> { ["Cli:Language"] = "zh-CN" },
            "user", "reset", "nobody-here");

        Assert.Equal(2, englishExit);
        Assert.Contains("There is no account 'nobody-here'. List the accounts with 'sdq user list'", english, StringComparison.Ordinal);
        Assert.Equal(2, chineseExit);
        Assert.Contains("没有名为“nobody-here”的账号。用 'sdq user list' 查看现有账号", chinese, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALanguageItDoesNotSpeak_IsRefused_InEnglish()
    {
        var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, new Dictionary<string, string> { ["Cli:Language"] = "fr" }, "db", "url");

        Assert.Equal(2, exit);
        Assert.Contains("Error: The language setting (SDQ_LANGUAGE or Cli:Language) is 'fr': write zh-CN or en.", output, StringComparison.Ordinal);
    }
}
