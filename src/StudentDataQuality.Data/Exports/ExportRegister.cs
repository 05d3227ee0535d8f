using System.Globalization;
using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Data.Exports;

/// <summary>An export about to be made: what, in which form, whose data, for which round, why, and the request it takes (if any).</summary>
/// <param name="Purpose">Why the file leaves. A routine export (a school's own worksheet) may leave it null: the kind's routine
/// purpose is written (<see cref="ExportRegister.RoutinePurpose"/>). A request carries its own purpose.</param>
/// <param name="RequestId">The approved request this export takes (required when the policy says <see cref="ExportDecision.NeedsRequest"/>).</param>
public sealed record ExportOrder(ExportKind Kind, ExportForm Form, ExportScope Scope, int? RoundId, string? Purpose = null, long? RequestId = null);

/// <summary>
/// What the producer made: the file's name, rows (students or lines), the fields it carries, and either its bytes (a file
/// handed out by the portal) or the path it was written to (a file the command line wrote). The register hashes it.
/// </summary>
/// <param name="Parts">Files inside what left that can travel on alone (the CSV in a portal .zip, each class's PDF of a bulk
/// print): recorded with their sha256, so that one found apart from the rest is identified too.</param>
public sealed record ExportContent(string FileName, int Rows, IReadOnlyList<string> Fields, byte[]? Bytes = null, string? FilePath = null,
    IReadOnlyList<ExportPart>? Parts = null);

/// <summary>A file inside an export (see <see cref="ExportContent.Parts"/>): its name and the sha256 of its bytes.</summary>
public sealed record ExportPart(string FileName, string Sha256);

/// <summary>An export made and on record: its watermark, the bytes or path, and the sha256 of what left.</summary>
public sealed record ExportedFile(Watermark Watermark, string FileName, string Sha256, byte[]? Bytes, string? FilePath)
{
    public string ExportId => Watermark.ExportId;
}

/// <summary>What someone asks for: a bulk (or full where masked is the rule) export, with its purpose.</summary>
public sealed record ExportRequestDraft(ExportKind Kind, ExportForm Form, ExportScope Scope, int? RoundId, string Purpose);

/// <summary>Where a request stands.</summary>
public enum ExportRequestStatus
{
    /// <summary>Waiting for a second data-team account.</summary>
    Waiting,

    /// <summary>Approved: the requester may take it once until it expires.</summary>
    Approved,

    Refused,

    /// <summary>Taken once; nothing of it is kept on the server (the file is made when it is taken).</summary>
    Taken,

    /// <summary>Approved but not taken in time: it can no longer be taken.</summary>
    Expired,
}

/// <summary>One request as the register shows it.</summary>
public sealed record ExportRequest(long RequestId, ExportKind Kind, ExportForm Form, string Scope, int? RoundId, string? RoundCode, string Purpose,
    string RequestedBy, DateTimeOffset RequestedAt, ExportRequestStatus Status, string? DecidedBy, DateTimeOffset? DecidedAt, string? DecisionNote,
    DateTimeOffset? ExpiresAt, DateTimeOffset? TakenAt, string? ExportId);

/// <summary>One file that left, as the register shows it.</summary>
public sealed record ExportRecord(string ExportId, ExportKind Kind, ExportForm Form, string Scope, int? RoundId, string? RoundCode, string Purpose,
    string TakenBy, DateTimeOffset TakenAt, string? TakenFrom, string FileName, int Rows, IReadOnlyList<string> Fields, string Sha256, long Bytes,
    long? RequestId, string? RequestedBy, string? ApprovedBy)
{
    /// <summary>How <see cref="ExportRegister.IdentifyAsync"/> found it: "sha256" (the file's bytes), "part" (the bytes of a
    /// file inside it), "watermark" (only the id the file carries: its bytes are no export's). Null elsewhere.</summary>
    public string? FoundBy { get; init; }
}

/// <summary>What the register page and <c>sdq export list</c> filter on (each exact; none: all), dates inclusive, Beijing time.</summary>
public sealed record ExportQuery(string? TakenBy = null, ExportKind? Kind = null, ExportForm? Form = null, DateOnly? From = null, DateOnly? To = null);

/// <summary>One page of the register, the newest first.</summary>
public sealed record ExportRegisterPage(IReadOnlyList<ExportRecord> Files, bool More);

