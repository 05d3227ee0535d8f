using System.Globalization;
using Microsoft.Extensions.Localization;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Web;

/// <summary>A column of a trends table, the same on the page (beside its chart) and in the .xlsx.</summary>
public sealed record TrendColumn<T>(string Header, ReportFormat Format, Func<T, object?> Value, double Width = 12, Func<T, string?>? Link = null)
{
    /// <summary>Numbers are aligned right.</summary>
    public bool Numeric => Format is not (ReportFormat.Text or ReportFormat.Date);

    /// <summary>The cell as the page shows it.</summary>
    public string Shown(T row) => TrendTables.Show(Format, Cell(row));

    /// <summary>The cell's value: a text of the resources as its string, numbers and dates as they are.</summary>
    public object? Cell(T row) => Value(row) is LocalizedString text ? text.Value : Value(row);
}

/// <summary>A district of a chart of the ranking: its list (worst, best, apart), its rank in that list, its figures.</summary>
public sealed record RankedDistrict(string List, int? Rank, DistrictTrend District);

/// <summary>
/// The columns of every trends table, in the reader's language: one definition for the page and the export, so that the
/// numbers beside a chart and in its sheet are the same.
/// </summary>
public sealed class TrendTables(IStringLocalizer<ManagerText> text)
{
    /// <summary>The name a district is shown by: its name, else its code; the group without a district says what it is.</summary>
    public string Label(DistrictTrend district) => district.DistrictCode is null ? text["NotInMaster"]
        : district.DistrictName is { Length: > 0 } name ? name : district.DistrictCode;

    /// <summary>The rows of the ranking chart in its order: the worst, the best, then the groups apart.</summary>
    public static IReadOnlyList<RankedDistrict> Rows(DistrictRanking ranking)
    {
        ArgumentNullException.ThrowIfNull(ranking);
        return [.. ranking.Worst.Select((d, i) => new RankedDistrict("worst", i + 1, d)),
            .. ranking.Best.Select((d, i) => new RankedDistrict("best", ranking.Best.Count - i, d)),
            .. ranking.Apart.Select(d => new RankedDistrict("apart", null, d))];
    }

    private TrendColumn<T>[] Measures<T>(Func<T, TrendMeasures> m) =>
    [
        new(text["Col.Schools"], ReportFormat.Integer, x => m(x).Schools, 9),
        new(text["Col.Students"], ReportFormat.Integer, x => m(x).Students, 11),
        new(text["Col.Found"], ReportFormat.Integer, x => m(x).Found, 11),
        new(text["Col.ProblemsPer1000"], ReportFormat.Decimal, x => m(x).ProblemsPer1000),
        new(text["Col.OpenErrors"], ReportFormat.Integer, x => m(x).OpenErrors, 11),
        new(text["Col.OpenErrorsPer1000"], ReportFormat.Decimal, x => m(x).OpenErrorsPer1000),
        new(text["Col.FixedShare"], ReportFormat.Percent, x => m(x).FixedShare, 11),
        new(text["Col.ReturnRate"], ReportFormat.Percent, x => m(x).ReturnRate, 11),
        new(text["Col.MedianDays"], ReportFormat.Decimal, x => m(x).MedianDaysToReturn),
        new(text["Col.Duplicates"], ReportFormat.Integer, x => m(x).CrossSchoolDuplicates),
        new(text["Col.WithoutId"], ReportFormat.Integer, x => m(x).StudentsWithoutId),
    ];

    public IReadOnlyList<TrendColumn<RoundTrend>> Rounds() =>
    [
        new(text["Col.Round"], ReportFormat.Text, r => r.RoundCode, 18),
        new(text["Col.RoundDate"], ReportFormat.Date, r => r.RoundDate),
        new(text["Col.Snapshot"], ReportFormat.Text, r => r.SnapshotKind == "close" ? text["Snapshot.close"] : text["Snapshot.live"], 9),
        new(text["Col.SnapshotDate"], ReportFormat.Date, r => r.SnapshotTakenOn),
        .. Measures<RoundTrend>(r => r.Measures),
    ];

    /// <summary>The districts table; <paramref name="round"/> given: one round's (no round column, links to the round's district page).</summary>
    public IReadOnlyList<TrendColumn<DistrictTrend>> Districts(string? round) =>
    [
        .. round is null ? new TrendColumn<DistrictTrend>[] { new(text["Col.Round"], ReportFormat.Text, d => d.RoundCode, 18) } : [],
        new(text["Col.District"], ReportFormat.Text, d => d.DistrictCode ?? "", 10, d => DistrictLink(d.DistrictCode, round)),
        new(text["Col.DistrictName"], ReportFormat.Text, d => d.DistrictName ?? (d.DistrictCode is null ? text["NotInMaster"] : ""), 18),
        .. Measures<DistrictTrend>(d => d.Measures),
    ];

