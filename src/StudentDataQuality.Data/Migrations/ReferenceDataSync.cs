using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Records;
using StudentDataQuality.Reference;

namespace StudentDataQuality.Data.Migrations;

/// <summary>
/// Writes the reference data the program carries (code lists, GB/T 2260 regions) into the reference schema, so that
/// SQL rules and reports read exactly what the parser uses. Runs after the migrations, under their lock, and only
/// rewrites the tables when the program's lists differ from what is loaded.
/// </summary>
internal static class ReferenceDataSync
{
    private static readonly Lazy<string> Fingerprint = new(() =>
    {
        var text = new StringBuilder();
        foreach (var list in CodeLists.All)
        {
            foreach (var e in list.Entries)
            {
                text.Append(list.Name).Append('|').Append(e.Code).Append('|').Append(e.NameZh).Append('|').Append(e.NameEn).Append('\n');
            }
        }

        foreach (var r in ReferenceData.Regions)
        {
            text.Append(r.Code).Append('|').Append(r.Name).Append('|').Append(r.ParentCode).Append('\n');
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    });

    public static async Task SyncAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var current = new NpgsqlCommand("SELECT fingerprint FROM reference.sync_state", connection))
        {
            if (await current.ExecuteScalarAsync(cancellationToken) as string == Fingerprint.Value)
            {
                return;
            }
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var clear = new NpgsqlCommand("DELETE FROM reference.code; DELETE FROM reference.region;", connection))
        {
            await clear.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var codes = await connection.BeginBinaryImportAsync(
            "COPY reference.code (list, code, name_zh, name_en) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var list in CodeLists.All)
            {
                foreach (var entry in list.Entries)
                {
                    await codes.WriteRowAsync(cancellationToken, list.Name, entry.Code, entry.NameZh, entry.NameEn);
                }
            }

            await codes.CompleteAsync(cancellationToken);
        }

        await using (var regions = await connection.BeginBinaryImportAsync(
            "COPY reference.region (code, name, parent_code, level) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            // A few county-level cities (e.g. 441900) share the six-digit form of their prefecture (4419); keep the county.
            foreach (var region in ReferenceData.Regions.GroupBy(r => r.SixDigitCode).Select(g => g.Last()))
            {
                await regions.StartRowAsync(cancellationToken);
                await regions.WriteAsync(region.SixDigitCode, NpgsqlDbType.Text, cancellationToken);
                await regions.WriteAsync(region.Name, NpgsqlDbType.Text, cancellationToken);
                await regions.WriteAsync(region.ParentCode?.PadRight(6, '0'), NpgsqlDbType.Text, cancellationToken);
                await regions.WriteAsync((short)(region.Code.Length / 2), NpgsqlDbType.Smallint, cancellationToken);
            }

            await regions.CompleteAsync(cancellationToken);
        }

        await using (var done = new NpgsqlCommand(
            "INSERT INTO reference.sync_state (fingerprint) VALUES (@f) " +
            "ON CONFLICT (singleton) DO UPDATE SET fingerprint = excluded.fingerprint, synced_at = now()", connection))
        {
            done.Parameters.AddWithValue("f", Fingerprint.Value);
            await done.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}
