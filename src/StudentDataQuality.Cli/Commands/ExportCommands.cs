using System.ComponentModel;
using System.Globalization;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Files;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Cli.Commands;

/// <summary>
/// How the command line takes a file out through the export register (docs/exports.md, "At the command line"): as the data
/// team's operator <c>cli:&lt;os user&gt;</c>, from this machine; the file made under a temporary name inside the register's
/// taking and put in place only once the taking is on record, so a refusal or a failure leaves no file behind.
/// </summary>
internal static class CliExport
{
    /// <summary>Who takes: the operating-system account running sdq, as a data-team operator.</summary>
    public static Account Taker => Account.Operator(SdqEnvironment.Actor);

    /// <summary>Where from, as the register writes it (the portal writes the client's address).</summary>
    public static string From => "cli@" + Environment.MachineName;

    /// <summary>
    /// The register with the configured window: Exports:TakeWithinHours (README, "Configuration"; 1 to 168, default 24), how
    /// long an approved request may be taken.
    /// </summary>
    public static ExportRegister Register(NpgsqlDataSource dataSource) =>
        new(dataSource, ExportSettings.FromTakeWithinHours(SdqEnvironment.Configuration[ExportSettings.TakeWithinSetting]));

    /// <summary>Refuses a target that exists: an exported file is never written over, and nothing is taken.</summary>
    public static void RequireNew(params string?[] paths)
    {
        foreach (var path in paths.OfType<string>())
        {
            if (File.Exists(path) || Directory.Exists(path))
            {
                throw new UserErrorException(new UserMessage("Cli.ExportTargetExists", path));
            }
        }
    }

    /// <summary>
    /// Refuses, before anything is made, an export the policy lets out only by an approved request when none is given, with
    /// the request command to run and who approves it. The register checks again (it is the one that decides).
    /// </summary>
    public static void RequireRequestWhenBulk(ExportOrder order, string roundCode, string? district)
    {
        ArgumentNullException.ThrowIfNull(order);
        if (order.RequestId is null && ExportPolicy.Decide(Taker.Role, order.Kind, order.Form, order.Scope) == ExportDecision.NeedsRequest)
        {
            throw new UserErrorException(new UserMessage("Cli.ExportRequestNeeded", ExportKinds.Name(order.Kind), order.Scope.Text, roundCode,
                RequestCommand(order.Kind, roundCode, district)));
        }
    }

    /// <summary>The command that asks for this export (its purpose left for the user to write).</summary>
    public static string RequestCommand(ExportKind kind, string roundCode, string? district) =>
        $"sdq export request --kind {ExportKinds.Name(kind).Replace('_', '-')} --round {Quoted(roundCode)}{(district is null ? "" : " --district " + Quoted(district))}";

    /// <summary>The round's id, or a refusal naming it.</summary>
    public static async Task<int> RoundIdAsync(NpgsqlDataSource dataSource, string roundCode, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT round_id FROM registry.round WHERE code = @code");
        command.Parameters.AddWithValue("code", roundCode);
        return await command.ExecuteScalarAsync(cancellationToken) as int? ?? throw new UserErrorException(new UserMessage("Cli.RoundNotFound", roundCode));
    }

