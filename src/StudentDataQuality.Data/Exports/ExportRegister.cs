using Npgsql;
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
public sealed record ExportContent(string FileName, int Rows, IReadOnlyList<string> Fields, byte[]? Bytes = null, string? FilePath = null);

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
    long? RequestId, string? RequestedBy, string? ApprovedBy);

/// <summary>What the register page and <c>sdq export list</c> filter on (each exact; none: all), dates inclusive, Beijing time.</summary>
public sealed record ExportQuery(string? TakenBy = null, ExportKind? Kind = null, ExportForm? Form = null, DateOnly? From = null, DateOnly? To = null);

/// <summary>One page of the register, the newest first.</summary>
public sealed record ExportRegisterPage(IReadOnlyList<ExportRecord> Files, bool More);

/// <summary>Settings: how long an approved request may be taken (default 24 hours).</summary>
public sealed record ExportSettings(TimeSpan? Window = null)
{
    public static TimeSpan DefaultWindow { get; } = TimeSpan.FromHours(24);

    public TimeSpan TakeWithin => Window ?? DefaultWindow;
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
    private readonly ExportSettings settings = settings ?? new ExportSettings();

    private readonly NpgsqlDataSource dataSource = dataSource;

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
    public Task<ExportedFile> TakeAsync(Account taker, ExportOrder order, string from,
        Func<Watermark, CancellationToken, Task<ExportContent>> produce, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>Asks for an export (audited <c>export.request</c>). Refused when the policy would never allow it to the requester.</summary>
    public Task<ExportRequest> RequestAsync(Account requester, ExportRequestDraft draft, string from, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>
    /// Approves or refuses a waiting request (audited <c>export.approve</c> / <c>export.refuse</c>): only a data-team account,
    /// never the requester (<c>Exports.OwnRequest</c>). An approved request may be taken until now + the window.
    /// </summary>
    public Task<ExportRequest> DecideAsync(Account approver, long requestId, bool approve, string? note, string from,
        CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>One request: the data team sees every request, anyone else its own (else <see cref="OutOfScopeException"/>).</summary>
    public Task<ExportRequest> RequestAsync(Account reader, long requestId, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>Requests, the newest first: the data team sees every request, anyone else its own.</summary>
    public Task<IReadOnlyList<ExportRequest>> RequestsAsync(Account reader, int limit = 200, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The register: every file that left, the newest first (the data team only; audited <c>export.register.read</c>).</summary>
    public Task<ExportRegisterPage> ListAsync(Account reader, ExportQuery query, int offset, int limit, string from,
        CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>
    /// The record of a found file: by its watermark's export id when the file still carries one, else by the sha256 of its
    /// bytes (null: no export had these bytes). The data team only; audited <c>export.identify</c>.
    /// </summary>
    public Task<ExportRecord?> IdentifyAsync(Account reader, string? exportId, string sha256, string from,
        CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
