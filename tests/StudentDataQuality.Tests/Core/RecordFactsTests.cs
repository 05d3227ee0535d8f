using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Core;

/// <summary>
/// The facts a record version carries about its own values (RecordFacts): the definitions the rules S01, S02, F01, F09,
/// F10 and F11 read instead of testing text per row. The ground-truth and rule tests check the rules end to end; these
/// pin each definition's edges.
/// </summary>
public sealed class RecordFactsTests
{
    private static readonly RecordLayout Layout = Layouts.Student;

    /// <summary>The facts of a valid record with some fields' raw texts replaced (parsed as staging parses them).</summary>
    private static RecordFacts Facts(params (string Field, string? Raw)[] changes)
    {
        var raw = Layout.Fields.Select(f => (string?)Valid[f.Name]).ToArray();
        foreach (var (field, value) in changes)
        {
            raw[Layout.IndexOf(field)] = value;
        }

        var typed = Layout.Fields.Select((f, i) => f.HasTypedColumn ? FieldParser.Parse(f, raw[i]) : null).ToArray();
        return RecordFacts.Of(raw, typed);
    }

    private static readonly Dictionary<string, string> Valid = new()
    {
        ["student_no"] = "G11010519491231002X", ["school_code"] = "2123000001", ["school_name"] = "第一小学", ["name"] = "张三",
        ["gender"] = "1", ["birth_date"] = "20180901", ["birthplace"] = "230102", ["nationality"] = "CHN", ["ethnicity"] = "01",
        ["id_type"] = "1", ["id_number"] = "11010519491231002X", ["hmt_status"] = "0", ["household_region"] = "230102",
        ["household_type"] = "1", ["grade"] = "3", ["class_name"] = "3班", ["entry_month"] = "202409", ["study_mode"] = "1",
        ["only_child"] = "0", ["migrant_child"] = "0", ["left_behind"] = "0", ["disability"] = "0", ["guardian_name"] = "张大山",
        ["guardian_relation"] = "1", ["guardian_phone"] = "13912345678", ["guardian_id_number"] = "", ["address"] = "哈尔滨市南岗区",
    };

    [Fact]
    public void AValidRecord_HasNoBlankOrBadField_AndEveryShapeHolds()
    {
        var facts = Facts();

        Assert.Equal(["guardian_id_number"], facts.BlankFields!);
        Assert.Null(facts.BadTextFields);
        Assert.True(facts.StudentNoShapeOk);
        Assert.True(facts.SchoolCodeShapeOk);
        Assert.True(facts.NameShapeOk);
        Assert.True(facts.GuardianNameShapeOk);
        Assert.True(facts.GuardianPhoneOk);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" \t\u3000\u00a0")]
    public void MissingOrWhiteSpace_IsBlank_AndNotBadText(string? raw)
    {
        var facts = Facts(("address", raw));

        Assert.Contains("address", facts.BlankFields!);
        Assert.DoesNotContain("address", facts.BadTextFields ?? []);
    }

    [Theory]
    [InlineData("张\u0001三")]
    [InlineData("张\ufffd")]
    [InlineData("张\u0085三")]
    [InlineData("张三张三张三张三张三张三张三张三张三张三张三张三张三张三张三张")]
    public void AControlOrReplacementCharacter_OrTooLong_IsBadText(string name)
    {
        var facts = Facts(("name", name));

        Assert.Equal(["name"], facts.BadTextFields!);
    }

    [Fact]
    public void Length_CountsUtf16CodeUnits_AsTheLimitsDo()
    {
        // 15 characters outside the BMP are 30 code units: within the name's 30; one more is over.
        var fifteen = string.Concat(Enumerable.Repeat("\U00020000", 15));

        Assert.Null(Facts(("name", fifteen)).BadTextFields);
        Assert.Equal(["name"], Facts(("name", fifteen + "\U00020000")).BadTextFields!);
    }

    [Theory]
    [InlineData("G11010519491231002X", true)]
    [InlineData("L2301022018090100AB", true)]
    [InlineData("g11010519491231002x", true)]
    [InlineData("X11010519491231002X", false)]
    [InlineData("G11010519491231002", false)]
    [InlineData("G1101051949123100-X", false)]
    public void StudentNumber_Shape(string raw, bool ok) => Assert.Equal(ok, Facts(("student_no", raw)).StudentNoShapeOk);

    [Theory]
    [InlineData("2123000001", true)]
    [InlineData("212300000", false)]
    [InlineData("21230000011", false)]
    public void SchoolCode_IsTenDigits_WhateverTheProvince(string raw, bool ok) => Assert.Equal(ok, Facts(("school_code", raw)).SchoolCodeShapeOk);

    [Fact]
    public void NoStudentNumberOrSchoolCode_HasNoShape()
    {
        var facts = Facts(("student_no", ""), ("school_code", null));

        Assert.Null(facts.StudentNoShapeOk);
        Assert.Null(facts.SchoolCodeShapeOk);
    }

    [Theory]
    [InlineData("张三", true)]
    [InlineData(" 张三 ", true)]
    [InlineData("阿依古丽·买买提", true)]
    [InlineData("Anna·Smith", true)]
    [InlineData("张", false)]
    [InlineData("张3", false)]
    [InlineData("张 三", false)]
    [InlineData("张San", false)]
    [InlineData("张三·", false)]
    [InlineData("·张三", false)]
    [InlineData("张··三", false)]
    [InlineData("\U00020000\U00020001", false)]
    public void Name_Shape(string raw, bool ok)
    {
        Assert.Equal(ok, Facts(("name", raw)).NameShapeOk);
        Assert.Equal(ok, Facts(("guardian_name", raw)).GuardianNameShapeOk);
    }

    [Theory]
    [InlineData(" 张三\u3000", "张三")]
    [InlineData("\t王 小明\u00a0\r\n", "王 小明")]
    [InlineData("\u3000 ", "")]
    [InlineData(null, null)]
    public void Name_IsTheReceivedTextTrimmed_AsTheViewsTrimIt(string? raw, string? name) => Assert.Equal(name, Facts(("name", raw)).Name);

    [Fact]
    public void ABlankName_HasNoShape() => Assert.Null(Facts(("name", "\u3000")).NameShapeOk);

    [Theory]
    [InlineData("13912345678", true)]
    [InlineData("139-1234-5678", true)]
    [InlineData("+86 139 1234 5678", true)]
    [InlineData("8613912345678", true)]
    [InlineData("0451-82345678", true)]
    [InlineData("010-2345678", true)]
    [InlineData("(0451)2345678", true)]
    [InlineData("12912345678", false)]
    [InlineData("1391234567", false)]
    [InlineData("0451-123", false)]
    [InlineData("0451-12345678", false)]
    [InlineData("无", false)]
    public void GuardianPhone_IsAMobileOrALandline(string raw, bool ok) => Assert.Equal(ok, Facts(("guardian_phone", raw)).GuardianPhoneOk);

    [Fact]
    public void ABlankPhone_IsNotJudged() => Assert.Null(Facts(("guardian_phone", " ")).GuardianPhoneOk);
}
