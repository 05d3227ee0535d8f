using System.ComponentModel;
using System.Globalization;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Application;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Cli.Commands;

public sealed class RoundStartSettings : SdqSettings
{
    [CommandArgument(0, "<ROUND>")]
    [Description("Code of the new round, e.g. 2026-autumn.")]
    public string Round { get; init; } = "";

    [CommandOption("-s|--source <PATH>")]
    [Description("A registry export file or folder of the round (repeat for several).")]
    public string[] Sources { get; init; } = [];

    [CommandOption("--round-date <DATE>")]
    [Description("The round's reference date, YYYY-MM-DD (default today).")]
    public string? RoundDate { get; init; }

    [CommandOption("--previous-round <ROUND>")]
    [Description("The round before this one, for the cross-round checks.")]
    public string? PreviousRound { get; init; }

    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for the worksheets (default: worksheets/<ROUND> in the program's data folder). Every worker must reach it.")]
    public string? Output { get; init; }

    [CommandOption("--deadline-days <N>")]
    [Description("Days the schools have to return their worksheets.")]
    [DefaultValue(21)]
    public int DeadlineDays { get; init; } = 21;

    [CommandOption("--close-after-days <N>")]
    [Description("Days after the deadline the round closes by itself.")]
    [DefaultValue(7)]
    public int CloseAfterDays { get; init; } = 7;

    [CommandOption("--language <LANG>")]
    [Description("Worksheet language: zh or en.")]
    [DefaultValue("zh")]
    public string Language { get; init; } = "zh";

    [CommandOption("--contact <TEXT>")]
    [Description("Who schools ask about their worksheet (printed on it).")]
    public string Contact { get; init; } = "";

    [CommandOption("--run-here")]
    [Description("Run the round's jobs in this process too (no separate worker needed).")]
    public bool RunHere { get; init; }

    [CommandOption("--no-follow")]
    [Description("Enqueue the round and return, without following its progress.")]
    public bool NoFollow { get; init; }
}

/// <summary>Starts a round now: its chain of jobs is enqueued for the workers, and its progress followed stage by stage.</summary>
public sealed class RoundStartCommand : AsyncCommand<RoundStartSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RoundStartSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Language is not ("zh" or "en"))
        {
            throw new UserErrorException(new UserMessage("Cli.LanguageOption", settings.Language));
        }

        DateOnly? roundDate = settings.RoundDate is null ? null
            : DateOnly.TryParseExact(settings.RoundDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date
            : throw new UserErrorException(new UserMessage("Cli.RoundDateOption", settings.RoundDate));
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        var start = new RoundStart(settings.Round, roundDate ?? DateOnly.FromDateTime(DateTime.Today), settings.Sources,
            settings.Output ?? Path.Combine(SdqEnvironment.DataRoot(), "worksheets", settings.Round))
        {
            PreviousRoundCode = settings.PreviousRound, DeadlineDays = settings.DeadlineDays, CloseAfterDays = settings.CloseAfterDays,
            Language = settings.Language, Contact = settings.Contact,
        };
        var run = await jobs.Launcher.StartAsync(start, SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"Round [bold]{run.RoundCode}[/] started: deadline {run.Deadline:yyyy-MM-dd}, closes {run.ClosesOn:yyyy-MM-dd}; worksheets go to {run.OutputDirectory}.");
        if (settings.NoFollow)
        {
            return 0;
        }

        using var server = settings.RunHere ? jobs.StartServer() : null;
        var final = await RoundProgress.FollowAsync(jobs, run.RoundCode, RoundStage.Issued, cancellationToken);
        return final.Stage >= RoundStage.Issued ? 0 : 1;
    }
}

public sealed class RoundCodeSettings : SdqSettings
{
    [CommandArgument(0, "[ROUND]")]
    [Description("Code of the round.")]
    public string? Round { get; init; }
}

/// <summary>Lists the rounds run by the jobs, or shows one.</summary>
public sealed class RoundStatusCommand : AsyncCommand<RoundCodeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RoundCodeSettings settings, CancellationToken cancellationToken)
    {
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        var runs = settings.Round is null
            ? await jobs.Runs.ListAsync(cancellationToken: cancellationToken)
            : [await jobs.Runs.GetAsync(settings.Round, cancellationToken) ?? throw new UserErrorException(new UserMessage("RoundRun.NotStarted", settings.Round))];
        var table = new Table().AddColumns("Round", "Stage", "Sources staged", "Worksheets", "Deadline", "Closes", "Started", "Problem");
        foreach (var run in runs)
        {
            table.AddRow(Markup.Escape(run.RoundCode), RoundRuns.StageText(run.Stage), run.FilesStaged.ToString(CultureInfo.InvariantCulture),
                run.SchoolsTotal is { } total ? $"{run.SchoolsDone}/{total}" : "-", $"{run.Deadline:yyyy-MM-dd}", $"{run.ClosesOn:yyyy-MM-dd}",
                $"{run.StartedAt.ToLocalTime():yyyy-MM-dd HH:mm}", Markup.Escape(run.Problem ?? ""));
        }

        AnsiConsole.Write(table);
        AnsiConsole.WriteLine(jobs.WorkersAlive() is var alive && alive > 0
            ? $"{alive} worker(s) running."
            : "No worker is running: start one with `sdq worker`.");
        return 0;
    }
}

