using System.ComponentModel;
using System.Globalization;
using System.Text;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Data.Files;
using StudentDataQuality.Exports;
using StudentDataQuality.Files;
using StudentDataQuality.Worksheets.Confirmations;

namespace StudentDataQuality.Cli.Commands;

public class ConfirmationRoundSettings : SdqSettings
{
    [CommandOption("--round <CODE>")]
    [Description("The round.")]
    public string Round { get; init; } = "";

    public override ValidationResult Validate() =>
        string.IsNullOrWhiteSpace(Round) ? ValidationResult.Error("Give --round CODE.") : ValidationResult.Success();
}

public sealed class ConfirmationOpenSettings : ConfirmationRoundSettings
{
    [CommandOption("--until <DATE>")]
    [Description("The last day (Beijing date, yyyy-MM-dd) class teachers may enter answers (default: the round's deadline, else 30 days from today).")]
    public string? Until { get; init; }
}

public sealed class ConfirmationPrintSettings : ConfirmationRoundSettings
{
    [CommandOption("--school <CODE>")]
    [Description("Only this school's classes.")]
    public string? School { get; init; }

    [CommandOption("--class <CLASS>")]
    [Description("Only this class of the school (\"4年级3班\"); needs --school.")]
    public string? Class { get; init; }

    [CommandOption("--district <CODE>")]
    [Description("Only this district's schools (more than one school: needs --request).")]
    public string? District { get; init; }

    [CommandOption("--request <N>")]
    [Description("The approved export request a district's or the whole round's print takes (`sdq export request --kind confirmation-sheets`).")]
    public long? Request { get; init; }

    [CommandOption("--purpose <TEXT>")]
    [Description("Why the sheets are printed, for the watermark and the register (default: confirmation sheets for the parents).")]
    public string? Purpose { get; init; }

    [CommandOption("--english")]
    [Description("Print the sheets in English (default Chinese).")]
    public bool English { get; init; }

    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for the PDFs (made owner-only when missing): one <school>-<grade>年级<class>.pdf per class, never over an existing file.")]
    public string Output { get; init; } = "";

    public override ValidationResult Validate() =>
        base.Validate() is { Successful: false } error ? error
        : Output.Length == 0 ? ValidationResult.Error("Give --out DIR: the folder that receives the PDFs.")
        : School is not null && District is not null ? ValidationResult.Error(new UserMessage("Cli.ConfirmSchoolAndDistrict").ToString())
        : School is not null && Request is not null ? ValidationResult.Error(new UserMessage("Cli.ConfirmRequestWithSchool").ToString())
        : ValidationResult.Success();
}

public sealed class ConfirmationPendingSettings : ConfirmationRoundSettings
{
    [CommandOption("--school <CODE>")]
    [Description("The school whose changes wait.")]
    public string School { get; init; } = "";

    public override ValidationResult Validate() =>
        base.Validate() is { Successful: false } error ? error
        : string.IsNullOrWhiteSpace(School) ? ValidationResult.Error("Give --school CODE.")
        : ValidationResult.Success();
}

public sealed class ConfirmationDecideSettings : SdqSettings
{
    [CommandArgument(0, "<CHANGE_ID>")]
    [Description("The change (its number in `sdq confirmations pending`).")]
    public long ChangeId { get; init; }

    [CommandOption("--note <TEXT>")]
    [Description("Why (kept with the decision).")]
    public string? Note { get; init; }
}

/// <summary>Opens (or extends) a round's confirmation campaign: class teachers see their students while it is open.</summary>
public sealed class ConfirmationOpenCommand : AsyncCommand<ConfirmationOpenSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ConfirmationOpenSettings settings, CancellationToken cancellationToken)
    {
        DateOnly? until = settings.Until is null ? null
            : DateOnly.TryParseExact(settings.Until, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date
            : throw new UserErrorException(new UserMessage("Cli.ConfirmUntilInvalid", settings.Until));
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var campaign = await new ConfirmationStore(dataSource).OpenCampaignAsync(settings.Round, until, Account.Operator(SdqEnvironment.Actor), cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"The confirmation campaign of round {campaign.RoundCode} is open until {campaign.ClosesOn:yyyy-MM-dd} (Beijing date, inclusive): class teachers see their students and enter the parents' answers until then.");
        return 0;
    }
}

/// <summary>Closes a round's confirmation campaign now.</summary>
public sealed class ConfirmationCloseCommand : AsyncCommand<ConfirmationRoundSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ConfirmationRoundSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        await new ConfirmationStore(dataSource).CloseCampaignAsync(settings.Round, Account.Operator(SdqEnvironment.Actor), cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"The confirmation campaign of round {settings.Round} is closed: class teachers no longer see its students.");
        return 0;
    }
}

