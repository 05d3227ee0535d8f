using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using Serilog;
using Serilog.Extensions.Logging;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Migrations;

namespace StudentDataQuality.Cli;

/// <summary>
/// What every command shares: configuration (appsettings.json beside the program, then SDQ_* environment
/// variables, then options), logging, and the database — the configured server, or the embedded cluster.
/// </summary>
public static class SdqEnvironment
{
    private static readonly Lazy<IConfiguration> LazyConfiguration = new(() => new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables("SDQ__")
        .Build());

    public static IConfiguration Configuration => LazyConfiguration.Value;

    public static ILoggerFactory LoggerFactory { get; private set; } = new SerilogLoggerFactory();

    /// <summary>Sets up Serilog from configuration; --verbose lowers the console level to Debug.</summary>
    public static void ConfigureLogging(bool verbose)
    {
        var configuration = new LoggerConfiguration().ReadFrom.Configuration(Configuration);
        if (verbose)
        {
            configuration.MinimumLevel.Debug();
        }

        Log.Logger = configuration.CreateLogger();
        LoggerFactory = new SerilogLoggerFactory(Log.Logger);
    }

    /// <summary>
    /// The connection string given by SDQ_DB or appsettings.json (Database:ConnectionString), or null. Either form is
    /// taken: Npgsql's (Host=…;Database=…) or a postgresql:// URL as `sdq db url` prints it.
    /// </summary>
    public static string? ConfiguredConnectionString() => Target(MainConfiguredConnectionString());

    /// <summary>The configured connection string of the main database, whether or not --practice was given.</summary>
    public static string? MainConfiguredConnectionString() =>
        (Environment.GetEnvironmentVariable("SDQ_DB") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Configuration["Database:ConnectionString"] is { Length: > 0 } fromSettings ? fromSettings : null) is { } configured
            ? FromUrl(configured)
            : null;

