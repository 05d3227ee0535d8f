using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Localization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Logging;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Web.Components.Pages;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Web;

/// <summary>What the portal is started with: its database, the jobs' storage (for the dashboard), where it listens.</summary>
public sealed record PortalSettings(NpgsqlDataSource DataSource, JobStorage JobStorage, SigningKey Key, string Urls)
{
    public SignInPolicy SignInPolicy { get; init; } = SignInPolicy.Default;

    /// <summary>The clock of sessions and the sign-in throttle (a test moves its own).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>A session's absolute lifetime (12 hours) and idle timeout (30 minutes).</summary>
    public SessionPolicy Sessions { get; init; } = SessionPolicy.Default;

    /// <summary>The rate limiter's limits on sign-in and uploads, per client address and per account.</summary>
    public RateLimits RateLimits { get; init; } = RateLimits.Default;

    /// <summary>
    /// The reverse proxies (addresses, or networks as 10.0.0.0/8) whose X-Forwarded-For and X-Forwarded-Proto are believed;
    /// none by default: the headers of any other sender are ignored.
    /// </summary>
    public IReadOnlyList<string> KnownProxies { get; init; } = [];

    /// <summary>
    /// The portal is reached over https (its own, or a TLS proxy's): its cookies are then `__Host-` and always Secure. HSTS is
    /// sent on every https answer.
    /// </summary>
    public bool Tls { get; init; }

    /// <summary>Which roles must have a second factor (the data team and districts by default), and how long a sign-in waits for it.</summary>
    public SecondFactorPolicy SecondFactor { get; init; } = SecondFactorPolicy.Default;
    public ILoggerProvider? Logging { get; init; }

    /// <summary>The folder of registry exports the data team may start rounds from (each file or folder directly in it); none: no starting from the web.</summary>
    public string? Exports { get; init; }

    /// <summary>
    /// Returned worksheets held at once, received and waiting for their batch (the others wait their turn to be read):
    /// by default a batch's worth (at most 64 × 20 MB in memory; a real worksheet is under 1 MB).
    /// </summary>
    public int ConcurrentUploads { get; init; } = ReturnBatching.Default.MaxFiles;

    /// <summary>How uploads are batched with the others that arrive with them (one re-check per batch).</summary>
    public ReturnBatching Returns { get; init; } = ReturnBatching.Default;

    /// <summary>
    /// How long an upload's answer waits for its receipt; past it the registrar reads "received, being checked" on a page
    /// that fills in with the receipt when the batch is done.
    /// </summary>
    public TimeSpan UploadAnswerWithin { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The export register's settings (Exports:TakeWithinHours, as the host read them); none: from the portal's own configuration.</summary>
    public ExportSettings? ExportRules { get; init; }

    /// <summary>
    /// The practice round the database holds, when the host already read it (<c>Practice.FindAsync</c>); none: the portal reads
    /// the marker itself when it is built. Null after that read: a real database.
    /// </summary>
    public StudentDataQuality.Data.Training.PracticeInfo? Practice { get; init; }

    /// <summary>The portal's public address (Web:PublicUrl), which the receipts it writes link their rules' pages to; none: no links.</summary>
    public RuleHelp? RuleHelp { get; init; }

    /// <summary>Where rounds started from the web write their worksheets (a folder per round); every worker must reach it.</summary>
    public string Worksheets { get; init; } = Path.Combine(Path.GetTempPath(), "sdq-worksheets");

    /// <summary>When cases escalate (the Cases settings, as `sdq cases` reads them; docs/cases.md): the cases pages and escalations.</summary>
    public StudentDataQuality.Data.Quality.CaseOptions Cases { get; init; } = StudentDataQuality.Data.Quality.CaseOptions.Default;
}

/// <summary>
/// The web portal (`sdq web`): sign-in (names checked first, rate limits, a throttle on repeated failures, a new password
/// at first sign-in, sealed accounts refused) opening a session kept on the server, antiforgery on every form, security
/// headers on every answer, and the jobs dashboard for the data team only. Every sign-in attempt and every refusal is in
/// the audit log.
/// </summary>
public static class Portal
{
    public const string DashboardPath = "/jobs";

