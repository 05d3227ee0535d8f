using Npgsql;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Data.Confirmations;

/// <summary>A round's confirmation campaign: open until <see cref="ClosesOn"/> (Beijing date, inclusive) unless closed.</summary>
public sealed record Campaign(string RoundCode, int RoundId, DateOnly ClosesOn, bool Open, DateTimeOffset OpenedAt, string OpenedBy);

/// <summary>One printing of one class's sheets: the sheets made, and the PDF (with its sha256) the renderer made of them.</summary>
public sealed record PrintResult(long PrintId, ClassKey Class, IReadOnlyList<ConfirmationSheet> Sheets, byte[] Pdf, string Sha256);

/// <summary>Where a student of a class stands in the campaign: no sheet, printed, answered unchanged or corrected (and changes waiting).</summary>
public enum StudentConfirmation
{
    NotPrinted,
    Printed,
    Unchanged,
    Corrected,
}

/// <summary>A student of a class as a class teacher or the registrar sees it in the campaign (the newest sheet only).</summary>
public sealed record ClassStudent(long RecordId, string? StudentNo, string? Name, ClassKey Class, string? SheetId, StudentConfirmation Status,
    int PendingChanges);

/// <summary>A sheet with what is known of it now: the values printed, the record's values now, and its answer if entered.</summary>
public sealed record SheetView(ConfirmationSheet Sheet, IReadOnlyDictionary<string, string?> CurrentValues, AnswerOutcome? Answer, DateOnly? SignedOn,
    string? EnteredBy, DateTimeOffset? EnteredAt);

/// <summary>A parent's change waiting for the registrar: the student, the field, the value printed, the record's value now, the value asked for.</summary>
public sealed record PendingChange(long ChangeId, string SheetId, long RecordId, string? StudentNo, string? StudentName, ClassKey Class, string Field,
    string? PrintedValue, string? CurrentValue, string NewValue, string WaitsBecause, DateOnly SignedOn, string EnteredBy, DateTimeOffset EnteredAt);

/// <summary>
/// Parents' confirmations (docs/confirmations.md): the round's campaign, printing sheets, a class's students, entering the
/// answers (all of a call or none), and the registrar's decisions on changes that wait. Every read of a student's data is
/// scoped by <c>access.may_read_student</c> (a read out of scope throws <see cref="OutOfScopeException"/>) and audited.
/// </summary>
public sealed class ConfirmationStore(NpgsqlDataSource dataSource, CheckOptions? checkOptions = null)
{
    private readonly NpgsqlDataSource _dataSource = dataSource;
    private readonly CheckOptions? _checkOptions = checkOptions;

    /// <summary>Opens (or extends) a round's campaign until <paramref name="closesOn"/>, or the round's deadline, or 30 days from today. Data team only.</summary>
    public Task<Campaign> OpenCampaignAsync(string roundCode, DateOnly? closesOn, Account actor, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>Closes a round's campaign now: class teachers no longer see its students. Data team only.</summary>
    public Task CloseCampaignAsync(string roundCode, Account actor, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The round's campaign (open or not), or null when it never had one; the newest round when no code is given.</summary>
    public Task<Campaign?> CampaignAsync(string? roundCode, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The classes of a school in a round (grade, class name as the registry writes it), with their student counts.</summary>
    public Task<IReadOnlyList<(ClassKey Class, int Students)>> ClassesAsync(Account reader, string roundCode, string schoolCode,
        CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>A class teacher's classes (none for another role).</summary>
    public Task<IReadOnlyList<ClassKey>> TeacherClassesAsync(Account teacher, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>
    /// Prints one class's sheets: a new sheet for each student of the class (the record's current version), rendered by
    /// <paramref name="render"/> in the same transaction (nothing is kept when it throws), the PDF's sha256 kept; opens the
    /// round's campaign when none is open. The school's registrar, its district or the data team; audited as confirmation.print.
    /// </summary>
    public Task<PrintResult> PrintAsync(Account printer, string roundCode, string schoolCode, ClassKey onlyClass,
        Func<IReadOnlyList<ConfirmationSheet>, byte[]> render, bool english = false, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The students of a class with their newest sheet and its status; audited as confirmation.class.read.</summary>
    public Task<IReadOnlyList<ClassStudent>> ClassStudentsAsync(Account reader, string roundCode, string schoolCode, ClassKey onlyClass,
        CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The newest sheet of each student of a class (for the class answer workbook); audited as confirmation.class.read.</summary>
    public Task<IReadOnlyList<ConfirmationSheet>> ClassSheetsAsync(Account reader, string roundCode, string schoolCode, ClassKey onlyClass,
        CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>A sheet by its id as typed (any case, dashes or not); audited as confirmation.sheet.read.</summary>
    /// <exception cref="UserErrorException">Not a sheet id, or no such sheet.</exception>
    /// <exception cref="OutOfScopeException">The sheet's student is not the reader's.</exception>
    public Task<SheetView> SheetAsync(Account reader, string sheetId, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>
    /// Enters parents' answers, all or none: each sheet's answer (unchanged, or its corrected values), validated first (a sheet
    /// answered already with another answer, a field not on the sheet, a value too long or a control character, a signing
    /// date in the future or before the print: a user error naming the sheet, the Excel row when from a workbook, the field).
    /// Changes to identity fields, and to values the record no longer holds as printed, wait for the registrar; the others are
    /// applied as corrections (lineage: the sheet, the one who entered it, the date the parent signed) and re-checked. The
    /// same answer entered again is taken once. Audited as confirmation.answer, one entry per sheet.
    /// </summary>
    public Task<IReadOnlyList<AnswerOutcome>> AnswerAsync(Account enteredBy, IReadOnlyList<SheetAnswer> answers, AnswerFile? file = null,
        CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The changes of a school waiting for its registrar, oldest first.</summary>
    public Task<IReadOnlyList<PendingChange>> PendingAsync(Account registrar, string roundCode, string schoolCode, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>
    /// The registrar's decision on a change that waits: approved, it is applied as a correction (lineage names the registrar
    /// too) and re-checked; refused, it stays on record as refused. The school's account or the data team; audited as
    /// confirmation.change.approve / .refuse.
    /// </summary>
    public Task<AnsweredChange> DecideAsync(Account registrar, long changeId, bool approve, string? note, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();
}
