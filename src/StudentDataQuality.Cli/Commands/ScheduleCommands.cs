using System.ComponentModel;
using Hangfire;
using Hangfire.Storage;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Cli.Commands;

public sealed class ScheduleAddSettings : SdqSettings
{
    [CommandArgument(0, "<NAME>")]
    [Description("Name of the schedule; its rounds are named NAME-YYYYMMDD.")]
    public string Name { get; init; } = "";

    [CommandOption("-s|--source <PATH>")]
    [Description("Registry export file or folder each round extracts (repeat for several); the registry writes fresh exports there.")]
    public string[] Sources { get; init; } = [];

    [CommandOption("--cron <CRON>")]
    [Description("When rounds start (cron, five fields). Default: per semester, 02:00 on 15 March and 15 September.")]
    [DefaultValue(RoundLauncher.SemesterCron)]
    public string Cron { get; init; } = RoundLauncher.SemesterCron;

    [CommandOption("--time-zone <ZONE>")]
    [Description("Time zone of the cron expression (IANA name).")]
    [DefaultValue(RoundLauncher.DefaultTimeZone)]
    public string TimeZone { get; init; } = RoundLauncher.DefaultTimeZone;

    [CommandOption("-o|--out <DIR>")]
    [Description("Folder under which each round's worksheets go (default: worksheets in the program's data folder).")]
    public string? Output { get; init; }

    [CommandOption("--deadline-days <N>")]
    [DefaultValue(21)]
    public int DeadlineDays { get; init; } = 21;

    [CommandOption("--close-after-days <N>")]
    [DefaultValue(7)]
    public int CloseAfterDays { get; init; } = 7;

    [CommandOption("--language <LANG>")]
    [DefaultValue("zh")]
    public string Language { get; init; } = "zh";

    [CommandOption("--contact <TEXT>")]
    public string Contact { get; init; } = "";
}

/// <summary>Adds (or changes) a recurring round; workers run it when its time comes. Visible in the jobs dashboard.</summary>
public sealed class ScheduleAddCommand : AsyncCommand<ScheduleAddSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ScheduleAddSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Sources.Length == 0)
        {
            throw new UserErrorException(new UserMessage("Cli.ScheduleNoSource"));
        }

        if (settings.Language is not ("zh" or "en"))
        {
            throw new UserErrorException(new UserMessage("Cli.LanguageOption", settings.Language));
        }

        var schedule = new RoundSchedule(settings.Name, settings.Cron, settings.TimeZone, settings.Sources.Select(Path.GetFullPath).ToList(),
            Path.GetFullPath(settings.Output ?? Path.Combine(SdqEnvironment.DataRoot(), "worksheets")), settings.DeadlineDays, settings.CloseAfterDays,
            settings.Language, settings.Contact);
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        await RoundLauncher.SaveScheduleAsync(jobs.Runs, new RecurringJobManager(jobs.Storage), schedule, SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"Schedule [bold]{schedule.Name}[/] saved: rounds start at '{schedule.Cron}' ({schedule.TimeZone}); next {RoundLauncher.NextStart(jobs.Storage, schedule)}.");
        return 0;
    }
}

/// <summary>Lists the recurring rounds, with their next start.</summary>
public sealed class ScheduleListCommand : AsyncCommand<SdqSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        var table = new Table().AddColumns("Name", "Cron", "Time zone", "Next start", "Sources", "Deadline days", "Worksheets");
        foreach (var schedule in await jobs.Runs.SchedulesAsync(cancellationToken))
        {
            table.AddRow(Markup.Escape(schedule.Name), Markup.Escape(schedule.Cron), schedule.TimeZone, RoundLauncher.NextStart(jobs.Storage, schedule),
                Markup.Escape(string.Join("; ", schedule.Sources)), schedule.DeadlineDays.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(schedule.OutputDirectory));
        }

        AnsiConsole.Write(table);
        return 0;
    }
}

public sealed class ScheduleNameSettings : SdqSettings
{
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";
}

/// <summary>Removes a recurring round (rounds it started go on).</summary>
public sealed class ScheduleRemoveCommand : AsyncCommand<ScheduleNameSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ScheduleNameSettings settings, CancellationToken cancellationToken)
    {
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        if (!await RoundLauncher.RemoveScheduleAsync(jobs.Runs, new RecurringJobManager(jobs.Storage), settings.Name, SdqEnvironment.Actor, cancellationToken))
        {
            throw new UserErrorException(new UserMessage("Cli.ScheduleNotFound", settings.Name));
        }

        AnsiConsole.MarkupLineInterpolated($"Schedule [bold]{settings.Name}[/] removed.");
        return 0;
    }
}