/// <summary>Settings: how long an approved request may be taken (default 24 hours).</summary>
public sealed record ExportSettings(TimeSpan? Window = null)
{
    public static TimeSpan DefaultWindow { get; } = TimeSpan.FromHours(24);

    public TimeSpan TakeWithin => Window ?? DefaultWindow;

    /// <summary>The setting's name (README, "Configuration").</summary>
    public const string TakeWithinSetting = "Exports:TakeWithinHours";

    /// <summary>
    /// The settings from the configured <see cref="TakeWithinSetting"/> (whole hours from 1 to 168; blank: 24), for the portal
    /// and the command line alike.
    /// </summary>
    /// <exception cref="UserErrorException">Not such a number (<c>ExportWiring.TakeWithinHours</c>).</exception>
    public static ExportSettings FromTakeWithinHours(string? text) =>
        string.IsNullOrWhiteSpace(text) ? new ExportSettings()
        : int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var hours)
            && hours is >= 1 and <= 168
            ? new ExportSettings(TimeSpan.FromHours(hours))
            : throw new UserErrorException(new UserMessage("ExportWiring.TakeWithinHours", text.Length > 40 ? text[..40] + "…" : text));
}

/// <summary>
/// The export register (docs/exports.md): the one road out of the system for a file with students in it. Before a file is
/// made it asks <see cref="ExportPolicy"/>; a bulk export takes an approved request (taken once, by its requester, within
/// its window); the producer is handed the watermark to write into the file; what left is recorded (<c>export.file</c>:
/// who, when, why, rows, fields, form, sha256) with its audit entry, in one transaction with the request's taking, so a
/// file that failed to be made leaves the request as it was. Requests are approved by a second data-team account: the
/// requester never approves its own (checked here and by the table's constraint).
/// </summary>
public sealed class ExportRegister(NpgsqlDataSource dataSource, ExportSettings? settings = null)
{
    /// <summary>The longest purpose or note (characters).</summary>
    public const int MaxPurpose = 500;

    private const string FileColumns = """
        f.export_id, f.kind, f.form, f.scope, f.round_id, rd.code, f.purpose, f.taken_by, f.taken_at, f.taken_from, f.file_name, f.rows,
        f.fields, f.sha256, f.bytes, f.request_id, q.requested_by, q.decided_by
        """;

    private const string FileFrom = """
        export.file f LEFT JOIN export.request q ON q.request_id = f.request_id LEFT JOIN registry.round rd ON rd.round_id = f.round_id
        """;

    private const string RequestColumns = """
        q.request_id, q.kind, q.form, q.scope, q.round_id, rd.code, q.purpose, q.requested_by, q.requested_at,
        CASE WHEN q.decision IS NULL THEN 'waiting' WHEN q.decision = 'refused' THEN 'refused' WHEN q.taken_at IS NOT NULL THEN 'taken'
             WHEN q.expires_at <= now() THEN 'expired' ELSE 'approved' END,
        q.decided_by, q.decided_at, q.decision_note, q.expires_at, q.taken_at, q.export_id
        """;

    private readonly ExportSettings settings = settings ?? new ExportSettings();

