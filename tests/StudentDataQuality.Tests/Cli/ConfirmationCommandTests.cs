using System.Diagnostics;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Cli;

/// <summary>One database with a staged round ("cli", 4 schools) for the command line's class-teacher and confirmation tests.</summary>
public sealed class ConfirmationCliRound : IAsyncLifetime
{
    public const string Round = "cli";
    private readonly TempFolder _temp = new();

    public DatabaseFixture Database { get; } = new();
    public string Folder => _temp.Path;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 400, Schools = 4, Seed = 41, DefectRate = 0.02, OutputDirectory = Path.Combine(_temp.Path, "province"),
        });
        await new ExtractService(Database.DataSource).ExtractFilesAsync(new ExtractRequest(Round, "test") { RoundDate = new DateOnly(2026, 10, 15) },
            [province.ExportDirectory]);
    }

    /// <summary>A school of the round (by its place in the order of most classes first) and its classes with their students.</summary>
    public async Task<(string School, IReadOnlyList<(ClassKey Class, int Students)> Classes)> SchoolAsync(int index)
    {
        var schools = await Database.ScalarAsync<string[]>("""
            SELECT array_agg(school_code ORDER BY classes DESC, school_code)
            FROM   (SELECT school_code, count(DISTINCT (grade, class_name)) AS classes FROM registry.current_record
                    WHERE school_code IS NOT NULL AND grade BETWEEN 1 AND 12 GROUP BY school_code) s
            """);
        var school = schools[index];
        return (school, await new AccountStore(Database.DataSource).SchoolClassesAsync(school, Round));
    }

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        _temp.Dispose();
    }
}

/// <summary>
/// The command line's part of parents' confirmations (docs/confirmations.md, "Command line and the demo"), run as the program
/// itself on a real database: class-teacher accounts one by one and in bulk, and the printed sheets, one PDF per class.
/// </summary>
public sealed class ConfirmationCommandTests(ConfirmationCliRound round) : IClassFixture<ConfirmationCliRound>
{
    private DatabaseFixture Db => round.Database;

    [Fact]
    public async Task UserAdd_MakesAClassTeacher_WithItsClasses_Audited()
    {
        var (school, classes) = await round.SchoolAsync(0);
        Assert.True(classes.Count >= 2, $"school {school} has {classes.Count} classes");

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "user", "add", "ct-one", "--role", "class-teacher", "--school", school, "--class", classes[0].Class.ToString(), "--class",
            $"{classes[1].Class.Grade}/{classes[1].Class.ClassName}");

        Assert.True(exit == 0, output);
        Assert.Equal($"class_teacher {school}", await Db.ScalarAsync<string>("SELECT role || ' ' || school_code FROM access.account WHERE account = 'ct-one'"));
        Assert.Equal(new[] { classes[0].Class, classes[1].Class }.OrderBy(c => c.Grade).ThenBy(c => c.ClassName.Length).ThenBy(c => c.ClassName, StringComparer.Ordinal),
            await new AccountStore(Db.DataSource).ClassesOfAsync("ct-one"));
        Assert.Equal("account.add,account.classes", await Db.ScalarAsync<string>(
            "SELECT string_agg(action, ',' ORDER BY event_id) FROM audit.event WHERE object = 'ct-one'"));
        Assert.Contains(classes[0].Class.ToString(), output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserAdd_RefusesAClassWithoutItsGrade_AndAClassTheSchoolLacks_SayingWhatToWrite()
    {
        var (school, classes) = await round.SchoolAsync(1);

        var (noGrade, noGradeOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "user", "add", "ct-nograde", "--role", "class-teacher", "--school", school, "--class", "3班");
        var (lacking, lackingOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "user", "add", "ct-lacking", "--role", "class-teacher", "--school", school, "--class", "12年级99班");

        Assert.Equal(2, noGrade);
        Assert.Contains("\"3班\" is not a class: write --class as \"4年级3班\"", noGradeOutput, StringComparison.Ordinal);
        Assert.Equal(2, lacking);
        Assert.Contains($"School {school} has no class \"12年级99班\" in its newest round", lackingOutput, StringComparison.Ordinal);
        Assert.Contains(classes[0].Class.ToString(), lackingOutput, StringComparison.Ordinal);
        Assert.Contains("--class", lackingOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", lackingOutput, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM access.account WHERE account IN ('ct-nograde', 'ct-lacking')"));
    }

    [Fact]
    public async Task UserBulk_MakesAClassTeacherForEveryClass_WithOneTimePasswords_InAnOwnerOnlyFile_AndLeavesThemTheNextTime()
    {
        var (school, classes) = await round.SchoolAsync(2);
        var file = Path.Combine(round.Folder, "class-teachers.csv");

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "user", "bulk", "--class-teachers", "--round", ConfirmationCliRound.Round, "--school", school, "--out", file);