/// <summary>Enqueues a round's chain again: stages done are skipped, schools not yet issued are issued.</summary>
public sealed class RoundResumeCommand : AsyncCommand<RoundCodeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RoundCodeSettings settings, CancellationToken cancellationToken)
    {
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        var run = await jobs.Launcher.ResumeAsync(settings.Round ?? throw new UserErrorException(new UserMessage("Cli.NameRoundToResume")), cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"Round [bold]{run.RoundCode}[/] ({RoundRuns.StageText(run.Stage)}) enqueued again.");
        return 0;
    }
}

/// <summary>Closes a round now (no more returns are taken) and takes its closing quality snapshot.</summary>
public sealed class RoundCloseCommand : AsyncCommand<RoundCodeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RoundCodeSettings settings, CancellationToken cancellationToken)
    {
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        var code = settings.Round ?? throw new UserErrorException(new UserMessage("Cli.NameRoundToClose"));
        _ = await jobs.Runs.RoundAsync(code, cancellationToken) ?? throw new UserErrorException(new UserMessage("Cli.RoundNotFound", code));
        var result = await jobs.Services.GetRequiredService<RoundJobs>().CloseAsync(code, SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"Round [bold]{code}[/]: {result}.");
        return 0;
    }
}

/// <summary>What the round and schedule commands share: the database, the jobs' storage and container, and a client.</summary>
public sealed class JobsContext : IAsyncDisposable
{
    private JobsContext(NpgsqlDataSource dataSource, JobStorage storage, ServiceProvider services)
    {
        DataSource = dataSource;
        Storage = storage;
        Services = services;
    }

    public NpgsqlDataSource DataSource { get; }
    public JobStorage Storage { get; }
    public ServiceProvider Services { get; }
    public RoundRuns Runs => Services.GetRequiredService<RoundRuns>();
    public RoundLauncher Launcher => Services.GetRequiredService<RoundLauncher>();
    public IBackgroundJobClient Client => Services.GetRequiredService<IBackgroundJobClient>();

    public static async Task<JobsContext> OpenAsync(string? dataDirectory, CancellationToken cancellationToken)
    {
        var dataSource = await SdqEnvironment.OpenDatabaseAsync(dataDirectory, cancellationToken);
        var storage = JobHost.Storage(dataSource, SdqEnvironment.Configuration);
        var services = new ServiceCollection()
            .AddJobs(dataSource, () => SdqEnvironment.SigningKey(dataDirectory), JobHost.Settings(SdqEnvironment.Configuration), storage)
            .BuildServiceProvider();
        return new JobsContext(dataSource, storage, services);
    }

    /// <summary>A Hangfire server in this process taking every queue, as many workers as cores.</summary>
    public BackgroundJobServer StartServer() => JobHost.InProcessServer(Services, Storage, Math.Max(2, Environment.ProcessorCount));

    /// <summary>
    /// Waits for the jobs to succeed and returns their results in order. A job that failed for good (its retries spent) is
    /// an error naming it; one waiting for a retry is waited for.
    /// </summary>
    public async Task<IReadOnlyList<string>> ResultsAsync(IReadOnlyList<string> jobIds, IProgress<long>? done, CancellationToken cancellationToken)
    {
        var results = new string?[jobIds.Count];
        var finished = 0;
        while (finished < jobIds.Count)
        {
            using (var connection = Storage.GetConnection())
            {
                for (var i = 0; i < jobIds.Count; i++)
                {
                    if (results[i] is not null)
                    {
                        continue;
                    }

                    var state = connection.GetStateData(jobIds[i]);
                    if (state?.Name == Hangfire.States.SucceededState.StateName)
                    {
                        results[i] = state.Data.TryGetValue("Result", out var result) ? System.Text.Json.JsonSerializer.Deserialize<string>(result) ?? "" : "";
                        finished++;
                    }
                    else if (state?.Name == Hangfire.States.FailedState.StateName)
                    {
                        throw new InvalidOperationException($"Job {jobIds[i]} failed: {state.Reason} {(state.Data.TryGetValue("ExceptionMessage", out var message) ? message : "")}");
                    }
                }
            }

            done?.Report(finished);
            if (finished < jobIds.Count)
            {
                await Task.Delay(300, cancellationToken);
            }
        }

        return results!;
    }

