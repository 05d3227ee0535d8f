using System.Globalization;

namespace StudentDataQuality.Web.Components;

/// <summary>
/// Times as every page shows them: the province's time (UTC+8, Beijing time), in a fixed form whatever the language
/// (yyyy-MM-dd, HH:mm), the one place a page formats a time.
/// </summary>
public static class Dates
{
    private static readonly TimeSpan Province = TimeSpan.FromHours(8);

    public static string Day(DateTimeOffset at) => at.ToOffset(Province).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string Day(DateTimeOffset? at) => at is { } time ? Day(time) : "";

    public static string Minute(DateTimeOffset at) => at.ToOffset(Province).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    public static string Minute(DateTimeOffset? at) => at is { } time ? Minute(time) : "";

    public static string Second(DateTimeOffset at) => at.ToOffset(Province).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>The time of day only (HH:mm), as a refusal says until when.</summary>
    public static string Time(DateTimeOffset at) => at.ToOffset(Province).ToString("HH:mm", CultureInfo.InvariantCulture);

    public static string Date(DateOnly? day) => day?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? "";
}
