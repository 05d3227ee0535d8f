using Npgsql;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Quality;

/// <summary>
/// Re-checking some records (after corrections gave them new versions) against a full re-run of the same data: the
/// round's current findings must be the same, whatever records changed and however. The changes copy values between
/// records of the generated province, so they make and break duplicates across schools, move students between
/// schools, and fix or spoil single values.
/// </summary>
public sealed class IncrementalRecheckTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    // Fields whose value a change copies from another record (raw and typed together, as staging would have written
    // them). Text fields have only their raw column.
    private static readonly string[] Copied =
        ["id_number", "school_code", "student_no", "name", "birth_date", "gender", "grade", "guardian_phone", "id_type", "entry_month"];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Recheck_OfRandomChangedRecords_EqualsAFullRerun()
    {
        var round = await StageAsync("inc", seed: 11);
        var runner = new CheckRunner(db.DataSource);
        await runner.RunAsync(round, "test");
        var ids = await RecordIdsAsync(round);
        var random = new Random(20261128);
        var changedSteps = 0;
        for (var step = 0; step < 6; step++)
        {
            var before = await CurrentFindingsAsync(round);
            // A random subset, of which some records change (one to three fields each) and some do not.
            var subset = Enumerable.Range(0, random.Next(1, 40)).Select(_ => ids[random.Next(ids.Count)]).Distinct().ToList();
            foreach (var record in subset.Where(_ => random.NextDouble() < 0.8))
            {
                var changes = Enumerable.Range(0, random.Next(1, 4))
                    .Select(_ => (Copied[random.Next(Copied.Length)], ids[random.Next(ids.Count)])).ToList();
                await NewVersionAsync(round, record, changes);
            }

            var recheck = await runner.RecheckAsync(round, subset, "test");
            var afterRecheck = await CurrentFindingsAsync(round);
            await runner.RunAsync(round, "test");
            var afterFull = await CurrentFindingsAsync(round);

            Assert.True(afterRecheck.Count > 0);
            changedSteps += afterRecheck.SetEquals(before) ? 0 : 1;
            Assert.True(afterFull.SetEquals(afterRecheck),
                $"Step {step}, {subset.Count} records re-checked (run {recheck.RunId}): only after the re-check " +
                $"[{string.Join("; ", afterRecheck.Except(afterFull).Take(5))}], only after the full run [{string.Join("; ", afterFull.Except(afterRecheck).Take(5))}]");
        }

        // The changes did change what is found (else the comparison proves nothing).
        Assert.True(changedSteps >= 4, $"Only {changedSteps} of 6 steps changed the findings.");
    }

    [Fact]
    public async Task Recheck_ResolvesAFixedProblem_AndKeepsAConfirmedOneConfirmed()
    {
        var round = await StageAsync("inc-status", seed: 12);
        var runner = new CheckRunner(db.DataSource);
        await runner.RunAsync(round, "test");
        // A record with an F10 name problem gets the name of a record without any finding; another finding is confirmed.
        var (badRecord, badFinding) = await FirstAsync<long, long>(
            "SELECT record_id, finding_id FROM quality.finding f JOIN registry.round r USING (round_id) WHERE r.code = @round AND f.rule_id = 'F10' AND f.field = 'name' AND f.status = 'open' ORDER BY 1 LIMIT 1",
            round);
        var (cleanRecord, _) = await FirstAsync<long, long>("""
            SELECT c.record_id, 0::bigint FROM registry.current_record c JOIN registry.round r USING (round_id)
            WHERE  r.code = @round AND NOT EXISTS (SELECT 1 FROM quality.finding f WHERE f.record_id = c.record_id)
            ORDER  BY 1 LIMIT 1
            """, round);
        var (confirmedRecord, confirmed) = await FirstAsync<long, long>(
            "SELECT record_id, finding_id FROM quality.finding f JOIN registry.round r USING (round_id) WHERE r.code = @round AND f.rule_id = 'C04' AND f.status = 'open' ORDER BY 1 LIMIT 1",
            round);
        await ExecuteAsync("UPDATE quality.finding SET status = 'confirmed' WHERE finding_id = @id", ("id", confirmed));
        await NewVersionAsync(round, badRecord, [("name", cleanRecord)]);

        await runner.RecheckAsync(round, [badRecord, confirmedRecord], "test");

        Assert.Equal("resolved", await ScalarAsync<string>("SELECT status FROM quality.finding WHERE finding_id = @id", ("id", badFinding)));
        Assert.Equal(0L, await ScalarAsync<long>(
            "SELECT count(*) FROM quality.finding WHERE record_id = @id AND rule_id = 'F10' AND field = 'name' AND status = 'open'", ("id", badRecord)));
        // The confirmed problem was found again: the old finding is superseded by a new one that is still confirmed.
        Assert.Equal("superseded", await ScalarAsync<string>("SELECT status FROM quality.finding WHERE finding_id = @id", ("id", confirmed)));
        Assert.Equal(1L, await ScalarAsync<long>(
            "SELECT count(*) FROM quality.finding WHERE record_id = @id AND rule_id = 'C04' AND status = 'confirmed'", ("id", confirmedRecord)));
        Assert.Equal("records", await ScalarAsync<string>("SELECT scope FROM quality.check_run ORDER BY run_id DESC LIMIT 1"));
    }

    private async Task<string> StageAsync(string code, int seed)
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 2_500, Schools = 25, Seed = seed, DefectRate = 0.08, Previous = true, OutputDirectory = Path.Combine(_temp.Path, code),
        });
        var service = new ExtractService(db.DataSource);
        await service.ExtractFilesAsync(new ExtractRequest(code + "-previous", "test") { RoundDate = province.PreviousRoundDate }, [province.PreviousExportDirectory!]);
        await service.ExtractFilesAsync(new ExtractRequest(code, "test") { RoundDate = new DateOnly(2026, 10, 15), PreviousRoundCode = code + "-previous" },
            [province.ExportDirectory]);
        return code;
    }

    private async Task<List<long>> RecordIdsAsync(string round)
    {
        var ids = new List<long>();
        await using var command = db.DataSource.CreateCommand(
            "SELECT record_id FROM registry.current_record c JOIN registry.round r USING (round_id) WHERE r.code = @round ORDER BY 1");
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    /// <summary>
    /// Writes the next version of a record, as a correction would: each changed field takes the value (raw and typed)
    /// of another record, and the identity facts are worked out again.
    /// </summary>
    private async Task NewVersionAsync(string round, long recordId, IReadOnlyList<(string Field, long From)> changes)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Execute(connection, """
            CREATE TEMP TABLE next_version ON COMMIT DROP AS
            SELECT v.* FROM registry.record_version v JOIN registry.round r USING (round_id)
            WHERE  r.code = @round AND v.record_id = @id AND v.is_current;
            UPDATE registry.record_version v SET is_current = false
            FROM   registry.round r WHERE r.round_id = v.round_id AND r.code = @round AND v.record_id = @id AND v.is_current;
            UPDATE next_version SET version = version + 1, file_id = NULL, sheet_no = NULL, row_no = NULL;
            """, ("round", round), ("id", recordId));
        foreach (var (field, from) in changes)
        {
            // Field names come from the fixed list above.
            var columns = field == "name" ? "name_raw" : $"{field}_raw, {field}";
            await Execute(connection, $"""
                UPDATE next_version n SET ({columns}) = (SELECT {columns} FROM registry.record_version v
                                                          WHERE v.round_id = n.round_id AND v.record_id = @from AND v.version = 1)
                """, ("from", from));
        }

        await Execute(connection, """
            UPDATE next_version
            SET    id_number_check_ok = CASE WHEN quality.id_shape_ok(id_number) THEN quality.id_check_ok(id_number) END,
                   id_number_birth = quality.id_birth_date(id_number);
            INSERT INTO registry.record_version SELECT * FROM next_version;
            INSERT INTO registry.record_head (round_id, record_id, current_version)
            SELECT round_id, record_id, version FROM next_version
            ON CONFLICT (round_id, record_id) DO UPDATE SET current_version = excluded.current_version;
            """);
        await transaction.CommitAsync();
    }

    /// <summary>The round's current findings (open or confirmed), as comparable text.</summary>
    private async Task<HashSet<string>> CurrentFindingsAsync(string round)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var command = db.DataSource.CreateCommand("""
            SELECT concat_ws('|', f.rule_id, f.record_id, f.record_version, f.school_code, f.student_no, f.field, f.value, f.detail, f.severity,
                             f.status, f.first_seen_round_id)
            FROM   quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = @round AND f.status IN ('open', 'confirmed')
            """);
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            Assert.True(found.Add(reader.GetString(0)), $"The same finding is current twice: {reader.GetString(0)}");
        }

        return found;
    }

    private async Task<(T1, T2)> FirstAsync<T1, T2>(string sql, string round)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "The generated province lacks the example the test needs.");
        return (reader.GetFieldValue<T1>(0), reader.GetFieldValue<T2>(1));
    }

    private async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await Execute(connection, sql, parameters);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }
}
