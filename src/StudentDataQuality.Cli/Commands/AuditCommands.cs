using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data;

namespace StudentDataQuality.Cli.Commands;

/// <summary>
/// Checks the audit log's hash chain (migration 0017): says it is whole, with its end to keep elsewhere, or names the first
/// broken link (exit code 1).
/// </summary>
public sealed class AuditVerifySettings : SdqSettings
{
    [CommandOption("--end <POSITION:HASH>")]
    [Description("An end an earlier verify printed, kept outside the database: the chain must still hold it.")]
    public string? End { get; init; }

    public override ValidationResult Validate() =>
        End is null || ParseEnd(End) is not null ? ValidationResult.Success()
        : ValidationResult.Error($"--end '{End}' is not an end as verify prints it: give POSITION:HASH, e.g. 1367:adf0…554a (64 hex digits).");

    public static (long Position, string Hash)? ParseEnd(string text)
    {
        var parts = text.Trim().Split(':');
        return parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var position) && position >= 1
               && parts[1].Length == 64 && parts[1].All(char.IsAsciiHexDigit)
            ? (position, parts[1].ToLowerInvariant())
            : null;
    }
}

public sealed class AuditVerifyCommand : AsyncCommand<AuditVerifySettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, AuditVerifySettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var report = await AuditChain.VerifyAsync(dataSource, settings.End is null ? null : AuditVerifySettings.ParseEnd(settings.End), cancellationToken);
        if (report.Break is { EventId: 0 } cut)
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[red]The audit chain does not reach the end kept:[/] {cut.Problem}.");
            return 1;
        }

        if (report.Break is { } broken)
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                $"[red]The audit chain breaks at event {broken.EventId} ({Beijing(broken.OccurredAt)} Beijing time{(broken.Position > 0 ? $", position {broken.Position}" : "")}):[/] {broken.Problem}.");
            AnsiConsole.WriteLine("Events before it are as they were sealed. Compare the log with a backup from before that time, and keep this database's owner password away from the portal's hosts.");
            return 1;
        }

        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
            $"[green]The audit chain is whole:[/] {report.Linked} events linked; its end is {report.Position}:{report.Head} (position:hash).");
        AnsiConsole.WriteLine("Keep that end outside the database (a report, a ticket) and give it to a later verify as --end: a log rewritten or cut short from its end is told only so.");
        return 0;
    }

    private static string Beijing(DateTimeOffset at) => at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
