using System.Globalization;
using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Synthetic;

internal sealed partial class ProvinceRun
{
    private static readonly string[] InertRequiredFields =
        ["class_name", "address", "birthplace", "household_region", "study_mode", "guardian_name", "guardian_relation", "guardian_phone", "ethnicity"];

    // The registrar's answers (registrar_answers.csv): the action words of RegistrarAnswers.
    private const string Correct = RegistrarAnswers.CorrectWord;
    private const string Confirm = RegistrarAnswers.ConfirmWord;
    private const string Remove = RegistrarAnswers.RemoveWord;

    // Per-school state while one school is generated.
    private Random _rng = new(0);
    private SchoolPlan _school = null!;
    private StudentFactory _factory = null!;
    private List<StudentRow> _rows = [];
    private List<GroundTruthLine> _extra = [];
    private List<AnswerLine> _extraAnswers = [];

    private (List<StudentRow> Rows, List<StudentRow> Previous, List<GroundTruthLine> Lines, List<AnswerLine> Answers) GenerateSchool(
        SchoolPlan school, int remaining)
    {
        _school = school;
        _rng = new Random(SeedMix.Combine(_options.Seed, school.Index));
        _factory = new StudentFactory(_rng, school, _reference, _ids);
        _rows = [];
        _extra = [];
        _extraAnswers = [];
        var previousRows = new List<StudentRow>();
        if (school.HasStudents)
        {
            BuildRoster(school);
            if (_options.Previous)
            {
                previousRows = BuildPrevious(school);
            }

            if (_options.DefectRate > 0)
            {
                InjectDefects(school, remaining);
            }

            FillReservoir();
        }

        var lines = new List<GroundTruthLine>();
        foreach (var row in _rows)
        {
            foreach (var (rule, field) in row.Findings ?? [])
            {
                lines.Add(new GroundTruthLine(row[Col.StudentNo], row[Col.SchoolCode], rule, field));
            }
        }

        lines.AddRange(_extra);
        var answers = new List<AnswerLine>();
        foreach (var row in _rows)
        {
            foreach (var a in row.Answers ?? [])
            {
                answers.Add(new AnswerLine(row[Col.SchoolCode], row[Col.StudentNo], a.Rule, a.Field, a.Action, a.Value));
            }
        }

        answers.AddRange(_extraAnswers);
        if (school.IsOpen)
        {
            var current = _rows.Count(r => r[Col.SchoolCode] == school.Code);
            var withoutId = _rows.Count(r => r[Col.SchoolCode] == school.Code && r[Col.IdType] == "Z");
            if (current == 0)
            {
                lines.Add(new GroundTruthLine("", school.Code, "A01", "school_code"));
            }

            if (_options.Previous && previousRows.Count > 0 && 5 * Math.Abs(current - previousRows.Count) > previousRows.Count)
            {
                lines.Add(new GroundTruthLine("", school.Code, "A02", "school_code"));
            }

            if (current > 0 && 50 * withoutId > current)
            {
                lines.Add(new GroundTruthLine("", school.Code, "A03", "school_code"));
            }
        }

        return (_rows, previousRows, lines, answers);
    }

    private void BuildRoster(SchoolPlan school)
    {
        for (var i = 0; i < school.Cohorts.Length; i++)
        {
            var grade = school.MinGrade + i;
            var size = school.Cohorts[i];
            var classes = Math.Max(1, (int)Math.Ceiling(size / 45.0));
            for (var k = 0; k < size; k++)
            {
                var className = $"{(k % classes) + 1}班";
                var row = _factory.Create(grade, _schoolYear, className);
                row.IsEntry = grade == school.MinGrade;
                _rows.Add(row);
                if (k + 1 < size && row.Ordinary && _rng.Next(250) == 0)
                {
                    var twin = _factory.Twin(row);
                    twin.IsEntry = row.IsEntry;
                    _rows.Add(twin);
                    k++;
                }
            }
        }
    }

