using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Data.Training;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Training;

/// <summary>What a practice round is made of: its schools, trainees, seed, and who makes it.</summary>
public sealed record PracticeOptions(int Schools, int Trainees, int Seed, string Actor)
{
    /// <summary>The round's code in the practice database (never a real round's: the database is a separate one anyway).</summary>
    public string RoundCode { get; init; } = "practice";

    public string Contact { get; init; } = Practice.Label;

    /// <summary>The portal's public address the worksheets' notes link their rules' pages to (Web:PublicUrl); none: no links.</summary>
    public RuleHelp? RuleHelp { get; init; }
}

/// <summary>The generated province a practice round is made from: its registry export folder and round date.</summary>
public sealed record PracticeProvince(string ExportDirectory, DateOnly RoundDate);

/// <summary>A practice account with its one-time password, as printed once.</summary>
public sealed record PracticeAccount(int? Trainee, string Role, string Name, string Password, DateTimeOffset ValidUntil, string? School, string? Class);

/// <summary>What a creation or a reset gave: the practice database and the accounts with their new one-time passwords.</summary>
public sealed record PracticeAccounts(string Database, PracticeInfo Info, IReadOnlyList<PracticeAccount> Accounts);

/// <summary>
/// Practice rounds (docs/training.md): a practice database beside the main one on the same server
/// (<see cref="Practice.DatabaseName"/>), made from a generated province, with practice accounts for each trainee and a
/// snapshot of its start (<c>…_start</c>, a template database) that a reset copies back. The server connection (the main
/// database's, as its owner) is used only to look up, create and drop the two practice databases; nothing is read from or
/// written to the main database, and a database is dropped only when it carries the practice marker (training.practice).
/// </summary>
public sealed class PracticeRounds
{
    /// <summary>The trainer's account (the data team), one per practice round.</summary>
    public const string TrainerAccount = "practice-trainer";

    private readonly string _server;
    private readonly SigningKey _key;
    private readonly Func<string, (string Password, string Hash)> _passwords;
    private readonly SignInPolicy _policy;
    private readonly CheckOptions? _checks;
    private readonly ILoggerFactory _loggers;

    /// <param name="serverConnectionString">A connection to the server as the owner (any database of it); the practice databases are made beside it.</param>
    /// <param name="mainDatabase">The main database's name, which names the practice one.</param>
    /// <param name="key">The worksheet signing key the practice portal checks returns with.</param>
    /// <param name="passwords">Makes a one-time password and its hash for an account name (the portal's hasher).</param>
    public PracticeRounds(string serverConnectionString, string mainDatabase, SigningKey key, Func<string, (string Password, string Hash)> passwords,
        SignInPolicy? policy = null, CheckOptions? checks = null, ILoggerFactory? loggers = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(serverConnectionString);
        ArgumentException.ThrowIfNullOrEmpty(mainDatabase);
        _server = serverConnectionString;
        Database = Practice.DatabaseName(mainDatabase);
        StartDatabase = Database + "_start";
        // PostgreSQL cuts a name at 63 bytes: a longer one would name another database (the main one, or each other).
        if (System.Text.Encoding.UTF8.GetByteCount(StartDatabase) > MaxNameBytes)
        {
            throw new UserErrorException(new UserMessage("Training.NameTooLong", mainDatabase, MaxNameBytes - "_practice_start".Length));
        }

        _key = key ?? throw new ArgumentNullException(nameof(key));
        _passwords = passwords ?? throw new ArgumentNullException(nameof(passwords));
        _policy = policy ?? SignInPolicy.Default;
        _checks = checks;
        _loggers = loggers ?? NullLoggerFactory.Instance;
    }

    /// <summary>The longest database name PostgreSQL keeps whole (NAMEDATALEN − 1).</summary>
    private const int MaxNameBytes = 63;

    /// <summary>The practice database.</summary>
    public string Database { get; }

    /// <summary>The snapshot of the practice round's start, a template database.</summary>
    public string StartDatabase { get; }

    /// <summary>The connection string of the practice database (the server's, with the database swapped).</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder(_server) { Database = Database }.ConnectionString;