    /// <summary>The largest request the portal reads: a returned worksheet at its limit, and the form around it.</summary>
    public static readonly long MaxUploadRequestBytes = ReturnLimits.Default.MaxBytes + 1024 * 1024;

    /// <summary>An upload up to this size is received whole even when refused, so that the browser shows why.</summary>
    public const long MaxDrainedBytes = 128L * 1024 * 1024;
    private const string MustChangeClaim = "sdq:must_change_password";
    private const string SessionClaim = "sdq:session";

    /// <summary>The rate limit of uploads (per client address, and per account): put on the upload endpoint.</summary>
    public const string UploadRateLimit = "uploads";
    internal const string SignInRateLimit = "sign-in";
    internal const string SchoolClaim = "sdq:school";
    internal const string DistrictClaim = "sdq:district";

    /// <summary>The setting of how long an approved export request may be taken (whole hours, 1 to 168; default 24).</summary>
    public const string TakeWithinSetting = ExportSettings.TakeWithinSetting;

    /// <summary>The export settings from the configuration (<see cref="ExportSettings.FromTakeWithinHours"/>).</summary>
    /// <exception cref="UserErrorException">The setting is not such a number (<c>ExportWiring.TakeWithinHours</c>): the portal does not start.</exception>
    public static ExportSettings ExportSettingsFrom(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return ExportSettings.FromTakeWithinHours(configuration[TakeWithinSetting]);
    }

