using System.ComponentModel;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Help;

namespace StudentDataQuality.Cli.Commands;

public sealed class CheckSettings : SdqSettings
{
    [CommandOption("-r|--round <ROUND>")]
    [Description("The round to check.")]
    public string Round { get; init; } = "";

    public override ValidationResult Validate() =>
        string.IsNullOrWhiteSpace(Round) ? ValidationResult.Error("Give the round with --round, e.g. --round 2026-autumn.") : ValidationResult.Success();
}

/// <summary>Runs the whole rule catalogue over a round and prints what it found.</summary>
public sealed class CheckCommand : AsyncCommand<CheckSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, CheckSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        await RunAsync(dataSource, settings.Round, cancellationToken);
        return 0;
    }

    public static async Task RunAsync(NpgsqlDataSource dataSource, string round, CancellationToken cancellationToken)
    {
        var runner = new CheckRunner(dataSource, SdqEnvironment.LoggerFactory.CreateLogger<CheckRunner>(), Hosting.JobHost.Checks(SdqEnvironment.Configuration));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await runner.RunAsync(round, SdqEnvironment.Actor, cancellationToken: cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"Checked round [bold]{round}[/] with {result.FindingsByRule.Count} rules in {watch.Elapsed.TotalSeconds:F1} s (check run #{result.RunId}).");
        await PrintAsync(dataSource, result.Round.RoundId, cancellationToken);
    }

    /// <summary>What a round's checks found, as they stand: by severity, rule and district.</summary>
    public static async Task PrintAsync(NpgsqlDataSource dataSource, int roundId, CancellationToken cancellationToken)
    {
        var summary = await CheckReport.SummariseAsync(dataSource, roundId, cancellationToken);
        if (!summary.HasSchoolMaster)
        {
            AnsiConsole.MarkupLine("[yellow]Warning:[/] this round has no school master, so the rules that need it (X01, X02, T01, A01–A03) found nothing. " +
                "Extract the school master file (学校标识码, 学校名称, 所在区县代码, 最低年级, 最高年级, 是否开办) into the round and check again.");
        }

        foreach (var (severity, findings, records) in summary.BySeverity)
        {
            AnsiConsole.MarkupLine((severity == "error" ? "  [red]errors[/]" : "  [yellow]warnings[/]") + $": {findings:N0} findings on {records:N0} records");
        }

        var rules = new Table().AddColumns("Rule", "Severity", "Findings", "Title");
        foreach (var (ruleId, title, severity, findings) in summary.ByRule)
        {
            rules.AddRow(ruleId, severity, $"{findings:N0}", Markup.Escape(title));
        }

        AnsiConsole.Write(rules);
        var districts = new Table().AddColumns("District", "Errors", "Warnings");
        foreach (var (code, name, errors, warnings) in summary.ByDistrict.Take(15))
        {
            districts.AddRow(Markup.Escape($"{code} {name}"), $"{errors:N0}", $"{warnings:N0}");
        }

        AnsiConsole.Write(districts);
        if (summary.ByDistrict.Count > 15)
        {
            AnsiConsole.WriteLine($"  … and {summary.ByDistrict.Count - 15} more districts.");
        }
    }
}

public sealed class RulesSettings : SdqSettings
{
    [CommandOption("--doc <FILE>")]
    [Description("Write the catalogue for registrars and the data team: FILE.md as Markdown, FILE.pdf as a printable PDF (in the command line's language).")]
    public string? Document { get; init; }
}

/// <summary>Lists the rule catalogue (from the rule files built into the program).</summary>
public sealed class RulesCommand : Command<RulesSettings>
{
    public override int Execute(CommandContext context, RulesSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Document is { } path)
        {
            // The file's extension picks the format; anything else is refused before a file is made, as is a folder that is not there.
            if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder && !Directory.Exists(folder))
            {
                throw new UserErrorException(new UserMessage("Cli.RulesDocFolderMissing", path));
            }

