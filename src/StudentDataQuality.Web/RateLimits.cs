namespace StudentDataQuality.Web;

public sealed record RateLimit(int Permits, TimeSpan Window);

public sealed record RateLimits
{
    public RateLimit SignInPerAddress { get; init; } = new(30, TimeSpan.FromMinutes(1));
    public RateLimit SignInPerAccount { get; init; } = new(10, TimeSpan.FromMinutes(1));
    public RateLimit UploadsPerAddress { get; init; } = new(60, TimeSpan.FromMinutes(1));
    public RateLimit UploadsPerAccount { get; init; } = new(10, TimeSpan.FromMinutes(1));
    public static RateLimits Default { get; } = new();
}