/// <summary>
/// Prints confirmation sheets: one PDF per class (of the round, a district, one school, or one class), each printing recorded
/// with its sheets, each PDF carrying its export's watermark (footer and metadata); a line per file written. One school's (or
/// one class's) sheets are a routine export, one record per PDF; a district's or the round's are a bulk export: one approved
/// request, one export record for the whole print (its watermark on every PDF, its sha256 the folder's manifest's).
/// </summary>
public sealed class ConfirmationPrintCommand : AsyncCommand<ConfirmationPrintSettings>
{
    /// <summary>The list of a bulk print's PDFs (file, school, class, sheets, sha256), whose sha256 the register records.</summary>
    public const string ManifestName = "export-manifest.csv";

    public override async Task<int> ExecuteAsync(CommandContext context, ConfirmationPrintSettings settings, CancellationToken cancellationToken)
    {
        var onlyClass = settings.Class is null ? null : ClassKey.Parse(settings.Class);
        if (onlyClass is not null && string.IsNullOrWhiteSpace(settings.School))
        {
            throw new UserErrorException(new UserMessage("Cli.ConfirmClassWithoutSchool", settings.Class!));
        }

        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var files = await PrintAsync(dataSource, CliExport.Taker, settings.Round, settings.School, settings.District, onlyClass, settings.English,
            settings.Output, settings.Request, settings.Purpose, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"{files.Count} PDF(s), {files.Sum(f => f.Sheets):N0} sheets, in {Path.GetFullPath(settings.Output)} (readable by you only). Each sheet shows a student's data: hand them to the class teachers, and delete the files once printed.");
        return 0;
    }

    /// <summary>One school's classes, or one class, into <paramref name="folder"/>: a routine export per PDF.</summary>
    public static Task<IReadOnlyList<(string Path, int Sheets)>> PrintAsync(NpgsqlDataSource dataSource, Account printer, string round, string? school,
        ClassKey? onlyClass, bool english, string folder, CancellationToken cancellationToken) =>
        PrintAsync(dataSource, printer, round, school, null, onlyClass, english, folder, null, null, cancellationToken);

    /// <summary>
    /// Prints the classes asked for, one PDF each, into <paramref name="folder"/> (made owner-only): every target file name is
    /// worked out and checked before the first class is printed, so that an existing file stops the command before anything is
    /// recorded; a bulk print (no school: the round, or a district) without an approved request is refused before anything is
    /// printed. Each PDF is printed under a temporary name and put in place once its export is on record. A line per file.
    /// </summary>
    public static async Task<IReadOnlyList<(string Path, int Sheets)>> PrintAsync(NpgsqlDataSource dataSource, Account printer, string round, string? school,
        string? district, ClassKey? onlyClass, bool english, string folder, long? requestId, string? purpose, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(printer);
        var roundId = await CliExport.RoundIdAsync(dataSource, round, cancellationToken);
        district = string.IsNullOrWhiteSpace(district) ? null : district.Trim();
        purpose = string.IsNullOrWhiteSpace(purpose) ? null : purpose.Trim();
        var bulk = school is null
            ? new ExportOrder(ExportKind.ConfirmationSheets, ExportForm.Full, district is null ? ExportScope.Province : ExportScope.District(district), roundId,
                purpose, requestId)
            : null;
        if (bulk is not null)
        {
            CliExport.RequireRequestWhenBulk(bulk, round, district);
        }

        var store = new ConfirmationStore(dataSource);
        var schools = school is not null ? [school] : await RoundSchoolsAsync(dataSource, round, district, cancellationToken);
        var classes = new List<(string School, ClassKey Class)>();
        foreach (var code in schools)
        {
            if (onlyClass is not null)
            {
                classes.Add((code, onlyClass));
                continue;
            }

            var ofSchool = await store.ClassesAsync(printer, round, code, cancellationToken);
            if (ofSchool.Count == 0 && school is not null)
            {
                throw new UserErrorException(new UserMessage("Cli.ConfirmSchoolHasNoClasses", school, round));
            }

            classes.AddRange(ofSchool.Select(c => (code, c.Class)));
        }

        if (classes.Count == 0)
        {
            throw new UserErrorException(new UserMessage("Cli.ConfirmRoundHasNoClasses", round));
        }

        var path = Path.GetFullPath(folder);
        var targets = new List<string>();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (code, key) in classes)
        {
            var name = FileName(code, key);
            for (var n = 2; !used.Add(name); n++)
            {
                name = Path.GetFileNameWithoutExtension(FileName(code, key)) + "-" + n.ToString(CultureInfo.InvariantCulture) + ".pdf";
            }

            var target = Path.Combine(path, name);
            if (File.Exists(target))
            {
                throw new UserErrorException(new UserMessage("Cli.ConfirmPdfExists", target));
            }

            targets.Add(target);
        }

