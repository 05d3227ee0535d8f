using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Claims;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Web.Components.Worker;

namespace StudentDataQuality.Web;

/// <summary>
/// The jobs dashboard of `sdq worker --dashboard` (Hangfire's, at <c>/hangfire</c>), for the data team only: a sign-in
/// page that checks the account as the portal does (<see cref="SignIns"/>: the same accounts, passwords, lockout and
/// sealing, every attempt audited), a session cookie whose session lives in the worker (signing out ends it there: a copy
/// of the cookie opens nothing), antiforgery on every form and on every action of the dashboard (Hangfire's middleware
/// checks ASP.NET Core's <see cref="IAntiforgery"/> when it is registered), and requests from other machines refused unless
/// the deployment allows them. Every refusal of a signed-in account is audited (<c>dashboard.refused</c>). Its pages are the
/// portal's kind: Razor components (Components/Worker) in the portal's layout, texts in Resources/WorkerText.resx, the language
/// chosen as in the portal, and every form's POST checked by the antiforgery middleware and refused (400) by the group's filter.
/// </summary>
public static class WorkerDashboard
{
    public const string DashboardPath = "/hangfire";

    /// <summary>A session ends after this long without a request.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);

    /// <summary>A session ends this long after its sign-in, however busy.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    private const string Scheme = "sdq.worker";
    private const string StampClaim = "sdq:stamp";
    private const string SinceClaim = "sdq:since";
    private static readonly string DataTeam = Account.RoleText(AccountRole.DataTeam);

