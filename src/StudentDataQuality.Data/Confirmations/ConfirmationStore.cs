using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;

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
    /// <summary>How long a campaign opened without a closing date stays open when the round has no deadline ahead.</summary>
    public const int DefaultCampaignDays = 30;

    private const int MaxNoteLength = 500;
    private static readonly string FieldColumns = string.Join(", ", ConfirmationFields.All.Select(f => "r." + f + "_raw"));

    /// <summary>Opens (or extends) a round's campaign until <paramref name="closesOn"/>, or the round's deadline, or 30 days from today. Data team only.</summary>
    public async Task<Campaign> OpenCampaignAsync(string roundCode, DateOnly? closesOn, Account actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        RequireDataTeam(actor, "campaign", roundCode);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        var today = await TodayAsync(connection, cancellationToken);
        if (closesOn is { } asked && asked < today)
        {
            throw new UserErrorException(new UserMessage("Confirmation.ClosesInPast", asked.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
        }

        await using (var command = new NpgsqlCommand("""
            INSERT INTO confirm.campaign (round_id, opened_by, closes_on)
            VALUES (@round, @actor, coalesce(@closes, (SELECT CASE WHEN rr.deadline >= @today THEN rr.deadline END FROM registry.round_run rr WHERE rr.round_id = @round),
                                         @today + @days))
            ON CONFLICT (round_id) DO UPDATE SET closes_on = excluded.closes_on, closed_at = NULL, closed_by = NULL
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("actor", actor.Name);
            command.Parameters.Add(new NpgsqlParameter("closes", NpgsqlDbType.Date) { Value = closesOn is { } c ? c : DBNull.Value });
            command.Parameters.AddWithValue("today", today);
            command.Parameters.AddWithValue("days", DefaultCampaignDays);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var campaign = (await ReadCampaignAsync(connection, round.Code, cancellationToken))!;
        await AuditLog.WriteAsync(connection, actor.Name, "confirmation.campaign.open", round.RoundId, null, round.Code,
            new { closes_on = campaign.ClosesOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return campaign;
    }

    /// <summary>Closes a round's campaign now: class teachers no longer see its students. Data team only.</summary>
    public async Task CloseCampaignAsync(string roundCode, Account actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        RequireDataTeam(actor, "campaign", roundCode);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await using (var command = new NpgsqlCommand(
            "UPDATE confirm.campaign SET closed_at = coalesce(closed_at, now()), closed_by = coalesce(closed_by, @actor) WHERE round_id = @round",
            connection, transaction))
        {
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("actor", actor.Name);
            if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                throw new UserErrorException(new UserMessage("Confirmation.NoCampaign", round.Code));
            }
        }

        await AuditLog.WriteAsync(connection, actor.Name, "confirmation.campaign.close", round.RoundId, null, round.Code, null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// The round's campaign (open or not), or null when it never had one. Without a round code: the open campaign (of the
    /// newest round, when several are open), else the newest round's campaign.
    /// </summary>
    public async Task<Campaign?> CampaignAsync(string? roundCode, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await ReadCampaignAsync(connection, roundCode, cancellationToken);
    }

    /// <summary>The classes of a school in a round (grade, class name as the registry writes it), with their student counts.</summary>
    public async Task<IReadOnlyList<(ClassKey Class, int Students)>> ClassesAsync(Account reader, string roundCode, string schoolCode,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await RequireSchoolAsync(connection, reader, "classes", schoolCode, round.RoundId, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT r.grade, r.class_name, count(*)::integer
            FROM   registry.record r
            WHERE  r.round_id = @round AND r.school_code = @school AND r.is_current AND NOT r.registration_removed
              AND  r.grade BETWEEN 1 AND 12 AND coalesce(r.class_name, '') <> ''
            GROUP  BY r.grade, r.class_name
            ORDER  BY r.grade, length(r.class_name), r.class_name
            """, connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.AddWithValue("school", schoolCode);
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        var classes = new List<(ClassKey, int)>();
        while (await rows.ReadAsync(cancellationToken))
        {
            classes.Add((new ClassKey(rows.GetInt16(0), rows.GetString(1)), rows.GetInt32(2)));
        }

        return classes;
    }

    /// <summary>A class teacher's classes (none for another role).</summary>
    public async Task<IReadOnlyList<ClassKey>> TeacherClassesAsync(Account teacher, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        if (teacher.Role != AccountRole.ClassTeacher)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand(
            "SELECT grade, class_name FROM access.account_class WHERE account = @account ORDER BY grade, length(class_name), class_name");
        command.Parameters.AddWithValue("account", teacher.Name);
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        var classes = new List<ClassKey>();
        while (await rows.ReadAsync(cancellationToken))
        {
            classes.Add(new ClassKey(rows.GetInt16(0), rows.GetString(1)));
        }

        return classes;
    }

    /// <summary>
    /// Prints one class's sheets: a new sheet for each student of the class (the record's current version), rendered by
    /// <paramref name="render"/> in the same transaction (nothing is kept when it throws), the PDF's sha256 kept; opens the
    /// round's campaign when it never had one (a closed campaign is refused: the data team opens it again). The school's
    /// registrar, its district or the data team; audited as confirmation.print.
    /// </summary>
    public async Task<PrintResult> PrintAsync(Account printer, string roundCode, string schoolCode, ClassKey onlyClass,
        Func<IReadOnlyList<ConfirmationSheet>, byte[]> render, bool english = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(printer);
        ArgumentNullException.ThrowIfNull(onlyClass);
        ArgumentNullException.ThrowIfNull(render);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await RequireSchoolAsync(connection, printer, "print", schoolCode, round.RoundId, cancellationToken);

        var campaign = await ReadCampaignAsync(connection, round.Code, cancellationToken);
        if (campaign is null)
        {
            await using var open = new NpgsqlCommand("""
                INSERT INTO confirm.campaign (round_id, opened_by, closes_on)
                SELECT @round, @actor, coalesce((SELECT CASE WHEN rr.deadline >= today THEN rr.deadline END FROM registry.round_run rr WHERE rr.round_id = @round),
                                                today + @days)
                FROM   (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date AS today) t
                ON CONFLICT (round_id) DO NOTHING
                """, connection, transaction);
            open.Parameters.AddWithValue("round", round.RoundId);
            open.Parameters.AddWithValue("actor", printer.Name);
            open.Parameters.AddWithValue("days", DefaultCampaignDays);
            await open.ExecuteNonQueryAsync(cancellationToken);
            await AuditLog.WriteAsync(connection, printer.Name, "confirmation.campaign.open", round.RoundId, schoolCode, round.Code,
                new { by = "print" }, cancellationToken);
        }
        else if (!campaign.Open)
        {
            throw new UserErrorException(new UserMessage("Confirmation.CampaignClosed", round.Code,
                campaign.ClosesOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
        }

        var students = new List<(long RecordId, int Version, string? StudentNo, string SchoolName, List<SheetValue> Values)>();
        await using (var command = new NpgsqlCommand($"""
            SELECT r.record_id, r.version, r.student_no_raw,
                   coalesce((SELECT btrim(s.school_name_raw) FROM registry.school s WHERE s.school_code = r.school_code AND s.school_name_raw IS NOT NULL
                             ORDER BY s.round_id DESC LIMIT 1), r.school_name, r.school_code),
                   {FieldColumns}
            FROM   registry.record r
            WHERE  r.round_id = @round AND r.school_code = @school AND r.is_current AND NOT r.registration_removed
              AND  r.grade = @grade AND r.class_name = @class
            ORDER  BY r.student_no_raw NULLS LAST, r.record_id
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("school", schoolCode);
            command.Parameters.AddWithValue("grade", (short)onlyClass.Grade);
            command.Parameters.AddWithValue("class", onlyClass.ClassName);
            await using var rows = await command.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                students.Add((rows.GetInt64(0), rows.GetInt32(1), Text(rows, 2), rows.GetString(3), ReadValues(rows, 4)));
            }
        }

        if (students.Count == 0)
        {
            throw new UserErrorException(new UserMessage("Confirmation.ClassEmpty", onlyClass.ToString(), schoolCode, round.Code));
        }

        long printId;
        DateTimeOffset printedAt;
        await using (var command = new NpgsqlCommand("""
            INSERT INTO confirm.print (round_id, school_code, grade, class_name, printed_by, sheets, language)
            VALUES (@round, @school, @grade, @class, @by, @sheets, @language) RETURNING print_id, printed_at
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("school", schoolCode);
            command.Parameters.AddWithValue("grade", (short)onlyClass.Grade);
            command.Parameters.AddWithValue("class", onlyClass.ClassName);
            command.Parameters.AddWithValue("by", printer.Name);
            command.Parameters.AddWithValue("sheets", students.Count);
            command.Parameters.AddWithValue("language", english ? "en" : "zh");
            await using var rows = await command.ExecuteReaderAsync(cancellationToken);
            await rows.ReadAsync(cancellationToken);
            printId = rows.GetInt64(0);
            printedAt = rows.GetFieldValue<DateTimeOffset>(1);
        }

        var sheets = students.Select(s => new ConfirmationSheet(SheetId.New(), round.Code, schoolCode, s.SchoolName, onlyClass, s.StudentNo, s.RecordId,
            s.Version, s.Values, printedAt)).ToList();
        await using (var command = new NpgsqlCommand("""
            INSERT INTO confirm.sheet (sheet_id, print_id, round_id, school_code, grade, class_name, record_id, record_version, printed_values)
            SELECT t.sheet_id, @print, @round, @school, @grade, @class, t.record_id, t.version, t.printed_values
            FROM   unnest(@ids, @records, @versions, @values) AS t(sheet_id, record_id, version, printed_values)
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("print", printId);
            command.Parameters.AddWithValue("round", round.RoundId);
            command.Parameters.AddWithValue("school", schoolCode);
            command.Parameters.AddWithValue("grade", (short)onlyClass.Grade);
            command.Parameters.AddWithValue("class", onlyClass.ClassName);
            command.Parameters.AddWithValue("ids", sheets.Select(s => s.SheetId).ToArray());
            command.Parameters.AddWithValue("records", sheets.Select(s => s.RecordId).ToArray());
            command.Parameters.AddWithValue("versions", sheets.Select(s => s.RecordVersion).ToArray());
            command.Parameters.Add(new NpgsqlParameter("values", NpgsqlDbType.Array | NpgsqlDbType.Jsonb)
                { Value = sheets.Select(s => JsonSerializer.Serialize(s.Values.ToDictionary(v => v.Field, v => v.Value))).ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var pdf = render(sheets);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(pdf));
        await using (var command = new NpgsqlCommand("UPDATE confirm.print SET sha256 = @sha WHERE print_id = @print", connection, transaction))
        {
            command.Parameters.AddWithValue("sha", sha256);
            command.Parameters.AddWithValue("print", printId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.WriteAsync(connection, printer.Name, "confirmation.print", round.RoundId, schoolCode, printId.ToString(CultureInfo.InvariantCulture),
            new { grade = onlyClass.Grade, class_name = onlyClass.ClassName, sheets = sheets.Count, sha256, bytes = pdf.Length }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new PrintResult(printId, onlyClass, sheets, pdf, sha256);
    }

    /// <summary>The students of a class with their newest sheet and its status; audited as confirmation.class.read.</summary>
    public async Task<IReadOnlyList<ClassStudent>> ClassStudentsAsync(Account reader, string roundCode, string schoolCode, ClassKey onlyClass,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(onlyClass);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await RequireClassAsync(connection, reader, schoolCode, onlyClass, round.RoundId, cancellationToken);
        await using var command = new NpgsqlCommand("""
            WITH students AS (
                SELECT r.record_id, r.student_no_raw, r.name
                FROM   registry.record r
                WHERE  r.round_id = @round AND r.school_code = @school AND r.is_current AND NOT r.registration_removed
                  AND  r.grade = @grade AND r.class_name = @class)
            SELECT st.record_id, st.student_no_raw, st.name,
                   (SELECT s.sheet_id FROM confirm.sheet s WHERE s.round_id = @round AND s.record_id = st.record_id ORDER BY s.print_id DESC LIMIT 1),
                   (SELECT a.outcome FROM confirm.answer a WHERE a.round_id = @round AND a.record_id = st.record_id
                    ORDER BY a.signed_on DESC, a.entered_at DESC, a.answer_id DESC LIMIT 1),
                   (SELECT count(*)::integer FROM confirm.change c WHERE c.round_id = @round AND c.record_id = st.record_id AND c.status = 'pending')
            FROM   students st
            ORDER  BY st.student_no_raw NULLS LAST, st.record_id
            """, connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.AddWithValue("school", schoolCode);
        command.Parameters.AddWithValue("grade", (short)onlyClass.Grade);
        command.Parameters.AddWithValue("class", onlyClass.ClassName);
        var students = new List<ClassStudent>();
        await using (var rows = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await rows.ReadAsync(cancellationToken))
            {
                var sheet = Text(rows, 3);
                var status = Text(rows, 4) switch
                {
                    "unchanged" => StudentConfirmation.Unchanged,
                    "corrected" => StudentConfirmation.Corrected,
                    _ => sheet is null ? StudentConfirmation.NotPrinted : StudentConfirmation.Printed,
                };
                students.Add(new ClassStudent(rows.GetInt64(0), Text(rows, 1), Text(rows, 2), onlyClass, sheet, status, rows.GetInt32(5)));
            }
        }

        await AuditLog.WriteAsync(connection, reader.Name, "confirmation.class.read", round.RoundId, schoolCode, onlyClass.ToString(),
            new { students = students.Count }, cancellationToken);
        return students;
    }

    /// <summary>The newest sheet of each student of a class (for the class answer workbook); audited as confirmation.class.read.</summary>
    public async Task<IReadOnlyList<ConfirmationSheet>> ClassSheetsAsync(Account reader, string roundCode, string schoolCode, ClassKey onlyClass,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(onlyClass);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await RequireClassAsync(connection, reader, schoolCode, onlyClass, round.RoundId, cancellationToken);
        var sheets = await ReadSheetsAsync(connection, """
            s.sheet_id IN (
                SELECT DISTINCT ON (x.record_id) x.sheet_id
                FROM   confirm.sheet x JOIN registry.record r ON r.round_id = x.round_id AND r.record_id = x.record_id AND r.is_current
                WHERE  x.round_id = @round AND r.school_code = @school AND r.grade = @grade AND r.class_name = @class AND NOT r.registration_removed
                ORDER  BY x.record_id, x.print_id DESC)
            """, c =>
        {
            c.Parameters.AddWithValue("round", round.RoundId);
            c.Parameters.AddWithValue("school", schoolCode);
            c.Parameters.AddWithValue("grade", (short)onlyClass.Grade);
            c.Parameters.AddWithValue("class", onlyClass.ClassName);
        }, reader, cancellationToken);
        await AuditLog.WriteAsync(connection, reader.Name, "confirmation.class.read", round.RoundId, schoolCode, onlyClass.ToString(),
            new { sheets = sheets.Count, workbook = true }, cancellationToken);
        return sheets.Select(s => s.Sheet).OrderBy(s => s.StudentNo, StringComparer.Ordinal).ThenBy(s => s.RecordId).ToList();
    }

    /// <summary>A sheet by its id as typed (any case, dashes or not); audited as confirmation.sheet.read.</summary>
    /// <exception cref="UserErrorException">Not a sheet id, or no such sheet.</exception>
    /// <exception cref="OutOfScopeException">The sheet's student is not the reader's.</exception>
    public async Task<SheetView> SheetAsync(Account reader, string sheetId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var id = SheetId.Normalise(sheetId) ?? throw new UserErrorException(new UserMessage("Confirmation.SheetIdInvalid", Shorten(sheetId)));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var found = await ReadSheetsAsync(connection, "s.sheet_id = @id", c => c.Parameters.AddWithValue("id", id), reader, cancellationToken);
        var row = found.Count == 1 ? found[0] : throw new UserErrorException(new UserMessage("Confirmation.SheetNotFound", SheetId.Format(id)));
        if (!row.InScope)
        {
            throw new OutOfScopeException("confirmation sheet", id, row.Sheet.SchoolCode, row.RoundId);
        }

        var current = await RecordVersions.CurrentAsync(connection, [row.RoundId], [row.Sheet.RecordId], cancellationToken);
        var values = current.TryGetValue(row.Sheet.RecordId, out var now)
            ? ConfirmationFields.All.ToDictionary(f => f, f => now.RawValues.GetValueOrDefault(f), StringComparer.Ordinal)
            : new Dictionary<string, string?>(StringComparer.Ordinal);
        var answer = await ReadAnswerAsync(connection, id, cancellationToken);
        await AuditLog.WriteAsync(connection, reader.Name, "confirmation.sheet.read", row.RoundId, row.Sheet.SchoolCode, id,
            new { record_id = row.Sheet.RecordId }, cancellationToken);
        return new SheetView(row.Sheet, values, answer?.Outcome, answer?.SignedOn, answer?.EnteredBy, answer?.EnteredAt);
    }

    /// <summary>
    /// Enters parents' answers, all or none: each sheet's answer (unchanged, or its corrected values), validated first (a sheet
    /// answered already with another answer, a field not on the sheet, a value too long or a control character, a signing
    /// date in the future or before the print: a user error naming the sheet, the Excel row when from a workbook, the field).
    /// A corrected value equal to the value printed is no correction. Changes to identity fields, and to values the record no
    /// longer holds as printed, wait for the registrar; the others are applied as corrections (lineage: the sheet, the one
    /// who entered it, the date the parent signed) and re-checked. The same answer entered again is taken once. Audited as
    /// confirmation.answer, one entry per sheet.
    /// </summary>
    public Task<IReadOnlyList<AnswerOutcome>> AnswerAsync(Account enteredBy, IReadOnlyList<SheetAnswer> answers, AnswerFile? file = null,
        CancellationToken cancellationToken = default) =>
        AtOnceAsync(() => EnterAnswersAsync(enteredBy, answers, file, cancellationToken));

    private async Task<IReadOnlyList<AnswerOutcome>> EnterAnswersAsync(Account enteredBy, IReadOnlyList<SheetAnswer> answers, AnswerFile? file,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(enteredBy);
        ArgumentNullException.ThrowIfNull(answers);
        if (answers.Count == 0)
        {
            return [];
        }

        // What was asked, cleaned and checked on its own first.
        var asked = new List<(string Id, SheetAnswer Answer, Dictionary<string, string> Corrections, UserMessage Where)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var answer in answers)
        {
            var where = Where(answer, file);
            var id = SheetId.Normalise(answer.SheetId) ?? throw new UserErrorException(new UserMessage("Confirmation.SheetIdInvalidAt", where));
            if (!seen.Add(id))
            {
                throw new UserErrorException(new UserMessage("Confirmation.SheetTwice", where));
            }

            var corrections = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (field, value) in answer.Corrections)
            {
                if (!ConfirmationFields.Contains(field))
                {
                    throw new UserErrorException(new UserMessage("Confirmation.FieldNotOnSheet", where, Shorten(field)));
                }

                var text = (value ?? "").Trim();
                if (text.Length == 0)
                {
                    continue;
                }

                var registryField = ConfirmationFields.Field(field);
                if (text.Any(char.IsControl))
                {
                    throw new UserErrorException(new UserMessage("Confirmation.ValueControl", where, Label(registryField)));
                }

                if (text.Length > registryField.MaxLength)
                {
                    throw new UserErrorException(new UserMessage("Confirmation.ValueTooLong", where, Label(registryField), registryField.MaxLength));
                }

                corrections[field] = text;
            }

            asked.Add((id, answer, corrections, where));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var today = await TodayAsync(connection, cancellationToken);
        var sheets = (await ReadSheetsAsync(connection, "s.sheet_id = ANY(@ids)", c => c.Parameters.AddWithValue("ids", asked.Select(a => a.Id).ToArray()),
            enteredBy, cancellationToken)).ToDictionary(s => s.Sheet.SheetId, StringComparer.Ordinal);
        var students = new HashSet<long>();
        foreach (var (id, answer, _, where) in asked)
        {
            if (!sheets.TryGetValue(id, out var sheet))
            {
                throw new UserErrorException(new UserMessage("Confirmation.SheetNotFoundAt", where));
            }

            if (!sheet.InScope)
            {
                throw new OutOfScopeException("confirmation sheet", id, sheet.Sheet.SchoolCode, sheet.RoundId);
            }

            if (!students.Add(sheet.Sheet.RecordId))
            {
                throw new UserErrorException(new UserMessage("Confirmation.StudentTwice", where));
            }

            if (answer.SignedOn > today)
            {
                throw new UserErrorException(new UserMessage("Confirmation.SignedInFuture", where, answer.SignedOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
            }

            if (answer.SignedOn < sheet.PrintedOn)
            {
                throw new UserErrorException(new UserMessage("Confirmation.SignedBeforePrint", where, answer.SignedOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    sheet.PrintedOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
            }
        }

        // Values equal to what was printed are no corrections; a sheet answered before is taken once when asked the same again.
        var outcomes = new Dictionary<string, AnswerOutcome>(StringComparer.Ordinal);
        var fresh = new List<(string Id, SheetAnswer Answer, Dictionary<string, string> Corrections, SheetRow Sheet)>();
        foreach (var (id, answer, corrections, where) in asked)
        {
            var sheet = sheets[id];
            foreach (var field in corrections.Keys.Where(f => string.Equals(corrections[f], sheet.Sheet[f]?.Trim(), StringComparison.Ordinal)).ToList())
            {
                corrections.Remove(field);
            }

            if (await ReadAnswerAsync(connection, id, cancellationToken) is { } earlier)
            {
                var same = earlier.SignedOn == answer.SignedOn && earlier.Outcome.Changes.Count == corrections.Count
                    && earlier.Outcome.Changes.All(c => corrections.TryGetValue(c.Field, out var v) && v == c.NewValue);
                outcomes[id] = same
                    ? earlier.Outcome
                    : throw new UserErrorException(new UserMessage("Confirmation.AnsweredAlready", where, earlier.EnteredBy,
                        earlier.EnteredAt.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
                continue;
            }

            fresh.Add((id, answer, corrections, sheet));
        }

        if (fresh.Count > 0)
        {
            var applied = await EnterAsync(connection, transaction, enteredBy, fresh.Select(f => (f.Id, f.Answer, f.Corrections, f.Sheet)).ToList(), file,
                cancellationToken);
            foreach (var (id, outcome) in applied)
            {
                outcomes[id] = outcome;
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return asked.Select(a => outcomes[a.Id]).ToList();
    }

    /// <summary>The changes of a school waiting for its registrar, oldest first.</summary>
    public async Task<IReadOnlyList<PendingChange>> PendingAsync(Account registrar, string roundCode, string schoolCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registrar);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var round = await RoundAsync(connection, roundCode, cancellationToken);
        await RequireSchoolAsync(connection, registrar, "confirmation changes", schoolCode, round.RoundId, cancellationToken);
        var changes = await ReadPendingAsync(connection, "c.round_id = @round AND r.school_code = @school", c =>
        {
            c.Parameters.AddWithValue("round", round.RoundId);
            c.Parameters.AddWithValue("school", schoolCode);
        }, cancellationToken);
        await AuditLog.WriteAsync(connection, registrar.Name, "confirmation.pending.read", round.RoundId, schoolCode, null,
            new { changes = changes.Count, record_ids = changes.Select(c => c.RecordId).Distinct().Take(100) }, cancellationToken);
        return changes;
    }

    /// <summary>
    /// The registrar's decision on a change that waits: approved, it is applied as a correction (lineage names the registrar
    /// too) and re-checked; refused, it stays on record as refused. The school's account or the data team; audited as
    /// confirmation.change.approve / .refuse.
    /// </summary>
    public Task<AnsweredChange> DecideAsync(Account registrar, long changeId, bool approve, string? note, CancellationToken cancellationToken = default) =>
        AtOnceAsync(() => DecideChangeAsync(registrar, changeId, approve, note, cancellationToken));

    private async Task<AnsweredChange> DecideChangeAsync(Account registrar, long changeId, bool approve, string? note, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registrar);
        note = string.IsNullOrWhiteSpace(note) ? null : new string(note.Trim().Where(c => !char.IsControl(c)).ToArray());
        if (note is { Length: > MaxNoteLength })
        {
            throw new UserErrorException(new UserMessage("Confirmation.NoteTooLong", MaxNoteLength));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long recordId;
        int roundId;
        string schoolCode, field, newValue, status;
        string? printedValue, waits, decidedBy;
        bool inScope;
        await using (var command = new NpgsqlCommand("""
            SELECT c.record_id, c.round_id, coalesce(r.school_code, s.school_code), c.field, c.new_value, c.printed_value, c.status, c.waits_because,
                   c.decided_by,
                   @role IN ('school', 'data_team') AND coalesce(access.may_act_for(@role, @account_school, @account_district, r.school_code), false)
            FROM   confirm.change c JOIN confirm.answer a USING (answer_id) JOIN confirm.sheet s ON s.sheet_id = a.sheet_id
            LEFT   JOIN registry.record r ON r.round_id = c.round_id AND r.record_id = c.record_id AND r.is_current
            WHERE  c.change_id = @change
            FOR    UPDATE OF c
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("change", changeId);
            AddAccount(command, registrar);
            await using var rows = await command.ExecuteReaderAsync(cancellationToken);
            if (!await rows.ReadAsync(cancellationToken))
            {
                throw new OutOfScopeException("confirmation change", changeId.ToString(CultureInfo.InvariantCulture));
            }

            (recordId, roundId, schoolCode, field, newValue, printedValue, status, waits, decidedBy, inScope) = (rows.GetInt64(0), rows.GetInt32(1),
                rows.GetString(2), rows.GetString(3), rows.GetString(4), Text(rows, 5), rows.GetString(6), Text(rows, 7), Text(rows, 8), rows.GetBoolean(9));
        }

        if (!inScope)
        {
            throw new OutOfScopeException("confirmation change", changeId.ToString(CultureInfo.InvariantCulture), schoolCode, roundId);
        }

        if (status != "pending")
        {
            throw new UserErrorException(new UserMessage("Confirmation.ChangeDecided", changeId, decidedBy ?? ""));
        }

        bool? passes = null;
        if (approve)
        {
            var round = await RoundByIdAsync(connection, roundId, cancellationToken);
            var versions = await ApplyAsync(connection, round, [(recordId, changeId, field, newValue)], cancellationToken);
            await using (var command = new NpgsqlCommand("""
                UPDATE confirm.change SET status = 'applied', decided_by = @by, decided_at = now(), decision_note = @note, correction_id = @correction
                WHERE change_id = @change
                """, connection, transaction))
            {
                command.Parameters.AddWithValue("by", registrar.Name);
                command.Parameters.Add(new NpgsqlParameter("note", NpgsqlDbType.Text) { Value = (object?)note ?? DBNull.Value });
                command.Parameters.AddWithValue("correction", versions[changeId]);
                command.Parameters.AddWithValue("change", changeId);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            var failing = await RecheckAsync(connection, round, [recordId], registrar.Name, cancellationToken);
            passes = !failing.Contains((recordId, field));
        }
        else
        {
            await using var command = new NpgsqlCommand("""
                UPDATE confirm.change SET status = 'refused', decided_by = @by, decided_at = now(), decision_note = @note WHERE change_id = @change
                """, connection, transaction);
            command.Parameters.AddWithValue("by", registrar.Name);
            command.Parameters.Add(new NpgsqlParameter("note", NpgsqlDbType.Text) { Value = (object?)note ?? DBNull.Value });
            command.Parameters.AddWithValue("change", changeId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.WriteAsync(connection, registrar.Name, approve ? "confirmation.change.approve" : "confirmation.change.refuse", roundId, schoolCode,
            changeId.ToString(CultureInfo.InvariantCulture), new { record_id = recordId, field, note = note is not null }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new AnsweredChange(changeId, field, printedValue, newValue, approve ? ChangeStatus.Applied : ChangeStatus.Refused, waits) { NowPasses = passes };
    }

    /// <summary>
    /// Runs a call that writes record versions: when a return or another call wrote a version of the same record at the same
    /// moment (the version's key) or the two waited on each other (a deadlock), nothing of it was kept, and the one who asked
    /// is told to do it again.
    /// </summary>
    private static async Task<T> AtOnceAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DeadlockDetected
                                              or PostgresErrorCodes.SerializationFailure)
        {
            throw new UserErrorException(new UserMessage("Confirmation.AtTheSameTime"), e);
        }
    }

    // ---- entering answers ------------------------------------------------------------------------------------------------

    private async Task<List<(string Id, AnswerOutcome Outcome)>> EnterAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Account enteredBy,
        List<(string Id, SheetAnswer Answer, Dictionary<string, string> Corrections, SheetRow Sheet)> fresh, AnswerFile? file,
        CancellationToken cancellationToken)
    {
        // The current versions are locked before their values are read, so that another answer or a decision cannot slip a
        // version in between (a return at the same moment makes one of the two fail on the version's key: see ApplyAsync).
        foreach (var round in fresh.GroupBy(f => f.Sheet.RoundId).OrderBy(g => g.Key))
        {
            await LockCurrentAsync(connection, round.Key, round.Select(f => f.Sheet.Sheet.RecordId).ToList(), cancellationToken);
        }

        var current = await RecordVersions.CurrentAsync(connection, fresh.Select(f => f.Sheet.RoundId).Distinct().ToArray(),
            fresh.Select(f => f.Sheet.Sheet.RecordId).Distinct().ToArray(), cancellationToken);

        var answerIds = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("""
            INSERT INTO confirm.answer (sheet_id, round_id, record_id, outcome, signed_on, entered_by, file_name, file_sha256, excel_row)
            SELECT t.sheet_id, t.round_id, t.record_id, t.outcome, t.signed_on, @by, @file, @sha, t.excel_row
            FROM   unnest(@ids, @rounds, @records, @outcomes, @signed, @rows) AS t(sheet_id, round_id, record_id, outcome, signed_on, excel_row)
            RETURNING sheet_id, answer_id
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("by", enteredBy.Name);
            command.Parameters.Add(new NpgsqlParameter("file", NpgsqlDbType.Text) { Value = (object?)file?.FileName ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("sha", NpgsqlDbType.Text) { Value = (object?)file?.Sha256 ?? DBNull.Value });
            command.Parameters.AddWithValue("ids", fresh.Select(f => f.Id).ToArray());
            command.Parameters.AddWithValue("rounds", fresh.Select(f => f.Sheet.RoundId).ToArray());
            command.Parameters.AddWithValue("records", fresh.Select(f => f.Sheet.Sheet.RecordId).ToArray());
            command.Parameters.AddWithValue("outcomes", fresh.Select(f => f.Corrections.Count == 0 ? "unchanged" : "corrected").ToArray());
            command.Parameters.AddWithValue("signed", fresh.Select(f => f.Answer.SignedOn).ToArray());
            command.Parameters.Add(new NpgsqlParameter("rows", NpgsqlDbType.Array | NpgsqlDbType.Integer)
                { Value = fresh.Select(f => f.Answer.ExcelRow).ToArray() });
            await using var rows = await command.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                answerIds[rows.GetString(0)] = rows.GetInt64(1);
            }
        }

        // Each corrected value: applied at once, or waiting for the registrar (an identity field; a value changed since the print).
        var changes = new List<(string Id, long AnswerId, int RoundId, long RecordId, string Field, string? Printed, string New, string? Waits)>();
        foreach (var (id, _, corrections, sheet) in fresh)
        {
            var now = current.GetValueOrDefault(sheet.Sheet.RecordId);
            foreach (var field in ConfirmationFields.All.Where(corrections.ContainsKey))
            {
                var printed = sheet.Sheet[field];
                var waits = ConfirmationFields.IsIdentity(field) ? "identity"
                    : now is null || now.Removed || !string.Equals(now.RawValues.GetValueOrDefault(field), printed, StringComparison.Ordinal) ? "changed_since_print"
                    : null;
                changes.Add((id, answerIds[id], sheet.RoundId, sheet.Sheet.RecordId, field, printed, corrections[field], waits));
            }
        }

        var changeIds = new Dictionary<(string Id, string Field), long>();
        if (changes.Count > 0)
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO confirm.change (answer_id, round_id, record_id, field, printed_value, new_value, status, waits_because)
                SELECT t.answer_id, t.round_id, t.record_id, t.field, t.printed, t.new_value, CASE WHEN t.waits IS NULL THEN 'applied' ELSE 'pending' END, t.waits
                FROM   unnest(@answers, @rounds, @records, @fields, @printed, @values, @waits) AS t(answer_id, round_id, record_id, field, printed, new_value, waits)
                RETURNING answer_id, field, change_id
                """, connection, transaction);
            command.Parameters.AddWithValue("answers", changes.Select(c => c.AnswerId).ToArray());
            command.Parameters.AddWithValue("rounds", changes.Select(c => c.RoundId).ToArray());
            command.Parameters.AddWithValue("records", changes.Select(c => c.RecordId).ToArray());
            command.Parameters.AddWithValue("fields", changes.Select(c => c.Field).ToArray());
            command.Parameters.Add(new NpgsqlParameter("printed", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = changes.Select(c => c.Printed).ToArray() });
            command.Parameters.AddWithValue("values", changes.Select(c => c.New).ToArray());
            command.Parameters.Add(new NpgsqlParameter("waits", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = changes.Select(c => c.Waits).ToArray() });
            var byAnswer = answerIds.ToDictionary(a => a.Value, a => a.Key);
            await using var rows = await command.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                changeIds[(byAnswer[rows.GetInt64(0)], rows.GetString(1))] = rows.GetInt64(2);
            }
        }

        // The values applied now: a version per record, a correction per value, then one re-check per round.
        var failing = new HashSet<(long RecordId, string Field)>();
        foreach (var round in changes.Where(c => c.Waits is null).GroupBy(c => c.RoundId).OrderBy(g => g.Key))
        {
            var roundInfo = await RoundByIdAsync(connection, round.Key, cancellationToken);
            var corrections = await ApplyAsync(connection, roundInfo,
                round.Select(c => (c.RecordId, changeIds[(c.Id, c.Field)], c.Field, c.New)).ToList(), cancellationToken);
            await using (var command = new NpgsqlCommand("""
                UPDATE confirm.change c SET correction_id = t.correction_id FROM unnest(@changes, @corrections) AS t(change_id, correction_id)
                WHERE c.change_id = t.change_id
                """, connection, transaction))
            {
                command.Parameters.AddWithValue("changes", corrections.Keys.ToArray());
                command.Parameters.AddWithValue("corrections", corrections.Values.ToArray());
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            failing.UnionWith(await RecheckAsync(connection, roundInfo, round.Select(c => c.RecordId).Distinct().ToArray(), enteredBy.Name, cancellationToken));
        }

        var result = new List<(string, AnswerOutcome)>();
        foreach (var (id, answer, corrections, sheet) in fresh)
        {
            var mine = changes.Where(c => c.Id == id).Select(c => new AnsweredChange(changeIds[(id, c.Field)], c.Field, c.Printed, c.New,
                c.Waits is null ? ChangeStatus.Applied : ChangeStatus.Pending, c.Waits)
            {
                NowPasses = c.Waits is null ? !failing.Contains((c.RecordId, c.Field)) : null,
            }).ToList();
            result.Add((id, new AnswerOutcome(id, answerIds[id], corrections.Count == 0, mine)));
            await AuditLog.WriteAsync(connection, enteredBy.Name, "confirmation.answer", sheet.RoundId, sheet.Sheet.SchoolCode, id, new
            {
                record_id = sheet.Sheet.RecordId,
                outcome = corrections.Count == 0 ? "unchanged" : "corrected",
                signed_on = answer.SignedOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                applied = mine.Where(c => c.Status == ChangeStatus.Applied).Select(c => c.Field),
                pending = mine.Where(c => c.Status == ChangeStatus.Pending).Select(c => c.Field),
                file = file?.FileName,
                sha256 = file?.Sha256,
                excel_row = answer.ExcelRow,
            }, cancellationToken);
        }

        return result;
    }

    /// <summary>
    /// Applies changed values to the current versions of their records (locked by the caller or here): one new version per
    /// record, one correction per value naming its change. Returns the correction of each change.
    /// </summary>
    private static async Task<Dictionary<long, long>> ApplyAsync(NpgsqlConnection connection, Round round,
        IReadOnlyList<(long RecordId, long ChangeId, string Field, string Value)> values, CancellationToken cancellationToken)
    {
        await LockCurrentAsync(connection, round.RoundId, values.Select(v => v.RecordId).ToList(), cancellationToken);

        var current = await RecordVersions.CurrentAsync(connection, [round.RoundId], values.Select(v => v.RecordId).Distinct().ToArray(), cancellationToken);
        var versions = new List<NextVersion>();
        var lines = new List<(long RecordId, int From, long ChangeId, string Field, string? Old, string New)>();
        foreach (var record in values.GroupBy(v => v.RecordId))
        {
            var now = current.TryGetValue(record.Key, out var c) && !c.Removed
                ? c
                : throw new UserErrorException(new UserMessage("Confirmation.RecordGone", record.Key));
            var raw = new Dictionary<string, string?>(now.RawValues, StringComparer.Ordinal);
            foreach (var value in record)
            {
                lines.Add((record.Key, now.Version, value.ChangeId, value.Field, raw.GetValueOrDefault(value.Field), value.Value));
                raw[value.Field] = value.Value;
            }

            versions.Add(new NextVersion(record.Key, now.Version + 1, raw, now.ExtraRaw, null, false) { ChangeId = record.Min(v => v.ChangeId) });
        }

        await RecordVersions.WriteAsync(connection, round.RoundId, versions, cancellationToken);
        await using var command = new NpgsqlCommand("""
            INSERT INTO exchange.correction (round_id, record_id, from_version, to_version, kind, field, old_value, new_value, change_id)
            SELECT @round, t.record_id, t.from_version, t.from_version + 1, 'value', t.field, t.old_value, t.new_value, t.change_id
            FROM   unnest(@records, @from, @fields, @old, @new, @changes) AS t(record_id, from_version, field, old_value, new_value, change_id)
            RETURNING change_id, correction_id
            """, connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.AddWithValue("records", lines.Select(l => l.RecordId).ToArray());
        command.Parameters.AddWithValue("from", lines.Select(l => l.From).ToArray());
        command.Parameters.AddWithValue("fields", lines.Select(l => l.Field).ToArray());
        command.Parameters.Add(new NpgsqlParameter("old", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = lines.Select(l => l.Old).ToArray() });
        command.Parameters.AddWithValue("new", lines.Select(l => l.New).ToArray());
        command.Parameters.AddWithValue("changes", lines.Select(l => l.ChangeId).ToArray());
        var corrections = new Dictionary<long, long>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            corrections[rows.GetInt64(0)] = rows.GetInt64(1);
        }

        return corrections;
    }

    /// <summary>Locks the current versions of records (in one order, so that two callers never wait on each other in a circle).</summary>
    private static async Task LockCurrentAsync(NpgsqlConnection connection, int roundId, IReadOnlyCollection<long> recordIds, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT 1 FROM registry.record_version
            WHERE  round_id = @round AND record_id = ANY(@records) AND is_current
            ORDER  BY record_id FOR UPDATE
            """, connection);
        command.Parameters.AddWithValue("round", roundId);
        command.Parameters.AddWithValue("records", recordIds.Distinct().ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Re-checks records as a return's are re-checked; gives the (record, field) pairs that still fail a rule.</summary>
    private async Task<HashSet<(long RecordId, string Field)>> RecheckAsync(NpgsqlConnection connection, Round round, IReadOnlyCollection<long> records,
        string actor, CancellationToken cancellationToken)
    {
        await new CheckRunner(dataSource, options: checkOptions).RunAsync(connection, round, CheckScope.Records(records), actor, null, cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT record_id, field FROM quality.finding WHERE round_id = @round AND record_id = ANY(@records) AND status = 'open'", connection);
        command.Parameters.AddWithValue("round", round.RoundId);
        command.Parameters.AddWithValue("records", records.ToArray());
        var failing = new HashSet<(long, string)>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            failing.Add((rows.GetInt64(0), rows.GetString(1)));
        }

        return failing;
    }

    // ---- reading ---------------------------------------------------------------------------------------------------------

    private sealed record SheetRow(ConfirmationSheet Sheet, int RoundId, DateOnly PrintedOn, bool InScope);

    private sealed record EnteredAnswer(AnswerOutcome Outcome, DateOnly SignedOn, string EnteredBy, DateTimeOffset EnteredAt);

    /// <summary>Sheets with what the reader may see of them. Two entries of one sheet at once meet at the answer's key (one answer a sheet).</summary>
    private static async Task<List<SheetRow>> ReadSheetsAsync(NpgsqlConnection connection, string where, Action<NpgsqlCommand> parameters, Account reader,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT s.sheet_id, o.code, s.school_code,
                   coalesce((SELECT btrim(m.school_name_raw) FROM registry.school m WHERE m.school_code = s.school_code AND m.school_name_raw IS NOT NULL
                             ORDER BY m.round_id DESC LIMIT 1), s.school_code),
                   s.grade, s.class_name, s.record_id, s.record_version, s.printed_values::text, p.printed_at,
                   (p.printed_at AT TIME ZONE 'Asia/Shanghai')::date, s.round_id,
                   access.may_read_student(@account, @role, @account_school, @account_district, s.school_code, s.grade, s.class_name, s.round_id)
                   AND coalesce(access.may_read_student(@account, @role, @account_school, @account_district, c.school_code, c.grade, c.class_name,
                                                        s.round_id), false),
                   (SELECT r.student_no_raw FROM registry.record r WHERE r.round_id = s.round_id AND r.record_id = s.record_id AND r.version = s.record_version)
            FROM   confirm.sheet s JOIN confirm.print p USING (print_id) JOIN registry.round o ON o.round_id = s.round_id
            LEFT   JOIN registry.record c ON c.round_id = s.round_id AND c.record_id = s.record_id AND c.is_current
            WHERE  {where}
            """, connection);
        parameters(command);
        AddAccount(command, reader);
        var sheets = new List<SheetRow>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            var printed = JsonSerializer.Deserialize<Dictionary<string, string?>>(rows.GetString(8)) ?? [];
            var values = ConfirmationFields.All.Select(f => new SheetValue(f, printed.GetValueOrDefault(f))).ToList();
            var sheet = new ConfirmationSheet(rows.GetString(0), rows.GetString(1), rows.GetString(2), rows.GetString(3),
                new ClassKey(rows.IsDBNull(4) ? 0 : rows.GetInt16(4), rows.GetString(5)), Text(rows, 13), rows.GetInt64(6), rows.GetInt32(7), values,
                rows.GetFieldValue<DateTimeOffset>(9));
            sheets.Add(new SheetRow(sheet, rows.GetInt32(11), rows.GetFieldValue<DateOnly>(10), rows.GetBoolean(12)));
        }

        return sheets;
    }

    private static async Task<EnteredAnswer?> ReadAnswerAsync(NpgsqlConnection connection, string sheetId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT a.answer_id, a.outcome, a.signed_on, a.entered_by, a.entered_at, c.change_id, c.field, c.printed_value, c.new_value, c.status, c.waits_because
            FROM   confirm.answer a LEFT JOIN confirm.change c USING (answer_id)
            WHERE  a.sheet_id = @id
            ORDER  BY c.change_id
            """, connection);
        command.Parameters.AddWithValue("id", sheetId);
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        EnteredAnswer? answer = null;
        var changes = new List<AnsweredChange>();
        while (await rows.ReadAsync(cancellationToken))
        {
            answer ??= new EnteredAnswer(new AnswerOutcome(sheetId, rows.GetInt64(0), rows.GetString(1) == "unchanged", changes),
                rows.GetFieldValue<DateOnly>(2), rows.GetString(3), rows.GetFieldValue<DateTimeOffset>(4));
            if (!rows.IsDBNull(5))
            {
                changes.Add(new AnsweredChange(rows.GetInt64(5), rows.GetString(6), Text(rows, 7), rows.GetString(8), rows.GetString(9) switch
                {
                    "applied" => ChangeStatus.Applied,
                    "refused" => ChangeStatus.Refused,
                    _ => ChangeStatus.Pending,
                }, Text(rows, 10)));
            }
        }

        return answer;
    }

    private static async Task<List<PendingChange>> ReadPendingAsync(NpgsqlConnection connection, string where, Action<NpgsqlCommand> parameters,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT c.change_id, s.sheet_id, c.record_id, r.student_no_raw, r.name, s.grade, s.class_name, c.field, c.printed_value,
                   (to_jsonb(r) ->> (c.field || '_raw')), c.new_value, c.waits_because, a.signed_on, a.entered_by, a.entered_at
            FROM   confirm.change c JOIN confirm.answer a USING (answer_id) JOIN confirm.sheet s ON s.sheet_id = a.sheet_id
            LEFT   JOIN registry.record r ON r.round_id = c.round_id AND r.record_id = c.record_id AND r.is_current
            WHERE  c.status = 'pending' AND {where}
            ORDER  BY a.entered_at, c.change_id
            """, connection);
        parameters(command);
        var changes = new List<PendingChange>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            changes.Add(new PendingChange(rows.GetInt64(0), rows.GetString(1), rows.GetInt64(2), Text(rows, 3), Text(rows, 4),
                new ClassKey(rows.IsDBNull(5) ? 0 : rows.GetInt16(5), rows.GetString(6)), rows.GetString(7), Text(rows, 8), Text(rows, 9), rows.GetString(10),
                rows.GetString(11), rows.GetFieldValue<DateOnly>(12), rows.GetString(13), rows.GetFieldValue<DateTimeOffset>(14)));
        }

        return changes;
    }

    private static async Task<Campaign?> ReadCampaignAsync(NpgsqlConnection connection, string? roundCode, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT o.code, c.round_id, c.closes_on, confirm.campaign_open(c.round_id), c.opened_at, c.opened_by
            FROM   confirm.campaign c JOIN registry.round o USING (round_id)
            WHERE  @code::text IS NULL OR o.code = @code
            ORDER  BY confirm.campaign_open(c.round_id) DESC, o.round_date DESC, o.round_id DESC
            LIMIT  1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("code", NpgsqlDbType.Text) { Value = (object?)roundCode ?? DBNull.Value });
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        return await rows.ReadAsync(cancellationToken)
            ? new Campaign(rows.GetString(0), rows.GetInt32(1), rows.GetFieldValue<DateOnly>(2), rows.GetBoolean(3),
                rows.GetFieldValue<DateTimeOffset>(4), rows.GetString(5))
            : null;
    }

    // ---- scope -----------------------------------------------------------------------------------------------------------

    private static void RequireDataTeam(Account actor, string what, string obj)
    {
        if (actor.Role != AccountRole.DataTeam)
        {
            throw new OutOfScopeException(what, obj);
        }
    }

    /// <summary>The school's own roles (access.may_act_for): a class teacher or a manager is refused.</summary>
    private static async Task RequireSchoolAsync(NpgsqlConnection connection, Account reader, string what, string schoolCode, int roundId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT access.may_act_for(@role, @account_school, @account_district, @code)", connection);
        AddAccount(command, reader);
        command.Parameters.AddWithValue("code", schoolCode);
        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            throw new OutOfScopeException(what, schoolCode, schoolCode, roundId);
        }
    }

    /// <summary>A class: its school's roles, or its class teacher while the campaign is open (access.may_read_student).</summary>
    private static async Task RequireClassAsync(NpgsqlConnection connection, Account reader, string schoolCode, ClassKey onlyClass, int roundId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT access.may_read_student(@account, @role, @account_school, @account_district, @code, @grade, @class, @round)", connection);
        AddAccount(command, reader);
        command.Parameters.AddWithValue("code", schoolCode);
        command.Parameters.AddWithValue("grade", (short)onlyClass.Grade);
        command.Parameters.AddWithValue("class", onlyClass.ClassName);
        command.Parameters.AddWithValue("round", roundId);
        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            throw new OutOfScopeException("class", onlyClass.ToString(), schoolCode, roundId);
        }
    }

    private static void AddAccount(NpgsqlCommand command, Account account)
    {
        command.Parameters.AddWithValue("account", account.Name);
        command.Parameters.AddWithValue("role", Account.RoleText(account.Role));
        command.Parameters.Add(new NpgsqlParameter("account_school", NpgsqlDbType.Text) { Value = (object?)account.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("account_district", NpgsqlDbType.Text) { Value = (object?)account.DistrictCode ?? DBNull.Value });
    }

    // ---- small things ----------------------------------------------------------------------------------------------------

    private static async Task<Round> RoundAsync(NpgsqlConnection connection, string roundCode, CancellationToken cancellationToken) =>
        await RoundStore.FindAsync(connection, roundCode ?? "", cancellationToken)
        ?? throw new UserErrorException(new UserMessage("Confirmation.RoundNotFound", Shorten(roundCode ?? "")));

    private static async Task<Round> RoundByIdAsync(NpgsqlConnection connection, int roundId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT code FROM registry.round WHERE round_id = @id", connection);
        command.Parameters.AddWithValue("id", roundId);
        return await RoundAsync(connection, (string)(await command.ExecuteScalarAsync(cancellationToken))!, cancellationToken);
    }

    private static async Task<DateOnly> TodayAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date", connection);
        return (DateOnly)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static List<SheetValue> ReadValues(NpgsqlDataReader rows, int first) =>
        ConfirmationFields.All.Select((f, i) => new SheetValue(f, Text(rows, first + i))).ToList();

    /// <summary>Where an answer came from, for a message: the sheet, and the workbook's row when from one.</summary>
    private static UserMessage Where(SheetAnswer answer, AnswerFile? file)
    {
        var sheet = SheetId.Normalise(answer.SheetId) is { } id ? SheetId.Format(id) : Shorten(answer.SheetId);
        return answer.ExcelRow is { } row
            ? new UserMessage("Confirmation.WhereRow", file?.FileName ?? "", row, sheet)
            : new UserMessage("Confirmation.WhereSheet", sheet);
    }

    private static string Label(RegistryField field) =>
        CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "zh" ? field.ChineseHeaders[0] : field.EnglishHeader;

    private static string Shorten(string text)
    {
        var clean = new string(text.Where(c => !char.IsControl(c)).ToArray());
        return clean.Length > 40 ? clean[..40] + "…" : clean;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
