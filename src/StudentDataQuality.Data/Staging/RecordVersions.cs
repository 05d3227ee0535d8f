using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Staging;

/// <summary>A record's current version as stored: its number, every field's raw text, and whether the registration is removed.</summary>
public sealed record CurrentVersion(int RoundId, long RecordId, int Version, IReadOnlyDictionary<string, string?> RawValues, string?[]? ExtraRaw, bool Removed);

/// <summary>
/// The next version of a record: every field's raw text (the current one's with the corrections applied), and what made it:
/// a returned worksheet (<see cref="ReturnId"/>) or a parent's answer on a confirmation sheet (<see cref="ChangeId"/>).
/// </summary>
public sealed record NextVersion(long RecordId, int Version, IReadOnlyDictionary<string, string?> RawValues, string?[]? ExtraRaw, long? ReturnId,
    bool Removed)
{
    /// <summary>A change of the parent's answer that made this version (confirm.change), when it came from one.</summary>
    public long? ChangeId { get; init; }
}

/// <summary>
/// Reads the current versions of records and writes their next versions (docs/record.md, "Record versions"): raw rows are never
/// changed; a correction adds version n + 1, parsed exactly as staging parses a row, and makes it the current one
/// (is_current and record_head, which the views and the checks read).
/// </summary>
public static class RecordVersions
{
    private static readonly IReadOnlyList<RegistryField> Fields = Layouts.Student.Fields;

    /// <summary>The current versions (removed registrations included) of some records of the given rounds (record ids are unique across rounds).</summary>
    public static async Task<Dictionary<long, CurrentVersion>> CurrentAsync(NpgsqlConnection connection, IReadOnlyCollection<int> roundIds, IReadOnlyCollection<long> recordIds,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var columns = string.Join(", ", Fields.Select(f => "r." + f.Name + "_raw"));
        await using var command = new NpgsqlCommand($"""
            SELECT r.record_id, r.version, r.extra_raw, r.registration_removed, r.round_id, {columns}
            FROM   registry.record r
            WHERE  r.round_id = ANY(@rounds) AND r.record_id = ANY(@ids) AND r.is_current
            """, connection);
        command.Parameters.AddWithValue("rounds", roundIds.ToArray());
        command.Parameters.AddWithValue("ids", recordIds.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var current = new Dictionary<long, CurrentVersion>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (var i = 0; i < Fields.Count; i++)
            {
                values[Fields[i].Name] = reader.IsDBNull(5 + i) ? null : reader.GetString(5 + i);
            }

            var id = reader.GetInt64(0);
            current[id] = new CurrentVersion(reader.GetInt32(4), id, reader.GetInt32(1), values,
                reader.IsDBNull(2) ? null : reader.GetFieldValue<string?[]>(2), reader.GetBoolean(3));
        }

        return current;
    }

    /// <summary>
    /// Writes the next versions in the caller's transaction and makes them current. Each value is parsed as staging
    /// parses it (typed column, normalised flag, what a resident ID says about itself); the raw text is always kept.
    /// </summary>
    public static async Task WriteAsync(NpgsqlConnection connection, int roundId, IReadOnlyList<NextVersion> versions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(versions);
        if (versions.Count == 0)
        {
            return;
        }

        await using (var flip = new NpgsqlCommand("""
            UPDATE registry.record_version SET is_current = false WHERE round_id = @round AND record_id = ANY(@ids) AND is_current;
            INSERT INTO registry.record_head (round_id, record_id, current_version)
            SELECT @round, u.id, u.version FROM unnest(@ids, @versions) AS u (id, version)
            ON CONFLICT (round_id, record_id) DO UPDATE SET current_version = excluded.current_version;
            """, connection))
        {
            flip.Parameters.AddWithValue("round", roundId);
            flip.Parameters.AddWithValue("ids", versions.Select(v => v.RecordId).ToArray());
            flip.Parameters.AddWithValue("versions", versions.Select(v => v.Version).ToArray());
            await flip.ExecuteNonQueryAsync(cancellationToken);
        }

        var columns = string.Join(", ", Fields.SelectMany(f => f.HasTypedColumn ? new[] { f.Name + "_raw", f.Name } : [f.Name + "_raw"]));
        await using var import = await connection.BeginBinaryImportAsync($"""
            COPY registry.record_version (round_id, record_id, version, {columns}, extra_raw, normalised, id_number_check_ok, id_number_birth,
                                          guardian_id_check_ok, guardian_id_birth, {string.Join(", ", RecordFacts.Columns)}, is_current, return_id,
                                          registration_removed, change_id)
            FROM STDIN (FORMAT BINARY)
            """, cancellationToken);
        foreach (var version in versions)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(roundId, NpgsqlDbType.Integer, cancellationToken);
            await import.WriteAsync(version.RecordId, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(version.Version, NpgsqlDbType.Integer, cancellationToken);
            var normalised = new List<string>();
            string? id = null;
            string? guardianId = null;
            var raws = new string?[Fields.Count];
            var typeds = new object?[Fields.Count];
            for (var i = 0; i < Fields.Count; i++)
            {
                var field = Fields[i];
                var raw = version.RawValues.GetValueOrDefault(field.Name);
                raws[i] = raw;
                await WriteNullable(import, raw, NpgsqlDbType.Text, cancellationToken);
                if (!field.HasTypedColumn)
                {
                    continue;
                }

                var typed = FieldParser.Parse(field, raw);
                typeds[i] = typed;
                if (field.Name == "id_number")
                {
                    id = typed as string;
                }
                else if (field.Name == "guardian_id_number")
                {
                    guardianId = typed as string;
                }

                await WriteNullable(import, typed, field.TypedType switch
                {
                    TypedColumnType.SmallInt => NpgsqlDbType.Smallint,
                    TypedColumnType.Date => NpgsqlDbType.Date,
                    TypedColumnType.Boolean => NpgsqlDbType.Boolean,
                    _ => NpgsqlDbType.Text,
                }, cancellationToken);
                if (FieldParser.IsNormalised(field, raw))
                {
                    normalised.Add(field.Name);
                }
            }

            await WriteNullable(import, version.ExtraRaw, NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
            await WriteNullable(import, normalised.Count == 0 ? null : normalised.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
            foreach (var number in new[] { id, guardianId })
            {
                var (checkOk, birth) = ResidentId.Facts(number);
                await WriteNullable(import, checkOk, NpgsqlDbType.Boolean, cancellationToken);
                await WriteNullable(import, birth, NpgsqlDbType.Date, cancellationToken);
            }

            var facts = RecordFacts.Of(raws, typeds);
            await WriteNullable(import, facts.BlankFields, NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
            await WriteNullable(import, facts.BadTextFields, NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
            foreach (var flag in new[] { facts.StudentNoShapeOk, facts.SchoolCodeShapeOk, facts.NameShapeOk, facts.GuardianNameShapeOk, facts.GuardianPhoneOk })
            {
                await WriteNullable(import, flag, NpgsqlDbType.Boolean, cancellationToken);
            }

            await WriteNullable(import, facts.Name, NpgsqlDbType.Text, cancellationToken);

            await import.WriteAsync(true, NpgsqlDbType.Boolean, cancellationToken);
            await WriteNullable(import, version.ReturnId, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(version.Removed, NpgsqlDbType.Boolean, cancellationToken);
            await WriteNullable(import, version.ChangeId, NpgsqlDbType.Bigint, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }

    private static Task WriteNullable(NpgsqlBinaryImporter import, object? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? import.WriteNullAsync(cancellationToken) : import.WriteAsync(value, type, cancellationToken);
}
