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
using Npgsql;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Web;

/// <summary>
/// The jobs dashboard of `sdq worker --dashboard` (Hangfire's, at <c>/hangfire</c>), for the data team only: a sign-in
/// page that checks the account as the portal does (<see cref="SignIns"/>: the same accounts, passwords, lockout and
/// sealing, every attempt audited), a session cookie whose session lives in the worker (signing out ends it there: a copy
/// of the cookie opens nothing), antiforgery on every form and on every action of the dashboard (Hangfire's middleware
/// checks ASP.NET Core's <see cref="IAntiforgery"/> when it is registered), and requests from other machines refused unless
/// the deployment allows them. Every refusal of a signed-in account is audited (<c>dashboard.refused</c>).
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
        if (localOnly)
        {
            app.Use((context, next) =>
            {
                if (IsLocal(context.Connection))
                {
                    return next();
                }

                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return context.Response.WriteAsync("The jobs dashboard answers requests from this machine only (Worker:DashboardRemote).");
            });
        }

        app.Use(Html.ChooseLanguage);
        app.UseAuthentication();
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
        app.MapGet("/lang/{code}", (HttpContext context, string code, string? back) =>
        {
            if (code is not ("zh" or "en"))
            {
                return Results.NotFound();
            }

            context.Response.Cookies.Append(Html.LanguageCookie, code, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.FromDays(365), IsEssential = true, Secure = context.Request.IsHttps,
            });
            return Results.Redirect(Html.LocalOrHome(back));
        });
        app.MapGet("/login", (HttpContext context, IAntiforgery antiforgery) => Html.Content(LoginPage(antiforgery.GetAndStoreTokens(context), null)));
        app.MapPost("/login", SignInAsync);
        app.MapGet("/account", (HttpContext context, IAntiforgery antiforgery) => context.User.Identity?.IsAuthenticated == true
            ? Html.Content(AccountPage(context.User, antiforgery.GetAndStoreTokens(context)))
            : Results.Redirect("/login"));
        app.MapPost("/logout", async (HttpContext context, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.BadRequest("The form expired or did not come from this site; reload the page.");
            }

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

    private static async Task<IResult> SignInAsync(HttpContext context, IAntiforgery antiforgery, SignIns signIns, Gates gates, NpgsqlDataSource dataSource,
        SecondFactors factors, SecondFactorCodes codes)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the sign-in page.");
        }

        var form = await context.Request.ReadFormAsync();
        var name = form["account"].ToString().Trim();
        var password = form["password"].ToString();
        var from = context.Connection.RemoteIpAddress?.ToString() ?? "";
        SignInResult result;
        using (await gates.PasswordChecks.EnterAsync(context.RequestAborted))
        {
            result = await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, password), from, cancellationToken: context.RequestAborted);
        }

        // Every outcome by name: only a signed-in data-team account goes on, to its second factor.
        var (error, status) = result.Outcome switch
        {
            SignInOutcome.WrongPassword or SignInOutcome.InvalidName => (Html.T("账号或密码不正确。", "The account or password is wrong."), StatusCodes.Status401Unauthorized),
            SignInOutcome.Throttled => (Html.T("登录失败次数过多，请稍后再试。", "Too many failed sign-ins; try again later."), StatusCodes.Status429TooManyRequests),
            SignInOutcome.OneTimePasswordExpired => (Html.T("该一次性密码已过期，请联系数据管理员获取新的一次性密码。",
                "This one-time password has expired: ask your data team for a new one."), StatusCodes.Status401Unauthorized),
            SignInOutcome.Locked => (Html.T("多次登录失败，账号暂时锁定，请稍后再试或联系数据管理员。",
                "After repeated failures the account is locked for a while; try again later, or ask the data team."), StatusCodes.Status401Unauthorized),
            SignInOutcome.Sealed => (Html.T("账号已封存；请联系数据管理员获取新的一次性密码。",
                "The account is sealed; ask the data team for a new one-time password."), StatusCodes.Status401Unauthorized),
            SignInOutcome.MustChangePassword => (Html.T("请先在门户网站设置新密码，再登录作业面板。",
                "Choose your new password in the web portal first, then sign in here."), StatusCodes.Status403Forbidden),
            SignInOutcome.SignedIn when result.Account!.Role != AccountRole.DataTeam => (Html.T("作业面板仅供数据管理员使用。",
                "The jobs dashboard is for the data team only."), StatusCodes.Status403Forbidden),
            SignInOutcome.SignedIn => await SecondFactorAsync(result.Account!, form["code"].ToString(), from, factors, codes, context.RequestAborted),
            _ => (Html.T("无法登录。", "The sign-in was refused."), StatusCodes.Status401Unauthorized),
        };
        if (error is not null)
        {
            if (status == StatusCodes.Status403Forbidden)
            {
                await AuditRefusedAsync(dataSource, result.Account?.Name ?? name, "/login", from, context.RequestAborted);
            }

            return Html.Content(LoginPage(antiforgery.GetAndStoreTokens(context), error), status);
        }

        await context.SignInAsync(Scheme, Principal(result.Account!, result.Stamp!));
        return Results.Redirect(DashboardPath);
    }

    /// <summary>
    /// The data team's second factor (required of it, as in the portal): a code of the authenticator the account set up in the
    /// portal, taken once; failures count, and lock, as there. No error: the code was right.
    /// </summary>
    private static async Task<(string? Error, int Status)> SecondFactorAsync(Account account, string typed, string from, SecondFactors factors,
        SecondFactorCodes codes, CancellationToken cancellationToken)
    {
        var state = await factors.FindAsync(account.Name, cancellationToken);
        if (state is not { Enrolled: true })
        {
            return (Html.T("请先在门户网站登录一次，设置第二重验证（验证器应用），再登录作业面板。",
                "Set up your second factor (an authenticator app) by signing in to the web portal once, then sign in here."), StatusCodes.Status403Forbidden);
        }

        if (state.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            await factors.LockedAttemptAsync(account, lockedUntil, from, cancellationToken);
            return (Html.T("验证码错误次数过多，请稍后再试。", "Too many wrong codes; try again later."), StatusCodes.Status429TooManyRequests);
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
        return (Html.T("验证码不正确（验证器应用中的 6 位数字）。", "The code is wrong (the six digits of your authenticator app)."), StatusCodes.Status401Unauthorized);
    }

    private static async Task AuditRefusedAsync(NpgsqlDataSource dataSource, string actor, string path, string from, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, actor, "dashboard.refused", null, null, path, new { from, where = "worker" }, cancellationToken);
    }

    private static string LoginPage(AntiforgeryTokenSet tokens, string? error) => Html.Page(Html.T("作业面板 · 登录", "Jobs dashboard · Sign in"), $"""
        <h1>{Html.T("作业面板 · 登录", "Jobs dashboard · Sign in")}</h1>
        <p>{Html.T("仅供数据管理员使用，账号和密码与门户网站相同。", "For the data team only, with the same account and password as the web portal.")}</p>
        {Html.Error(error)}
        <form class="stacked" method="post" action="/login">
        {Html.Token(tokens)}
        <label for="account">{Html.T("账号", "Account")}</label>
        <input type="text" id="account" name="account" autocomplete="username" required maxlength="64">
        <label for="password">{Html.T("密码", "Password")}</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required>
        <label for="code">{Html.T("验证码（验证器应用）", "Code (authenticator app)")}</label>
        <input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10">
        <button type="submit">{Html.T("登录", "Sign in")}</button>
        </form>
        """);

    private static string AccountPage(ClaimsPrincipal user, AntiforgeryTokenSet tokens) => Html.Page(Html.T("作业面板", "Jobs dashboard"), $"""
        <header><span>{Html.E(user.Identity?.Name)}</span>
        <form method="post" action="/logout">{Html.Token(tokens)}<button type="submit">{Html.T("退出", "Sign out")}</button></form></header>
        <p><a href="{DashboardPath}">{Html.T("作业面板", "Jobs dashboard")}</a></p>
        """);

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
                    new { from = http.Connection.RemoteIpAddress?.ToString() ?? "", where = "worker" }).GetAwaiter().GetResult();
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
