using System.Globalization;

namespace StudentDataQuality.Web.Components.School;

/// <summary>Times as the school's pages show them: the province's time (UTC+8), in a fixed form (yyyy-MM-dd, HH:mm).</summary>
public static class Dates
{
    private static readonly TimeSpan Province = TimeSpan.FromHours(8);

    public static string Day(DateTimeOffset at) => at.ToOffset(Province).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string Day(DateTimeOffset? at) => at is { } time ? Day(time) : "";

    public static string Minute(DateTimeOffset at) => at.ToOffset(Province).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    public static string Date(DateOnly? day) => day?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? "";
}
