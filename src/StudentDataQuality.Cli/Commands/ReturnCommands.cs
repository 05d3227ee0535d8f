using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Application;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Files;
using StudentDataQuality.Jobs;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Cli.Commands;

public sealed class IngestSettings : SdqSettings
{
    [CommandArgument(0, "<PATH>")]
    [Description("A returned worksheet (.xlsx), or a folder of them (every .xlsx, .xlsm and .xls in it and below is tried; other files are left alone).")]
    public string Path { get; init; } = "";

    [CommandOption("--as <ACCOUNT>")]
    [Description("Act as this account (a school account may return only its school's worksheet). Default: the data team operator.")]
    public string? Account { get; init; }

    [CommandOption("--receipts <DIR>")]
    [Description("Folder for the receipts (.xlsx); default: a 'receipts' folder beside the returned files.")]
    public string? Receipts { get; init; }
}

/// <summary>
/// Takes returned worksheets back: in batches of Returns:BatchFiles files (each file all or nothing, one re-check per
/// batch), a receipt per file, refusals explained; a file that could not be taken is named, and running the command again
/// takes it (the files already taken give their earlier receipts).
/// </summary>
public sealed class IngestCommand : AsyncCommand<IngestSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, IngestSettings settings, CancellationToken cancellationToken)
    {
        var files = Directory.Exists(settings.Path)
            ? Directory.EnumerateFiles(settings.Path, "*", SearchOption.AllDirectories)
                .Where(ReturnLimits.IsReturnCandidate)
                .Order(StringComparer.Ordinal).ToList()
            : File.Exists(settings.Path)
                ? [settings.Path]
                : throw new UserErrorException(new UserMessage("Cli.ReturnPathMissing", settings.Path));
        var receipts = settings.Receipts ?? System.IO.Path.Combine(
            Directory.Exists(settings.Path) ? settings.Path : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(settings.Path))!, "receipts");
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var account = settings.Account is null ? Account.Operator(SdqEnvironment.Actor) : await new AccountStore(dataSource).GetAsync(settings.Account, cancellationToken);
        var ingest = new ReturnIngest(dataSource, SdqEnvironment.SigningKey(settings.DataDirectory), logger: SdqEnvironment.LoggerFactory.CreateLogger<ReturnIngest>());
        var summary = await RunAsync(ingest, files.Where(f => !f.StartsWith(System.IO.Path.GetFullPath(receipts), StringComparison.Ordinal)).ToList(), account,
            receipts, quiet: false, JobHost.Returns(SdqEnvironment.Configuration).MaxFiles, cancellationToken);
        return summary.Failed > 0 ? 3 : summary.Refused > 0 ? 2 : 0;
    }

    /// <summary>What a batch of returns came to.</summary>
    public sealed record Summary(int Files, int Refused, int Repeated, int Applied, int StillFailing, int AwaitingReview, int Removed, int Rejected,
        int Failed = 0)
    {
        public static Summary None { get; } = new(0, 0, 0, 0, 0, 0, 0, 0);

        public static Summary operator +(Summary a, Summary b) => new(a.Files + b.Files, a.Refused + b.Refused, a.Repeated + b.Repeated,
            a.Applied + b.Applied, a.StillFailing + b.StillFailing, a.AwaitingReview + b.AwaitingReview, a.Removed + b.Removed, a.Rejected + b.Rejected,
            a.Failed + b.Failed);
    }

    public static async Task<Summary> RunAsync(ReturnIngest ingest, IReadOnlyList<string> files, Account account, string receipts, bool quiet,
        int batchFiles, CancellationToken cancellationToken)
    {
        // Each still-failing row of a receipt links its rules' pages on the portal (Web:PublicUrl); a bad setting stops before any file is taken.
        var ruleHelp = WebCommand.PublicAddress();
        var practice = await ingest.IsPracticeAsync(cancellationToken);
        OwnerOnly.CreateDirectory(receipts);
        int refused = 0, repeated = 0, applied = 0, failing = 0, review = 0, removed = 0, rejected = 0, failed = 0;
        void Refused(string name, WorksheetRejectedException e)
        {
            refused++;
            AnsiConsole.MarkupLineInterpolated($"[red]{new UserMessage("Cli.ReturnRefused", name)}[/] {e.Message}");
        }

        foreach (var chunk in files.Chunk(Math.Max(1, batchFiles)))
        {
            var received = new List<ReturnedFile>();
            foreach (var file in chunk)
            {
                try
                {
                    await using var stream = File.OpenRead(file);
                    received.Add(await ingest.ReceiveAsync(stream, System.IO.Path.GetFileName(file), account, cancellationToken));
                }
                catch (WorksheetRejectedException e)
                {
                    Refused(System.IO.Path.GetFileName(file), e);
                }
            }

            foreach (var outcome in await ingest.IngestBatchAsync(received, cancellationToken))
            {
                var name = outcome.File.FileName;
                if (outcome.Refusal is { } refusal)
                {
                    Refused(name, refusal);
                    continue;
                }

                if (outcome.Failure is { } failure)
                {
                    failed++;
                    AnsiConsole.MarkupLineInterpolated(
                        $"[red]{name}: could not be taken[/] ({failure.Message}); nothing of it was kept. Run the command again to take it.");
                    continue;
                }

                var result = outcome.Result!;
                var receipt = result.Receipt;
                var receiptPath = System.IO.Path.Combine(receipts, ReceiptWriter.FileName(receipt));
                await using (var output = OwnerOnly.Create(receiptPath))
                {
                    ReceiptWriter.Write(receipt, output, ruleHelp, practice);
                }

                repeated += result.AlreadyIngested ? 1 : 0;
                if (!result.AlreadyIngested)
                {
                    applied += receipt.Count(ReceiptOutcome.AppliedClean) + receipt.Count(ReceiptOutcome.AppliedStillFailing);
                    failing += receipt.Count(ReceiptOutcome.AppliedStillFailing);
                    review += receipt.Count(ReceiptOutcome.AwaitingReview);
                    removed += receipt.Count(ReceiptOutcome.Removed);
                    rejected += receipt.Count(ReceiptOutcome.Rejected) + receipt.Count(ReceiptOutcome.NotImported);
                }

                if (!quiet)
                {
                    if (result.AlreadyIngested)
                    {
                        AnsiConsole.MarkupLineInterpolated(
                            $"[yellow]{name}[/]: already taken as return #{receipt.ReturnId} on {receipt.ReceivedAt:yyyy-MM-dd HH:mm}; nothing changed. Receipt: {receiptPath}");
                    }
                    else
                    {
                        AnsiConsole.MarkupLineInterpolated($"[green]{name}[/]: return #{receipt.ReturnId}, school {receipt.SchoolCode}: {receipt.Count(ReceiptOutcome.AppliedClean)} fixed, {receipt.Count(ReceiptOutcome.AppliedStillFailing)} changed but still failing, {receipt.Count(ReceiptOutcome.AwaitingReview)} awaiting review, {receipt.Count(ReceiptOutcome.Removed)} removed, {receipt.Count(ReceiptOutcome.Rejected) + receipt.Count(ReceiptOutcome.NotImported)} not taken, {receipt.StillOpen.Count} problems still open. Receipt: {receiptPath}");
                    }
                }
            }
        }

        if (!quiet && files.Count > 1)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"{files.Count} files: {files.Count - refused - repeated - failed} taken, {repeated} already taken before, {refused} refused, {failed} could not be taken; {applied} rows applied ({failing} still failing), {review} awaiting review, {removed} registrations removed, {rejected} rows not taken.");
        }

        return new Summary(files.Count, refused, repeated, applied, failing, review, removed, rejected, failed);
    }
}

