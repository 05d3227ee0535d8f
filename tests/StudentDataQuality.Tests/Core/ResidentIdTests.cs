using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Tests.Core;

public sealed class ResidentIdTests
{
    [Fact]
    public void WorkedExampleOfTheStandard_IsValid_FemaleBornOn1949_12_31()
    {
        const string id = "11010519491231002X";

        Assert.True(ResidentId.HasValidCheckCharacter(id));
        Assert.Equal(new DateOnly(1949, 12, 31), ResidentId.BirthDate(id));
        Assert.Equal(2, ResidentId.GenderCode(id));
        Assert.Equal('X', ResidentId.ComputeCheckCharacter(id.AsSpan(0, 17)));
    }

    [Theory]
    [InlineData("110105194912310021")]
    [InlineData("11010519491231002")]
    [InlineData("1101051949123100XX")]
    [InlineData("11010519491231002x")]
    public void WrongCheckCharacterOrShape_IsNotValid(string id) => Assert.False(ResidentId.HasValidCheckCharacter(id));

    [Theory]
    [InlineData("230102", 2016, 2, 29)]
    [InlineData("230102", 2018, 9, 1)]
    [InlineData("652801", 2010, 12, 31)]
    public void Create_GivesANumberThatValidatesAndCarriesItsParts(string region, int year, int month, int day)
    {
        var birth = new DateOnly(year, month, day);
        var id = ResidentId.Create(region, birth, 137);

        Assert.True(ResidentId.HasValidCheckCharacter(id));
        Assert.Equal(birth, ResidentId.BirthDate(id));
        Assert.Equal(1, ResidentId.GenderCode(id));
        Assert.StartsWith(region, id, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("230102201502290017")]
    [InlineData("230102201513010017")]
    [InlineData("230102201504310017")]
    public void BirthSegmentThatIsNotARealDate_HasNoBirthDate(string id) => Assert.Null(ResidentId.BirthDate(id));
}
