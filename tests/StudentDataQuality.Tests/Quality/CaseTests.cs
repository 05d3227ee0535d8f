using System.Text;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Quality;

/// <summary>
/// Cases over three rounds of one generated province (the same export staged as round 1, 2 and 3, each linked to the one
/// before, the checks run after each): none after round 1; in round 2 every problem seen in both rounds is a case in its
/// second round, the school's; in round 3 the unfixed ones are in their third round, the district's, and the one fixed in
/// the export before round 3 is a closed case. The summary's counts are worked out again from the findings; a re-check in
/// round 3 leaves the cases as a full run over the same data does.
/// </summary>
public sealed class CaseTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private static readonly Account Team = Account.Operator("test");

    // The day the cases are read on (Beijing): after all three round dates.
    private static readonly DateOnly Today = new(2026, 12, 1);

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ProblemsLeftUnfixed_BecomeCases_AndEscalate_AFixedOneCloses_AndARecheckKeepsThemAsAFullRunDoes()
    {
        var cases = new Cases(db.DataSource, CaseOptions.Default, new FixedClock(Today));
        var rounds = await CaseRounds.StageAsync(db.DataSource, _temp.Path, "case", seed: 21, fix: true);

        // Round 1: nothing has survived a round yet.
        var first = await cases.ListAsync(Team, "case-1", new CaseFilter());
        Assert.Empty(first.Rows);
        Assert.Equal(0, first.Total);
        var firstSummary = await cases.SummaryAsync(Team, "case-1");
        Assert.Equal(0, firstSummary.Open);
        Assert.Equal(await DistinctOpenAsync("case-1", "first_seen_round_id = f.round_id"), firstSummary.NewThisRound);
        Assert.True(firstSummary.NewThisRound > 50, $"only {firstSummary.NewThisRound} problems in round 1");

        // Round 2: every problem open in round 2 that round 1 found too is a case, in its second round, the school's.
        var second = await AllAsync(cases, "case-2", new CaseFilter());
        var expectedSecond = await FingerprintsAsync("""
            SELECT DISTINCT f.fingerprint FROM quality.finding f JOIN registry.round r USING (round_id)
            WHERE  r.code = 'case-2' AND f.status = 'open'
              AND  EXISTS (SELECT 1 FROM quality.finding p JOIN registry.round q USING (round_id) WHERE q.code = 'case-1' AND p.fingerprint = f.fingerprint)
            """);
        Assert.True(expectedSecond.Count > 50, $"only {expectedSecond.Count} problems in both rounds");
        Assert.Equal(expectedSecond.Order(StringComparer.Ordinal), second.Select(c => c.Fingerprint).Order(StringComparer.Ordinal));
        Assert.All(second, c =>
        {
            Assert.Equal(2, c.RoundsOpen);
            Assert.Equal(CaseOwner.School, c.Owner);
            Assert.Equal("case-1", c.FirstRoundCode);
            Assert.Equal(Today.DayNumber - rounds.Dates[0].DayNumber, c.DaysOpen);
            Assert.Equal("open", c.Status);
        });
        Assert.Contains(rounds.Fixed, second.Select(c => c.Fingerprint));

        // Round 3: the unfixed ones are in their third round and the district's (escalations); the fixed one is closed.
        var third = await AllAsync(cases, "case-3", new CaseFilter());
        var open3 = third.ToDictionary(c => c.Fingerprint, StringComparer.Ordinal);
        Assert.DoesNotContain(rounds.Fixed, open3.Keys);
        var unfixed = second.Select(c => c.Fingerprint).Where(f => f != rounds.Fixed).ToList();
        var stillOpen = unfixed.Where(open3.ContainsKey).ToList();
        Assert.True(stillOpen.Count >= unfixed.Count - 5, $"{unfixed.Count - stillOpen.Count} of the unfixed cases are gone in round 3");
        Assert.All(stillOpen, f =>
        {
            Assert.Equal(3, open3[f].RoundsOpen);
            Assert.Equal(CaseOwner.District, open3[f].Owner);
            Assert.True(open3[f].Escalated);
        });
        var closed = await AllAsync(cases, "case-3", new CaseFilter(Closed: true));
        var fixedCase = Assert.Single(closed, c => c.Fingerprint == rounds.Fixed);
        Assert.Equal("not-found", fixedCase.Status);
        Assert.Equal(3, fixedCase.RoundsOpen);
        Assert.DoesNotContain(closed, c => open3.ContainsKey(c.Fingerprint));

        // The summary, worked out again from the findings read back.
        var summary = await cases.SummaryAsync(Team, "case-3");
        Assert.Equal(await DistinctOpenAsync("case-3", "first_seen_round_id = f.round_id"), summary.NewThisRound);
        Assert.Equal(await DistinctOpenAsync("case-3", "first_seen_round_id = (SELECT round_id FROM registry.round WHERE code = 'case-2')"), summary.TwoRounds);
        Assert.Equal(await DistinctOpenAsync("case-3", "first_seen_round_id = (SELECT round_id FROM registry.round WHERE code = 'case-1')"), summary.ThreeOrMoreRounds);
        Assert.Equal(third.Count, summary.Open);
        Assert.Equal(summary.ThreeOrMoreRounds, summary.ToDistrict);
        Assert.Equal(0, summary.ToDataTeam);
        Assert.Equal(closed.Count, summary.Closed);
        Assert.Equal(3.0, summary.MedianRoundsOpen);

        // --older-than-rounds 3: exactly the three-round ones; the district owner likewise.
        var old = await AllAsync(cases, "case-3", new CaseFilter(MinRoundsOpen: 3));
        Assert.Equal(third.Where(c => c.RoundsOpen >= 3).Select(c => c.Fingerprint).Order(StringComparer.Ordinal),
            old.Select(c => c.Fingerprint).Order(StringComparer.Ordinal));
        Assert.Equal(summary.ThreeOrMoreRounds, old.Count);
        Assert.Equal(old.Count, (await AllAsync(cases, "case-3", new CaseFilter(Owner: CaseOwner.District))).Count);
        Assert.Empty(await AllAsync(cases, "case-3", new CaseFilter(Owner: CaseOwner.DataTeam)));

        // A district's cases: only its schools', all of them; a district account reads its own only.
        var district = await db.ScalarAsync<string>("""
            SELECT s.district_code FROM registry.school s JOIN registry.round r USING (round_id)
            WHERE  r.code = 'case-3' AND s.district_code IS NOT NULL ORDER BY s.district_code LIMIT 1
            """);
        var schools = await FingerprintsAsync($"""
            SELECT s.school_code FROM registry.school s JOIN registry.round r USING (round_id) WHERE r.code = 'case-3' AND s.district_code = '{district}'
            """);
        var ofDistrict = await AllAsync(cases, "case-3", new CaseFilter(District: district));
        Assert.NotEmpty(ofDistrict);
        Assert.All(ofDistrict, c => Assert.Contains(c.SchoolCode!, schools));
        Assert.Equal(third.Count(c => schools.Contains(c.SchoolCode!)), ofDistrict.Count);
        var districtAccount = new Account("district-test", AccountRole.District, DistrictCode: district);
        Assert.Equal(ofDistrict.Count, (await cases.ListAsync(districtAccount, "case-3", new CaseFilter(), 0, Cases.MaxPageSize)).Total);
        await Assert.ThrowsAsync<OutOfScopeException>(() => cases.ListAsync(districtAccount, "case-3", new CaseFilter(District: "999999")));

        // Sorted by age, oldest first; paged in SQL.
        Assert.Equal(third.OrderByDescending(c => c.RoundsOpen).ThenByDescending(c => c.DaysOpen).Select(c => c.RoundsOpen), third.Select(c => c.RoundsOpen));
        var page = await cases.ListAsync(Team, "case-3", new CaseFilter(), offset: 5, limit: 5);
        Assert.Equal(third.Skip(5).Take(5).Select(c => c.Fingerprint), page.Rows.Select(c => c.Fingerprint));
        Assert.Equal(third.Count, page.Total);

        // Every read is audited.
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'cases.list'") >= 8);

        // The history of a case: its finding in each of the three rounds, oldest first, values masked.
        var withId = open3[stillOpen[0]];
        var history = await cases.HistoryAsync(Team, "case-3", withId.CaseId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["case-1", "case-2", "case-3"], history.Select(h => h.RoundCode).Distinct());
        Assert.Equal(history.Select(h => h.RoundCode).Distinct(), (await cases.HistoryAsync(Team, "case-3", withId.Fingerprint)).Select(h => h.RoundCode).Distinct());
        var missing = await Assert.ThrowsAsync<UserErrorException>(() => cases.HistoryAsync(Team, "case-3", "F03|nothing|here|id_number"));
        Assert.Equal("Cases.CaseNotFound", missing.Text!.Code);

        // Bad input: an unknown round, a count of rounds below 1.
        Assert.Equal("Cases.RoundNotFound", (await Assert.ThrowsAsync<UserErrorException>(() => cases.ListAsync(Team, "no-such'round", new CaseFilter()))).Text!.Code);
        Assert.Equal("Cases.RoundsInvalid",
            (await Assert.ThrowsAsync<UserErrorException>(() => cases.ListAsync(Team, "case-3", new CaseFilter(MinRoundsOpen: 0)))).Text!.Code);

        // Days past the round's deadline escalate as well: 31 days past, the district; 91, the data team.
        await db.ExecuteAsync("""
            INSERT INTO registry.round_run (round_id, stage, sources, output_directory, deadline, closes_on, started_by)
            SELECT round_id, 'issued', ARRAY['test'], '/tmp', @deadline, @deadline, 'test' FROM registry.round WHERE code = 'case-3'
            """, ("deadline", Today.AddDays(-31)));
        Assert.All(await AllAsync(cases, "case-3", new CaseFilter()), c => Assert.Equal(CaseOwner.District, c.Owner));
        await db.ExecuteAsync("UPDATE registry.round_run SET deadline = @deadline WHERE round_id = (SELECT round_id FROM registry.round WHERE code = 'case-3')",
            ("deadline", Today.AddDays(-91)));
        Assert.All(await AllAsync(cases, "case-3", new CaseFilter()), c => Assert.Equal(CaseOwner.DataTeam, c.Owner));
        await db.ExecuteAsync("DELETE FROM registry.round_run WHERE round_id = (SELECT round_id FROM registry.round WHERE code = 'case-3')");

        // Re-check property: corrections in round 3 (one case fixed with its clean value, others changed by copying values
        // between records), re-checked; the cases then are those a full run over the same data gives.
        var runner = new CheckRunner(db.DataSource);
        var ids = await RecordIdsAsync("case-3");
        var random = new Random(2026121);
        var initial = await SnapshotAsync(cases);
        var last = initial;
        for (var step = 0; step < 3; step++)
        {
            var subset = Enumerable.Range(0, 15).Select(_ => ids[random.Next(ids.Count)]).Distinct().ToList();
            foreach (var record in subset.Where(_ => random.NextDouble() < 0.8))
            {
                await CaseRounds.NewVersionAsync(db.DataSource, "case-3", record,
                    [(new[] { "id_number", "name", "birth_date", "gender", "grade", "guardian_phone" }[random.Next(6)], ids[random.Next(ids.Count)])]);
            }

            var caseFinding = (await db.ScalarAsync<string>("""
                SELECT f.record_id || ' ' || f.field FROM quality.finding f JOIN registry.round r USING (round_id)
                WHERE  r.code = 'case-3' AND f.status = 'open' AND f.first_seen_round_id <> f.round_id AND f.record_id IS NOT NULL
                  AND  f.field IN ('name', 'birth_date', 'guardian_phone', 'gender', 'id_number')
                ORDER  BY f.record_id OFFSET @skip LIMIT 1
                """, ("skip", step * 3))).Split(' ');
            var caseRecord = long.Parse(caseFinding[0], System.Globalization.CultureInfo.InvariantCulture);
            var clean = await db.ScalarAsync<long>("""
                SELECT c.record_id FROM registry.current_record c JOIN registry.round r USING (round_id)
                WHERE  r.code = 'case-3' AND NOT EXISTS (SELECT 1 FROM quality.finding f WHERE f.round_id = c.round_id AND f.record_id = c.record_id)
                ORDER  BY c.record_id OFFSET @skip LIMIT 1
                """, ("skip", step));
            await CaseRounds.NewVersionAsync(db.DataSource, "case-3", caseRecord, [(caseFinding[1], clean)]);
            subset.Add(caseRecord);

            await runner.RecheckAsync("case-3", subset, "test");
            var afterRecheck = await SnapshotAsync(cases);
            await runner.RunAsync("case-3", "test");
            var afterFull = await SnapshotAsync(cases);
            Assert.Equal(afterFull.Open, afterRecheck.Open);
            Assert.Equal(afterFull.Closed, afterRecheck.Closed);
            Assert.Equal(afterFull.Summary, afterRecheck.Summary);
            last = afterFull;
        }

        // The corrections did change the cases (else the comparison proves little).
        Assert.NotEqual(initial.Open, last.Open);
        Assert.NotEqual(initial.Closed, last.Closed);
    }

    private static async Task<List<CaseEntry>> AllAsync(Cases cases, string round, CaseFilter filter)
    {
        var rows = new List<CaseEntry>();
        while (true)
        {
            var page = await cases.ListAsync(Team, round, filter, rows.Count, Cases.MaxPageSize);
            rows.AddRange(page.Rows);
            if (page.Rows.Count == 0 || rows.Count >= page.Total)
            {
                return rows;
            }
        }
    }

    private async Task<(List<string> Open, List<string> Closed, CaseSummary Summary)> SnapshotAsync(Cases cases)
    {
        static string Key(CaseEntry c) => $"{c.Fingerprint} {c.Status} {c.FirstRoundCode} {c.RoundsOpen} {c.DaysOpen} {c.Owner} {c.DistrictCode}";
        var open = (await AllAsync(cases, "case-3", new CaseFilter())).Select(Key).Order(StringComparer.Ordinal).ToList();
        var closed = (await AllAsync(cases, "case-3", new CaseFilter(Closed: true))).Select(Key).Order(StringComparer.Ordinal).ToList();
        return (open, closed, await cases.SummaryAsync(Team, "case-3"));
    }

    private Task<int> DistinctOpenAsync(string round, string condition) => db.ScalarAsync<int>($"""
        SELECT count(DISTINCT f.fingerprint)::integer FROM quality.finding f JOIN registry.round r USING (round_id)
        WHERE  r.code = '{round}' AND f.status = 'open' AND f.{condition}
        """);

    private async Task<HashSet<string>> FingerprintsAsync(string sql)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var result = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    private async Task<List<long>> RecordIdsAsync(string round)
    {
        await using var command = db.DataSource.CreateCommand(
            "SELECT record_id FROM registry.current_record c JOIN registry.round r USING (round_id) WHERE r.code = @round ORDER BY 1");
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<long>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    [Fact]
    public async Task TheDailyReminders_ListEachDistrictsEscalations_AsTheCasesCountThem()
    {
        // Three rounds left unfixed: in the third, every case is the district's. The third round is open (issued, its
        // deadline ahead), as the daily job reads the rounds.
        await CaseRounds.StageAsync(db.DataSource, _temp.Path, "esc", seed: 23, fix: false);
        await db.ExecuteAsync("""
            INSERT INTO registry.round_run (round_id, stage, sources, output_directory, deadline, closes_on, contact, started_by)
            SELECT round_id, 'issued', ARRAY['-'], @out, current_date + 14, current_date + 28, '-', 'test' FROM registry.round WHERE code = 'esc-3'
            """, ("out", _temp.Path));
        var reports = Path.Combine(_temp.Path, "reports");
        Directory.CreateDirectory(reports);
        var job = new StudentDataQuality.Jobs.DailyJobs(new StudentDataQuality.Data.Rounds.RoundRuns(db.DataSource),
            new StudentDataQuality.Jobs.JobSettings { Reports = reports }, new Hangfire.BackgroundJobClient(HangfireJobs.Storage(db.ConnectionString)),
            db.DataSource);
        await job.RemindAsync(CancellationToken.None);

        var lines = (await File.ReadAllLinesAsync(Path.Combine(reports, $"escalations_{DateTime.Today:yyyy-MM-dd}.csv")))
            .Where(l => l.StartsWith("esc-3,", StringComparison.Ordinal)).ToList();
        var all = new List<CaseEntry>();
        for (CasePage page; (page = await new Cases(db.DataSource).ListAsync(Team, "esc-3", new CaseFilter(), all.Count, 1000)).Rows.Count > 0;)
        {
            all.AddRange(page.Rows);
        }

        var expected = all.Where(c => c.Owner != CaseOwner.School).GroupBy(c => c.DistrictCode ?? "")
            .OrderBy(g => g.Key.Length == 0).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"esc-3,{g.Key},{g.Count(c => c.Owner == CaseOwner.District)},{g.Count(c => c.Owner == CaseOwner.DataTeam)},{g.Max(c => c.RoundsOpen)}")
            .ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, lines);
    }
}

