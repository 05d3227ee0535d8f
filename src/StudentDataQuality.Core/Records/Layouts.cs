namespace StudentDataQuality.Records;

/// <summary>The file layouts the system reads and writes (docs/record.md).</summary>
public static class Layouts
{
    private static RegistryField F(string name, string english, string[] chinese, FieldKind kind, bool required, int maxLength,
        CodeList? codes = null) => new(name, english, chinese, kind, required, maxLength, codes);

    /// <summary>One row of a registry export: the student record.</summary>
    public static RecordLayout Student { get; } = new("student",
    [
        F("student_no", "Student number", ["全国学籍号", "学籍号"], FieldKind.Identifier, true, 19),
        F("school_code", "School code", ["学校标识码"], FieldKind.Identifier, true, 10),
        F("school_name", "School name", ["学校名称"], FieldKind.Text, false, 100),
        F("name", "Name", ["姓名"], FieldKind.Text, true, 30),
        F("gender", "Gender", ["性别"], FieldKind.Code, true, 10, CodeLists.Gender),
        F("birth_date", "Birth date", ["出生日期"], FieldKind.Date, true, 20),
        F("birthplace", "Birthplace", ["出生地"], FieldKind.Region, true, 20),
        F("nationality", "Nationality", ["国籍/地区", "国籍"], FieldKind.Code, true, 40, CodeLists.Nationality),
        F("ethnicity", "Ethnicity", ["民族"], FieldKind.Code, true, 20, CodeLists.Ethnicity),
        F("id_type", "ID type", ["身份证件类型"], FieldKind.Code, true, 30, CodeLists.IdType),
        F("id_number", "ID number", ["身份证件号", "身份证号"], FieldKind.Identifier, true, 30),
        F("hmt_status", "HMT status", ["港澳台侨外"], FieldKind.Code, true, 20, CodeLists.HmtStatus),
        F("household_region", "Household region", ["户口所在地"], FieldKind.Region, true, 20),
        F("household_type", "Household type", ["户口性质"], FieldKind.Code, false, 20, CodeLists.HouseholdType),
        F("grade", "Grade", ["年级"], FieldKind.Grade, true, 10),
        F("class_name", "Class", ["班级"], FieldKind.Text, true, 30),
        F("entry_month", "Entry month", ["入学年月"], FieldKind.YearMonth, true, 20),
        F("study_mode", "Study mode", ["就读方式"], FieldKind.Code, true, 10, CodeLists.StudyMode),
        F("only_child", "Only child", ["是否独生子女"], FieldKind.Flag, false, 10, CodeLists.YesNo),
        F("migrant_child", "Migrant child", ["是否进城务工人员随迁子女"], FieldKind.Flag, true, 10, CodeLists.YesNo),
        F("left_behind", "Left behind", ["留守儿童"], FieldKind.Code, true, 20, CodeLists.LeftBehind),
        F("disability", "Disability", ["残疾类型"], FieldKind.Code, false, 20, CodeLists.Disability),
        F("guardian_name", "Guardian name", ["监护人姓名"], FieldKind.Text, true, 30),
        F("guardian_relation", "Guardian relation", ["监护人关系"], FieldKind.Code, true, 20, CodeLists.GuardianRelation),
        F("guardian_phone", "Guardian phone", ["监护人联系电话"], FieldKind.Phone, true, 20),
        F("guardian_id_number", "Guardian ID number", ["监护人身份证件号"], FieldKind.Identifier, false, 30),
        F("address", "Address", ["家庭住址"], FieldKind.Text, true, 200),
    ]);

    /// <summary>
    /// The school master: which schools exist, in which county, which grades they offer, and whether they are open.
    /// </summary>
    public static RecordLayout School { get; } = new("school",
    [
        F("school_code", "School code", ["学校标识码"], FieldKind.Identifier, true, 10),
        F("school_name", "School name", ["学校名称"], FieldKind.Text, true, 100),
        F("district_code", "District code", ["所在区县代码", "区县代码"], FieldKind.Region, true, 6),
        F("district_name", "District name", ["所在区县", "区县名称"], FieldKind.Text, false, 50),
        F("min_grade", "Min grade", ["最低年级"], FieldKind.Grade, true, 10),
        F("max_grade", "Max grade", ["最高年级"], FieldKind.Grade, true, 10),
        F("is_open", "Open", ["是否开办"], FieldKind.Flag, true, 10, CodeLists.YesNo),
    ]);

    public static IReadOnlyList<RecordLayout> All { get; } = [Student, School];
}
