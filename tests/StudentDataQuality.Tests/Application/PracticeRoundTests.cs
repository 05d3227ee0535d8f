using Npgsql;
using StudentDataQuality.Application.Training;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Training;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Application;

/// <summary>
/// A practice round made on the test cluster beside a main database of its own (a unique name per test, so that the practice
/// database's name is unique too), with what a test needs to look at both; disposing removes both practice databases and the
/// main one.
/// </summary>
public sealed class PracticeScenario : IAsyncDisposable
{
    private readonly TempFolder _temp = new();

    private PracticeScenario(string mainName, string mainConnectionString, PracticeRounds rounds)
    {
        MainName = mainName;
        MainConnectionString = mainConnectionString;
        Main = NpgsqlDataSource.Create(mainConnectionString);
        Rounds = rounds;
    }

    public string MainName { get; }
    public string MainConnectionString { get; }
    public NpgsqlDataSource Main { get; }
    public PracticeRounds Rounds { get; }
    public PracticeAccounts Made { get; private set; } = null!;
    public GenerationResult Province { get; private set; } = null!;
    public string Worksheets => Path.Combine(_temp.Path, "worksheets");
    public const int Seed = 41;

    /// <param name="seedMain">What the main database holds before the practice round is made (given the main database and a
    /// folder of the scenario's); none: it stays empty.</param>
    public static async Task<PracticeScenario> CreateAsync(int schools, int trainees, Func<NpgsqlDataSource, string, Task>? seedMain = null)
    {
        var (name, connectionString) = await TestDatabase.CreateAsync();
        var rounds = new PracticeRounds(await TestDatabase.AdminConnectionStringAsync(), name, IngestScenario.Key, OneTimePassword);
        var scenario = new PracticeScenario(name, connectionString, rounds);
        if (seedMain is not null)
        {
            await seedMain(scenario.Main, scenario._temp.Path);
        }

        scenario.Province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Schools = schools, Students = schools * 30, Seed = Seed, DefectRate = 0.08, OutputDirectory = Path.Combine(scenario._temp.Path, "province"),
        });
        scenario.Made = await rounds.CreateAsync(new PracticeOptions(schools, trainees, Seed, "test-trainer"),
            new PracticeProvince(scenario.Province.ExportDirectory, new DateOnly(2026, 10, 15)), scenario.Worksheets);
        return scenario;
    }

    public static (string Password, string Hash) OneTimePassword(string account)
    {
        var password = Passwords.OneTime();
        return (password, Passwords.Hash(account, password));
    }

    /// <summary>A connection to the practice database as its owner, for a test to look at it.</summary>
    public NpgsqlDataSource OpenPractice() => NpgsqlDataSource.Create(Rounds.ConnectionString);

    public async Task<T> PracticeScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var dataSource = OpenPractice();
        await using var command = dataSource.CreateCommand(sql);
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task<T> MainScalarAsync<T>(string sql)
    {
        await using var command = Main.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await Rounds.RemoveAsync();
        await Main.DisposeAsync();
        await TestDatabase.DropAsync(MainName);
        _temp.Dispose();
    }
}

