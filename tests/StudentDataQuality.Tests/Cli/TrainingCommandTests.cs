using Npgsql;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Cli;

/// <summary>
/// sdq training through the real program, on a test database of its own as the main one (SDQ_DB): create prints the
/// practice accounts, a second create is refused, --practice without a practice round is an error saying how to make one,
/// progress prints the trainer's table, remove drops it.
/// </summary>
public sealed class TrainingCommandTests
{
    private static readonly Dictionary<string, string> Key = new() { ["Worksheets:SigningKey"] = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i + 7)).ToArray()) };

    [Fact]
    public async Task Create_PrintsTheAccounts_ASecondIsRefused_PracticeWithoutOneIsRefused_AndProgressPrintsTheTable()
    {
        var (name, connectionString) = await TestDatabase.CreateAsync();
        try
        {
            // No practice round yet: --practice on any command says so, with how to make one.
            var (none, noneOutput) = await SdqProcess.RunAsync(connectionString, Key, "user", "list", "--practice");
            Assert.Equal(2, none);
            Assert.Contains($"There is no practice round (no database {name}_practice): make one first with sdq training create --schools N", noneOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", noneOutput, StringComparison.Ordinal);

            var (created, output) = await SdqProcess.RunAsync(connectionString, Key, "training", "create", "--schools", "3", "--trainees", "2", "--seed", "5");
            Assert.True(created == 0, output);
            foreach (var account in new[] { "practice-trainer", "practice-01-school", "practice-01-district", "practice-01-teacher", "practice-02-school" })
            {
                Assert.True(output.Contains(account, StringComparison.Ordinal), output);
            }

            Assert.Contains("Beijing time", output, StringComparison.Ordinal);
            Assert.Contains("shown once", output, StringComparison.Ordinal);
            Assert.DoesNotContain("practice-03-school", output, StringComparison.Ordinal);

            // Exists: refused with exit 2, saying what to do instead.
            var (again, againOutput) = await SdqProcess.RunAsync(connectionString, Key, "training", "create", "--schools", "3");
            Assert.Equal(2, again);
            Assert.Contains($"The practice database {name}_practice exists already: sdq training reset puts it back to its start, sdq training remove deletes it.",
                againOutput, StringComparison.Ordinal);

            // --practice: the same command on the practice database (its accounts), the main one untouched.
            var (listed, listOutput) = await SdqProcess.RunAsync(connectionString, Key, "user", "list", "--practice");
            Assert.True(listed == 0, listOutput);
            Assert.Contains("practice-02-district", listOutput, StringComparison.Ordinal);
            await using (var main = NpgsqlDataSource.Create(connectionString))
            await using (var command = main.CreateCommand("SELECT (SELECT count(*) FROM access.account) + (SELECT count(*) FROM registry.round) + (SELECT count(*) FROM audit.event)"))
            {
                Assert.Equal(0L, await command.ExecuteScalarAsync());
            }

            var (progress, progressOutput) = await SdqProcess.RunAsync(connectionString, Key, "training", "progress");
            Assert.True(progress == 0, progressOutput);
            Assert.Contains("Practice round practice (3 schools, 2 trainees", progressOutput, StringComparison.Ordinal);
            Assert.Matches(@"01 \S+ practice-01-school no 0 no \d+ \d+", progressOutput);
            Assert.Matches(@"02 \S+ practice-02-school no 0 no \d+ \d+", progressOutput);

            var (removed, removedOutput) = await SdqProcess.RunAsync(connectionString, Key, "training", "remove");
            Assert.True(removed == 0, removedOutput);
            Assert.Contains($"{name}_practice, {name}_practice_start", removedOutput, StringComparison.Ordinal);
            var (nothing, nothingOutput) = await SdqProcess.RunAsync(connectionString, Key, "training", "remove");
            Assert.Equal(0, nothing);
            Assert.Contains("There is no practice round", nothingOutput, StringComparison.Ordinal);
        }
        finally
        {
            await SdqProcess.RunAsync(connectionString, Key, "training", "remove");
            await TestDatabase.DropAsync(name);
        }
    }
}
