using System.Globalization;
using System.Text.RegularExpressions;
using StudentDataQuality.Cli;
using StudentDataQuality.Jobs;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Core;

/// <summary>
/// User errors are codes with arguments, told in the reader's language: the arguments in both languages, no option of the
/// command line in what the portal may show, the command line's own wording where it names one, the jobs' records in English.
/// </summary>
public sealed partial class UserMessageTests
{
    private static readonly CultureInfo Chinese = CultureInfo.GetCultureInfo("zh-CN");
    private static readonly CultureInfo English = CultureInfo.GetCultureInfo("en");

    /// <summary>The messages' files the portal never shows (the command line's, and the embedded database's, which only it starts).</summary>
    private static readonly string[] CommandLineOnly = ["CliMessages", "DatabaseMessages"];

    [Fact]
    public void AMessageWithArguments_TellsThemInBothLanguages()
    {
        var message = new UserMessage("Source.CsvCutOffShortRow", "short.csv", 3, 2, 15);

        var chinese = message.Render(Chinese);
        var english = message.Render(English);

        Assert.Equal("short.csv: the file looks cut off at row 3: its last row has 2 of 15 columns and no line end. Nothing was staged; copy or export the file again.",
            english);
        Assert.StartsWith("short.csv：", chinese, StringComparison.Ordinal);
        Assert.Contains("第 3 行", chinese, StringComparison.Ordinal);
        Assert.Contains("只有 2 列（应为 15 列）", chinese, StringComparison.Ordinal);
        Assert.DoesNotMatch(LatinWord(), chinese.Replace("short.csv", "", StringComparison.Ordinal));
    }