    /// <summary>The ranking chart's table: each bar's list, rank, district and figure, then the figures behind it.</summary>
    public IReadOnlyList<TrendColumn<RankedDistrict>> Ranking(string round) =>
    [
        new(text["Ranking.List"], ReportFormat.Text, r => r.List switch
        {
            "worst" => text["Ranking.ListWorst"],
            "best" => text["Ranking.ListBest"],
            _ => text["Ranking.ListApart"],
        }, 9),
        new(text["Ranking.Rank"], ReportFormat.Integer, r => r.Rank, 7),
        new(text["Col.District"], ReportFormat.Text, r => r.District.DistrictCode ?? "", 10, r => DistrictLink(r.District.DistrictCode, round)),
        new(text["Col.DistrictName"], ReportFormat.Text, r => Label(r.District), 18),
        new(text["Col.OpenErrorsPer1000"], ReportFormat.Decimal, r => r.District.Measures.OpenErrorsPer1000),
        new(text["Col.OpenErrors"], ReportFormat.Integer, r => r.District.Measures.OpenErrors, 11),
        new(text["Col.Students"], ReportFormat.Integer, r => r.District.Measures.Students, 11),
        new(text["Col.ProblemsPer1000"], ReportFormat.Decimal, r => r.District.Measures.ProblemsPer1000),
    ];

    /// <summary>The small multiples' table: a row per district and round, the two lines' values.</summary>
    public IReadOnlyList<TrendColumn<DistrictTrend>> Series() =>
    [
        new(text["Col.District"], ReportFormat.Text, d => d.DistrictCode ?? "", 10, d => DistrictLink(d.DistrictCode, null)),
        new(text["Col.DistrictName"], ReportFormat.Text, Label, 18),
        new(text["Col.Round"], ReportFormat.Text, d => d.RoundCode, 18),
        new(text["Col.ProblemsPer1000"], ReportFormat.Decimal, d => d.Measures.ProblemsPer1000),
        new(text["Col.OpenErrorsPer1000"], ReportFormat.Decimal, d => d.Measures.OpenErrorsPer1000),
        new(text["Col.Students"], ReportFormat.Integer, d => d.Measures.Students, 11),
        new(text["Col.OpenErrors"], ReportFormat.Integer, d => d.Measures.OpenErrors, 11),
    ];

    public IReadOnlyList<TrendColumn<SchoolTrend>> Schools() =>
    [
        new(text["Col.Round"], ReportFormat.Text, s => s.RoundCode, 18),
        new(text["Col.District"], ReportFormat.Text, s => s.DistrictCode ?? "", 10),
        new(text["Col.School"], ReportFormat.Text, s => s.SchoolCode, 14),
        new(text["Col.SchoolName"], ReportFormat.Text, s => s.SchoolName ?? "", 24),
        .. Measures<SchoolTrend>(s => s.Measures),
    ];

    public IReadOnlyList<TrendColumn<RuleTrend>> Rules() =>
    [
        new(text["Col.Round"], ReportFormat.Text, r => r.RoundCode, 18),
        new(text["Col.Rule"], ReportFormat.Text, r => r.RuleId, 8, r => HelpText.RulePath(r.RuleId)),
        new(text["Col.RuleTitle"], ReportFormat.Text, r => Languages.English ? r.TitleEn : r.TitleZh, 36),
        new(text["Col.Severity"], ReportFormat.Text, r => r.Severity switch
        {
            "error" => text["Severity.error"],
            "warning" => text["Severity.warning"],
            _ => r.Severity,
        }, 9),
        new(text["Col.RuleFound"], ReportFormat.Integer, r => r.Found, 10),
        new(text["Col.ProblemsPer1000"], ReportFormat.Decimal, r => r.ProblemsPer1000),
        new(text["Col.Open"], ReportFormat.Integer, r => r.Open, 10),
        new(text["Col.OpenErrorsPer1000"], ReportFormat.Decimal, r => r.OpenErrorsPer1000),
        new(text["Col.Resolved"], ReportFormat.Integer, r => r.Resolved, 10),
        new(text["Col.Confirmed"], ReportFormat.Integer, r => r.Confirmed, 10),
        new(text["Col.Removed"], ReportFormat.Integer, r => r.Removed, 10),
        new(text["Col.FixedShare"], ReportFormat.Percent, r => r.FixedShare, 11),
    ];

