using System.Globalization;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;
using StudentDataQuality.Text;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>A finding on a row of a case: expected (<see cref="Detail"/> null when not compared) or found.</summary>
public sealed record CaseFinding(string Owner, string Rule, string Field, string? Value, string Severity, string? Detail)
{
    public bool Satisfies(CaseFinding expected) =>
        (Owner, Rule, Field, Value, Severity) == (expected.Owner, expected.Rule, expected.Field, expected.Value, expected.Severity)
        && (expected.Detail is null || expected.Detail == Detail);

    public override string ToString() =>
        $"{Owner}: {Rule} {Field} = {(Value is null ? "NULL" : $"'{Value}'")} ({Severity}){(Detail is null ? "" : $", detail '{Detail}'")}";
}

/// <summary>One row of the export, named for messages ("student 2", "student 1 before", "previous 1", "school 2").</summary>
public sealed record ExportRow(RuleCase Case, string Owner, string[] Values, IReadOnlyList<CaseFinding> Expected);

/// <summary>
/// The rows of every rule case as one registry export: this round's school master and students, and one previous
/// round. Each case gets its own school(s), and every student its own resident ID, student number, name and guardian
/// phone, unless the case fixes them, so that no case's students meet another case's in a rule that compares records
/// (same school, same ID anywhere in the province, same name and birth date).
/// </summary>
public sealed partial class RuleCaseExport
{
    public static readonly DateOnly RoundDate = new(2026, 10, 15);

    /// <summary>Six months earlier: the school year before (T03 expects a grade to advance between the two).</summary>
    public static readonly DateOnly PreviousRoundDate = RoundDate.AddMonths(-6);

    private const int SchoolYear = 2026;
    private static readonly DateOnly DefaultBorn = new(2018, 9, 1);

    // Generated IDs are of other districts than 230102, which the cases use for the IDs they write out.
    private static readonly string[] GeneratedRegions = ["230103", "230104", "230108", "230109", "230110"];
    private const string Surnames = "赵钱孙李周吴郑冯陈褚";
    private const string GivenNames = "一二三四五六七八九十明红华强伟芳娜敏静丽军杰涛磊洋勇艳超秀霞平刚";

    private readonly Dictionary<DateOnly, int> _sequences = [];
    private int _people;
    private int _schoolCount;

    private RuleCaseExport()
    {
    }

    public List<ExportRow> Schools { get; } = [];

    public List<ExportRow> Students { get; } = [];

    public List<ExportRow> PreviousStudents { get; } = [];

    public static RuleCaseExport Build(IEnumerable<RuleCase> cases)
    {
        var export = new RuleCaseExport();
        foreach (var ruleCase in cases)
        {
            try
            {
                export.Add(ruleCase);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
            {
                throw new InvalidOperationException($"Rule case '{ruleCase.Title}': {e.Message}", e);
            }
        }

        var shared = export.Schools.GroupBy(s => s.Values[0]).FirstOrDefault(g => g.Select(s => s.Case).Distinct().Count() > 1);
        if (shared is not null)
        {
            throw new InvalidOperationException($"School code {shared.Key} is in the master of two cases: {string.Join(", ", shared.Select(s => s.Case.Title))}.");
        }

        return export;
    }

    private void Add(RuleCase ruleCase)
    {
        var schools = (ruleCase.Schools.Count == 0 ? [new CaseRow(new Dictionary<string, string>(), [], null, null, 1, [])] : ruleCase.Schools)
            .Select((row, i) => (Row: row, Values: SchoolValues(row), Owner: $"school {i + 1}"))
            .ToList();
        string Resolve(string text) => Placeholder().Replace(text, m =>
        {
            var index = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) - 1;
            return index < schools.Count ? schools[index].Values[m.Groups[2].Success ? 1 : 0]
                : throw new InvalidOperationException($"{m.Value} names a school the case does not have.");
        });

        foreach (var school in schools)
        {
            Schools.Add(new ExportRow(ruleCase, school.Owner, school.Values,
                Expect(ruleCase, school.Owner, school.Row.Expect, field => field == "school_code" ? school.Values[0] : null, Resolve)));
        }

        var main = schools[0].Values;
        var students = new List<ExportRow>();
        for (var i = 0; i < ruleCase.Students.Count; i++)
        {
            var row = ruleCase.Students[i];
            for (var copy = 1; copy <= row.Repeat; copy++)
            {
                var owner = row.Repeat == 1 ? $"student {i + 1}" : $"student {i + 1}.{copy}";
                string[] values;
                if (row.Like is { } like)
                {
                    values = like >= 1 && like <= i
                        ? ApplyTo(students.First(s => s.Owner == $"student {like}" || s.Owner == $"student {like}.1").Values, row.Set, Resolve)
                        : throw new InvalidOperationException($"student {i + 1} is like student {like}, which is not a student before it.");
                }
                else
                {
                    values = NewStudent(row, main, SchoolYear, Resolve);
                }

                var student = new ExportRow(ruleCase, owner, values, Expect(ruleCase, owner, row.Expect, StudentField(values), Resolve));
                students.Add(student);
                for (var b = 0; b < row.Before.Count; b++)
                {
                    var beforeOwner = owner + " before" + (row.Before.Count == 1 ? "" : $" {b + 1}");
                    var previous = ApplyTo(values, row.Before[b].Set, Resolve);
                    PreviousStudents.Add(new ExportRow(ruleCase, beforeOwner, previous, Expect(ruleCase, beforeOwner, row.Before[b].Expect, StudentField(previous), Resolve)));
                }
            }
        }

        Students.AddRange(students);
        for (var i = 0; i < ruleCase.Previous.Count; i++)
        {
            var row = ruleCase.Previous[i];
            for (var copy = 1; copy <= row.Repeat; copy++)
            {
                var owner = row.Repeat == 1 ? $"previous {i + 1}" : $"previous {i + 1}.{copy}";
                var values = NewStudent(row, main, SchoolYear - 1, Resolve);
                PreviousStudents.Add(new ExportRow(ruleCase, owner, values, Expect(ruleCase, owner, row.Expect, StudentField(values), Resolve)));
            }
        }
    }