    public static WebApplication Build(PortalSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // Production always: the framework's developer page (stack traces, SQL) is never shown, whatever the environment says.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.WebHost.UseUrls(settings.Urls);
        builder.Logging.ClearProviders();
        if (settings.Logging is not null)
        {
            builder.Logging.AddProvider(settings.Logging);
        }

        builder.Services.AddSingleton(settings);
        // A practice database (training.practice holds its row), read once: every page then says so (Shell, PracticePages).
        builder.Services.AddSingleton(new PortalPractice(settings.Practice ?? PracticeMarker(settings.DataSource)));
        builder.Services.AddSingleton(settings.DataSource);
        // An unknown account is checked against a decoy hash: its answer takes as long as a wrong password's.
        builder.Services.AddSingleton(new SignIns(settings.DataSource, settings.SignInPolicy with
        {
            DecoyHash = settings.SignInPolicy.DecoyHash ?? Passwords.Hash("decoy", Passwords.OneTime()),
        }, settings.Clock));
        builder.Services.AddSingleton(new Sessions(settings.DataSource, settings.Sessions, settings.Clock));
        builder.Services.AddSingleton(_ => new SignInLimiter(settings.RateLimits.SignInPerAccount));
        AddRateLimits(builder.Services, settings.RateLimits);
        builder.Services.AddSingleton(new SchoolDesk(settings.DataSource));
        builder.Services.AddSingleton(new LineageReader(settings.DataSource));
        builder.Services.AddSingleton(new Gates(settings.ConcurrentUploads, Environment.ProcessorCount));
        builder.Services.AddSingleton(new RoundRuns(settings.DataSource));
        builder.Services.AddSingleton(new ExplanationReview(settings.DataSource));
        builder.Services.AddSingleton(new QualityTrends(settings.DataSource));
        // The one road out for every file (docs/exports.md); an approved request may be taken within Exports:TakeWithinHours.
        var exportSettings = settings.ExportRules ?? ExportSettingsFrom(builder.Configuration);
        builder.Services.AddSingleton(exportSettings);
        builder.Services.AddSingleton(new ExportRegister(settings.DataSource, exportSettings));
        builder.Services.AddSingleton(new ReturnIngest(settings.DataSource, settings.Key));
        // Uploads that arrive together are taken as a batch; stopping the portal finishes the batches under way.
        builder.Services.AddSingleton(provider => new ReturnBatcher(provider.GetRequiredService<ReturnIngest>(), settings.Returns,
            provider.GetService<ILogger<ReturnBatcher>>()));
        builder.Services.AddSingleton<PendingUploads>();
        SecondFactorPages.AddServices(builder.Services, settings);
        // A returned worksheet is refused above ReturnLimits.MaxBytes, with its reason; the request (form and token) may be a little larger.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxUploadRequestBytes);
        builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(o => o.MultipartBodyLengthLimit = MaxUploadRequestBytes);
        // Over TLS every cookie is `__Host-`: Secure, path /, no domain (the browser refuses it otherwise, and no other site
        // of the domain can set or overwrite it).
        var cookiePrefix = settings.Tls ? "__Host-" : "";
        var securePolicy = settings.Tls ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = cookiePrefix + "sdq.antiforgery";
            o.Cookie.Path = "/";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = securePolicy;
        });
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.Cookie.Name = cookiePrefix + "sdq.session";
            o.Cookie.Path = "/";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = securePolicy;
            o.LoginPath = "/login";
            o.AccessDeniedPath = "/denied";
            // The cookie only names the session; the server decides whether it goes on (its row in access.session).
            o.ExpireTimeSpan = settings.Sessions.Lifetime;
            o.SlidingExpiration = false;
            // Every request of a session checks it on the server, in one statement: not signed out, within its lifetime and
            // idle time, its account not sealed and still with the password it was opened with; otherwise the session ends.
            o.Events.OnValidatePrincipal = async validate =>
            {
                var principal = validate.Principal;
                if (principal?.Identity?.Name is not { } name || principal.FindFirstValue(SessionClaim) is not { } token
                    || !await validate.HttpContext.RequestServices.GetRequiredService<Sessions>().ContinueAsync(token, name, validate.HttpContext.RequestAborted))
                {
                    validate.RejectPrincipal();
                    await validate.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                }
            };
            // A signed-in account sent away from a page of another role: on record, like every refusal.
            o.Events.OnRedirectToAccessDenied = async redirect =>
            {
                await AuditDeniedAsync(redirect.HttpContext);
                redirect.Response.Redirect(redirect.RedirectUri);
            };
        });
        builder.Services.AddAuthorization(Policies.Add);
        // Pages are Razor components rendered on the server from the endpoints; their texts come from Resources/*.resx.
        builder.Services.AddRazorComponents();
        // Every script as itself (the default encoder would write Chinese as numeric references); markup characters are still encoded.
        builder.Services.AddSingleton(System.Text.Encodings.Web.HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All));
        builder.Services.AddLocalization(o => o.ResourcesPath = "Resources");
        // The dashboard reads this storage, with no AddHangfire: resolving its global configuration would
        // point the process-wide Hangfire log provider at this app's logger factory, which dies with the app (and with it
        // the logging of every other Hangfire server or client in the process, a worker beside the portal or a test).
        builder.Services.AddSingleton(settings.JobStorage);
        builder.Services.AddSingleton<IGlobalConfiguration>(GlobalConfiguration.Configuration);
        builder.Services.AddSingleton(DashboardRoutes.Routes);
        builder.Services.AddSingleton<IBackgroundJobClient>(new BackgroundJobClient(settings.JobStorage));
        builder.Services.AddSingleton<IRecurringJobManager>(new RecurringJobManager(settings.JobStorage));
        builder.Services.AddSingleton(sp => new RoundLauncher(sp.GetRequiredService<RoundRuns>(), sp.GetRequiredService<IBackgroundJobClient>()));

        var app = builder.Build();
        // First: the client's address and scheme, as a configured proxy forwards them (none configured: the headers are ignored).
        if (settings.KnownProxies.Count > 0)
        {
            app.UseForwardedHeaders(ForwardedHeaders(settings.KnownProxies));
        }

        app.Use(SecurityHeaders.For(DashboardPath));
        app.UseRequestLocalization(Languages.Options());
        // An unexpected failure: logged, and a page in the reader's language that says so, never a stack trace.
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = UnexpectedAsync });
        app.UseAuthentication();
        app.Use(NewPasswordFirst);
        app.UseAuthorization();
        // The rate limits first: an upload or a sign-in counts against them even when refused on its size, its uploader or its token.
        app.UseRateLimiter();
        // Every POST of a page group carries a token; the middleware checks it, the groups' filter refuses a bad one (Policies).
        // An upload is judged by its uploader and its length before that middleware reads its form (SchoolPages).
        app.Use(SchoolPages.GuardUploadsAsync);
        app.UseAntiforgery();
        app.UseHangfireDashboard(DashboardPath, new DashboardOptions
        {
            Authorization = [new DataTeamOnly(settings.DataSource)],
            DisplayStorageConnectionString = false,
            DashboardTitle = "StudentDataQuality jobs",
            AppPath = "/",
        }, settings.JobStorage);

        // The reader's language (a preference, kept a year): Simplified Chinese or English, then back to the page.
        // Checked in the handler, not by a regex route constraint: the slim builder registers none, and every request failed.
        app.MapGet("/lang/{code}", (HttpContext context, string code, string? back) =>
        {
            if (code is not ("zh" or "en"))
            {
                return Results.NotFound();
            }

            context.Response.Cookies.Append(context.Request.IsHttps ? Languages.SecureCookie : Languages.Cookie, Languages.CookieValue(code), new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.FromDays(365), IsEssential = true,
                Secure = context.Request.IsHttps, Path = "/",
            });
            return Results.Redirect(LocalPath.OrHome(back));
        });
        // The pages open to any visitor or any signed-in account; each group of pages has its policy (Policies).
        var open = app.MapGroup("").Guarded();
        open.MapGet("/login", () => Page.Show<LoginPage>());
        open.MapPost("/login", SignInAsync).RequireRateLimiting(SignInRateLimit);
        open.MapGet("/password", () => Page.Show<PasswordPage>()).RequireAuthorization();
        open.MapPost("/password", ChangePasswordAsync).RequireAuthorization();
        open.MapPost("/logout", async (HttpContext context, Sessions sessions) =>
        {
            // Ended on the server: the cookie, and any copy of it, opens nothing any more.
            if (context.User.FindFirstValue(SessionClaim) is { } token)
            {
                await sessions.EndAsync(token, ClientAddress(context), context.RequestAborted);
            }

            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        });
        open.MapGet("/denied", (IStringLocalizer<PortalText> text) =>
            Page.Message(text["Denied.Title"], text["Denied"], StatusCodes.Status403Forbidden, error: true));
        open.MapGet("/", (HttpContext context) => Page.Show<HomePage>(new { Account = AccountOf(context.User) })).RequireAuthorization();
        SecondFactorPages.Map(app);
        SchoolPages.Map(app);
        ClassPages.Map(app);
        TeamPages.Map(app);
        ManagerPages.Map(app);
        ExportPages.Map(app);
        HelpPages.Map(app);
        MistakesPages.Map(app);
        PracticePages.Map(app);
        GuidePages.Map(app);
        CasePages.Map(app);
        return app;
    }

    /// <summary>
    /// A sign-in, in this order: the input (a name that cannot be an account's is refused before any look-up), the throttle
    /// (failures from this address, or on this account from places it never signed in from) and the account's rate limit,
    /// the password, and only then what is told to the right password alone (sealed, locked); then the session.
    /// </summary>
    private static async Task<IResult> SignInAsync(HttpContext context, IStringLocalizer<PortalText> text, SignIns signIns, SignInLimiter limiter, Gates gates)
    {
        var form = await context.Request.ReadFormAsync();
        var name = form["account"].ToString().Trim();
        var password = form["password"].ToString();
        var from = ClientAddress(context);

        // 1. The input.
        if (!AccountNames.IsValid(name))
        {
            await signIns.RefuseNameAsync(name, from, context.RequestAborted);
            return LoginAnswer(text["SignIn.BadName", AccountNames.MaxLength], StatusCodes.Status400BadRequest);
        }

        // 2. The throttle, then the rate of attempts on the account (after the throttle: attempts it stops use none of it).
        if (await signIns.ThrottleAsync(name, from, context.RequestAborted) is { } until)
        {
            return LoginAnswer(ThrottledMessage(text, until), StatusCodes.Status429TooManyRequests);
        }

        using var permit = limiter.Acquire(name);
        if (!permit.IsAcquired)
        {
            return TooMany(context, permit);
        }

        // 3. The password.
        SignInResult result;
        using (await gates.PasswordChecks.EnterAsync(context.RequestAborted))
        {
            result = await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, password), from, cancellationToken: context.RequestAborted);
        }

        // 4. What only the right password is told (and the throttle met at the last moment, by an attempt sent alongside).
        string? error = result.Outcome switch
        {
            SignInOutcome.WrongPassword or SignInOutcome.InvalidName => text["SignIn.Wrong"],
            SignInOutcome.Locked => text["SignIn.Locked", BeijingTime(result.LockedUntil!.Value)],
            SignInOutcome.Sealed => text["SignIn.Sealed"],
            SignInOutcome.Throttled => ThrottledMessage(text, result.LockedUntil!.Value),
            SignInOutcome.OneTimePasswordExpired => text["SignIn.OneTimeExpired"],
            _ => null,
        };
        if (error is not null)
        {
            return LoginAnswer(error,
                result.Outcome == SignInOutcome.Throttled ? StatusCodes.Status429TooManyRequests : StatusCodes.Status401Unauthorized);
        }

        // 5. The second factor (SecondFactorPages): an account that has one, or whose role must, is sent to give a code (or to
        // enrol) with the sign-in kept pending; its session is issued there, through StartSessionAsync.
        var mustChange = result.Outcome == SignInOutcome.MustChangePassword;
        if (await SecondFactorPages.BeforeSessionAsync(context, result.Account!, result.Stamp!, mustChange) is { } secondFactor)
        {
            return secondFactor;
        }

        // 6. The session.
        await IssueSessionAsync(context, result);
        return Results.Redirect(mustChange ? "/password" : "/");
    }

    /// <summary>Issues the session of an account whose second factor was given (or that needs none): see <see cref="IssueSessionAsync"/>.</summary>
    internal static Task StartSessionAsync(HttpContext context, Account account, string stamp, bool mustChange) =>
        IssueSessionAsync(context, new SignInResult(mustChange ? SignInOutcome.MustChangePassword : SignInOutcome.SignedIn, account) { Stamp = stamp });

    /// <summary>
    /// Opens the session of a sign-in that succeeded (<see cref="SignInOutcome.SignedIn"/> or
    /// <see cref="SignInOutcome.MustChangePassword"/>): a row on the server, its random token in the cookie. The one place a
    /// session is issued; a session the request already had ends (no session is carried across a sign-in).
    /// </summary>
    internal static async Task IssueSessionAsync(HttpContext context, SignInResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Outcome is not (SignInOutcome.SignedIn or SignInOutcome.MustChangePassword) || result.Account is null || result.Stamp is null)
        {
            throw new InvalidOperationException($"A session is issued only for a sign-in that succeeded, not for {result.Outcome}.");
        }

        var sessions = context.RequestServices.GetRequiredService<Sessions>();
        if (context.User.FindFirstValue(SessionClaim) is { } previous)
        {
            await sessions.EndAsync(previous, ClientAddress(context), context.RequestAborted);
        }

        var token = await sessions.OpenAsync(result.Account.Name, result.Stamp, ClientAddress(context), context.RequestAborted);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            Principal(result.Account, token, mustChange: result.Outcome == SignInOutcome.MustChangePassword),
            new AuthenticationProperties { IsPersistent = false });
    }

    private static IResult LoginAnswer(string error, int status) => Page.Show<LoginPage>(new { Error = error }, status);

    private static string ThrottledMessage(IStringLocalizer<PortalText> text, DateTimeOffset until) => text["SignIn.Throttled", BeijingTime(until)];

    /// <summary>A time of day as the province reads it (Beijing time, 24 hours).</summary>
    internal static string BeijingTime(DateTimeOffset at) => Components.Dates.Time(at);

    private static async Task<IResult> ChangePasswordAsync(HttpContext context, IStringLocalizer<PortalText> text, SignIns signIns, Sessions sessions, Gates gates)
    {
        var form = await context.Request.ReadFormAsync();
        var name = context.User.Identity!.Name!;
        var current = form["current"].ToString();
        var chosen = form["new"].ToString();
        // The new password is judged first; the current one is then confirmed under the sign-in rules (failures count
        // towards the throttle, so this form cannot be used to guess passwords).
        using var slot = await gates.PasswordChecks.EnterAsync(context.RequestAborted);
        var problem = Passwords.Problem(text, name, current, chosen, form["confirm"].ToString());
        var check = problem is null
            ? await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, current), ClientAddress(context), confirmingPassword: true,
                cancellationToken: context.RequestAborted)
            : null;
        if (check is not null && check.Outcome is not (SignInOutcome.SignedIn or SignInOutcome.MustChangePassword))
        {
            problem = check.Outcome == SignInOutcome.Throttled ? ThrottledMessage(text, check.LockedUntil!.Value) : text["Password.CurrentWrong"];
        }

        if (problem is not null || check is null)
        {
            return Page.Show<PasswordPage>(new { Error = problem }, StatusCodes.Status400BadRequest);
        }

        var hash = Passwords.Hash(name, chosen);
        await signIns.SetPasswordAsync(name, hash, oneTime: false, actor: name);
        // A new password ends every session of the account (those elsewhere too); this browser goes on in a new one.
        await sessions.EndAllAsync(name, context.RequestAborted);
        await IssueSessionAsync(context, check with { Outcome = SignInOutcome.SignedIn, Stamp = SignIns.Stamp(hash) });
        return Results.Redirect("/");
    }

    private static ClaimsPrincipal Principal(Account account, string sessionToken, bool mustChange)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, account.Name), new(ClaimTypes.Role, Account.RoleText(account.Role)), new(SessionClaim, sessionToken) };
        if (account.SchoolCode is { } school)
        {
            claims.Add(new Claim(SchoolClaim, school));
        }

        if (account.DistrictCode is { } district)
        {
            claims.Add(new Claim(DistrictClaim, district));
        }

        if (mustChange)
        {
            claims.Add(new Claim(MustChangeClaim, "true"));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme));
    }

    /// <summary>Signed in with a one-time password: nothing but the new password (and signing out) until it is chosen.</summary>
    private static Task NewPasswordFirst(HttpContext context, Func<Task> next)
    {
        if (context.User.HasClaim(c => c.Type == MustChangeClaim) && context.Request.Path != "/password" && context.Request.Path != "/logout")
        {
            context.Response.Redirect("/password");
            return Task.CompletedTask;
        }

        return next();
    }

    /// <summary>The client's address as the portal knows it (a configured proxy's X-Forwarded-For, else the connection's).</summary>
    internal static string ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "";

    private static ForwardedHeadersOptions ForwardedHeaders(IReadOnlyList<string> proxies)
    {
        // The framework's defaults believe loopback; only what is configured is believed here.
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto,
            ForwardLimit = 1,
        };
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var proxy in proxies)
        {
            if (IPAddress.TryParse(proxy, out var address))
            {
                options.KnownProxies.Add(address);
            }
            else if (System.Net.IPNetwork.TryParse(proxy, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
            else
            {
                throw new UserErrorException(new UserMessage("Settings.KnownProxyInvalid", proxy));
            }
        }

        return options;
    }

    /// <summary>
    /// The rate limiter: sign-in per client address, uploads per client address and per signed-in account (the account of a
    /// sign-in is in its form, read by the handler: <see cref="SignInLimiter"/>). An answer over a limit is a page, 429.
    /// </summary>
    private static void AddRateLimits(IServiceCollection services, RateLimits limits)
    {
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (rejected, _) => new ValueTask(TooMany(rejected.HttpContext, rejected.Lease).ExecuteAsync(rejected.HttpContext));
            o.AddPolicy(SignInRateLimit, context => RateLimits.Window("address:" + SignIns.AddressKey(ClientAddress(context)), limits.SignInPerAddress));
            o.AddPolicy(UploadRateLimit, context => RateLimits.Window("address:" + SignIns.AddressKey(ClientAddress(context)), limits.UploadsPerAddress));
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == UploadRateLimit
                && context.User.Identity?.Name is { } account
                    ? RateLimits.Window("account:" + account, limits.UploadsPerAccount)
                    : RateLimitPartition.GetNoLimiter(""));
        });
    }

    /// <summary>The answer over a rate limit: a page in the reader's language, 429, with when to try again.</summary>
    private static IResult TooMany(HttpContext context, RateLimitLease lease)
    {
        var seconds = lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? (int)Math.Ceiling(retry.TotalSeconds) : 60;
        var text = context.RequestServices.GetRequiredService<IStringLocalizer<PortalText>>();
        return new TooManyResult(Page.Message(text["TooMany.Title"], text["TooMany", Math.Max(1, seconds / 60)], StatusCodes.Status429TooManyRequests, error: true), seconds);
    }

    private sealed class TooManyResult(IResult page, int retryAfterSeconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            return page.ExecuteAsync(httpContext);
        }
    }

    /// <summary>The answer to an unexpected failure (the exception handler's): 500 and a page that says what to do.</summary>
    internal static async Task UnexpectedAsync(HttpContext context)
    {
        var failure = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
        context.RequestServices.GetService<ILoggerFactory>()?.CreateLogger("StudentDataQuality.Web").LogError(failure,
            "Unexpected failure answering {Method} {Path}", context.Request.Method, context.Request.Path.Value);
        var text = context.RequestServices.GetRequiredService<IStringLocalizer<PortalText>>();
        await Page.Message(text["Unexpected.Title"], text["Unexpected"], StatusCodes.Status500InternalServerError, error: true).ExecuteAsync(context);
    }

    /// <summary>The signed-in account as its session's claims name it.</summary>
    /// <summary>
    /// The practice marker when the host did not read it (<see cref="PortalSettings.Practice"/>; `sdq web` does): a database that
    /// cannot be reached while the portal is built is taken as a real one (every page then answers with its own error).
    /// </summary>
    private static StudentDataQuality.Data.Training.PracticeInfo? PracticeMarker(NpgsqlDataSource dataSource)
    {
        try
        {
            return StudentDataQuality.Data.Training.Practice.FindAsync(dataSource).GetAwaiter().GetResult();
        }
        catch (NpgsqlException e) when (e is not PostgresException)
        {
            return null;
        }
    }

    public static Account AccountOf(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return new(user.Identity!.Name!, Account.ParseRole(user.FindFirstValue(ClaimTypes.Role)!), user.FindFirstValue(SchoolClaim), user.FindFirstValue(DistrictClaim));
    }

    private static async Task AuditDeniedAsync(HttpContext context)
    {
        var dataSource = context.RequestServices.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await StudentDataQuality.Data.AuditLog.WriteAsync(connection, context.User.Identity?.Name ?? "anonymous", "access.refused", null,
            context.User.FindFirstValue(SchoolClaim), context.Request.Path.ToString(),
            new { what = "page", role = context.User.FindFirstValue(ClaimTypes.Role), from = ClientAddress(context) },
            context.RequestAborted);
    }

    /// <summary>The jobs dashboard answers the data team only (signed in, new password chosen); every refusal is audited.</summary>
    private sealed class DataTeamOnly(NpgsqlDataSource dataSource) : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context)
        {
            var http = context.GetHttpContext();
            var user = http.User;
            if (user.Identity?.IsAuthenticated == true && user.IsInRole(Account.RoleText(AccountRole.DataTeam)) && !user.HasClaim(c => c.Type == MustChangeClaim))
            {
                return true;
            }

            using var command = dataSource.CreateCommand("""
                INSERT INTO audit.event (actor, action, object, details) VALUES (@actor, 'dashboard.refused', @path, jsonb_build_object('from', @from))
                """);
            command.Parameters.AddWithValue("actor", user.Identity?.Name ?? "anonymous");
            command.Parameters.AddWithValue("path", http.Request.Path.ToString());
            command.Parameters.AddWithValue("from", ClientAddress(http));
            command.ExecuteNonQuery();
            return false;
        }
    }
}
