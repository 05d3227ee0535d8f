using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Quality;

/// <summary>
/// The rules that compare with the previous round, in a round that has none. The rule cases (RuleCaseTests) share one
/// round that has a previous round, so this is the one example of a rule kept as code: it needs a round of its own.
/// </summary>
public sealed class FirstRoundRuleTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task T_And_A02_WithoutAPreviousRound_FindNothing()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student()]);

        Assert.DoesNotContain(found, f => f.Rule is "T01" or "T02" or "T03" or "A02");
    }
}
