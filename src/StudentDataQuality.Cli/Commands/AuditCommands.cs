using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data;

namespace StudentDataQuality.Cli.Commands;

/// <summary>
/// Checks the audit log's hash chain (migration 0017): says it is whole, with its end to keep elsewhere, or names the first
/// broken link (exit code 1).
/// </summary>
public sealed class AuditVerifyCommand : AsyncCommand<SdqSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SdqSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var report = await AuditChain.VerifyAsync(dataSource, cancellationToken);
        if (report.Break is { } broken)
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                $"[red]The audit chain breaks at event {broken.EventId} ({Beijing(broken.OccurredAt)} Beijing time{(broken.Position > 0 ? $", position {broken.Position}" : "")}):[/] {broken.Problem}.");
            AnsiConsole.WriteLine("Events before it are as they were sealed. Compare the log with a backup from before that time, and keep this database's owner password away from the portal's hosts.");
            return 1;
        }

        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
            $"[green]The audit chain is whole:[/] {report.Linked} events linked; its end is position {report.Position}, hash {report.Head}.");
        AnsiConsole.WriteLine("Keep that end outside the database (a report, a ticket): a log cut short from its end is told only by comparing with an end kept before.");
        return 0;
    }

    private static string Beijing(DateTimeOffset at) => at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
