using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Web;

/// <summary>
/// The second factor's pages. After a right password (<see cref="BeforeSessionAsync"/>, called by the sign-in), an account
/// that has a second factor, or whose role must have one (<see cref="SecondFactorPolicy"/>), gets no session yet: a pending
/// sign-in (a server-side row, found by the hash of a random token in a cookie limited to /login, for a few minutes) sends
/// it to enrol (the secret and its QR code shown, then a right code) or to give a code (or a recovery code); only then does
/// the session start. Any signed-in account may enrol from <see cref="AccountPath"/> (a school from its page).
/// </summary>
internal static class SecondFactorPages
{
    public const string CodePath = "/login/second-factor";
    public const string EnrolPath = "/login/enrol";
    public const string EnrolDonePath = "/login/enrol/done";
    public const string AccountPath = "/account/second-factor";
    private const string PendingCookieName = "sdq.pending";

    public static void AddServices(IServiceCollection services, PortalSettings settings)
    {
        services.AddSingleton(new SecondFactors(settings.DataSource, settings.SignInPolicy));
        services.AddSingleton(new SecondFactorCodes(settings.Key));
    }

    public static void Map(WebApplication app)
    {
        app.MapGet(CodePath, CodePageAsync);
        // Codes are tried at the sign-in's rate per address too (besides the second factor's own lock per account).
        app.MapPost(CodePath, CheckCodeAsync).RequireRateLimiting(Portal.SignInRateLimit);
        app.MapGet(EnrolPath, EnrolAtSignInAsync);
        app.MapPost(EnrolPath, FinishEnrolmentAtSignInAsync).RequireRateLimiting(Portal.SignInRateLimit);
        app.MapPost(EnrolDonePath, EnrolmentShownAsync);
        app.MapGet(AccountPath, EnrolSignedInAsync).RequireAuthorization();
        app.MapPost(AccountPath, FinishEnrolmentSignedInAsync).RequireAuthorization();
    }

