using Npgsql;

namespace StudentDataQuality.Data.Training;

/// <summary>What marks a database as a practice one (migration 0026): its round, seed, size, who made it and when.</summary>
public sealed record PracticeInfo(string RoundCode, int Seed, int Schools, int Trainees, DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? ResetAt);

/// <summary>One trainee's practice accounts: a school, its district office, and a class teacher of that school.</summary>
public sealed record Trainee(int Number, string SchoolCode, string DistrictCode, string SchoolAccount, string DistrictAccount,
    string? ClassTeacherAccount, string? ClassName);

/// <summary>
/// How far a trainee has come in the practice round, from the school's side: whether its worksheet was downloaded, how many
/// returns were taken, when it certified, and the problems still open (the mistakes left to fix or explain).
/// </summary>
public sealed record TraineeProgress(Trainee Trainee, bool Downloaded, int Returns, DateTimeOffset? CertifiedAt, int OpenErrors, int OpenWarnings);

/// <summary>
/// Practice rounds (docs/training.md). A practice round lives in a database of its own, named after the main one
/// (<see cref="DatabaseName"/>), so that nothing of it reaches the real trends, the registry's changes, or the real audit
/// log and export register; a row in <c>training.practice</c> marks it, and every page and file made from it says
/// <see cref="Label"/>.
/// </summary>
public static class Practice
{
    /// <summary>What every page and file of a practice round says, prominently, in both languages at once.</summary>
    public const string Label = StudentDataQuality.Exports.Watermark.PracticeLabel;

    /// <summary>The suffix that names a practice database after the main one.</summary>
    public const string DatabaseSuffix = "_practice";

    /// <summary>
    /// The practice database of main database <paramref name="mainDatabase"/>: always its name + <see cref="DatabaseSuffix"/>, so
    /// that it is never the main database itself (a main database whose name ends in "_practice" has a practice database
    /// "…_practice_practice"), whatever is then done to it (reset and remove drop it).
    /// </summary>
    public static string DatabaseName(string mainDatabase)
    {
        ArgumentException.ThrowIfNullOrEmpty(mainDatabase);
        return mainDatabase + DatabaseSuffix;
    }

    /// <summary>The practice round this database holds, or null when it is a real one.</summary>
    public static async Task<PracticeInfo?> FindAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand(
            "SELECT round_code, seed, schools, trainees, created_at, created_by, reset_at FROM training.practice");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new PracticeInfo(reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6))
            : null;
    }

    /// <summary>The trainees of the practice round, by number (none in a real database).</summary>
    public static async Task<IReadOnlyList<Trainee>> TraineesAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand("""
            SELECT trainee_no, school_code, district_code, school_account, district_account, class_teacher_account, class_name
            FROM   training.trainee ORDER BY trainee_no
            """);
        var trainees = new List<Trainee>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            trainees.Add(ReadTrainee(reader, 0));
        }

        return trainees;
    }

    /// <summary>
    /// Each trainee's progress in the practice round (<see cref="PracticeInfo.RoundCode"/>), in one query: downloaded (an
    /// audited download of any of the school's worksheets), returns taken, certified, and problems still open.
    /// </summary>
    public static async Task<IReadOnlyList<TraineeProgress>> ProgressAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand("""
            WITH practice AS (
                SELECT r.round_id FROM training.practice p JOIN registry.round r ON r.code = p.round_code)
            SELECT t.trainee_no, t.school_code, t.district_code, t.school_account, t.district_account, t.class_teacher_account, t.class_name,
                   EXISTS (SELECT 1 FROM exchange.worksheet w JOIN audit.event e ON e.object = w.worksheet_id::text AND e.action = 'worksheet.download'
                           WHERE w.round_id = p.round_id AND w.school_code = t.school_code),
                   (SELECT count(*)::int FROM exchange.worksheet_return x WHERE x.round_id = p.round_id AND x.school_code = t.school_code),
                   so.certified_at,
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = p.round_id AND f.school_code = t.school_code
                                                                   AND f.status = 'open' AND f.severity = 'error'),
                   (SELECT count(*)::int FROM quality.finding f WHERE f.round_id = p.round_id AND f.school_code = t.school_code
                                                                   AND f.status = 'open' AND f.severity = 'warning')
            FROM   training.trainee t CROSS JOIN practice p
            LEFT   JOIN exchange.sign_off so ON so.round_id = p.round_id AND so.school_code = t.school_code
            ORDER  BY t.trainee_no
            """);
        var progress = new List<TraineeProgress>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            progress.Add(new TraineeProgress(ReadTrainee(reader, 0), reader.GetBoolean(7), reader.GetInt32(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9), reader.GetInt32(10), reader.GetInt32(11)));
        }

        return progress;
    }

    private static Trainee ReadTrainee(NpgsqlDataReader reader, int at) => new(reader.GetInt32(at), reader.GetString(at + 1), reader.GetString(at + 2),
        reader.GetString(at + 3), reader.GetString(at + 4), reader.IsDBNull(at + 5) ? null : reader.GetString(at + 5), reader.IsDBNull(at + 6) ? null : reader.GetString(at + 6));
}
