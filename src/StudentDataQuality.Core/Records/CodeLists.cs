using StudentDataQuality.Reference;

namespace StudentDataQuality.Records;

/// <summary>The code lists of the student record (docs/record.md), from the national student registration system.</summary>
public static class CodeLists
{
    public static CodeList Gender { get; } = new("gender",
    [
        new("1", "男", "male"),
        new("2", "女", "female"),
    ], new Dictionary<string, string> { ["男性"] = "1", ["女性"] = "2", ["M"] = "1", ["F"] = "2" });

    public static CodeList IdType { get; } = new("id_type",
    [
        new("1", "居民身份证", "resident ID card"),
        new("6", "香港特区护照/身份证明", "Hong Kong passport or identity document"),
        new("7", "澳门特区护照/身份证明", "Macau passport or identity document"),
        new("8", "台湾居民来往大陆通行证", "Taiwan residents' mainland travel permit"),
        new("9", "境外永久居住证", "foreign permanent residence permit"),
        new("A", "护照", "passport"),
        new("Z", "无", "none"),
    ], new Dictionary<string, string> { ["身份证"] = "1", ["其他"] = "Z" });

    public static CodeList HmtStatus { get; } = new("hmt_status",
    [
        new("0", "否", "none"),
        new("1", "香港同胞", "Hong Kong compatriot"),
        new("2", "澳门同胞", "Macau compatriot"),
        new("3", "台湾同胞", "Taiwan compatriot"),
        new("4", "华侨", "overseas Chinese"),
        new("5", "外籍人士", "foreign national"),
    ], new Dictionary<string, string> { ["无"] = "0", ["非港澳台侨外"] = "0" });

    public static CodeList HouseholdType { get; } = new("household_type",
    [
        new("1", "农业户口", "agricultural"),
        new("2", "非农业户口", "non-agricultural"),
    ], new Dictionary<string, string> { ["农业"] = "1", ["非农业"] = "2" });

    public static CodeList StudyMode { get; } = new("study_mode",
    [
        new("1", "走读", "day student"),
        new("2", "住校", "boarding"),
    ], new Dictionary<string, string> { ["寄宿"] = "2" });

    public static CodeList YesNo { get; } = new("yes_no",
    [
        new("0", "否", "no"),
        new("1", "是", "yes"),
    ], new Dictionary<string, string> { ["N"] = "0", ["Y"] = "1" });

    public static CodeList LeftBehind { get; } = new("left_behind",
    [
        new("0", "非留守儿童", "not left behind"),
        new("1", "单亲外出务工", "one parent away"),
        new("2", "双亲外出务工", "both parents away"),
    ], new Dictionary<string, string> { ["否"] = "0" });

    public static CodeList Disability { get; } = new("disability",
    [
        new("0", "无残疾", "none"),
        new("1", "视力残疾", "visual"),
        new("2", "听力残疾", "hearing"),
        new("3", "言语残疾", "speech"),
        new("4", "肢体残疾", "physical"),
        new("5", "智力残疾", "intellectual"),
        new("6", "精神残疾", "mental"),
        new("7", "多重残疾", "multiple"),
    ], new Dictionary<string, string> { ["无"] = "0" });

    public static CodeList GuardianRelation { get; } = new("guardian_relation",
    [
        new("1", "父亲", "father"),
        new("2", "母亲", "mother"),
        new("3", "祖父母或外祖父母", "grandparent"),
        new("4", "其他亲属", "other relative"),
        new("5", "其他", "other"),
    ], new Dictionary<string, string> { ["父"] = "1", ["母"] = "2", ["祖父母"] = "3", ["外祖父母"] = "3" });

    /// <summary>GB 3304: two-digit codes 01–56, 97 other, 98 foreign descent.</summary>
    /// <remarks>Aliases: the name with or without 族, and 1–9 for 01–09 (a spreadsheet drops the leading zero of a number).</remarks>
    public static CodeList Ethnicity { get; } = new("ethnicity",
        ReferenceData.Ethnicities,
        ReferenceData.Ethnicities.ToDictionary(e => e.NameZh.EndsWith('族') ? e.NameZh[..^1] : e.NameZh + "族", e => e.Code)
            .Concat(Enumerable.Range(1, 9).Select(n => KeyValuePair.Create(n.ToString(System.Globalization.CultureInfo.InvariantCulture), $"0{n}")))
            .ToDictionary());

    /// <summary>ISO 3166-1 alpha-3, with the Chinese names registrars type for the most frequent ones.</summary>
    public static CodeList Nationality { get; } = new("nationality",
        ReferenceData.Countries,
        new Dictionary<string, string> { ["中国"] = "CHN", ["中华人民共和国"] = "CHN" });

    public static IReadOnlyList<CodeList> All { get; } =
        [Gender, IdType, HmtStatus, HouseholdType, StudyMode, YesNo, LeftBehind, Disability, GuardianRelation, Ethnicity, Nationality];
}
