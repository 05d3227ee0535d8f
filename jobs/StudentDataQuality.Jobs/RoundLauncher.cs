using System.Text.RegularExpressions;
using Hangfire;
using Hangfire.Storage;
using StudentDataQuality.Data.Rounds;

namespace StudentDataQuality.Jobs;

/// <summary>
/// Starts rounds (now, or on a schedule) and keeps the jobs' schedule: the recurring rounds, the daily jobs and the inbox.
/// The command line, the demo and the worker share it.
/// </summary>
public sealed partial class RoundLauncher(RoundRuns runs, IBackgroundJobClient jobs)
{
    /// <summary>Per semester: 02:00 on 15 March and 15 September (the national rules ask for a verification every semester).</summary>
    public const string SemesterCron = "0 2 15 3,9 *";
    public const string DefaultTimeZone = "Asia/Shanghai";
    public const string SchedulePrefix = "round-schedule:";

    /// <summary>Creates the round's run and enqueues its chain. The sources must exist now (a typo fails here, not in a job).</summary>
    public async Task<RoundRun> StartAsync(RoundStart start, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        foreach (var source in start.Sources)
        {
            if (!File.Exists(source) && !Directory.Exists(source))
            {
                throw new UserErrorException(new UserMessage("RoundRun.SourceMissing", source));
            }
        }

        var run = await runs.StartAsync(start with { Sources = start.Sources.Select(Path.GetFullPath).ToList(), OutputDirectory = Path.GetFullPath(start.OutputDirectory) },
            actor, cancellationToken);
        RoundJobs.Enqueue(jobs, run.RoundCode);
        return run;
    }

    /// <summary>Enqueues a started round's chain again (after a crash between start and enqueue, or a failed job given up on).</summary>
    public async Task<RoundRun> ResumeAsync(string roundCode, CancellationToken cancellationToken = default)
    {
        var run = await runs.GetAsync(roundCode, cancellationToken)
            ?? throw new UserErrorException(new UserMessage("RoundRun.NotStarted", roundCode));
        if (run.Stage == RoundStage.Closed)
        {
            throw new UserErrorException(new UserMessage("RoundRun.ClosedNothingToResume", roundCode));
        }

        RoundJobs.Enqueue(jobs, run.RoundCode);
        return run;
    }

    /// <summary>The round code a schedule gives its round on a day: the schedule's name and the date.</summary>
    public static string ScheduledRoundCode(string scheduleName, DateOnly day) => $"{scheduleName}-{day:yyyyMMdd}";

    /// <summary>Checks a schedule's name and time zone (its cron expression is checked by registering it).</summary>
    public static void Validate(RoundSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (!ScheduleName().IsMatch(schedule.Name))
        {
            throw new UserErrorException(new UserMessage("Schedule.NameInvalid", schedule.Name));
        }

        TimeZoneOf(schedule);
    }

    public static TimeZoneInfo TimeZoneOf(RoundSchedule schedule)
    {
        try
        {
            return schedule.TimeZone == DefaultTimeZone ? ChinaTime() : TimeZoneInfo.FindSystemTimeZoneById(schedule.TimeZone);
        }
        catch (TimeZoneNotFoundException)
        {
            throw new UserErrorException(new UserMessage("Schedule.TimeZoneUnknown", schedule.TimeZone, DefaultTimeZone));
        }
    }

    /// <summary>
    /// Makes the jobs' schedule what the database says: a recurring job per round schedule (and none for a removed one),
    /// the daily reminder and upkeep, and the scan of this worker's inbox when it has one.
    /// </summary>
    public static async Task SyncScheduleAsync(RoundRuns runs, IRecurringJobManager recurring, JobStorage storage, string? inbox,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(recurring);
        ArgumentNullException.ThrowIfNull(storage);
        var schedules = await runs.SchedulesAsync(cancellationToken);
        foreach (var schedule in schedules)
        {
            Register(recurring, schedule);
        }

        using (var connection = storage.GetConnection())
        {
            foreach (var job in connection.GetRecurringJobs().Where(j => j.Id.StartsWith(SchedulePrefix, StringComparison.Ordinal)
                                                                         && schedules.All(s => SchedulePrefix + s.Name != j.Id)))
            {
                recurring.RemoveIfExists(job.Id);
            }
        }

        var china = ChinaTime();
        recurring.AddOrUpdate<DailyJobs>("reminders", j => j.RemindAsync(CancellationToken.None), "0 8 * * *", new RecurringJobOptions { TimeZone = china });
        recurring.AddOrUpdate<DailyJobs>("round-upkeep", j => j.UpkeepAsync(CancellationToken.None), "30 1 * * *", new RecurringJobOptions { TimeZone = china });
        // A worker without an inbox leaves the scan alone: another worker may have set it (stop it in the dashboard).
        if (inbox is not null)
        {
            recurring.AddOrUpdate<InboxJob>("inbox", j => j.Scan(inbox), Cron.Minutely());
        }
    }

