using System.ComponentModel;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Application.Training;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Files;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Web;

namespace StudentDataQuality.Cli.Commands;

public class TrainingSettings : SdqSettings
{
}

public sealed class TrainingCreateSettings : TrainingSettings
{
    [CommandOption("--schools <N>")]
    [Description("Schools of the generated practice province (1 to 200).")]
    public int? Schools { get; init; }

    [CommandOption("--trainees <T>")]
    [Description("Trainees, each with a school, a district and a class-teacher account (1 to the schools; default: one per school).")]
    public int? Trainees { get; init; }

    [CommandOption("--seed <S>")]
    [Description("Seed of the generated province: the same seed, the same practice round.")]
    [DefaultValue(2026)]
    public int Seed { get; init; } = 2026;

    [CommandOption("--students-per-school <K>")]
    [Description("Students per school (1 to 2000).")]
    [DefaultValue(30)]
    public int StudentsPerSchool { get; init; } = 30;

    [CommandOption("--out <FILE>")]
    [Description("Also write the accounts and their one-time passwords to this new CSV file, readable by you only.")]
    public string? Output { get; init; }
}

public sealed class TrainingResetSettings : TrainingSettings
{
    [CommandOption("--out <FILE>")]
    [Description("Also write the accounts and their new one-time passwords to this new CSV file, readable by you only.")]
    public string? Output { get; init; }
}

/// <summary>What the training commands share: the practice rounds beside the main database, and how accounts are printed.</summary>
internal static class Training
{
    public static PracticeRounds Rounds(SdqSettings settings)
    {
        var main = SdqEnvironment.MainConnectionString(settings.DataDirectory);
        var builder = new NpgsqlConnectionStringBuilder(main);
        var database = builder.Database ?? builder.Username ?? "postgres";
        return new PracticeRounds(main, database, SdqEnvironment.SigningKey(settings.DataDirectory), name =>
            {
                var password = Passwords.OneTime();
                return (password, Passwords.Hash(name, password));
            }, SdqEnvironment.SignInPolicy(), JobHost.Checks(SdqEnvironment.Configuration), SdqEnvironment.LoggerFactory);
    }

    /// <summary>Where the practice round's worksheets are kept: beside the program's files, a folder per practice database.</summary>
    public static string WorksheetsFolder(PracticeRounds rounds) => Path.Combine(SdqEnvironment.DataRoot(), "practice", rounds.Database, "worksheets");

    /// <summary>Refuses an --out file that exists, or whose folder does not, before anything is made.</summary>
    public static string? CheckOut(string? output)
    {
        if (output is null)
        {
            return null;
        }

        var path = Path.GetFullPath(output);
        if (File.Exists(path) || Directory.Exists(path))
        {
            throw new UserErrorException(new UserMessage("Cli.BulkOutExists", path));
        }

        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            throw new UserErrorException(new UserMessage("Cli.BulkOutFolderMissing", path));
        }

        return path;
    }

    /// <summary>The accounts and their one-time passwords, printed once (and written to the owner-only CSV when asked).</summary>
    public static async Task PrintAsync(PracticeAccounts made, string? path, CancellationToken cancellationToken)
    {
        // One line per account, never wrapped at the console's width: a password broken over two lines would be copied wrong.
        var validUntil = made.Accounts.Select(a => a.ValidUntil).DefaultIfEmpty(DateTimeOffset.UtcNow).Min();
        AnsiConsole.MarkupLineInterpolated($"One-time passwords, valid until {SdqEnvironment.ValidUntil(validUntil)}:");
        Console.Out.WriteLine($"{"Trainee",-8}{"Role",-14}{"Account",-22}{"One-time password",-19}School / district");
        foreach (var account in made.Accounts)
        {
            Console.Out.WriteLine(
                $"{account.Trainee?.ToString("00", CultureInfo.InvariantCulture) ?? "trainer",-8}{account.Role,-14}{account.Name,-22}{account.Password,-19}{(account.School is null ? "" : account.Class is null ? account.School : $"{account.School} {account.Class}")}");
        }

        Console.Out.Flush();
        if (path is not null)
        {
            var csv = new StringBuilder("trainee,role,account,school_or_district,class,one_time_password,valid_until\n");
            foreach (var account in made.Accounts)
            {
                csv.Append(string.Join(',', new[]
                {
                    account.Trainee?.ToString(CultureInfo.InvariantCulture) ?? "trainer", account.Role, account.Name, account.School ?? "", account.Class ?? "",
                    account.Password, SdqEnvironment.ValidUntil(account.ValidUntil),
                }.Select(Cell))).Append('\n');
            }

            await OwnerOnly.WriteAllTextAsync(path, csv.ToString(), cancellationToken);
            AnsiConsole.MarkupLineInterpolated($"The passwords are also in {path} (readable by you only). Hand them out, then delete the file: they are not kept anywhere else.");
        }

        AnsiConsole.MarkupLineInterpolated(
            $"These passwords are shown once. Trainees sign in to the practice portal (sdq web --practice); the first sign-in asks for a new password. Every page and file says {StudentDataQuality.Data.Training.Practice.Label}.");
    }

    private static string Cell(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}