    private static string FromUrl(string text)
    {
        if (!text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) && !text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            return text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var url))
        {
            throw new UserErrorException(new UserMessage("Cli.ConnectionUrlInvalid"));
        }

        var user = url.UserInfo.Split(':', 2);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = url.Host, Port = url.IsDefaultPort || url.Port < 0 ? 5432 : url.Port, Database = Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/')),
            Username = user.Length > 0 && user[0].Length > 0 ? Uri.UnescapeDataString(user[0]) : null,
            Password = user.Length > 1 ? Uri.UnescapeDataString(user[1]) : null,
        };
        return builder.ConnectionString;
    }

    /// <summary>
    /// The folder the program keeps its files in when not told otherwise (worksheets of rounds run by the jobs, reports):
    /// SDQ_DATA_DIR, or the folder that holds the embedded database's default folder.
    /// </summary>
    public static string DataRoot() =>
        Environment.GetEnvironmentVariable("SDQ_DATA_DIR") is { Length: > 0 } fromEnvironment
            ? Path.GetFullPath(fromEnvironment)
            : Path.GetDirectoryName(EmbeddedPostgresOptions.DefaultDataDirectory())!;

    public static EmbeddedPostgres Embedded(string? dataDirectory)
    {
        var directory = dataDirectory is { Length: > 0 } ? dataDirectory
            : Environment.GetEnvironmentVariable("SDQ_DATA_DIR") is { Length: > 0 } fromEnvironment ? Path.Combine(fromEnvironment, "db")
            : Configuration["Database:DataDirectory"] is { Length: > 0 } fromSettings ? fromSettings
            : EmbeddedPostgresOptions.DefaultDataDirectory();
        return new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = directory }, LoggerFactory.CreateLogger<EmbeddedPostgres>());
    }

    /// <summary>
    /// Whether the command works on the practice round (the global --practice option): every connection string the program
    /// builds then names the practice database (Data.Training.Practice.DatabaseName) on the same server, in <see cref="Target"/>.
    /// </summary>
    public static bool PracticeSelected { get; set; }

    /// <summary>
    /// The one place where --practice swaps the database: the same server, role and password, the practice database's name.
    /// </summary>
    public static string? Target(string? connectionString)
    {
        if (!PracticeSelected || connectionString is null)
        {
            return connectionString;
        }

        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Database = Data.Training.Practice.DatabaseName(builder.Database ?? builder.Username ?? "postgres");
        return builder.ConnectionString;
    }

    /// <summary>The main database's connection string: the configured one, or the embedded cluster's (started).</summary>
    public static string MainConnectionString(string? dataDirectory) => MainConfiguredConnectionString() ?? Embedded(dataDirectory).Start();

    /// <summary>Connects to the configured database or starts the embedded one, and brings its schema up to date.</summary>
    public static async Task<NpgsqlDataSource> OpenDatabaseAsync(string? dataDirectory, CancellationToken cancellationToken)
    {
        var connectionString = Target(MainConnectionString(dataDirectory))!;
        if (PracticeSelected)
        {
            await EnsurePracticeAsync(connectionString, cancellationToken);
        }

        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.UseLoggerFactory(LoggerFactory);
        var dataSource = builder.Build();
        try
        {
            await new Migrator(LoggerFactory.CreateLogger<Migrator>()).MigrateAsync(dataSource, cancellationToken);
        }
        catch (NpgsqlException e) when (e is not PostgresException && e.InnerException is not TimeoutException)
        {
            await dataSource.DisposeAsync();
            throw new UserErrorException(new UserMessage("Cli.CannotConnect", e.Message), e);
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }

        return dataSource;
    }

    /// <summary>
    /// With --practice: the practice database must exist and be marked as one (training.practice), else a user error saying
    /// how to make one. Nothing is created: a practice database comes from `sdq training create` only.
    /// </summary>
    private static async Task EnsurePracticeAsync(string connectionString, CancellationToken cancellationToken)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT to_regclass('training.practice') IS NOT NULL AND EXISTS (SELECT 1 FROM training.practice)", connection);
            if (await command.ExecuteScalarAsync(cancellationToken) is not true)
            {
                throw new UserErrorException(new UserMessage("Training.NotMarked", database));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            throw new UserErrorException(new UserMessage("Cli.TrainingNoPracticeRound", database), e);
        }
    }

    /// <summary>
    /// The web portal's connection: SDQ_WEB_DB or Web:ConnectionString when given (the operator gives it the sdq_app role);
    /// with the embedded cluster, sdq_app with a password the program keeps in the database folder (mode 600) and sets at
    /// each start. Null when a configured database has no portal connection: the portal then uses the main one.
    /// </summary>
    public static async Task<string?> PortalConnectionStringAsync(string? dataDirectory, NpgsqlDataSource owner, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if ((Environment.GetEnvironmentVariable("SDQ_WEB_DB") is { Length: > 0 } fromEnvironment ? fromEnvironment
                : Configuration["Web:ConnectionString"] is { Length: > 0 } fromSettings ? fromSettings : null) is { } configured)
        {
            return Target(FromUrl(configured));
        }

        if (ConfiguredConnectionString() is not null)
        {
            return null;
        }

        var embedded = Embedded(dataDirectory);
        var password = embedded.LoadOrCreateSecret("app-role-password",
            () => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant());
        await Data.Access.AppRole.SetPasswordAsync(owner, password, cancellationToken);
        return Target(Data.Access.AppRole.ConnectionString(embedded.ConnectionStringIfInitialised()!, password));
    }

    /// <summary>
    /// The sign-in rules the command line gives passwords under: Accounts:OneTimePasswordHours, how long a one-time password
    /// is valid (default 72, from 1 to 720). The expiry is stored with the password, so the portal enforces what was printed.
    /// </summary>
    public static Data.Access.SignInPolicy SignInPolicy()
    {
        var text = Configuration["Accounts:OneTimePasswordHours"];
        if (string.IsNullOrWhiteSpace(text))
        {
            return Data.Access.SignInPolicy.Default;
        }

        if (!int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var hours)
            || hours is < 1 or > 720)
        {
            throw new UserErrorException(new UserMessage("Cli.OneTimePasswordHoursInvalid", text));
        }

        return Data.Access.SignInPolicy.Default with { OneTimePasswordLifetime = TimeSpan.FromHours(hours) };
    }

    /// <summary>Until when a one-time password is valid, as the data team tells it: Beijing time, to the minute.</summary>
    public static string ValidUntil(DateTimeOffset at) =>
        at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) + " Beijing time";

    /// <summary>
    /// The worksheet signing key: SDQ_SIGNING_KEY or Worksheets:SigningKey (base64, at least 32 bytes). With the embedded
    /// database and neither given, the program makes one on first use and keeps it in the database folder (mode 600), as it
    /// does the database password. A configured database needs a configured key: every worker must sign alike.
    /// </summary>
    public static Application.SigningKey SigningKey(string? dataDirectory)
    {
        var configured = Environment.GetEnvironmentVariable("SDQ_SIGNING_KEY") is { Length: > 0 } fromEnvironment ? fromEnvironment
            : Configuration["Worksheets:SigningKey"] is { Length: > 0 } fromSettings ? fromSettings : null;
        if (configured is not null)
        {
            try
            {
                return Application.SigningKey.From(Convert.FromBase64String(configured));
            }
            catch (FormatException)
            {
                throw new UserErrorException(new UserMessage("Cli.SigningKeyNotBase64"));
            }
        }

        if (ConfiguredConnectionString() is not null)
        {
            throw new UserErrorException(new UserMessage("Cli.SigningKeyRequired"));
        }

        var key = Embedded(dataDirectory).LoadOrCreateSecret("signing-key",
            () => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        return Application.SigningKey.From(Convert.FromBase64String(key));
    }

    /// <summary>Who is acting, as recorded in the audit log: the operating-system account running the CLI.</summary>
    public static string Actor => $"cli:{Environment.UserName}";
}