    /// <summary>
    /// The previous round (spring of the previous school year): everyone not in the entry grade, one grade lower;
    /// plus last year's top grade, who have left since.
    /// </summary>
    private List<StudentRow> BuildPrevious(SchoolPlan school)
    {
        var previous = new List<StudentRow>();
        foreach (var row in _rows.Where(r => !r.IsEntry))
        {
            var before = row.Clone();
            before.Grade = row.Grade - 1;
            before[Col.Grade] = Num(before.Grade);
            before[Col.EntryMonth] = SchoolCalendar.EntryMonth(_previousSchoolYear, before.Grade);
            row.Previous = before;
            previous.Add(before);
        }

        var entrants = school.Cohorts[0];
        var leavers = school.EnrolmentDrop
            ? entrants + (int)Math.Ceiling(0.35 * school.Students) + 1
            : Math.Max(0, entrants + (int)Math.Round(entrants * ((_rng.NextDouble() * 0.1) - 0.05)));
        var classes = Math.Max(1, (int)Math.Ceiling(leavers / 45.0));
        for (var k = 0; k < leavers; k++)
        {
            previous.Add(_factory.Create(school.MaxGrade, _previousSchoolYear, $"{(k % classes) + 1}班"));
        }

        return previous;
    }

    private void FillReservoir()
    {
        foreach (var row in _rows)
        {
            if (Eligible(row) && _rng.Next(50) == 0)
            {
                var pool = _reservoir[row.Grade];
                if (pool.Count < ReservoirPerGrade)
                {
                    pool.Add(row);
                }
                else
                {
                    pool[_rng.Next(pool.Count)] = row;
                }
            }
        }
    }

    private static bool Eligible(StudentRow row) => row.Ordinary && !row.Involved && row.Findings is null;

    /// <summary>Identity, grade, school and student number may change only for students not in the previous round here.</summary>
    private bool CanReshape(StudentRow row) => !_options.Previous || row.IsEntry;

    private void InjectDefects(SchoolPlan school, int remaining)
    {
        if (school.ManyWithoutId)
        {
            var wanted = (2 * _rows.Count / 100) + 1;
            foreach (var row in _rows)
            {
                if (wanted == 0)
                {
                    break;
                }

                if (Eligible(row) && CanReshape(row) && Inject("C10", row))
                {
                    wanted--;
                }
            }
        }

        foreach (var row in _rows)
        {
            if (Eligible(row) && _rng.NextDouble() < _options.DefectRate)
            {
                ChooseAndInject(row);
            }
        }

        // Guarantee a minimum per rule even for small provinces, spread over the first schools.
        var deficit = _recordRules.Sum(r => Math.Max(0, MinimumPerRule - _injected[r]));
        var budget = remaining <= 1 ? deficit : (int)Math.Ceiling(2.0 * deficit / remaining);
        foreach (var rule in _recordRules)
        {
            while (budget > 0 && _injected[rule] < MinimumPerRule && TryInjectAnywhere(rule))
            {
                budget--;
            }
        }
    }

    private bool TryInjectAnywhere(string rule)
    {
        var start = _rng.Next(_rows.Count);
        for (var i = 0; i < _rows.Count; i++)
        {
            var row = _rows[(start + i) % _rows.Count];
            if (Eligible(row) && Inject(rule, row))
            {
                return true;
            }
        }

        return false;
    }

    private void ChooseAndInject(StudentRow row)
    {
        var order = _recordRules.OrderBy(_ => _rng.Next()).ToList();
        var deficits = order.Where(r => _injected[r] < MinimumPerRule).OrderBy(r => _injected[r]).ToList();
        foreach (var rule in deficits.Concat(order.Except(deficits)))
        {
            if (Inject(rule, row))
            {
                return;
            }
        }
    }

