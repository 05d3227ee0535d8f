using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Cli.Commands;

public sealed class CaseSettings : SdqSettings
{
    [CommandOption("-r|--round <ROUND>")]
    [Description("The round (default: the newest round).")]
    public string? Round { get; init; }

    [CommandOption("--district <CODE>")]
    [Description("Only the cases of this district's schools.")]
    public string? District { get; init; }

    [CommandOption("--older-than-rounds <N>")]
    [Description("Only the cases open N rounds or more (3: the third round open and older).")]
    public string? OlderThanRounds { get; init; }

    [CommandOption("--owner <OWNER>")]
    [Description("Only the cases of this owner: school, district or data-team.")]
    public string? Owner { get; init; }

    [CommandOption("--closed")]
    [Description("The cases the round closed (fixed, explained and accepted, removed, or not found again) instead of the open ones.")]
    public bool Closed { get; init; }

    [CommandOption("--history <CASE>")]
    [Description("The history of one case: its case number (first column of the list) or its whole fingerprint.")]
    public string? History { get; init; }

    [CommandOption("--limit <N>")]
    [Description("The most cases listed (default 200, at most 1000).")]
    public int Limit { get; init; } = 200;

    public override ValidationResult Validate() =>
        Owner is not null && Cases.ParseOwner(Owner) is null ? ValidationResult.Error(new UserMessage("Cli.CasesOwnerInvalid", Owner).ToString())
        : OlderThanRounds is not null && MinRounds(OlderThanRounds) is null
            ? ValidationResult.Error(new UserMessage("Cli.Cases.RoundsInvalid", OlderThanRounds).ToString())
        : Limit is < 1 or > Cases.MaxPageSize ? ValidationResult.Error($"--limit takes a number from 1 to {Cases.MaxPageSize}.")
        : ValidationResult.Success();

    internal static int? MinRounds(string? text) =>
        int.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 ? n : null;
}

/// <summary>
/// The cases of a round (docs/cases.md): problems that survived the round they were first seen in, oldest first, with their
/// owner; then the round's summary. Student numbers masked; the read is audited as <c>cases.list</c>.
/// </summary>
public sealed class CaseListCommand : AsyncCommand<CaseSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, CaseSettings settings, CancellationToken cancellationToken)
    {
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        var cases = new Cases(dataSource, Options());
        var reader = Account.Operator(SdqEnvironment.Actor);
        var round = settings.Round ?? await cases.NewestRoundAsync(cancellationToken) ?? throw new UserErrorException(new UserMessage("Cli.CasesNoRound"));
        if (settings.History is { } which)
        {
            var steps = await cases.HistoryAsync(reader, round, which, cancellationToken);
            foreach (var step in steps)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"[bold]Round {step.RoundCode}[/] ({step.RoundDate:yyyy-MM-dd}): finding {step.FindingId}, {step.Status}, value {step.Value ?? "(blank)"}, rule version {step.RuleVersion}");
                foreach (var e in step.Explanations)
                {
                    AnsiConsole.MarkupLineInterpolated(
                        $"  explanation {e.ExplanationId}: {e.Status}{(e.ReviewedBy is null ? "" : $" by {e.ReviewedBy} {e.ReviewedAt:yyyy-MM-dd}")}");
                }

                foreach (var c in step.Corrections)
                {
                    AnsiConsole.MarkupLineInterpolated(
                        $"  return {c.ReturnId}, correction {c.CorrectionId}: {c.Kind}{(c.Field is null ? "" : $" {c.Field}: {c.OldValue ?? "(blank)"} → {c.NewValue ?? "(blank)"}")}");
                }
            }

            return 0;
        }

        var filter = new CaseFilter(settings.District, CaseSettings.MinRounds(settings.OlderThanRounds), Cases.ParseOwner(settings.Owner), settings.Closed);
        var page = await cases.ListAsync(reader, round, filter, 0, settings.Limit, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"{(settings.Closed ? "Closed cases" : "Open cases")} of round [bold]{page.RoundCode}[/]: {page.Total}{(page.Total > page.Rows.Count ? $" (the first {page.Rows.Count} shown, oldest first)" : "")}.");
        // A line per case (not a table): a terminal of any width shows it whole, and it reads well in a log.
        foreach (var c in page.Rows)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"  case {c.CaseId}  {c.RuleId}  school {c.SchoolCode ?? "-"}  student {Masking.StudentNo(c.StudentNo) ?? "-"}  {c.Field}  first round {c.FirstRoundCode}  {c.RoundsOpen} rounds  {c.DaysOpen} days  {(settings.Closed ? "closed as " + c.Status : "owner " + Cases.OwnerText(c.Owner))}");
        }

        var summary = await cases.SummaryAsync(reader, round, settings.District, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"Summary: {summary.NewThisRound} new problems this round (cases if they survive it); {summary.Open} open cases: {summary.TwoRounds} in their second round, {summary.ThreeOrMoreRounds} in their third or later.");
        AnsiConsole.MarkupLineInterpolated(
            $"Median age {Number(summary.MedianRoundsOpen)} rounds, {Number(summary.MedianDaysOpen)} days; escalations: {summary.ToDistrict} to the district, {summary.ToDataTeam} to the data team; {summary.Closed} cases closed this round.");
        return 0;
    }

    private static string Number(double? value) => value is { } v ? v.ToString("0.#", CultureInfo.InvariantCulture) : "-";

    /// <summary>The escalation settings: the Cases section of appsettings.json (docs/cases.md), each a whole number of 1 or more.</summary>
    internal static CaseOptions Options()
    {
        var defaults = CaseOptions.Default;
        return new CaseOptions(
            Setting("DistrictAfterRounds", defaults.DistrictAfterRounds), Setting("DistrictAfterDays", defaults.DistrictAfterDays),
            Setting("DataTeamAfterRounds", defaults.DataTeamAfterRounds), Setting("DataTeamAfterDays", defaults.DataTeamAfterDays));

        static int Setting(string name, int fallback)
        {
            var text = SdqEnvironment.Configuration["Cases:" + name];
            return string.IsNullOrWhiteSpace(text) ? fallback
                : int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 ? n
                : throw new UserErrorException(new UserMessage("Cli.CasesSettingInvalid", name, text));
        }
    }
}
