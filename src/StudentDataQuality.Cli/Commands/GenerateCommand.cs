using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Synthetic;

namespace StudentDataQuality.Cli.Commands;

/// <summary>What the synthetic province looks like (shared by generate and demo).</summary>
public class ProvinceSettings : SdqSettings
{
    [CommandOption("--students <N>")]
    [Description("Number of students.")]
    [DefaultValue(200_000)]
    public int Students { get; init; } = 200_000;

    [CommandOption("--schools <M>")]
    [Description("Number of schools.")]
    [DefaultValue(400)]
    public int Schools { get; init; } = 400;

    [CommandOption("--seed <S>")]
    [Description("Seed: the same seed and options always give the same files.")]
    [DefaultValue(1)]
    public int Seed { get; init; } = 1;

    [CommandOption("--defect-rate <R>")]
    [Description("Share of students given an injected defect (0 gives a clean province).")]
    [DefaultValue(0.03)]
    public double DefectRate { get; init; } = 0.03;

    [CommandOption("--round-date <DATE>")]
    [Description("Reference date of the round the export is for (yyyy-MM-dd).")]
    [DefaultValue("2026-10-15")]
    public string RoundDate { get; init; } = "2026-10-15";

    [CommandOption("--encoding <ENCODING>")]
    [Description("utf8, utf8-bom or gb18030.")]
    [DefaultValue("utf8")]
    public string Encoding { get; init; } = "utf8";

    [CommandOption("--format <FORMAT>")]
    [Description("csv, xlsx or both (the xlsx copy then goes to a folder of its own).")]
    [DefaultValue("csv")]
    public string Format { get; init; } = "csv";

    public override ValidationResult Validate()
    {
        if (Students < 1 || Schools < 1 || Schools > Students)
        {
            return ValidationResult.Error("--students and --schools must be positive, with at least one student per school.");
        }

        if (DefectRate is < 0 or > 1)
        {
            return ValidationResult.Error("--defect-rate is a share between 0 and 1, e.g. 0.03.");
        }

        if (!DateOnly.TryParseExact(RoundDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return ValidationResult.Error($"--round-date '{RoundDate}' is not a date in the form yyyy-MM-dd.");
        }

        return Encoding is "utf8" or "utf8-bom" or "gb18030"
            ? Format is "csv" or "xlsx" or "both" ? ValidationResult.Success() : ValidationResult.Error("--format is csv, xlsx or both.")
            : ValidationResult.Error("--encoding is utf8, utf8-bom or gb18030.");
    }

    public GeneratorOptions ToOptions(string output, bool previous) => new()
    {
        Students = Students,
        Schools = Schools,
        Seed = Seed,
        DefectRate = DefectRate,
        RoundDate = DateOnly.ParseExact(RoundDate, "yyyy-MM-dd", CultureInfo.InvariantCulture),
        Encoding = Encoding switch { "utf8-bom" => ExportEncoding.Utf8Bom, "gb18030" => ExportEncoding.Gb18030, _ => ExportEncoding.Utf8 },
        Format = Format switch { "xlsx" => ExportFormat.Xlsx, "both" => ExportFormat.Both, _ => ExportFormat.Csv },
        Previous = previous,
        OutputDirectory = output,
    };
}

public sealed class GenerateSettings : ProvinceSettings
{
    [CommandOption("--previous")]
    [Description("Also write the previous round's export (for the cross-round checks).")]
    public bool Previous { get; init; }

    [CommandOption("-o|--out <DIR>")]
    [Description("Output folder.")]
    [DefaultValue("province")]
    public string Output { get; init; } = "province";
}

public sealed class GenerateCommand : AsyncCommand<GenerateSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, GenerateSettings settings, CancellationToken cancellationToken)
    {
        var result = await Generate(settings.ToOptions(settings.Output, settings.Previous), cancellationToken);
        Report(result);
        return 0;
    }

    public static Task<GenerationResult> Generate(GeneratorOptions options, CancellationToken cancellationToken) =>
        Progress.RunAsync("Generating students", options.Students,
            progress => Task.Run(() => ProvinceGenerator.Generate(options, progress, cancellationToken), cancellationToken));

    public static void Report(GenerationResult result)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"Generated a synthetic province: {result.Students:N0} students in {result.Schools:N0} schools, {result.DefectsByRule.Values.Sum():N0} injected defects over {result.DefectsByRule.Count} rules.");
        AnsiConsole.WriteLine($"  export:       {result.ExportDirectory}");
        if (result.PreviousExportDirectory is not null)
        {
            AnsiConsole.WriteLine($"  previous:     {result.PreviousExportDirectory} (round date {result.PreviousRoundDate:yyyy-MM-dd})");
        }

        AnsiConsole.WriteLine($"  ground truth: {result.GroundTruthPath}");
    }
}
