using System.Globalization;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StudentDataQuality.Data.Files;
using StudentDataQuality.Data.Rounds;

namespace StudentDataQuality.Jobs;

/// <summary>
/// The jobs that run once a day: the reminder (schools past their deadline, and each district's escalated cases, written
/// as reports and to the log), and
/// the upkeep of open rounds (a live quality snapshot of each, and closing those whose closing day has come). Both can
/// run twice a day with the same end state: the report of a day is rewritten, its audit entry written once, a day's
/// live snapshot replaced, a closed round left closed.
/// </summary>
public sealed class DailyJobs(RoundRuns runs, JobSettings settings, IBackgroundJobClient jobs, Npgsql.NpgsqlDataSource dataSource,
    ILogger<DailyJobs>? logger = null)
{
    public const string Actor = "job:daily";
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Writes reminders_YYYY-MM-DD.csv (UTF-8 with BOM, for Excel) into the reports folder and logs each late school.</summary>
    [Queue("checks")]
    [AutomaticRetry(Attempts = 3)]
    public async Task<string> RemindAsync(CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(DateTime.Today);
        var late = await runs.LateSchoolsAsync(today, cancellationToken);
        var path = Path.Combine(settings.Reports, $"reminders_{today:yyyy-MM-dd}.csv");
        // Owner-only, in a reports folder made owner-only when missing; school names are written as text (CsvTableWriter).
        using (var csv = CsvTableWriter.Create(path + ".partial"))
        {
            csv.WriteRow("轮次 round", "学校标识码 school_code", "学校名称 school_name", "区县 district", "版次 issue", "截止日期 deadline", "逾期天数 days_late",
                "未解决错误 open_errors", "未解决警告 open_warnings");
            foreach (var school in late)
            {
                csv.WriteRow(school.RoundCode, school.SchoolCode, school.SchoolName, school.DistrictCode, school.IssueNumber,
                    school.Deadline.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), school.DaysLate, school.OpenErrors, school.OpenWarnings);
                _logger.LogWarning("School {SchoolCode} of round {RoundCode} is {DaysLate} days past its worksheet deadline with {OpenErrors} errors open",
                    school.SchoolCode, school.RoundCode, school.DaysLate, school.OpenErrors);
            }
        }

        File.Move(path + ".partial", path, overwrite: true);
        var escalations = await EscalationsAsync(today, cancellationToken);
        await runs.AuditRemindersAsync(today, late.Count, Path.GetFileName(path), Actor, cancellationToken);
        return $"{late.Count} schools past their deadline; {path}; {escalations}";
    }

    /// <summary>
    /// Writes escalations_YYYY-MM-DD.csv beside the reminders: per open round and district, the cases the district owns and
    /// those the data team owns (docs/cases.md), counts only; logs each district's.
    /// </summary>
    private async Task<string> EscalationsAsync(DateOnly today, CancellationToken cancellationToken)
    {
        var cases = new StudentDataQuality.Data.Quality.Cases(dataSource, settings.Cases);
        var path = Path.Combine(settings.Reports, $"escalations_{today:yyyy-MM-dd}.csv");
        var districts = 0;
        using (var csv = CsvTableWriter.Create(path + ".partial"))
        {
            csv.WriteRow("轮次 round", "区县 district", "区县负责 to_district", "数据组负责 to_data_team", "最长未解决轮数 oldest_rounds_open");
            foreach (var run in (await runs.ListAsync(limit: 1000, cancellationToken)).Where(r => r.Stage == RoundStage.Issued))
            {
                foreach (var district in await cases.EscalationsByDistrictAsync(run.RoundCode, cancellationToken))
                {
                    csv.WriteRow(district.RoundCode, district.DistrictCode ?? "", district.ToDistrict, district.ToDataTeam, district.OldestRoundsOpen);
                    _logger.LogWarning("District {DistrictCode} of round {RoundCode} has {ToDistrict} cases escalated to it and {ToDataTeam} to the data team",
                        district.DistrictCode, district.RoundCode, district.ToDistrict, district.ToDataTeam);
                    districts++;
                }
            }
        }

        File.Move(path + ".partial", path, overwrite: true);
        return $"{districts} districts with escalations; {path}";
    }

    /// <summary>Closes the open rounds whose closing day has come, and takes a live snapshot of every other issued round.</summary>
    [Queue("checks")]
    [AutomaticRetry(Attempts = 3)]
    public async Task<string> UpkeepAsync(CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(DateTime.Today);
        var closing = 0;
        var snapshots = 0;
        foreach (var run in (await runs.ListAsync(limit: 1000, cancellationToken)).Where(r => r.Stage == RoundStage.Issued))
        {
            if (run.ClosesOn <= today)
            {
                jobs.Enqueue<RoundJobs>(j => j.CloseAsync(run.RoundCode, Actor, CancellationToken.None));
                closing++;
            }
            else
            {
                jobs.Enqueue<RoundJobs>(j => j.SnapshotAsync(run.RoundCode, CancellationToken.None));
                snapshots++;
            }
        }

        return $"{closing} rounds closing, {snapshots} live snapshots";
    }
}
