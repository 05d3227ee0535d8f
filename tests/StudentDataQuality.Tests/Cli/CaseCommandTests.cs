using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Quality;

namespace StudentDataQuality.Tests.Cli;

/// <summary>
/// sdq cases through the real program, on two generated rounds: the table of the newest round's cases with student numbers
/// masked (never in full), the summary, an audit entry cases.list; a case's history; bad options and settings refused with
/// exit 2 and a message saying what to give.
/// </summary>
public sealed class CaseCommandTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Cases_PrintsTheTableMasked_AndTheSummary_AndRefusesBadOptions()
    {
        var (name, connectionString) = await TestDatabase.CreateAsync();
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await CaseRounds.StageAsync(dataSource, _temp.Path, "cli", seed: 22, fix: false, rounds: 2);
            var expected = await new Cases(dataSource).ListAsync(Account.Operator("test"), "cli-2", new CaseFilter(), 0, Cases.MaxPageSize);
            Assert.True(expected.Total > 10, $"only {expected.Total} cases");
            var audited = await CountAsync(dataSource, "SELECT count(*) FROM audit.event WHERE action = 'cases.list'");

            // No --round: the newest round.
            var (exit, output) = await SdqProcess.RunAsync(connectionString, null, "cases", "--limit", "1000");
            Assert.True(exit == 0, output);
            Assert.Contains($"Open cases of round cli-2: {expected.Total}.", output, StringComparison.Ordinal);
            var student = expected.Rows.First(r => r.StudentNo is { Length: > 10 });
            Assert.Contains(Masking.StudentNo(student.StudentNo)!, output, StringComparison.Ordinal);
            Assert.All(expected.Rows.Where(r => r.StudentNo is { Length: > 10 }), r => Assert.DoesNotContain(r.StudentNo!, output, StringComparison.Ordinal));
            Assert.Contains($"case {student.CaseId} {student.RuleId} school {student.SchoolCode} student {Masking.StudentNo(student.StudentNo)} {student.Field} first round cli-1 2 rounds ",
                output, StringComparison.Ordinal);
            Assert.Equal(expected.Total, output.Split("owner school", StringSplitOptions.None).Length - 1);
            Assert.Contains($"{expected.Total} open cases: {expected.Total} in their second round, 0 in their third or later.", output, StringComparison.Ordinal);
            Assert.Equal(audited + 1, await CountAsync(dataSource, "SELECT count(*) FROM audit.event WHERE action = 'cases.list'"));

            // A district's older cases: none in round 2 is in its third round.
            var (older, olderOutput) = await SdqProcess.RunAsync(connectionString, null, "cases", "--round", "cli-2", "--older-than-rounds", "3");
            Assert.True(older == 0, olderOutput);
            Assert.Contains("Open cases of round cli-2: 0.", olderOutput, StringComparison.Ordinal);

            // One case's history: its finding in both rounds, masked.
            var (history, historyOutput) = await SdqProcess.RunAsync(connectionString, null, "cases", "--history", student.CaseId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(history == 0, historyOutput);
            Assert.Contains("Round cli-1 (2026-09-15): finding", historyOutput, StringComparison.Ordinal);
            Assert.Contains("Round cli-2 (2026-10-15): finding", historyOutput, StringComparison.Ordinal);
            Assert.DoesNotContain(student.StudentNo!, historyOutput, StringComparison.Ordinal);

            // Bad options and settings: exit 2, one line saying what to give, no stack trace.
            foreach (var (arguments, settings, message) in new (string[], Dictionary<string, string>?, string)[]
            {
                (["cases", "--owner", "boss"], null, "--owner takes school, district or data-team, not 'boss'."),
                (["cases", "--older-than-rounds", "0"], null, "--older-than-rounds takes a whole number of 1 or more, not '0'."),
                (["cases", "--round", "no-such-round"], null, "There is no round 'no-such-round'."),
                (["cases", "--history", "999999999"], null, "There is no case '999999999' in round cli-2. --history takes a case number"),
                (["cases"], new() { ["Cases:DistrictAfterRounds"] = "two" }, "The setting Cases:DistrictAfterRounds must be a whole number of 1 or more, not 'two'."),
            })
            {
                var (bad, badOutput) = await SdqProcess.RunAsync(connectionString, settings, arguments);
                Assert.True(bad == 2, $"{string.Join(' ', arguments)}: exit {bad}: {badOutput}");
                Assert.Contains(message, badOutput, StringComparison.Ordinal);
                Assert.DoesNotContain(" at StudentDataQuality.", badOutput, StringComparison.Ordinal);
            }
        }
        finally
        {
            await TestDatabase.DropAsync(name);
        }
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
