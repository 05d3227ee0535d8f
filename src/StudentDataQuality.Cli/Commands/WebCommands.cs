using System.ComponentModel;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Extensions.Logging;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Web;

namespace StudentDataQuality.Cli.Commands;

public sealed class WebSettings : SdqSettings
{
    [CommandOption("--urls <URLS>")]
    [Description("Where the portal listens (default Web:Urls, else http://127.0.0.1:5080).")]
    public string? Urls { get; init; }

    [CommandOption("--exports <DIR>")]
    [Description("The folder of registry exports the data team may start rounds from in the console (default Web:Exports, else exports/ in the data folder).")]
    public string? Exports { get; init; }
}

/// <summary>The web portal, until stopped: sign-in for every account, the jobs dashboard for the data team.</summary>
public sealed class WebCommand : AsyncCommand<WebSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, WebSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var urls = settings.Urls ?? (SdqEnvironment.Configuration["Web:Urls"] is { Length: > 0 } configured ? configured : "http://127.0.0.1:5080");
        await using var app = Portal.Build(new PortalSettings(dataSource, JobHost.Storage(dataSource, SdqEnvironment.Configuration),
            SdqEnvironment.SigningKey(settings.DataDirectory), urls)
        {
            Logging = new SerilogLoggerProvider(Log.Logger),
            Exports = Path.GetFullPath(settings.Exports ?? (SdqEnvironment.Configuration["Web:Exports"] is { Length: > 0 } exports ? exports
                : Path.Combine(SdqEnvironment.DataRoot(), "exports"))),
            Worksheets = Path.Combine(SdqEnvironment.DataRoot(), "worksheets"),
        });
        AnsiConsole.MarkupLineInterpolated($"The portal is at {urls} (Ctrl+C stops it). Give accounts a one-time password with `sdq user reset <account>`.");
        await app.RunAsync();
        return 0;
    }
}

public sealed class UserNameSettings : SdqSettings
{
    [CommandArgument(0, "<ACCOUNT>")]
    public string Name { get; init; } = "";
}

/// <summary>Gives an account a one-time password (printed once), which opens a locked or sealed account; changed at first sign-in.</summary>
public sealed class UserResetCommand : AsyncCommand<UserNameSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, UserNameSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var password = Passwords.OneTime();
        await new SignIns(dataSource).SetPasswordAsync(settings.Name, Passwords.Hash(settings.Name, password), oneTime: true, SdqEnvironment.Actor,
            cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"One-time password of {settings.Name}: [bold]{password}[/] (shown once; it must be changed at first sign-in).");
        return 0;
    }
}

/// <summary>Seals an account: it cannot sign in until it is given a new one-time password.</summary>
public sealed class UserSealCommand : AsyncCommand<UserNameSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, UserNameSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        await new SignIns(dataSource).SealAsync(settings.Name, SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"Account {settings.Name} is sealed.");
        return 0;
    }
}
