using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Quality;

/// <summary>Passing and failing examples of the stage 1 and 2 rules.</summary>
public sealed class StructureAndFormatRuleTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task AValidStudent_HasNoFinding()
    {
        Assert.Empty(await RuleHarness.CheckAsync(db, [SampleExport.Student()]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\u3000")]
    public async Task S01_AnEmptyRequiredField_IsOneFinding_AndNothingElseAboutIt(string empty)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("guardian_phone", empty))]);

        var finding = Assert.Single(found);
        Assert.Equal(("S01", "guardian_phone", "error"), (finding.Rule, finding.Field, finding.Severity));
    }

    [Fact]
    public async Task S01_NoIdNumber_IsAllowed_OnlyForIdTypeZ()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_type", "Z"), ("id_number", ""), ("student_no", "J23010220180901002X"))]);

        Assert.DoesNotContain(found, f => f.Rule == "S01");
    }

    [Theory]
    [InlineData("23010220180901002x")]
    [InlineData("２３０１０２２０１８０９０１００２Ｘ")]
    public async Task F03_ALowerCaseXOrFullWidthDigits_AreNotAWrongCheckCharacter(string id)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", id))]);

        Assert.DoesNotContain(found, f => f.Rule == "F03");
    }

    [Fact]
    public async Task F03_AWrongCheckCharacter_IsFound_WithTheExpectedOne()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", "230102201809010021"))]);

        var finding = Assert.Single(found, f => f.Rule == "F03");
        Assert.Equal("230102201809010021", finding.Value);
    }
}
