using Spectre.Console;
using Spectre.Console.Cli;

namespace StudentDataQuality.Cli.Commands;

public sealed class DbStartCommand : AsyncCommand<SdqSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        if (SdqEnvironment.ConfiguredConnectionString() is not null)
        {
            throw new UserErrorException(new UserMessage("Cli.DbConfigured"));
        }

        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var status = SdqEnvironment.Embedded(settings.DataDirectory).Status();
        AnsiConsole.MarkupLineInterpolated($"[green]Embedded PostgreSQL {status.Version} is running[/] on 127.0.0.1:{status.Port}, data in {status.DataDirectory}; schema up to date.");
        return 0;
    }
}

public sealed class DbStopCommand : Command<SdqSettings>
{
    public override int Execute(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        var embedded = SdqEnvironment.Embedded(settings.DataDirectory);
        AnsiConsole.WriteLine(embedded.Stop() ? $"Stopped the embedded PostgreSQL in {embedded.Status().DataDirectory}." : "The embedded PostgreSQL was not running.");
        return 0;
    }
}

public sealed class DbStatusCommand : Command<SdqSettings>
{
    public override int Execute(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        if (SdqEnvironment.ConfiguredConnectionString() is { } configured)
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(configured);
            AnsiConsole.WriteLine($"Configured database: {builder.Host}:{builder.Port}/{builder.Database} (SDQ_DB or appsettings.json).");
            return 0;
        }

        var status = SdqEnvironment.Embedded(settings.DataDirectory).Status();
        AnsiConsole.WriteLine(!status.Initialised
            ? $"Embedded PostgreSQL: not created yet (data folder {status.DataDirectory}); any command that needs it creates it."
            : $"Embedded PostgreSQL {status.Version}: {(status.Running ? "running" : "stopped")}, 127.0.0.1:{status.Port}, data folder {status.DataDirectory}.");
        return 0;
    }
}

public sealed class DbUrlCommand : Command<SdqSettings>
{
    public override int Execute(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        var connectionString = SdqEnvironment.ConfiguredConnectionString()
            ?? SdqEnvironment.Target(SdqEnvironment.Embedded(settings.DataDirectory).ConnectionStringIfInitialised())
            ?? throw new UserErrorException(new UserMessage("Cli.DbNotCreated"));
        var b = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        Console.WriteLine($"postgresql://{Uri.EscapeDataString(b.Username ?? "")}:{Uri.EscapeDataString(b.Password ?? "")}@{b.Host}:{b.Port}/{b.Database}");
        return 0;
    }
}

public sealed class DbMigrateCommand : AsyncCommand<SdqSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        await using var command = dataSource.CreateCommand("SELECT max(version) FROM public.schema_migration");
        AnsiConsole.WriteLine($"Schema is at version {await command.ExecuteScalarAsync(cancellationToken)}.");
        return 0;
    }
}
