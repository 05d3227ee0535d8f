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
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
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

    /// <summary>Where rounds started from the web write their worksheets (a folder per round); every worker must reach it.</summary>
    public string Worksheets { get; init; } = Path.Combine(Path.GetTempPath(), "sdq-worksheets");
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

    public static WebApplication Build(PortalSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(settings.Urls);
        builder.Logging.ClearProviders();
        if (settings.Logging is not null)
        {
            builder.Logging.AddProvider(settings.Logging);
        }

        builder.Services.AddSingleton(settings);
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
        builder.Services.AddAuthorization();
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
        app.Use(Html.ChooseLanguage);
        app.UseAuthentication();
        app.Use(NewPasswordFirst);
        app.UseAuthorization();
        app.UseRateLimiter();
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

            context.Response.Cookies.Append(context.Request.IsHttps ? Html.SecureLanguageCookie : Html.LanguageCookie, code, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.FromDays(365), IsEssential = true,
                Secure = context.Request.IsHttps, Path = "/",
            });
            return Results.Redirect(Html.LocalOrHome(back));
        });
        app.MapGet("/login", (HttpContext context, IAntiforgery antiforgery) => Page(LoginPage(antiforgery.GetAndStoreTokens(context), null)));
        app.MapPost("/login", SignInAsync).RequireRateLimiting(SignInRateLimit);
        app.MapGet("/password", (HttpContext context, IAntiforgery antiforgery) => Page(PasswordPage(antiforgery.GetAndStoreTokens(context), null)))
            .RequireAuthorization();
        app.MapPost("/password", ChangePasswordAsync).RequireAuthorization();
        app.MapPost("/logout", async (HttpContext context, IAntiforgery antiforgery, Sessions sessions) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.BadRequest();
            }

            // Ended on the server: the cookie, and any copy of it, opens nothing any more.
            if (context.User.FindFirstValue(SessionClaim) is { } token)
            {
                await sessions.EndAsync(token, ClientAddress(context), context.RequestAborted);
            }

            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        });
        app.MapGet("/denied", () => Html.Content(Html.Page(Html.T("无权访问", "Not allowed"),
            $"<h1>{Html.T("无权访问", "Not allowed")}</h1><p>{Html.T("您的账号无权查看此页面。", "Your account may not see this page.")}</p><p><a href=\"/\">{Html.T("返回", "Back")}</a></p>"),
            StatusCodes.Status403Forbidden));
        app.MapGet("/", (HttpContext context, IAntiforgery antiforgery) => Page(HomePage(context.User, antiforgery.GetAndStoreTokens(context))))
            .RequireAuthorization();
        SecondFactorPages.Map(app);
        SchoolPages.Map(app);
        TeamPages.Map(app);
        ManagerPages.Map(app);
        return app;
    }

    private static IResult Page(string html) => Results.Content(html, "text/html; charset=utf-8");

    /// <summary>
    /// A sign-in, in this order: the input (a name that cannot be an account's is refused before any look-up), the throttle
    /// (failures from this address, or on this account from places it never signed in from) and the account's rate limit,
    /// the password, and only then what is told to the right password alone (sealed, locked); then the session.
    /// </summary>
    private static async Task<IResult> SignInAsync(HttpContext context, IAntiforgery antiforgery, SignIns signIns, SignInLimiter limiter, Gates gates)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the sign-in page.");
        }

        var form = await context.Request.ReadFormAsync();
        var name = form["account"].ToString().Trim();
        var password = form["password"].ToString();
        var from = ClientAddress(context);

        // 1. The input.
        if (!AccountNames.IsValid(name))
        {
            await signIns.RefuseNameAsync(name, from, context.RequestAborted);
            return LoginAnswer(context, antiforgery, Html.T(
                $"账号名应为 1 至 {AccountNames.MaxLength} 个字母、数字或 . _ @ -（以字母或数字开头）；请核对后重新输入。",
                $"An account name is 1 to {AccountNames.MaxLength} letters, digits, '.', '_', '@' or '-', starting with a letter or digit; check it and type it again."),
                StatusCodes.Status400BadRequest);
        }

        // 2. The throttle, then the rate of attempts on the account (after the throttle: attempts it stops use none of it).
        if (await signIns.ThrottleAsync(name, from, context.RequestAborted) is { } until)
        {
            return LoginAnswer(context, antiforgery, ThrottledMessage(until), StatusCodes.Status429TooManyRequests);
        }

        using var permit = limiter.Acquire(name);
        if (!permit.IsAcquired)
        {
            return TooMany(permit);
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
            SignInOutcome.WrongPassword or SignInOutcome.InvalidName => Html.T("账号或密码不正确。", "The account or password is wrong."),
            SignInOutcome.Locked => string.Create(CultureInfo.InvariantCulture, $"{Html.T(
                $"多次登录失败，账号已锁定至 {result.LockedUntil!.Value.ToOffset(TimeSpan.FromHours(8)):HH:mm}（北京时间），请届时再试或联系数据管理员。",
                $"After repeated failures the account is locked until {result.LockedUntil!.Value.ToOffset(TimeSpan.FromHours(8)):HH:mm} (Beijing time); try again then, or ask the data team.")}"),
            SignInOutcome.Sealed => Html.T("账号超过 180 天未使用，已封存；请联系数据管理员获取新的一次性密码。",
                "The account was unused for 180 days and is sealed; ask the data team for a new one-time password."),
            SignInOutcome.Throttled => ThrottledMessage(result.LockedUntil!.Value),
            SignInOutcome.OneTimePasswordExpired => Html.T("该一次性密码已过期，请联系数据管理员获取新的一次性密码。",
                "This one-time password has expired: ask your data team for a new one."),
            _ => null,
        };
        if (error is not null)
        {
            return LoginAnswer(context, antiforgery, error,
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

    private static IResult LoginAnswer(HttpContext context, IAntiforgery antiforgery, string error, int status) =>
        Results.Content(LoginPage(antiforgery.GetAndStoreTokens(context), error), "text/html; charset=utf-8", statusCode: status);

    private static string ThrottledMessage(DateTimeOffset until) => string.Create(CultureInfo.InvariantCulture, $"{Html.T(
        $"登录失败次数过多（来自此网络，或在此账号从未登录过的地点）。请于 {until.ToOffset(TimeSpan.FromHours(8)):HH:mm}（北京时间）后再试；在平时登录的地点仍可照常登录。",
        $"Too many failed sign-ins (from this network, or on this account from places it has never signed in from). Try again after {until.ToOffset(TimeSpan.FromHours(8)):HH:mm} (Beijing time); from where you usually sign in, you can sign in now.")}");

    private static async Task<IResult> ChangePasswordAsync(HttpContext context, IAntiforgery antiforgery, SignIns signIns, Sessions sessions, Gates gates)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var form = await context.Request.ReadFormAsync();
        var name = context.User.Identity!.Name!;
        var current = form["current"].ToString();
        var chosen = form["new"].ToString();
        // The new password is judged first; the current one is then confirmed under the sign-in rules (failures count
        // towards the throttle, so this form cannot be used to guess passwords).
        using var slot = await gates.PasswordChecks.EnterAsync(context.RequestAborted);
        var problem = Passwords.Problem(name, current, chosen, form["confirm"].ToString());
        var check = problem is null
            ? await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, current), ClientAddress(context), confirmingPassword: true,
                cancellationToken: context.RequestAborted)
            : null;
        if (check is not null && check.Outcome is not (SignInOutcome.SignedIn or SignInOutcome.MustChangePassword))
        {
            problem = check.Outcome == SignInOutcome.Throttled ? ThrottledMessage(check.LockedUntil!.Value) : Html.T("原密码不正确。", "The current password is wrong.");
        }

        if (problem is not null || check is null)
        {
            return Results.Content(PasswordPage(antiforgery.GetAndStoreTokens(context), problem), "text/html; charset=utf-8",
                statusCode: StatusCodes.Status400BadRequest);
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
                throw new UserErrorException(
                    $"The known proxy '{proxy}' (Web:KnownProxies) is neither an IP address nor a network such as 10.0.0.0/8; correct it in the configuration.");
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
            o.OnRejected = (rejected, _) => new ValueTask(TooMany(rejected.Lease).ExecuteAsync(rejected.HttpContext));
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
    private static IResult TooMany(RateLimitLease lease)
    {
        var seconds = lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? (int)Math.Ceiling(retry.TotalSeconds) : 60;
        var title = Html.T("尝试过于频繁", "Too many attempts");
        var html = Html.Page(title, $"""
            <h1>{title}</h1>
            <p>{Html.T($"尝试过于频繁，请约 {Math.Max(1, seconds / 60)} 分钟后再试。", $"Too many attempts in a short time; wait about {Math.Max(1, seconds / 60)} minute(s) and try again.")}</p>
            <p><a href="/">{Html.T("返回", "Back")}</a></p>
            """);
        return new TooManyResult(html, seconds);
    }

    private sealed class TooManyResult(string html, int retryAfterSeconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            return Html.Content(html, StatusCodes.Status429TooManyRequests).ExecuteAsync(httpContext);
        }
    }

    private static string LoginPage(AntiforgeryTokenSet tokens, string? error) => Html.Page(Html.T("登录", "Sign in"), $"""
        <h1>{Html.T("学籍数据质量 · 登录", "StudentDataQuality · Sign in")}</h1>
        {Html.Error(error)}
        <form class="stacked" method="post" action="/login">
        {Html.Token(tokens)}
        <label for="account">{Html.T("账号", "Account")}</label>
        <input type="text" id="account" name="account" autocomplete="username" required>
        <label for="password">{Html.T("密码", "Password")}</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required>
        <button type="submit">{Html.T("登录", "Sign in")}</button>
        </form>
        """);

    private static string PasswordPage(AntiforgeryTokenSet tokens, string? error) => Html.Page(Html.T("设置新密码", "New password"), $"""
        <h1>{Html.T("设置新密码", "Choose a new password")}</h1>
        <p>{Html.T($"请设置只有您知道的新密码（至少 {Passwords.MinimumLength} 个字符）。", $"Choose a password only you know (at least {Passwords.MinimumLength} characters).")}</p>
        {Html.Error(error)}
        <form class="stacked" method="post" action="/password">
        {Html.Token(tokens)}
        <label for="current">{Html.T("原密码", "Current password")}</label>
        <input type="password" id="current" name="current" autocomplete="current-password" required>
        <label for="new">{Html.T("新密码", "New password")}</label>
        <input type="password" id="new" name="new" autocomplete="new-password" required minlength="{Passwords.MinimumLength}">
        <label for="confirm">{Html.T("再次输入新密码", "New password again")}</label>
        <input type="password" id="confirm" name="confirm" autocomplete="new-password" required minlength="{Passwords.MinimumLength}">
        <button type="submit">{Html.T("保存", "Save")}</button>
        </form>
        """);

    private static string HomePage(ClaimsPrincipal user, AntiforgeryTokenSet tokens)
    {
        var role = user.FindFirstValue(ClaimTypes.Role);
        var scope = user.FindFirstValue(SchoolClaim) is { } school ? $"{Html.T("学校", "school")} {Html.E(school)}"
            : user.FindFirstValue(DistrictClaim) is { } district ? $"{Html.T("区县", "district")} {Html.E(district)}"
            : role == "manager" ? Html.T("汇总数据", "aggregates only") : Html.T("全省", "the whole province");
        var links = role switch
        {
            "data_team" => $"""
                <p><a href="/team">{Html.T("数据管理控制台", "Data team console")}</a></p>
                <p><a href="/trends">{Html.T("质量趋势", "Quality trends")}</a></p>
                <p><a href="{DashboardPath}">{Html.T("作业面板", "Jobs dashboard")}</a></p>
                <p><a href="/school">{Html.T("学校（/school?code=…）", "Schools (/school?code=…)")}</a> · <a href="/district">{Html.T("区县（/district?code=…）", "Districts (/district?code=…)")}</a></p>
                """,
            "school" => $"""<p><a href="/school">{Html.T("本校问题清单", "Our worksheet")}</a></p>""",
            "district" => $"""<p><a href="/district">{Html.T("辖区学校", "Our schools")}</a></p><p><a href="/trends">{Html.T("本区县质量趋势", "Our district's quality trends")}</a></p>""",
            "manager" => $"""<p><a href="/trends">{Html.T("质量趋势", "Quality trends")}</a></p>""",
            _ => "",
        };
        return Html.Page(Html.T("首页", "Home"), $"""
            <header><span>{Html.E(user.Identity?.Name)} · {Html.E(RoleName(role))} · {scope}</span>
            <form method="post" action="/logout">{Html.Token(tokens)}<button type="submit">{Html.T("退出", "Sign out")}</button></form></header>
            {links}
            """);
    }

    private static string RoleName(string? role) => role switch
    {
        "data_team" => Html.T("数据管理员", "data team"),
        "district" => Html.T("区县教育局", "district office"),
        "school" => Html.T("学校学籍管理员", "school registrar"),
        "manager" => Html.T("管理人员", "manager"),
        _ => role ?? "",
    };

    /// <summary>Sends a signed-in account away from a page its role may not see, and puts the refusal on record.</summary>
    internal static async Task<IResult> DeniedAsync(HttpContext context)
    {
        await AuditDeniedAsync(context);
        return Results.Redirect("/denied");
    }

    private static async Task AuditDeniedAsync(HttpContext context)
    {
        var dataSource = context.RequestServices.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await StudentDataQuality.Data.AuditLog.WriteAsync(connection, context.User.Identity?.Name ?? "anonymous", "access.refused", null,
            context.User.FindFirstValue(SchoolClaim), context.Request.Path.ToString(),
            new { what = "page", role = context.User.FindFirstValue(ClaimTypes.Role), from = context.Connection.RemoteIpAddress?.ToString() ?? "" },
            context.RequestAborted);
    }

    /// <summary>The jobs dashboard answers the data team only (signed in, new password chosen); every refusal is audited.</summary>
    private sealed class DataTeamOnly(NpgsqlDataSource dataSource) : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context)
        {
            var http = context.GetHttpContext();
            var user = http.User;
            if (user.Identity?.IsAuthenticated == true && user.IsInRole("data_team") && !user.HasClaim(c => c.Type == MustChangeClaim))
            {
                return true;
            }

            using var command = dataSource.CreateCommand("""
                INSERT INTO audit.event (actor, action, object, details) VALUES (@actor, 'dashboard.refused', @path, jsonb_build_object('from', @from))
                """);
            command.Parameters.AddWithValue("actor", user.Identity?.Name ?? "anonymous");
            command.Parameters.AddWithValue("path", http.Request.Path.ToString());
            command.Parameters.AddWithValue("from", http.Connection.RemoteIpAddress?.ToString() ?? "");
            command.ExecuteNonQuery();
            return false;
        }
    }
}