    /// <summary>
    /// Takes one file through the register into <paramref name="path"/>: <paramref name="write"/> makes it (handed the
    /// watermark and a temporary path beside the target) and says its rows and fields; once the register has it on record it
    /// is moved into place and, for a file that cannot carry its watermark inside (CSV, JSON), its sidecar written next to it.
    /// </summary>
    public static async Task<(ExportedFile File, string Path, string? Sidecar, int Rows)> TakeFileAsync(NpgsqlDataSource dataSource, Account taker,
        ExportOrder order, string path, bool sidecar, Func<Watermark, string, CancellationToken, Task<(int Rows, IReadOnlyList<string> Fields)>> write,
        CancellationToken cancellationToken)
    {
        var target = System.IO.Path.GetFullPath(path);
        var sidecarPath = sidecar ? ExportSidecar.PathFor(target) : null;
        RequireNew(target, sidecarPath);
        var temporary = target + "." + Guid.NewGuid().ToString("N")[..8] + ".partial";
        int rows = 0;
        IReadOnlyList<string> fields = [];
        ExportedFile? file = null;
        try
        {
            file = await Register(dataSource).TakeAsync(taker, order, From, async (watermark, ct) =>
            {
                (rows, fields) = await write(watermark, temporary, ct);
                return new ExportContent(System.IO.Path.GetFileName(target), rows, fields, FilePath: temporary);
            }, cancellationToken);
            try
            {
                OwnerOnly.Move(temporary, target);
            }
            catch (IOException)
            {
                // Taken and on record (a request is spent): the file is kept where it was made, never lost nor written over.
                throw new UserErrorException(new UserMessage("Cli.ExportKeptAside", ExportId.Format(file.ExportId), temporary, target));
            }

            if (sidecarPath is not null)
            {
                ExportSidecar.Write(target, file.Watermark, file.Sha256, rows, fields);
            }

            return (file, target, sidecarPath, rows);
        }
        finally
        {
            if (file is null && File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>A time as the data team reads it: Beijing time, to the minute.</summary>
    public static string Time(DateTimeOffset? at) =>
        at is { } value ? value.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "—";

    /// <summary>One file of the register, in one line (a terminal of any width shows it whole, and it reads well in a log).</summary>
    public static UserMessage Line(ExportRecord r) => new("Cli.ExportFileLine", ExportId.Format(r.ExportId), Time(r.TakenAt), r.TakenBy, r.TakenFrom ?? "—",
        ExportKinds.Name(r.Kind), ExportKinds.Name(r.Form), r.Scope, r.RoundCode ?? "—", r.Rows, string.Join(",", r.Fields), r.FileName, r.Sha256, r.Purpose,
        r.RequestId is { } id ? new UserMessage("Cli.ExportFileByRequest", id, r.RequestedBy ?? "—", r.ApprovedBy ?? "—") : new UserMessage("Cli.ExportFileRoutine"));

    public static UserMessage Line(ExportRequest r) => new("Cli.ExportRequestLine", r.RequestId, new UserMessage("Cli.ExportStatus." + r.Status),
        ExportKinds.Name(r.Kind), ExportKinds.Name(r.Form), r.Scope, r.RoundCode ?? "—", r.Purpose, r.RequestedBy, Time(r.RequestedAt),
        r.DecidedBy is null ? "—" : $"{r.DecidedBy} {Time(r.DecidedAt)}{(string.IsNullOrWhiteSpace(r.DecisionNote) ? "" : " (" + r.DecisionNote + ")")}",
        Time(r.ExpiresAt), r.ExportId is { } e ? ExportId.Format(e) + " " + Time(r.TakenAt) : "—");

    /// <summary>Prints a message; its values (names, purposes, file names: data) are escaped, never read as markup.</summary>
    public static void Print(UserMessage message) => AnsiConsole.WriteLine(message.ToString());

    private static string Quoted(string value) => value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? value : "\"" + value.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

public sealed class ExportRequestSettings : SdqSettings
{
    [CommandOption("--kind <KIND>")]
    [Description("What to take out in full: changes, problem-list or confirmation-sheets.")]
    public string Kind { get; init; } = "";

    [CommandOption("-r|--round <ROUND>")]
    [Description("The round.")]
    public string Round { get; init; } = "";

    [CommandOption("--district <CODE>")]
    [Description("Only this district's schools (default: the province).")]
    public string? District { get; init; }

    [CommandOption("--purpose <TEXT>")]
    [Description("Why the file is needed (the approver reads it; the file's watermark and the register carry it).")]
    public string Purpose { get; init; } = "";

    public override ValidationResult Validate() =>
        ExportKinds.ParseKind(Kind) is not (ExportKind.Changes or ExportKind.ProblemList or ExportKind.ConfirmationSheets)
            ? ValidationResult.Error(new UserMessage("Cli.ExportKindNotRequestable", Kind).ToString())
        : string.IsNullOrWhiteSpace(Round) ? ValidationResult.Error(new UserMessage("Cli.ExportRoundMissing").ToString())
        : string.IsNullOrWhiteSpace(Purpose) ? ValidationResult.Error(new UserMessage("Cli.ExportPurposeMissing").ToString())
        : ValidationResult.Success();
}

/// <summary>Asks for a bulk export in full (the province's or a district's): a second data-team account approves it.</summary>
public sealed class ExportRequestCommand : AsyncCommand<ExportRequestSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ExportRequestSettings settings, CancellationToken cancellationToken)
    {
        var kind = ExportKinds.ParseKind(settings.Kind)!.Value;
        var district = string.IsNullOrWhiteSpace(settings.District) ? null : settings.District.Trim();
        var scope = district is null ? ExportScope.Province : ExportScope.District(district);
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var roundId = await CliExport.RoundIdAsync(dataSource, settings.Round, cancellationToken);
        var request = await CliExport.Register(dataSource).RequestAsync(CliExport.Taker,
            new ExportRequestDraft(kind, ExportForm.Full, scope, roundId, settings.Purpose.Trim()), CliExport.From, cancellationToken);
        var id = request.RequestId.ToString(CultureInfo.InvariantCulture);
        var take = kind switch
        {
            ExportKind.Changes => new UserMessage("Cli.ExportTakeChanges", $"sdq changes --round {settings.Round} --out changes.csv --request {id}"),
            ExportKind.ConfirmationSheets => new UserMessage("Cli.ExportTakeCommand",
                $"sdq confirmations print --round {settings.Round}{(district is null ? "" : " --district " + district)} --out ./sheets --request {id}"),
            _ => new UserMessage("Cli.ExportTakeInConsole"),
        };
        CliExport.Print(new UserMessage("Cli.ExportRequested", request.RequestId, ExportKinds.Name(kind), scope.Text, settings.Round, request.RequestedBy, take));
        return 0;
    }
}

public sealed class ExportDecideSettings : SdqSettings
{
    [CommandArgument(0, "<REQUEST>")]
    [Description("The request's number (as `sdq export request` printed it, or `sdq export list --requests`).")]
    public long RequestId { get; init; }

    [CommandOption("--note <TEXT>")]
    [Description("Why (the requester reads it; required to refuse).")]
    public string? Note { get; init; }
}

/// <summary>Approves or refuses a waiting request, as a second data-team account (never the requester).</summary>
internal static class ExportRequestDecision
{
    public static async Task<int> DecideAsync(ExportDecideSettings settings, bool approve, CancellationToken cancellationToken)
    {
        if (!approve && string.IsNullOrWhiteSpace(settings.Note))
        {
            throw new UserErrorException(new UserMessage("Cli.ExportNoteMissing", settings.RequestId));
        }

        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var register = CliExport.Register(dataSource);
        ExportRequest request;
        try
        {
            request = await register.DecideAsync(CliExport.Taker, settings.RequestId, approve, settings.Note?.Trim(), CliExport.From, cancellationToken);
        }
        catch (UserErrorException e) when (e.Text?.Code == "Exports.OwnRequest")
        {
            // At the command line "you" is the operating-system account: say so, and who may approve instead.
            throw new UserErrorException(new UserMessage("Cli.ExportOwnRequest", settings.RequestId, SdqEnvironment.Actor), e);
        }

        CliExport.Print(approve
            ? new UserMessage("Cli.ExportApproved", request.RequestId, CliExport.Time(request.ExpiresAt), request.RequestedBy)
            : new UserMessage("Cli.ExportRefused", request.RequestId, request.RequestedBy));
        return 0;
    }
}

public sealed class ExportApproveCommand : AsyncCommand<ExportDecideSettings>
{
    public override Task<int> ExecuteAsync(CommandContext context, ExportDecideSettings settings, CancellationToken cancellationToken) =>
        ExportRequestDecision.DecideAsync(settings, approve: true, cancellationToken);
}

public sealed class ExportRefuseCommand : AsyncCommand<ExportDecideSettings>
{
    public override Task<int> ExecuteAsync(CommandContext context, ExportDecideSettings settings, CancellationToken cancellationToken) =>
        ExportRequestDecision.DecideAsync(settings, approve: false, cancellationToken);
}

public sealed class ExportListSettings : SdqSettings
{
    [CommandOption("--requests")]
    [Description("List the requests with where they stand (waiting, approved until …, refused, taken, expired) instead of the files.")]
    public bool Requests { get; init; }

    [CommandOption("--by <ACCOUNT>")]
    [Description("Only what this account took (or, with --requests, asked for), e.g. cli:alice or team-li.")]
    public string? By { get; init; }

    [CommandOption("--kind <KIND>")]
    [Description("Only this kind: worksheet, receipt, lineage, changes, problem-list, confirmation-sheets, class-answers, trend-table.")]
    public string? Kind { get; init; }

    [CommandOption("--from <DATE>")]
    [Description("Taken (or asked for) on or after this Beijing date (yyyy-MM-dd).")]
    public string? From { get; init; }

    [CommandOption("--to <DATE>")]
    [Description("Taken (or asked for) on or before this Beijing date (yyyy-MM-dd).")]
    public string? To { get; init; }

    [CommandOption("--limit <N>")]
    [Description("At most this many, the newest first (default 100, at most 10000).")]
    public int Limit { get; init; } = 100;

    public override ValidationResult Validate() =>
        Kind is not null && ExportKinds.ParseKind(Kind) is null ? ValidationResult.Error(new UserMessage("Cli.ExportKindUnknown", Kind).ToString())
        : Limit is < 1 or > 10000 ? ValidationResult.Error(new UserMessage("Cli.ExportLimitInvalid", Limit).ToString())
        : ValidationResult.Success();
}

/// <summary>The register for auditors: every file that left, or every request, the newest first.</summary>
public sealed class ExportListCommand : AsyncCommand<ExportListSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ExportListSettings settings, CancellationToken cancellationToken)
    {
        var from = Date("--from", settings.From);
        var to = Date("--to", settings.To);
        var kind = settings.Kind is null ? null : ExportKinds.ParseKind(settings.Kind);
        var by = string.IsNullOrWhiteSpace(settings.By) ? null : settings.By.Trim();
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var register = CliExport.Register(dataSource);
        if (settings.Requests)
        {
            // Requests are few (one per bulk export): the register gives the newest, filtered here.
            var requests = (await register.RequestsAsync(CliExport.Taker, 10000, cancellationToken))
                .Where(r => by is null || string.Equals(r.RequestedBy, by, StringComparison.Ordinal))
                .Where(r => kind is null || r.Kind == kind)
                .Where(r => from is null || Beijing(r.RequestedAt) >= from)
                .Where(r => to is null || Beijing(r.RequestedAt) <= to)
                .Take(settings.Limit).ToList();
            foreach (var request in requests)
            {
                CliExport.Print(CliExport.Line(request));
            }

            CliExport.Print(new UserMessage("Cli.ExportRequestsCount", requests.Count));
            return 0;
        }

