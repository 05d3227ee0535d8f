using System.Globalization;
using System.Security.Claims;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
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
/// The web portal (`sdq web`): sign-in with cookie authentication (lockout after repeated failures, a new password at
/// first sign-in, sealed accounts refused), antiforgery on every form, security headers on every answer, and the jobs
/// dashboard for the data team only. Every sign-in attempt and every refusal is in the audit log.
/// </summary>
public static class Portal
{
    public const string DashboardPath = "/jobs";

    /// <summary>The largest request the portal reads: a returned worksheet at its limit, and the form around it.</summary>
    public static readonly long MaxUploadRequestBytes = ReturnLimits.Default.MaxBytes + 1024 * 1024;

    /// <summary>An upload up to this size is received whole even when refused, so that the browser shows why.</summary>
    public const long MaxDrainedBytes = 128L * 1024 * 1024;
    private const string MustChangeClaim = "sdq:must_change_password";
    private const string StampClaim = "sdq:stamp";
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
        }));
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
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "sdq.antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.Cookie.Name = "sdq.session";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.LoginPath = "/login";
            o.AccessDeniedPath = "/denied";
            o.ExpireTimeSpan = TimeSpan.FromHours(8);
            o.SlidingExpiration = true;
            // Every request of a session checks its account: sealed, or given a new password since (a reset ends the
            // sessions opened with the old one), and the session ends.
            o.Events.OnValidatePrincipal = async validate =>
            {
                var principal = validate.Principal;
                if (principal?.Identity?.Name is not { } name || principal.FindFirstValue(StampClaim) is not { } stamp
                    || !await validate.HttpContext.RequestServices.GetRequiredService<SignIns>().SessionValidAsync(name, stamp, validate.HttpContext.RequestAborted))
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
        app.Use(SecurityHeaders);
        app.Use(Html.ChooseLanguage);
        app.UseAuthentication();
        app.Use(NewPasswordFirst);
        app.UseAuthorization();
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

            context.Response.Cookies.Append(Html.LanguageCookie, code, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.FromDays(365), IsEssential = true,
                Secure = context.Request.IsHttps,
            });
            return Results.Redirect(Html.LocalOrHome(back));
        });
        app.MapGet("/login", (HttpContext context, IAntiforgery antiforgery) => Page(LoginPage(antiforgery.GetAndStoreTokens(context), null)));
        app.MapPost("/login", SignInAsync);
        app.MapGet("/password", (HttpContext context, IAntiforgery antiforgery) => Page(PasswordPage(antiforgery.GetAndStoreTokens(context), null)))
            .RequireAuthorization();
        app.MapPost("/password", ChangePasswordAsync).RequireAuthorization();
        app.MapPost("/logout", async (HttpContext context, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.BadRequest();
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

    private static async Task<IResult> SignInAsync(HttpContext context, IAntiforgery antiforgery, SignIns signIns, Gates gates)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the sign-in page.");
        }

        var form = await context.Request.ReadFormAsync();
        var name = form["account"].ToString().Trim();
        var password = form["password"].ToString();
        SignInResult result;
        using (await gates.PasswordChecks.EnterAsync(context.RequestAborted))
        {
            result = await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, password), context.Connection.RemoteIpAddress?.ToString() ?? "",
                cancellationToken: context.RequestAborted);
        }

        string? error = result.Outcome switch
        {
            SignInOutcome.WrongPassword => Html.T("账号或密码不正确。", "The account or password is wrong."),
            SignInOutcome.Locked => string.Create(CultureInfo.InvariantCulture, $"{Html.T(
                $"多次登录失败，账号已锁定至 {result.LockedUntil!.Value.ToOffset(TimeSpan.FromHours(8)):HH:mm}（北京时间），请届时再试或联系数据管理员。",
                $"After repeated failures the account is locked until {result.LockedUntil!.Value.ToOffset(TimeSpan.FromHours(8)):HH:mm} (Beijing time); try again then, or ask the data team.")}"),
            SignInOutcome.Sealed => Html.T("账号超过 180 天未使用，已封存；请联系数据管理员获取新的一次性密码。",
                "The account was unused for 180 days and is sealed; ask the data team for a new one-time password."),
            _ => null,
        };
        if (error is not null)
        {
            return Results.Content(LoginPage(antiforgery.GetAndStoreTokens(context), error), "text/html; charset=utf-8",
                statusCode: StatusCodes.Status401Unauthorized);
        }

        var account = result.Account!;
        var mustChange = result.Outcome == SignInOutcome.MustChangePassword;
        // Second factor (SecondFactorPages): an account that has one, or whose role must, is sent to give a code (or to enrol)
        // with the sign-in kept pending; its session starts there, through StartSessionAsync.
        if (await SecondFactorPages.BeforeSessionAsync(context, account, result.Stamp!, mustChange) is { } secondFactor)
        {
            return secondFactor;
        }

        await StartSessionAsync(context, account, result.Stamp!, mustChange);
        return Results.Redirect(mustChange ? "/password" : "/");
    }

    /// <summary>Starts an account's session: after its password, and its second factor when it has or needs one.</summary>
    internal static Task StartSessionAsync(HttpContext context, Account account, string stamp, bool mustChange) =>
        context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, Principal(account, stamp, mustChange));

    private static async Task<IResult> ChangePasswordAsync(HttpContext context, IAntiforgery antiforgery, SignIns signIns, Gates gates)
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
        // towards the lockout, so this form cannot be used to guess passwords).
        using var slot = await gates.PasswordChecks.EnterAsync(context.RequestAborted);
        var problem = Passwords.Problem(name, current, chosen, form["confirm"].ToString());
        var check = problem is null
            ? await signIns.SignInAsync(name, hash => Passwords.Matches(name, hash, current), context.Connection.RemoteIpAddress?.ToString() ?? "",
                confirmingPassword: true)
            : null;
        if (check is not null && check.Outcome is not (SignInOutcome.SignedIn or SignInOutcome.MustChangePassword))
        {
            problem = Html.T("原密码不正确。", "The current password is wrong.");
        }

        if (problem is not null || check is null)
        {
            return Results.Content(PasswordPage(antiforgery.GetAndStoreTokens(context), problem), "text/html; charset=utf-8",
                statusCode: StatusCodes.Status400BadRequest);
        }

        var hash = Passwords.Hash(name, chosen);
        await signIns.SetPasswordAsync(name, hash, oneTime: false, actor: name);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, Principal(check.Account!, SignIns.Stamp(hash), mustChange: false));
        return Results.Redirect("/");
    }

    private static ClaimsPrincipal Principal(Account account, string stamp, bool mustChange)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, account.Name), new(ClaimTypes.Role, Account.RoleText(account.Role)), new(StampClaim, stamp) };
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

    private static Task SecurityHeaders(HttpContext context, Func<Task> next)
    {
        var headers = context.Response.Headers;
        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        // The dashboard needs its own inline scripts and styles; the portal's pages need inline styles only.
        headers["Content-Security-Policy"] = context.Request.Path.StartsWithSegments(DashboardPath)
            ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
            : "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";
        // Nothing personal is cached; set as the answer starts, where antiforgery has not set its own (it would warn at an override).
        context.Response.OnStarting(() =>
        {
            if (!context.Response.Headers.ContainsKey("Cache-Control"))
            {
                context.Response.Headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        });
        return next();
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
