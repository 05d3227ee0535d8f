using Npgsql;

namespace StudentDataQuality.Data.Quality;

/// <summary>A round's open findings counted by severity, by rule and by district.</summary>
public sealed record CheckSummary(
    IReadOnlyList<(string Severity, long Findings, long Records)> BySeverity,
    IReadOnlyList<(string RuleId, string Title, string Severity, long Findings)> ByRule,
    IReadOnlyList<(string District, string Name, long Errors, long Warnings)> ByDistrict,
    bool HasSchoolMaster);

public static class CheckReport
{
    public static async Task<CheckSummary> SummariseAsync(NpgsqlDataSource dataSource, int roundId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("""
            SELECT severity, count(*), count(DISTINCT record_id) FROM quality.finding
            WHERE round_id = @round AND status = 'open' GROUP BY severity ORDER BY severity
            """, roundId));
        batch.BatchCommands.Add(Command("""
            SELECT f.rule_id, r.title_en, r.severity, count(*) FROM quality.finding f JOIN quality.rule r USING (rule_id)
            WHERE f.round_id = @round AND f.status = 'open' GROUP BY f.rule_id, r.title_en, r.severity, r.stage ORDER BY r.stage, f.rule_id
            """, roundId));
        batch.BatchCommands.Add(Command("""
            SELECT coalesce(s.district_code, '?'), coalesce(max(btrim(s.district_name_raw)), 'school not in the master'),
                   count(*) FILTER (WHERE f.severity = 'error'), count(*) FILTER (WHERE f.severity = 'warning')
            FROM   quality.finding f
            LEFT   JOIN registry.school s ON s.round_id = f.round_id AND s.school_code = f.school_code
            WHERE  f.round_id = @round AND f.status = 'open'
            GROUP  BY 1 ORDER BY 3 DESC, 1
            """, roundId));
        batch.BatchCommands.Add(Command("SELECT EXISTS (SELECT 1 FROM registry.school WHERE round_id = @round)", roundId));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var bySeverity = new List<(string, long, long)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            bySeverity.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        await reader.NextResultAsync(cancellationToken);
        var byRule = new List<(string, string, string, long)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            byRule.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        }

        await reader.NextResultAsync(cancellationToken);
        var byDistrict = new List<(string, string, long, long)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            byDistrict.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        await reader.NextResultAsync(cancellationToken);
        var hasMaster = await reader.ReadAsync(cancellationToken) && reader.GetBoolean(0);
        return new CheckSummary(bySeverity, byRule, byDistrict, hasMaster);
    }

    private static NpgsqlBatchCommand Command(string sql, int roundId)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddWithValue("round", roundId);
        return command;
    }
}