public sealed class ReviewSettings : SdqSettings
{
    [CommandOption("-r|--round <ROUND>")]
    [Description("Only this round's explanations.")]
    public string? Round { get; init; }

    [CommandOption("--school <CODE>")]
    [Description("Only this school's explanations.")]
    public string? School { get; init; }

    [CommandOption("--accept <ID>")]
    [Description("Accept this explanation: the findings it explains become confirmed.")]
    public long? Accept { get; init; }

    [CommandOption("--refuse <ID>")]
    [Description("Refuse this explanation (give --note): its findings stay open.")]
    public long? Refuse { get; init; }

    [CommandOption("--note <TEXT>")]
    [Description("The data team's note, which the school reads (required to refuse).")]
    public string? Note { get; init; }

    public override ValidationResult Validate() =>
        Accept is not null && Refuse is not null ? ValidationResult.Error("Give --accept or --refuse, not both.") : ValidationResult.Success();
}

/// <summary>Lists the explanations waiting for the data team, or accepts or refuses one.</summary>
public sealed class ReviewCommand : AsyncCommand<ReviewSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ReviewSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var review = new ExplanationReview(dataSource);
        if ((settings.Accept ?? settings.Refuse) is { } id)
        {
            var accept = settings.Accept is not null;
            var confirmed = await review.DecideAsync(id, accept, settings.Note, Account.Operator(SdqEnvironment.Actor), cancellationToken);
            if (accept)
            {
                AnsiConsole.MarkupLineInterpolated($"Explanation {id} accepted: {confirmed} findings confirmed.");
            }
            else
            {
                AnsiConsole.MarkupLineInterpolated($"Explanation {id} refused: its findings stay open, and the school sees the note.");
            }
            return 0;
        }

        var pending = await review.PendingAsync(settings.Round, settings.School, cancellationToken);
        if (pending.Count == 0)
        {
            AnsiConsole.MarkupLine("No explanation is waiting for review.");
            return 0;
        }

        var table = new Table().AddColumns("id", "round", "school", "student", "rules", "explanation", "received");
        foreach (var p in pending)
        {
            table.AddRow(Markup.Escape(p.ExplanationId.ToString(CultureInfo.InvariantCulture)), Markup.Escape(p.RoundCode), Markup.Escape(p.SchoolCode),
                Markup.Escape($"{p.StudentNo} {p.Name}"), Markup.Escape(string.Join(", ", p.RuleIds)), Markup.Escape(p.Text),
                Markup.Escape($"{p.ReceivedAt:yyyy-MM-dd HH:mm} {p.ReceivedBy}"));
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"{pending.Count} waiting. Accept with 'sdq review --accept ID', refuse with 'sdq review --refuse ID --note \"why\"'.");
        return 0;
    }
}