/// <summary>
/// sdq training create: a practice round on a generated province in a database of its own, with practice accounts for
/// every trainee (printed once) and a start snapshot for resets.
/// </summary>
public sealed class TrainingCreateCommand : AsyncCommand<TrainingCreateSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TrainingCreateSettings settings, CancellationToken cancellationToken)
    {
        var schools = settings.Schools ?? throw new UserErrorException(new UserMessage("Cli.TrainingSchoolsMissing"));
        if (schools is < 1 or > 200)
        {
            throw new UserErrorException(new UserMessage("Training.SchoolsOutOfRange", schools));
        }

        var trainees = settings.Trainees ?? schools;
        if (trainees < 1 || trainees > schools)
        {
            throw new UserErrorException(new UserMessage("Training.TraineesOutOfRange", trainees, schools));
        }

        if (settings.StudentsPerSchool is < 1 or > 2000)
        {
            throw new UserErrorException(new UserMessage("Cli.TrainingStudentsOutOfRange", settings.StudentsPerSchool));
        }

        var path = Training.CheckOut(settings.Output);
        var rounds = Training.Rounds(settings);
        var exists = await rounds.ExistsAsync(cancellationToken);
        if (exists.Practice || exists.Start)
        {
            throw new UserErrorException(new UserMessage("Cli.TrainingExists", exists.Practice ? rounds.Database : rounds.StartDatabase));
        }

        var province = Path.Combine(Path.GetTempPath(), "sdq-practice-" + Guid.NewGuid().ToString("N"));
        try
        {
            AnsiConsole.MarkupLineInterpolated($"Generating a practice province of {schools} schools (seed {settings.Seed})…");
            var options = new GeneratorOptions
            {
                Schools = schools, Students = schools * settings.StudentsPerSchool, Seed = settings.Seed, DefectRate = 0.08, OutputDirectory = province,
            };
            var generated = await GenerateCommand.Generate(options, cancellationToken);
            AnsiConsole.MarkupLineInterpolated($"Making the practice database {rounds.Database}: extract, checks, worksheets, accounts…");
            var worksheets = Training.WorksheetsFolder(rounds);
            if (Directory.Exists(worksheets))
            {
                Directory.Delete(worksheets, recursive: true);
            }

            var made = await rounds.CreateAsync(new PracticeOptions(schools, trainees, settings.Seed, SdqEnvironment.Actor) { RuleHelp = WebCommand.PublicAddress() },
                new PracticeProvince(generated.ExportDirectory, options.RoundDate), worksheets, cancellationToken);
            AnsiConsole.MarkupLineInterpolated(
                $"[green]Practice round {made.Info.RoundCode} made[/] in database {made.Database} ({schools} schools, {trainees} trainees; start kept in {rounds.StartDatabase}). Worksheets: {worksheets}");
            await Training.PrintAsync(made, path, cancellationToken);
            return 0;
        }
        finally
        {
            if (Directory.Exists(province))
            {
                Directory.Delete(province, recursive: true);
            }
        }
    }
}

/// <summary>sdq training reset: the practice round back to its start, and new one-time passwords for every practice account.</summary>
public sealed class TrainingResetCommand : AsyncCommand<TrainingResetSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TrainingResetSettings settings, CancellationToken cancellationToken)
    {
        var path = Training.CheckOut(settings.Output);
        var made = await Training.Rounds(settings).ResetAsync(SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"[green]Practice round {made.Info.RoundCode} is back at its start[/] (database {made.Database}); the old passwords no longer work.");
        await Training.PrintAsync(made, path, cancellationToken);
        return 0;
    }
}

/// <summary>sdq training remove: drops the practice database and its start snapshot, and the practice worksheets.</summary>
public sealed class TrainingRemoveCommand : AsyncCommand<TrainingSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TrainingSettings settings, CancellationToken cancellationToken)
    {
        var rounds = Training.Rounds(settings);
        var removed = await rounds.RemoveAsync(cancellationToken);
        var folder = Path.GetDirectoryName(Training.WorksheetsFolder(rounds))!;
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        if (removed.Count == 0)
        {
            // Nothing to remove is what was asked for: said, and not an error (a script may remove before it creates).
            AnsiConsole.MarkupLineInterpolated($"There is no practice round (no database {rounds.Database}); nothing was removed.");
            return 0;
        }

        AnsiConsole.MarkupLineInterpolated($"Removed the practice round: databases {string.Join(", ", removed)}, and its worksheets.");
        return 0;
    }
}

/// <summary>sdq training progress: the trainer's table, each trainee's school and how far it came.</summary>
public sealed class TrainingProgressCommand : AsyncCommand<TrainingSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TrainingSettings settings, CancellationToken cancellationToken)
    {
        var rounds = Training.Rounds(settings);
        var info = await rounds.InfoAsync(cancellationToken);
        var progress = await rounds.ProgressAsync(cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"Practice round {info.RoundCode} ({info.Schools} schools, {info.Trainees} trainees; made {info.CreatedAt.ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd HH:mm}{(info.ResetAt is { } reset ? $", reset {reset.ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd HH:mm}" : "")} Beijing time)");
        // Plain lines, never wrapped at the console's width (a trainer may well pipe it to a file).
        Console.Out.WriteLine($"{"Trainee",-8}{"School",-13}{"School account",-22}{"Downloaded",-11}{"Returns",-8}{"Certified",-17}{"Errors open",-12}Warnings open");
        foreach (var row in progress)
        {
            var certified = row.CertifiedAt is { } at ? at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "no";
            Console.Out.WriteLine(
                $"{row.Trainee.Number.ToString("00", CultureInfo.InvariantCulture),-8}{row.Trainee.SchoolCode,-13}{row.Trainee.SchoolAccount,-22}{(row.Downloaded ? "yes" : "no"),-11}{row.Returns,-8}{certified,-17}{row.OpenErrors,-12}{row.OpenWarnings}");
        }

        Console.Out.Flush();
        return 0;
    }
}