        Assert.True(exit == 0, output);
        Assert.Equal(classes.Count, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM access.account a JOIN access.account_class k USING (account) WHERE a.role = 'class_teacher' AND a.school_code = @s",
            ("s", school)));
        Assert.Equal(classes.Count, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM access.account WHERE school_code = @s AND account LIKE 'ct-' || @s || '-%' AND must_change_password AND password_hash IS NOT NULL",
            ("s", school)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(file));
        var lines = File.ReadAllLines(file).Where(l => l.Length > 0).ToArray();
        Assert.Equal(classes.Count + 1, lines.Length);
        Assert.Contains(lines, l => l.StartsWith($"ct-{school}-{classes[0].Class.Grade}-1,", StringComparison.Ordinal)
            && l.Contains(classes[0].Class.ToString(), StringComparison.Ordinal));
        Assert.Equal(1L, await Db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'account.bulk-add' AND object = @f AND (details->>'created')::int = @n",
            ("f", file), ("n", classes.Count)));
        // Which class each account may read is on record too.
        Assert.Equal(classes.Count, await Db.ScalarAsync<int>(
            "SELECT jsonb_array_length(details->'classes') FROM audit.event WHERE action = 'account.bulk-add' AND object = @f", ("f", file)));
        Assert.True(await Db.ScalarAsync<bool>("""
            SELECT EXISTS (SELECT FROM audit.event e, jsonb_array_elements(e.details->'classes') c
                           WHERE e.action = 'account.bulk-add' AND e.object = @f AND c->>0 = @a AND (c->>2)::int = @g AND c->>3 = @c)
            """, ("f", file), ("a", $"ct-{school}-{classes[0].Class.Grade}-1"), ("g", classes[0].Class.Grade), ("c", classes[0].Class.ClassName)));

        var again = Path.Combine(round.Folder, "again.csv");
        var (second, secondOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "user", "bulk", "--class-teachers", "--round", ConfirmationCliRound.Round, "--school", school, "--out", again);
        Assert.True(second == 0, secondOutput);
        Assert.Contains("Every class already has a class teacher", secondOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(again));
    }

    [Fact]
    public async Task ConfirmationsPrint_WritesOnePdfPerClass_OnePagePerStudent()
    {
        var (school, classes) = await round.SchoolAsync(3);
        var folder = Path.Combine(round.Folder, "sheets");

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "print", "--round", ConfirmationCliRound.Round, "--school", school, "--out", folder);

        Assert.True(exit == 0, output);
        var files = Directory.GetFiles(folder, "*.pdf");
        Assert.Equal(classes.Count, files.Length);
        foreach (var (key, students) in classes)
        {
            var path = Path.Combine(folder, StudentDataQuality.Cli.Commands.ConfirmationPrintCommand.FileName(school, key));
            Assert.True(File.Exists(path), path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(path));
            Assert.Contains(path, output, StringComparison.Ordinal);
            var text = await PdfTextAsync(path);
            // pdftotext ends every page with a form feed.
            Assert.Equal(students, text.Count(c => c == '\f'));
        }

        Assert.Equal(classes.Sum(c => c.Students), await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.sheet WHERE school_code = @s", ("s", school)));
        Assert.True(await Db.ScalarAsync<bool>("SELECT confirm.campaign_open(round_id) FROM registry.round WHERE code = 'cli'"));

        // The same folder again: refused before anything is printed.
        var (again, againOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "print", "--round", ConfirmationCliRound.Round, "--school", school, "--out", folder);
        Assert.Equal(2, again);
        Assert.Contains("exists already; no sheet was printed", againOutput, StringComparison.Ordinal);
        Assert.Equal(classes.Sum(c => c.Students), await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.sheet WHERE school_code = @s", ("s", school)));
    }

    [Fact]
    public async Task ConfirmationsPending_ListsAParentsNameChange_AndApprove_AppliesIt()
    {
        var (school, classes) = await round.SchoolAsync(0);
        var store = new ConfirmationStore(Db.DataSource);
        var team = Account.Operator("test");
        var printed = await store.PrintAsync(team, ConfirmationCliRound.Round, school, classes[^1].Class, _ => [0x25, 0x50, 0x44, 0x46]);
        var sheet = printed.Sheets[0];
        var today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
        var outcome = Assert.Single(await store.AnswerAsync(team, [new SheetAnswer(sheet.SheetId, today, new Dictionary<string, string> { ["name"] = "王小明" })]));
        var change = Assert.Single(outcome.Changes);
        Assert.Equal(ChangeStatus.Pending, change.Status);

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "pending", "--round", ConfirmationCliRound.Round, "--school", school);
        Assert.True(exit == 0, output);
        Assert.Contains(SheetId.Format(sheet.SheetId), output, StringComparison.Ordinal);
        Assert.Contains("王小明", output, StringComparison.Ordinal);

        var (approved, approvedOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "approve", change.ChangeId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--note", "seen the household register");
        Assert.True(approved == 0, approvedOutput);
        Assert.Equal("applied", await Db.ScalarAsync<string>("SELECT status FROM confirm.change WHERE change_id = @c", ("c", change.ChangeId)));
        Assert.Equal("王小明", await Db.ScalarAsync<string>("SELECT name_raw FROM registry.current_record WHERE record_id = @r", ("r", sheet.RecordId)));

        var (twice, twiceOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "refuse", change.ChangeId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(2, twice);
        Assert.DoesNotContain("   at ", twiceOutput, StringComparison.Ordinal);
    }

    private static UnixFileMode Mode(string path) => OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(path);

    private static async Task<string> PdfTextAsync(string path)
    {
        var info = new ProcessStartInfo("pdftotext") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-layout");
        info.ArgumentList.Add(path);
        info.ArgumentList.Add("-");
        using var process = Process.Start(info)!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return text;
    }
}