/// <summary>Practice rounds made, reset and removed by <see cref="PracticeRounds"/> on the real test cluster.</summary>
public sealed class PracticeRoundTests
{
    [Fact]
    public async Task Create_MakesAMarkedPracticeDatabase_WithTheSchoolsTheTraineesTheirAccounts_AndIssuedWorksheets_AndNothingInTheMainDatabase()
    {
        await using var practice = await PracticeScenario.CreateAsync(schools: 6, trainees: 3);
        var mainAudit = await practice.MainScalarAsync<long>("SELECT count(*) FROM audit.event");

        Assert.Equal(practice.MainName + "_practice", practice.Rounds.Database);
        Assert.Equal((true, true), await practice.Rounds.ExistsAsync());
        await using (var dataSource = practice.OpenPractice())
        {
            var info = await Practice.FindAsync(dataSource);
            Assert.NotNull(info);
            Assert.Equal(("practice", PracticeScenario.Seed, 6, 3, "test-trainer"), (info.RoundCode, info.Seed, info.Schools, info.Trainees, info.CreatedBy));
            Assert.Null(info.ResetAt);
            var trainees = await Practice.TraineesAsync(dataSource);
            Assert.Equal([1, 2, 3], trainees.Select(t => t.Number));
            Assert.Equal(3, trainees.Select(t => t.SchoolCode).Distinct().Count());
            Assert.All(trainees, t => Assert.NotNull(t.ClassTeacherAccount));
        }

        Assert.Equal(6L, await practice.PracticeScalarAsync<long>(
            "SELECT count(DISTINCT school_code) FROM registry.school s JOIN registry.round r USING (round_id) WHERE r.code = 'practice' AND s.school_code IS NOT NULL"));
        // Each trainee's three accounts and their roles, bound to its school and that school's district; one trainer.
        Assert.Equal(3L, await practice.PracticeScalarAsync<long>("""
            SELECT count(*) FROM training.trainee t
            JOIN access.account s ON s.account = t.school_account AND s.role = 'school' AND s.school_code = t.school_code
            JOIN access.account d ON d.account = t.district_account AND d.role = 'district' AND d.district_code = t.district_code
            JOIN access.account c ON c.account = t.class_teacher_account AND c.role = 'class_teacher' AND c.school_code = t.school_code
            JOIN registry.school rs ON rs.school_code = t.school_code AND rs.district_code = t.district_code
            """));
        Assert.Equal("data_team", await practice.PracticeScalarAsync<string>("SELECT role FROM access.account WHERE account = 'practice-trainer'"));
        Assert.All(practice.Made.Accounts, a => Assert.StartsWith("practice-", a.Name, StringComparison.Ordinal));
        Assert.Equal(1 + 3 * 3, practice.Made.Accounts.Count);
        Assert.Equal(practice.Made.Accounts.Count, practice.Made.Accounts.Select(a => a.Password).Distinct().Count());
        // Every trainee's school has an issued worksheet with problems, its file on disk.
        Assert.Equal(3L, await practice.PracticeScalarAsync<long>("""
            SELECT count(DISTINCT t.school_code) FROM training.trainee t JOIN exchange.worksheet w USING (school_code)
            WHERE  EXISTS (SELECT 1 FROM quality.finding f WHERE f.round_id = w.round_id AND f.school_code = t.school_code AND f.status = 'open')
            """));
        Assert.NotEmpty(Directory.EnumerateFiles(practice.Worksheets, "*.xlsx", SearchOption.AllDirectories));
        var progress = await practice.Rounds.ProgressAsync();
        Assert.All(progress, p => Assert.False(p.Downloaded));
        Assert.All(progress, p => Assert.True(p.OpenErrors + p.OpenWarnings > 0));

        // Nothing of it in the main database: no round, no account, no audit entry.
        Assert.Equal(0L, await practice.MainScalarAsync<long>("SELECT count(*) FROM registry.round"));
        Assert.Equal(0L, await practice.MainScalarAsync<long>("SELECT count(*) FROM access.account WHERE account LIKE 'practice-%'"));
        Assert.Equal(0L, await practice.MainScalarAsync<long>("SELECT count(*) FROM training.practice"));
        Assert.Equal(0L, mainAudit);

        // A second creation is refused, saying what to do; the round stays as it was.
        var again = await Assert.ThrowsAsync<UserErrorException>(() => practice.Rounds.CreateAsync(new PracticeOptions(6, 3, 1, "test"),
            new PracticeProvince(practice.Province.ExportDirectory, new DateOnly(2026, 10, 15)), practice.Worksheets));
        Assert.Equal("Training.AlreadyExists", again.Text!.Code);
        Assert.Equal(3, (await practice.Rounds.ProgressAsync()).Count);
    }

