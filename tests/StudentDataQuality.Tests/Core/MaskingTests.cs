using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Tests.Core;

/// <summary>The one masking policy: each kind of value, blank values, masked values, and never more shown than the rule says.</summary>
public sealed class MaskingTests
{
    [Theory]
    [InlineData("230102201503020441", "230102********0441")] // 18-digit resident ID
    [InlineData("23010220150302123X", "230102********123X")] // with its check character X
    [InlineData(" 23010220150302123x ", "230102********123x")] // as typed, trimmed
    [InlineData("230102150302123", "230102*****2123")] // 15-digit (first generation)
    [InlineData("E12345678", "E******78")] // a passport
    [InlineData("H1234567", "H*****67")] // a Hong Kong / Macao permit
    [InlineData("12345", "*****")]
    [InlineData("", "")]
    [InlineData(null, null)]
    public void IdNumber(string? value, string? masked) => Assert.Equal(masked, Masking.IdNumber(value));

    [Theory]
    [InlineData("13812345678", "138****5678")] // a mobile
    [InlineData("+86 138 1234 5678", "138****5678")]
    [InlineData("0451-8765432", "0451-***5432")] // a landline with its area code
    [InlineData("010-12345678", "010-****5678")]
    [InlineData("04518765432", "045****5432")] // a landline without the dash
    [InlineData("8765432", "***5432")] // a local number
    [InlineData("123", "***")]
    [InlineData(null, null)]
    public void Phone(string? value, string? masked) => Assert.Equal(masked, Masking.Phone(value));

    [Theory]
    [InlineData("G230102201503020441", "G230102********0441")]
    [InlineData("L230102201503020441", "L230102********0441")]
    [InlineData("J2301000001000123", "J230100******0123")]
    public void StudentNo(string value, string masked) => Assert.Equal(masked, Masking.StudentNo(value));

    [Theory]
    [InlineData("id_number", MaskKind.IdNumber)]
    [InlineData("guardian_id_number", MaskKind.IdNumber)]
    [InlineData("student_no", MaskKind.StudentNo)]
    [InlineData("guardian_phone", MaskKind.Phone)]
    [InlineData("name", MaskKind.None)]
    [InlineData("guardian_name", MaskKind.None)]
    [InlineData("address", MaskKind.None)]
    public void Fields_HaveTheirKind(string field, MaskKind kind) => Assert.Equal(kind, Masking.KindOf(field));

    [Fact]
    public void Names_AreShownInFull() => Assert.Equal("张小明", Masking.Field("name", "张小明"));

    [Fact]
    public void MaskingAMaskedValue_ChangesNothing()
    {
        foreach (var (kind, value) in new[] { (MaskKind.IdNumber, "23010220150302123X"), (MaskKind.IdNumber, "E12345678"), (MaskKind.Phone, "13812345678"),
                     (MaskKind.Phone, "0451-8765432"), (MaskKind.StudentNo, "G230102201503020441") })
        {
            var once = Masking.Mask(kind, value);
            Assert.Equal(once, Masking.Mask(kind, once));
        }
    }

    [Fact]
    public void ARandomResidentId_ShowsOnlyItsRegionAndLastFour()
    {
        var random = new Random(19);
        for (var i = 0; i < 500; i++)
        {
            var id = string.Concat(Enumerable.Range(0, 17).Select(_ => (char)('0' + random.Next(10)))) + "0123456789X"[random.Next(11)];
            var masked = Masking.IdNumber(id)!;
            Assert.Equal(id.Length, masked.Length);
            Assert.Equal(id[..6], masked[..6]);
            Assert.Equal(id[^4..], masked[^4..]);
            Assert.All(masked[6..^4], c => Assert.Equal('*', c));
        }
    }
}