    /// <summary>The services of the dashboard's sign-in, sessions and antiforgery, on the worker's database.</summary>
    public static IServiceCollection AddWorkerDashboard(this IServiceCollection services, NpgsqlDataSource dataSource, Application.SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(key);
        // The data team's second factor, as the portal asks it (the authenticator set up there; the same key reads its secret).
        services.AddSingleton(new SecondFactors(dataSource));
        services.AddSingleton(new SecondFactorCodes(key));
        // An unknown account is checked against a decoy hash: its answer takes as long as a wrong password's.
        services.AddSingleton(new SignIns(dataSource, SignInPolicy.Default with { DecoyHash = Passwords.Hash("decoy", Passwords.OneTime()) }));
        services.AddSingleton(new Gates(1, Environment.ProcessorCount));
        services.AddSingleton<SessionStore>();
        services.AddAntiforgery(o =>
        {
            // Names of its own: the portal on the same host (another port) sends its cookies here too.
            o.Cookie.Name = "sdq.worker.antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.HeaderName = "X-SDQ-Antiforgery";
        });
        services.AddAuthentication(Scheme).AddCookie(Scheme, o =>
        {
            o.Cookie.Name = "sdq.worker.session";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.LoginPath = "/login";
            o.ExpireTimeSpan = IdleTimeout;
            o.SlidingExpiration = true;
            o.Events.OnValidatePrincipal = async validate =>
            {
                // Every request checks the session's age and its account: sealed, or given a new password since, and it ends.
                var principal = validate.Principal;
                var since = principal?.FindFirstValue(SinceClaim) is { } text
                    ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)
                    : DateTimeOffset.MinValue;
                if (principal?.Identity?.Name is not { } name || principal.FindFirstValue(StampClaim) is not { } stamp
                    || DateTimeOffset.UtcNow - since > Lifetime
                    || !await validate.HttpContext.RequestServices.GetRequiredService<SignIns>().SessionValidAsync(name, stamp, validate.HttpContext.RequestAborted))
                {
                    validate.RejectPrincipal();
                    await validate.HttpContext.SignOutAsync(Scheme);
                }
            };
        });
        services.AddOptions<CookieAuthenticationOptions>(Scheme).Configure<SessionStore>((o, store) => o.SessionStore = store);
        services.AddAuthorization();
        // The pages, as the portal draws them (Portal.Build): Razor components, every script as itself, texts from Resources/*.resx.
        services.AddRazorComponents();
        services.AddSingleton(System.Text.Encodings.Web.HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All));
        services.AddLocalization(o => o.ResourcesPath = "Resources");
        return services;
    }

    /// <summary>
    /// The dashboard and its sign-in on the app. <paramref name="localOnly"/>: requests from other machines are refused
    /// before anything (the sign-in page included), as they were before the dashboard had accounts.
    /// </summary>
    public static WebApplication MapWorkerDashboard(this WebApplication app, NpgsqlDataSource dataSource, bool localOnly)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(dataSource);
        app.Use(SecurityHeaders.For(DashboardPath));
        app.UseRequestLocalization(Languages.Options());
        // An unexpected failure: logged, and the portal's page that says so, never a stack trace.
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = Portal.UnexpectedAsync });
        if (localOnly)
        {
            app.Use((context, next) =>
            {
                if (IsLocal(context.Connection))
                {
                    return next();
                }

                var text = context.RequestServices.GetRequiredService<IStringLocalizer<WorkerText>>();
                return Page.Message(text["LocalOnly.Title"], text["LocalOnly"], StatusCodes.Status403Forbidden, error: true).ExecuteAsync(context);
            });
        }

        app.UseAuthentication();
        app.UseAuthorization();
        // Every POST of the pages carries its form's token: the middleware checks it, the group's filter refuses a bad one (Policies).
        app.UseAntiforgery();
        // Without a session the dashboard's pages send the reader to sign in; its actions answer 401.
        app.Use((context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments(DashboardPath) || context.User.Identity?.IsAuthenticated == true)
            {
                return next();
            }

            if (HttpMethods.IsGet(context.Request.Method))
            {
                context.Response.Redirect("/login");
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            }

            return Task.CompletedTask;
        });
        app.UseHangfireDashboard(DashboardPath, Options(dataSource, localOnly));

        app.MapGet("/", () => Results.Redirect(DashboardPath));
        // The reader's language, kept a year, as the portal keeps it (the same cookie and value).
        app.MapGet("/lang/{code}", (HttpContext context, string code, string? back) =>
        {
            if (code is not ("zh" or "en"))
            {
                return Results.NotFound();
            }

            context.Response.Cookies.Append(context.Request.IsHttps ? Languages.SecureCookie : Languages.Cookie, Languages.CookieValue(code), new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.FromDays(365), IsEssential = true, Secure = context.Request.IsHttps, Path = "/",
            });
            return Results.Redirect(LocalPath.OrHome(back));
        });
        var pages = app.MapGroup("").Guarded();
        pages.MapGet("/login", () => Page.Show<WorkerLoginPage>());
        pages.MapPost("/login", SignInAsync);
        pages.MapGet("/account", (HttpContext context) => context.User.Identity?.IsAuthenticated == true
            ? (IResult)Page.Show<WorkerAccountPage>()
            : Results.Redirect("/login"));
        pages.MapPost("/logout", async (HttpContext context) =>
        {
            await context.SignOutAsync(Scheme);
            return Results.Redirect("/login");
        });
        return app;
    }

    /// <summary>The dashboard's options: the data team only (and, when <paramref name="localOnly"/>, this machine only); no connection string shown.</summary>
    public static DashboardOptions Options(NpgsqlDataSource dataSource, bool localOnly) => new()
    {
        Authorization = localOnly ? [new LocalRequestsOnlyAuthorizationFilter(), new DataTeamOnly(dataSource)] : [new DataTeamOnly(dataSource)],
        DisplayStorageConnectionString = false,
        DashboardTitle = "StudentDataQuality jobs",
        // "Back to site" leads to the account's page (who is signed in, and signing out).
        AppPath = "/account",
        IgnoreAntiforgeryToken = false,
    };

    /// <summary>The session's principal for an account that signed in with a password of <paramref name="stamp"/>.</summary>
    public static ClaimsPrincipal Principal(Account account, string stamp)
    {
        ArgumentNullException.ThrowIfNull(account);
        return new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, account.Name), new Claim(ClaimTypes.Role, Account.RoleText(account.Role)), new Claim(StampClaim, stamp),
            new Claim(SinceClaim, DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)),
        ], Scheme));
    }

    private static bool IsLocal(ConnectionInfo connection) =>
        connection.RemoteIpAddress is { } remote && (IPAddress.IsLoopback(remote) || remote.Equals(connection.LocalIpAddress));

    private static async Task<IResult> SignInAsync(HttpContext context, IStringLocalizer<WorkerText> text, SignIns signIns, Gates gates,
        NpgsqlDataSource dataSource, SecondFactors factors, SecondFactorCodes codes)
    {
        var form = await context.Request.ReadFormAsync();
        var name = form["account"].ToString().Trim();
        var password = form["password"].ToString();
        var from = Portal.ClientAddress(context);
        SignInResult result;
        using (await gates.PasswordChecks.EnterAsync(context.RequestAborted))
        {
            result = await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, password), from, cancellationToken: context.RequestAborted);
        }

        // Every outcome by name: only a signed-in data-team account goes on, to its second factor.
        var (error, status) = result.Outcome switch
        {
            SignInOutcome.WrongPassword or SignInOutcome.InvalidName => (text["SignIn.Wrong"].Value, StatusCodes.Status401Unauthorized),
            SignInOutcome.Throttled => (text["SignIn.Throttled"].Value, StatusCodes.Status429TooManyRequests),
            SignInOutcome.OneTimePasswordExpired => (text["SignIn.OneTimeExpired"].Value, StatusCodes.Status401Unauthorized),
            SignInOutcome.Locked => (text["SignIn.Locked"].Value, StatusCodes.Status401Unauthorized),
            SignInOutcome.Sealed => (text["SignIn.Sealed"].Value, StatusCodes.Status401Unauthorized),
            SignInOutcome.MustChangePassword => (text["SignIn.MustChange"].Value, StatusCodes.Status403Forbidden),
            SignInOutcome.SignedIn when result.Account!.Role != AccountRole.DataTeam => (text["SignIn.DataTeamOnly"].Value, StatusCodes.Status403Forbidden),
            SignInOutcome.SignedIn => await SecondFactorAsync(text, result.Account!, form["code"].ToString(), from, factors, codes, context.RequestAborted),
            _ => (text["SignIn.Refused"].Value, StatusCodes.Status401Unauthorized),
        };
        if (error is not null)
        {
            if (status == StatusCodes.Status403Forbidden)
            {
                await AuditRefusedAsync(dataSource, result.Account?.Name ?? name, "/login", from, context.RequestAborted);
            }

            return Page.Show<WorkerLoginPage>(new { Error = error }, status);
        }

        await context.SignInAsync(Scheme, Principal(result.Account!, result.Stamp!));
        return Results.Redirect(DashboardPath);
    }

    /// <summary>
    /// The data team's second factor (required of it, as in the portal): a code of the authenticator the account set up in the
    /// portal, taken once; failures count, and lock, as there. No error: the code was right.
    /// </summary>
    private static async Task<(string? Error, int Status)> SecondFactorAsync(IStringLocalizer<WorkerText> text, Account account, string typed, string from,
        SecondFactors factors, SecondFactorCodes codes, CancellationToken cancellationToken)
    {
        var state = await factors.FindAsync(account.Name, cancellationToken);
        if (state is not { Enrolled: true })
        {
            return (text["SignIn.NoFactor"], StatusCodes.Status403Forbidden);
        }

        if (state.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            await factors.LockedAttemptAsync(account, lockedUntil, from, cancellationToken);
            return (text["SignIn.CodesLocked"], StatusCodes.Status429TooManyRequests);
        }

        var secret = codes.Unprotect(account.Name, state.ProtectedSecret, state.KeyId);
        var step = secret is null ? null : SecondFactorCodes.MatchingStep(secret, typed, DateTime.UtcNow);
        var failure = secret is null ? "secret unreadable (another key)"
            : step is null ? "wrong code"
            : await factors.TakeCodeAsync(account, step.Value, from, cancellationToken) ? null : "code used before";
        if (failure is null)
        {
            return (null, StatusCodes.Status200OK);
        }

        await factors.FailedAsync(account, failure, from, cancellationToken);
        return (text["SignIn.CodeWrong"], StatusCodes.Status401Unauthorized);
    }

    private static async Task AuditRefusedAsync(NpgsqlDataSource dataSource, string actor, string path, string from, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, actor, "dashboard.refused", null, null, path, new { from, where = "worker" }, cancellationToken);
    }

    /// <summary>The dashboard answers signed-in data-team accounts of this dashboard's sessions only; every other signed-in account's request is audited.</summary>
    private sealed class DataTeamOnly(NpgsqlDataSource dataSource) : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context)
        {
            var http = context.GetHttpContext();
            var user = http.User;
            if (user.Identity is { IsAuthenticated: true, AuthenticationType: Scheme } && user.IsInRole(DataTeam))
            {
                return true;
            }

            if (user.Identity?.IsAuthenticated == true)
            {
                using var connection = dataSource.OpenConnection();
                AuditLog.WriteAsync(connection, user.Identity.Name ?? "", "dashboard.refused", null, null, http.Request.Path.ToString(),
                    new { from = Portal.ClientAddress(http), where = "worker" }).GetAwaiter().GetResult();
            }

            return false;
        }
    }

    /// <summary>
    /// The sessions, kept in the worker (the cookie holds only a session's key): signing out removes the session, so a copy of
    /// the cookie opens nothing; a worker restarted ends every session.
    /// </summary>
    private sealed class SessionStore : ITicketStore
    {
        private readonly ConcurrentDictionary<string, AuthenticationTicket> _tickets = new(StringComparer.Ordinal);

        public Task<string> StoreAsync(AuthenticationTicket ticket)
        {
            Sweep();
            var key = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            _tickets[key] = ticket;
            return Task.FromResult(key);
        }

        public Task RenewAsync(string key, AuthenticationTicket ticket)
        {
            if (_tickets.ContainsKey(key))
            {
                _tickets[key] = ticket;
            }

            return Task.CompletedTask;
        }

        public Task<AuthenticationTicket?> RetrieveAsync(string key) =>
            Task.FromResult(_tickets.TryGetValue(key, out var ticket) && !(ticket.Properties.ExpiresUtc < DateTimeOffset.UtcNow) ? ticket : null);

        public Task RemoveAsync(string key)
        {
            _tickets.TryRemove(key, out _);
            return Task.CompletedTask;
        }

        private void Sweep()
        {
            foreach (var (key, ticket) in _tickets)
            {
                if (ticket.Properties.ExpiresUtc < DateTimeOffset.UtcNow)
                {
                    _tickets.TryRemove(key, out _);
                }
            }
        }
    }
}
