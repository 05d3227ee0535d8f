using System.Globalization;
using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Synthetic;

/// <summary>Makes clean, realistic students and guardians for one school (one instance per school and round pair).</summary>
internal sealed class StudentFactory
{
    private readonly Random _rng;
    private readonly SchoolPlan _school;
    private readonly ProvinceReference _reference;
    private readonly IdAllocator _ids;
    private int _temporaryNumbers;

    public StudentFactory(Random rng, SchoolPlan school, ProvinceReference reference, IdAllocator ids)
    {
        _rng = rng;
        _school = school;
        _reference = reference;
        _ids = ids;
    }

    /// <summary>A clean student of <paramref name="grade"/> in the school year starting in <paramref name="schoolYear"/>.</summary>
    public StudentRow Create(int grade, int schoolYear, string className, int? ageOffset = null)
    {
        var rng = _rng;
        var offset = ageOffset ?? (rng.Next(50) == 0 ? 1 : 0); // a few started school a year late: still clean
        var birth = BirthDate(schoolYear, grade + 5 + offset);
        var gender = 1 + rng.Next(2);
        var v = new string[Col.Count];
        v[Col.SchoolCode] = _school.Code;
        v[Col.SchoolName] = _school.Name;
        v[Col.Gender] = gender == 1 ? "1" : "2";
        v[Col.BirthDate] = SchoolCalendar.FormatDate(birth);
        v[Col.Nationality] = "CHN";
        v[Col.IdType] = "1";
        v[Col.HmtStatus] = "0";
        v[Col.Grade] = grade.ToString(CultureInfo.InvariantCulture);
        v[Col.ClassName] = className;
        v[Col.EntryMonth] = SchoolCalendar.EntryMonth(schoolYear, grade);
        v[Col.StudyMode] = rng.NextDouble() < (grade >= 10 ? 0.4 : 0.08) ? "2" : "1";
        v[Col.OnlyChild] = rng.NextDouble() < 0.6 ? "1" : "0";
        var migrant = rng.NextDouble() < 0.05;
        v[Col.MigrantChild] = migrant ? "1" : "0";
        var lb = rng.NextDouble();
        v[Col.LeftBehind] = migrant ? "0" : lb < 0.08 ? "1" : lb < 0.12 ? "2" : "0";
        v[Col.Disability] = rng.Next(200) == 0 ? (1 + rng.Next(7)).ToString(CultureInfo.InvariantCulture) : "0";
        v[Col.HouseholdType] = rng.NextDouble() < 0.4 ? "1" : "2";
        v[Col.HouseholdRegion] = rng.NextDouble() < 0.85 ? _school.County.Code : RandomCounty();
        v[Col.Address] = Address();
        v[Col.GuardianPhone] = Phone();

        var row = new StudentRow(v) { Birth = birth, Gender = gender, Grade = grade, Ordinary = true };
        var e = rng.NextDouble();
        var dotName = false;
        v[Col.Ethnicity] = e switch
        {
            < 0.92 => "01",
            < 0.955 => "11",
            < 0.97 => "10",
            < 0.98 => "02",
            < 0.988 => "03",
            < 0.992 => "31",
            < 0.994 => "52",
            < 0.996 => Dot("05", out dotName),
            < 0.998 => Dot("44", out dotName),
            _ => Dot("17", out dotName),
        };
        var surname = NameBank.Surname(rng);
        v[Col.Name] = dotName ? NameBank.DotName(rng) : surname + NameBank.GivenName(rng, gender);
        Guardian(row, surname, dotName);

        if (rng.Next(1000) == 0)
        {
            NonResident(row);
            return row;
        }

        var region = rng.NextDouble() switch
        {
            < 0.75 => _school.County.Code,
            < 0.92 => RandomCounty(),
            _ => _reference.OtherCounties[rng.Next(_reference.OtherCounties.Count)].Code,
        };
        SetResidentId(row, _ids.Allocate(region, birth, gender), temporary: rng.Next(100) == 0);
        v[Col.Birthplace] = rng.NextDouble() < 0.8 ? region : _school.County.Code;
        return row;
    }

    /// <summary>A twin: same birth date, family, address and phone; own name and own ID number.</summary>
    public StudentRow Twin(StudentRow sibling)
    {
        var twin = sibling.Clone();
        var gender = 1 + _rng.Next(2);
        twin.Gender = gender;
        twin[Col.Gender] = gender == 1 ? "1" : "2";
        var name = sibling[Col.Name];
        if (name.Contains('·', StringComparison.Ordinal))
        {
            while (twin[Col.Name] == name)
            {
                twin[Col.Name] = NameBank.DotName(_rng);
            }
        }
        else
        {
            var surname = name.Length >= 3 && NameBank.IsCompound(name[..2]) ? name[..2] : name[..1];
            while (twin[Col.Name] == name)
            {
                twin[Col.Name] = surname + NameBank.GivenName(_rng, gender);
            }
        }

        SetResidentId(twin, _ids.Allocate(sibling.ResidentId![..6], sibling.Birth, gender), temporary: false);
        return twin;
    }

    /// <summary>Gives the row this resident ID (and the matching G number unless it keeps a temporary L number).</summary>
    public void SetResidentId(StudentRow row, string id, bool temporary)
    {
        row.ResidentId = id;
        row[Col.IdType] = "1";
        row[Col.IdNumber] = Display(id);
        row[Col.StudentNo] = temporary || (row[Col.StudentNo]?.StartsWith('L') ?? false) ? TemporaryNumber('L', row.Birth) : "G" + id;
    }