/// <summary>A clock stopped at noon (Beijing) of one day.</summary>
internal sealed class FixedClock(DateOnly day) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(day.ToDateTime(new TimeOnly(12, 0)), TimeSpan.FromHours(8)).ToUniversalTime();
}

/// <summary>
/// Three rounds from one generated province: its export staged as &lt;code&gt;-1, -2 and -3 (each the previous round of the
/// next), checked after each. With <c>fix</c>, one case of round 2 (a value the registrar would correct) is corrected in a
/// copy of the export before round 3, its cell rewritten to the clean value of registrar_answers.csv.
/// </summary>
internal static class CaseRounds
{
    public static readonly DateOnly[] RoundDates = [new(2026, 9, 15), new(2026, 10, 15), new(2026, 11, 15)];

    public sealed record Staged(DateOnly[] Dates, string? Fixed, GenerationResult Province);

    public static async Task<Staged> StageAsync(NpgsqlDataSource dataSource, string folder, string code, int seed, bool fix, int rounds = 3)
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 1_200, Schools = 12, Seed = seed, DefectRate = 0.08, OutputDirectory = Path.Combine(folder, code),
        });
        var service = new ExtractService(dataSource);
        var runner = new CheckRunner(dataSource);
        string? fixedFingerprint = null;
        for (var i = 1; i <= rounds; i++)
        {
            var source = province.ExportDirectory;
            if (i == 3 && fix)
            {
                (source, fixedFingerprint) = await FixOneAsync(dataSource, province, code + "-2", Path.Combine(folder, code + "-fixed"));
            }

            await service.ExtractFilesAsync(new ExtractRequest($"{code}-{i}", "test")
            {
                RoundDate = RoundDates[i - 1], PreviousRoundCode = i == 1 ? null : $"{code}-{i - 1}",
            }, [source]);
            await runner.RunAsync($"{code}-{i}", "test");
        }

        return new Staged(RoundDates, fixedFingerprint, province);
    }

    /// <summary>
    /// Copies the export and corrects, in the copy, the cell of one open case of the round: a format rule's value on a
    /// student whose row is the only one with its school and student number, set to the registrar's clean value.
    /// </summary>
    private static async Task<(string Folder, string Fingerprint)> FixOneAsync(NpgsqlDataSource dataSource, GenerationResult province, string round, string target)
    {
        var answers = RegistrarAnswers.Load(province.RegistrarAnswersPath).Values.SelectMany(a => a)
            .Where(a => a.Action == global::StudentDataQuality.Worksheets.WorksheetAction.Corrected && a.Value.Length > 0 && a.Field is not ("student_no" or "school_code")
                        && a.RuleId.StartsWith('F'))
            .ToList();
        var fields = Layouts.Student.Fields.Select(f => f.Name).ToList();
        int studentNo = fields.IndexOf("student_no"), schoolCode = fields.IndexOf("school_code");
        CopyFolder(province.ExportDirectory, target);
        foreach (var answer in answers)
        {
            var fingerprint = string.Join('|', answer.RuleId, answer.SchoolCode, answer.StudentNo, answer.Field);
            await using var command = dataSource.CreateCommand("""
                SELECT count(*) FROM quality.finding f JOIN registry.round r USING (round_id)
                WHERE  r.code = @round AND f.fingerprint = @fingerprint AND f.status = 'open' AND f.first_seen_round_id <> f.round_id
                """);
            command.Parameters.AddWithValue("round", round);
            command.Parameters.AddWithValue("fingerprint", fingerprint);
            if ((long)(await command.ExecuteScalarAsync())! != 1)
            {
                continue;
            }

            foreach (var path in Directory.GetFiles(target, "*.csv", SearchOption.AllDirectories))
            {
                var lines = File.ReadAllLines(path, new UTF8Encoding(false));
                var rows = lines.Select((line, index) => (index, cells: Split(line))).ToList();
                if (rows.Count == 0 || rows[0].cells.Count != fields.Count)
                {
                    continue;
                }

                var matching = rows.Skip(1).Where(r => r.cells.Count == fields.Count && r.cells[studentNo] == answer.StudentNo && r.cells[schoolCode] == answer.SchoolCode).ToList();
                if (matching.Count != 1 || rows.Skip(1).Count(r => r.cells.Count > studentNo && r.cells[studentNo] == answer.StudentNo) != 1)
                {
                    continue;
                }

                var (index, cells) = matching[0];
                cells[fields.IndexOf(answer.Field)] = answer.Value;
                lines[index] = string.Join(',', cells.Select(Quote));
                File.WriteAllLines(path, lines, new UTF8Encoding(false));
                return (target, fingerprint);
            }
        }

        throw new InvalidOperationException("The generated province has no case the test can fix.");
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
    }

    private static List<string> Split(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString());
        return cells;
    }

    private static string Quote(string cell) =>
        cell.AsSpan().IndexOfAny(',', '"', '\n') < 0 ? cell : "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Writes the next version of a record as a correction does: each changed field takes the raw text of another record.</summary>
    public static async Task NewVersionAsync(NpgsqlDataSource dataSource, string round, long recordId, IReadOnlyList<(string Field, long From)> changes)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
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
}
