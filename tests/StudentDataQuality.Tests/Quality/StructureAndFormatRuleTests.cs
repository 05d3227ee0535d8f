using StudentDataQuality.Data.Quality;
using StudentDataQuality.Identifiers;
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

    // S02

    [Theory]
    [InlineData("name", "王\uFFFD")]
    [InlineData("guardian_name", "王\uFFFD\uFFFD")]
    [InlineData("class_name", "2班\u0007")]
    [InlineData("address", "黑龙江省哈尔滨市\u0085道里区")]
    [InlineData("school_name", "哈尔滨市\u001F第一小学")]
    public async Task S02_AnUnreadableCharacter_IsOneFinding_AndTheValueIsNotJudgedAgain(string field, string value)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student((field, value))]);

        var finding = Assert.Single(found);
        Assert.Equal(("S02", field, "error", value), (finding.Rule, finding.Field, finding.Severity, finding.Value));
    }

    [Fact]
    public async Task S02_AnAddressOverItsLength_IsFound_AndOneAtItsLength_IsNot()
    {
        var atLimit = new string('路', 200);
        var over = new string('路', 201);

        var found = await RuleHarness.CheckAsync(db,
        [
            RuleHarness.Student("王小明", new DateOnly(2018, 9, 1), 2, 3, ("address", atLimit)),
            RuleHarness.Student("李小红", new DateOnly(2018, 9, 2), 4, 3, ("address", over)),
        ]);

        var finding = Assert.Single(found);
        Assert.Equal(("S02", "address", over), (finding.Rule, finding.Field, finding.Value));
    }

    [Fact]
    public async Task S02_AnEmptyOptionalField_IsNoFinding()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("household_type", ""), ("disability", " "), ("guardian_id_number", ""))]);

        Assert.Empty(found);
    }

    // S03

    [Fact]
    public async Task S03_TheSameStudentNumberTwiceInASchool_FlagsBothRows()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(), SampleExport.Student()]);

        Assert.Equal(2, found.Count);
        Assert.All(found, f => Assert.Equal(("S03", "student_no", "error"), (f.Rule, f.Field, f.Severity)));
    }

    [Fact]
    public async Task S03_ComparesNormalisedNumbers_LowerCaseAndFullWidthAreTheSameNumber()
    {
        var found = await RuleHarness.CheckAsync(db,
        [
            SampleExport.Student(),
            SampleExport.Student(("student_no", "g２３０１０２２０１８０９０１００２x")),
        ]);

        Assert.Equal(2, found.Count(f => f.Rule == "S03"));
    }

    [Fact]
    public async Task S03_DoesNotHideTheStudentNumber_FromTheFormatRules()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("student_no", "G123")), SampleExport.Student(("student_no", "G123"))]);

        Assert.Equal(2, found.Count(f => f.Rule == "S03"));
        Assert.Equal(2, found.Count(f => f.Rule == "F01"));
        Assert.False(RuleCatalog.All.Single(r => r.Id == "S03").Invalidates);
    }

    [Fact]
    public async Task S03_DifferentStudentsOfOneSchool_AreNoFinding()
    {
        var found = await RuleHarness.CheckAsync(db,
        [
            RuleHarness.Student("王小明", new DateOnly(2018, 9, 1), 2, 3),
            RuleHarness.Student("李小红", new DateOnly(2018, 9, 2), 4, 3),
        ]);

        Assert.Empty(found);
    }

    // F01

    [Theory]
    [InlineData("23010220180901002X")]
    [InlineData("G23010220180901002")]
    [InlineData("X23010220180901002X")]
    [InlineData("G2301022018090100-X")]
    public async Task F01_AStudentNumberNotGljAnd18Characters_IsFound(string studentNo)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("student_no", studentNo))]);

        var finding = Assert.Single(found, f => f.Rule == "F01");
        Assert.Equal(("student_no", studentNo), (finding.Field, finding.Value));
    }

    [Theory]
    [InlineData("g23010220180901002x")]
    [InlineData("Ｇ２３０１０２２０１８０９０１００２Ｘ")]
    [InlineData("L230102201809010001")]
    public async Task F01_ALowerCaseOrFullWidthOrTemporaryNumber_IsNoFinding(string studentNo)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("student_no", studentNo))]);

        Assert.DoesNotContain(found, f => f.Rule == "F01");
    }

    // F02, F04, F05, F12: the ID number

    [Fact]
    public async Task IdNumber_LowerCaseXAndFullWidthDigits_AreClean()
    {
        var id = ResidentId.Create("230102", new DateOnly(2018, 9, 2), 4);
        var fullWidth = string.Concat(id.Select(c => (char)(c + 0xFEE0)));

        var found = await RuleHarness.CheckAsync(db,
        [
            RuleHarness.Student("王小明", new DateOnly(2018, 9, 1), 2, 3, ("id_number", "23010220180901002x")),
            RuleHarness.Student("李小红", new DateOnly(2018, 9, 2), 4, 3, ("id_number", fullWidth)),
        ]);

        Assert.Empty(found);
    }

    [Theory]
    [InlineData("23010220180901002")]
    [InlineData("2301022018090100211")]
    [InlineData("23010220O80901002X")]
    public async Task F02_AResidentIdOfTheWrongShape_IsFound(string id)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", id))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F02", "id_number", id), (finding.Rule, finding.Field, finding.Value));
    }

    [Theory]
    [InlineData("6", "H12345678", false)]
    [InlineData("6", "H1234567890", false)]
    [InlineData("6", "H1234567", true)]
    [InlineData("7", "M12345678", false)]
    [InlineData("7", "H12345678", true)]
    [InlineData("8", "12345678", false)]
    [InlineData("8", "123456789", true)]
    [InlineData("9", "RUS123456789012", false)]
    [InlineData("9", "RU1234567890123", true)]
    [InlineData("A", "e12345678", false)]
    [InlineData("A", "ABCDEFG", true)]
    [InlineData("A", "E1234", false)]
    [InlineData("A", "E123", true)]
    public async Task F02_OtherIdTypes_HaveTheirOwnShapes(string idType, string id, bool fails)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_type", idType), ("id_number", id), ("student_no", "J230102201809010001"))]);

        Assert.Equal(fails, found.Any(f => f.Rule == "F02"));
        Assert.DoesNotContain(found, f => f.Rule is "F03" or "F04" or "F05" or "F12");
    }

    [Fact]
    public async Task F02_AnIdTypeOutsideItsList_IsF08_AndLeavesTheNumberUnjudged()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_type", "3"), ("id_number", "123"))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F08", "id_type"), (finding.Rule, finding.Field));
    }

    [Fact]
    public async Task F04_ABirthSegmentOf29FebruaryInACommonYear_IsFound_WithARightCheckCharacter()
    {
        var id = WithCheck("23010220170229002");

        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", id), ("student_no", "G" + id))]);

        var finding = Assert.Single(found, f => f.Rule is "F02" or "F03" or "F04" or "F05" or "F12");
        Assert.Equal(("F04", "id_number", id), (finding.Rule, finding.Field, finding.Value));
    }

    [Fact]
    public async Task F04_IsJudgedIndependentlyOfF03()
    {
        var id = WithCheck("23010220181301002");
        var wrong = id[..17] + (id[17] == '1' ? '2' : '1');

        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", wrong))]);

        Assert.Contains(found, f => f.Rule == "F03");
        Assert.Contains(found, f => f.Rule == "F04");
    }

    [Theory]
    [InlineData("230106")]
    [InlineData("230181")]
    public async Task F05_ARetiredRegionCode_IsAWarningOnly_AndTheIdStaysUsable(string region)
    {
        var id = ResidentId.Create(region, new DateOnly(2018, 9, 1), 2);

        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", id), ("student_no", "G" + id))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F05", "id_number", "warning", id), (finding.Rule, finding.Field, finding.Severity, finding.Value));
        Assert.False(RuleCatalog.All.Single(r => r.Id == "F05").Invalidates);
    }

    [Fact]
    public async Task F05_ARegionOfAnotherProvince_IsNoFinding()
    {
        var id = ResidentId.Create("110105", new DateOnly(2018, 9, 1), 2);

        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", id), ("student_no", "G" + id))]);

        Assert.Empty(found);
    }

    [Theory]
    [InlineData("2.30102E+17")]
    [InlineData("2.30102e+17")]
    [InlineData("2.30102E17")]
    [InlineData("2E+17")]
    public async Task F12_ScientificNotation_IsF12_NotF02(string id)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", id))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F12", "id_number", id), (finding.Rule, finding.Field, finding.Value));
    }

    [Fact]
    public async Task F12_FifteenDigitsPaddedWith000_IsF12_NotF03()
    {
        const string padded = "230102201809010000";
        Assert.False(ResidentId.HasValidCheckCharacter(padded));

        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("id_number", padded))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F12", "id_number", padded), (finding.Rule, finding.Field, finding.Value));
    }

    [Fact]
    public async Task F12_ARealIdEndingIn000_IsNoFinding()
    {
        // A female born some day in 2018 with sequence 000..., whose check character happens to be 0.
        var birth = new DateOnly(2018, 9, 1);
        while (ResidentId.Create("230102", birth, 0)[17] != '0')
        {
            birth = birth.AddDays(1);
        }

        var id = ResidentId.Create("230102", birth, 0);
        Assert.EndsWith("000", id, StringComparison.Ordinal);

        var found = await RuleHarness.CheckAsync(db, [RuleHarness.Student("王小明", birth, 0, 3)]);

        Assert.DoesNotContain(found, f => f.Rule is "F02" or "F03" or "F04" or "F05" or "F12");
    }

    // F06

    [Fact]
    public async Task F06_29FebruaryOfALeapYear_IsValid_AndOfACommonYear_IsNot()
    {
        var leap = RuleHarness.Student("王小明", new DateOnly(2016, 2, 29), 2, 5, ("birth_date", "2016-02-29"));
        var common = RuleHarness.Student("李小红", new DateOnly(2017, 2, 28), 4, 4, ("birth_date", "2017-02-29"));

        var found = await RuleHarness.CheckAsync(db, [leap, common]);

        var finding = Assert.Single(found);
        Assert.Equal(("F06", "birth_date", "2017-02-29", common[0]), (finding.Rule, finding.Field, finding.Value, finding.StudentNo));
    }

    [Theory]
    [InlineData("20011015", false)]
    [InlineData("20011014", true)]
    [InlineData("20231015", false)]
    [InlineData("20231016", true)]
    [InlineData("2018-02-30", true)]
    [InlineData("20181301", true)]
    [InlineData("2018年9月1日", false)]
    [InlineData("2018/09/01", false)]
    [InlineData("２０１８０９０１", false)]
    [InlineData("九月一日", true)]
    public async Task F06_ABirthDateMustBeRealAndBetween3And25YearsBeforeTheRoundDate(string birthDate, bool fails)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("birth_date", birthDate))]);

        Assert.Equal(fails, found.Any(f => f.Rule == "F06"));
    }

    // F07

    [Theory]
    [InlineData("202413", true)]
    [InlineData("2024-00", true)]
    [InlineData("20249", true)]
    [InlineData("2024年13月", true)]
    [InlineData("2024-09", false)]
    [InlineData("2024年9月", false)]
    [InlineData("２０２４０９", false)]
    public async Task F07_AnEntryMonthMustBeARealYearAndMonth(string entryMonth, bool fails)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("entry_month", entryMonth))]);

        Assert.Equal(fails, found.Any(f => f.Rule == "F07"));
        if (fails)
        {
            Assert.Single(found);
        }
    }

    // F08

    [Theory]
    [InlineData("ethnicity", "99")]
    [InlineData("ethnicity", "火星族")]
    [InlineData("study_mode", "3")]
    [InlineData("household_type", "3")]
    [InlineData("disability", "8")]
    [InlineData("guardian_relation", "6")]
    [InlineData("left_behind", "3")]
    [InlineData("migrant_child", "2")]
    [InlineData("nationality", "XYZ")]
    [InlineData("birthplace", "239999")]
    [InlineData("household_region", "23010")]
    [InlineData("grade", "13")]
    [InlineData("grade", "小三")]
    public async Task F08_AValueOutsideTheCodeList_IsOneFindingOnThatField(string field, string value)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student((field, value))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F08", field, value), (finding.Rule, finding.Field, finding.Value));
    }

    [Theory]
    [InlineData("ethnicity", "汉族")]
    [InlineData("ethnicity", "汉")]
    [InlineData("ethnicity", "1")]
    [InlineData("nationality", "中国")]
    [InlineData("hmt_status", "否")]
    [InlineData("study_mode", "走读")]
    [InlineData("guardian_relation", "父亲")]
    [InlineData("birthplace", " ２３０１０２ ")]
    [InlineData("household_region", "110105")]
    [InlineData("grade", "三年级")]
    [InlineData("household_type", "")]
    public async Task F08_ACodeOrNameOfTheList_IsNoFinding(string field, string value)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student((field, value))]);

        Assert.Empty(found);
    }

    // F09

    [Theory]
    [InlineData("212300001")]
    [InlineData("2122000001")]
    [InlineData("21230O0001")]
    public async Task F09_ASchoolCodeNot10DigitsOfProvince23_IsFound(string code)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("school_code", code))]);

        var finding = Assert.Single(found, f => f.Rule == "F09");
        Assert.Equal(("school_code", code), (finding.Field, finding.Value));
    }

    [Fact]
    public async Task F09_AFullWidthSchoolCode_IsNoFinding()
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("school_code", "２１２３０００００１"))]);

        Assert.Empty(found);
    }

    // F10

    [Theory]
    [InlineData("name", "王小明1")]
    [InlineData("name", "王 小明")]
    [InlineData("name", "王Li明")]
    [InlineData("name", "王@明")]
    [InlineData("name", "王")]
    [InlineData("name", "阿依古丽··买买提")]
    [InlineData("name", "·阿依古丽")]
    [InlineData("guardian_name", "王建国2")]
    [InlineData("guardian_name", "John Smith")]
    public async Task F10_ANameWithDigitsSpacesLatinMixedInOrSymbols_IsFound(string field, string name)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student((field, name))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F10", field, name), (finding.Rule, finding.Field, finding.Value));
    }

    [Theory]
    [InlineData("name", "阿依古丽·买买提")]
    [InlineData("name", " 王小明\u3000")]
    [InlineData("name", "欧阳娜娜")]
    [InlineData("guardian_name", "John·Smith")]
    [InlineData("guardian_name", "王㐀")]
    public async Task F10_ACjkOrLatinNameWithMiddleDots_IsNoFinding(string field, string name)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student((field, name))]);

        Assert.Empty(found);
    }

    // F11

    [Theory]
    [InlineData("123456789")]
    [InlineData("1391234567")]
    [InlineData("12912345678")]
    [InlineData("0451-123")]
    [InlineData("无")]
    [InlineData("139123456789")]
    [InlineData("139-1234-5678 转 2")]
    public async Task F11_APhoneThatIsNeitherMobileNorLandline_IsAWarning(string phone)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("guardian_phone", phone))]);

        var finding = Assert.Single(found);
        Assert.Equal(("F11", "guardian_phone", "warning", phone), (finding.Rule, finding.Field, finding.Severity, finding.Value));
    }

    [Theory]
    [InlineData("8613912345678")]
    [InlineData("+86 139 1234 5678")]
    [InlineData("139-1234-5678")]
    [InlineData("0451-86123456")]
    [InlineData("(0451)86123456")]
    [InlineData("１３９１２３４５６７８")]
    public async Task F11_AMobileOrLandline_WithOrWithoutCountryCodeAndSeparators_IsNoFinding(string phone)
    {
        var found = await RuleHarness.CheckAsync(db, [SampleExport.Student(("guardian_phone", phone))]);

        Assert.Empty(found);
    }

    private static string WithCheck(string first17) => first17 + ResidentId.ComputeCheckCharacter(first17);
}
