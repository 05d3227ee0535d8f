namespace StudentDataQuality.Data.Access;

public sealed record SessionPolicy
{
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromHours(12);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(30);
    public static SessionPolicy Default { get; } = new();
}
