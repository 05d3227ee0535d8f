using System.ComponentModel;
using Hangfire;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Spectre.Console.Cli;
using Npgsql;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Files;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;

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

    [CommandOption("--no-web")]
    [Description("End after the round, without starting the web portal.")]
    public bool NoWeb { get; init; }

    [CommandOption("--urls <URLS>")]
    [Description("Where the portal listens at the end of the demo (default Web:Urls, else http://127.0.0.1:5080).")]
    public string? Urls { get; init; }
}

/// <summary>
/// A whole verification round on a generated sample province, from nothing: starts the embedded database, generates
/// the province (with the previous round), extracts both rounds, checks, issues the worksheets, has simulated registrars
/// return them, takes the returns back, and summarises. Running it again is safe: the same seed gives the same files,
/// which the extract recognises as already staged; worksheets are issued again (the next issue) from what is open.
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
            // Its checks and a quality snapshot, as its own round would have left them: managers' trends start from it.
            var checks = await new StudentDataQuality.Data.Quality.CheckRunner(dataSource, SdqEnvironment.LoggerFactory.CreateLogger<StudentDataQuality.Data.Quality.CheckRunner>(),
                    Hosting.JobHost.Checks(SdqEnvironment.Configuration))
                .RunAsync(previousCode, SdqEnvironment.Actor, cancellationToken: cancellationToken);
            await new RoundRuns(dataSource).TakeSnapshotAsync(checks.Round.RoundId, atClose: false, SdqEnvironment.Actor, cancellationToken);
            AnsiConsole.MarkupLineInterpolated($"   checked ({checks.FindingsByRule.Values.Sum():N0} findings) and a quality snapshot taken, for the trends");
        }

        AnsiConsole.MarkupLineInterpolated($"[bold]4. Round {settings.Round} through the jobs: extract, check, a worksheet per school[/]");
        await using var jobs = await JobsContext.OpenAsync(settings.DataDirectory, cancellationToken);
        using var server = jobs.StartServer();
        var worksheets = Path.Combine(settings.Output, "worksheets");
        RoundRun run;
        try
        {
            run = await jobs.Launcher.StartAsync(new RoundStart(settings.Round, options.RoundDate, [province.ExportDirectory], worksheets)
            {
                PreviousRoundCode = previousCode, Contact = "区县教育局学籍管理员 0451-12345678",
            }, SdqEnvironment.Actor, cancellationToken);
        }
        catch (RoundAlreadyStartedException)
        {
            // The demo run before: its jobs find their stages done, and the fan-out issues what is not issued yet.
            run = await jobs.Launcher.ResumeAsync(settings.Round, cancellationToken);
        }

        if (run.Stage == RoundStage.Closed)
        {
            AnsiConsole.MarkupLineInterpolated($"Round {settings.Round} is closed already. Run the demo with another --round, or a fresh --data-dir.");
            return 0;
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        run = await RoundProgress.FollowAsync(jobs, settings.Round, RoundStage.Issued, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"   issued in {watch.Elapsed.TotalSeconds:N1} s: {run.SchoolsTotal ?? 0} schools' worksheets in {Path.GetFullPath(worksheets)}");
        await CheckCommand.PrintAsync(dataSource, run.RoundId, cancellationToken);

        AnsiConsole.MarkupLine("[bold]5. The schools return their worksheets (simulated registrars)[/]");
        var returns = Path.Combine(settings.Output, "returns");
        var files = await IssuedFilesAsync(dataSource, run, cancellationToken);
        var simulated = await SimulateReturnsAsync(dataSource, province, returns, files, options.Seed, cancellationToken);

        AnsiConsole.MarkupLine("[bold]6. Take the returns back: an ingest job per batch of files, each file as its school's account[/]");
        var before = await OpenCountsAsync(dataSource, settings.Round, cancellationToken);
        watch.Restart();
        var ingests = simulated.Chunk(JobHost.Returns(SdqEnvironment.Configuration).MaxFiles).Select(batch => jobs.Client.Enqueue<IngestJob>(j => j.RunBatchAsync(
            batch.Select(r => r.Path).ToArray(), batch.Select(r => (string?)("school-" + r.School)).ToArray(), CancellationToken.None))).ToList();
        var results = (await Progress.RunAsync("Ingesting returns", ingests.Count, progress => jobs.ResultsAsync(ingests, progress, cancellationToken)))
            .SelectMany(result => result.Split('\n')).ToList();
        var totals = await ReturnTotalsAsync(dataSource, run.RoundId, cancellationToken);
        var after = await OpenCountsAsync(dataSource, settings.Round, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"   {results.Count} returns taken in {watch.Elapsed.TotalSeconds:N1} s ({results.Count(r => r.Contains("refused", StringComparison.Ordinal))} refused): {totals.Applied} students' records corrected ({totals.StillFailing} still failing), {totals.AwaitingReview} explanations waiting for review (sdq review), {totals.Removed} registrations removed.");
        AnsiConsole.MarkupLineInterpolated(
            $"   Open problems: {before.Errors:N0} errors and {before.Warnings:N0} warnings before the returns, {after.Errors:N0} errors and {after.Warnings:N0} warnings now. Receipts are beside the returns, in receipts folders.");

        AnsiConsole.MarkupLine("[bold]7. Parents confirm their child's record: the campaign, class teachers, one class's sheets, parents' answers[/]");
        var returned = simulated.Select(r => r.School).ToHashSet(StringComparer.Ordinal);
        var demoSchool = await DemoSchoolAsync(dataSource, run, returned, cancellationToken);
        var classTeachers = demoSchool is { } confirming
            ? await ConfirmationsAsync(dataSource, settings.Round, confirming.School, Path.Combine(settings.Output, "confirmations"), options.Seed, cancellationToken)
            : [];

        AnsiConsole.MarkupLine("[bold]8. A quality snapshot of the round, as managers will read it[/]");
        var snapshot = jobs.Client.Enqueue<RoundJobs>(j => j.SnapshotAsync(settings.Round, CancellationToken.None));
        await jobs.ResultsAsync([snapshot], null, cancellationToken);
        await PrintSnapshotAsync(dataSource, run.RoundId, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"[green]Done.[/] Round {settings.Round} is staged, checked, issued and partly returned; it stays open for more returns (`sdq round close {settings.Round}` closes it). The generator's ground truth: {province.GroundTruthPath}. Try `sdq round status`, `sdq review`, `sdq lineage <student number>`, `sdq export request --kind changes --round {settings.Round} --purpose WHY` (the changes for the registry leave by an approved request: README, Exports and confidentiality); `sdq worker` runs the jobs of scheduled rounds; `sdq db url` prints the database's address for psql.");
        if (settings.NoWeb)
        {
            return 0;
        }

        AnsiConsole.MarkupLine("[bold]9. The web portal, with a demo account of each role[/]");
        var urls = settings.Urls ?? WebCommand.DefaultUrls;
        var accounts = await DemoAccountsAsync(dataSource, demoSchool, cancellationToken);
        accounts.AddRange(classTeachers);
        var table = new Table().AddColumns("Role", "Account", "One-time password", "Valid until", "Try");
        foreach (var (role, name, password, validUntil, what) in accounts)
        {
            table.AddRow(role, name, $"[bold]{password}[/]", SdqEnvironment.ValidUntil(validUntil), Markup.Escape(what));
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated(
            $"   Open {urls} in a browser and sign in with one of these; the first sign-in asks for a new password (10 characters or more). The passwords are new at every run of the demo.");
        // The demo's jobs server keeps running beside the portal: a round started in the console runs here too.
        await WebCommand.RunAsync(settings.DataDirectory, urls, Path.GetFullPath(settings.Output), cancellationToken);
        return 0;
    }

    /// <summary>The school of the demo's school, district and class-teacher accounts: the first that sent nothing back (so that it can download, fix, upload and certify by hand), and its district.</summary>
    private static async Task<(string School, string District)?> DemoSchoolAsync(NpgsqlDataSource dataSource, RoundRun run, IReadOnlySet<string> returned,
        CancellationToken cancellationToken)
    {
        string? school = null, district = null;
        await using (var command = dataSource.CreateCommand("""
            SELECT w.school_code, s.district_code FROM exchange.worksheet w
            JOIN   registry.school s ON s.round_id = w.round_id AND s.school_code = w.school_code
            WHERE  w.round_id = @round AND s.district_code IS NOT NULL ORDER BY w.school_code
            """))
        {
            command.Parameters.AddWithValue("round", run.RoundId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (school is null || !returned.Contains(reader.GetString(0)))
                {
                    (school, district) = (reader.GetString(0), reader.GetString(1));
                    if (!returned.Contains(school))
                    {
                        break;
                    }
                }
            }
        }

        return school is null ? null : (school, district!);
    }

    /// <summary>
    /// An account of each role with a fresh one-time password: the data team, a manager, the district of the demo's school,
    /// and that school.
    /// </summary>
    private static async Task<List<(string Role, string Name, string Password, DateTimeOffset ValidUntil, string What)>> DemoAccountsAsync(NpgsqlDataSource dataSource,
        (string School, string District)? demoSchool, CancellationToken cancellationToken)
    {
        var (school, district) = demoSchool is { } found ? found : ((string?)null, (string?)null);
        var store = new AccountStore(dataSource);
        var signIns = new StudentDataQuality.Data.Access.SignIns(dataSource, SdqEnvironment.SignInPolicy());
        var accounts = new List<(string, string, string, DateTimeOffset, string)>();
        async Task AddAsync(string role, Account account, string what)
        {
            await store.AddAsync(account, SdqEnvironment.Actor, cancellationToken);
            var password = StudentDataQuality.Web.Passwords.OneTime();
            var validUntil = await signIns.SetPasswordAsync(account.Name, StudentDataQuality.Web.Passwords.Hash(account.Name, password), oneTime: true,
                SdqEnvironment.Actor, cancellationToken);
            accounts.Add((role, account.Name, password, validUntil!.Value, what));
        }

        await AddAsync("data team", new Account("demo-team", AccountRole.DataTeam, null, null), "console (/team): rounds, explanations, audit log; jobs (/jobs)");
        await AddAsync("manager", new Account("demo-manager", AccountRole.Manager, null, null), "quality trends (/trends), charts and .xlsx exports");
        if (school is not null)
        {
            await AddAsync("district", new Account("demo-district-" + district, AccountRole.District, null, district), $"its schools (/district), approve certified ones");
            await AddAsync("school", new Account("school-" + school, AccountRole.School, school, null), "download the worksheet, fix it in Excel, upload it, certify");
        }

        return accounts;
    }

    /// <summary>
    /// Parents' confirmations at the demo's school: the round's campaign opened, a class teacher (with a one-time password) for
    /// each of its first few classes, the first class's sheets printed to a PDF in <paramref name="folder"/>, and simulated
    /// parents' answers (<see cref="ParentAnswers"/>, from the seed) entered by each class's teacher: most unchanged, some
    /// phones and addresses corrected (applied), a name or two corrected (waiting for the registrar), some sheets not back.
    /// </summary>
    private static async Task<List<(string Role, string Name, string Password, DateTimeOffset ValidUntil, string What)>> ConfirmationsAsync(
        NpgsqlDataSource dataSource, string round, string school, string folder, int seed, CancellationToken cancellationToken)
    {
        const int Classes = 4;
        var operatorAccount = Account.Operator(SdqEnvironment.Actor);
        var confirmations = new StudentDataQuality.Data.Confirmations.ConfirmationStore(dataSource, JobHost.Checks(SdqEnvironment.Configuration));
        var campaign = await confirmations.OpenCampaignAsync(round, null, operatorAccount, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"   the confirmation campaign is open until {campaign.ClosesOn:yyyy-MM-dd}");

        var store = new AccountStore(dataSource);
        var signIns = new StudentDataQuality.Data.Access.SignIns(dataSource, SdqEnvironment.SignInPolicy());
        var teachers = (await store.ClassTeacherCandidatesAsync(round, school, null, cancellationToken)).Take(Classes).ToList();
        var accounts = new List<(string, string, string, DateTimeOffset, string)>();
        foreach (var teacher in teachers)
        {
            await store.AddClassTeacherAsync(teacher.Account.Name, school, [teacher.Class], SdqEnvironment.Actor, cancellationToken);
            var password = StudentDataQuality.Web.Passwords.OneTime();
            var validUntil = await signIns.SetPasswordAsync(teacher.Account.Name, StudentDataQuality.Web.Passwords.Hash(teacher.Account.Name, password), oneTime: true,
                SdqEnvironment.Actor, cancellationToken);
            accounts.Add(("class teacher", teacher.Account.Name, password, validUntil!.Value, $"{teacher.Class} of school {school} (/class): enter the parents' answers"));
        }

        var table = new Table().AddColumns("Class teacher", "Class", "One-time password", "Valid until");
        foreach (var ((_, name, password, validUntil, _), teacher) in accounts.Zip(teachers))
        {
            table.AddRow(Markup.Escape(name), Markup.Escape(teacher.Class.ToString()), $"[bold]{password}[/]", SdqEnvironment.ValidUntil(validUntil));
        }

        AnsiConsole.Write(table);
        if (teachers.Count == 0)
        {
            return accounts;
        }

        // One class's sheets as a PDF to look at; the other classes are printed too (their sheets are what the parents answer).
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        await ConfirmationPrintCommand.PrintAsync(dataSource, operatorAccount, round, school, teachers[0].Class, english: false, folder, cancellationToken);
        var signedOn = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
        var counts = new Dictionary<ParentReply, int>();
        var pending = 0;
        for (var i = 0; i < teachers.Count; i++)
        {
            var sheets = i == 0
                ? await confirmations.ClassSheetsAsync(operatorAccount, round, school, teachers[i].Class, cancellationToken)
                : (await confirmations.PrintAsync(operatorAccount, round, school, teachers[i].Class,
                    printed => StudentDataQuality.Worksheets.Confirmations.ConfirmationSheetPdf.Render(printed), cancellationToken: cancellationToken)).Sheets;
            // A name corrected in each of the first two classes: two changes wait for the school's registrar.
            var parents = ParentAnswers.Simulate(sheets, seed, signedOn, nameCorrections: i < 2 ? 1 : 0);
            foreach (var parent in parents)
            {
                counts[parent.Reply] = counts.GetValueOrDefault(parent.Reply) + 1;
            }

            var answers = parents.Where(p => p.Answer is not null).Select(p => p.Answer!).ToList();
            var teacher = new Account(teachers[i].Account.Name, AccountRole.ClassTeacher, school);
            var outcomes = await confirmations.AnswerAsync(teacher, answers, cancellationToken: cancellationToken);
            pending += outcomes.Sum(o => o.Changes.Count(c => c.Status == StudentDataQuality.Confirmations.ChangeStatus.Pending));
        }

        AnsiConsole.MarkupLineInterpolated(
            $"   {teachers.Count} classes of school {school}: {counts.GetValueOrDefault(ParentReply.Unchanged)} sheets confirmed unchanged, {counts.GetValueOrDefault(ParentReply.CorrectedContact)} with a new phone or address (applied and re-checked), {counts.GetValueOrDefault(ParentReply.CorrectedName)} with a corrected name ({pending} change(s) waiting for the school's registrar: `sdq confirmations pending --round {round} --school {school}`), {counts.GetValueOrDefault(ParentReply.NotReturned)} not returned.");
        AnsiConsole.MarkupLineInterpolated($"   the sheets of {teachers[0].Class} are in {Path.GetFullPath(folder)} (one A4 page per student; readable by you only)");
        return accounts;
    }

    /// <summary>The newest worksheet of each school of the round, and where its file is.</summary>
    private static async Task<List<(string School, string Path)>> IssuedFilesAsync(NpgsqlDataSource dataSource, RoundRun run, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT ON (school_code) school_code, file_name FROM exchange.worksheet
            WHERE  round_id = @round ORDER BY school_code, issue_no DESC
            """);
        command.Parameters.AddWithValue("round", run.RoundId);
        var byName = Directory.EnumerateFiles(run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories).ToDictionary(f => Path.GetFileName(f), f => f);
        var files = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (byName.TryGetValue(reader.GetString(1), out var path))
            {
                files.Add((reader.GetString(0), path));
            }
        }

        return files;
    }

    private static async Task<(long Applied, long StillFailing, long AwaitingReview, long Removed)> ReturnTotalsAsync(NpgsqlDataSource dataSource, int roundId,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT coalesce(sum((counts->>'AppliedClean')::int), 0) + coalesce(sum((counts->>'AppliedStillFailing')::int), 0),
                   coalesce(sum((counts->>'AppliedStillFailing')::int), 0), coalesce(sum((counts->>'AwaitingReview')::int), 0),
                   coalesce(sum((counts->>'Removed')::int), 0)
            FROM   exchange.worksheet_return WHERE round_id = @round
            """);
        command.Parameters.AddWithValue("round", roundId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    private static async Task PrintSnapshotAsync(NpgsqlDataSource dataSource, int roundId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT count(*), sum(students), sum(open_errors), sum(open_warnings), count(*) FILTER (WHERE first_issued_at IS NOT NULL),
                   count(*) FILTER (WHERE returns > 0), sum(students_without_id), sum(cross_school_duplicates)
            FROM   reporting.snapshot_school
            WHERE  snapshot_id = (SELECT max(snapshot_id) FROM reporting.quality_snapshot WHERE round_id = @round)
            """);
        command.Parameters.AddWithValue("round", roundId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var students = reader.GetInt64(1);
        AnsiConsole.MarkupLineInterpolated(
            $"   {reader.GetInt64(0):N0} schools, {students:N0} students: {reader.GetInt64(2):N0} open errors ({(students == 0 ? 0 : reader.GetInt64(2) * 1000.0 / students):N1} per 1,000 students), {reader.GetInt64(3):N0} open warnings; worksheets issued to {reader.GetInt64(4):N0} schools, returned by {reader.GetInt64(5):N0}; {reader.GetInt64(6):N0} students without an ID number, {reader.GetInt64(7):N0} open cross-school duplicates.");
    }

    /// <summary>
    /// Each school with a worksheet gets an account, and a registrar who answers it from the generator's registrar
    /// answers: most fix everything, some half, some nothing (no return), some fix and make new mistakes.
    /// </summary>
    private static async Task<List<(string School, string Path)>> SimulateReturnsAsync(NpgsqlDataSource dataSource, GenerationResult province,
        string returns, IReadOnlyList<(string School, string Path)> files, int seed, CancellationToken cancellationToken)
    {
        if (Directory.Exists(returns))
        {
            Directory.Delete(returns, recursive: true);
        }

        var answers = RegistrarAnswers.Load(province.RegistrarAnswersPath);
        var accounts = new AccountStore(dataSource);
        var simulated = new List<(string, string)>();
        var styles = new Dictionary<RegistrarStyle, int>();
        foreach (var file in files)
        {
            await accounts.AddAsync(new Account("school-" + file.School, AccountRole.School, file.School), SdqEnvironment.Actor, cancellationToken);
            var style = RegistrarSimulator.StyleFor(file.School, seed, (0.55, 0.2, 0.1, 0.15));
            styles[style] = styles.GetValueOrDefault(style) + 1;
            if (style == RegistrarStyle.Leaves)
            {
                continue;
            }

            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(file.Path, cancellationToken), answers.GetValueOrDefault(file.School) ?? [], style, seed);
            var path = Path.Combine(returns, Path.GetFileName(file.Path));
            OwnerOnly.CreateDirectory(returns);
            await OwnerOnly.WriteAllBytesAsync(path, edited.Workbook, cancellationToken);
            simulated.Add((file.School, path));
        }

        AnsiConsole.MarkupLineInterpolated(
            $"   {files.Count} schools: {styles.GetValueOrDefault(RegistrarStyle.Diligent)} fix every problem, {styles.GetValueOrDefault(RegistrarStyle.Partial)} about half, {styles.GetValueOrDefault(RegistrarStyle.Sloppy)} fix and make new mistakes, {styles.GetValueOrDefault(RegistrarStyle.Leaves)} send nothing back. Returned files: {Path.GetFullPath(returns)}");
        return simulated;
    }

    private static async Task<(long Errors, long Warnings)> OpenCountsAsync(NpgsqlDataSource dataSource, string round, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT count(*) FILTER (WHERE f.severity = 'error'), count(*) FILTER (WHERE f.severity = 'warning')
            FROM   quality.finding f JOIN registry.round r USING (round_id) WHERE r.code = @round AND f.status = 'open'
            """);
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