public sealed class LineageSettings : SdqSettings
{
    [CommandArgument(0, "<STUDENT_NO>")]
    [Description("The student number (学籍号) whose records are traced.")]
    public string StudentNo { get; init; } = "";

    [CommandOption("-r|--round <ROUND>")]
    [Description("Only this round (default: every round with the student).")]
    public string? Round { get; init; }

    [CommandOption("--prov-json <FILE>")]
    [Description("Also write the lineage as W3C PROV-JSON to this file.")]
    public string? ProvJson { get; init; }
}

/// <summary>Prints where every value of a student's records came from, and what became of it.</summary>
public sealed class LineageCommand : AsyncCommand<LineageSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, LineageSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var records = await new LineageReader(dataSource).ReadAsync(settings.StudentNo, settings.Round, Account.Operator(SdqEnvironment.Actor), cancellationToken);
        if (records.Count == 0)
        {
            throw new UserErrorException(settings.Round is null
                ? new UserMessage("Cli.NoRecordWithStudentNo", settings.StudentNo)
                : new UserMessage("Cli.NoRecordWithStudentNoInRound", settings.StudentNo, settings.Round));
        }

        foreach (var record in records)
        {
            Print(record);
        }

        if (settings.ProvJson is { } path)
        {
            // A file with a student in it, in full: taken through the export register (the first record's scope), its
            // watermark in a sidecar (PROV-JSON has no place for one that its readers would keep).
            var first = records[0];
            var order = new ExportOrder(ExportKind.Lineage, ExportForm.Full, ExportScope.Record(first.RecordId),
                records.All(r => r.RoundId == first.RoundId) ? first.RoundId : null);
            var fields = records.SelectMany(r => r.Versions.Count > 0 ? r.Versions[0].Values.Select(v => v.Key) : []).Distinct(StringComparer.Ordinal).ToList();
            var json = ProvJson.Build(records).ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            var taken = await CliExport.TakeFileAsync(dataSource, CliExport.Taker, order, path, sidecar: true, async (_, temporary, ct) =>
            {
                await OwnerOnly.WriteAllTextAsync(temporary, json, ct);
                return (records.Count, fields);
            }, cancellationToken);
            CliExport.Print(new UserMessage("Cli.LineageTaken", taken.Path, ExportId.Format(taken.File.ExportId), taken.Sidecar));
        }

        return 0;
    }

    private static void Print(RecordLineage record)
    {
        AnsiConsole.MarkupLineInterpolated($"[bold]Round {record.RoundCode}, record {record.RecordId}[/]: student {record.StudentNo}, school {record.SchoolCode}");
        var returns = record.Returns.ToDictionary(r => r.ReturnId);
        foreach (var version in record.Versions)
        {
            var origin = version.Source is { } s
                ? $"extract file {s.FileName} (sha256 {s.Sha256[..12]}…), {(s.Sheet is { } sheet ? $"sheet {sheet}, " : "")}row {s.Row}, staged {s.StagedAt:yyyy-MM-dd HH:mm} by {s.StagedBy}"
                : version.ReturnId is { } id && returns.TryGetValue(id, out var r)
                    ? $"return #{r.ReturnId}: {r.FileName} (sha256 {r.Sha256[..12]}…, worksheet issue {r.IssueNumber}) uploaded {r.ReceivedAt:yyyy-MM-dd HH:mm} by {r.ReceivedBy}"
                    : "unknown origin";
            AnsiConsole.MarkupLineInterpolated($"  version {version.Version}{(version.Current ? " (current)" : "")}{(version.Removed ? " [registration removed]" : "")}: {origin}");
        }

        foreach (var worksheet in record.Worksheets)
        {
            var downloads = worksheet.Downloads.Count == 0 ? "not downloaded through the portal" :
                "downloaded by " + string.Join(", ", worksheet.Downloads.Select(d => $"{d.Actor} {d.At:yyyy-MM-dd HH:mm}"));
            AnsiConsole.MarkupLineInterpolated(
                $"  worksheet issue {worksheet.IssueNumber} ({worksheet.FileName}, sha256 {worksheet.Sha256[..12]}…) issued {worksheet.IssuedAt:yyyy-MM-dd HH:mm} by {worksheet.IssuedBy}, showing version {worksheet.RecordVersion} as row {worksheet.RowKey}; {downloads}");
        }

        AnsiConsole.MarkupLine("  values:");
        var first = record.Versions[0];
        foreach (var (field, value) in first.Values)
        {
            var chain = $"{Show(value)} (v1)";
            foreach (var c in record.Corrections.Where(c => c.Field == field))
            {
                chain += $" → {Show(c.NewValue)} (v{c.ToVersion}, return #{c.ReturnId}, {c.Sheet}!{c.Cell} '{c.Column}')";
            }

            AnsiConsole.MarkupLineInterpolated($"    {field}: {chain}");
        }

        foreach (var removal in record.Corrections.Where(c => c.Kind == "removal"))
        {
            AnsiConsole.MarkupLineInterpolated($"    registration removed (v{removal.ToVersion}, return #{removal.ReturnId}, row {removal.ExcelRow}): {removal.Reason}");
        }

        if (record.Findings.Count > 0)
        {
            AnsiConsole.MarkupLine("  findings:");
            foreach (var f in record.Findings)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"    {f.RuleId} v{f.RuleVersion} {f.Severity} on {f.Field} = {Show(f.Value)} (record v{f.RecordVersion}), {f.RunScope} check run {f.RunId} {f.RunAt:yyyy-MM-dd HH:mm}: {f.Status}{(f.ClosedRunId is { } c ? $" by run {c}" : "")}");
            }
        }
    }

    private static string Show(string? value) => value is null ? "(empty)" : "'" + value + "'";
}