    /// <summary>
    /// The sign-in's hook, after the password (and the sealed, locked and must-change rules): null when the account needs no
    /// second factor (the sign-in starts the session itself); else the answer that sends it to enrol or to give a code,
    /// with the sign-in kept pending.
    /// </summary>
    public static async Task<IResult?> BeforeSessionAsync(HttpContext context, Account account, string stamp, bool mustChange)
    {
        var services = context.RequestServices;
        var policy = services.GetRequiredService<PortalSettings>().SecondFactor;
        var factors = services.GetRequiredService<SecondFactors>();
        var enrolled = (await factors.FindAsync(account.Name, context.RequestAborted))?.Enrolled == true;
        if (!enrolled && !policy.RequiredFor.Contains(account.Role))
        {
            return null;
        }

        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await factors.StartPendingAsync(TokenHash(token), account, stamp, mustChange, policy.PendingFor, context.RequestAborted);
        context.Response.Cookies.Append(PendingCookie(context), token, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, Path = "/login", MaxAge = policy.PendingFor, IsEssential = true,
        });
        return Results.Redirect(enrolled ? CodePath : EnrolPath);
    }

    private static async Task<IResult> CodePageAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors)
    {
        if (await PendingAsync(context, factors) is null)
        {
            return Expired(context);
        }

        return Html.Content(CodePage(antiforgery.GetAndStoreTokens(context), null));
    }

    private static async Task<IResult> CheckCodeAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors, SecondFactorCodes codes)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; sign in again.");
        }

        var pending = await PendingAsync(context, factors);
        var state = pending is null ? null : await factors.FindAsync(pending.Account.Name, context.RequestAborted);
        if (pending is null || state is not { Enrolled: true })
        {
            return Expired(context);
        }

        var account = pending.Account;
        var from = From(context);
        if (state.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            await factors.LockedAttemptAsync(account, lockedUntil, from, context.RequestAborted);
            return Locked(context, lockedUntil);
        }

        var typed = (await context.Request.ReadFormAsync(context.RequestAborted))["code"].ToString();
        string? failure;
        if (SecondFactorCodes.Digits(typed) is not null)
        {
            var secret = codes.Unprotect(account.Name, state.ProtectedSecret, state.KeyId);
            var step = secret is null ? null : SecondFactorCodes.MatchingStep(secret, typed, DateTime.UtcNow);
            failure = secret is null ? "secret unreadable (another key)"
                : step is null ? "wrong code"
                : await factors.TakeCodeAsync(account, step.Value, from, context.RequestAborted) ? null : "code used before";
        }
        else
        {
            var hash = codes.RecoveryHash(account.Name, typed);
            failure = hash is not null && await factors.TakeRecoveryCodeAsync(account, hash, from, context.RequestAborted) is not null ? null : "wrong recovery code";
        }

        if (failure is not null)
        {
            if (await factors.FailedAsync(account, failure, from, context.RequestAborted) is { } until)
            {
                await EndPendingAsync(context, factors);
                return Locked(context, until);
            }

            var message = failure == "code used before"
                ? Html.T("此验证码已使用过，请等待应用显示新的验证码。", "This code was used already; wait for the app to show a new one.")
                : failure.StartsWith("secret", StringComparison.Ordinal)
                    ? Html.T("无法读取您的验证器设置，请联系数据管理员重置。", "Your authenticator's setting cannot be read; ask the data team to reset it.")
                    : Html.T("验证码不正确。", "The code is wrong.");
            return Html.Content(CodePage(antiforgery.GetAndStoreTokens(context), message), StatusCodes.Status401Unauthorized);
        }

        return await StartSessionAsync(context, factors, factorDoneOnly: false);
    }

    private static async Task<IResult> EnrolAtSignInAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors, SecondFactorCodes codes)
    {
        var pending = await PendingAsync(context, factors);
        if (pending is null)
        {
            return Expired(context);
        }

        return await ShowNewSecretAsync(context, antiforgery, factors, codes, pending.Account, EnrolPath);
    }

    private static async Task<IResult> FinishEnrolmentAtSignInAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors,
        SecondFactorCodes codes)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; sign in again.");
        }

        var pending = await PendingAsync(context, factors);
        if (pending is null)
        {
            return Expired(context);
        }

        var (recovery, refusal) = await FinishEnrolmentAsync(context, antiforgery, factors, codes, pending.Account, EnrolPath);
        if (recovery is null)
        {
            return refusal!;
        }

        await factors.FactorDoneAsync(TokenHash(context.Request.Cookies[PendingCookie(context)]!), context.RequestAborted);
        return Html.Content(RecoveryCodesPage(recovery, $"""
            <form method="post" action="{EnrolDonePath}">{Html.Token(antiforgery.GetAndStoreTokens(context))}
            <button type="submit">{Html.T("我已保存恢复码，继续", "I have kept the recovery codes; continue")}</button></form>
            """));
    }

    /// <summary>The recovery codes were shown (once): the session starts.</summary>
    private static async Task<IResult> EnrolmentShownAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; sign in again.");
        }

        return await StartSessionAsync(context, factors, factorDoneOnly: true);
    }

    private static async Task<IResult> EnrolSignedInAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors, SecondFactorCodes codes) =>
        await ShowNewSecretAsync(context, antiforgery, factors, codes, SchoolPages.AccountOf(context.User), AccountPath);

    private static async Task<IResult> FinishEnrolmentSignedInAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors,
        SecondFactorCodes codes)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        // The password again first (ASVS: re-authentication before a factor changes): a session alone must not be enough to
        // put another authenticator on the account. Confirming counts like a sign-in's attempt (throttle, audit).
        var account = SchoolPages.AccountOf(context.User);
        var password = (await context.Request.ReadFormAsync(context.RequestAborted))["password"].ToString();
        var signIns = context.RequestServices.GetRequiredService<SignIns>();
        var gates = context.RequestServices.GetRequiredService<Gates>();
        SignInResult confirmed;
        using (await gates.PasswordChecks.EnterAsync(context.RequestAborted))
        {
            confirmed = await signIns.SignInAsync(account.Name, hash => Passwords.Matches(account.Name, hash, password), From(context),
                confirmingPassword: true, cancellationToken: context.RequestAborted);
        }

        if (confirmed.Outcome is not (SignInOutcome.SignedIn or SignInOutcome.MustChangePassword))
        {
            return Html.Content(EnrolPage(antiforgery.GetAndStoreTokens(context), AccountPath, null, null,
                Html.T("密码不正确，请重新开始设置。", "The password is wrong; start the set-up again.")), StatusCodes.Status400BadRequest);
        }

        var (recovery, refusal) = await FinishEnrolmentAsync(context, antiforgery, factors, codes, account, AccountPath);
        return recovery is null ? refusal! : Html.Content(RecoveryCodesPage(recovery, $"""<p><a href="/">{Html.T("返回首页", "Home")}</a></p>"""));
    }

    /// <summary>A new secret for the account's enrolment, shown with its QR code; an enrolled account is told it has one.</summary>
    private static async Task<IResult> ShowNewSecretAsync(HttpContext context, IAntiforgery antiforgery, SecondFactors factors, SecondFactorCodes codes,
        Account account, string action)
    {
        var state = await factors.FindAsync(account.Name, context.RequestAborted);
        if (state is { Enrolled: true })
        {
            return action == EnrolPath ? Results.Redirect(CodePath) : Html.Content(EnrolledPage(state));
        }

        if (state?.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            return Locked(context, lockedUntil);
        }

        var secret = SecondFactorCodes.NewSecret();
        if (!await factors.StartEnrolmentAsync(account.Name, codes.Protect(account.Name, secret), codes.KeyId, context.RequestAborted))
        {
            return action == EnrolPath ? Results.Redirect(CodePath) : Results.Redirect(AccountPath);
        }

        var policy = context.RequestServices.GetRequiredService<PortalSettings>().SecondFactor;
        return Html.Content(EnrolPage(antiforgery.GetAndStoreTokens(context), action, secret,
            SecondFactorCodes.QrSvg(SecondFactorCodes.AppAddress(policy.Issuer, account.Name, secret)), null));
    }

    /// <summary>Checks the first code of an enrolment under way: the recovery codes made, or the answer that refuses.</summary>
    private static async Task<(IReadOnlyList<string>? Recovery, IResult? Refusal)> FinishEnrolmentAsync(HttpContext context, IAntiforgery antiforgery,
        SecondFactors factors, SecondFactorCodes codes, Account account, string action)
    {
        var from = From(context);
        var state = await factors.FindAsync(account.Name, context.RequestAborted);
        if (state is null || state.Enrolled)
        {
            return (null, Results.Redirect(action == EnrolPath ? (state is null ? EnrolPath : CodePath) : AccountPath));
        }

        if (state.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            await factors.LockedAttemptAsync(account, lockedUntil, from, context.RequestAborted);
            return (null, Locked(context, lockedUntil));
        }

        var typed = (await context.Request.ReadFormAsync(context.RequestAborted))["code"].ToString();
        var secret = codes.Unprotect(account.Name, state.ProtectedSecret, state.KeyId);
        var step = secret is null ? null : SecondFactorCodes.MatchingStep(secret, typed, DateTime.UtcNow);
        if (step is null)
        {
            if (await factors.FailedAsync(account, "wrong code at enrolment", from, context.RequestAborted) is { } until)
            {
                if (action == EnrolPath)
                {
                    await EndPendingAsync(context, factors);
                }

                return (null, Locked(context, until));
            }

            return (null, Html.Content(EnrolPage(antiforgery.GetAndStoreTokens(context), action, null, null,
                Html.T("验证码不正确。请输入应用中显示的 6 位数字，或重新开始。", "The code is wrong. Enter the 6 digits the app shows, or start again.")),
                StatusCodes.Status401Unauthorized));
        }

        var recovery = SecondFactorCodes.NewRecoveryCodes();
        var hashes = recovery.Select(c => codes.RecoveryHash(account.Name, c)!).ToArray();
        return await factors.FinishEnrolmentAsync(account, step.Value, hashes, from, context.RequestAborted)
            ? (recovery, null)
            : (null, Results.Redirect(action == EnrolPath ? CodePath : AccountPath));
    }

    /// <summary>Takes the pending sign-in (once) and starts its session, as the sign-in would have without a second factor.</summary>
    private static async Task<IResult> StartSessionAsync(HttpContext context, SecondFactors factors, bool factorDoneOnly)
    {
        var token = context.Request.Cookies[PendingCookie(context)];
        var pending = token is null ? null : await factors.TakePendingAsync(TokenHash(token), factorDoneOnly, context.RequestAborted);
        DeleteCookie(context);
        if (pending is null)
        {
            return Expired(context);
        }

        await Portal.StartSessionAsync(context, pending.Account, pending.Stamp, pending.MustChange);
        return Results.Redirect(pending.MustChange ? "/password" : "/");
    }

    private static async Task<PendingSignIn?> PendingAsync(HttpContext context, SecondFactors factors) =>
        context.Request.Cookies[PendingCookie(context)] is { Length: > 0 and <= 64 } token ? await factors.FindPendingAsync(TokenHash(token), context.RequestAborted) : null;

    private static async Task EndPendingAsync(HttpContext context, SecondFactors factors)
    {
        if (context.Request.Cookies[PendingCookie(context)] is { Length: > 0 and <= 64 } token)
        {
            await factors.TakePendingAsync(TokenHash(token), factorDoneOnly: false, context.RequestAborted);
        }

        DeleteCookie(context);
    }

    private static void DeleteCookie(HttpContext context) =>
        context.Response.Cookies.Delete(PendingCookie(context), new CookieOptions { Path = "/login", Secure = context.Request.IsHttps, SameSite = SameSiteMode.Strict });

    /// <summary>
    /// The pending sign-in's cookie: over https (the portal's own, or a known TLS proxy's) `__Secure-`, so that no plain-http
    /// answer or other site can plant one; its path stays /login, which `__Host-` would not allow.
    /// </summary>
    private static string PendingCookie(HttpContext context) => context.Request.IsHttps ? "__Secure-" + PendingCookieName : PendingCookieName;

    private static string TokenHash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string From(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "";

    private static IResult Expired(HttpContext context)
    {
        DeleteCookie(context);
        return Html.Content(Html.Page(Html.T("请重新登录", "Sign in again"), $"""
            <h1>{Html.T("请重新登录", "Sign in again")}</h1>
            <p>{Html.T("登录等待验证码的时间已过（或已完成），请重新输入账号和密码。", "The sign-in waited too long for its code (or was finished already); enter your account and password again.")}</p>
            <p><a href="/login">{Html.T("登录", "Sign in")}</a></p>
            """), StatusCodes.Status401Unauthorized);
    }

    private static IResult Locked(HttpContext context, DateTimeOffset until)
    {
        var time = until.ToOffset(TimeSpan.FromHours(8)).ToString("HH:mm", CultureInfo.InvariantCulture);
        return Html.Content(Html.Page(Html.T("已锁定", "Locked"), $"""
            <h1>{Html.T("验证码错误次数过多", "Too many wrong codes")}</h1>
            {Html.Error(Html.T($"第二重验证已锁定至 {time}（北京时间），请届时再试或联系数据管理员。",
                $"The second factor is locked until {time} (Beijing time); try again then, or ask the data team."))}
            <p><a href="/login">{Html.T("登录", "Sign in")}</a></p>
            """), StatusCodes.Status401Unauthorized);
    }

    private static string CodePage(AntiforgeryTokenSet tokens, string? error) => Html.Page(Html.T("验证码", "Code"), $"""
        <h1>{Html.T("第二重验证", "Second factor")}</h1>
        <p>{Html.T("请输入验证器应用中显示的 6 位验证码；手机不在身边时，可输入一个恢复码（每个只能用一次）。",
            "Enter the 6-digit code your authenticator app shows; without your phone, enter one of your recovery codes (each works once).")}</p>
        {Html.Error(error)}
        <form class="stacked" method="post" action="{CodePath}">
        {Html.Token(tokens)}
        <label for="code">{Html.T("验证码或恢复码", "Code or recovery code")}</label>
        <input type="text" id="code" name="code" autocomplete="one-time-code" maxlength="32" required autofocus>
        <button type="submit">{Html.T("验证", "Verify")}</button>
        </form>
        """);

    private static string EnrolPage(AntiforgeryTokenSet tokens, string action, byte[]? secret, string? qrSvg, string? error) =>
        Html.Page(Html.T("设置第二重验证", "Set up the second factor"), $"""
        <h1>{Html.T("设置第二重验证", "Set up the second factor")}</h1>
        {(secret is null
            ? $"""<p><a href="{action}">{Html.T("重新开始（新的密钥）", "Start again (a new secret)")}</a></p>"""
            : $"""
              <p>{Html.T("用手机上的验证器应用（如 Microsoft Authenticator、Google 身份验证器、FreeOTP）扫描下面的二维码，或手动输入密钥。密钥只显示这一次，请勿截图外传。",
                  "Scan the QR code below with an authenticator app on your phone (Microsoft Authenticator, Google Authenticator, FreeOTP…), or type the secret in by hand. It is shown this once; keep it to yourself.")}</p>
              <div class="qr" role="img" aria-label="{Html.T("二维码", "QR code")}">{qrSvg}</div>
              <p>{Html.T("密钥", "Secret")}: <code id="secret">{Html.E(SecondFactorCodes.Grouped(secret))}</code></p>
              """)}
        {Html.Error(error)}
        <form class="stacked" method="post" action="{action}">
        {Html.Token(tokens)}
        <label for="code">{Html.T("应用中显示的 6 位验证码", "The 6-digit code the app shows")}</label>
        <input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="12" required autofocus>
        {(action == AccountPath ? $"""
          <label for="password">{Html.T("您的密码（确认是您本人）", "Your password (to confirm it is you)")}</label>
          <input type="password" id="password" name="password" autocomplete="current-password" required>
          """ : "")}
        <button type="submit">{Html.T("完成设置", "Finish")}</button>
        </form>
        """);

    private static string RecoveryCodesPage(IReadOnlyList<string> recovery, string next) => Html.Page(Html.T("恢复码", "Recovery codes"), $"""
        <h1>{Html.T("第二重验证已设置", "The second factor is set up")}</h1>
        <p>{Html.T("以下恢复码在手机丢失时代替验证码使用，每个只能用一次。它们只显示这一次：请打印或抄写后妥善保管。",
            "Use one of these recovery codes instead of a code if your phone is lost; each works once. They are shown this once: print or copy them and keep them safe.")}</p>
        <ul id="recovery-codes">{string.Concat(recovery.Select(c => $"<li><code>{Html.E(c)}</code></li>"))}</ul>
        {next}
        """);

    private static string EnrolledPage(SecondFactorState state) => Html.Page(Html.T("第二重验证", "Second factor"), $"""
        <h1>{Html.T("第二重验证已设置", "The second factor is set up")}</h1>
        <p>{Html.T($"登录时需输入验证器应用中的验证码。剩余恢复码：{state.RecoveryCodesLeft} 个。手机丢失或需要更换时，请联系数据管理员重置。",
            $"Signing in asks for the code of your authenticator app. Recovery codes left: {state.RecoveryCodesLeft}. If the phone is lost or to change it, ask the data team to reset it.")}</p>
        <p><a href="/">{Html.T("返回首页", "Home")}</a></p>
        """);
}
