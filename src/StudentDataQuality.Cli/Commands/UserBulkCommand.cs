using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Application;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Files;
using StudentDataQuality.Files;
using StudentDataQuality.Web;

namespace StudentDataQuality.Cli.Commands;

public sealed class UserBulkSettings : SdqSettings
{
    [CommandOption("--schools")]
    [Description("An account school-<school code> for every school of the school master that has none.")]
    public bool Schools { get; init; }

    [CommandOption("--districts")]
    [Description("An account district-<district code> for every district of the school master that has none.")]
    public bool Districts { get; init; }

    [CommandOption("--class-teachers")]
    [Description("An account ct-<school code>-<grade>-<n> for every class of the round's records (--round) that has no class teacher.")]
    public bool ClassTeachers { get; init; }

    [CommandOption("--district <CODE>")]
    [Description("Only the schools (or the district, or the class teachers) of this district.")]
    public string? District { get; init; }

    [CommandOption("--school <CODE>")]
    [Description("With --class-teachers: only the classes of this school.")]
    public string? School { get; init; }

    [CommandOption("--round <CODE>")]
    [Description("The round whose school master is read (default: the newest round that has one); with --class-teachers, the round whose classes are read.")]
    public string? Round { get; init; }

    [CommandOption("--out <FILE>")]
    [Description("The new CSV file of the accounts and their one-time passwords (UTF-8 with BOM, owner-only; never overwritten).")]
    public string Output { get; init; } = "";

    public override ValidationResult Validate() =>
        (Schools ? 1 : 0) + (Districts ? 1 : 0) + (ClassTeachers ? 1 : 0) != 1 ? ValidationResult.Error("Give one of --schools, --districts or --class-teachers.")
        : ClassTeachers && string.IsNullOrWhiteSpace(Round) ? ValidationResult.Error("Give --round CODE: the round whose classes get class teachers.")
        : School is not null && !ClassTeachers ? ValidationResult.Error("--school is for --class-teachers only.")
        : Output.Length == 0 ? ValidationResult.Error("Give --out FILE: the new file that receives the one-time passwords.")
        : ValidationResult.Success();
}