    [Fact]
    public async Task ADatabaseBearingThePracticeName_IsNeverDropped_UnlessItIsMarked_NorIsTheMainOne()
    {
        // A main database already named "…_practice" gets a practice database of its own name + "_practice", never itself.
        Assert.Equal("sdq_practice_practice", Practice.DatabaseName("sdq_practice"));

        // A database that only bears the practice name (an unmarked copy, someone's own) is left alone by remove and reset.
        var (main, _) = await TestDatabase.CreateAsync();
        var admin = await TestDatabase.AdminConnectionStringAsync();
        var rounds = new PracticeRounds(admin, main, IngestScenario.Key, PracticeScenario.OneTimePassword);
        await using (var server = NpgsqlDataSource.Create(admin))
        {
            await using var create = server.CreateCommand($"CREATE DATABASE \"{rounds.Database}\"");
            await create.ExecuteNonQueryAsync();
            await using var createStart = server.CreateCommand($"CREATE DATABASE \"{rounds.StartDatabase}\"");
            await createStart.ExecuteNonQueryAsync();
        }

        try
        {
            var refused = await Assert.ThrowsAsync<UserErrorException>(() => rounds.RemoveAsync());
            Assert.Equal("Training.NotMarked", refused.Text!.Code);
            refused = await Assert.ThrowsAsync<UserErrorException>(() => rounds.ResetAsync("test-trainer"));
            Assert.Equal("Training.NotMarked", refused.Text!.Code);
            Assert.Equal((true, true), await rounds.ExistsAsync());
        }
        finally
        {
            await TestDatabase.DropAsync(rounds.Database);
            await TestDatabase.DropAsync(rounds.StartDatabase);
            await TestDatabase.DropAsync(main);
        }

        // A main database whose practice names PostgreSQL would cut at 63 bytes (into each other, or into the main one) is refused.
        var tooLong = new string('m', 63 - "_practice".Length);
        var error = Assert.Throws<UserErrorException>(() => new PracticeRounds(admin, tooLong, IngestScenario.Key, PracticeScenario.OneTimePassword));
        Assert.Equal("Training.NameTooLong", error.Text!.Code);
        _ = new PracticeRounds(admin, new string('m', 63 - "_practice_start".Length), IngestScenario.Key, PracticeScenario.OneTimePassword);
    }

    [Fact]
    public async Task Reset_BringsBackTheStart_WithNewPasswords_TheOldOnesRefused_AndRemove_DropsBoth()
    {
        var practice = await PracticeScenario.CreateAsync(schools: 3, trainees: 2);
        try
        {
            var school = practice.Made.Accounts.First(a => a.Role == "school");
            // A change: the school certifies (as if done), and the trainee's password is changed at first sign-in.
            await practice.PracticeScalarAsync<int>("""
                WITH s AS (INSERT INTO exchange.sign_off (round_id, school_code, certified_by, certified_at, warnings_explained)
                           SELECT round_id, @school, @account, now(), 0 FROM registry.round WHERE code = 'practice' RETURNING 1)
                SELECT count(*)::int FROM s
                """, ("school", school.School!), ("account", school.Name));
            Assert.NotNull((await practice.Rounds.ProgressAsync()).Single(p => p.Trainee.SchoolAccount == school.Name).CertifiedAt);

            var reset = await practice.Rounds.ResetAsync("test-trainer");

            Assert.Null((await practice.Rounds.ProgressAsync()).Single(p => p.Trainee.SchoolAccount == school.Name).CertifiedAt);
            Assert.NotNull(reset.Info.ResetAt);
            Assert.Equal(practice.Made.Accounts.Select(a => a.Name).Order(), reset.Accounts.Select(a => a.Name).Order());
            foreach (var account in reset.Accounts)
            {
                var hash = await practice.PracticeScalarAsync<string>("SELECT password_hash FROM access.account WHERE account = @a", ("a", account.Name));
                var old = practice.Made.Accounts.Single(a => a.Name == account.Name).Password;
                Assert.False(Passwords.Matches(account.Name, hash, old), $"{account.Name}'s old password still works");
                Assert.True(Passwords.Matches(account.Name, hash, account.Password));
            }

            var removed = await practice.Rounds.RemoveAsync();
            Assert.Equal([practice.Rounds.Database, practice.Rounds.StartDatabase], removed);
            Assert.Equal((false, false), await practice.Rounds.ExistsAsync());
            Assert.Empty(await practice.Rounds.RemoveAsync());
            var none = await Assert.ThrowsAsync<UserErrorException>(() => practice.Rounds.ResetAsync("test"));
            Assert.Equal("Training.NoPracticeRound", none.Text!.Code);
        }
        finally
        {
            await practice.DisposeAsync();
        }
    }
}
