using System.ComponentModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Serilog;
using Serilog.Extensions.Logging;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Application;
using StudentDataQuality.Cli.Hosting;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Web;
using StudentDataQuality.Worksheets;

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
        var urls = settings.Urls ?? DefaultUrls;
        var exports = Path.GetFullPath(settings.Exports ?? (SdqEnvironment.Configuration["Web:Exports"] is { Length: > 0 } configured ? configured
            : Path.Combine(SdqEnvironment.DataRoot(), "exports")));
        await RunAsync(settings.DataDirectory, urls, exports, cancellationToken);
        return 0;
    }

    /// <summary>Where the portal listens unless told: Web:Urls, else http://127.0.0.1:5080.</summary>
    public static string DefaultUrls => SdqEnvironment.Configuration["Web:Urls"] is { Length: > 0 } configured ? configured : "http://127.0.0.1:5080";

    /// <summary>The setting of the portal's public address, what registrars type to reach it (e.g. https://sdq.edu.example).</summary>
    public const string PublicUrlSetting = "Web:PublicUrl";

    /// <summary>
    /// The portal's public address, which files link their rules' pages to: Web:PublicUrl, else the first of
    /// <paramref name="urls"/> (default <see cref="DefaultUrls"/>), a listen-on-every-address host (*, +, 0.0.0.0, [::])
    /// read as localhost.
    /// </summary>
    /// <exception cref="UserErrorException">The address is not an absolute http or https one (Rules.HelpAddressInvalid, naming the setting).</exception>
    public static RuleHelp PublicAddress(string? urls = null)
    {
        if (SdqEnvironment.Configuration[PublicUrlSetting] is { Length: > 0 } configured)
        {
            return RuleHelp.From(configured, PublicUrlSetting);
        }

        var first = (urls ?? DefaultUrls).Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        var address = System.Text.RegularExpressions.Regex.Replace(first, @"^(https?://)(\*|\+|0\.0\.0\.0|\[::\])(?=[:/]|$)", "${1}localhost",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        return RuleHelp.From(address, urls is null && SdqEnvironment.Configuration["Web:Urls"] is not { Length: > 0 } ? PublicUrlSetting : "Web:Urls");
    }

    /// <summary>Runs the portal until Ctrl+C (or SIGTERM): as the sdq_app role, the owner's connection used only to prepare the database.</summary>
    public static async Task RunAsync(string? dataDirectory, string urls, string exports, CancellationToken cancellationToken)
    {
        NpgsqlDataSource portalDataSource;
        await using (var owner = await SdqEnvironment.OpenDatabaseAsync(dataDirectory, cancellationToken))
        {
            // The owner migrates and installs Hangfire's schema; the portal itself runs as sdq_app (migration 0010), which can
            // read and append to the audit log but never change it. The owner's pool is closed before the portal starts.
            _ = JobHost.Storage(owner, SdqEnvironment.Configuration);
            if (await SdqEnvironment.PortalConnectionStringAsync(dataDirectory, owner, cancellationToken) is { } portal)
            {
                var builder = new NpgsqlDataSourceBuilder(portal);
                builder.UseLoggerFactory(SdqEnvironment.LoggerFactory);
                portalDataSource = builder.Build();
            }
            else
            {
                Log.Warning("The portal connects with the main connection (SDQ_DB), which can change the audit log; give it its own, as the sdq_app role, in SDQ_WEB_DB or Web:ConnectionString");
                portalDataSource = new NpgsqlDataSourceBuilder(SdqEnvironment.ConfiguredConnectionString()!).UseLoggerFactory(SdqEnvironment.LoggerFactory).Build();
            }
        }

        await using var portalPool = portalDataSource;
        IReadOnlyList<string> excess;
        try
        {
            excess = await AppRole.ExcessPrivilegesAsync(portalDataSource, cancellationToken);
        }
        catch (NpgsqlException e) when (e is not PostgresException || e is PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification })
        {
            throw new UserErrorException(new UserMessage("Cli.PortalCannotConnect", e.Message), e);
        }

        foreach (var what in excess)
        {
            Log.Warning("The portal's database role {Excess}: connect it as sdq_app (SDQ_WEB_DB) so that the audit log cannot be changed through the portal", what);
        }

        // A practice database (training.practice holds its row): every page and file of it says so (docs/training.md).
        var practice = await StudentDataQuality.Data.Training.Practice.FindAsync(portalDataSource, cancellationToken);
        // With its security settings (Web:KnownProxies, Web:Tls, session times, rate limits): PortalSecuritySettings.
        await using var app = Portal.Build(PortalSecuritySettings.Apply(new PortalSettings(portalDataSource, JobHost.Storage(portalDataSource, SdqEnvironment.Configuration, prepareSchema: false),
            SdqEnvironment.SigningKey(dataDirectory), urls)
        {
            Logging = new SerilogLoggerProvider(Log.Logger),
            Exports = exports,
            Worksheets = Path.Combine(SdqEnvironment.DataRoot(), "worksheets"),
            Returns = JobHost.Returns(SdqEnvironment.Configuration),
            SecondFactor = SecondFactorSettings.FromConfiguration(SdqEnvironment.Configuration),
            ExportRules = Portal.ExportSettingsFrom(SdqEnvironment.Configuration),
            Practice = practice,
            RuleHelp = PublicAddress(urls),
            Cases = CaseListCommand.Options(),
        }, SdqEnvironment.Configuration));
        await app.StartAsync(cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"The portal is at {urls} (Ctrl+C stops it). Give accounts a one-time password with `sdq user reset <account>`.");
        await app.WaitForShutdownAsync(cancellationToken);
    }
}

