using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace StudentDataQuality.Web;

/// <summary>So many requests in a window (a fixed window, counted from the first request).</summary>
public sealed record RateLimit(int Permits, TimeSpan Window);

/// <summary>
/// The rate limiter's limits (ASP.NET Core's, System.Threading.RateLimiting): they bound how fast anyone can try, whatever the
/// throttle of failures (SignIns) says. Defaults: sign-in 30 a minute per client address and 10 a minute per account name;
/// uploads 60 a minute per client address and 10 a minute per account.
/// </summary>
public sealed record RateLimits
{
    public RateLimit SignInPerAddress { get; init; } = new(30, TimeSpan.FromMinutes(1));
    public RateLimit SignInPerAccount { get; init; } = new(10, TimeSpan.FromMinutes(1));
    public RateLimit UploadsPerAddress { get; init; } = new(60, TimeSpan.FromMinutes(1));
    public RateLimit UploadsPerAccount { get; init; } = new(10, TimeSpan.FromMinutes(1));

    public static RateLimits Default { get; } = new();

    internal static RateLimitPartition<string> Window(string key, RateLimit limit) => RateLimitPartition.GetFixedWindowLimiter(key, _ =>
        new FixedWindowRateLimiterOptions { PermitLimit = limit.Permits, Window = limit.Window, QueueLimit = 0, AutoReplenishment = true });
}

/// <summary>
/// The rate of sign-in attempts per account name. Asked by the sign-in handler after the throttle (the name is in the form,
/// which the rate limiter's middleware does not read): attempts the throttle stops use none of it, so guessing from
/// elsewhere does not use up an account's attempts.
/// </summary>
public sealed class SignInLimiter(RateLimit limit) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(name => RateLimits.Window(name, limit));

    public RateLimitLease Acquire(string accountName) => _limiter.AttemptAcquire(accountName);

    public void Dispose() => _limiter.Dispose();
}