    /// <summary>L (temporary) or J (no usable resident ID) + 18 characters: county, birth date, a per-school counter.</summary>
    public string TemporaryNumber(char letter, DateOnly birth) =>
        $"{letter}{_school.County.Code}{SchoolCalendar.Digits(birth)}{_temporaryNumbers++ % 10000:D4}";

    public string RandomCounty() => _reference.Counties[_rng.Next(_reference.Counties.Count)].Code;

    public DateOnly BirthDate(int schoolYear, int age)
    {
        var (first, last) = SchoolCalendar.Cohort(schoolYear, age);
        var r = _rng.Next(1000);
        if (r == 0)
        {
            return last; // born on 1 September: the youngest of the cohort, still the right age
        }

        if (r == 1)
        {
            var leap = DateTime.IsLeapYear(last.Year) ? new DateOnly(last.Year, 2, 29) : (DateOnly?)null;
            if (leap is { } day)
            {
                return day; // a real 29 February
            }
        }

        return first.AddDays(_rng.Next(last.DayNumber - first.DayNumber + 1));
    }

    /// <summary>A guardian's valid resident ID, born <paramref name="years"/> years (and some days) before the student.</summary>
    public string GuardianId(DateOnly studentBirth, int years, int gender)
    {
        var birth = studentBirth.AddYears(-years).AddDays(-_rng.Next(300));
        var region = _rng.NextDouble() < 0.7 ? _school.County.Code : RandomCounty();
        var sequence = (_rng.Next(500) * 2) + (gender == 1 ? 1 : 0);
        return ResidentId.Create(region, birth, sequence);
    }

    private static string Dot(string code, out bool dotName)
    {
        dotName = true;
        return code;
    }

    /// <summary>Mostly the canonical form; some X written lower-case, a few typed with full-width digits (both clean).</summary>
    private string Display(string id)
    {
        if (id[17] == 'X' && _rng.Next(3) == 0)
        {
            return id[..17] + "x";
        }

        return _rng.Next(400) == 0 ? string.Concat(id.Select(c => char.IsAsciiDigit(c) ? (char)(c + 0xFEE0) : c)) : id;
    }

    private void Guardian(StudentRow row, string surname, bool dotName)
    {
        var v = row.Values;
        var r = _rng.NextDouble();
        var (relation, gender, gap, sameSurname) = r switch
        {
            < 0.55 => ("1", 1, 22 + _rng.Next(19), true),
            < 0.85 => ("2", 2, 21 + _rng.Next(18), false),
            < 0.95 => ("3", 1 + _rng.Next(2), 45 + _rng.Next(18), true),
            < 0.98 => ("4", 1 + _rng.Next(2), 20 + _rng.Next(30), true),
            _ => ("5", 1 + _rng.Next(2), 25 + _rng.Next(30), false),
        };
        if (gender == 2 && relation == "3")
        {
            sameSurname = false; // a grandmother keeps her own surname
        }

        v[Col.GuardianRelation] = relation;
        v[Col.GuardianName] = dotName
            ? NameBank.DotName(_rng)
            : (sameSurname ? surname : NameBank.OtherSurname(_rng, surname)) + NameBank.GivenName(_rng, gender);
        v[Col.GuardianId] = _rng.Next(10) == 0 ? "" : GuardianId(row.Birth, gap, gender);
    }

    private void NonResident(StudentRow row)
    {
        var v = row.Values;
        var kind = _rng.Next(5);
        var digits = _rng.Next(10_000_000, 99_999_999).ToString(CultureInfo.InvariantCulture);
        (v[Col.IdType], v[Col.IdNumber], v[Col.Nationality], v[Col.HmtStatus]) = kind switch
        {
            0 => ("6", "H" + digits, "HKG", "1"),
            1 => ("7", "M" + digits, "MAC", "2"),
            2 => ("8", digits, "TWN", "3"),
            3 => ("9", "RUS" + digits + "0315", "RUS", "5"),
            _ => ("A", "7" + digits, "RUS", "5"),
        };
        if (kind >= 3)
        {
            v[Col.Ethnicity] = "97";
            v[Col.Name] = NameBank.DotName(_rng);
        }

        v[Col.GuardianId] = "";
        v[Col.Birthplace] = _school.County.Code;
        v[Col.StudentNo] = TemporaryNumber('J', row.Birth);
        row.Ordinary = false;
    }

    private string Address()
    {
        var building = 1 + _rng.Next(30);
        return $"黑龙江省{_school.PrefectureName}{_school.County.Name}{NameBank.Streets[_rng.Next(NameBank.Streets.Length)]}"
            + $"{1 + _rng.Next(300)}号{building}栋{1 + _rng.Next(6)}单元{1 + _rng.Next(18)}0{1 + _rng.Next(4)}室";
    }

    private string Phone()
    {
        if (_rng.Next(33) == 0)
        {
            return $"{ProvinceReference.AreaCode(_school.County.Code)}-{2 + _rng.Next(7)}{_rng.Next(1_000_000, 10_000_000)}";
        }

        return $"1{3 + _rng.Next(7)}{_rng.Next(0, 10):D1}{_rng.Next(0, 100_000_000):D8}";
    }
}