        var page = await register.ListAsync(CliExport.Taker, new ExportQuery(by, kind, null, from, to), 0, settings.Limit, CliExport.From, cancellationToken);
        foreach (var file in page.Files)
        {
            CliExport.Print(CliExport.Line(file));
        }

        CliExport.Print(new UserMessage(page.More ? "Cli.ExportFilesCountMore" : "Cli.ExportFilesCount", page.Files.Count));
        return 0;
    }

    private static DateOnly Beijing(DateTimeOffset at) => DateOnly.FromDateTime(at.ToOffset(TimeSpan.FromHours(8)).DateTime);

    private static DateOnly? Date(string option, string? text) =>
        text is null ? null
        : DateOnly.TryParseExact(text.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date
        : throw new UserErrorException(new UserMessage("Cli.ExportDateInvalid", option, text));
}

public sealed class ExportIdentifySettings : SdqSettings
{
    [CommandArgument(0, "<FILE>")]
    [Description("A found file (.xlsx, .pdf, .csv, .json…): its watermark (or its sidecar .export.json) names the export; without one, its sha256.")]
    public string File { get; init; } = "";
}

/// <summary>Names the export record of a found file: by its watermark, else by the sha256 of its bytes; says plainly when none matches.</summary>
public sealed class ExportIdentifyCommand : AsyncCommand<ExportIdentifySettings>
{
    /// <summary>The exit code when no export matches the file (not an error of the command: an answer).</summary>
    public const int NoRecord = 3;

