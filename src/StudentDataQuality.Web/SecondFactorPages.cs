using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Web.Components.SecondFactor;

namespace StudentDataQuality.Web;

/// <summary>
/// The second factor's pages. After a right password (<see cref="BeforeSessionAsync"/>, called by the sign-in), an account
/// that has a second factor, or whose role must have one (<see cref="SecondFactorPolicy"/>), gets no session yet: a pending
/// sign-in (a server-side row, found by the hash of a random token in a cookie limited to /login, for a few minutes) sends
/// it to enrol (the secret and its QR code shown, then a right code) or to give a code (or a recovery code); only then does
/// the session start. Any signed-in account may enrol from <see cref="AccountPath"/> (a school from its page).
/// The pages are Razor components (Components/SecondFactor), their texts in Resources/SecondFactorText.resx; every route is in
/// a guarded group, so the antiforgery middleware and the group's filter refuse a POST without its token before the handler.
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
        // Open to a pending sign-in (no session yet, so no role policy), but guarded like every group: a POST without its
        // form's token is refused (400) before its handler runs.
        var pages = app.MapGroup("").Guarded();
        pages.MapGet(CodePath, CodePageAsync);
        // Codes are tried at the sign-in's rate per address too (besides the second factor's own lock per account).
        pages.MapPost(CodePath, CheckCodeAsync).RequireRateLimiting(Portal.SignInRateLimit);
        pages.MapGet(EnrolPath, EnrolAtSignInAsync);
        pages.MapPost(EnrolPath, FinishEnrolmentAtSignInAsync).RequireRateLimiting(Portal.SignInRateLimit);
        pages.MapPost(EnrolDonePath, EnrolmentShownAsync);
        pages.MapGet(AccountPath, EnrolSignedInAsync).RequireAuthorization();
        pages.MapPost(AccountPath, FinishEnrolmentSignedInAsync).RequireAuthorization();
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

    private static async Task<IResult> CodePageAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors)
    {
        if (await PendingAsync(context, factors) is null)
        {
            return Expired(context, text);
        }

        return Page.Show<CodePage>();
    }

    private static async Task<IResult> CheckCodeAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors, SecondFactorCodes codes)
    {
        var pending = await PendingAsync(context, factors);
        var state = pending is null ? null : await factors.FindAsync(pending.Account.Name, context.RequestAborted);
        if (pending is null || state is not { Enrolled: true })
        {
            return Expired(context, text);
        }

        var account = pending.Account;
        var from = From(context);
        if (state.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            await factors.LockedAttemptAsync(account, lockedUntil, from, context.RequestAborted);
            return Locked(text, lockedUntil);
        }

        var typed = (await context.Request.ReadFormAsync(context.RequestAborted))["code"].ToString();
        CodeFailure? failure;
        if (SecondFactorCodes.Digits(typed) is not null)
        {
            var secret = codes.Unprotect(account.Name, state.ProtectedSecret, state.KeyId);
            var step = secret is null ? null : SecondFactorCodes.MatchingStep(secret, typed, DateTime.UtcNow);
            failure = secret is null ? CodeFailure.Unreadable
                : step is null ? CodeFailure.Wrong
                : await factors.TakeCodeAsync(account, step.Value, from, context.RequestAborted) ? null : CodeFailure.Used;
        }
        else
        {
            var hash = codes.RecoveryHash(account.Name, typed);
            failure = hash is not null && await factors.TakeRecoveryCodeAsync(account, hash, from, context.RequestAborted) is not null
                ? null : CodeFailure.WrongRecoveryCode;
        }

        if (failure is { } failed)
        {
            if (await factors.FailedAsync(account, AuditReason(failed), from, context.RequestAborted) is { } until)
            {
                await EndPendingAsync(context, factors);
                return Locked(text, until);
            }

            string message = failed switch
            {
                CodeFailure.Used => text["Code.Used"],
                CodeFailure.Unreadable => text["Code.Unreadable"],
                _ => text["Code.Wrong"],
            };
            return Page.Show<CodePage>(new { Error = message }, StatusCodes.Status401Unauthorized);
        }

        return await StartSessionAsync(context, text, factors, factorDoneOnly: false);
    }

    /// <summary>Why a code was refused: the page's message, and the reason on record (the audit's words, kept as they were).</summary>
    private enum CodeFailure
    {
        Wrong,
        Used,
        Unreadable,
        WrongRecoveryCode,
    }

    private static string AuditReason(CodeFailure failure) => failure switch
    {
        CodeFailure.Used => "code used before",
        CodeFailure.Unreadable => "secret unreadable (another key)",
        CodeFailure.WrongRecoveryCode => "wrong recovery code",
        _ => "wrong code",
    };

    private static async Task<IResult> EnrolAtSignInAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors, SecondFactorCodes codes)
    {
        var pending = await PendingAsync(context, factors);
        if (pending is null)
        {
            return Expired(context, text);
        }

        return await ShowNewSecretAsync(context, text, factors, codes, pending.Account, EnrolPath);
    }

    private static async Task<IResult> FinishEnrolmentAtSignInAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors,
        SecondFactorCodes codes)
    {
        var pending = await PendingAsync(context, factors);
        if (pending is null)
        {
            return Expired(context, text);
        }

        var (recovery, refusal) = await FinishEnrolmentAsync(context, text, factors, codes, pending.Account, EnrolPath);
        if (recovery is null)
        {
            return refusal!;
        }

        await factors.FactorDoneAsync(TokenHash(context.Request.Cookies[PendingCookie(context)]!), context.RequestAborted);
        return Page.Show<RecoveryCodesPage>(new { Codes = recovery, AtSignIn = true });
    }

    /// <summary>The recovery codes were shown (once): the session starts.</summary>
    private static Task<IResult> EnrolmentShownAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors) =>
        StartSessionAsync(context, text, factors, factorDoneOnly: true);

    private static Task<IResult> EnrolSignedInAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors, SecondFactorCodes codes) =>
        ShowNewSecretAsync(context, text, factors, codes, Portal.AccountOf(context.User), AccountPath);

    private static async Task<IResult> FinishEnrolmentSignedInAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors,
        SecondFactorCodes codes, SignIns signIns, Gates gates)
    {
        // The password again first (ASVS: re-authentication before a factor changes): a session alone must not be enough to
        // put another authenticator on the account. Confirming counts like a sign-in's attempt (throttle, audit).
        var account = Portal.AccountOf(context.User);
        var password = (await context.Request.ReadFormAsync(context.RequestAborted))["password"].ToString();
        SignInResult confirmed;
        using (await gates.PasswordChecks.EnterAsync(context.RequestAborted))
        {
            confirmed = await signIns.SignInAsync(account.Name, hash => Passwords.Matches(account.Name, hash, password), From(context),
                confirmingPassword: true, cancellationToken: context.RequestAborted);
        }

        if (confirmed.Outcome is not (SignInOutcome.SignedIn or SignInOutcome.MustChangePassword))
        {
            return Page.Show<EnrolPage>(new { Action = AccountPath, AskPassword = true, Error = text["Enrol.WrongPassword"].Value },
                StatusCodes.Status400BadRequest);
        }

        var (recovery, refusal) = await FinishEnrolmentAsync(context, text, factors, codes, account, AccountPath);
        return recovery is null ? refusal! : Page.Show<RecoveryCodesPage>(new { Codes = recovery, AtSignIn = false });
    }

    /// <summary>A new secret for the account's enrolment, shown with its QR code; an enrolled account is told it has one.</summary>
    private static async Task<IResult> ShowNewSecretAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors,
        SecondFactorCodes codes, Account account, string action)
    {
        var state = await factors.FindAsync(account.Name, context.RequestAborted);
        if (state is { Enrolled: true })
        {
            return action == EnrolPath ? Results.Redirect(CodePath) : Page.Show<EnrolledPage>(new { state.RecoveryCodesLeft });
        }

        if (state?.LockedUntil is { } lockedUntil && lockedUntil > DateTimeOffset.UtcNow)
        {
            return Locked(text, lockedUntil);
        }

        var secret = SecondFactorCodes.NewSecret();
        if (!await factors.StartEnrolmentAsync(account.Name, codes.Protect(account.Name, secret), codes.KeyId, context.RequestAborted))
        {
            return action == EnrolPath ? Results.Redirect(CodePath) : Results.Redirect(AccountPath);
        }

        var policy = context.RequestServices.GetRequiredService<PortalSettings>().SecondFactor;
        return Page.Show<EnrolPage>(new
        {
            Action = action,
            Secret = SecondFactorCodes.Grouped(secret),
            Address = SecondFactorCodes.AppAddress(policy.Issuer, account.Name, secret),
            AskPassword = action == AccountPath,
        });
    }

    /// <summary>Checks the first code of an enrolment under way: the recovery codes made, or the answer that refuses.</summary>
    private static async Task<(IReadOnlyList<string>? Recovery, IResult? Refusal)> FinishEnrolmentAsync(HttpContext context,
        IStringLocalizer<SecondFactorText> text, SecondFactors factors, SecondFactorCodes codes, Account account, string action)
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
            return (null, Locked(text, lockedUntil));
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

                return (null, Locked(text, until));
            }

            return (null, Page.Show<EnrolPage>(new { Action = action, AskPassword = action == AccountPath, Error = text["Enrol.WrongCode"].Value },
                StatusCodes.Status401Unauthorized));
        }

        var recovery = SecondFactorCodes.NewRecoveryCodes();
        var hashes = recovery.Select(c => codes.RecoveryHash(account.Name, c)!).ToArray();
        return await factors.FinishEnrolmentAsync(account, step.Value, hashes, from, context.RequestAborted)
            ? (recovery, null)
            : (null, Results.Redirect(action == EnrolPath ? CodePath : AccountPath));
    }

    /// <summary>Takes the pending sign-in (once) and starts its session, as the sign-in would have without a second factor.</summary>
    private static async Task<IResult> StartSessionAsync(HttpContext context, IStringLocalizer<SecondFactorText> text, SecondFactors factors, bool factorDoneOnly)
    {
        var token = context.Request.Cookies[PendingCookie(context)];
        var pending = token is null ? null : await factors.TakePendingAsync(TokenHash(token), factorDoneOnly, context.RequestAborted);
        DeleteCookie(context);
        if (pending is null)
        {
            return Expired(context, text);
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

    private static string From(HttpContext context) => Portal.ClientAddress(context);

    /// <summary>The pending sign-in is over (its time ran out, or it was finished or ended): the password again.</summary>
    private static IResult Expired(HttpContext context, IStringLocalizer<SecondFactorText> text)
    {
        DeleteCookie(context);
        return Page.Message(text["Expired.Title"], text["Expired"], StatusCodes.Status401Unauthorized, error: true, back: "/login");
    }

    private static IResult Locked(IStringLocalizer<SecondFactorText> text, DateTimeOffset until) =>
        Page.Message(text["Locked.Title"], text["Locked", Portal.BeijingTime(until)], StatusCodes.Status401Unauthorized, error: true, back: "/login");
}
