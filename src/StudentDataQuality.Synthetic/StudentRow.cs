using StudentDataQuality.Records;

namespace StudentDataQuality.Synthetic;

/// <summary>Indexes of the student record's fields in <see cref="Layouts.Student"/> order.</summary>
internal static class Col
{
    public static readonly int StudentNo = Layouts.Student.IndexOf("student_no");
    public static readonly int SchoolCode = Layouts.Student.IndexOf("school_code");
    public static readonly int SchoolName = Layouts.Student.IndexOf("school_name");
    public static readonly int Name = Layouts.Student.IndexOf("name");
    public static readonly int Gender = Layouts.Student.IndexOf("gender");
    public static readonly int BirthDate = Layouts.Student.IndexOf("birth_date");
    public static readonly int Birthplace = Layouts.Student.IndexOf("birthplace");
    public static readonly int Nationality = Layouts.Student.IndexOf("nationality");
    public static readonly int Ethnicity = Layouts.Student.IndexOf("ethnicity");
    public static readonly int IdType = Layouts.Student.IndexOf("id_type");
    public static readonly int IdNumber = Layouts.Student.IndexOf("id_number");
    public static readonly int HmtStatus = Layouts.Student.IndexOf("hmt_status");
    public static readonly int HouseholdRegion = Layouts.Student.IndexOf("household_region");
    public static readonly int HouseholdType = Layouts.Student.IndexOf("household_type");
    public static readonly int Grade = Layouts.Student.IndexOf("grade");
    public static readonly int ClassName = Layouts.Student.IndexOf("class_name");
    public static readonly int EntryMonth = Layouts.Student.IndexOf("entry_month");
    public static readonly int StudyMode = Layouts.Student.IndexOf("study_mode");
    public static readonly int OnlyChild = Layouts.Student.IndexOf("only_child");
    public static readonly int MigrantChild = Layouts.Student.IndexOf("migrant_child");
    public static readonly int LeftBehind = Layouts.Student.IndexOf("left_behind");
    public static readonly int Disability = Layouts.Student.IndexOf("disability");
    public static readonly int GuardianName = Layouts.Student.IndexOf("guardian_name");
    public static readonly int GuardianRelation = Layouts.Student.IndexOf("guardian_relation");
    public static readonly int GuardianPhone = Layouts.Student.IndexOf("guardian_phone");
    public static readonly int GuardianId = Layouts.Student.IndexOf("guardian_id_number");
    public static readonly int Address = Layouts.Student.IndexOf("address");
    public static readonly int Count = Layouts.Student.Fields.Count;
}

/// <summary>One row of a round's export while a school is being generated, with what the generator knows about it.</summary>
internal sealed class StudentRow
{
    public StudentRow(string[] values) => Values = values;

    /// <summary>The raw field values as they will be written, in layout order.</summary>
    public string[] Values { get; set; }

    public DateOnly Birth { get; set; }

    /// <summary>1 male, 2 female: the gender of the person (the ID's parity).</summary>
    public int Gender { get; set; }

    public int Grade { get; set; }

    /// <summary>The canonical resident ID when the person has one (id_type 1), else null.</summary>
    public string? ResidentId { get; set; }

    /// <summary>The school's entry grade: the student is new at this school this round.</summary>
    public bool IsEntry { get; set; }

    /// <summary>Part of an injected defect (as its subject or its partner): never used for another one.</summary>
    public bool Involved { get; set; }

    /// <summary>Eligible as a defect subject or partner: an ordinary resident-ID student of the clean province.</summary>
    public bool Ordinary { get; set; }

    /// <summary>The same person's row in the previous round, when there is one.</summary>
    public StudentRow? Previous { get; set; }

    /// <summary>Findings the quality rules must give this row: (rule id, field).</summary>
    public List<(string Rule, string Field)>? Findings { get; private set; }

    /// <summary>
    /// What a registrar who knows the truth answers for this row's findings (registrar_answers.csv): the action word,
    /// the field it is about, and for <c>correct</c> the clean value.
    /// </summary>
    public List<RowAnswer>? Answers { get; private set; }

    public string this[int column]
    {
        get => Values[column];
        set => Values[column] = value;
    }

    public void AddFinding(string rule, string field) => (Findings ??= []).Add((rule, field));

    public void AddAnswer(string rule, string field, string action, string value = "") =>
        (Answers ??= []).Add(new RowAnswer(rule, field, action, value));

    public StudentRow Clone() => new((string[])Values.Clone())
    {
        Birth = Birth,
        Gender = Gender,
        Grade = Grade,
        ResidentId = ResidentId,
        IsEntry = IsEntry,
        Ordinary = Ordinary,
    };

    /// <summary>Takes over another row's person and values (keeps this slot's bookkeeping).</summary>
    public void BecomeCopyOf(StudentRow other)
    {
        Values = (string[])other.Values.Clone();
        Birth = other.Birth;
        Gender = other.Gender;
        Grade = other.Grade;
        ResidentId = other.ResidentId;
    }
}

/// <summary>One answer of a row, before the row's final student number and school code are known.</summary>
internal sealed record RowAnswer(string Rule, string Field, string Action, string Value);
