using StudentDataQuality.Identifiers;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Quality;

/// <summary>Passing and failing examples of the stage 3 (consistency) rules.</summary>
public sealed class ConsistencyRuleTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    private Task<IReadOnlyList<Found>> Check(params string[][] students) => RuleHarness.CheckAsync(db, students);

    [Fact]
    public async Task C01_BirthDateNotTheIdsOne_IsFound_OnTheBirthDate()
    {
        var found = await Check(SampleExport.Student(("birth_date", "20180902")));

        var finding = Assert.Single(found);
        Assert.Equal(("C01", "birth_date", "20180902"), (finding.Rule, finding.Field, finding.Value));
    }

    [Fact]
    public async Task C01_ABirthDateThatIsNotADate_IsOnlyF06_NotACascade()
    {
        var found = await Check(SampleExport.Student(("birth_date", "2018-02-30")));

        Assert.Equal(["F06"], found.Select(f => f.Rule));
    }

    [Fact]
    public async Task C02_GenderNotTheIdsParity_IsFound()
    {
        var found = await Check(SampleExport.Student(("gender", "1")));

        Assert.Equal(("C02", "gender"), (Assert.Single(found).Rule, Assert.Single(found).Field));
    }

    [Fact]
    public async Task C03_AGNumberOfAnotherId_IsAWarning()
    {
        var other = ResidentId.Create("230102", new DateOnly(2018, 9, 1), 4);
        var found = await Check(SampleExport.Student(("student_no", "G" + other)));

        var finding = Assert.Single(found);
        Assert.Equal(("C03", "student_no", "warning"), (finding.Rule, finding.Field, finding.Severity));
    }

    [Theory]
    [InlineData("2020-09-01", 1, null)]       // born on 1 September: six that very day, grade 1 fits
    [InlineData("2020-09-02", 1, null)]       // five on 1 September: one year off is allowed
    [InlineData("2019-08-31", 1, null)]
    [InlineData("2018-09-01", 1, "warning")]  // eight in grade 1: two years off
    [InlineData("2016-09-01", 1, "error")]    // ten in grade 1: four years off
    [InlineData("2016-02-29", 5, null)]       // a leap-day birthday, age ten, grade 5
    public async Task C04_AgeAgainstGrade_ToleratesOneYear_WarnsAtTwo_IsAnErrorAtFour(string birth, int grade, string? severity)
    {
        var date = DateOnly.Parse(birth, System.Globalization.CultureInfo.InvariantCulture);
        var found = await Check(RuleHarness.Student("李明", date, 11, grade));

        var c04 = found.Where(f => f.Rule == "C04").ToList();
        if (severity is null)
        {
            Assert.Empty(found);
        }
        else
        {
            Assert.Equal(severity, Assert.Single(c04).Severity);
        }
    }

    [Fact]
    public async Task C05_EntryBeforeTheAgeOfThree_IsFound()
    {
        var found = await Check(SampleExport.Student(("entry_month", "202009")));

        Assert.Contains(found, f => f.Rule == "C05" && f.Field == "entry_month");
    }

    [Fact]
    public async Task C06_EntryYearNotTheStagesOne_IsAWarning()
    {
        var found = await Check(SampleExport.Student(("entry_month", "202309")));

        var finding = Assert.Single(found);
        Assert.Equal(("C06", "warning"), (finding.Rule, finding.Severity));
    }

    [Fact]
    public async Task C07_MigrantAndLeftBehindTogether_IsFound()
    {
        var found = await Check(SampleExport.Student(("migrant_child", "1"), ("left_behind", "2")));

        Assert.Equal(("C07", "left_behind"), (Assert.Single(found).Rule, Assert.Single(found).Field));
    }

    [Fact]
    public async Task C08_AResidentIdWithHongKongStatus_IsAWarning_ButAPassportOfAForeignerIsNot()
    {
        var found = await Check(
            SampleExport.Student(("hmt_status", "1")),
            RuleHarness.Student("约翰", new DateOnly(2018, 5, 5), 13, 3, ("id_type", "A"), ("id_number", "E12345678"),
                ("student_no", "J" + ResidentId.Create("230102", new DateOnly(2018, 5, 5), 13)), ("hmt_status", "5"), ("nationality", "USA")));

        var finding = Assert.Single(found);
        Assert.Equal(("C08", "id_type"), (finding.Rule, finding.Field));
    }

    [Fact]
    public async Task C09_TheStudentsOwnIdForTheGuardian_IsAnError_AGuardianTenYearsOlder_AWarning()
    {
        var young = ResidentId.Create("230102", new DateOnly(2008, 3, 3), 15);
        var found = await Check(
            SampleExport.Student(("guardian_id_number", "23010220180901002X")),
            RuleHarness.Student("赵敏", new DateOnly(2018, 4, 4), 22, 3, ("guardian_id_number", young)));

        Assert.Equal(["error", "warning"], found.Where(f => f.Rule == "C09").Select(f => f.Severity).Order());
        Assert.Equal(2, found.Count);
    }

    [Fact]
    public async Task C10_AStudentWithoutId_IsAWarning()
    {
        var found = await Check(SampleExport.Student(("id_type", "Z"), ("id_number", ""), ("student_no", "J23010220180901002X")));

        var finding = Assert.Single(found, f => f.Rule == "C10");
        Assert.Equal("warning", finding.Severity);
        // One student of one is over 2% without an ID: the school-level A03 too, and nothing else.
        Assert.Equal(["A03", "C10"], found.Select(f => f.Rule).Order());
    }
}
