using Serilog;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality;
using StudentDataQuality.Cli;
using StudentDataQuality.Cli.Commands;

var verbose = args.Contains("--verbose") || args.Contains("-v");
SdqEnvironment.ConfigureLogging(verbose);
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("sdq");
    config.PropagateExceptions();
    config.AddBranch("db", db =>
    {
        db.SetDescription("The database: the embedded PostgreSQL the program starts itself, or the configured server (SDQ_DB).");
        db.AddCommand<DbStartCommand>("start").WithDescription("Create (first time) and start the embedded PostgreSQL, and migrate its schema.");
        db.AddCommand<DbStopCommand>("stop").WithDescription("Stop the embedded PostgreSQL.");
        db.AddCommand<DbStatusCommand>("status").WithDescription("Say where the database is and whether it runs.");
        db.AddCommand<DbUrlCommand>("url").WithDescription("Print the connection URL (for psql and other tools).");
        db.AddCommand<DbMigrateCommand>("migrate").WithDescription("Apply the schema migrations that are not applied yet.");
    });
    config.AddCommand<DemoCommand>("demo")
        .WithDescription("Run a verification round on a generated sample province, from nothing (starts the embedded database).");
    config.AddCommand<GenerateCommand>("generate")
        .WithDescription("Write a synthetic province: school master, registry export, injected defects and their ground truth.")
        .WithExample("generate", "--students", "100000", "--schools", "200", "--seed", "7", "--defect-rate", "0.03", "--previous", "--out", "./province");
    config.AddCommand<CheckCommand>("check")
        .WithDescription("Run the quality rules over a round, stage by stage, and summarise the findings.")
        .WithExample("check", "--round", "2026-autumn");
    config.AddCommand<CaseListCommand>("cases").WithDescription("List a round's cases (problems that survived the round they were first seen in), oldest first, with their owner; or one case's history.").WithExample("cases", "--district", "230102", "--older-than-rounds", "3");
    config.AddCommand<RulesCommand>("rules")
        .WithDescription("List the rule catalogue, or write it as a document (--doc FILE).");
    config.AddCommand<WorksheetsCommand>("worksheets")
        .WithDescription("Write each school's problem worksheet (.xlsx) of a round, a folder per district, with a manifest.")
        .WithExample("worksheets", "--round", "2026-autumn", "--out", "./worksheets");
    config.AddCommand<IngestCommand>("ingest")
        .WithDescription("Take returned worksheets back (a file or a folder): corrections applied and re-checked, a receipt per file.")
        .WithExample("ingest", "./returns", "--as", "school-2301000001");
    config.AddCommand<ReviewCommand>("review")
        .WithDescription("List the schools' explanations waiting for review, or accept or refuse one.")
        .WithExample("review", "--accept", "12");
    config.AddCommand<LineageCommand>("lineage")
        .WithDescription("Show where every value of a student's records came from and what became of it (--prov-json for W3C PROV-JSON).")
        .WithExample("lineage", "G230102201503041234", "--prov-json", "lineage.json");
    config.AddCommand<ChangesCommand>("changes")
        .WithDescription("Write a round's accepted corrections and removals for the upstream registry (its import layout).")
        .WithExample("changes", "--round", "2026-autumn", "--out", "changes.csv", "--request", "12");
    config.AddBranch("export", export =>
    {
        export.SetDescription("Export control: requests for bulk exports in full (four eyes), the register of every file that left, and what a found file is.");
        export.AddCommand<ExportRequestCommand>("request")
            .WithDescription("Ask for a bulk export in full (the province's or a district's); a second data-team account approves it.")
            .WithExample("export", "request", "--kind", "changes", "--round", "2026-autumn", "--purpose", "yearly update of the national registry");
        export.AddCommand<ExportApproveCommand>("approve").WithDescription("Approve a waiting request (never your own): it may be taken once within 24 hours.")
            .WithExample("export", "approve", "12", "--note", "agreed with the registry office");
        export.AddCommand<ExportRefuseCommand>("refuse").WithDescription("Refuse a waiting request, saying why (--note).")
            .WithExample("export", "refuse", "12", "--note", "a district's list is enough");
        export.AddCommand<ExportListCommand>("list")
            .WithDescription("The register: every file that left (who, when, from where, why, rows, fields, form, sha256, request and approver); --requests: the requests.")
            .WithExample("export", "list", "--kind", "changes", "--from", "2026-10-01");
        export.AddCommand<ExportIdentifyCommand>("identify")
            .WithDescription("Name the export record of a found file: by its watermark (or sidecar), else by its sha256.")
            .WithExample("export", "identify", "./found/changes.csv");
    });
    config.AddBranch("user", user =>
    {
        user.SetDescription("Accounts: who acts for which school or district.");
        user.AddCommand<UserAddCommand>("add").WithDescription("Add an account (--role data-team|district|school|manager|class-teacher).")
            .WithExample("user", "add", "ct-zhang", "--role", "class-teacher", "--school", "2301000001", "--class", "4年级3班");
        user.AddCommand<UserListCommand>("list").WithDescription("List the accounts.");
        user.AddCommand<UserResetCommand>("reset").WithDescription("Give an account a one-time password (opens a locked or sealed account).");
        user.AddCommand<UserBulkCommand>("bulk")
            .WithDescription("Accounts with one-time passwords for every school (or district) of the school master that has none, into a new owner-only CSV.")
            .WithExample("user", "bulk", "--schools", "--out", "school-accounts.csv")
            .WithExample("user", "bulk", "--class-teachers", "--round", "2026-autumn", "--school", "2301000001", "--out", "class-teachers.csv");
        user.AddCommand<UserSealCommand>("seal").WithDescription("Seal an account: no sign-in until it is reset.");
        user.AddCommand<UserResetSecondFactorCommand>("reset-2fa").WithDescription("Remove an account's second factor (a lost phone): it sets up a new one at next sign-in.");
    });
    config.AddBranch("confirmations", confirmations =>
    {
        confirmations.SetDescription("Parents confirm their child's record: the campaign, the printed sheets, the changes that wait.");
        confirmations.AddCommand<ConfirmationOpenCommand>("open").WithDescription("Open (or extend) a round's confirmation campaign.")
            .WithExample("confirmations", "open", "--round", "2026-autumn", "--until", "2026-11-30");
        confirmations.AddCommand<ConfirmationCloseCommand>("close").WithDescription("Close a round's confirmation campaign now.");
        confirmations.AddCommand<ConfirmationPrintCommand>("print")
            .WithDescription("Print confirmation sheets: one PDF per class (of the round, a school, or one class), one A4 page per student.")
            .WithExample("confirmations", "print", "--round", "2026-autumn", "--school", "2301000001", "--class", "4年级3班", "--out", "./sheets");
        confirmations.AddCommand<ConfirmationPendingCommand>("pending").WithDescription("List a school's changes waiting for the registrar.")
            .WithExample("confirmations", "pending", "--round", "2026-autumn", "--school", "2301000001");
        confirmations.AddCommand<ConfirmationApproveCommand>("approve").WithDescription("Approve a change that waits: applied and re-checked.");
        confirmations.AddCommand<ConfirmationRefuseCommand>("refuse").WithDescription("Refuse a change that waits.");
    });
    config.AddBranch("training", training =>
    {
        training.SetDescription("Practice rounds: a generated province in a database of its own, with practice accounts (every command takes --practice to work on it).");
        training.AddCommand<TrainingCreateCommand>("create").WithDescription("Make the practice round and its accounts (one-time passwords printed once).")
            .WithExample("training", "create", "--schools", "12", "--trainees", "10", "--out", "practice-accounts.csv");
        training.AddCommand<TrainingResetCommand>("reset").WithDescription("Put the practice round back to its start, with new one-time passwords.");
        training.AddCommand<TrainingRemoveCommand>("remove").WithDescription("Delete the practice round (both of its databases).");
        training.AddCommand<TrainingProgressCommand>("progress").WithDescription("Each trainee's progress: downloaded, returns, certified, problems left.");
    });
    config.AddBranch("audit", audit =>
    {
        audit.SetDescription("The audit log.");
        audit.AddCommand<AuditVerifyCommand>("verify").WithDescription("Check the audit log's hash chain: whole, or the first broken link.");
    });
    config.AddBranch("round", round =>
    {
        round.SetDescription("Rounds run by the jobs: extract, check, worksheets, returns, close.");
        round.AddCommand<RoundStartCommand>("start").WithDescription("Start a round now and follow it until every school's worksheet is issued.")
            .WithExample("round", "start", "2026-autumn", "--source", "./export", "--previous-round", "2026-spring");
        round.AddCommand<RoundStatusCommand>("status").WithDescription("List the rounds run by the jobs, or show one.");
        round.AddCommand<RoundResumeCommand>("resume").WithDescription("Enqueue a round's jobs again (stages done are skipped).");
        round.AddCommand<RoundCloseCommand>("close").WithDescription("Close a round now (no more returns) and take its quality snapshot.");
    });
    config.AddBranch("schedule", schedule =>
    {
        schedule.SetDescription("Recurring rounds (per semester by default), run by the workers.");
        schedule.AddCommand<ScheduleAddCommand>("add").WithDescription("Add or change a recurring round.")
            .WithExample("schedule", "add", "semester", "--source", "/srv/registry/export");
        schedule.AddCommand<ScheduleListCommand>("list").WithDescription("List the recurring rounds and their next start.");
        schedule.AddCommand<ScheduleRemoveCommand>("remove").WithDescription("Remove a recurring round.");
    });
    config.AddCommand<WebCommand>("web")
        .WithDescription("Run the web portal (sign-in; the jobs dashboard for the data team) until stopped.");
    config.AddCommand<WorkerCommand>("worker")
        .WithDescription("Run the jobs (a Hangfire server on the database) until stopped; as many workers as you like, on any machines.");
    config.AddCommand<ExtractCommand>("extract")
        .WithDescription("Stage registry exports (CSV/XLSX files or folders, or a source-database query) into a round.")
        .WithExample("extract", "--round", "2026-autumn", "--round-date", "2026-10-15", "./province/export");
});

try
{
    // The language of the messages, before anything can fail (README, "Settings"): SDQ_LANGUAGE, Cli:Language, the locale.
    CliLanguage.Apply();
    return await app.RunAsync(args);
}
catch (Exception e) when (Unwrap(e) is UserErrorException or CommandParseException or CommandRuntimeException)
{
    var error = Unwrap(e);
    AnsiConsole.MarkupLineInterpolated($"[red]{new UserMessage("Cli.Error")}[/] {CliLanguage.MessageOf(error)}");
    if (verbose)
    {
        AnsiConsole.WriteException(e);
    }

    return 2;
}
catch (OperationCanceledException)
{
    AnsiConsole.MarkupLineInterpolated($"[yellow]{new UserMessage("Cli.Cancelled")}[/]");
    return 130;
}
catch (Exception e)
{
    if (verbose)
    {
        Log.Fatal(e, "sdq failed");
    }

    AnsiConsole.MarkupLineInterpolated($"[red]{new UserMessage("Cli.Failed")}[/] {e.Message}{(verbose ? "" : new UserMessage("Cli.FailedVerboseHint").ToString())}");
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}

static Exception Unwrap(Exception e) => e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;