    public override async Task<int> ExecuteAsync(CommandContext context, ExportIdentifySettings settings, CancellationToken cancellationToken)
    {
        if (!System.IO.File.Exists(settings.File))
        {
            throw new UserErrorException(new UserMessage("Cli.ExportIdentifyNoFile", settings.File));
        }

        var found = ExportFileReader.Read(settings.File);
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var register = CliExport.Register(dataSource);
        var record = await register.IdentifyAsync(CliExport.Taker, found.Watermark?.ExportId, found.Sha256, CliExport.From, cancellationToken);
        var name = settings.File;
        if (found.Watermark is { } watermark && (record is null || !string.Equals(record.ExportId, ExportId.Normalise(watermark.ExportId), StringComparison.Ordinal)))
        {
            // A watermark whose id the register never gave: made by hand, or by another system.
            CliExport.Print(new UserMessage("Cli.ExportWatermarkForged", name, ExportId.Format(watermark.ExportId), watermark.TakenBy, CliExport.Time(watermark.TakenAt)));
            if (record is not null)
            {
                CliExport.Print(new UserMessage("Cli.ExportIdentifiedBySha", name, found.Sha256));
                CliExport.Print(CliExport.Line(record));
            }

            return record is null ? NoRecord : 0;
        }

        if (record is null)
        {
            CliExport.Print(new UserMessage("Cli.ExportNoRecord", name, found.Sha256));
            return NoRecord;
        }

        CliExport.Print(found.Watermark is not null
            ? new UserMessage("Cli.ExportIdentifiedByWatermark", name, found.WatermarkFrom ?? "—", ExportId.Format(record.ExportId))
            : new UserMessage("Cli.ExportIdentifiedBySha", name, found.Sha256));
        CliExport.Print(CliExport.Line(record));
        // Found by its watermark's id alone: the bytes changed since they left (a part found alone is the part's bytes).
        if (record.FoundBy == "watermark" && !string.Equals(record.Sha256, found.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            CliExport.Print(new UserMessage("Cli.ExportFileChanged", record.Sha256, found.Sha256));
        }

        return 0;
    }
}
