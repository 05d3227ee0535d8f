using Npgsql;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Staging;

/// <summary>What a round holds after extract: a first look before the checks run.</summary>
public sealed record StagingSummary(
    long Records, long Files, long SchoolsInMaster, long Districts, IReadOnlyList<(string Field, string Header, long Count)> Unparsed);

public static class StagingReport
{
    /// <summary>
    /// The round's staged records and, per field, how many values carry text that did not parse into the field's
    /// type (these become format findings when the checks run). Read from what staging recorded per source file,
    /// so it costs nothing like a pass over the records.
    /// </summary>
    public static async Task<StagingSummary> SummariseAsync(NpgsqlDataSource dataSource, int roundId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand("""
            SELECT coalesce(sum(row_count) FILTER (WHERE layout = 'student'), 0)::bigint,
                   count(*) FILTER (WHERE layout = 'student'),
                   (SELECT count(*) FROM registry.school s WHERE s.round_id = @round),
                   (SELECT count(DISTINCT district_code) FROM registry.school s WHERE s.round_id = @round),
                   coalesce((SELECT jsonb_object_agg(key, total) FROM (
                        SELECT u.key, sum(u.value::bigint) AS total
                        FROM   staging.source_file f, jsonb_each_text(f.unparsed) u
                        WHERE  f.round_id = @round AND f.layout = 'student'
                        GROUP  BY u.key) t), '{}')::text
            FROM   staging.source_file
            WHERE  round_id = @round
            """);
        command.Parameters.AddWithValue("round", roundId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var unparsed = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, long>>(reader.GetString(4))!;
        var counts = Layouts.Student.Fields.Where(f => unparsed.ContainsKey(f.Name)).Select(f => (f.Name, f.Header, unparsed[f.Name])).ToArray();
        return new StagingSummary(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), counts);
    }
}
