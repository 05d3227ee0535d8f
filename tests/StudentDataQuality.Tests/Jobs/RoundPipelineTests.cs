using System.Globalization;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Jobs;

/// <summary>
/// A whole round through a real Hangfire server on the real database, from its schedule to its close: the schedule fires,
/// the chain extracts, checks and fans out a worksheet job per batch of schools, the join marks the round issued, returns
/// dropped in the inbox are taken, late schools are reminded, and the round closes with its quality snapshot. Every
/// job that can run twice is run twice, and the data says it happened once.
/// </summary>
public sealed class RoundPipelineTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task WholeRound_FromScheduleToClose_ThroughARealHangfireServer()
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 3_000, Schools = 30, Seed = 21, DefectRate = 0.05, OutputDirectory = Path.Combine(_temp.Path, "province"),
        });
        var settings = new JobSettings { Inbox = Path.Combine(_temp.Path, "inbox"), Reports = Path.Combine(_temp.Path, "reports"), WorksheetBatch = 4 };
        Directory.CreateDirectory(settings.Inbox);
        var storage = HangfireJobs.Storage(db.ConnectionString);
        await using var services = HangfireJobs.Services(db.DataSource, storage, settings);
        using var server = HangfireJobs.Server(services, storage);
        var runs = services.GetRequiredService<RoundRuns>();
        var client = services.GetRequiredService<IBackgroundJobClient>();
        var recurring = new RecurringJobManager(storage);

        // Scheduled: a schedule saved and registered as the worker does at start, then fired (as its cron would).
        await runs.SaveScheduleAsync(new RoundSchedule("autumn", RoundLauncher.SemesterCron, RoundLauncher.DefaultTimeZone, [province.ExportDirectory],
            Path.Combine(_temp.Path, "worksheets"), DeadlineDays: 21, CloseAfterDays: 7, Language: "zh", Contact: "0451-12345678"), "test");
        await RoundLauncher.SyncScheduleAsync(runs, recurring, storage, settings.Inbox);
        using (var connection = storage.GetConnection())
        {
            var jobs = connection.GetRecurringJobs().Select(j => j.Id).ToList();
            Assert.Contains("round-schedule:autumn", jobs);
            Assert.Contains("reminders", jobs);
            Assert.Contains("inbox", jobs);
        }

        recurring.Trigger("round-schedule:autumn");
        recurring.Trigger("round-schedule:autumn");
        var code = RoundLauncher.ScheduledRoundCode("autumn", RoundLauncher.TodayIn(RoundLauncher.DefaultTimeZone));
        var run = await HangfireJobs.StageAsync(runs, code, RoundStage.Issued);

        // Issued: one worksheet per school with open problems, each issued once, the join done once.
        var schools = await db.ScalarAsync<long>("""
            SELECT count(DISTINCT school_code) FROM quality.finding
            WHERE round_id = @r AND status = 'open' AND record_id IS NOT NULL AND school_code IS NOT NULL
            """, ("r", run.RoundId));
        Assert.True(schools >= 15, $"only {schools} schools have problems");
        Assert.Equal((int)schools, run.SchoolsTotal);
        Assert.Equal((int)schools, run.SchoolsDone);
        Assert.Equal(schools, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet WHERE round_id = @r", ("r", run.RoundId)));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet WHERE round_id = @r AND issue_no > 1", ("r", run.RoundId)));
        var issued = Directory.GetFiles(run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories);
        Assert.Equal(schools, issued.Length);
        Assert.Empty(Directory.GetFiles(run.OutputDirectory, "*.partial", SearchOption.AllDirectories));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM registry.round_run WHERE schedule_name = 'autumn'"));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM quality.check_run WHERE round_id = @r AND scope = 'full'", ("r", run.RoundId)));
        await HangfireJobs.EventuallyAsync(async () => await db.ScalarAsync<long>(
            "SELECT count(*) FROM reporting.quality_snapshot WHERE round_id = @r AND kind = 'live'", ("r", run.RoundId)) == 1, "the live snapshot at issue");

        // The chain run again (a resume after a crash, a second start): every stage is past, nothing is issued twice.
        var again = RoundJobs.Enqueue(client, code);
        await HangfireJobs.SucceededAsync(storage, again);
        var fanOut = client.Enqueue<RoundJobs>(j => j.FanOutAsync(code, CancellationToken.None));
        Assert.Contains("nothing to do", await HangfireJobs.SucceededAsync(storage, fanOut), StringComparison.Ordinal);
        var schoolCodes = await SchoolsAsync(run.RoundId);
        var duplicate = client.Enqueue<RoundJobs>(j => j.WorksheetsAsync(code, schoolCodes.Take(3).ToArray(), CancellationToken.None));
        await HangfireJobs.SucceededAsync(storage, duplicate);
        Assert.Equal(schools, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet WHERE round_id = @r", ("r", run.RoundId)));

        // Returns dropped in the inbox (all schools but one, which stays late), with a file that is no worksheet and a note.
        var answers = RegistrarAnswers.Load(province.RegistrarAnswersPath);
        var late = schoolCodes[0];
        var dropped = 0;
        var accounts = new AccountStore(db.DataSource);
        foreach (var path in issued)
        {
            var school = await db.ScalarAsync<string>("SELECT school_code FROM exchange.worksheet WHERE round_id = @r AND file_name = @f",
                ("r", run.RoundId), ("f", Path.GetFileName(path)));
            if (school == late)
            {
                continue;
            }

            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(path), answers.GetValueOrDefault(school) ?? [], RegistrarStyle.Diligent, 21);
            // Each school drops its return in its own account's folder of the inbox.
            await accounts.AddAsync(new Account(SchoolAccount(school), AccountRole.School, school), "test");
            await DropAsync(Path.Combine(settings.Inbox, SchoolAccount(school)), Path.GetFileName(path), edited.Workbook);
            dropped++;
        }

        await DropAsync(Path.Combine(settings.Inbox, SchoolAccount(schoolCodes[1])), "not-a-worksheet.xlsx", "学校,姓名\n1,2\n"u8.ToArray());
        await DropAsync(settings.Inbox, "note.txt", "please find our return attached"u8.ToArray());
        recurring.Trigger("inbox");
        await HangfireJobs.EventuallyAsync(() => Task.FromResult(
            Directory.Exists(Path.Combine(settings.Inbox, "taken"))
            && Directory.GetFiles(Path.Combine(settings.Inbox, "taken"), "*", SearchOption.AllDirectories).Length == dropped
            && Directory.Exists(Path.Combine(settings.Inbox, "refused"))
            && Directory.GetFiles(Path.Combine(settings.Inbox, "refused"), "*.xlsx", SearchOption.AllDirectories).Length == 1),
            "every dropped return taken, the stray workbook refused");
        Assert.Equal((long)dropped, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", ("r", run.RoundId)));
        Assert.Equal(dropped, Directory.GetFiles(Path.Combine(settings.Inbox, "receipts"), "*.xlsx", SearchOption.AllDirectories).Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(settings.Inbox, "queued"), "*", SearchOption.AllDirectories));
        Assert.True(File.Exists(Path.Combine(settings.Inbox, "note.txt")), "a file that is no workbook is left where it was");
        var refusal = await File.ReadAllTextAsync(
            Assert.Single(Directory.GetFiles(Path.Combine(settings.Inbox, "refused"), "*.refused.txt", SearchOption.AllDirectories)));
        Assert.Contains("refused (", refusal, StringComparison.Ordinal);
        Assert.True(await db.ScalarAsync<long>(
            "SELECT count(*) FROM quality.finding WHERE round_id = @r AND status = 'resolved'", ("r", run.RoundId)) > 0, "the returns resolved problems");

        // Reminders: the school that sent nothing is past its deadline; run twice, one report line and one audit entry.
        await db.ExecuteAsync("UPDATE exchange.worksheet SET deadline = current_date - 3 WHERE round_id = @r", ("r", run.RoundId));
        await HangfireJobs.SucceededAsync(storage, client.Enqueue<DailyJobs>(j => j.RemindAsync(CancellationToken.None)));
        await HangfireJobs.SucceededAsync(storage, client.Enqueue<DailyJobs>(j => j.RemindAsync(CancellationToken.None)));
        var report = await File.ReadAllLinesAsync(Path.Combine(settings.Reports, $"reminders_{DateTime.Today:yyyy-MM-dd}.csv"));
        Assert.Equal(2, report.Length);
        Assert.Contains($",{late},", report[1], StringComparison.Ordinal);
        Assert.EndsWith(",3," + await db.ScalarAsync<long>(
            "SELECT count(*) FROM quality.finding WHERE round_id = @r AND school_code = @s AND status = 'open' AND severity = 'error'", ("r", run.RoundId), ("s", late))
            + "," + await db.ScalarAsync<long>(
            "SELECT count(*) FROM quality.finding WHERE round_id = @r AND school_code = @s AND status = 'open' AND severity = 'warning'", ("r", run.RoundId), ("s", late)),
            report[1], StringComparison.Ordinal);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'round.reminders'"));

        // Close: the upkeep closes a round whose closing day has come; closing again changes nothing.
        await db.ExecuteAsync("UPDATE registry.round_run SET closes_on = current_date WHERE round_id = @r", ("r", run.RoundId));
        await HangfireJobs.SucceededAsync(storage, client.Enqueue<DailyJobs>(j => j.UpkeepAsync(CancellationToken.None)));
        run = await HangfireJobs.StageAsync(runs, code, RoundStage.Closed, 60);
        await HangfireJobs.SucceededAsync(storage, client.Enqueue<RoundJobs>(j => j.CloseAsync(code, "test", CancellationToken.None)));
        Assert.Equal("closed", await db.ScalarAsync<string>("SELECT status FROM registry.round WHERE round_id = @r", ("r", run.RoundId)));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'round.close' AND round_id = @r", ("r", run.RoundId)));
        var snapshot = await db.ScalarAsync<long>("SELECT snapshot_id FROM reporting.quality_snapshot WHERE round_id = @r AND kind = 'close'", ("r", run.RoundId));
        Assert.Equal(await db.ScalarAsync<long>(
                "SELECT count(*) FROM quality.finding WHERE round_id = @r AND status = 'open' AND severity = 'error' AND school_code IS NOT NULL", ("r", run.RoundId)),
            await db.ScalarAsync<long>("SELECT sum(open_errors) FROM reporting.snapshot_school WHERE snapshot_id = @s", ("s", snapshot)));
        Assert.Equal(await db.ScalarAsync<long>(
                "SELECT count(*) FROM quality.finding WHERE round_id = @r AND status <> 'superseded' AND school_code IS NOT NULL", ("r", run.RoundId)),
            await db.ScalarAsync<long>("SELECT sum(found) FROM reporting.snapshot_rule WHERE snapshot_id = @s", ("s", snapshot)));
        Assert.Equal((long)dropped, await db.ScalarAsync<long>("SELECT count(*) FROM reporting.snapshot_school WHERE snapshot_id = @s AND returns > 0", ("s", snapshot)));
        Assert.Equal(3_000L - await db.ScalarAsync<long>("""
                SELECT count(*) FROM registry.record WHERE round_id = @r AND is_current AND (registration_removed OR school_code IS NULL)
                """, ("r", run.RoundId)),
            await db.ScalarAsync<long>("SELECT sum(students) FROM reporting.snapshot_school WHERE snapshot_id = @s", ("s", snapshot)));

        // A return after the close is refused, and kept aside with the reason.
        var lateFile = issued.First(p => Path.GetFileName(p).Contains(late, StringComparison.Ordinal));
        await accounts.AddAsync(new Account(SchoolAccount(late), AccountRole.School, late), "test");
        await DropAsync(Path.Combine(settings.Inbox, SchoolAccount(late)), Path.GetFileName(lateFile), RegistrarSimulator.Edit(await File.ReadAllBytesAsync(lateFile),
            answers.GetValueOrDefault(late) ?? [], RegistrarStyle.Diligent, 21).Workbook);
        recurring.Trigger("inbox");
        await HangfireJobs.EventuallyAsync(() => Task.FromResult(
            Directory.GetFiles(Path.Combine(settings.Inbox, "refused"), "*.xlsx", SearchOption.AllDirectories).Length == 2),
            "the return after the close refused");
        Assert.Contains(Directory.GetFiles(Path.Combine(settings.Inbox, "refused"), "*.refused.txt", SearchOption.AllDirectories),
            f => File.ReadAllText(f).Contains("RoundClosed", StringComparison.Ordinal));
        Assert.Equal((long)dropped, await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", ("r", run.RoundId)));
    }

    [Fact]
    public async Task AScheduleWithABadCronOrTimeZone_IsRefusedWithAReason()
    {
        var recurring = new RecurringJobManager(HangfireJobs.Storage(db.ConnectionString));
        var bad = new RoundSchedule("s1", "every semester", RoundLauncher.DefaultTimeZone, ["/tmp"], "/tmp", 21, 7, "zh", "");
        var cron = Assert.Throws<UserErrorException>(() => RoundLauncher.Register(recurring, bad));
        Assert.Contains("'every semester' is not a cron expression", cron.Message, StringComparison.Ordinal);
        Assert.Contains(RoundLauncher.SemesterCron, cron.Message, StringComparison.Ordinal);
        var zone = Assert.Throws<UserErrorException>(() => RoundLauncher.Register(recurring, bad with { Cron = "0 2 * * *", TimeZone = "Mars/Olympus" }));
        Assert.Contains("Mars/Olympus", zone.Message, StringComparison.Ordinal);
        var name = Assert.Throws<UserErrorException>(() => RoundLauncher.Register(recurring, bad with { Cron = "0 2 * * *", Name = "no spaces please" }));
        Assert.Contains("schedule name", name.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartingARoundTwice_IsRefused_AndAMissingSourceFailsBeforeAnyJob()
    {
        var storage = HangfireJobs.Storage(db.ConnectionString);
        await using var services = HangfireJobs.Services(db.DataSource, storage, new JobSettings { Reports = _temp.Path });
        var launcher = services.GetRequiredService<RoundLauncher>();
        var missing = await Assert.ThrowsAsync<UserErrorException>(() => launcher.StartAsync(
            new RoundStart("twice", new DateOnly(2026, 10, 15), [Path.Combine(_temp.Path, "no-such-export")], _temp.Path), "test"));
        Assert.Contains("no-such-export", missing.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM registry.round WHERE code = 'twice'"));

        await launcher.StartAsync(new RoundStart("twice", new DateOnly(2026, 10, 15), [_temp.Path], _temp.Path), "test");
        var second = await Assert.ThrowsAsync<RoundAlreadyStartedException>(() => launcher.StartAsync(
            new RoundStart("twice", new DateOnly(2026, 10, 15), [_temp.Path], _temp.Path), "test"));
        // The command line tells its own command to follow it; the portal's reader, the round's page.
        Assert.Contains("sdq round status twice", StudentDataQuality.Cli.CliLanguage.MessageOf(second), StringComparison.Ordinal);
        Assert.DoesNotContain("sdq", second.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM audit.event e JOIN registry.round r USING (round_id) WHERE e.action = 'round.start' AND r.code = 'twice'"));

        // No server runs here: the round's enqueued extract is taken away, so that no other test's server runs it.
        var client = services.GetRequiredService<IBackgroundJobClient>();
        foreach (var job in storage.GetMonitoringApi().EnqueuedJobs("extract", 0, 100).Where(j => j.Value.Job?.Args.FirstOrDefault() as string == "twice"))
        {
            client.Delete(job.Key);
        }
    }

    [Fact]
    public async Task ASourceTheExtractRefuses_StopsTheRoundWithoutRetries_AndResumeCarriesOnOnceItIsFixed()
    {
        var source = Directory.CreateDirectory(Path.Combine(_temp.Path, "bad-source")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "students.csv"), "这不是学籍导出,随便\n1,2\n");
        var storage = HangfireJobs.Storage(db.ConnectionString);
        await using var services = HangfireJobs.Services(db.DataSource, storage, new JobSettings { Reports = _temp.Path });
        using var server = HangfireJobs.Server(services, storage);
        var runs = services.GetRequiredService<RoundRuns>();
        await services.GetRequiredService<RoundLauncher>().StartAsync(
            new RoundStart("bad-source", new DateOnly(2026, 10, 15), [source], Path.Combine(_temp.Path, "bad-source-worksheets")), "test");

        await HangfireJobs.EventuallyAsync(async () => (await runs.GetAsync("bad-source"))!.Problem is not null, "the extract's refusal noted on the round");
        var stopped = (await runs.GetAsync("bad-source"))!;
        Assert.Equal(RoundStage.Extracting, stopped.Stage);
        Assert.Contains("students.csv", stopped.Problem, StringComparison.Ordinal);
        var monitoring = storage.GetMonitoringApi();
        static bool OfThisRound(Hangfire.Common.Job? job) => job?.Args.FirstOrDefault() as string == "bad-source";
        await HangfireJobs.EventuallyAsync(() => Task.FromResult(monitoring.FailedJobs(0, 100).Count(j => OfThisRound(j.Value.Job)) == 1),
            "the extract job failed");
        Assert.DoesNotContain(monitoring.ScheduledJobs(0, 100), j => OfThisRound(j.Value.Job));
        var failed = monitoring.FailedJobs(0, 100).Single(j => OfThisRound(j.Value.Job)).Key;
        Assert.DoesNotContain(monitoring.JobDetails(failed).History, h => h.StateName == Hangfire.States.ScheduledState.StateName);

        // The data team puts the right export there and resumes: the round goes on to issued.
        File.Delete(Path.Combine(source, "students.csv"));
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 500, Schools = 5, Seed = 3, DefectRate = 0.05, OutputDirectory = Path.Combine(_temp.Path, "fixed"),
        });
        foreach (var file in Directory.GetFiles(province.ExportDirectory))
        {
            File.Copy(file, Path.Combine(source, Path.GetFileName(file)));
        }

        await services.GetRequiredService<RoundLauncher>().ResumeAsync("bad-source");
        var run = await HangfireJobs.StageAsync(runs, "bad-source", RoundStage.Issued);
        Assert.Null(run.Problem);
        Assert.True(run.SchoolsTotal > 0);
    }

    /// <summary>
    /// A round started from a Chinese page (the caller's culture is zh-CN; Hangfire carries it to the job) that the extract
    /// refuses: the round's problem and the failure Hangfire keeps are English all the same (docs/portal.md, "Messages").
    /// </summary>
    [Fact]
    public async Task ARefusal_IsRecordedInEnglish_WhenAChineseCallerStartedTheRound()
    {
        var source = Directory.CreateDirectory(Path.Combine(_temp.Path, "zh-caller")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "students.csv"), "");
        var storage = HangfireJobs.Storage(db.ConnectionString);
        await using var services = HangfireJobs.Services(db.DataSource, storage, new JobSettings { Reports = _temp.Path });
        using var server = HangfireJobs.Server(services, storage);
        var runs = services.GetRequiredService<RoundRuns>();
        var before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("zh-CN");
            await services.GetRequiredService<RoundLauncher>().StartAsync(
                new RoundStart("zh-caller", new DateOnly(2026, 10, 15), [source], Path.Combine(_temp.Path, "zh-caller-worksheets")), "test");
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }

        await HangfireJobs.EventuallyAsync(async () => (await runs.GetAsync("zh-caller"))!.Problem is not null, "the extract's refusal noted on the round");
        Assert.Contains("students.csv: the file is empty. Export the registry again", (await runs.GetAsync("zh-caller"))!.Problem, StringComparison.Ordinal);
        var monitoring = storage.GetMonitoringApi();
        static bool OfThisRound(Hangfire.Common.Job? job) => job?.Args.FirstOrDefault() as string == "zh-caller";
        await HangfireJobs.EventuallyAsync(() => Task.FromResult(monitoring.FailedJobs(0, 100).Any(j => OfThisRound(j.Value.Job))), "the extract job failed");
        var failed = monitoring.FailedJobs(0, 100).First(j => OfThisRound(j.Value.Job)).Value;
        Assert.Contains("students.csv: the file is empty.", failed.ExceptionMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("文件是空的", failed.ExceptionMessage, StringComparison.Ordinal);
    }

    private async Task<string[]> SchoolsAsync(int roundId)
    {
        await using var command = db.DataSource.CreateCommand("SELECT school_code FROM registry.round_school_task WHERE round_id = @r ORDER BY 1");
        command.Parameters.AddWithValue("r", roundId);
        await using var reader = await command.ExecuteReaderAsync();
        var schools = new List<string>();
        while (await reader.ReadAsync())
        {
            schools.Add(reader.GetString(0));
        }

        return [.. schools];
    }

    private static string SchoolAccount(string schoolCode) => "school-" + schoolCode;

    /// <summary>A file dropped in the inbox as a copy that finished a while ago (the scan leaves files still being written).</summary>
    private static async Task DropAsync(string folder, string name, byte[] bytes)
    {
        var path = Path.Combine(Directory.CreateDirectory(folder).FullName, name);
        await File.WriteAllBytesAsync(path, bytes);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - InboxJob.SettleTime - TimeSpan.FromSeconds(1));
    }
}
