using Microsoft.Extensions.Logging;
using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Cli.Commands;

public sealed class ExtractSettings : SdqSettings
{
    [CommandArgument(0, "[PATHS]")]
    [Description("Registry export files (.csv, .xlsx) or folders of them; a school master file is recognised by its headers.")]
    public string[] Paths { get; init; } = [];

    [CommandOption("-r|--round <ROUND>")]
    [Description("The round code, e.g. 2026-autumn. Created when new.")]
    public string Round { get; init; } = "";

    [CommandOption("--round-date <DATE>")]
    [Description("Reference date of a new round (yyyy-MM-dd; default today): ages and the school year are counted from it.")]
    public string? RoundDate { get; init; }

    [CommandOption("--previous-round <ROUND>")]
    [Description("The round before this one, for the cross-round checks (a new round only).")]
    public string? PreviousRound { get; init; }

    [CommandOption("--source-db <CONNECTION>")]
    [Description("Extract from the registry's database instead of files: its PostgreSQL connection string (use with --query).")]
    public string? SourceDatabase { get; init; }

    [CommandOption("--query <SQL>")]
    [Description("With --source-db: the query whose columns carry the export's headers (Chinese or English names).")]
    public string? Query { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Round))
        {
            return ValidationResult.Error("Give the round with --round, e.g. --round 2026-autumn.");
        }

        if ((SourceDatabase is null) != (Query is null))
        {
            return ValidationResult.Error("--source-db and --query go together.");
        }

        if (SourceDatabase is null && Paths.Length == 0)
        {
            return ValidationResult.Error("Give the export files or folder to extract, or --source-db with --query.");
        }

        return RoundDate is not null && !DateOnly.TryParseExact(RoundDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
            ? ValidationResult.Error($"--round-date '{RoundDate}' is not a date in the form yyyy-MM-dd.")
            : ValidationResult.Success();
    }

    public DateOnly? ParsedRoundDate => RoundDate is null ? null : DateOnly.ParseExact(RoundDate, "yyyy-MM-dd", CultureInfo.InvariantCulture);
}

public sealed class ExtractCommand : AsyncCommand<ExtractSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ExtractSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var request = new ExtractRequest(settings.Round, SdqEnvironment.Actor) { RoundDate = settings.ParsedRoundDate, PreviousRoundCode = settings.PreviousRound };
        var service = new ExtractService(dataSource, SdqEnvironment.LoggerFactory.CreateLogger<ExtractService>());
        var result = await Progress.RunAsync("Staging rows", null, progress => settings.SourceDatabase is null
            ? service.ExtractFilesAsync(request, settings.Paths, progress, cancellationToken)
            : service.ExtractQueryAsync(request, settings.SourceDatabase, settings.Query!, progress, cancellationToken));
        await Output.ExtractAsync(dataSource, result, cancellationToken);
        return 0;
    }
}