/// <summary>
/// Accounts for every school (or district) of the school master that has none, each with a one-time password, written
/// once to a new owner-only CSV for the data team to hand out; existing accounts are left as they are.
/// </summary>
public sealed class UserBulkCommand : AsyncCommand<UserBulkSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, UserBulkSettings settings, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(settings.Output);
        // Checked before anything is made; the file is created with CreateNew as well, so a file appearing meanwhile is not overwritten either.
        if (File.Exists(path) || Directory.Exists(path))
        {
            throw new UserErrorException(new UserMessage("Cli.BulkOutExists", path));
        }

        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            throw new UserErrorException(new UserMessage("Cli.BulkOutFolderMissing", path));
        }

        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        if (settings.ClassTeachers)
        {
            return await ClassTeachersAsync(dataSource, settings, path, cancellationToken);
        }

        var role = settings.Schools ? AccountRole.School : AccountRole.District;
        var store = new AccountStore(dataSource);
        var candidates = await store.CandidatesAsync(role, settings.District, settings.Round, cancellationToken);
        var what = settings.Schools ? "school" : "district";
        if (candidates.Count == 0)
        {
            // Which school master was searched, rendered now: the command line speaks one language throughout.
            var scope = (settings.Round, settings.District) switch
            {
                (null, null) => "",
                ({ } round, null) => new UserMessage("Cli.BulkScopeRound", round).ToString(),
                (null, { } district) => new UserMessage("Cli.BulkScopeDistrict", district).ToString(),
                ({ } round, { } district) => new UserMessage("Cli.BulkScopeRoundDistrict", round, district).ToString(),
            };
            throw new UserErrorException(settings.Schools ? new UserMessage("Cli.BulkNoSchools", scope) : new UserMessage("Cli.BulkNoDistricts", scope));
        }

        var missing = candidates.Where(c => !c.Exists).ToArray();
        var skipped = candidates.Count - missing.Length;
        if (missing.Length == 0)
        {
            AnsiConsole.MarkupLineInterpolated($"Every {what} already has an account ({skipped} skipped); nothing was created and no file was written.");
            return 0;
        }

        // PBKDF2 costs tens of milliseconds per password by design: spread over the cores.
        var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
        var hashed = new (Account Account, string PasswordHash)[missing.Length];
        foreach (var candidate in missing)
        {
            passwords[candidate.Account.Name] = Passwords.OneTime();
        }

        Parallel.For(0, missing.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            hashed[i] = (missing[i].Account, Passwords.Hash(missing[i].Account.Name, passwords[missing[i].Account.Name])));

        var names = missing.ToDictionary(c => c.Account.Name, StringComparer.Ordinal);
        var validUntil = DateTimeOffset.UtcNow + SdqEnvironment.SignInPolicy().OneTimePasswordLifetime;
        var created = false;
        IReadOnlyList<Account> added;
        try
        {
            added = await store.AddWithOneTimePasswordsAsync(hashed, async (accounts, ct) =>
            {
                var sha256 = await WriteAsync(path, accounts.Select(a => names[a.Name]), passwords, validUntil, () => created = true, ct);
                return new BulkRecord(path, sha256);
            }, SdqEnvironment.Actor, validUntil, cancellationToken);
        }
        catch when (created)
        {
            // Nothing was committed: passwords of accounts that do not exist must not lie around.
            File.Delete(path);
            throw;
        }

        var meanwhile = missing.Length - added.Count;
        AnsiConsole.MarkupLineInterpolated(
            $"Created {added.Count} {what} accounts with one-time passwords (valid until {SdqEnvironment.ValidUntil(validUntil)}, changed at first sign-in); {skipped} {what}s already had one{(meanwhile > 0 ? $", {meanwhile} were made meanwhile by someone else" : "")}.");
        AnsiConsole.MarkupLineInterpolated(
            $"The passwords are in {path} (readable by you only). Hand them out, then delete the file: they are not kept anywhere else.");
        return 0;
    }

    /// <summary>
    /// A class teacher for every class of the round that has none (ct-&lt;school&gt;-&lt;grade&gt;-&lt;n&gt;), each with its class and a
    /// one-time password, the same way as the school accounts: one transaction, one audit entry, one new owner-only file.
    /// </summary>
    private static async Task<int> ClassTeachersAsync(Npgsql.NpgsqlDataSource dataSource, UserBulkSettings settings, string path, CancellationToken cancellationToken)
    {
        var store = new AccountStore(dataSource);
        if (!await RoundExistsAsync(dataSource, settings.Round!, cancellationToken))
        {
            throw new UserErrorException(new UserMessage("Cli.RoundNotFound", settings.Round!));
        }

        var candidates = await store.ClassTeacherCandidatesAsync(settings.Round!, settings.School, settings.District, cancellationToken);
        if (candidates.Count == 0)
        {
            throw new UserErrorException(new UserMessage("Cli.BulkNoClasses", settings.Round!,
                settings.School is { } school ? new UserMessage("Cli.BulkScopeSchool", school).ToString()
                : settings.District is { } district ? new UserMessage("Cli.BulkScopeDistrict", district).ToString() : ""));
        }

        var missing = candidates.Where(c => !c.Exists).ToArray();
        var skipped = candidates.Count - missing.Length;
        if (missing.Length == 0)
        {
            AnsiConsole.MarkupLineInterpolated($"Every class already has a class teacher ({skipped} skipped); nothing was created and no file was written.");
            return 0;
        }

        var passwords = missing.ToDictionary(c => c.Account.Name, _ => Passwords.OneTime(), StringComparer.Ordinal);
        var hashed = new (Account Account, string PasswordHash, ClassKey Class)[missing.Length];
        Parallel.For(0, missing.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            hashed[i] = (missing[i].Account, Passwords.Hash(missing[i].Account.Name, passwords[missing[i].Account.Name]), missing[i].Class));

        var names = missing.ToDictionary(c => c.Account.Name, StringComparer.Ordinal);
        var validUntil = DateTimeOffset.UtcNow + SdqEnvironment.SignInPolicy().OneTimePasswordLifetime;
        var until = SdqEnvironment.ValidUntil(validUntil);
        var created = false;
        IReadOnlyList<Account> added;
        try
        {
            added = await store.AddClassTeachersWithOneTimePasswordsAsync(hashed, async (accounts, ct) =>
            {
                var rows = new List<IEnumerable<string?>>
                {
                    new[] { "账号 account", "学校标识码 school_code", "学校名称 school_name", "班级 class", "学生数 students", "区县 district", "一次性密码 one_time_password", "有效期至 valid_until" },
                };
                foreach (var c in accounts.Select(a => names[a.Name]))
                {
                    rows.Add([c.Account.Name, c.Account.SchoolCode, c.SchoolName, c.Class.ToString(), c.Students.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        c.DistrictCode, passwords[c.Account.Name], until]);
                }

                var sha256 = await WriteAsync(path, rows, () => created = true, ct);
                return new BulkRecord(path, sha256);
            }, SdqEnvironment.Actor, validUntil, cancellationToken);
        }
        catch when (created)
        {
            File.Delete(path);
            throw;
        }

        var meanwhile = missing.Length - added.Count;
        AnsiConsole.MarkupLineInterpolated(
            $"Created {added.Count} class teacher accounts with one-time passwords (valid until {until}, changed at first sign-in), each with its class; {skipped} classes already had one{(meanwhile > 0 ? $", {meanwhile} were made meanwhile by someone else" : "")}.");
        AnsiConsole.MarkupLineInterpolated(
            $"The passwords are in {path} (readable by you only). Hand them out, then delete the file: they are not kept anywhere else.");
        return 0;
    }

    private static async Task<bool> RoundExistsAsync(Npgsql.NpgsqlDataSource dataSource, string round, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT FROM registry.round WHERE code = @round)");
        command.Parameters.AddWithValue("round", round);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>The new file (owner-only from its creation, never over another), UTF-8 with BOM for Excel; returns its sha256.</summary>
    private static Task<string> WriteAsync(string path, IEnumerable<AccountCandidate> accounts, IReadOnlyDictionary<string, string> passwords,
        DateTimeOffset validUntil, Action created, CancellationToken cancellationToken)
    {
        var rows = new List<IEnumerable<string?>>
        {
            new[] { "账号 account", "学校标识码 school_code", "学校名称 school_name", "区县 district", "一次性密码 one_time_password", "有效期至 valid_until" },
        };
        var until = SdqEnvironment.ValidUntil(validUntil);
        foreach (var c in accounts)
        {
            var district = c.Account.DistrictCode is null ? "" : c.DistrictName is { Length: > 0 } name ? $"{c.Account.DistrictCode} {name}" : c.Account.DistrictCode;
            rows.Add([c.Account.Name, c.Account.SchoolCode, c.SchoolName, district, passwords[c.Account.Name], until]);
        }

        return WriteAsync(path, rows, created, cancellationToken);
    }

    private static async Task<string> WriteAsync(string path, IReadOnlyList<IEnumerable<string?>> rows, Action created, CancellationToken cancellationToken)
    {
        var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: true).GetPreamble().Concat(Encoding.UTF8.GetBytes(CsvTableWriter.Text(rows))).ToArray();
        FileStream file;
        try
        {
            file = OwnerOnly.Create(path, FileMode.CreateNew);
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new UserErrorException(new UserMessage("Cli.BulkOutAppeared", path));
        }

        await using (file)
        {
            created();
            await file.WriteAsync(bytes, cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Flush(flushToDisk: true);
        }

        return Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
    }
}
