using Npgsql;
using StudentDataQuality.Confirmations;

namespace StudentDataQuality.Data.Exchange;

/// <summary>What an account may do (docs/architecture.md, "Who uses it").</summary>
public enum AccountRole
{
    /// <summary>The provincial or city data team: every school, every round.</summary>
    DataTeam,

    /// <summary>A district (county) office: the schools of its district.</summary>
    District,

    /// <summary>A school's registrar: its own school.</summary>
    School,

    /// <summary>A manager: aggregates only, never a student's data.</summary>
    Manager,

    /// <summary>A class teacher: the students of its classes at its school, while a confirmation campaign is open (access.may_read_student).</summary>
    ClassTeacher,
}

/// <summary>Someone who acts: an account of <c>access.account</c>, or the data team's operator at the command line.</summary>
public sealed record Account(string Name, AccountRole Role, string? SchoolCode = null, string? DistrictCode = null)
{
    /// <summary>The operator of the command line, who acts as the data team.</summary>
    public static Account Operator(string name) => new(name, AccountRole.DataTeam);

    public static string RoleText(AccountRole role) => role switch
    {
        AccountRole.DataTeam => "data_team",
        AccountRole.District => "district",
        AccountRole.School => "school",
        AccountRole.ClassTeacher => "class_teacher",
        _ => "manager",
    };

    public static AccountRole ParseRole(string text) => text switch
    {
        "data_team" => AccountRole.DataTeam,
        "district" => AccountRole.District,
        "school" => AccountRole.School,
        "manager" => AccountRole.Manager,
        "class_teacher" => AccountRole.ClassTeacher,
        _ => throw new InvalidOperationException($"Unknown account role '{text}' in access.account."),
    };
}

/// <summary>An account a school master calls for: its school or district, their names, and whether it is there already.</summary>
public sealed record AccountCandidate(Account Account, string? SchoolName, string? DistrictName, bool Exists);

/// <summary>A class teacher a round's classes call for: its account (ct-&lt;school&gt;-&lt;grade&gt;-&lt;n&gt;), its class, and whether the class has one.</summary>
public sealed record ClassTeacherCandidate(Account Account, ClassKey Class, int Students, string? SchoolName, string? DistrictCode, bool Exists);

/// <summary>What a bulk creation wrote of its accounts (file name and sha256), for the audit entry.</summary>
public sealed record BulkRecord(string FileName, string Sha256);

/// <summary>The accounts of <c>access.account</c>. Passwords and their policy belong to the web portal.</summary>
public sealed class AccountStore(NpgsqlDataSource dataSource)
{
    public async Task<Account?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT account, role, school_code, district_code FROM access.account WHERE account = @name");
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>The account of that name, or a user error saying how to make one.</summary>
    public async Task<Account> GetAsync(string name, CancellationToken cancellationToken = default) =>
        await FindAsync(name, cancellationToken)
        ?? throw new UserErrorException(new UserMessage("Account.NotFound", name));

    public async Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT account, role, school_code, district_code FROM access.account ORDER BY role, account");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var accounts = new List<Account>();
        while (await reader.ReadAsync(cancellationToken))
        {
            accounts.Add(Read(reader));
        }