public sealed class ChangesSettings : SdqSettings
{
    [CommandOption("-r|--round <ROUND>")]
    [Description("The round whose accepted corrections and removals are written.")]
    public string Round { get; init; } = "";

    [CommandOption("-o|--out <FILE>")]
    [Description("The change set file (CSV, UTF-8, Chinese headers: the registry's import layout), never over an existing one; its watermark goes beside it (<FILE>.export.json).")]
    public string Output { get; init; } = "";

    [CommandOption("--request <N>")]
    [Description("The approved export request this takes (the province's changes leave only by one: `sdq export request --kind changes`).")]
    public long? Request { get; init; }

    public override ValidationResult Validate() =>
        string.IsNullOrWhiteSpace(Round) ? ValidationResult.Error("Give the round with --round.")
        : string.IsNullOrWhiteSpace(Output) ? ValidationResult.Error("Give the file to write with --out, e.g. --out changes.csv.")
        : ValidationResult.Success();
}

/// <summary>Writes the round's accepted corrections and removals for the upstream registry.</summary>
public sealed class ChangesCommand : AsyncCommand<ChangesSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ChangesSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var roundId = await CliExport.RoundIdAsync(dataSource, settings.Round, cancellationToken);
        // The province's changes are more than one school's students in full: a bulk export, only by an approved request,
        // refused before anything is written when none is given.
        var order = new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.Province, roundId, RequestId: settings.Request);
        CliExport.RequireRequestWhenBulk(order, settings.Round, district: null);
        var writer = new ChangeSetWriter(dataSource);
        ChangeSetResult? result = null;
        var taken = await CliExport.TakeFileAsync(dataSource, CliExport.Taker, order, settings.Output, sidecar: true, async (watermark, temporary, ct) =>
        {
            result = await writer.WriteAsync(settings.Round, temporary, CliExport.Taker, watermark, ct);
            return (result.Rows, ChangeSetWriter.FieldNames);
        }, cancellationToken);
        CliExport.Print(new UserMessage("Cli.ChangesTaken", result!.Corrected, result.Removed, taken.Path, taken.File.Sha256, ExportId.Format(taken.File.ExportId),
            taken.Sidecar));
        return 0;
    }
}

