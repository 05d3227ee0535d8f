using Npgsql;
using StudentDataQuality.Data;
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
    // Fields whose text a change copies from another record (parsed again, as a correction is).
    private static readonly string[] Copied =
        ["id_number", "school_code", "student_no", "name", "birth_date", "gender", "grade", "guardian_phone", "id_type", "entry_month"];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Recheck_OfRandomChangedRecords_EqualsAFullRerun()
    {
        var (steps, changedSteps) = await RecheckAgainstFullRunsAsync("inc", RuleCatalog.All);

        Assert.All(steps, step => Assert.True(step.Differences.Length == 0, step.Differences));
        // The changes did change what is found (else the comparison proves nothing).
        Assert.True(changedSteps >= 4, $"Only {changedSteps} of 6 steps changed the findings.");
        // The stored name the duplicate rules group by is the raw name trimmed, in staged and corrected versions alike.
        Assert.Equal(0L, await ScalarAsync<long>(
            @"SELECT count(*) FROM registry.record_version WHERE name IS DISTINCT FROM btrim(name_raw, E' \t\r\n\u3000\u00a0')"));
        Assert.True(await ScalarAsync<long>("SELECT count(*) FROM registry.record_version WHERE version > 1 AND name IS NOT NULL") > 0);
    }

    [Fact]
    public async Task Recheck_DiffersFromAFullRerun_WhenADuplicateRuleForgetsItsPartners()
    {
        // X03 without its partners header: a re-check no longer looks at the other registrations of a changed ID number.
        var text = SqlScripts.Load("rules/X03.sql");
        var forgetful = RuleCatalog.Parse("rules/X03.sql", string.Join('\n', text.Split('\n').Where(line => !line.StartsWith("-- partners:", StringComparison.Ordinal))));
        Assert.Empty(forgetful.PartnerFields);
        var rules = RuleCatalog.All.Select(r => r.Id == "X03" ? forgetful : r).ToList();

        var (steps, _) = await RecheckAgainstFullRunsAsync("inc-forgetful", rules);

        Assert.Contains(steps, step => step.Differences.Contains("X03", StringComparison.Ordinal));
    }

    /// <summary>
    /// Six steps on a generated round: a random subset of records, most of them changed (one to three fields copied from
    /// other records), is re-checked, then the round is checked in full; each step's differences between the two
    /// (empty when the re-check equals the full run) and how many steps changed the findings at all.
    /// </summary>
    private async Task<(List<(int Step, string Differences)> Steps, int ChangedSteps)> RecheckAgainstFullRunsAsync(string code, IReadOnlyList<Rule> rules)
    {
        var round = await StageAsync(code, seed: 11);
        var runner = new CheckRunner(db.DataSource);
        await runner.RunAsync(round, "test", rules);
        var ids = await RecordIdsAsync(round);
        var random = new Random(20261128);
        var changedSteps = 0;
        var steps = new List<(int, string)>();
        for (var step = 0; step < 6; step++)
        {
            var before = await CurrentFindings.ReadAsync(db.DataSource, round);
            // A random subset, of which some records change (one to three fields each) and some do not.
            var subset = Enumerable.Range(0, random.Next(1, 40)).Select(_ => ids[random.Next(ids.Count)]).Distinct().ToList();
            foreach (var record in subset.Where(_ => random.NextDouble() < 0.8))
            {
                var changes = Enumerable.Range(0, random.Next(1, 4))
                    .Select(_ => (Copied[random.Next(Copied.Length)], ids[random.Next(ids.Count)])).ToList();
                await NewVersionAsync(round, record, changes);
            }

            var recheck = await runner.RecheckAsync(round, subset, "test", rules);
            var afterRecheck = await CurrentFindings.ReadAsync(db.DataSource, round);
            await runner.RunAsync(round, "test", rules);
            var afterFull = await CurrentFindings.ReadAsync(db.DataSource, round);
            steps.Add((step, afterRecheck.SetEquals(afterFull)
                ? ""
                : $"step {step} ({subset.Count} records, re-check run {recheck.RunId}): only after the re-check " +
                  $"[{string.Join("; ", afterRecheck.Except(afterFull).Take(5))}], only after the full run [{string.Join("; ", afterFull.Except(afterRecheck).Take(5))}]"));
            if (!before.SetEquals(afterFull))
            {
                changedSteps++;
            }
        }

        return (steps, changedSteps);
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
    /// Writes the next version of a record as a correction does (RecordVersions: parsed as staging parses, with the facts
    /// worked out again): each changed field takes the raw text of another record. No return stands behind it (0).
    /// </summary>
    private async Task NewVersionAsync(string round, long recordId, IReadOnlyList<(string Field, long From)> changes)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var roundId = (await RoundStore.FindAsync(connection, round))!.RoundId;
        var current = await RecordVersions.CurrentAsync(connection, [roundId], changes.Select(c => c.From).Append(recordId).Distinct().ToArray(),
            CancellationToken.None);
        var values = new Dictionary<string, string?>(current[recordId].RawValues, StringComparer.Ordinal);
        foreach (var (field, from) in changes)
        {
            values[field] = current[from].RawValues[field];
        }

        await RecordVersions.WriteAsync(connection, roundId,
            [new NextVersion(recordId, current[recordId].Version + 1, values, current[recordId].ExtraRaw, ReturnId: 0, Removed: false)],
            CancellationToken.None);
        await transaction.CommitAsync();
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
