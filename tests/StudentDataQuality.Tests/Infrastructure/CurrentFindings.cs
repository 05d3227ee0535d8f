using Npgsql;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>A round's current findings, for comparing a re-check with a full run.</summary>
public static class CurrentFindings
{
    /// <summary>The round's current findings (open or confirmed), each as comparable text; a finding current twice fails the test.</summary>
    public static async Task<HashSet<string>> ReadAsync(NpgsqlDataSource dataSource, string round)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var command = dataSource.CreateCommand("""
            SELECT concat_ws('|', f.rule_id, f.record_id, f.record_version, f.school_code, f.student_no, f.field, f.value, f.detail, f.severity,
                             f.status, f.first_seen_round_id)
            FROM   quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = @round AND f.status IN ('open', 'confirmed')
            """);
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            Assert.True(found.Add(reader.GetString(0)), $"The same finding is current twice: {reader.GetString(0)}");
        }

        return found;
    }
}