public sealed class UserAddSettings : SdqSettings
{
    [CommandArgument(0, "<ACCOUNT>")]
    [Description("The account name (letters, digits, . _ @ -).")]
    public string Name { get; init; } = "";

    [CommandOption("--role <ROLE>")]
    [Description("data-team, district, school, manager or class-teacher.")]
    public string Role { get; init; } = "";

    [CommandOption("--school <CODE>")]
    [Description("The school a school account acts for, or a class teacher teaches at.")]
    public string? School { get; init; }

    [CommandOption("--district <CODE>")]
    [Description("The district a district account follows.")]
    public string? District { get; init; }

    [CommandOption("--class <CLASS>")]
    [Description("A class teacher's class, as \"4年级3班\" (repeat for several); one the school has in its newest round.")]
    public string[] Classes { get; init; } = [];

    public override ValidationResult Validate() =>
        Role is not ("data-team" or "district" or "school" or "manager" or "class-teacher")
            ? ValidationResult.Error($"--role is data-team, district, school, manager or class-teacher, not '{Role}'.")
            : Classes.Length > 0 && Role != "class-teacher" ? ValidationResult.Error("--class is for --role class-teacher only.")
            : ValidationResult.Success();
}

/// <summary>Adds an account: who may act for which school or district, or which classes of a school a class teacher serves.</summary>
public sealed class UserAddCommand : AsyncCommand<UserAddSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, UserAddSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Role == "class-teacher")
        {
            // Each class as people write it; a wrong one is told before the database is opened.
            var classes = settings.Classes.Select(ClassKey.Parse).ToList();
            if (string.IsNullOrWhiteSpace(settings.School))
            {
                throw new UserErrorException(new UserMessage("Cli.ClassTeacherSchoolMissing", settings.Name));
            }

            await using var database = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
            var store = new AccountStore(database);
            var changed = await store.AddClassTeacherAsync(settings.Name, settings.School, classes, SdqEnvironment.Actor, cancellationToken);
            var has = await store.ClassesOfAsync(settings.Name, cancellationToken);
            AnsiConsole.MarkupLineInterpolated(
                $"Class teacher {settings.Name} of school {settings.School} is there{(changed ? "" : " already")}: {string.Join(", ", has.Select(c => c.ToString()))}. Give it a one-time password with `sdq user reset {settings.Name}`.");
            return 0;
        }

        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var role = settings.Role switch
        {
            "data-team" => AccountRole.DataTeam,
            "district" => AccountRole.District,
            "school" => AccountRole.School,
            _ => AccountRole.Manager,
        };
        await new AccountStore(dataSource).AddAsync(new Account(settings.Name, role, settings.School, settings.District), SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"Account {settings.Name} ({settings.Role}{(settings.School ?? settings.District) switch { null => "", var s => " " + s }}) is there.");
        return 0;
    }
}

/// <summary>Lists the accounts.</summary>
public sealed class UserListCommand : AsyncCommand<SdqSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var store = new AccountStore(dataSource);
        var classes = await store.ClassesByAccountAsync(cancellationToken);
        var table = new Table().AddColumns("account", "role", "school", "district", "classes");
        foreach (var a in await store.ListAsync(cancellationToken))
        {
            table.AddRow(Markup.Escape(a.Name), a.Role.ToString(), Markup.Escape(a.SchoolCode ?? ""), Markup.Escape(a.DistrictCode ?? ""),
                Markup.Escape(string.Join(", ", classes.GetValueOrDefault(a.Name) ?? [])));
        }

        AnsiConsole.Write(table);
        return 0;
    }
}