    /// <summary>Which of the two practice databases exist.</summary>
    public async Task<(bool Practice, bool Start)> ExistsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(_server);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname = ANY(@names)", connection);
        command.Parameters.AddWithValue("names", new[] { Database, StartDatabase });
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(reader.GetString(0));
        }

        return (found.Contains(Database), found.Contains(StartDatabase));
    }

    /// <summary>
    /// Makes the practice round: the database (refused when one is there), its schema, the province extracted, checked and
    /// its worksheets issued into <paramref name="worksheetsDirectory"/>, the trainees' accounts, the marker, and the start
    /// snapshot. Anything failing on the way drops what was made.
    /// </summary>
    public async Task<PracticeAccounts> CreateAsync(PracticeOptions options, PracticeProvince province, string worksheetsDirectory,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(province);
        if (options.Schools is < 1 or > 200)
        {
            throw new UserErrorException(new UserMessage("Training.SchoolsOutOfRange", options.Schools));
        }

        if (options.Trainees < 1 || options.Trainees > options.Schools)
        {
            throw new UserErrorException(new UserMessage("Training.TraineesOutOfRange", options.Trainees, options.Schools));
        }

        var exists = await ExistsAsync(cancellationToken);
        if (exists.Practice || exists.Start)
        {
            throw new UserErrorException(new UserMessage("Training.AlreadyExists", exists.Practice ? Database : StartDatabase));
        }

        await ExecuteOnServerAsync($"CREATE DATABASE {Quote(Database)} {EmbeddedPostgres.DatabaseCollation}", cancellationToken);
        try
        {
            IReadOnlyList<PracticeAccount> accounts;
            await using (var dataSource = OpenPractice())
            {
                await new Migrator(_loggers.CreateLogger<Migrator>()).MigrateAsync(dataSource, cancellationToken);
                await new ExtractService(dataSource, _loggers.CreateLogger<ExtractService>()).ExtractFilesAsync(
                    new ExtractRequest(options.RoundCode, options.Actor) { RoundDate = province.RoundDate }, [province.ExportDirectory], null, cancellationToken);
                await new CheckRunner(dataSource, _loggers.CreateLogger<CheckRunner>(), _checks).RunAsync(options.RoundCode, options.Actor, cancellationToken: cancellationToken);
                await new WorksheetIssuer(dataSource, _key, _loggers.CreateLogger<WorksheetIssuer>()).IssueAsync(
                    new WorksheetRequest(options.RoundCode, worksheetsDirectory, options.Actor) { Contact = options.Contact, RuleHelp = options.RuleHelp },
                    cancellationToken: cancellationToken);
                // The round as the jobs leave it once issued: the portal finds the worksheets' folder in its run.
                await using (var run = dataSource.CreateCommand("""
                    INSERT INTO registry.round_run (round_id, stage, sources, output_directory, deadline, closes_on, contact, started_by)
                    SELECT round_id, 'issued', @sources, @output, current_date + 14, current_date + 28, @contact, @actor FROM registry.round WHERE code = @round
                    """))
                {
                    run.Parameters.AddWithValue("sources", new[] { province.ExportDirectory });
                    run.Parameters.AddWithValue("output", Path.GetFullPath(worksheetsDirectory));
                    run.Parameters.AddWithValue("contact", options.Contact);
                    run.Parameters.AddWithValue("actor", options.Actor);
                    run.Parameters.AddWithValue("round", options.RoundCode);
                    await run.ExecuteNonQueryAsync(cancellationToken);
                }

                accounts = await AddAccountsAsync(dataSource, options, cancellationToken);
                await using var mark = dataSource.CreateCommand("""
                    INSERT INTO training.practice (round_code, seed, schools, trainees, created_by) VALUES (@round, @seed, @schools, @trainees, @by)
                    """);
                mark.Parameters.AddWithValue("round", options.RoundCode);
                mark.Parameters.AddWithValue("seed", options.Seed);
                mark.Parameters.AddWithValue("schools", options.Schools);
                mark.Parameters.AddWithValue("trainees", options.Trainees);
                mark.Parameters.AddWithValue("by", options.Actor);
                await mark.ExecuteNonQueryAsync(cancellationToken);
            }

            // The start, as a template: no connection may be open to the practice database while it is copied.
            NpgsqlConnection.ClearAllPools();
            await ExecuteOnServerAsync($"CREATE DATABASE {Quote(StartDatabase)} TEMPLATE {Quote(Database)}", cancellationToken);
            return new PracticeAccounts(Database, await InfoAsync(cancellationToken), accounts);
        }
        catch (Exception failure)
        {
            // Nothing of a half-made practice round stays: its two databases (made here) and its worksheets.
            try
            {
                NpgsqlConnection.ClearAllPools();
                await DropAsync(CancellationToken.None);
                if (Directory.Exists(worksheetsDirectory))
                {
                    Directory.Delete(worksheetsDirectory, recursive: true);
                }
            }
            catch (Exception cleanup) when (cleanup is NpgsqlException or IOException or UnauthorizedAccessException)
            {
                throw new AggregateException(failure, cleanup);
            }

            throw;
        }
    }

    /// <summary>
    /// Puts the practice round back to its start (the practice database dropped, however many are connected, and copied
    /// again from the start snapshot), then gives every practice account a new one-time password: the old ones stop working.
    /// </summary>
    public async Task<PracticeAccounts> ResetAsync(string actor, CancellationToken cancellationToken = default)
    {
        var exists = await ExistsAsync(cancellationToken);
        if (!exists.Start)
        {
            throw new UserErrorException(new UserMessage(exists.Practice ? "Training.StartMissing" : "Training.NoPracticeRound", StartDatabase));
        }

        await EnsureMarkedAsync(StartDatabase, cancellationToken);
        if (exists.Practice)
        {
            await EnsureMarkedAsync(Database, cancellationToken);
        }

        NpgsqlConnection.ClearAllPools();
        await ExecuteOnServerAsync($"DROP DATABASE IF EXISTS {Quote(Database)} WITH (FORCE)", cancellationToken);
        await ExecuteOnServerAsync($"CREATE DATABASE {Quote(Database)} TEMPLATE {Quote(StartDatabase)}", cancellationToken);
        await using var dataSource = OpenPractice();
        var accounts = new List<PracticeAccount>();
        var signIns = new SignIns(dataSource, _policy);
        foreach (var (trainee, role, name, school, className) in await AccountsAsync(dataSource, cancellationToken))
        {
            var (password, hash) = _passwords(name);
            var validUntil = await signIns.SetPasswordAsync(name, hash, oneTime: true, actor, cancellationToken);
            accounts.Add(new PracticeAccount(trainee, role, name, password, validUntil!.Value, school, className));
        }

        await using (var mark = dataSource.CreateCommand("UPDATE training.practice SET reset_at = now()"))
        {
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }

        return new PracticeAccounts(Database, (await Practice.FindAsync(dataSource, cancellationToken))!, accounts);
    }

    /// <summary>Drops the practice database and its start snapshot, however many are connected; the names of those dropped.</summary>
    public async Task<IReadOnlyList<string>> RemoveAsync(CancellationToken cancellationToken = default)
    {
        var exists = await ExistsAsync(cancellationToken);
        foreach (var (name, there) in new[] { (Database, exists.Practice), (StartDatabase, exists.Start) })
        {
            if (there)
            {
                await EnsureMarkedAsync(name, cancellationToken);
            }
        }

        NpgsqlConnection.ClearAllPools();
        await DropAsync(cancellationToken);
        return [.. new[] { (Database, exists.Practice), (StartDatabase, exists.Start) }.Where(d => d.Item2).Select(d => d.Item1)];
    }

    /// <summary>The practice database's marker, or a user error when there is no practice round.</summary>
    public async Task<PracticeInfo> InfoAsync(CancellationToken cancellationToken = default)
    {
        if (!(await ExistsAsync(cancellationToken)).Practice)
        {
            throw new UserErrorException(new UserMessage("Training.NoPracticeRound", Database));
        }

        await using var dataSource = OpenPractice();
        return await Practice.FindAsync(dataSource, cancellationToken) ?? throw new UserErrorException(new UserMessage("Training.NotMarked", Database));
    }

    /// <summary>Each trainee's progress (<see cref="Practice.ProgressAsync"/>), or a user error when there is no practice round.</summary>
    public async Task<IReadOnlyList<TraineeProgress>> ProgressAsync(CancellationToken cancellationToken = default)
    {
        await InfoAsync(cancellationToken);
        await using var dataSource = OpenPractice();
        return await Practice.ProgressAsync(dataSource, cancellationToken);
    }

    private NpgsqlDataSource OpenPractice() =>
        new NpgsqlDataSourceBuilder(ConnectionString).UseLoggerFactory(_loggers).Build();

    /// <summary>
    /// For trainee i (1..T): the i-th school of the round's worksheets, its district, a class teacher of its first class; and
    /// one trainer (data team). Names start with <c>practice-</c>, so that they never read as a real account.
    /// </summary>
    private async Task<IReadOnlyList<PracticeAccount>> AddAccountsAsync(NpgsqlDataSource dataSource, PracticeOptions options, CancellationToken cancellationToken)
    {
        var schools = new List<(string School, string District)>();
        await using (var command = dataSource.CreateCommand("""
            SELECT DISTINCT w.school_code, s.district_code FROM exchange.worksheet w
            JOIN   registry.round r ON r.round_id = w.round_id
            JOIN   registry.school s ON s.round_id = w.round_id AND s.school_code = w.school_code
            WHERE  r.code = @round AND s.district_code IS NOT NULL ORDER BY w.school_code LIMIT @trainees
            """))
        {
            command.Parameters.AddWithValue("round", options.RoundCode);
            command.Parameters.AddWithValue("trainees", options.Trainees);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                schools.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        if (schools.Count < options.Trainees)
        {
            throw new UserErrorException(new UserMessage("Training.TooFewWorksheets", schools.Count, options.Trainees));
        }

        var store = new AccountStore(dataSource);
        var signIns = new SignIns(dataSource, _policy);
        var accounts = new List<PracticeAccount>();
        async Task AddAsync(int? trainee, string role, Account account, string? className = null)
        {
            if (account.Role != AccountRole.ClassTeacher)
            {
                await store.AddAsync(account, options.Actor, cancellationToken);
            }

            var (password, hash) = _passwords(account.Name);
            var validUntil = await signIns.SetPasswordAsync(account.Name, hash, oneTime: true, options.Actor, cancellationToken);
            accounts.Add(new PracticeAccount(trainee, role, account.Name, password, validUntil!.Value, account.SchoolCode ?? account.DistrictCode, className));
        }

        await AddAsync(null, "trainer", new Account(TrainerAccount, AccountRole.DataTeam));
        for (var i = 0; i < schools.Count; i++)
        {
            var (school, district) = schools[i];
            var number = i + 1;
            var prefix = $"practice-{number:00}-";
            await AddAsync(number, "school", new Account(prefix + "school", AccountRole.School, school));
            await AddAsync(number, "district", new Account(prefix + "district", AccountRole.District, null, district));
            string? teacher = null, className = null;
            if ((await store.ClassTeacherCandidatesAsync(options.RoundCode, school, null, cancellationToken)).FirstOrDefault() is { } candidate)
            {
                teacher = prefix + "teacher";
                className = candidate.Class.ToString();
                await store.AddClassTeacherAsync(teacher, school, [candidate.Class], options.Actor, cancellationToken);
                await AddAsync(number, "class teacher", new Account(teacher, AccountRole.ClassTeacher, school), className);
            }

            await using var insert = dataSource.CreateCommand("""
                INSERT INTO training.trainee (trainee_no, school_code, district_code, school_account, district_account, class_teacher_account, class_name)
                VALUES (@no, @school, @district, @schoolAccount, @districtAccount, @teacher, @class)
                """);
            insert.Parameters.AddWithValue("no", number);
            insert.Parameters.AddWithValue("school", school);
            insert.Parameters.AddWithValue("district", district);
            insert.Parameters.AddWithValue("schoolAccount", prefix + "school");
            insert.Parameters.AddWithValue("districtAccount", prefix + "district");
            insert.Parameters.AddWithValue("teacher", (object?)teacher ?? DBNull.Value);
            insert.Parameters.AddWithValue("class", (object?)className ?? DBNull.Value);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        return accounts;
    }

    /// <summary>The practice accounts of the round as made: the trainer, then each trainee's school, district and class teacher.</summary>
    private static async Task<IReadOnlyList<(int? Trainee, string Role, string Name, string? School, string? Class)>> AccountsAsync(NpgsqlDataSource dataSource,
        CancellationToken cancellationToken)
    {
        var accounts = new List<(int?, string, string, string?, string?)> { (null, "trainer", TrainerAccount, null, null) };
        foreach (var trainee in await Practice.TraineesAsync(dataSource, cancellationToken))
        {
            accounts.Add((trainee.Number, "school", trainee.SchoolAccount, trainee.SchoolCode, null));
            accounts.Add((trainee.Number, "district", trainee.DistrictAccount, trainee.DistrictCode, null));
            if (trainee.ClassTeacherAccount is { } teacher)
            {
                accounts.Add((trainee.Number, "class teacher", teacher, trainee.SchoolCode, trainee.ClassName));
            }
        }

        return accounts;
    }

    /// <summary>
    /// Refuses (Training.NotMarked) to go on unless database <paramref name="name"/> holds a practice round's marker: a database
    /// that happens to bear the practice name is never dropped.
    /// </summary>
    private async Task EnsureMarkedAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Database = name, Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT to_regclass('training.practice') IS NOT NULL", connection);
        var marked = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (marked)
        {
            await using var row = new NpgsqlCommand("SELECT EXISTS (SELECT FROM training.practice)", connection);
            marked = (bool)(await row.ExecuteScalarAsync(cancellationToken))!;
        }

        if (!marked)
        {
            throw new UserErrorException(new UserMessage("Training.NotMarked", name));
        }
    }

    private async Task DropAsync(CancellationToken cancellationToken)
    {
        await ExecuteOnServerAsync($"DROP DATABASE IF EXISTS {Quote(Database)} WITH (FORCE)", cancellationToken);
        await ExecuteOnServerAsync($"DROP DATABASE IF EXISTS {Quote(StartDatabase)} WITH (FORCE)", cancellationToken);
    }

    private async Task ExecuteOnServerAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new UserErrorException(new UserMessage("Training.CannotCreateDatabase", connection.UserName ?? "", Database), e);
        }
    }

    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