    /// <summary>
    /// Whether this register's database is a practice one (docs/training.md): every file it lets out is then watermarked
    /// <see cref="Watermark.Practice"/>, and the changes for the registry never leave it (<c>Practice.NoRegistryChanges</c>).
    /// Read at each export (one row): nothing cached can be wrong after a failed read or a practice round's reset.
    /// </summary>
    public async Task<bool> IsPracticeAsync(CancellationToken cancellationToken = default) =>
        await StudentDataQuality.Data.Training.Practice.FindAsync(dataSource, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>A practice round's corrections never go to the registry: the changes are refused (and the refusal audited) in a practice database.</summary>
    private async Task RefuseInPracticeAsync(Account actor, ExportKind kind, ExportForm form, ExportScope scope, int? roundId, string from,
        CancellationToken cancellationToken)
    {
        if (kind == ExportKind.Changes && await IsPracticeAsync(cancellationToken))
        {
            await RefuseAsync(actor, kind, form, scope, roundId, "practice", from, new UserMessage("Practice.NoRegistryChanges"), cancellationToken);
        }
    }

    /// <summary>The purpose written for a routine export (no request) when none is given: the kind's everyday use.</summary>
    public static string RoutinePurpose(ExportKind kind) => kind switch
    {
        ExportKind.Worksheet => "worksheet: the school fixes its problems",
        ExportKind.Receipt => "receipt: what a return did",
        ExportKind.Lineage => "lineage: where a student's values came from",
        ExportKind.Changes => "changes for the registry",
        ExportKind.ProblemList => "problem list: following the schools",
        ExportKind.ConfirmationSheets => "confirmation sheets for the parents",
        ExportKind.ClassAnswers => "class answer workbook: the parents' answers",
        ExportKind.TrendTable => "trend table",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// Decides, makes and records one export. <paramref name="produce"/> is called with the watermark (after the policy and
    /// the request allowed it) and makes the file; its bytes (or the file at its path) are hashed and recorded.
    /// </summary>
    /// <exception cref="UserErrorException">Refused by the policy (<c>Exports.NotAllowed</c>), a request needed
    /// (<c>Exports.RequestNeeded</c>, saying how to ask), or the request not the taker's, not approved, taken, expired, or
    /// for another export (<c>Exports.Request*</c>).</exception>
    public async Task<ExportedFile> TakeAsync(Account taker, ExportOrder order, string from,
        Func<Watermark, CancellationToken, Task<ExportContent>> produce, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(taker);
        ArgumentNullException.ThrowIfNull(order);
        ArgumentNullException.ThrowIfNull(produce);
        await RefuseInPracticeAsync(taker, order.Kind, order.Form, order.Scope, order.RoundId, from, cancellationToken);
        var decision = ExportPolicy.Decide(taker.Role, order.Kind, order.Form, order.Scope);
        if (decision == ExportDecision.Refused)
        {
            await RefuseAsync(taker, order.Kind, order.Form, order.Scope, order.RoundId, "policy", from,
                new UserMessage("Exports.NotAllowed", KindLabel(order.Kind), FormLabel(order.Form)), cancellationToken);
        }

        if (!ExportPolicy.ScopeFits(order.Kind, order.Scope))
        {
            throw new UserErrorException(new UserMessage("Exports.ScopeNotForKind", KindLabel(order.Kind), order.Scope.Text));
        }

        if (decision == ExportDecision.NeedsRequest && order.RequestId is null)
        {
            await RefuseAsync(taker, order.Kind, order.Form, order.Scope, order.RoundId, "request needed", from,
                new UserMessage("Exports.RequestNeeded", KindLabel(order.Kind), FormLabel(order.Form), order.Scope.Text), cancellationToken);
        }

        var purpose = Clean(order.Purpose);
        if (purpose.Length > MaxPurpose)
        {
            throw new UserErrorException(new UserMessage("Exports.PurposeTooLong", MaxPurpose));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (order.RequestId is { } requestId)
        {
            var refusal = await TakeRequestAsync(connection, taker, order, requestId, cancellationToken);
            if (refusal.Message is not null)
            {
                await transaction.RollbackAsync(cancellationToken);
                await RefuseAsync(taker, order.Kind, order.Form, order.Scope, order.RoundId, refusal.Reason!, from, refusal.Message, cancellationToken);
            }

            purpose = refusal.Purpose!;
        }
        else if (purpose.Length == 0)
        {
            purpose = RoutinePurpose(order.Kind);
        }

        DateTimeOffset takenAt;
        await using (var now = new NpgsqlCommand("SELECT now()", connection, transaction))
        {
            takenAt = new DateTimeOffset(DateTime.SpecifyKind((DateTime)(await now.ExecuteScalarAsync(cancellationToken))!, DateTimeKind.Utc));
        }

        var watermark = new Watermark(ExportId.New(), taker.Name, takenAt, purpose, order.Kind, order.Form) { Practice = await IsPracticeAsync(cancellationToken) };
        var content = await produce(watermark, cancellationToken);
        ArgumentNullException.ThrowIfNull(content);
        var (sha256, length) = await HashAsync(content, cancellationToken);

        await using (var insert = new NpgsqlCommand("""
            INSERT INTO export.file (export_id, kind, form, scope, round_id, purpose, request_id, taken_by, taken_at, taken_from, file_name,
                                     rows, fields, sha256, bytes)
            VALUES (@id, @kind, @form, @scope, @round, @purpose, @request, @by, @at, @from, @file, @rows, @fields, @sha, @bytes)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", watermark.ExportId);
            insert.Parameters.AddWithValue("kind", ExportKinds.Name(order.Kind));
            insert.Parameters.AddWithValue("form", ExportKinds.Name(order.Form));
            insert.Parameters.AddWithValue("scope", order.Scope.Text);
            insert.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)order.RoundId ?? DBNull.Value });
            insert.Parameters.AddWithValue("purpose", purpose);
            insert.Parameters.Add(new NpgsqlParameter("request", NpgsqlDbType.Bigint) { Value = (object?)order.RequestId ?? DBNull.Value });
            insert.Parameters.AddWithValue("by", taker.Name);
            insert.Parameters.AddWithValue("at", takenAt);
            insert.Parameters.AddWithValue("from", from);
            insert.Parameters.AddWithValue("file", FileName(content.FileName));
            insert.Parameters.AddWithValue("rows", content.Rows);
            insert.Parameters.AddWithValue("fields", content.Fields.ToArray());
            insert.Parameters.AddWithValue("sha", sha256);
            insert.Parameters.AddWithValue("bytes", length);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        if (content.Parts is { Count: > 0 } parts)
        {
            await using var insertParts = new NpgsqlCommand("""
                INSERT INTO export.file_part (export_id, file_name, sha256)
                SELECT @id, name, lower(sha) FROM unnest(@names::text[], @shas::text[]) AS p(name, sha)
                """, connection, transaction);
            insertParts.Parameters.AddWithValue("id", watermark.ExportId);
            insertParts.Parameters.AddWithValue("names", parts.Select(p => FileName(p.FileName)).ToArray());
            insertParts.Parameters.AddWithValue("shas", parts.Select(p => p.Sha256).ToArray());
            await insertParts.ExecuteNonQueryAsync(cancellationToken);
        }

        if (order.RequestId is { } taken)
        {
            await using var spend = new NpgsqlCommand(
                "UPDATE export.request SET taken_at = @at, export_id = @id WHERE request_id = @request AND taken_at IS NULL", connection, transaction);
            spend.Parameters.AddWithValue("at", takenAt);
            spend.Parameters.AddWithValue("id", watermark.ExportId);
            spend.Parameters.AddWithValue("request", taken);
            if (await spend.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                throw new InvalidOperationException($"Export request {taken} was locked for this take and yet could not be spent.");
            }
        }

        await AuditLog.WriteAsync(connection, taker.Name, "export.take", order.RoundId, SchoolOf(order.Scope), watermark.ExportId,
            new
            {
                kind = ExportKinds.Name(order.Kind), form = ExportKinds.Name(order.Form), scope = order.Scope.Text, request = order.RequestId,
                rows = content.Rows, sha256, bytes = length, from,
            }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new ExportedFile(watermark, content.FileName, sha256, content.Bytes, content.FilePath);
    }

    /// <summary>Asks for an export (audited <c>export.request</c>). Refused when the policy would never allow it to the requester.</summary>
    public async Task<ExportRequest> RequestAsync(Account requester, ExportRequestDraft draft, string from, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requester);
        ArgumentNullException.ThrowIfNull(draft);
        await RefuseInPracticeAsync(requester, draft.Kind, draft.Form, draft.Scope, draft.RoundId, from, cancellationToken);
        var decision = ExportPolicy.Decide(requester.Role, draft.Kind, draft.Form, draft.Scope);
        if (decision == ExportDecision.Refused)
        {
            await RefuseAsync(requester, draft.Kind, draft.Form, draft.Scope, draft.RoundId, "policy", from,
                new UserMessage("Exports.NotAllowed", KindLabel(draft.Kind), FormLabel(draft.Form)), cancellationToken);
        }

        if (!ExportPolicy.ScopeFits(draft.Kind, draft.Scope))
        {
            throw new UserErrorException(new UserMessage("Exports.ScopeNotForKind", KindLabel(draft.Kind), draft.Scope.Text));
        }

        if (decision == ExportDecision.Allowed)
        {
            throw new UserErrorException(new UserMessage("Exports.RequestNotNeeded", KindLabel(draft.Kind), FormLabel(draft.Form)));
        }

        var purpose = Clean(draft.Purpose);
        if (purpose.Length == 0)
        {
            throw new UserErrorException(new UserMessage("Exports.PurposeRequired"));
        }

        if (purpose.Length > MaxPurpose)
        {
            throw new UserErrorException(new UserMessage("Exports.PurposeTooLong", MaxPurpose));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await CoversAsync(connection, requester, draft.Scope, cancellationToken))
        {
            throw new OutOfScopeException("export scope", draft.Scope.Text, roundId: draft.RoundId);
        }

        if (draft.RoundId is { } round && await new NpgsqlCommand("SELECT 1 FROM registry.round WHERE round_id = @round", connection)
                { Parameters = { new NpgsqlParameter("round", round) } }.ExecuteScalarAsync(cancellationToken) is null)
        {
            throw new UserErrorException(new UserMessage("Exports.RoundNotFound", round));
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO export.request (kind, form, scope, round_id, purpose, requested_by, requested_from)
            VALUES (@kind, @form, @scope, @round, @purpose, @by, @from) RETURNING request_id
            """, connection, transaction);
        insert.Parameters.AddWithValue("kind", ExportKinds.Name(draft.Kind));
        insert.Parameters.AddWithValue("form", ExportKinds.Name(draft.Form));
        insert.Parameters.AddWithValue("scope", draft.Scope.Text);
        insert.Parameters.Add(new NpgsqlParameter("round", NpgsqlDbType.Integer) { Value = (object?)draft.RoundId ?? DBNull.Value });
        insert.Parameters.AddWithValue("purpose", purpose);
        insert.Parameters.AddWithValue("by", requester.Name);
        insert.Parameters.AddWithValue("from", from);
        var requestId = (long)(await insert.ExecuteScalarAsync(cancellationToken))!;
        await AuditLog.WriteAsync(connection, requester.Name, "export.request", draft.RoundId, SchoolOf(draft.Scope), Id(requestId),
            new { kind = ExportKinds.Name(draft.Kind), form = ExportKinds.Name(draft.Form), scope = draft.Scope.Text, from }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return await ReadRequestAsync(connection, requestId, cancellationToken)
            ?? throw new InvalidOperationException("The request just written cannot be read back.");
    }

    /// <summary>
    /// Approves or refuses a waiting request (audited <c>export.approve</c> / <c>export.refuse</c>): only a data-team account,
    /// never the requester (<c>Exports.OwnRequest</c>). An approved request may be taken until now + the window.
    /// </summary>
    public async Task<ExportRequest> DecideAsync(Account approver, long requestId, bool approve, string? note, string from,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approver);
        if (!ExportPolicy.MayApprove(approver.Role))
        {
            throw new UserErrorException(new UserMessage("Exports.ApproverNotTeam", approver.Name));
        }

        var cleanNote = Clean(note);
        if (cleanNote.Length > MaxPurpose)
        {
            throw new UserErrorException(new UserMessage("Exports.NoteTooLong", MaxPurpose));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string requestedBy;
        bool decided;
        await using (var read = new NpgsqlCommand(
            "SELECT requested_by, decision IS NOT NULL FROM export.request WHERE request_id = @id FOR UPDATE", connection, transaction))
        {
            read.Parameters.AddWithValue("id", requestId);
            await using var row = await read.ExecuteReaderAsync(cancellationToken);
            if (!await row.ReadAsync(cancellationToken))
            {
                throw new UserErrorException(new UserMessage("Exports.RequestNotFound", requestId));
            }

            (requestedBy, decided) = (row.GetString(0), row.GetBoolean(1));
        }

        if (string.Equals(requestedBy, approver.Name, StringComparison.Ordinal))
        {
            await transaction.RollbackAsync(cancellationToken);
            await AuditLog.WriteAsync(connection, approver.Name, "export.refused", null, null, Id(requestId),
                new { reason = "own request", decision = approve ? "approve" : "refuse", from }, cancellationToken);
            throw new UserErrorException(new UserMessage("Exports.OwnRequest", requestId));
        }

        if (!ExportPolicy.SameChannel(requestedBy, approver.Name))
        {
            await transaction.RollbackAsync(cancellationToken);
            await AuditLog.WriteAsync(connection, approver.Name, "export.refused", null, null, Id(requestId),
                new { reason = "other channel", decision = approve ? "approve" : "refuse", from }, cancellationToken);
            throw new UserErrorException(new UserMessage(ExportPolicy.IsCommandLine(requestedBy) ? "Exports.DecideAtCommandLine" : "Exports.DecideInConsole",
                requestId, requestedBy));
        }

        if (decided)
        {
            throw new UserErrorException(new UserMessage("Exports.RequestDecided", requestId));
        }

        await using (var update = new NpgsqlCommand("""
            UPDATE export.request
            SET    decision = @decision, decided_by = @by, decided_at = now(), decision_note = @note,
                   expires_at = CASE WHEN @decision = 'approved' THEN now() + @window END
            WHERE  request_id = @id
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("decision", approve ? "approved" : "refused");
            update.Parameters.AddWithValue("by", approver.Name);
            update.Parameters.Add(new NpgsqlParameter("note", NpgsqlDbType.Text) { Value = cleanNote.Length == 0 ? DBNull.Value : cleanNote });
            update.Parameters.AddWithValue("window", settings.TakeWithin);
            update.Parameters.AddWithValue("id", requestId);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.WriteAsync(connection, approver.Name, approve ? "export.approve" : "export.refuse", null, null, Id(requestId),
            new { requested_by = requestedBy, note = cleanNote.Length > 0, from }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (await ReadRequestAsync(connection, requestId, cancellationToken))!;
    }

    /// <summary>One request: the data team sees every request, anyone else its own (else <see cref="OutOfScopeException"/>).</summary>
    public async Task<ExportRequest> RequestAsync(Account reader, long requestId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var request = await ReadRequestAsync(connection, requestId, cancellationToken);
        return request is not null && (reader.Role == AccountRole.DataTeam || request.RequestedBy == reader.Name)
            ? request
            : throw new OutOfScopeException("export request", Id(requestId));
    }

    /// <summary>Requests, the newest first: the data team sees every request, anyone else its own.</summary>
    public async Task<IReadOnlyList<ExportRequest>> RequestsAsync(Account reader, int limit = 200, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var command = dataSource.CreateCommand($"""
            SELECT {RequestColumns} FROM export.request q LEFT JOIN registry.round rd ON rd.round_id = q.round_id
            WHERE  @all OR q.requested_by = @reader
            ORDER  BY q.request_id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("all", reader.Role == AccountRole.DataTeam);
        command.Parameters.AddWithValue("reader", reader.Name);
        command.Parameters.AddWithValue("limit", limit);
        var requests = new List<ExportRequest>();
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            requests.Add(RequestOf(row));
        }

        return requests;
    }

    /// <summary>The register: every file that left, the newest first (the data team only; audited <c>export.register.read</c>).</summary>
    public async Task<ExportRegisterPage> ListAsync(Account reader, ExportQuery query, int offset, int limit, string from,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        if (reader.Role != AccountRole.DataTeam)
        {
            throw new OutOfScopeException("export register", (string?)null);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT {FileColumns} FROM {FileFrom}
            WHERE  (@by::text IS NULL OR f.taken_by = @by) AND (@kind::text IS NULL OR f.kind = @kind) AND (@form::text IS NULL OR f.form = @form)
              AND  (@from::date IS NULL OR f.taken_at >= (@from::date::timestamp AT TIME ZONE 'Asia/Shanghai'))
              AND  (@to::date IS NULL OR f.taken_at < ((@to::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))
            ORDER  BY f.taken_at DESC, f.export_id
            LIMIT  @limit OFFSET @offset
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Text) { Value = (object?)Blank(query.TakenBy) ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("kind", NpgsqlDbType.Text) { Value = query.Kind is { } k ? ExportKinds.Name(k) : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("form", NpgsqlDbType.Text) { Value = query.Form is { } f ? ExportKinds.Name(f) : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.Date) { Value = (object?)query.From ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.Date) { Value = (object?)query.To ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit + 1);
        command.Parameters.AddWithValue("offset", offset);
        var files = new List<ExportRecord>();
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await row.ReadAsync(cancellationToken))
            {
                files.Add(RecordOf(row));
            }
        }

        var more = files.Count > limit;
        if (more)
        {
            files.RemoveAt(files.Count - 1);
        }

        await AuditLog.WriteAsync(connection, reader.Name, "export.register.read", null, null, null,
            new { rows = files.Count, offset, from }, cancellationToken);
        return new ExportRegisterPage(files, more);
    }

    /// <summary>
    /// The record of a found file: by the sha256 of its bytes (an export's file, or a file inside one), else by the export id
    /// its watermark carries (<see cref="ExportRecord.FoundBy"/> says which; a watermark naming another record than the bytes
    /// is the caller's to flag). Null: no export had these bytes nor that id. The data team only; audited <c>export.identify</c>.
    /// </summary>
    public async Task<ExportRecord?> IdentifyAsync(Account reader, string? exportId, string sha256, string from,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(sha256);
        if (reader.Role != AccountRole.DataTeam)
        {
            throw new OutOfScopeException("export register", (string?)null);
        }

        var id = ExportId.Normalise(exportId);
        var sha = sha256.Trim().ToLowerInvariant();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // The bytes first (the file itself, or a part of it that travelled alone): a watermark can be copied into another
        // file, its bytes cannot. The watermark's id only when no export had these bytes.
        await using var command = new NpgsqlCommand($"""
            SELECT {FileColumns}, m.how FROM (
                SELECT f2.export_id, 1 AS rank, 'sha256' AS how FROM export.file f2 WHERE f2.sha256 = @sha
                UNION ALL SELECT p.export_id, 2, 'part' FROM export.file_part p WHERE p.sha256 = @sha
                UNION ALL SELECT f3.export_id, 3, 'watermark' FROM export.file f3 WHERE f3.export_id = @id) m
            JOIN {FileFrom} ON f.export_id = m.export_id
            ORDER  BY m.rank, f.taken_at DESC LIMIT 1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Text) { Value = (object?)id ?? DBNull.Value });
        command.Parameters.AddWithValue("sha", sha);
        ExportRecord? found = null;
        string? how = null;
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await row.ReadAsync(cancellationToken))
            {
                found = RecordOf(row) with { FoundBy = row.GetString(18) };
                how = found.FoundBy;
            }
        }

        await AuditLog.WriteAsync(connection, reader.Name, "export.identify", found?.RoundId, null, found?.ExportId,
            new { found = found is not null, by = how, sha256 = sha, watermark = id, from }, cancellationToken);
        return found;
    }

    /// <summary>The request's purpose when it may be taken now by this taker for this order; else why not (nothing changed).</summary>
    private static async Task<(string? Purpose, string? Reason, UserMessage? Message)> TakeRequestAsync(NpgsqlConnection connection, Account taker,
        ExportOrder order, long requestId, CancellationToken cancellationToken)
    {
        await using var read = new NpgsqlCommand("""
            SELECT requested_by, kind, form, scope, round_id, purpose, decision, taken_at IS NOT NULL, expires_at <= now()
            FROM   export.request WHERE request_id = @id FOR UPDATE
            """, connection);
        read.Parameters.AddWithValue("id", requestId);
        await using var row = await read.ExecuteReaderAsync(cancellationToken);
        if (!await row.ReadAsync(cancellationToken) || row.GetString(0) != taker.Name)
        {
            // Another's request reads as one that does not exist.
            return (null, "request not found", new UserMessage("Exports.RequestNotFound", requestId));
        }

        var sameExport = row.GetString(1) == ExportKinds.Name(order.Kind) && row.GetString(2) == ExportKinds.Name(order.Form)
            && row.GetString(3) == order.Scope.Text && (row.IsDBNull(4) ? null : (int?)row.GetInt32(4)) == order.RoundId;
        var decision = row.IsDBNull(6) ? null : row.GetString(6);
        return decision switch
        {
            null => (null, "request waiting", new UserMessage("Exports.RequestWaiting", requestId)),
            "refused" => (null, "request refused", new UserMessage("Exports.RequestRefused", requestId)),
            _ when row.GetBoolean(7) => (null, "request taken", new UserMessage("Exports.RequestTaken", requestId)),
            _ when row.GetBoolean(8) => (null, "request expired", new UserMessage("Exports.RequestExpired", requestId)),
            _ when !sameExport => (null, "request for another export", new UserMessage("Exports.RequestOtherExport", requestId, row.GetString(3))),
            _ => (row.GetString(5), null, null),
        };
    }

    /// <summary>Whether an account may ask for a file of this scope: the data team any; a district its own; a school's by may_act_for.</summary>
    private static async Task<bool> CoversAsync(NpgsqlConnection connection, Account account, ExportScope scope, CancellationToken cancellationToken)
    {
        if (account.Role == AccountRole.DataTeam)
        {
            return true;
        }

        var text = scope.Text;
        if (text.StartsWith("district:", StringComparison.Ordinal))
        {
            return account.Role == AccountRole.District && account.DistrictCode == text["district:".Length..];
        }

        var school = SchoolOf(scope);
        if (school is null)
        {
            return false;
        }

        await using var command = new NpgsqlCommand("SELECT access.may_act_for(@role, @own_school, @own_district, @school)", connection);
        command.Parameters.AddWithValue("role", Account.RoleText(account.Role));
        command.Parameters.Add(new NpgsqlParameter("own_school", NpgsqlDbType.Text) { Value = (object?)account.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("own_district", NpgsqlDbType.Text) { Value = (object?)account.DistrictCode ?? DBNull.Value });
        command.Parameters.AddWithValue("school", school);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Puts a refusal on record (<c>export.refused</c>, on its own connection) and throws it to the caller.</summary>
    private async Task RefuseAsync(Account actor, ExportKind kind, ExportForm form, ExportScope scope, int? roundId, string reason, string from,
        UserMessage message, CancellationToken cancellationToken)
    {
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            await AuditLog.WriteAsync(connection, actor.Name, "export.refused", roundId, SchoolOf(scope), scope.Text,
                new { kind = ExportKinds.Name(kind), form = ExportKinds.Name(form), reason, from }, cancellationToken);
        }

        throw new UserErrorException(message);
    }

    private static async Task<ExportRequest?> ReadRequestAsync(NpgsqlConnection connection, long requestId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT {RequestColumns} FROM export.request q LEFT JOIN registry.round rd ON rd.round_id = q.round_id WHERE q.request_id = @id
            """, connection);
        command.Parameters.AddWithValue("id", requestId);
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        return await row.ReadAsync(cancellationToken) ? RequestOf(row) : null;
    }

    private static ExportRequest RequestOf(NpgsqlDataReader r) => new(r.GetInt64(0), ExportKinds.ParseKind(r.GetString(1))!.Value,
        ExportKinds.ParseForm(r.GetString(2))!.Value, r.GetString(3), Int(r, 4), Text(r, 5), r.GetString(6), r.GetString(7),
        r.GetFieldValue<DateTimeOffset>(8), Enum.Parse<ExportRequestStatus>(r.GetString(9), ignoreCase: true), Text(r, 10), Time(r, 11), Text(r, 12),
        Time(r, 13), Time(r, 14), Text(r, 15));

    private static ExportRecord RecordOf(NpgsqlDataReader r) => new(r.GetString(0), ExportKinds.ParseKind(r.GetString(1))!.Value,
        ExportKinds.ParseForm(r.GetString(2))!.Value, r.GetString(3), Int(r, 4), Text(r, 5), r.GetString(6), r.GetString(7),
        r.GetFieldValue<DateTimeOffset>(8), Text(r, 9), r.GetString(10), r.GetInt32(11), r.GetFieldValue<string[]>(12), r.GetString(13),
        r.GetInt64(14), r.IsDBNull(15) ? null : r.GetInt64(15), Text(r, 16), Text(r, 17));

    private static async Task<(string Sha256, long Length)> HashAsync(ExportContent content, CancellationToken cancellationToken)
    {
        if (content.Bytes is { } bytes)
        {
            return (Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.LongLength);
        }

        if (content.FilePath is null)
        {
            throw new ArgumentException("An export's content is its bytes or the path of the file written.", nameof(content));
        }

        await using var file = File.OpenRead(content.FilePath);
        return (Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken)), file.Length);
    }

    /// <summary>The school a scope names (a school or one of its classes), for the audit entry's school column.</summary>
    private static string? SchoolOf(ExportScope scope) => scope.Text switch
    {
        var s when s.StartsWith("school:", StringComparison.Ordinal) => s["school:".Length..],
        var s when s.StartsWith("class:", StringComparison.Ordinal) => s["class:".Length..].Split('/')[0],
        _ => null,
    };

    /// <summary>The kind's name in the reader's language, as a message argument.</summary>
    public static UserMessage KindLabel(ExportKind kind) => new("Exports.Kind." + ExportKinds.Name(kind));

    /// <summary>The form's name in the reader's language, as a message argument.</summary>
    public static UserMessage FormLabel(ExportForm form) => new("Exports.Form." + ExportKinds.Name(form));

    /// <summary>Text a person typed, trimmed, its control characters dropped (it goes into files' watermarks).</summary>
    private static string Clean(string? text) => string.Concat((text ?? "").Where(c => !char.IsControl(c))).Trim();

    private static string FileName(string name)
    {
        var clean = Clean(System.IO.Path.GetFileName(name));
        return clean.Length == 0 ? "export" : clean.Length > 255 ? clean[..255] : clean;
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    private static int? Int(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetInt32(at);

    private static string? Text(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetString(at);

    private static DateTimeOffset? Time(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? null : r.GetFieldValue<DateTimeOffset>(at);
}
