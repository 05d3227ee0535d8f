using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// The whole round trip on a generated province: worksheets issued, edited by simulated registrars (with the Open XML SDK,
/// following the generator's registrar answers: some fix everything, some half, some nothing, some make new mistakes),
/// ingested as each school's account. Every fixed defect is resolved, every new mistake found, every removal marked, and
/// the lineage of every changed value leads from the extract row to the cell of the returned file.
/// </summary>
public sealed class RoundTripTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private const int Seed = 5;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task FixedDefectsAreResolved_NewMistakesFound_AndEveryChangedValueHasItsLineage()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "trip", students: 3_000, schools: 30);
        var answers = RegistrarAnswers.Load(scenario.Province.RegistrarAnswersPath);
        var returns = new List<(IssuedFile File, SimulatedReturn Simulated, IngestResult Result)>();
        foreach (var file in scenario.Files)
        {
            var style = RegistrarSimulator.StyleFor(file.SchoolCode, Seed, (0.4, 0.2, 0.1, 0.3));
            var simulated = RegistrarSimulator.Edit(scenario.Issued(file), answers.GetValueOrDefault(file.SchoolCode) ?? [], style, Seed);
            if (style == RegistrarStyle.Leaves)
            {
                continue;
            }

            returns.Add((file, simulated, await scenario.IngestAsync(file, simulated.Workbook)));
        }

        Assert.Contains(returns, r => r.Simulated.NewMistakes.Count > 0);
        Assert.Contains(returns, r => r.Simulated.Answers.Any(a => a.Action == WorksheetAction.RemoveRegistration));
        var lineage = new LineageReader(scenario.DataSource);
        var edits = 0;
        foreach (var (file, simulated, result) in returns)
        {
            Assert.DoesNotContain(result.Receipt.Rows, r => r.Outcome is ReceiptOutcome.Rejected or ReceiptOutcome.NotImported);
            var schoolAnswers = answers.GetValueOrDefault(file.SchoolCode) ?? [];
            var mistakes = simulated.NewMistakes.Select(m => m.StudentNo).ToHashSet();
            foreach (var answer in simulated.Answers)
            {
                var row = result.Receipt.Rows.Single(r => r.RowKey == answer.RowKey);
                var recordId = long.Parse(answer.RowKey, System.Globalization.CultureInfo.InvariantCulture);
                var open = await scenario.OpenFindingsAsync(recordId);
                switch (answer.Action)
                {
                    case WorksheetAction.Corrected:
                        Assert.True(row.Outcome is ReceiptOutcome.AppliedClean or ReceiptOutcome.AppliedStillFailing, $"{answer.StudentNo}: {row.Outcome}");
                        // Every defect the registrar corrected is gone: no open finding of a rule answered by a correction.
                        var corrected = schoolAnswers.Where(a => a.StudentNo == answer.StudentNo && a.Action == WorksheetAction.Corrected)
                            .Select(a => a.RuleId).ToHashSet();
                        Assert.DoesNotContain(open, f => corrected.Contains(f.Rule) && !simulated.NewMistakes.Any(m => m.RuleId == f.Rule && m.Field == f.Field
                            && mistakes.Contains(m.StudentNo)));
                        Assert.Equal(row.Outcome == ReceiptOutcome.AppliedClean, open.Count == 0);
                        break;
                    case WorksheetAction.RemoveRegistration:
                        Assert.Equal(ReceiptOutcome.Removed, row.Outcome);
                        Assert.Empty(open);
                        Assert.True(await scenario.ScalarAsync<bool>(
                            "SELECT registration_removed FROM registry.record WHERE record_id = @id AND is_current", ("id", recordId)));
                        break;
                    default:
                        // The explanation waits for the data team (its findings may be gone already: a duplicate's other registration removed).
                        Assert.Equal(ReceiptOutcome.AwaitingReview, row.Outcome);
                        Assert.Equal(1L, await scenario.ScalarAsync<long>(
                            "SELECT count(*) FROM exchange.explanation WHERE record_id = @id AND status = 'pending'", ("id", recordId)));
                        break;
                }
            }

            // Every new mistake is found, on the field it was made in.
            foreach (var mistake in simulated.NewMistakes)
            {
                Assert.Equal(1L, await scenario.ScalarAsync<long>("""
                    SELECT count(*) FROM quality.finding f JOIN registry.round r USING (round_id) JOIN registry.current_record c ON c.record_id = f.record_id
                    WHERE  r.code = @round AND f.status = 'open' AND f.rule_id = @rule AND f.field = @field AND c.student_no = @no AND c.school_code = @school
                    """, ("round", scenario.Round), ("rule", mistake.RuleId), ("field", mistake.Field), ("no", mistake.StudentNo), ("school", mistake.SchoolCode)));
            }

            // The lineage of every changed value: extract row → version 1 → the issued worksheet → the returned file, its cell → the version it made.
            foreach (var edit in simulated.Edits)
            {
                var recordId = long.Parse(edit.RowKey, System.Globalization.CultureInfo.InvariantCulture);
                var record = (await lineage.ReadAsync(edit.StudentNo, scenario.Round, Account.Operator("data-team"))).Single(r => r.RecordId == recordId);
                var correction = Assert.Single(record.Corrections, c => c.Field == edit.Field);
                Assert.Equal(ReturnedWorkbookReader.Normalise(edit.NewValue), correction.NewValue);
                Assert.Equal(record.Versions[0].Values[edit.Field], correction.OldValue);
                Assert.NotNull(record.Versions[0].Source);
                Assert.Equal(correction.NewValue, record.Versions.Single(v => v.Version == correction.ToVersion).Values[edit.Field]);
                var returned = Assert.Single(record.Returns, r => r.ReturnId == correction.ReturnId);
                Assert.Equal((IngestScenario.SchoolAccount(file.SchoolCode), result.Receipt.Sha256), (returned.ReceivedBy, returned.Sha256));
                Assert.Contains(record.Worksheets, w => w.WorksheetId == returned.WorksheetId && w.Sha256 == file.Sha256);
                Assert.Matches("^[A-Z]+[0-9]+$", correction.Cell);
                edits++;
            }
        }

        Assert.True(edits > 50, $"only {edits} values were changed");
        Assert.Equal((long)edits, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.correction c JOIN registry.round r USING (round_id) WHERE r.code = @round AND c.kind = 'value'", ("round", scenario.Round)));
    }
}