    /// <summary>China Standard Time: the system's Asia/Shanghai, or UTC+8 where the machine has no time-zone data (a slim container).</summary>
    public static TimeZoneInfo ChinaTime()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(DefaultTimeZone);
        }
        catch (TimeZoneNotFoundException)
        {
            return TimeZoneInfo.CreateCustomTimeZone(DefaultTimeZone, TimeSpan.FromHours(8), "China Standard Time", "China Standard Time");
        }
    }

    /// <summary>The day it is now in a schedule's time zone (a round fired at 02:00 in Beijing is that day's, whatever the server's clock).</summary>
    public static DateOnly TodayIn(string timeZone)
    {
        var zone = timeZone == DefaultTimeZone ? ChinaTime() : TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        return DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(DateTime.UtcNow, zone));
    }

    /// <summary>The recurring job of one round schedule.</summary>
    public static void Register(IRecurringJobManager recurring, RoundSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(recurring);
        Validate(schedule);
        var name = schedule.Name;
        try
        {
            recurring.AddOrUpdate<ScheduledRoundJob>(SchedulePrefix + name, j => j.RunAsync(name, CancellationToken.None), schedule.Cron,
                new RecurringJobOptions { TimeZone = TimeZoneOf(schedule) });
        }
        catch (ArgumentException e) when (e.ParamName is "cronExpression" || e.Message.Contains("CRON", StringComparison.OrdinalIgnoreCase))
        {
            throw new UserErrorException(new UserMessage("Schedule.CronInvalid", schedule.Cron, SemesterCron), e);
        }
    }

    /// <summary>Saves a recurring round and registers its job (refused whole, with the reason, when its name, zone or cron is wrong).</summary>
    public static async Task SaveScheduleAsync(RoundRuns runs, IRecurringJobManager recurring, RoundSchedule schedule, string actor,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        Register(recurring, schedule);
        await runs.SaveScheduleAsync(schedule, actor, cancellationToken);
    }

    /// <summary>Removes a recurring round and its job; false when there was none of that name. Rounds it started go on.</summary>
    public static async Task<bool> RemoveScheduleAsync(RoundRuns runs, IRecurringJobManager recurring, string name, string actor,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(recurring);
        recurring.RemoveIfExists(SchedulePrefix + name);
        return await runs.RemoveScheduleAsync(name, actor, cancellationToken);
    }

    /// <summary>The schedule's next start in its own time zone (yyyy-MM-dd HH:mm), or "–" when its job is not registered.</summary>
    public static string NextStart(JobStorage storage, RoundSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(schedule);
        using var connection = storage.GetConnection();
        var job = connection.GetRecurringJobs().FirstOrDefault(j => j.Id == SchedulePrefix + schedule.Name);
        return job?.NextExecution is { } next
            ? TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(next, DateTimeKind.Utc), TimeZoneOf(schedule))
                .ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture)
            : "–";
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")]
    private static partial Regex ScheduleName();
}

/// <summary>
/// A schedule's round: run by its recurring job, it starts the round of the day (code: schedule name and date), following
/// the schedule's previous round. Run twice on a day, it starts one round.
/// </summary>
public sealed class ScheduledRoundJob(RoundRuns runs, RoundLauncher launcher)
{
    public const string Actor = "job:schedule";

    [Queue("extract")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [10, 30, 60, 300, 900], ExceptOn = [typeof(UserErrorException)])]
    public async Task<string> RunAsync(string scheduleName, CancellationToken cancellationToken)
    {
        var schedule = (await runs.SchedulesAsync(cancellationToken)).FirstOrDefault(s => s.Name == scheduleName);
        if (schedule is null)
        {
            return $"schedule {scheduleName} was removed; nothing started";
        }

        var today = RoundLauncher.TodayIn(schedule.TimeZone);
        var code = RoundLauncher.ScheduledRoundCode(scheduleName, today);
        if (await runs.GetAsync(code, cancellationToken) is not null)
        {
            return $"round {code} was started already";
        }

        var previous = await runs.LatestRoundOfScheduleAsync(scheduleName, cancellationToken);
        try
        {
            await launcher.StartAsync(new RoundStart(code, today, schedule.Sources, Path.Combine(schedule.OutputDirectory, code))
            {
                PreviousRoundCode = previous, DeadlineDays = schedule.DeadlineDays, CloseAfterDays = schedule.CloseAfterDays,
                Language = schedule.Language, Contact = schedule.Contact, ScheduleName = scheduleName,
            }, Actor, cancellationToken);
        }
        catch (RoundAlreadyStartedException)
        {
            // Another run of this job started it a moment ago.
            return $"round {code} was started already";
        }

        return $"round {code} started (previous: {previous ?? "none"})";
    }
}