/// <summary>The portal's security settings from configuration (the `Web` section; README, "Running behind a TLS reverse proxy").</summary>
internal static class PortalSecuritySettings
{
    /// <summary>
    /// Web:KnownProxies (addresses or networks, a list or comma-separated; none by default), Web:Tls (default: on when the
    /// portal listens on https or has a known proxy), Web:SessionLifetime (12:00:00), Web:IdleTimeout (00:30:00), and the
    /// rate limits per minute: Web:RateLimits:SignInPerAddress (30), SignInPerAccount (10), UploadsPerAddress (60),
    /// UploadsPerAccount (10); Web:AddressMaxFailures (20), the failures from one address before it is slowed.
    /// </summary>
    public static PortalSettings Apply(PortalSettings settings, IConfiguration configuration)
    {
        var web = configuration.GetSection("Web");
        var proxies = web.GetSection("KnownProxies").GetChildren().Select(c => c.Value ?? "")
            .Concat((web["KnownProxies"] ?? "").Split(',', StringSplitOptions.TrimEntries))
            .Where(p => p.Length > 0).ToList();
        var tls = web["Tls"] is { Length: > 0 } tlsText
            ? bool.TryParse(tlsText, out var on) ? on : throw new UserErrorException(new UserMessage("Cli.WebTlsInvalid", tlsText))
            : settings.Urls.Contains("https://", StringComparison.OrdinalIgnoreCase) || proxies.Count > 0;
        var limits = web.GetSection("RateLimits");
        return settings with
        {
            KnownProxies = proxies,
            Tls = tls,
            Sessions = settings.Sessions with
            {
                Lifetime = Span(web, "SessionLifetime", settings.Sessions.Lifetime),
                IdleTimeout = Span(web, "IdleTimeout", settings.Sessions.IdleTimeout),
            },
            RateLimits = new RateLimits
            {
                SignInPerAddress = PerMinute(limits, "SignInPerAddress", settings.RateLimits.SignInPerAddress),
                SignInPerAccount = PerMinute(limits, "SignInPerAccount", settings.RateLimits.SignInPerAccount),
                UploadsPerAddress = PerMinute(limits, "UploadsPerAddress", settings.RateLimits.UploadsPerAddress),
                UploadsPerAccount = PerMinute(limits, "UploadsPerAccount", settings.RateLimits.UploadsPerAccount),
            },
            SignInPolicy = settings.SignInPolicy with
            {
                AddressMaxFailures = Count(web, "AddressMaxFailures", settings.SignInPolicy.AddressMaxFailures),
            },
        };
    }

    private static TimeSpan Span(IConfiguration section, string key, TimeSpan fallback) => section[key] is not { Length: > 0 } text ? fallback
        : TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero ? span
        : throw new UserErrorException(new UserMessage("Cli.WebDurationInvalid", key, text));

    private static RateLimit PerMinute(IConfiguration section, string key, RateLimit fallback) =>
        section[key] is { Length: > 0 } ? new RateLimit(Count(section, key, fallback.Permits), TimeSpan.FromMinutes(1)) : fallback;

    private static int Count(IConfiguration section, string key, int fallback) => section[key] is not { Length: > 0 } text ? fallback
        : int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var count) && count > 0 ? count
        : throw new UserErrorException(new UserMessage("Cli.WebCountInvalid", key, text));
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
        var validUntil = await new SignIns(dataSource, SdqEnvironment.SignInPolicy()).SetPasswordAsync(settings.Name, Passwords.Hash(settings.Name, password),
            oneTime: true, SdqEnvironment.Actor, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"One-time password of {settings.Name}: [bold]{password}[/] (shown once; valid until {SdqEnvironment.ValidUntil(validUntil!.Value)}; it must be changed at first sign-in).");
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
