using System.ComponentModel;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Cli.Commands;

public sealed class DemoSettings : ProvinceSettings
{
    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for the generated province.")]
    [DefaultValue("sdq-demo")]
    public string Output { get; init; } = "sdq-demo";

    [CommandOption("--round <ROUND>")]
    [Description("Code of the demo round.")]
    [DefaultValue("demo-2026-autumn")]
    public string Round { get; init; } = "demo-2026-autumn";
}

/// <summary>
/// A whole verification round on a generated sample province, from nothing: starts the embedded database, generates
/// the province (with the previous round), extracts both rounds, and summarises. Running it again is safe: the same
/// seed gives the same files, which the extract recognises as already staged.
/// </summary>
public sealed class DemoCommand : AsyncCommand<DemoSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, DemoSettings settings, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLine("[bold]1. Database[/]");
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        AnsiConsole.WriteLine(SdqEnvironment.ConfiguredConnectionString() is null
            ? $"   embedded PostgreSQL running, data in {SdqEnvironment.Embedded(settings.DataDirectory).Status().DataDirectory}"
            : "   using the configured database (SDQ_DB)");

        AnsiConsole.MarkupLine("[bold]2. Generate a sample province[/]");
        var options = settings.ToOptions(settings.Output, previous: true);
        var province = await GenerateCommand.Generate(options, cancellationToken);
        GenerateCommand.Report(province);

        var service = new ExtractService(dataSource, SdqEnvironment.LoggerFactory.CreateLogger<ExtractService>());
        string? previousCode = null;
        if (province.PreviousExportDirectory is { } previousFolder && province.PreviousRoundDate is { } previousDate)
        {
            previousCode = settings.Round + "-previous";
            AnsiConsole.MarkupLineInterpolated($"[bold]3. Extract the previous round ({previousCode})[/]");
            var previous = await Progress.RunAsync("Staging rows", null, progress => service.ExtractFilesAsync(
                new ExtractRequest(previousCode, SdqEnvironment.Actor) { RoundDate = previousDate }, [previousFolder], progress, cancellationToken));
            await Output.ExtractAsync(dataSource, previous, cancellationToken);
        }

        AnsiConsole.MarkupLineInterpolated($"[bold]4. Extract round {settings.Round}[/]");
        var current = await Progress.RunAsync("Staging rows", options.Students, progress => service.ExtractFilesAsync(
            new ExtractRequest(settings.Round, SdqEnvironment.Actor) { RoundDate = options.RoundDate, PreviousRoundCode = previousCode },
            [province.ExportDirectory], progress, cancellationToken));
        await Output.ExtractAsync(dataSource, current, cancellationToken);

        AnsiConsole.MarkupLineInterpolated($"[bold]5. Check round {settings.Round}[/]");
        await CheckCommand.RunAsync(dataSource, settings.Round, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"[bold]6. Write each school's problem worksheet[/]");
        var worksheets = Path.Combine(settings.Output, "worksheets");
        if (Directory.Exists(worksheets))
        {
            Directory.Delete(worksheets, recursive: true);
        }

        await WorksheetsCommand.RunAsync(dataSource, new WorksheetRequest(settings.Round, worksheets, SdqEnvironment.Actor)
        {
            Deadline = options.RoundDate.AddDays(21), Contact = "区县教育局学籍管理员 0451-12345678",
        }, settings.DataDirectory, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"[green]Done.[/] Round {settings.Round} is staged and checked, and its worksheets are in {Path.GetFullPath(worksheets)}; the generator's ground truth is {province.GroundTruthPath}. `sdq db url` prints the database's address for psql.");
        return 0;
    }
}