    [Fact]
    public void AUserError_IsToldInTheThreadsLanguage_AndInEitherOnRequest()
    {
        var error = new UserErrorException(new UserMessage("Staging.NoSuchPath", "/srv/export/2026.csv"));
        var before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = Chinese;
            Assert.Equal("/srv/export/2026.csv：文件或文件夹不存在。", error.Message);
            CultureInfo.CurrentUICulture = English;
            Assert.Equal("/srv/export/2026.csv: no such file or folder.", error.Message);
            Assert.Equal("/srv/export/2026.csv：文件或文件夹不存在。", error.MessageIn(Chinese));
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    [Fact]
    public void EveryChineseMessage_IsWrittenInChinese()
    {
        var notChinese = UserMessage.Codes("zh-CN").SelectMany(f => f.Codes)
            .Where(code => !Cjk().IsMatch(Stripped(new UserMessage(code).Render(Chinese))))
            .ToList();
        Assert.Empty(notChinese);
    }

    /// <summary>
    /// What the portal may show (every file of messages but the command line's) names no option of the command line and no
    /// command: a registrar or the data team in the portal cannot type `--round-date`. The refusals of a returned worksheet
    /// (the worksheet's own texts) neither.
    /// </summary>
    [Fact]
    public void NoMessageThePortalMayShow_NamesAnOptionOrACommand()
    {
        var portal = UserMessage.Codes("zh-CN").Where(f => !CommandLineOnly.Any(c => f.File.EndsWith(c, StringComparison.Ordinal)))
            .SelectMany(f => f.Codes).ToList();
        Assert.Contains("Account.NotFound", portal);
        Assert.Contains("Staging.RoundDateDiffers", portal);
        var texts = portal.SelectMany(code => new[] { Chinese, English }.Select(c => (code, Text: Placeholders().Replace(new UserMessage(code).Render(c), "x"))))
            .Concat(new[] { WorksheetLanguage.Chinese, WorksheetLanguage.English }.SelectMany(language => WorksheetText.Keys(language)
                .Where(k => k.StartsWith("Reject", StringComparison.Ordinal) || k.StartsWith("Detail", StringComparison.Ordinal))
                .Select(k => (code: k, Text: WorksheetText.Get(k, language)))))
            .ToList();
        Assert.True(texts.Count > 100, $"only {texts.Count} texts read");
        Assert.Empty(texts.Where(t => CommandLine().IsMatch(t.Text)).Select(t => $"{t.code}: {t.Text}"));
    }

    [Fact]
    public void TheCommandLine_TellsItsOwnWording_WhereAMessageHasOne()
    {
        var error = new UserErrorException(new UserMessage("Staging.RoundDateDiffers", "2026-autumn", "2026-10-15", "2026-10-16"));

        Assert.DoesNotContain("--round-date", error.MessageIn(English), StringComparison.Ordinal);
        Assert.Contains("Leave out --round-date", CliLanguage.MessageOf(error), StringComparison.Ordinal);
        Assert.Contains("2026-10-15", CliLanguage.MessageOf(error), StringComparison.Ordinal);
        // A message without a wording of its own is told as it is.
        var plain = new UserErrorException(new UserMessage("Staging.NoExportGiven"));
        Assert.Equal(plain.Message, CliLanguage.MessageOf(plain));
    }

    [Theory]
    [InlineData("zh-CN", null, null, "zh-CN")]
    [InlineData("en", null, "zh_CN.UTF-8", "en")]
    [InlineData(null, null, "zh_CN.UTF-8", "zh-CN")]
    [InlineData(null, "zh_TW.UTF-8", "en_US.UTF-8", "zh-CN")]
    [InlineData(null, "C.UTF-8", "zh_CN.UTF-8", "en")]
    [InlineData(null, null, "C.UTF-8", "en")]
    [InlineData(null, null, null, "en")]
    public void TheCommandLine_SpeaksTheLanguageOfItsSetting_ElseOfItsLocale_ElseEnglish(string? setting, string? lcAll, string? lang, string expected)
    {
        var environment = new Dictionary<string, string?> { ["LC_ALL"] = lcAll, ["LANG"] = lang };

        var culture = CliLanguage.Choose(setting, name => environment.GetValueOrDefault(name));

        Assert.Equal(expected, culture?.Name);
    }

    [Fact]
    public void TheCommandLine_RefusesALanguageItDoesNotSpeak()
    {
        Assert.Null(CliLanguage.Choose("fr", _ => null));
        Assert.Contains("fr", new UserMessage("Cli.LanguageUnknown", "fr").Render(English), StringComparison.Ordinal);
    }

    [Fact]
    public void TheJobs_RecordAUserError_InEnglish_WhateverTheCallersLanguage()
    {
        var before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = Chinese;
            var error = new UserErrorException(new UserMessage("RoundRun.SourceMissing", "/srv/none"));
            var refusal = WorksheetRejectedException.Explained(WorksheetRejection.NotPermitted, "a.xlsx", null, null, "Manager");

            Assert.Contains("既不是文件也不是文件夹", error.Message, StringComparison.Ordinal);
            Assert.Equal("The source '/srv/none' is neither a file nor a folder. Give the registry export files or folders of the round.", JobsInEnglish.MessageOf(error));
            Assert.Contains("管理人员账户只能查看汇总数据", refusal.Message, StringComparison.Ordinal);
            Assert.Contains("a manager's account sees aggregates only", JobsInEnglish.MessageOf(refusal), StringComparison.Ordinal);
            Assert.Equal("a manager's account sees aggregates only", refusal.Detail);
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    private static string Stripped(string text) => Placeholders().Replace(text, "");

    [GeneratedRegex(@"\{\d+\}")]
    private static partial Regex Placeholders();

    [GeneratedRegex(@"\p{IsCJKUnifiedIdeographs}")]
    private static partial Regex Cjk();

    [GeneratedRegex(@"[A-Za-z]{3,}")]
    private static partial Regex LatinWord();

    /// <summary>An option (--round-date, -o) or a command of the program (sdq …).</summary>
    [GeneratedRegex(@"(^|[\s(（`'""“])--?[a-z]|\bsdq\s+[a-z]")]
    private static partial Regex CommandLine();
}