        var manifest = Path.Combine(path, ManifestName);
        if (bulk is not null)
        {
            CliExport.RequireNew(manifest);
        }

        OwnerOnly.CreateDirectory(path);
        if (bulk is not null)
        {
            return await PrintBulkAsync(dataSource, store, printer, bulk, round, classes, targets, manifest, english, cancellationToken);
        }

        var written = new List<(string, int)>();
        for (var i = 0; i < classes.Count; i++)
        {
            var (code, key) = classes[i];
            var order = new ExportOrder(ExportKind.ConfirmationSheets, ExportForm.Full, ExportScope.Class(code, key.Grade, key.ClassName), roundId, purpose);
            var taken = await CliExport.TakeFileAsync(dataSource, printer, order, targets[i], sidecar: false, async (watermark, temporary, ct) =>
            {
                var printed = await store.PrintAsync(printer, round, code, key, sheets => ConfirmationSheetPdf.Render(sheets, english, watermark), english, ct);
                await OwnerOnly.WriteAllBytesAsync(temporary, printed.Pdf, ct);
                return (printed.Sheets.Count, ConfirmationFields.All);
            }, cancellationToken);
            written.Add((targets[i], taken.Rows));
            AnsiConsole.MarkupLineInterpolated($"   {code} {key}: {taken.Rows} sheets → {targets[i]} (export {ExportId.Format(taken.File.ExportId)})");
        }

