using System.ComponentModel;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Spectre.Console.Cli;
using StudentDataQuality.Application;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Web;

namespace StudentDataQuality.Cli.Commands;

public sealed class WorkerSettings : SdqSettings
{
    [CommandOption("--workers <N>")]
    [Description("Jobs run at once by this worker (default Worker:WorkerCount, else the machine's cores).")]
    public int? Workers { get; init; }

    [CommandOption("--queues <LIST>")]
    [Description("Queues this worker takes jobs from, comma-separated (default Worker:Queues, else all: extract,checks,ingest,worksheets,default).")]
    public string? Queues { get; init; }

    [CommandOption("--inbox <DIR>")]
    [Description("Folder watched for returned worksheets (default Worker:Inbox; none if neither is given).")]
    public string? Inbox { get; init; }

    [CommandOption("--dashboard <URL>")]
    [Description("Serve the jobs dashboard at this address, e.g. http://127.0.0.1:5081 (default Worker:Dashboard; off if neither). Data-team accounts sign in; requests from this machine only unless --dashboard-remote.")]
    public string? Dashboard { get; init; }

    [CommandOption("--dashboard-remote")]
    [Description("Let the dashboard answer requests from other machines too (default Worker:DashboardRemote, false): put it behind a TLS reverse proxy.")]
    public bool? DashboardRemote { get; init; }
}

/// <summary>
/// A worker: a Hangfire server on the project's database running the jobs of rounds, returns and schedules, until it is
/// stopped (Ctrl+C or SIGTERM). On stop, jobs in flight get Worker:GracePeriod to finish; one that does not is cancelled
/// (its transaction rolls back) and is run again by the next worker. Any number of workers, on any machines, can share
/// one database: each job is taken by one of them.
/// </summary>
public sealed class WorkerCommand : AsyncCommand<WorkerSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, WorkerSettings settings, CancellationToken cancellationToken)
    {
        var configuration = SdqEnvironment.Configuration;
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var key = SdqEnvironment.SigningKey(settings.DataDirectory);
        var storage = JobHost.Storage(dataSource, configuration);
        var jobSettings = JobHost.Settings(configuration, settings.Inbox);
        var workers = settings.Workers ?? configuration.GetValue("Worker:WorkerCount", Environment.ProcessorCount);
        var queues = (settings.Queues ?? configuration["Worker:Queues"]) is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : JobHost.Queues;
        var grace = configuration.GetValue("Worker:GracePeriod", TimeSpan.FromSeconds(30));
        var dashboard = settings.Dashboard ?? (configuration["Worker:Dashboard"] is { Length: > 0 } url ? url : null);
        var localOnly = !(settings.DashboardRemote ?? configuration.GetValue("Worker:DashboardRemote", false));

        void Configure(IServiceCollection services)
        {
            services.AddJobs(dataSource, () => key, jobSettings, storage);
            services.Configure<HostOptions>(o => o.ShutdownTimeout = grace + TimeSpan.FromSeconds(15));
            services.AddHangfireServer(o =>
            {
                o.WorkerCount = Math.Max(1, workers);
                o.Queues = queues;
                o.ServerName = jobSettings.WorkerName;
                o.StopTimeout = grace;
                o.ShutdownTimeout = TimeSpan.FromSeconds(15);
            });
        }

        await RoundLauncher.SyncScheduleAsync(new RoundRuns(dataSource), new RecurringJobManager(storage), storage, jobSettings.Inbox, cancellationToken);
        Log.Information("Worker {WorkerName} starting: {WorkerCount} workers on queues {Queues}; inbox {Inbox}", jobSettings.WorkerName, workers,
            string.Join(",", queues), jobSettings.Inbox ?? "(none)");
        if (dashboard is null)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
            Configure(builder.Services);
            using var host = builder.Build();
            await host.RunAsync(cancellationToken);
        }
        else
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions
            {
                ContentRootPath = AppContext.BaseDirectory,
                // Production always: the framework's developer page (stack traces) is never shown, whatever the environment says.
                EnvironmentName = Microsoft.Extensions.Hosting.Environments.Production,
            });
            builder.WebHost.UseUrls(dashboard);
            Configure(builder.Services);
            builder.Services.AddWorkerDashboard(dataSource, key);
            await using var app = builder.Build();
            app.MapWorkerDashboard(dataSource, localOnly);
            Log.Information("Jobs dashboard at {DashboardUrl}{DashboardPath} for data-team accounts ({Requests})", dashboard.TrimEnd('/'),
                WorkerDashboard.DashboardPath, localOnly ? "requests from this machine only" : "requests from any machine");
            await app.RunAsync();
        }

        Log.Information("Worker {WorkerName} stopped", jobSettings.WorkerName);
        return 0;
    }
}