        return accounts;
    }

    /// <summary>Adds an account (or leaves an identical one as it is), with an audit entry.</summary>
    public async Task AddAsync(Account account, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.Role == AccountRole.School && string.IsNullOrWhiteSpace(account.SchoolCode))
        {
            throw new UserErrorException(new UserMessage("Account.SchoolCodeMissing", account.Name));
        }

        if (account.Role == AccountRole.District && string.IsNullOrWhiteSpace(account.DistrictCode))
        {
            throw new UserErrorException(new UserMessage("Account.DistrictCodeMissing", account.Name));
        }

        if (!ValidName(account.Name))
        {
            throw new UserErrorException(new UserMessage("Account.NameInvalid", account.Name));
        }

        // Through the account function of migration 0017, which writes the audit entry: the same way whoever runs it.
        await using var command = dataSource.CreateCommand("SELECT access.add_account(@name, @role, @school, @district, @actor)");
        command.Parameters.AddWithValue("name", account.Name);
        command.Parameters.AddWithValue("role", Account.RoleText(account.Role));
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)account.SchoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)account.DistrictCode ?? DBNull.Value });
        command.Parameters.AddWithValue("actor", actor);
        var added = await command.ExecuteScalarAsync(cancellationToken) is true;
        if (!added && await FindAsync(account.Name, cancellationToken) is { } existing && existing != account)
        {
            throw new UserErrorException((existing.SchoolCode ?? existing.DistrictCode) is { } scope
                ? new UserMessage("Account.ExistsOtherwise", account.Name, Account.RoleText(existing.Role), scope)
                : new UserMessage("Account.ExistsOtherwiseEverywhere", account.Name, Account.RoleText(existing.Role)));
        }
    }

    /// <summary>
    /// The schools (<paramref name="role"/> School) or districts (District) of a round's school master (the newest round that
    /// has one, unless <paramref name="roundCode"/> is given), optionally of one district, with whether each has an account
    /// already: one of that role for that school or district, or any account by the name it would get.
    /// </summary>
    public async Task<IReadOnlyList<AccountCandidate>> CandidatesAsync(AccountRole role, string? districtCode, string? roundCode,
        CancellationToken cancellationToken = default)
    {
        if (role is not (AccountRole.School or AccountRole.District))
        {
            throw new ArgumentOutOfRangeException(nameof(role), role, "Only school and district accounts are made in bulk.");
        }

        await using var command = dataSource.CreateCommand("""
            WITH master_round AS (
                SELECT r.round_id FROM registry.round r
                WHERE  (@round::text IS NULL OR r.code = @round) AND EXISTS (SELECT FROM registry.school s WHERE s.round_id = r.round_id)
                ORDER  BY r.round_date DESC, r.round_id DESC LIMIT 1),
            master AS (
                SELECT DISTINCT ON (s.school_code) s.school_code, btrim(s.school_name_raw) AS school_name, s.district_code,
                       btrim(s.district_name_raw) AS district_name
                FROM   registry.school s JOIN master_round USING (round_id)
                WHERE  s.school_code IS NOT NULL AND (@district::text IS NULL OR s.district_code = @district)
                ORDER  BY s.school_code, s.file_id DESC, s.row_no),
            wanted AS (
                SELECT 'school-' || school_code AS account, school_code, school_name, district_code, district_name FROM master WHERE @role = 'school'
                UNION ALL
                SELECT DISTINCT ON (district_code) 'district-' || district_code, NULL, NULL, district_code, district_name
                FROM   master WHERE @role = 'district' AND district_code IS NOT NULL ORDER BY 2, 4)
            SELECT w.account, w.school_code, w.school_name, w.district_code, w.district_name,
                   EXISTS (SELECT FROM access.account a
                           WHERE  a.account = w.account
                              OR  (a.role = @role AND (a.school_code = w.school_code OR (@role = 'district' AND a.district_code = w.district_code))))
            FROM   wanted w ORDER BY w.district_code, w.account
            """);
        command.Parameters.AddWithValue("role", Account.RoleText(role));
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)districtCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("round", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)roundCode ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var candidates = new List<AccountCandidate>();
        while (await reader.ReadAsync(cancellationToken))
        {
            candidates.Add(new AccountCandidate(new Account(reader.GetString(0), role, reader.IsDBNull(1) ? null : reader.GetString(1),
                    reader.IsDBNull(3) ? null : reader.GetString(3)),
                reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetBoolean(5)));
        }

        return candidates;
    }

    /// <summary>
    /// Adds accounts, each with the hash of a one-time password (changed at first sign-in, valid until
    /// <paramref name="validUntil"/>), in one transaction and one
    /// statement; an account made meanwhile by someone else is left as it is. <paramref name="record"/> is given the accounts
    /// this call made, while the transaction is open, and returns the sha256 of what it wrote of them; the single audit entry
    /// holds the count and that sha256, never a password. Nothing is committed when it throws.
    /// </summary>
    public Task<IReadOnlyList<Account>> AddWithOneTimePasswordsAsync(IReadOnlyList<(Account Account, string PasswordHash)> accounts,
        Func<IReadOnlyList<Account>, CancellationToken, Task<BulkRecord>> record, string actor, DateTimeOffset validUntil,
        CancellationToken cancellationToken = default) =>
        AddWithOneTimePasswordsAsync(accounts, null, record, actor, validUntil, cancellationToken);

    /// <summary>
    /// Class teachers made in bulk, as <see cref="AddWithOneTimePasswordsAsync(IReadOnlyList{ValueTuple{Account, string}}, Func{IReadOnlyList{Account}, CancellationToken, Task{BulkRecord}}, string, DateTimeOffset, CancellationToken)"/>
    /// does, each with its class (the accounts' school is their <see cref="Account.SchoolCode"/>), in the same transaction.
    /// </summary>
    public Task<IReadOnlyList<Account>> AddClassTeachersWithOneTimePasswordsAsync(
        IReadOnlyList<(Account Account, string PasswordHash, ClassKey Class)> accounts,
        Func<IReadOnlyList<Account>, CancellationToken, Task<BulkRecord>> record, string actor, DateTimeOffset validUntil,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        if (accounts.Any(a => a.Account.Role != AccountRole.ClassTeacher || string.IsNullOrEmpty(a.Account.SchoolCode)))
        {
            throw new ArgumentException("Only class teachers of a school, each with its class.", nameof(accounts));
        }

        return AddWithOneTimePasswordsAsync(accounts.Select(a => (a.Account, a.PasswordHash)).ToList(),
            accounts.ToDictionary(a => a.Account.Name, a => a.Class, StringComparer.Ordinal), record, actor, validUntil, cancellationToken);
    }

    private async Task<IReadOnlyList<Account>> AddWithOneTimePasswordsAsync(IReadOnlyList<(Account Account, string PasswordHash)> accounts,
        IReadOnlyDictionary<string, ClassKey>? classes, Func<IReadOnlyList<Account>, CancellationToken, Task<BulkRecord>> record, string actor,
        DateTimeOffset validUntil, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(record);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var byName = accounts.ToDictionary(a => a.Account.Name, a => a.Account, StringComparer.Ordinal);
        var added = new List<Account>();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO access.account (account, role, school_code, district_code, created_by, password_hash, must_change_password, password_set_at,
                                        password_expires_at)
            SELECT t.account, t.role, t.school_code, t.district_code, @actor, t.hash, true, now(), @valid_until
            FROM   unnest(@accounts, @roles, @schools, @districts, @hashes) AS t(account, role, school_code, district_code, hash)
            ON CONFLICT (account) DO NOTHING
            RETURNING account
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("accounts", accounts.Select(a => a.Account.Name).ToArray());
            insert.Parameters.AddWithValue("roles", accounts.Select(a => Account.RoleText(a.Account.Role)).ToArray());
            insert.Parameters.Add(new NpgsqlParameter("schools", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
                { Value = accounts.Select(a => a.Account.SchoolCode).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter("districts", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
                { Value = accounts.Select(a => a.Account.DistrictCode).ToArray() });
            insert.Parameters.AddWithValue("hashes", accounts.Select(a => a.PasswordHash).ToArray());
            insert.Parameters.AddWithValue("actor", actor);
            insert.Parameters.AddWithValue("valid_until", validUntil);
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                added.Add(byName[reader.GetString(0)]);
            }
        }

        added.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        if (classes is not null && added.Count > 0)
        {
            // Only the accounts this call made get a class: one made meanwhile by someone else is left as it is.
            await using var insert = new NpgsqlCommand("""
                INSERT INTO access.account_class (account, grade, class_name)
                SELECT * FROM unnest(@accounts, @grades, @classes) ON CONFLICT DO NOTHING
                """, connection, transaction);
            insert.Parameters.AddWithValue("accounts", added.Select(a => a.Name).ToArray());
            insert.Parameters.AddWithValue("grades", added.Select(a => (short)classes[a.Name].Grade).ToArray());
            insert.Parameters.AddWithValue("classes", added.Select(a => classes[a.Name].ClassName).ToArray());
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        var written = await record(added, cancellationToken);
        await AuditLog.WriteAsync(connection, actor, "account.bulk-add", null, null, written.FileName, new
        {
            roles = added.Select(a => Account.RoleText(a.Role)).Distinct().ToArray(),
            created = added.Count,
            made_elsewhere_meanwhile = accounts.Count - added.Count,
            valid_until = validUntil,
            file_sha256 = written.Sha256,
            // What each class teacher made may read, on record beside who made it (the file is the operator's to delete).
            classes = classes is null ? null : added.Select(a => new object[] { a.Name, a.SchoolCode ?? "", classes[a.Name].Grade, classes[a.Name].ClassName }),
        }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return added;
    }

    /// <summary>
    /// The classes of a school (grade 1–12 and class name as the registry writes them, with their students) in a round, or in the
    /// newest round that has records of the school when no round is given; empty when it has none.
    /// </summary>
    public async Task<IReadOnlyList<(ClassKey Class, int Students)>> SchoolClassesAsync(string schoolCode, string? roundCode,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(schoolCode);
        // The newest round is found by probing the rounds newest first (as access.school_district does): one index probe each.
        await using var command = dataSource.CreateCommand("""
            WITH r AS (
                SELECT ro.round_id FROM registry.round ro
                WHERE  (@round::text IS NULL OR ro.code = @round)
                  AND  (SELECT true FROM registry.record_version v WHERE v.round_id = ro.round_id AND v.school_code = @school LIMIT 1)
                ORDER  BY ro.round_date DESC, ro.round_id DESC LIMIT 1)
            SELECT c.grade, c.class_name, count(*)::int
            FROM   registry.current_record c JOIN r USING (round_id)
            WHERE  c.school_code = @school AND c.grade BETWEEN 1 AND 12 AND c.class_name <> '' AND length(c.class_name) <= 40
            GROUP  BY c.grade, c.class_name
            ORDER  BY c.grade, length(c.class_name), c.class_name
            """);
        command.Parameters.AddWithValue("school", schoolCode);
        command.Parameters.Add(new NpgsqlParameter("round", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)roundCode ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var classes = new List<(ClassKey, int)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            classes.Add((new ClassKey(reader.GetInt16(0), reader.GetString(1)), reader.GetInt32(2)));
        }

        return classes;
    }

    /// <summary>
    /// Adds a class teacher of <paramref name="schoolCode"/> with its classes, or adds classes to an existing class teacher of
    /// that school (through <c>access.add_class_teacher</c>, which writes the audit entries). Each class must be one the school
    /// has in the newest round that has its records. False when the account was there already with these classes.
    /// </summary>
    /// <exception cref="UserErrorException">A bad name, no class, a class the school does not have (the message lists those it has), or
    /// an account of that name with another role or school.</exception>
    public async Task<bool> AddClassTeacherAsync(string name, string schoolCode, IReadOnlyList<ClassKey> classes, string actor,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(classes);
        if (!ValidName(name))
        {
            throw new UserErrorException(new UserMessage("Account.NameInvalid", name));
        }

        if (string.IsNullOrWhiteSpace(schoolCode))
        {
            throw new UserErrorException(new UserMessage("Account.SchoolCodeMissing", name));
        }

        if (classes.Count == 0)
        {
            throw new UserErrorException(new UserMessage("ClassTeacher.NoClass", name));
        }

        var has = await SchoolClassesAsync(schoolCode, null, cancellationToken);
        if (has.Count == 0)
        {
            throw new UserErrorException(new UserMessage("ClassTeacher.SchoolHasNoClasses", schoolCode));
        }

        var known = has.Select(c => c.Class).ToHashSet();
        if (classes.FirstOrDefault(c => !known.Contains(c)) is { } unknown)
        {
            throw new UserErrorException(new UserMessage("ClassTeacher.ClassUnknown", unknown.ToString(), schoolCode,
                string.Join("、", has.Take(60).Select(c => c.Class.ToString())) + (has.Count > 60 ? "…" : "")));
        }

        if (await FindAsync(name, cancellationToken) is { } existing && (existing.Role != AccountRole.ClassTeacher || existing.SchoolCode != schoolCode))
        {
            throw new UserErrorException((existing.SchoolCode ?? existing.DistrictCode) is { } scope
                ? new UserMessage("Account.ExistsOtherwise", name, Account.RoleText(existing.Role), scope)
                : new UserMessage("Account.ExistsOtherwiseEverywhere", name, Account.RoleText(existing.Role)));
        }

        var distinct = classes.Distinct().ToArray();
        await using var command = dataSource.CreateCommand("SELECT access.add_class_teacher(@name, @school, @grades, @classes, @actor)");
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("school", schoolCode);
        command.Parameters.AddWithValue("grades", distinct.Select(c => (short)c.Grade).ToArray());
        command.Parameters.AddWithValue("classes", distinct.Select(c => c.ClassName).ToArray());
        command.Parameters.AddWithValue("actor", actor);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>The classes an account teaches (none for another role), in order.</summary>
    public async Task<IReadOnlyList<ClassKey>> ClassesOfAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT grade, class_name FROM access.account_class WHERE account = @name ORDER BY grade, length(class_name), class_name");
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var classes = new List<ClassKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            classes.Add(new ClassKey(reader.GetInt16(0), reader.GetString(1)));
        }

        return classes;
    }

    /// <summary>Every class teacher's classes (account → classes, in order), in one query: for listing the accounts.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<ClassKey>>> ClassesByAccountAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT account, grade, class_name FROM access.account_class ORDER BY account, grade, length(class_name), class_name");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var classes = new Dictionary<string, IReadOnlyList<ClassKey>>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            if (!classes.TryGetValue(name, out var list))
            {
                classes[name] = list = new List<ClassKey>();
            }

            ((List<ClassKey>)list).Add(new ClassKey(reader.GetInt16(1), reader.GetString(2)));
        }

        return classes;
    }

    /// <summary>
    /// A class teacher for every class of a round's records (optionally of one school or one district of the round's school
    /// master): the account ct-&lt;school&gt;-&lt;grade&gt;-&lt;n&gt;, n the class's place in its grade (1, 2, …; with a suffix from the
    /// class when another account has that name), and whether the class has its teacher already (a class teacher of the school
    /// who has that class). One statement, set-based.
    /// </summary>
    public async Task<IReadOnlyList<ClassTeacherCandidate>> ClassTeacherCandidatesAsync(string roundCode, string? schoolCode, string? districtCode,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(roundCode);
        await using var command = dataSource.CreateCommand("""
            WITH r AS (SELECT round_id FROM registry.round WHERE code = @round),
            master AS (
                SELECT DISTINCT ON (s.school_code) s.school_code, btrim(s.school_name_raw) AS school_name, s.district_code
                FROM   registry.school s JOIN r USING (round_id)
                WHERE  s.school_code IS NOT NULL
                ORDER  BY s.school_code, s.file_id DESC, s.row_no),
            classes AS (
                SELECT c.school_code, c.grade, c.class_name, count(*)::int AS students
                FROM   registry.current_record c JOIN r USING (round_id)
                WHERE  c.school_code IS NOT NULL AND c.school_code ~ '^[A-Za-z0-9]{1,40}$'
                  AND  c.grade BETWEEN 1 AND 12 AND c.class_name <> '' AND length(c.class_name) <= 40
                  AND  (@school::text IS NULL OR c.school_code = @school)
                GROUP  BY c.school_code, c.grade, c.class_name),
            named AS (
                SELECT k.*, m.school_name, m.district_code,
                       'ct-' || k.school_code || '-' || k.grade || '-'
                           || row_number() OVER (PARTITION BY k.school_code, k.grade ORDER BY length(k.class_name), k.class_name) AS account
                FROM   classes k LEFT JOIN master m USING (school_code)
                WHERE  @district::text IS NULL OR m.district_code = @district)
            -- A class has its teacher when a class teacher of its school has it. A name taken by another account (a class of
            -- an earlier round that ranked there) gets a suffix made from the class itself, so a new class is never skipped.
            SELECT CASE WHEN EXISTS (SELECT FROM access.account a WHERE a.account = n.account)
                        THEN n.account || '-' || substr(md5(n.school_code || '/' || n.grade || '/' || n.class_name), 1, 6)
                        ELSE n.account END,
                   n.school_code, n.grade, n.class_name, n.students, n.school_name, n.district_code,
                   EXISTS (SELECT FROM access.account_class k JOIN access.account a USING (account)
                           WHERE a.role = 'class_teacher' AND a.school_code = n.school_code AND k.grade = n.grade AND k.class_name = n.class_name)
            FROM   named n
            ORDER  BY n.district_code, n.school_code, n.grade, length(n.class_name), n.class_name
            """);
        command.Parameters.AddWithValue("round", roundCode);
        command.Parameters.Add(new NpgsqlParameter("school", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)schoolCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("district", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)districtCode ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var candidates = new List<ClassTeacherCandidate>();
        while (await reader.ReadAsync(cancellationToken))
        {
            candidates.Add(new ClassTeacherCandidate(new Account(reader.GetString(0), AccountRole.ClassTeacher, reader.GetString(1)),
                new ClassKey(reader.GetInt16(2), reader.GetString(3)), reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetBoolean(7)));
        }

        return candidates;
    }

    private static Account Read(NpgsqlDataReader reader) =>
        new(reader.GetString(0), Account.ParseRole(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3));

    /// <summary>Account names are ASCII: letters, digits, . _ @ - (at most 64).</summary>
    public static bool ValidName(string name) => System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$");
}
