using System.ComponentModel;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Application;
using StudentDataQuality.Jobs;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Cli.Commands;

public sealed class WorksheetsSettings : SdqSettings
{
    [CommandOption("-r|--round <ROUND>")]
    [Description("The round whose open problems are issued.")]
    public string Round { get; init; } = "";

    [CommandOption("--school <CODE>")]
    [Description("Only this school (its 10-digit code).")]
    public string? School { get; init; }

    [CommandOption("--district <CODE>")]
    [Description("Only the schools of this district (6-digit code).")]
    public string? District { get; init; }

    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for the workbooks (a folder per district) and manifest.csv.")]
    public string Output { get; init; } = "";

    [CommandOption("--lang <LANG>")]
    [Description("zh (default, for schools) or en.")]
    public string Language { get; init; } = "zh";

    [CommandOption("--deadline <DATE>")]
    [Description("Return deadline shown to schools (yyyy-MM-dd; default two weeks from today).")]
    public string? Deadline { get; init; }

    [CommandOption("--contact <TEXT>")]
    [Description("Who schools ask for help (name and phone), shown on the instructions sheet.")]
    public string Contact { get; init; } = "";

    [CommandOption("--workers <N>")]
    [Description("Workbooks written at once (default: the machine's cores).")]
    public int? Workers { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Round))
        {
            return ValidationResult.Error("Give the round with --round, e.g. --round 2026-autumn.");
        }

        if (string.IsNullOrWhiteSpace(Output))
        {
            return ValidationResult.Error("Give the folder for the workbooks with --out, e.g. --out ./worksheets.");
        }

        if (Language is not ("zh" or "en"))
        {
            return ValidationResult.Error($"--lang is zh or en, not '{Language}'.");
        }

        return Deadline is not null && !DateOnly.TryParseExact(Deadline, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
            ? ValidationResult.Error($"--deadline '{Deadline}' is not a date like 2026-11-30.")
            : ValidationResult.Success();
    }
}

/// <summary>Writes the problem worksheet of every school with open findings (or of one school or district).</summary>
public sealed class WorksheetsCommand : AsyncCommand<WorksheetsSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, WorksheetsSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var request = new WorksheetRequest(settings.Round, settings.Output, SdqEnvironment.Actor)
        {
            School = settings.School, District = settings.District,
            Language = settings.Language == "en" ? WorksheetLanguage.English : WorksheetLanguage.Chinese,
            Deadline = settings.Deadline is null ? null : DateOnly.ParseExact(settings.Deadline, "yyyy-MM-dd", CultureInfo.InvariantCulture),
            Contact = settings.Contact, Workers = settings.Workers ?? Environment.ProcessorCount,
        };
        await RunAsync(dataSource, request, settings.DataDirectory, cancellationToken);
        return 0;
    }

    public static async Task<IReadOnlyList<IssuedFile>> RunAsync(NpgsqlDataSource dataSource, WorksheetRequest request, string? dataDirectory,
        CancellationToken cancellationToken)
    {
        var issuer = new WorksheetIssuer(dataSource, SdqEnvironment.SigningKey(dataDirectory), SdqEnvironment.LoggerFactory.CreateLogger<WorksheetIssuer>());
        // Each problem cell's note names its rule's page on the portal (Web:PublicUrl).
        request = request.RuleHelp is null ? request with { RuleHelp = WebCommand.PublicAddress() } : request;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var files = await Progress.RunAsync("Writing worksheets", null,
            progress => issuer.IssueAsync(request, new Progress<int>(n => progress.Report(n)), cancellationToken));
        AnsiConsole.MarkupLineInterpolated(
            $"Wrote {files.Count:N0} worksheets ({files.Sum(f => f.Rows):N0} rows, {files.Sum(f => f.Errors):N0} errors, {files.Sum(f => f.Warnings):N0} warnings) in {watch.Elapsed.TotalSeconds:N1} s to {Path.GetFullPath(request.OutputDirectory)}; manifest.csv lists them.");
        if (files.Count == 0)
        {
            AnsiConsole.MarkupLine("No school has open problems in this selection (was the round checked? `sdq check --round …`).");
        }

        return files;
    }
}
