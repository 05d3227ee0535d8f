using System.Globalization;

namespace StudentDataQuality.Synthetic;

/// <summary>
/// The school-year arithmetic of the province (docs/synthetic-province.md): a school year starts on 1 September;
/// the expected age at that day is grade + 5; each stage (primary 1–6, junior 7–9, senior 10–12) has its own entry year.
/// </summary>
internal static class SchoolCalendar
{
    /// <summary>The calendar year in which the school year holding <paramref name="date"/> started.</summary>
    public static int SchoolYear(DateOnly date) => date.Month >= 9 ? date.Year : date.Year - 1;

    public static DateOnly SchoolYearStart(int schoolYear) => new(schoolYear, 9, 1);

    /// <summary>Completed years of age on <paramref name="day"/> (a birthday on that day counts).</summary>
    public static int AgeAt(DateOnly birth, DateOnly day)
    {
        var age = day.Year - birth.Year;
        if (day.Month < birth.Month || (day.Month == birth.Month && day.Day < birth.Day))
        {
            age--;
        }

        return age;
    }

    /// <summary>Birth dates that are exactly <paramref name="age"/> years old on 1 September of the school year.</summary>
    public static (DateOnly First, DateOnly Last) Cohort(int schoolYear, int age) =>
        (new DateOnly(schoolYear - age - 1, 9, 2), new DateOnly(schoolYear - age, 9, 1));

    public static int StageStart(int grade) => grade <= 6 ? 1 : grade <= 9 ? 7 : 10;

    public static int EntryYear(int schoolYear, int grade) => schoolYear - (grade - StageStart(grade));

    public static string EntryMonth(int schoolYear, int grade) =>
        EntryYear(schoolYear, grade).ToString(CultureInfo.InvariantCulture) + "09";

    public static string FormatDate(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string Digits(DateOnly date) => date.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
}