    public IReadOnlyList<TrendColumn<TrendMover>> Movers() =>
    [
        new(text["Col.Level"], ReportFormat.Text, m => m.Level == TrendLevel.District ? text["Level.District"] : text["Level.School"], 9),
        new(text["Col.Code"], ReportFormat.Text, m => m.Code, 14, m => m.Level == TrendLevel.District ? DistrictLink(m.Code, null) : null),
        new(text["Col.Name"], ReportFormat.Text, m => m.Name ?? "", 24),
        new(text["Col.Students"], ReportFormat.Integer, m => m.Students, 11),
        new(text["Col.OpenErrors"], ReportFormat.Integer, m => m.OpenErrors, 11),
        new(text["Col.OpenErrorsPer1000"], ReportFormat.Decimal, m => m.OpenErrorsPer1000),
        new(text["Col.ProblemsPer1000"], ReportFormat.Decimal, m => m.ProblemsPer1000),
        new(text["Col.PreviousProblemsPer1000"], ReportFormat.Decimal, m => m.PreviousProblemsPer1000),
        new(text["Col.DropPer1000"], ReportFormat.Decimal, m => m.DropPer1000),
        new(text["Col.WorstRank"], ReportFormat.Integer, m => m.WorstRank, 9),
        new(text["Col.ImprovedRank"], ReportFormat.Integer, m => m.ImprovedRank, 9),
    ];

    /// <summary>The parents' confirmations chart's table: a row per district of the round, the share confirmed and the counts behind it.</summary>
    public IReadOnlyList<TrendColumn<ConfirmationDistrict>> Confirmations(string round) =>
    [
        new(text["Col.District"], ReportFormat.Text, d => d.DistrictCode ?? "", 10, d => DistrictLink(d.DistrictCode, round)),
        new(text["Col.DistrictName"], ReportFormat.Text, d => d.DistrictCode is null ? text["NotInMaster"] : d.DistrictName ?? "", 18),
        new(text["Col.ConfirmedShare"], ReportFormat.Percent, d => d.Figures.ConfirmedShare, 12),
        new(text["Col.Students"], ReportFormat.Integer, d => d.Figures.Students, 11),
        new(text["Col.SheetsPrinted"], ReportFormat.Integer, d => d.Figures.Printed, 11),
        new(text["Col.SheetsReturned"], ReportFormat.Integer, d => d.Figures.Returned, 11),
        new(text["Col.ConfirmedUnchanged"], ReportFormat.Integer, d => d.Figures.Unchanged, 11),
        new(text["Col.ConfirmedCorrected"], ReportFormat.Integer, d => d.Figures.Corrected, 11),
        new(text["Col.SheetsOutstanding"], ReportFormat.Integer, d => d.Figures.Outstanding, 11),
        new(text["Col.ChangesWaiting"], ReportFormat.Integer, d => d.Figures.Waiting, 11),
    ];

    /// <summary>A table as a sheet of the export, the values typed by their columns.</summary>
    public static ReportSheet Sheet<T>(string name, IReadOnlyList<TrendColumn<T>> columns, IEnumerable<T> rows) =>
        new(name, [.. columns.Select(c => new ReportColumn(c.Header, c.Format, c.Width))],
            rows.Select(row => (IReadOnlyList<object?>)[.. columns.Select(c => c.Cell(row))]));

    /// <summary>A district's trends page (of a round), or none for the group without a district.</summary>
    public static string? DistrictLink(string? code, string? round) => code is null ? null
        : "/trends/district/" + Uri.EscapeDataString(code) + (round is null ? "" : "?round=" + Uri.EscapeDataString(round));

    /// <summary>A value as the page shows it: invariant numbers, "—" for a rate without a denominator.</summary>
    public static string Show(ReportFormat format, object? value) => value switch
    {
        null => format == ReportFormat.Text ? "" : "—",
        string s => s,
        DateOnly date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => format switch
        {
            ReportFormat.Integer => Convert.ToDouble(value, CultureInfo.InvariantCulture).ToString("#,##0", CultureInfo.InvariantCulture),
            ReportFormat.Decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture).ToString("#,##0.0", CultureInfo.InvariantCulture),
            ReportFormat.Percent => (Convert.ToDouble(value, CultureInfo.InvariantCulture) * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        },
    };
}