            switch (Path.GetExtension(path).ToLowerInvariant())
            {
                case ".md":
                    File.WriteAllText(path, Document(RuleCatalog.All), new UTF8Encoding(false));
                    break;
                case ".pdf":
                    File.WriteAllBytes(path, Pdf(RuleCatalog.All, CultureInfo.CurrentUICulture.Name.StartsWith("zh", StringComparison.OrdinalIgnoreCase)
                        ? WorksheetLanguage.Chinese : WorksheetLanguage.English));
                    break;
                default:
                    throw new UserErrorException(new UserMessage("Rules.DocFormatUnknown", Path.GetFileName(path)));
            }

            AnsiConsole.WriteLine($"Wrote the catalogue of {RuleCatalog.All.Count} rules to {path}.");
            return 0;
        }

        var table = new Table().AddColumns("Rule", "Stage", "Severity", "Fields", "Title", "标题");
        foreach (var rule in RuleCatalog.All)
        {
            table.AddRow(rule.Id, rule.StageName, rule.Severity, Markup.Escape(string.Join(", ", rule.Fields.Take(4)) + (rule.Fields.Count > 4 ? ", …" : "")),
                Markup.Escape(rule.TitleEn), Markup.Escape(rule.TitleZh));
        }

        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>The catalogue as a printable A4 PDF in one language (the command line's): the same content as <see cref="Document"/>.</summary>
    public static byte[] Pdf(IReadOnlyList<StudentDataQuality.Data.Quality.Rule> rules, WorksheetLanguage language)
    {
        var english = language == WorksheetLanguage.English;
        return RulesPdf.Render([.. rules.Select(r => new RuleSheet(r.Id, english ? r.TitleEn : r.TitleZh,
            string.Equals(r.Severity, "error", StringComparison.OrdinalIgnoreCase), r.StageName, r.Fields, english ? r.WhyEn : r.WhyZh,
            english ? r.FixEn : r.FixZh, r.Explainable, [.. r.Examples.Select(e => (e.Wrong, e.Right))]))], language);
    }

    public static string Document(IReadOnlyList<StudentDataQuality.Data.Quality.Rule> rules)
    {
        var doc = new StringBuilder();
        doc.AppendLine("# 学籍数据质量规则 Student registration quality rules").AppendLine();
        doc.AppendLine("错误（error）必须在签字确认前改正；警告（warning）须改正或说明理由，由数据组审核。");
        doc.AppendLine("An error must be corrected before sign-off; a warning is corrected or explained (the data team reviews explanations).").AppendLine();
        foreach (var stage in rules.GroupBy(r => r.StageName))
        {
            doc.AppendLine($"## Stage: {stage.Key}").AppendLine();
            foreach (var rule in stage)
            {
                doc.AppendLine($"### {rule.Id} {rule.TitleZh} — {rule.TitleEn}").AppendLine();
                doc.AppendLine($"- 级别 Severity: {rule.Severity}; 字段 Fields: {string.Join(", ", rule.Fields)}; version {rule.Version}");
                if (rule.WhyZh is not null || rule.WhyEn is not null)
                {
                    doc.AppendLine($"- 为什么重要: {rule.WhyZh}");
                    doc.AppendLine($"- Why it matters: {rule.WhyEn}");
                }

                doc.AppendLine($"- 如何改正: {rule.FixZh}");
                doc.AppendLine($"- How to fix: {rule.FixEn}");
                if (rule.Explainable is { } explainable)
                {
                    doc.AppendLine(explainable
                        ? "- 可以说明理由代替改正（数据组审核） Can be explained instead of fixed (the data team reviews it)"
                        : "- 不能以说明代替改正 Cannot be explained instead of fixed: correct it");
                }

                doc.AppendLine();
                if (rule.Examples.Count > 0)
                {
                    doc.AppendLine("| 错误的值 Wrong | 正确的写法 Right |").AppendLine("| --- | --- |");
                    foreach (var example in rule.Examples)
                    {
                        doc.AppendLine($"| {Cell(example.Wrong)} | {Cell(example.Right)} |");
                    }

                    doc.AppendLine();
                }
            }
        }

        return doc.ToString();
    }

    /// <summary>A value in a Markdown table cell, as text: '|' and '\\' escaped, backticks and '&lt;' kept from being read as markup.</summary>
    private static string Cell(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal)
            .Replace("`", "\\`", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
