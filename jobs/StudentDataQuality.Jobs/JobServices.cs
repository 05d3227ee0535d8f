using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Jobs;

/// <summary>The services the jobs call and the jobs themselves, for a host's container (the worker, the demo, the tests).</summary>
public static class JobServices
{
    public static IServiceCollection AddStudentDataQualityJobs(this IServiceCollection services, NpgsqlDataSource dataSource, SigningKey key,
        JobSettings settings) => services.AddStudentDataQualityJobs(dataSource, () => key, settings);

    /// <summary>With the signing key read when first needed (a command that only enqueues never needs it).</summary>
    public static IServiceCollection AddStudentDataQualityJobs(this IServiceCollection services, NpgsqlDataSource dataSource, Func<SigningKey> key,
        JobSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(key);
        // What the jobs record (problems, results, failures) is in English: JobsInEnglish.
        JobsInEnglish.Register();
        services.AddSingleton(dataSource);
        services.AddSingleton(_ => key());
        services.AddSingleton(settings);
        services.AddSingleton(settings.Checks);
        services.AddSingleton<ExtractService>();
        services.AddSingleton<CheckRunner>();
        services.AddSingleton<WorksheetIssuer>();
        services.AddSingleton<ReturnIngest>();
        // One batcher per process: the returns its jobs take at the same time share their re-checks.
        services.AddSingleton(provider => new ReturnBatcher(provider.GetRequiredService<ReturnIngest>(), settings.Returns,
            provider.GetService<Microsoft.Extensions.Logging.ILogger<ReturnBatcher>>()));
        services.AddSingleton<AccountStore>();
        services.AddSingleton<InboxSenders>();
        services.AddSingleton<RoundRuns>();
        services.AddSingleton<RoundLauncher>();
        services.AddTransient<RoundJobs>();
        services.AddTransient<IngestJob>();
        services.AddTransient<InboxJob>();
        services.AddTransient<DailyJobs>();
        services.AddTransient<ScheduledRoundJob>();
        services.AddTransient<ExtractJob>();
        return services;
    }
}
