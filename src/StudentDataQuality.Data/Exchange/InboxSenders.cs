using Npgsql;

namespace StudentDataQuality.Data.Exchange;

/// <summary>Who sends the files of one folder of the inbox: the account of the folder's name, or why there is none.</summary>
public sealed record InboxSender(string Folder, Account? Account, string? Problem)
{
    /// <summary>Whether the folder's files are taken as <see cref="Account"/>'s.</summary>
    public bool Known => Account is not null;
}

/// <summary>
/// The inbox's senders: a folder of the inbox is named after the account whose returns go in it (inbox/school-23010001/,
/// inbox/district-230102/), and what is taken from it is recorded as that account's. The account must exist and not be
/// sealed; what it may return is judged by the ingest exactly as an upload through the portal (its role and school or
/// district). A file that has no sender is not taken and is put on record here.
/// </summary>
public sealed class InboxSenders(NpgsqlDataSource dataSource)
{
    /// <summary>The actor of the inbox's own entries in the audit log.</summary>
    public const string Actor = "job:inbox";

    /// <summary>The sender of the folder named <paramref name="folder"/> (a folder directly in the inbox).</summary>
    public async Task<InboxSender> FindAsync(string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        await using var command = dataSource.CreateCommand("""
            SELECT account, role, school_code, district_code, sealed_at IS NOT NULL FROM access.account WHERE account = @name
            """);
        command.Parameters.AddWithValue("name", folder);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return new InboxSender(folder, null,
                $"no account is named '{folder}': name the folder after the account that sends its files (`sdq user list` shows them, " +
                "`sdq user add` makes one), e.g. inbox/school-<school code>/");
        }

        var account = new Account(reader.GetString(0), Account.ParseRole(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3));
        return reader.GetBoolean(4)
            ? new InboxSender(folder, null, $"the account '{folder}' is sealed: the data team opens it again with `sdq user reset {folder}`, then drop the file again")
            : new InboxSender(folder, account, null);
    }

    /// <summary>Puts on record a file of the inbox that was not taken, and why (never its content: a file name and a folder).</summary>
    public async Task NotTakenAsync(string fileName, string? folder, string reason, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditLog.WriteAsync(connection, Actor, "inbox.not-taken", null, null, fileName.Length > 200 ? fileName[..200] : fileName,
            new { folder = folder is { Length: > 100 } ? folder[..100] : folder, reason }, cancellationToken);
    }
}