    private StudentRow? FindPartner(StudentRow slot, Func<StudentRow, bool> accept)
    {
        var start = _rng.Next(_rows.Count);
        for (var i = 0; i < _rows.Count; i++)
        {
            var row = _rows[(start + i) % _rows.Count];
            if (row != slot && Eligible(row) && accept(row))
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>Applies one rule's defect to <paramref name="slot"/>; false (and nothing changed) when it does not fit.</summary>
    private bool Inject(string rule, StudentRow slot)
    {
        var done = rule switch
        {
            "S01" => InjectS01(slot),
            "S02" => InjectS02(slot),
            "S03" => InjectCopy(slot, "S03", "student_no", newNumber: null),
            "F01" => CanReshape(slot) && Single(slot, "F01", "student_no", Col.StudentNo, MangleStudentNo(slot[Col.StudentNo])),
            "F02" => CanReshape(slot) && Single(slot, "F02", "id_number", Col.IdNumber, BadShape(slot.ResidentId!)),
            "F03" => CanReshape(slot) && Single(slot, "F03", "id_number", Col.IdNumber, WrongCheck(slot.ResidentId!)),
            "F04" => CanReshape(slot) && Single(slot, "F04", "id_number", Col.IdNumber, ImpossibleBirthSegment(slot.ResidentId!, slot.Birth)),
            "F05" => CanReshape(slot) && InjectF05(slot),
            "F06" => CanReshape(slot) && Single(slot, "F06", "birth_date", Col.BirthDate, BadBirthDate(slot.Birth)),
            "F07" => Single(slot, "F07", "entry_month", Col.EntryMonth, BadEntryMonth(slot)),
            "F08" => InjectF08(slot),
            "F09" => CanReshape(slot) && Single(slot, "F09", "school_code", Col.SchoolCode, BadSchoolCode(slot[Col.SchoolCode])),
            "F10" => InjectF10(slot),
            "F11" => Single(slot, "F11", "guardian_phone", Col.GuardianPhone, Pick("138123456", "1381234567", "12812345678", "0451-123", "无", "1391234567８9")),
            "F12" => CanReshape(slot) && InjectF12(slot),
            "C01" => CanReshape(slot) && Single(slot, "C01", "birth_date", Col.BirthDate, SchoolCalendar.FormatDate(OtherDayOfCohort(slot.Birth))),
            "C02" => CanReshape(slot) && Single(slot, "C02", "gender", Col.Gender, slot.Gender == 1 ? "2" : "1"),
            "C03" => CanReshape(slot) && Single(slot, "C03", "student_no", Col.StudentNo, "G" + _ids.Allocate(slot.ResidentId![..6], slot.Birth, slot.Gender)),
            "C04" => CanReshape(slot) && InjectC04(slot),
            "C05" => InjectC05(slot),
            "C06" => Single(slot, "C06", "entry_month", Col.EntryMonth,
                Num(SchoolCalendar.EntryYear(_schoolYear, slot.Grade) - 1 - _rng.Next(2)) + "09"),
            "C07" => InjectC07(slot),
            "C08" => InjectC08(slot),
            "C09" => InjectC09(slot),
            "C10" => CanReshape(slot) && InjectWithoutId(slot, "C10"),
            "X01" => CanReshape(slot) && Single(slot, "X01", "school_code", Col.SchoolCode, UnknownOrClosedSchool()),
            "X02" => CanReshape(slot) && InjectX02(slot),
            "X03" => CanReshape(slot) && InjectX03(slot),
            "X04" => InjectCopy(slot, "X04", "id_number", newNumber: r => _factory.TemporaryNumber('L', r.Birth)),
            "X05" => CanReshape(slot) && InjectX05(slot),
            "X06" => InjectX06(slot),
            "T01" => InjectT01(slot),
            "T02" => InjectT02(slot),
            "T03" => InjectT03(slot),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Not a record-level rule."),
        };
        if (done)
        {
            slot.Involved = true;
            _injected[rule]++;
        }

        return done;
    }

    private bool Single(StudentRow slot, string rule, string field, int column, string? value)
    {
        if (value is null)
        {
            return false;
        }

        var clean = slot[column];
        slot[column] = value;
        slot.AddFinding(rule, field);
        // A damaged school code (F09, X01) names no school whose registrar could answer, and the worksheet does not
        // let a school correct its own code: no answer.
        if (rule is not ("F09" or "X01"))
        {
            slot.AddAnswer(rule, field, Correct, clean);
        }

        return true;
    }

    private string Pick(params string[] values) => values[_rng.Next(values.Length)];

    private bool InjectS01(StudentRow slot)
    {
        var field = InertRequiredFields[_rng.Next(InertRequiredFields.Length)];
        var column = Records.Layouts.Student.IndexOf(field);
        var clean = slot[column];
        slot[column] = Pick("", "", "", " ", "\u3000");
        slot.AddFinding("S01", field);
        slot.AddAnswer("S01", field, Correct, clean);
        return true;
    }

    private bool InjectS02(StudentRow slot)
    {
        switch (_rng.Next(5))
        {
            case 0:
                var name = slot[Col.Name];
                return Single(slot, "S02", "name", Col.Name, name[..1] + new string('\uFFFD', Math.Max(1, name.Length - 1)));
            case 1:
                return Single(slot, "S02", "guardian_name", Col.GuardianName, slot[Col.GuardianName][..1] + "\uFFFD\uFFFD");
            case 2:
                return Single(slot, "S02", "address", Col.Address, slot[Col.Address].Insert(6, "\uFFFD\uFFFD"));
            case 3:
                return Single(slot, "S02", "class_name", Col.ClassName, slot[Col.ClassName].Insert(1, "\u0007"));
            default:
                var address = slot[Col.Address];
                while (address.Length <= 200)
                {
                    address += slot[Col.Address];
                }

                return Single(slot, "S02", "address", Col.Address, address);
        }
    }

    /// <summary>S03 (same number twice) and X04 (same ID, another number): the slot becomes a second row of a partner.</summary>
    private bool InjectCopy(StudentRow slot, string rule, string field, Func<StudentRow, string>? newNumber)
    {
        if (!CanReshape(slot))
        {
            return false;
        }

        var partner = FindPartner(slot, _ => true);
        if (partner is null)
        {
            return false;
        }

        slot.BecomeCopyOf(partner);
        if (newNumber is not null)
        {
            slot[Col.StudentNo] = newNumber(slot);
        }

        partner.Involved = true;
        slot.AddFinding(rule, field);
        partner.AddFinding(rule, field);
        // The slot is the injected extra registration. For S03 both rows show the same number, so one "remove" line
        // stands for both findings (remove one of the two); for X04 the partner keeps its registration.
        slot.AddAnswer(rule, field, Remove);
        if (rule != "S03")
        {
            partner.AddAnswer(rule, field, Confirm);
        }

        return true;
    }

    private bool InjectF05(StudentRow slot)
    {
        var retired = ProvinceReference.RetiredCodes[_rng.Next(ProvinceReference.RetiredCodes.Length)];
        _factory.SetResidentId(slot, _ids.Allocate(retired, slot.Birth, slot.Gender), temporary: false);
        slot[Col.IdNumber] = slot.ResidentId!;
        slot.AddFinding("F05", "id_number");
        slot.AddAnswer("F05", "id_number", Confirm);
        return true;
    }

    private bool InjectF08(StudentRow slot)
    {
        var (field, value) = _rng.Next(8) switch
        {
            0 => ("ethnicity", "99"),
            1 => ("study_mode", "3"),
            2 => ("household_type", "3"),
            3 => ("disability", "8"),
            4 => ("guardian_relation", "6"),
            5 => ("left_behind", "3"),
            6 => ("birthplace", "239999"),
            _ => ("ethnicity", "火星族"),
        };
        var column = Records.Layouts.Student.IndexOf(field);
        var clean = slot[column];
        slot[column] = value;
        slot.AddFinding("F08", field);
        slot.AddAnswer("F08", field, Correct, clean);
        return true;
    }

    private bool InjectF10(StudentRow slot)
    {
        var guardian = _rng.Next(3) == 0;
        var column = guardian ? Col.GuardianName : Col.Name;
        var name = slot[column];
        var bad = _rng.Next(4) switch
        {
            0 => name + "2",
            1 => name[..1] + " " + name[1..],
            2 => name[..1] + "Li" + name[1..],
            _ => name[..1] + "@" + name[1..],
        };
        return Single(slot, "F10", guardian ? "guardian_name" : "name", column, bad);
    }

    private bool InjectF12(StudentRow slot)
    {
        // Spreadsheets only turn all-digit numbers into floating point: make sure the check character is a digit.
        var tries = 0;
        while (slot.ResidentId![17] == 'X' && tries++ < 20)
        {
            _factory.SetResidentId(slot, _ids.Allocate(slot.ResidentId[..6], slot.Birth, slot.Gender), temporary: false);
        }

        var id = slot.ResidentId;
        if (id[17] == 'X')
        {
            return false;
        }

        var padded = id[..15] + "000";
        var mangled = _rng.Next(2) == 0 && !ResidentId.HasValidCheckCharacter(padded) ? padded : Scientific(id);
        return Single(slot, "F12", "id_number", Col.IdNumber, mangled);
    }

    /// <summary>How Excel's General format shows an 18-digit number: six significant digits, e.g. 2.30102E+17.</summary>
    private static string Scientific(string id)
    {
        var mantissa = Math.Round(decimal.Parse(id[..7], CultureInfo.InvariantCulture) / 1_000_000m, 5, MidpointRounding.AwayFromZero);
        return mantissa.ToString("0.#####", CultureInfo.InvariantCulture) + "E+17";
    }

    private bool InjectC04(StudentRow slot)
    {
        var offsets = slot.Grade >= 7 ? new[] { 2, 3, 4, 5, -2, -3 } : [2, 3, 4, 5, -2];
        var offset = offsets[_rng.Next(offsets.Length)];
        var person = _factory.Create(slot.Grade, _schoolYear, slot[Col.ClassName], offset);
        if (!person.Ordinary)
        {
            return false;
        }

        ReplacePerson(slot, person);
        slot.AddFinding("C04", "birth_date");
        // A real person whose age is unusual for the grade (started late, skipped a year): a fact the school explains.
        slot.AddAnswer("C04", "birth_date", Confirm);
        return true;
    }

    private bool InjectC05(StudentRow slot)
    {
        if (slot.Grade != SchoolCalendar.StageStart(slot.Grade))
        {
            return false;
        }

        // Later in the same school year as the expected September entry (so C06 is satisfied), but after the round date.
        var year = _schoolYear + 1;
        var first = year == _options.RoundDate.Year ? _options.RoundDate.Month + 1 : 1;
        if (first > 8)
        {
            return false;
        }

        var month = first + _rng.Next(8 - first + 1);
        return Single(slot, "C05", "entry_month", Col.EntryMonth, $"{year}{month:D2}");
    }

    private bool InjectC07(StudentRow slot)
    {
        var (migrant, leftBehind) = (slot[Col.MigrantChild], slot[Col.LeftBehind]);
        slot[Col.MigrantChild] = "1";
        slot[Col.LeftBehind] = Pick("1", "2");
        slot.AddFinding("C07", "left_behind");
        // Only what the injection changed is corrected (the clean row never has both set, so at least one of them).
        if (leftBehind != slot[Col.LeftBehind])
        {
            slot.AddAnswer("C07", "left_behind", Correct, leftBehind);
        }

        if (migrant != slot[Col.MigrantChild])
        {
            slot.AddAnswer("C07", "migrant_child", Correct, migrant);
        }

        return true;
    }

    private bool InjectC08(StudentRow slot)
    {
        if (CanReshape(slot) && _rng.Next(3) == 0)
        {
            // An overseas Chinese child registered with a passport but Chinese nationality.
            slot[Col.IdType] = "A";
            slot[Col.IdNumber] = "E" + _rng.Next(10_000_000, 99_999_999).ToString(CultureInfo.InvariantCulture);
            slot[Col.HmtStatus] = "4";
            slot[Col.StudentNo] = _factory.TemporaryNumber('J', slot.Birth);
            slot.ResidentId = null;
            slot.AddAnswer("C08", "id_type", Confirm);
        }
        else
        {
            // The damaged value is the status, not the ID type the finding names: the answer corrects the status.
            var clean = slot[Col.HmtStatus];
            slot[Col.HmtStatus] = Pick("1", "2", "3");
            slot.AddAnswer("C08", "hmt_status", Correct, clean);
        }

        slot.AddFinding("C08", "id_type");
        return true;
    }

    private bool InjectC09(StudentRow slot)
    {
        // The clean guardian ID may be empty (it is optional): the answer then clears the cell.
        slot.AddAnswer("C09", "guardian_id_number", Correct, slot[Col.GuardianId]);
        if (_rng.Next(2) == 0)
        {
            slot[Col.GuardianId] = slot.ResidentId!;
        }
        else
        {
            var gender = slot[Col.GuardianRelation] switch { "1" => 1, "2" => 2, _ => 1 + _rng.Next(2) };
            slot[Col.GuardianId] = _factory.GuardianId(slot.Birth, 10 + _rng.Next(3), gender);
        }

        slot.AddFinding("C09", "guardian_id_number");
        return true;
    }

    /// <summary>C10: the student has no ID (id_type Z, J number). Name + gender + birth date stay unique among them.</summary>
    private bool InjectWithoutId(StudentRow slot, string rule)
    {
        MakeWithoutId(slot);
        slot.AddFinding(rule, "id_type");
        // A student without an ID is a fact of the registry (the number is a J number now): confirmed, with proof.
        slot.AddAnswer(rule, "id_type", Confirm);
        return true;
    }

    private void MakeWithoutId(StudentRow slot)
    {
        slot[Col.IdType] = "Z";
        slot[Col.IdNumber] = "";
        slot[Col.StudentNo] = _factory.TemporaryNumber('J', slot.Birth);
        slot.ResidentId = null;
        var surname = slot[Col.Name].Contains('·', StringComparison.Ordinal) ? null : slot[Col.Name][..1];
        while (!_withoutIdKeys.Add(WithoutIdKey(slot)))
        {
            slot[Col.Name] = surname is null ? NameBank.DotName(_rng) : surname + NameBank.GivenName(_rng, slot.Gender);
        }
    }

    private static string WithoutIdKey(StudentRow row) => $"{row[Col.Name]}|{row[Col.Gender]}|{row[Col.BirthDate]}";

    private string UnknownOrClosedSchool()
    {
        if (_closedCodes.Count > 0 && _rng.Next(2) == 0)
        {
            return _closedCodes[_rng.Next(_closedCodes.Count)];
        }

        // Same type and province, a sequence the master never uses (900000 and up).
        return $"{_school.Code[..4]}9{_rng.Next(0, 100000):D5}";
    }

    private bool InjectX02(StudentRow slot)
    {
        var grade = _school.MaxGrade < 12 ? _school.MaxGrade + 1 : _school.MinGrade - 1;
        var person = _factory.Create(grade, _schoolYear, "1班", ageOffset: 0);
        if (!person.Ordinary)
        {
            return false;
        }

        ReplacePerson(slot, person);
        slot.AddFinding("X02", "grade");
        // The school does not teach the grade: the student is not at this school.
        slot.AddAnswer("X02", "grade", Remove);
        return true;
    }

    private bool InjectX03(StudentRow slot)
    {
        var grades = Enumerable.Range(_school.MinGrade, _school.MaxGrade - _school.MinGrade + 1)
            .Where(g => _reservoir[g].Count > 0).ToList();
        if (grades.Count == 0)
        {
            return false;
        }

        var pool = _reservoir[grades[_rng.Next(grades.Count)]];
        var index = _rng.Next(pool.Count);
        var other = pool[index];
        pool.RemoveAt(index);
        var className = slot[Col.ClassName];
        slot.BecomeCopyOf(other);
        slot[Col.SchoolCode] = _school.Code;
        slot[Col.SchoolName] = _school.Name;
        slot[Col.ClassName] = className;
        other.Involved = true;
        slot.AddFinding("X03", "id_number");
        _extra.Add(new GroundTruthLine(other[Col.StudentNo], other[Col.SchoolCode], "X03", "id_number"));
        slot.AddAnswer("X03", "id_number", Remove);
        _extraAnswers.Add(new AnswerLine(other[Col.SchoolCode], other[Col.StudentNo], "X03", "id_number", Confirm, ""));
        return true;
    }

    private bool InjectX05(StudentRow slot)
    {
        var second = FindPartner(slot, CanReshape);
        if (second is null)
        {
            return false;
        }

        MakeWithoutId(slot);
        var className = second[Col.ClassName];
        second.BecomeCopyOf(slot);
        second[Col.ClassName] = className;
        second[Col.StudentNo] = _factory.TemporaryNumber('J', second.Birth);
        second.Involved = true;
        slot.AddFinding("X05", "name");
        slot.AddFinding("C10", "id_type");
        second.AddFinding("X05", "name");
        second.AddFinding("C10", "id_type");
        // The second row is the injected extra registration of the same child; the first stays, without an ID.
        slot.AddAnswer("X05", "name", Confirm);
        slot.AddAnswer("C10", "id_type", Confirm);
        second.AddAnswer("X05", "name", Remove);
        second.AddAnswer("C10", "id_type", Remove);
        return true;
    }

    private bool InjectX06(StudentRow slot)
    {
        if (!CanReshape(slot))
        {
            return false;
        }

        var partner = FindPartner(slot, _ => true);
        if (partner is null)
        {
            return false;
        }

        slot.BecomeCopyOf(partner);
        _factory.SetResidentId(slot, _ids.Allocate(partner.ResidentId![..6], partner.Birth, partner.Gender), temporary: false);
        slot[Col.StudentNo] = "G" + slot.ResidentId;
        partner.Involved = true;
        slot.AddFinding("X06", "id_number");
        partner.AddFinding("X06", "id_number");
        slot.AddAnswer("X06", "id_number", Remove);
        partner.AddAnswer("X06", "id_number", Confirm);
        return true;
    }

    private bool InjectT01(StudentRow slot)
    {
        if (slot.Previous is null)
        {
            return false;
        }

        // The student left without a recorded transfer; a transfer-in student (new here) took the place in the class.
        var person = _factory.Create(slot.Grade, _schoolYear, slot[Col.ClassName]);
        var before = slot.Previous;
        ReplacePerson(slot, person);
        _extra.Add(new GroundTruthLine(before[Col.StudentNo], before[Col.SchoolCode], "T01", "student_no"));
        _extraAnswers.Add(new AnswerLine(before[Col.SchoolCode], before[Col.StudentNo], "T01", "student_no", Confirm, ""));
        return true;
    }

    private bool InjectT02(StudentRow slot)
    {
        if (slot.Previous is not { } before)
        {
            return false;
        }

        switch (_rng.Next(3))
        {
            case 0:
                var shift = 1 + _rng.Next(20);
                before[Col.BirthDate] = SchoolCalendar.FormatDate(slot.Birth.AddDays(_rng.Next(2) == 0 ? shift : -shift));
                slot.AddFinding("T02", "birth_date");
                slot.AddAnswer("T02", "birth_date", Confirm);
                break;
            case 1:
                before[Col.Gender] = slot.Gender == 1 ? "2" : "1";
                slot.AddFinding("T02", "gender");
                slot.AddAnswer("T02", "gender", Confirm);
                break;
            default:
                before[Col.IdNumber] = _ids.Allocate(slot.ResidentId![..6], slot.Birth, slot.Gender);
                slot.AddFinding("T02", "id_number");
                slot.AddAnswer("T02", "id_number", Confirm);
                break;
        }

        return true;
    }

    private bool InjectT03(StudentRow slot)
    {
        if (slot.Previous is not { } before)
        {
            return false;
        }

        before.Grade = slot.Grade < _school.MaxGrade && _rng.Next(2) == 0 ? slot.Grade + 1 : slot.Grade;
        before[Col.Grade] = Num(before.Grade);
        before[Col.EntryMonth] = SchoolCalendar.EntryMonth(_previousSchoolYear, before.Grade);
        slot.AddFinding("T03", "grade");
        slot.AddAnswer("T03", "grade", Confirm);
        return true;
    }

    /// <summary>The slot's row becomes another (fresh) person in this school; bookkeeping of the slot stays.</summary>
    private static void ReplacePerson(StudentRow slot, StudentRow person)
    {
        slot.BecomeCopyOf(person);
        slot.Previous = null;
    }
}
