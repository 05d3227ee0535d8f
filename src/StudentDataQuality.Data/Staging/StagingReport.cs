using Npgsql;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Staging;

/// <summary>What a round holds after extract: a first look before the checks run.</summary>
public sealed record StagingSummary(
    long Records, long Schools, long SchoolsInMaster, long Districts, IReadOnlyList<(string Field, string Header, long Count)> Unparsed);

public static class StagingReport
{
    /// <summary>
    /// Counts of the round's version-1 records, and per field how many carry text that did not parse into its typed
    /// value (these become format findings when the checks run). One pass over the round.
    /// </summary>
    public static async Task<StagingSummary> SummariseAsync(NpgsqlDataSource dataSource, int roundId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        // Column names come from the layout catalogue, never from input.
        var typedFields = Layouts.Student.Fields.Where(f => f.Kind is not (FieldKind.Text or FieldKind.Identifier)).ToArray();
        var unparsed = string.Join(",\n", typedFields.Select(f => $"count(*) FILTER (WHERE btrim({f.Name}_raw) <> '' AND {f.Name} IS NULL)"));
        await using var command = dataSource.CreateCommand($"""
            SELECT count(*), count(DISTINCT school_code),
                   (SELECT count(*) FROM registry.school s WHERE s.round_id = @round),
                   (SELECT count(DISTINCT district_code) FROM registry.school s WHERE s.round_id = @round),
                   {unparsed}
            FROM   registry.record_version
            WHERE  round_id = @round AND version = 1
            """);
        command.Parameters.AddWithValue("round", roundId);
        command.CommandTimeout = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var counts = typedFields.Select((f, i) => (f.Name, f.Header, reader.GetInt64(4 + i))).Where(x => x.Item3 > 0).ToArray();
        return new StagingSummary(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), counts);
    }
}