    /// <summary>Whether no job is waiting, scheduled for a retry, or running: a round that is not done then waits for the data team.</summary>
    public bool NothingQueued()
    {
        var statistics = Storage.GetMonitoringApi().GetStatistics();
        return statistics.Enqueued + statistics.Scheduled + statistics.Processing == 0;
    }

    /// <summary>Hangfire servers that reported in the last minute.</summary>
    public int WorkersAlive() => Storage.GetMonitoringApi().Servers()
        .Count(s => s.Heartbeat is { } beat && DateTime.UtcNow - beat < TimeSpan.FromMinutes(1));

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        await DataSource.DisposeAsync();
    }
}

/// <summary>Follows a round stage by stage in the terminal: a bar per stage, the worksheet fan-out school by school.</summary>
public static class RoundProgress
{
    public static async Task<RoundRun> FollowAsync(JobsContext jobs, string roundCode, RoundStage until, CancellationToken cancellationToken)
    {
        var run = await jobs.Runs.GetAsync(roundCode, cancellationToken) ?? throw new UserErrorException(new UserMessage("RoundRun.NotStarted", roundCode));
        var warned = false;
        var started = DateTime.UtcNow;
        async Task<RoundRun> PollAsync()
        {
            await Task.Delay(500, cancellationToken);
            var latest = await jobs.Runs.GetAsync(roundCode, cancellationToken) ?? run;
            if (!warned && DateTime.UtcNow - started > TimeSpan.FromSeconds(10) && latest.Stage == RoundStage.Extracting && jobs.WorkersAlive() == 0)
            {
                warned = true;
                AnsiConsole.MarkupLine("[yellow]No worker is running.[/] Start one with `sdq worker` (or start rounds with --run-here); the round waits for it.");
            }

            return latest;
        }

        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var last = (RoundStage?)null;
            while (run.Stage < until && !GaveUp(jobs, run))
            {
                if (run.Stage != last)
                {
                    AnsiConsole.WriteLine($"   {DateTime.Now:HH:mm:ss} {RoundRuns.StageText(run.Stage)}{(run.Problem is null ? "" : $" (retrying: {run.Problem})")}");
                    last = run.Stage;
                }

                run = await PollAsync();
            }

            AnsiConsole.WriteLine($"   {DateTime.Now:HH:mm:ss} {RoundRuns.StageText(run.Stage)}: {run.SchoolsDone} of {run.SchoolsTotal ?? 0} schools' worksheets done");
            return Stopped(run, until);
        }

        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var extract = context.AddTask("Extract", maxValue: 1);
                var check = context.AddTask("Check", maxValue: 1, autoStart: false);
                var sheets = context.AddTask("Worksheets", maxValue: 1, autoStart: false);
                while (true)
                {
                    extract.IsIndeterminate = run.Stage == RoundStage.Extracting;
                    extract.Description = $"Extract: {run.FilesStaged} sources staged";
                    if (run.Stage > RoundStage.Extracting)
                    {
                        extract.Value = 1;
                        check.StartTask();
                        check.IsIndeterminate = run.Stage == RoundStage.Checking;
                    }

                    if (run.Stage > RoundStage.Checking)
                    {
                        check.Value = 1;
                        sheets.StartTask();
                        sheets.MaxValue = Math.Max(1, run.SchoolsTotal ?? 1);
                        sheets.Value = run.Stage >= RoundStage.Issued ? sheets.MaxValue : run.SchoolsDone;
                        sheets.Description = $"Worksheets: {run.SchoolsDone:N0}/{run.SchoolsTotal ?? 0:N0} schools";
                    }

                    if (run.Problem is { } problem)
                    {
                        (run.Stage switch { RoundStage.Extracting => extract, RoundStage.Checking => check, _ => sheets }).Description =
                            $"{RoundRuns.StageText(run.Stage)}: retrying ({Markup.Escape(problem.Length > 60 ? problem[..60] + "…" : problem)})";
                    }

                    if (run.Stage >= until || GaveUp(jobs, run))
                    {
                        break;
                    }

                    run = await PollAsync();
                }
            });
        return Stopped(run, until);
    }

    /// <summary>A stage failed and nothing is left to run (no retry scheduled): following longer would wait forever.</summary>
    private static bool GaveUp(JobsContext jobs, RoundRun run) => run.Problem is not null && jobs.NothingQueued();

    private static RoundRun Stopped(RoundRun run, RoundStage until)
    {
        if (run.Stage < until && run.Problem is { } problem)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[red]Round {run.RoundCode} stopped while {RoundRuns.StageText(run.Stage)}:[/] {problem} Fix it, then `sdq round resume {run.RoundCode}`.");
        }

        return run;
    }
}
