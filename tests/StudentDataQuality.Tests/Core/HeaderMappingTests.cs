using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Core;

public sealed class HeaderMappingTests
{
    [Fact]
    public void ChineseHeaders_MapToTheStudentLayout()
    {
        var mapping = HeaderMapping.Map(Layouts.Student.Fields.Select(f => f.Header).ToArray(), "x.csv");

        Assert.Same(Layouts.Student, mapping.Layout);
        Assert.Equal(Enumerable.Range(0, Layouts.Student.Fields.Count), mapping.FieldColumns);
        Assert.Empty(mapping.ExtraHeaders);
    }

    [Theory]
    [InlineData("学籍号")]
    [InlineData("全国学籍号*")]
    [InlineData(" 全国学籍号★ ")]
    [InlineData("student number")]
    [InlineData("STUDENT_NO")]
    [InlineData("Student-Number")]
    public void AlternativeHeaders_FindTheirField(string header) =>
        Assert.Equal(Layouts.Student.IndexOf("student_no"), Layouts.Student.Match(header));

    [Fact]
    public void SchoolMasterHeaders_MapToTheSchoolLayout()
    {
        var mapping = HeaderMapping.Map(["学校标识码", "学校名称", "所在区县代码", "最低年级", "最高年级", "是否开办"], "schools.csv");

        Assert.Same(Layouts.School, mapping.Layout);
    }

    [Fact]
    public void TwoColumnsForOneField_AreRefused()
    {
        var headers = Layouts.Student.Fields.Select(f => f.Header).Append("学籍号").ToArray();

        var error = Assert.Throws<UserErrorException>(() => HeaderMapping.Map(headers, "x.csv"));

        Assert.Contains("'全国学籍号' (column 1) and '学籍号' (column 28) both mean 全国学籍号", error.Message);
    }
}
