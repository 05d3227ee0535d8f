using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Serilog;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Cli.Hosting;

/// <summary>
/// The jobs' side of a host: Hangfire's storage on the project's database (schema <c>hangfire</c>), the worker's settings
/// from configuration (section Worker), and the container the jobs are activated from. The worker, `sdq round`,
/// `sdq schedule` and the demo all build it here, so that a job enqueued by one is understood by the others.
/// </summary>
public static class JobHost
{
    /// <summary>Hangfire's storage on the data source's pool. A fetched job that no live worker holds comes back after InvisibilityTimeout.</summary>
    /// <param name="prepareSchema">Install or upgrade the schema (the owner's connection); false for the portal's role, which may not.</param>
    public static PostgreSqlStorage Storage(NpgsqlDataSource dataSource, IConfiguration configuration, bool prepareSchema = true)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new PostgreSqlStorageOptions
        {
            SchemaName = "hangfire",
            PrepareSchemaIfNecessary = prepareSchema,
            QueuePollInterval = configuration.GetValue("Worker:QueuePollInterval", TimeSpan.FromSeconds(1)),
            InvisibilityTimeout = configuration.GetValue("Worker:InvisibilityTimeout", TimeSpan.FromMinutes(5)),
            UseSlidingInvisibilityTimeout = true,
            // A worker killed while it changes a job's state leaves that job's lock row behind; the storage takes such a
            // row for stale after this long (its default, 10 minutes, would hold the job that long). Locks are held for
            // milliseconds, the inbox scan's for its scan.
            DistributedLockTimeout = configuration.GetValue("Worker:DistributedLockTimeout", TimeSpan.FromMinutes(1)),
        };
        var storage = new PostgreSqlStorage(new DataSourceConnectionFactory(dataSource), options);
        if (prepareSchema)
        {
            // The schema was just made or upgraded with the default privileges of migration 0010: the portal's role keeps only
            // what it needs of it (migration 0017).
            using var connection = dataSource.OpenConnection();
            Data.Access.AppRole.RestrictJobStorage(connection);
        }

        return storage;
    }

    /// <summary>The worker's settings: Worker:Inbox, Worker:Reports (default: a reports folder beside the data), Worker:WorksheetBatch.</summary>
    public static JobSettings Settings(IConfiguration configuration, string? inbox = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var configuredInbox = inbox ?? (configuration["Worker:Inbox"] is { Length: > 0 } fromSettings ? fromSettings : null);
        return new JobSettings
        {
            Inbox = configuredInbox is null ? null : Path.GetFullPath(configuredInbox),
            Reports = Path.GetFullPath(configuration["Worker:Reports"] is { Length: > 0 } reports ? reports : Path.Combine(SdqEnvironment.DataRoot(), "reports")),
            WorksheetBatch = configuration.GetValue("Worker:WorksheetBatch", 10),
            Checks = Checks(configuration),
            Returns = Returns(configuration),
            RuleHelp = Commands.WebCommand.PublicAddress(),
            Cases = Commands.CaseListCommand.Options(),
        };
    }

    /// <summary>How returns that arrive together are batched: Returns:BatchFiles, Returns:BatchWaitMs, Returns:BatchConcurrency.</summary>
    public static ReturnBatching Returns(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        try
        {
            return ReturnBatching.From(key => configuration[key]);
        }
        catch (ArgumentException e) when (e.ParamName is { } key)
        {
            throw new UserErrorException(new UserMessage("Cli.ReturnsSettingInvalid", key, configuration[key]), e);
        }
    }

    /// <summary>
    /// The checks' settings: Checks:Province, the two-digit province code of the school codes (default 23), and
    /// Checks:ConcurrentRules, how many rule queries of a whole round go at a time (default 2, one per core here).
    /// </summary>
    public static CheckOptions Checks(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var defaults = new CheckOptions();
        var province = configuration["Checks:Province"] is { Length: > 0 } configured ? configured.Trim() : defaults.Province;
        if (province.Length != 2 || !province.All(char.IsAsciiDigit))
        {
            throw new UserErrorException(new UserMessage("Cli.ProvinceInvalid", province));
        }

        var concurrent = configuration.GetValue("Checks:ConcurrentRules", defaults.ConcurrentRules);
        return concurrent is >= 1 and <= 16
            ? new CheckOptions { Province = province, ConcurrentRules = concurrent }
            : throw new UserErrorException(new UserMessage("Cli.ConcurrentRulesInvalid", concurrent));
    }

    /// <summary>The container of the jobs and their services, with a client that enqueues into <paramref name="storage"/>.</summary>
    public static IServiceCollection AddJobs(this IServiceCollection services, NpgsqlDataSource dataSource, Func<SigningKey> key, JobSettings settings,
        JobStorage storage)
    {
        // Serilog only (configured from appsettings by the program): a host's default console logger would print everything twice.
        services.AddLogging(logging => logging.ClearProviders().AddSerilog(Log.Logger, dispose: false));
        services.AddStudentDataQualityJobs(dataSource, key, settings);
        services.AddHangfire(configuration => configuration.UseStorage(storage));
        return services;
    }

    /// <summary>A Hangfire server in this process, for the queues of every kind (the demo and `sdq round start --run-here`).</summary>
    public static BackgroundJobServer InProcessServer(IServiceProvider services, JobStorage storage, int workers) =>
        new(new BackgroundJobServerOptions
        {
            WorkerCount = workers, Queues = Queues, ServerName = $"{Environment.MachineName}:{Environment.ProcessId}:in-process",
            Activator = new Hangfire.AspNetCore.AspNetCoreJobActivator(services.GetRequiredService<Microsoft.Extensions.DependencyInjection.IServiceScopeFactory>()),
        }, storage);

    /// <summary>
    /// Every queue the jobs use. The PostgreSQL storage hands out jobs by queue name (checks, default, extract, ingest,
    /// worksheets), so a returned file never waits behind a fan-out of thousands of worksheet jobs.
    /// </summary>
    public static readonly string[] Queues = ["extract", "checks", "ingest", "worksheets", "default"];

    /// <summary>Hangfire opens its connections from the project's data source (one pool, one password source).</summary>
    private sealed class DataSourceConnectionFactory(NpgsqlDataSource dataSource) : IConnectionFactory
    {
        public NpgsqlConnection GetOrCreateConnection() => dataSource.CreateConnection();
    }
}
