using System.Security.Cryptography;
using Npgsql;
using StudentDataQuality.Data.Files;
using StudentDataQuality.Exports;
using StudentDataQuality.Records;

namespace StudentDataQuality.Data.Exchange;

/// <summary>What a change set file holds.</summary>
public sealed record ChangeSetResult(string Path, int Corrected, int Removed, string Sha256)
{
    /// <summary>The file's lines of students (corrected and removed): what the export register records as its rows.</summary>
    public int Rows => Corrected + Removed;
}

/// <summary>
/// The round's accepted changes for the upstream registry: one line per record that a return changed (corrected or
/// registration removed), in the registry's import layout (its Chinese headers, every field as the record now reads),
/// then the kind of change, the changed fields, and the provenance id of the version (the PROV entity
/// <c>sdq:record/&lt;id&gt;/v&lt;n&gt;</c>, which <c>sdq lineage --prov-json</c> explains). CSV, UTF-8 with BOM, CRLF:
/// what the registry's import reads. Writing it is an export of minors' data: made inside the export register's taking
/// (<c>ExportRegister.TakeAsync</c>, docs/exports.md: the province's changes are a bulk full export, so an approved request),
/// which records it with its watermark. It takes the watermark the register hands out, so it is written inside a taking only.
/// </summary>
public sealed class ChangeSetWriter(NpgsqlDataSource dataSource)
{
    public const string KindHeader = "变更类型";
    public const string FieldsHeader = "变更字段";
    public const string ProvenanceHeader = "溯源编号";
    public const string ChangedByHeader = "修改人";
    public const string ChangedAtHeader = "修改时间";
    public const string CorrectedKind = "变更";
    public const string RemovedKind = "删除";

    private static readonly IReadOnlyList<RegistryField> Fields = Layouts.Student.Fields;

    /// <summary>The fields a change set carries (the registry's field names, then its own columns): what the export register records.</summary>
    public static IReadOnlyList<string> FieldNames { get; } =
        [.. Fields.Select(f => f.Name), "change_kind", "changed_fields", "provenance", "changed_by", "changed_at"];

    /// <summary>
    /// Writes the round's change set to <paramref name="path"/> (owner-only), inside the export register's taking that handed
    /// out <paramref name="watermark"/>: the register records it, in its own transaction (no audit entry here, so a taking that
    /// fails leaves nothing on record). A file cut off by a failure is removed.
    /// </summary>
    public async Task<ChangeSetResult> WriteAsync(string roundCode, string path, Account actor, Watermark watermark,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(watermark);
        if (actor.Role != AccountRole.DataTeam)
        {
            throw new UserErrorException(new UserMessage("Changes.DataTeamOnly", actor.Name));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var roundId = await new NpgsqlCommand("SELECT round_id FROM registry.round WHERE code = @code", connection)
            { Parameters = { new NpgsqlParameter("code", roundCode) } }.ExecuteScalarAsync(cancellationToken) as int?
            ?? throw new UserErrorException(new UserMessage("Changes.RoundNotFound", roundCode));
        var columns = string.Join(", ", Fields.Select(f => "r." + f.Name + "_raw"));
        await using var command = new NpgsqlCommand($"""
            SELECT r.record_id, r.version, r.registration_removed,
                   ARRAY(SELECT DISTINCT c.field FROM exchange.correction c WHERE c.round_id = r.round_id AND c.record_id = r.record_id AND c.kind = 'value'),
                   t.received_by, t.received_at, {columns}
            FROM   registry.record r
            JOIN   exchange.worksheet_return t ON t.return_id = r.return_id
            WHERE  r.round_id = @round AND r.is_current AND r.version > 1
            ORDER  BY r.school_code, r.student_no, r.record_id
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        var temporary = path + ".partial";
        int corrected, removed;
        try
        {
            (corrected, removed) = await WriteRowsAsync(command, temporary, cancellationToken);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            // A file cut off by a failure (a lost connection, a full disk) is not left behind.
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path, cancellationToken)));
        return new ChangeSetResult(path, corrected, removed, sha256);
    }

    private static async Task<(int Corrected, int Removed)> WriteRowsAsync(NpgsqlCommand command, string path, CancellationToken cancellationToken)
    {
        int corrected = 0, removed = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        // The values are the registry's and the schools' (hostile text included): the one CSV writer keeps a
        // formula-like value text, and the file (with its folder, when made here) is owner-only.
        using var csv = CsvTableWriter.Create(path);
        csv.WriteRow(Fields.Select(f => f.Header).Concat([KindHeader, FieldsHeader, ProvenanceHeader, ChangedByHeader, ChangedAtHeader]));
        while (await reader.ReadAsync(cancellationToken))
        {
            var isRemoved = reader.GetBoolean(2);
            _ = isRemoved ? removed++ : corrected++;
            var changed = reader.GetFieldValue<string[]>(3).Select(name => Fields.First(f => f.Name == name).Header);
            var values = Fields.Select((_, i) => reader.IsDBNull(6 + i) ? "" : reader.GetString(6 + i)).ToList();
            csv.WriteRow(values.Concat([
                isRemoved ? RemovedKind : CorrectedKind, string.Join("；", changed),
                $"sdq:record/{reader.GetInt64(0)}/v{reader.GetInt32(1)}", reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(5).ToString("yyyy-MM-dd HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture)]));
        }

        return (corrected, removed);
    }
}
