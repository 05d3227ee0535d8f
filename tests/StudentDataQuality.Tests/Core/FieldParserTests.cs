using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Core;

public sealed class FieldParserTests
{
    private static RegistryField Field(string name) => Layouts.Student.Fields[Layouts.Student.IndexOf(name)];

    [Theory]
    [InlineData("20180901", 2018, 9, 1)]
    [InlineData("2018-09-01", 2018, 9, 1)]
    [InlineData("2018/9/1", 2018, 9, 1)]
    [InlineData(" 2016-02-29 ", 2016, 2, 29)]
    [InlineData("２０１８０９０１", 2018, 9, 1)]
    [InlineData("2018年9月1日", 2018, 9, 1)]
    public void Dates_InTheFormsRegistrarsWrite_Parse(string raw, int year, int month, int day) =>
        Assert.Equal(new DateOnly(year, month, day), FieldParser.Parse(Field("birth_date"), raw));

    [Theory]
    [InlineData("20170229")]
    [InlineData("2018-13-01")]
    [InlineData("2018-02-30")]
    [InlineData("43344")]
    [InlineData("2018.9")]
    [InlineData("")]
    public void NotARealDate_IsNull(string raw) => Assert.Null(FieldParser.Parse(Field("birth_date"), raw));

    [Theory]
    [InlineData("3", 3)]
    [InlineData("03", 3)]
    [InlineData("三年级", 3)]
    [InlineData("初一", 7)]
    [InlineData("七年级", 7)]
    [InlineData("初三", 9)]
    [InlineData("高一", 10)]
    [InlineData("高三", 12)]
    [InlineData("１２", 12)]
    public void Grades_InEveryWrittenForm_Parse(string raw, short grade) => Assert.Equal(grade, FieldParser.Parse(Field("grade"), raw));

    [Theory]
    [InlineData("0")]
    [InlineData("13")]
    [InlineData("初四")]
    [InlineData("幼儿园")]
    public void GradesOutsideOneToTwelve_AreNull(string raw) => Assert.Null(FieldParser.Parse(Field("grade"), raw));

    [Theory]
    [InlineData("gender", "男", "1")]
    [InlineData("gender", "2", "2")]
    [InlineData("ethnicity", "汉族", "01")]
    [InlineData("ethnicity", "蒙古", "02")]
    [InlineData("ethnicity", "97", "97")]
    [InlineData("nationality", "chn", "CHN")]
    [InlineData("nationality", "中国", "CHN")]
    [InlineData("id_type", "a", "A")]
    [InlineData("guardian_relation", "母亲", "2")]
    public void CodedValues_ByCodeOrName_GiveTheCode(string field, string raw, string code) => Assert.Equal(code, FieldParser.Parse(Field(field), raw));

    [Theory]
    [InlineData("gender", "3")]
    [InlineData("ethnicity", "57")]
    [InlineData("nationality", "XYZ")]
    [InlineData("id_type", "2")]
    public void CodedValuesOutsideTheirList_AreNull(string field, string raw) => Assert.Null(FieldParser.Parse(Field(field), raw));

    [Fact]
    public void Identifiers_AreFoldedAndUpperCased_AndRecordedAsNormalised()
    {
        var field = Field("id_number");

        Assert.Equal("11010519491231002X", FieldParser.Parse(field, " １１０１０５１９４９１２３１００２ｘ "));
        Assert.True(FieldParser.IsNormalised(field, "11010519491231002x"));
        Assert.True(FieldParser.IsNormalised(field, "１１０１０５１９４９１２３１００２X"));
        Assert.False(FieldParser.IsNormalised(field, " 11010519491231002X "));
    }

    [Theory]
    [InlineData("2024-09", 2024, 9)]
    [InlineData("202409", 2024, 9)]
    [InlineData("2024年9月", 2024, 9)]
    public void EntryMonths_ParseToTheFirstOfTheMonth(string raw, int year, int month) =>
        Assert.Equal(new DateOnly(year, month, 1), FieldParser.Parse(Field("entry_month"), raw));

    [Theory]
    [InlineData("139 1234 5678", "13912345678")]
    [InlineData("0451-86668888", "045186668888")]
    [InlineData("(0451)86668888", "045186668888")]
    public void Phones_KeepTheirDigits(string raw, string digits) => Assert.Equal(digits, FieldParser.Parse(Field("guardian_phone"), raw));

    [Fact]
    public void APhoneWithLetters_IsNull() => Assert.Null(FieldParser.Parse(Field("guardian_phone"), "139-1234-567x"));

    [Fact]
    public void Flags_AcceptCodesAndWords()
    {
        Assert.Equal(true, FieldParser.Parse(Field("migrant_child"), "是"));
        Assert.Equal(false, FieldParser.Parse(Field("migrant_child"), "0"));
        Assert.Null(FieldParser.Parse(Field("migrant_child"), "2"));
    }
}