    /// <summary>An open primary school (grades 1–6) of its own, code 21235xxxxx, then the case's fields.</summary>
    private string[] SchoolValues(CaseRow row)
    {
        var number = ++_schoolCount;
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["school_code"] = "21235" + number.ToString("D5", CultureInfo.InvariantCulture),
            ["school_name"] = $"第{number}用例小学",
            ["district_code"] = "230102",
            ["district_name"] = "道里区",
            ["min_grade"] = "1",
            ["max_grade"] = "6",
            ["is_open"] = "1",
        };
        foreach (var (field, value) in row.Set)
        {
            values[field] = value;
        }

        return Layouts.School.Fields.Select(f => values[f.Name]).ToArray();
    }

    /// <summary>
    /// A student of its own: the valid student of <see cref="SampleExport"/> at the case's first school, with a resident ID
    /// made of <see cref="CaseRow.Born"/> and a sequence of its own, a name and a guardian phone of its own, then the
    /// case's fields. The student number, birth date and gender follow the ID number (the case's, if it is a valid
    /// resident ID, else the generated one) and the entry month follows the grade, unless the case gives them.
    /// </summary>
    private string[] NewStudent(CaseRow row, string[] school, int schoolYear, Func<string, string> resolve)
    {
        var born = row.Born ?? DefaultBorn;
        var sequence = _sequences[born] = _sequences.GetValueOrDefault(born) + 1;
        var generatedId = ResidentId.Create(GeneratedRegions[sequence / 1000], born, sequence % 1000);
        var person = _people++;
        var values = new Dictionary<string, string>(SampleExport.ValidStudent, StringComparer.Ordinal)
        {
            ["school_code"] = school[0],
            ["school_name"] = school[1],
            ["id_number"] = generatedId,
            ["name"] = $"{Surnames[person % Surnames.Length]}{GivenNames[person / Surnames.Length % GivenNames.Length]}"
                       + GivenNames[person / Surnames.Length / GivenNames.Length % GivenNames.Length],
            ["guardian_phone"] = "139" + (10_000_000 + person).ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (field, value) in row.Set)
        {
            values[field] = resolve(value);
        }

        var given = TextNormalizer.NormalizeCode(values["id_number"]);
        var id = ResidentId.HasValidCheckCharacter(given) && ResidentId.BirthDate(given) is not null ? given : generatedId;
        var derived = new Dictionary<string, string>
        {
            ["student_no"] = "G" + id,
            ["birth_date"] = ResidentId.BirthDate(id)!.Value.ToString("yyyyMMdd", CultureInfo.InvariantCulture),
            ["gender"] = ResidentId.GenderCode(id)!.Value.ToString(CultureInfo.InvariantCulture),
        };
        if (int.TryParse(values["grade"], NumberStyles.None, CultureInfo.InvariantCulture, out var grade) && grade is >= 1 and <= 12)
        {
            // The year the student's stage (primary 1, junior secondary 7, senior secondary 10) began, in September.
            var stageStart = grade <= 6 ? 1 : grade <= 9 ? 7 : 10;
            derived["entry_month"] = $"{schoolYear - (grade - stageStart)}09";
        }

        foreach (var (field, value) in derived.Where(d => !row.Set.ContainsKey(d.Key)))
        {
            values[field] = value;
        }

        return Layouts.Student.Fields.Select(f => values[f.Name]).ToArray();
    }

    private static string[] ApplyTo(string[] row, IReadOnlyDictionary<string, string> set, Func<string, string> resolve)
    {
        var values = (string[])row.Clone();
        foreach (var (field, value) in set)
        {
            values[Layouts.Student.IndexOf(field)] = resolve(value);
        }

        return values;
    }

    private static Func<string, string?> StudentField(string[] values) => field =>
        Layouts.Student.Fields.Any(f => f.Name == field) ? values[Layouts.Student.IndexOf(field)] : null;

    private static List<CaseFinding> Expect(RuleCase ruleCase, string owner, IReadOnlyList<ExpectedFinding> expected, Func<string, string?> text,
        Func<string, string> resolve) =>
        expected.Select(e =>
        {
            var rule = e.Rule ?? ruleCase.Rule;
            // A rule sql/rules does not have fails its cases (and the test of the case files names it), not every case.
            var severity = e.Severity ?? RuleCatalog.All.FirstOrDefault(r => r.Id == rule)?.Severity ?? "(no such rule)";
            var value = e.Value is null ? text(e.Field) ?? throw new InvalidOperationException($"{owner} expects a finding on {e.Field}, which its row does not have.")
                : resolve(e.Value);
            return new CaseFinding(owner, rule, e.Field, value, severity, e.Detail is null ? null : resolve(e.Detail));
        }).ToList();

    // {school1} is the code of the case's first school, {school2_name} the name of its second.
    [GeneratedRegex(@"\{school([1-9])(_name)?\}")]
    private static partial Regex Placeholder();
}