        return written;
    }

    /// <summary>
    /// A bulk print: one taking of the approved request, every class's PDF printed with its watermark under a temporary name,
    /// and the manifest of the PDFs (file, school, class, sheets, sha256) as the file the register records; all put in place
    /// once the export is on record, none when it is refused or fails.
    /// </summary>
    private static async Task<IReadOnlyList<(string Path, int Sheets)>> PrintBulkAsync(NpgsqlDataSource dataSource, ConfirmationStore store, Account printer,
        ExportOrder order, string round, List<(string School, ClassKey Class)> classes, List<string> targets, string manifest, bool english,
        CancellationToken cancellationToken)
    {
        var suffix = "." + Guid.NewGuid().ToString("N")[..8] + ".partial";
        var temporaries = targets.Select(t => t + suffix).Append(manifest + suffix).ToList();
        var sheets = new int[classes.Count];
        try
        {
            var file = await CliExport.Register(dataSource).TakeAsync(printer, order, CliExport.From, async (watermark, ct) =>
            {
                var parts = new List<ExportPart>(classes.Count);
                using (var list = CsvTableWriter.Create(manifest + suffix, FileMode.CreateNew))
                {
                    list.WriteRow(["file", "school", "grade", "class", "sheets", "sha256", "export"]);
                    for (var i = 0; i < classes.Count; i++)
                    {
                        var (code, key) = classes[i];
                        var printed = await store.PrintAsync(printer, round, code, key, s => ConfirmationSheetPdf.Render(s, english, watermark), english, ct);
                        await OwnerOnly.WriteAllBytesAsync(temporaries[i], printed.Pdf, ct);
                        sheets[i] = printed.Sheets.Count;
                        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(printed.Pdf));
                        list.WriteRow(Path.GetFileName(targets[i]), code, key.Grade, key.ClassName, printed.Sheets.Count, sha256,
                            ExportId.Format(watermark.ExportId));
                        parts.Add(new ExportPart(Path.GetFileName(targets[i]), sha256));
                    }
                }

                // Each class's PDF is a part of the export: one found alone (its watermark stripped) is known by its bytes.
                return new ExportContent(ManifestName, sheets.Sum(), ConfirmationFields.All, FilePath: manifest + suffix, Parts: parts);
            }, cancellationToken);
            for (var i = 0; i < targets.Count; i++)
            {
                OwnerOnly.Move(temporaries[i], targets[i]);
                AnsiConsole.MarkupLineInterpolated($"   {classes[i].School} {classes[i].Class}: {sheets[i]} sheets → {targets[i]}");
            }

            OwnerOnly.Move(manifest + suffix, manifest);
            CliExport.Print(new UserMessage("Cli.ConfirmBulkTaken", ExportId.Format(file.ExportId), order.RequestId, manifest));
            return [.. targets.Select((t, i) => (t, sheets[i]))];
        }
        finally
        {
            foreach (var temporary in temporaries.Where(File.Exists))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>
    /// A class's file name: "&lt;school&gt;-&lt;grade&gt;年级&lt;class&gt;.pdf", the class name as the registry writes it with anything but
    /// letters, digits and - made "_" (a class name is data: it may hold a slash or dots), at most 40 characters of it.
    /// </summary>
    public static string FileName(string schoolCode, ClassKey key)
    {
        var name = new StringBuilder();
        foreach (var c in key.ClassName.Take(40))
        {
            name.Append(char.IsLetterOrDigit(c) || c == '-' ? c : '_');
        }

        var school = new string([.. schoolCode.Take(40).Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);
        return $"{school}-{key.Grade.ToString(CultureInfo.InvariantCulture)}年级{name}.pdf";
    }

    private static async Task<IReadOnlyList<string>> RoundSchoolsAsync(NpgsqlDataSource dataSource, string round, string? district,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT c.school_code FROM registry.current_record c JOIN registry.round r USING (round_id)
            WHERE  r.code = @round AND c.school_code IS NOT NULL
              AND  (@district::text IS NULL OR EXISTS (SELECT FROM registry.school s
                                                       WHERE s.round_id = c.round_id AND s.school_code = c.school_code AND s.district_code = @district))
            ORDER  BY c.school_code
            """);
        command.Parameters.AddWithValue("round", round);
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)district ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var schools = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            schools.Add(reader.GetString(0));
        }

        if (schools.Count == 0)
        {
            await using var exists = dataSource.CreateCommand("SELECT EXISTS (SELECT FROM registry.round WHERE code = @round)");
            exists.Parameters.AddWithValue("round", round);
            if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
            {
                throw new UserErrorException(new UserMessage("Cli.RoundNotFound", round));
            }

            if (district is not null)
            {
                throw new UserErrorException(new UserMessage("Cli.ConfirmDistrictHasNoSchools", district, round));
            }
        }

        return schools;
    }
}

/// <summary>The changes parents asked for at a school that wait for its registrar (identity fields, or values changed since the print).</summary>
public sealed class ConfirmationPendingCommand : AsyncCommand<ConfirmationPendingSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ConfirmationPendingSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var pending = await new ConfirmationStore(dataSource).PendingAsync(Account.Operator(SdqEnvironment.Actor), settings.Round, settings.School, cancellationToken);
        if (pending.Count == 0)
        {
            AnsiConsole.MarkupLineInterpolated($"No change waits at school {settings.School} in round {settings.Round}.");
            return 0;
        }

        // A line per change (not a table): a terminal of any width shows it whole, and it reads well in a log.
        foreach (var c in pending)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"  change {c.ChangeId}  sheet {SheetId.Format(c.SheetId)}  {c.StudentNo ?? ""} {c.StudentName ?? ""} ({c.Class})  {c.Field}: {c.CurrentValue ?? "(blank)"} → {c.NewValue}  (printed {c.PrintedValue ?? "(blank)"}; waits: {c.WaitsBecause}; signed {c.SignedOn:yyyy-MM-dd}, entered by {c.EnteredBy})");
        }

        AnsiConsole.MarkupLineInterpolated(
            $"{pending.Count} change(s) wait. With the signed sheet at hand: `sdq confirmations approve <change>` applies one, `sdq confirmations refuse <change> --note <why>` refuses it.");
        return 0;
    }
}

/// <summary>The registrar's decision on a change that waits, taken by the data team's operator: approved (applied and re-checked) or refused.</summary>
internal static class ConfirmationDecision
{
    public static async Task<int> DecideAsync(ConfirmationDecideSettings settings, bool approve, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var change = await new ConfirmationStore(dataSource, Hosting.JobHost.Checks(SdqEnvironment.Configuration))
            .DecideAsync(Account.Operator(SdqEnvironment.Actor), settings.ChangeId, approve, settings.Note, cancellationToken);
        if (change.Status == ChangeStatus.Applied)
        {
            AnsiConsole.MarkupLineInterpolated($"Change {change.ChangeId} ({change.Field}) is approved, applied to the record and re-checked.");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"Change {change.ChangeId} ({change.Field}) is {change.Status.ToString().ToLowerInvariant()}: the record keeps its value.");
        }

        return 0;
    }
}

/// <summary>Approves a change that waits: it is applied as a correction (lineage names the operator) and re-checked.</summary>
public sealed class ConfirmationApproveCommand : AsyncCommand<ConfirmationDecideSettings>
{
    public override Task<int> ExecuteAsync(CommandContext context, ConfirmationDecideSettings settings, CancellationToken cancellationToken) =>
        ConfirmationDecision.DecideAsync(settings, approve: true, cancellationToken);
}

/// <summary>Refuses a change that waits: it stays on record as refused.</summary>
public sealed class ConfirmationRefuseCommand : AsyncCommand<ConfirmationDecideSettings>
{
    public override Task<int> ExecuteAsync(CommandContext context, ConfirmationDecideSettings settings, CancellationToken cancellationToken) =>
        ConfirmationDecision.DecideAsync(settings, approve: false, cancellationToken);
}
