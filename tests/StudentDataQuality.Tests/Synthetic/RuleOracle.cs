using System.Globalization;
using System.Text.RegularExpressions;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;
using StudentDataQuality.Reference;
using StudentDataQuality.Text;

namespace StudentDataQuality.Tests.Synthetic;

/// <summary>
/// An independent implementation of the rule semantics written down in docs/synthetic-province.md, over plain CSV
/// files. It shares nothing with the generator except Core's parsing primitives; if it and ground_truth.csv agree,
/// the contract is self-consistent and the ground truth is exact.
/// </summary>
internal static partial class RuleOracle
{
    private static readonly HashSet<string> KnownRegions =
        ReferenceData.Regions.Select(r => r.SixDigitCode).ToHashSet(StringComparer.Ordinal);

    public sealed record School(string Code, int Min, int Max, bool Open);

    private sealed class Rec
    {
        public required string[] Raw;
        public required Dictionary<string, string?> V; // field -> raw value that passed stage 1 (null when missing/bad)
        public string StudentNo => Raw[0];
        public string SchoolCode => Raw[1];
        public string? No, Code, IdType, Id, Name, GuardianName, Phone, GuardianId, Hmt, Nationality;
        public int? Gender, Grade, Migrant, LeftBehind;
        public DateOnly? Birth, Entry;
        public bool IdValid; // a resident ID that passed stage 2 (F05 does not disqualify)
        public bool OtherIdValid;
        public readonly List<(string Rule, string Field)> Found = [];
    }

    public static List<string> Check(string exportDir, string? previousDir, DateOnly round)
    {
        var schools = PlainCsv.Read(Path.Combine(exportDir, "schools.csv")).Skip(1)
            .Select(r => new School(r[0], int.Parse(r[4], CultureInfo.InvariantCulture), int.Parse(r[5], CultureInfo.InvariantCulture), r[6] == "1"))
            .ToDictionary(s => s.Code);
        var current = Load(Path.Combine(exportDir, "students.csv"), round);
        var findings = new List<string>();
        RecordRules(current, schools, round);
        foreach (var r in current)
        {
            findings.AddRange(r.Found.Select(f => Line(r.StudentNo, r.SchoolCode, f.Rule, f.Field)));
        }

        List<Rec>? previous = null;
        if (previousDir is not null)
        {
            var previousRound = round.AddMonths(-6);
            previous = Load(Path.Combine(previousDir, "students.csv"), previousRound);
            findings.AddRange(CrossRound(current, previous, schools, round, previousRound));
        }

        foreach (var s in schools.Values.Where(s => s.Open))
        {
            var here = current.Where(r => r.SchoolCode == s.Code).ToList();
            if (here.Count == 0)
            {
                findings.Add(Line("", s.Code, "A01", "school_code"));
            }

            var before = previous?.Count(r => r.SchoolCode == s.Code) ?? 0;
            if (before > 0 && Math.Abs(here.Count - before) > 0.2 * before)
            {
                findings.Add(Line("", s.Code, "A02", "school_code"));
            }

            if (here.Count > 0 && here.Count(r => r.IdType == "Z") > 0.02 * here.Count)
            {
                findings.Add(Line("", s.Code, "A03", "school_code"));
            }
        }

        return findings;
    }

    public static string Line(string no, string school, string rule, string field) => $"{no},{school},{rule},{field}";

    private static List<Rec> Load(string path, DateOnly round)
    {
        var rows = PlainCsv.Read(path);
        var fields = Layouts.Student.Fields;
        Assert.Equal(fields.Select(f => f.Header), rows[0]);
        var list = new List<Rec>();
        foreach (var raw in rows.Skip(1))
        {
            var rec = new Rec { Raw = raw, V = [] };
            for (var i = 0; i < fields.Count; i++)
            {
                var f = fields[i];
                var value = raw[i];
                var idTypeZ = CodeLists.IdType.Match(raw[Layouts.Student.IndexOf("id_type")]) == "Z";
                if (TextNormalizer.Trim(value).Length == 0)
                {
                    if (f.Required && !(f.Name == "id_number" && idTypeZ))
                    {
                        rec.Found.Add(("S01", f.Name));
                    }

                    rec.V[f.Name] = null;
                }
                else if (value.Any(c => c < 0x20 || c is >= '\u007F' and <= '\u009F' || c == '\uFFFD') || value.Length > f.MaxLength)
                {
                    rec.Found.Add(("S02", f.Name));
                    rec.V[f.Name] = null;
                }
                else
                {
                    rec.V[f.Name] = value;
                }
            }

            Stage2(rec, round);
            list.Add(rec);
        }

        return list;
    }

    private static void Stage2(Rec r, DateOnly round)
    {
        string? Get(string f) => r.V[f];
        if (Get("student_no") is { } no)
        {
            var n = TextNormalizer.NormalizeCode(no);
            if (StudentNoShape().IsMatch(n)) r.No = n; else r.Found.Add(("F01", "student_no"));
        }

        if (Get("school_code") is { } code)
        {
            var c = TextNormalizer.NormalizeCode(code);
            if (c.Length == 10 && TextNormalizer.IsDigits(c) && c[2..4] == "23") r.Code = c; else r.Found.Add(("F09", "school_code"));
        }

        foreach (var f in new[] { "gender", "nationality", "ethnicity", "id_type", "hmt_status", "household_type", "study_mode",
                     "only_child", "migrant_child", "left_behind", "disability", "guardian_relation" })
        {
            if (Get(f) is { } v && Layouts.Student.Fields[Layouts.Student.IndexOf(f)].Codes!.Match(v) is null)
            {
                r.Found.Add(("F08", f));
                r.V[f] = null;
            }
        }

        foreach (var f in new[] { "birthplace", "household_region" })
        {
            if (Get(f) is { } v && !KnownRegions.Contains(TextNormalizer.Trim(TextNormalizer.FoldFullWidth(v))))
            {
                r.Found.Add(("F08", f));
            }
        }

        if (Get("grade") is { } g)
        {
            r.Grade = FieldParser.ParseGrade(g);
            if (r.Grade is null) r.Found.Add(("F08", "grade"));
        }

        r.Gender = Get("gender") is { } gv ? int.Parse(CodeLists.Gender.Match(gv)!, CultureInfo.InvariantCulture) : null;
        r.IdType = Get("id_type") is { } it ? CodeLists.IdType.Match(it) : null;
        r.Hmt = Get("hmt_status") is { } h ? CodeLists.HmtStatus.Match(h) : null;
        r.Nationality = Get("nationality") is { } na ? CodeLists.Nationality.Match(na) : null;
        r.Migrant = Get("migrant_child") is { } m ? int.Parse(CodeLists.YesNo.Match(m)!, CultureInfo.InvariantCulture) : null;
        r.LeftBehind = Get("left_behind") is { } lb ? int.Parse(CodeLists.LeftBehind.Match(lb)!, CultureInfo.InvariantCulture) : null;

        if (Get("id_number") is { } idRaw && r.IdType is { } type)
        {
            var id = TextNormalizer.NormalizeCode(idRaw);
            if (type == "1")
            {
                if (Scientific().IsMatch(id) || (Padded().IsMatch(id) && !ResidentId.HasValidCheckCharacter(id)))
                {
                    r.Found.Add(("F12", "id_number"));
                }
                else if (!ResidentId.HasValidShape(id))
                {
                    r.Found.Add(("F02", "id_number"));
                }
                else
                {
                    var check = ResidentId.HasValidCheckCharacter(id);
                    var birth = ResidentId.BirthDate(id);
                    if (!check) r.Found.Add(("F03", "id_number"));
                    if (birth is null) r.Found.Add(("F04", "id_number"));
                    if (!KnownRegions.Contains(id[..6])) r.Found.Add(("F05", "id_number"));
                    r.IdValid = check && birth is not null;
                    if (r.IdValid) r.Id = id;
                }
            }
            else if (type != "Z")
            {
                var ok = type switch
                {
                    "6" => Regex.IsMatch(id, @"^H\d{8}(\d{2})?$"),
                    "7" => Regex.IsMatch(id, @"^M\d{8}(\d{2})?$"),
                    "8" => Regex.IsMatch(id, @"^\d{8}(\d{2})?$"),
                    "9" => Regex.IsMatch(id, @"^[A-Z]{3}\d{12}$"),
                    _ => Regex.IsMatch(id, "^[A-Z0-9]{5,17}$") && id.Any(char.IsAsciiDigit),
                };
                if (ok) { r.Id = id; r.OtherIdValid = true; } else r.Found.Add(("F02", "id_number"));
            }
        }

        if (Get("birth_date") is { } b)
        {
            var d = FieldParser.ParseDate(b);
            if (d is { } day && day >= round.AddYears(-25) && day <= round.AddYears(-3)) r.Birth = day; else r.Found.Add(("F06", "birth_date"));
        }

        if (Get("entry_month") is { } e)
        {
            r.Entry = FieldParser.ParseYearMonth(e);
            if (r.Entry is null) r.Found.Add(("F07", "entry_month"));
        }

        foreach (var f in new[] { "name", "guardian_name" })
        {
            if (Get(f) is { } v)
            {
                var n = TextNormalizer.Trim(v);
                if (!(n.Length is >= 2 and <= 30 && (CjkName().IsMatch(n) || LatinName().IsMatch(n)))) r.Found.Add(("F10", f));
                else if (f == "name") r.Name = n; else r.GuardianName = n;
            }
        }

        if (Get("guardian_phone") is { } p)
        {
            var digits = FieldParser.Parse(Layouts.Student.Fields[Layouts.Student.IndexOf("guardian_phone")], p) as string;
            if (digits is not null && digits.StartsWith("86", StringComparison.Ordinal) && digits.Length == 13) digits = digits[2..];
            if (digits is not null && (Mobile().IsMatch(digits) || Landline().IsMatch(digits))) r.Phone = digits; else r.Found.Add(("F11", "guardian_phone"));
        }

        if (Get("guardian_id_number") is { } gid)
        {
            var n = TextNormalizer.NormalizeCode(gid);
            if (ResidentId.HasValidCheckCharacter(n) && ResidentId.BirthDate(n) is not null) r.GuardianId = n;
        }
    }

    private static void RecordRules(List<Rec> rows, Dictionary<string, School> schools, DateOnly round)
    {
        var year = round.Month >= 9 ? round.Year : round.Year - 1;
        var start = new DateOnly(year, 9, 1);
        foreach (var r in rows)
        {
            if (r.IdValid && r.Birth is { } b1 && ResidentId.BirthDate(r.Id) != b1) r.Found.Add(("C01", "birth_date"));
            if (r.IdValid && r.Gender is { } g && ResidentId.GenderCode(r.Id) != g) r.Found.Add(("C02", "gender"));
            if (r.No is { } no && no[0] == 'G' && r.IdValid && no[1..] != r.Id) r.Found.Add(("C03", "student_no"));
            if (r.Birth is { } b2 && r.Grade is { } gr)
            {
                var age = start.Year - b2.Year - (b2.Month > 9 || (b2.Month == 9 && b2.Day > 1) ? 1 : 0);
                if (Math.Abs(age - (gr + 5)) >= 2) r.Found.Add(("C04", "birth_date"));
            }

            if (r.Entry is { } e && ((r.Birth is { } b3 && e < b3.AddYears(3)) || e > round)) r.Found.Add(("C05", "entry_month"));
            if (r.Entry is { } e2 && r.Grade is { } gr2)
            {
                var stage = gr2 <= 6 ? 1 : gr2 <= 9 ? 7 : 10;
                var entryYear = e2.Month >= 9 ? e2.Year : e2.Year - 1;
                if (entryYear != year - (gr2 - stage)) r.Found.Add(("C06", "entry_month"));
            }

            if (r.Migrant == 1 && r.LeftBehind is 1 or 2) r.Found.Add(("C07", "left_behind"));
            if (r.IdType is { } t && r.Hmt is { } h && r.Nationality is { } n && !Agrees(t, h, n)) r.Found.Add(("C08", "id_type"));
            if (r.IdValid && r.GuardianId == r.Id) r.Found.Add(("C09", "guardian_id_number"));
            else if (r.GuardianId is { } gid && r.Birth is { } b4 && ResidentId.BirthDate(gid)!.Value.AddYears(14) > b4) r.Found.Add(("C09", "guardian_id_number"));
            if (r.IdType == "Z") r.Found.Add(("C10", "id_type"));

            if (r.Code is { } code)
            {
                if (!schools.TryGetValue(code, out var s) || !s.Open) r.Found.Add(("X01", "school_code"));
                else if (r.Grade is { } gr3 && (gr3 < s.Min || gr3 > s.Max)) r.Found.Add(("X02", "grade"));
            }
        }

        foreach (var group in rows.Where(r => r.IdValid && r.Code is not null).GroupBy(r => r.Id))
        {
            if (group.Select(r => r.Code).Distinct().Count() >= 2)
            {
                foreach (var r in group) r.Found.Add(("X03", "id_number"));
            }
        }

        foreach (var group in rows.Where(r => r.IdValid && r.Code is not null && r.No is not null).GroupBy(r => (r.Code, r.Id)))
        {
            if (group.Select(r => r.No).Distinct().Count() >= 2)
            {
                foreach (var r in group) r.Found.Add(("X04", "id_number"));
            }
        }

        foreach (var group in rows.Where(r => r.IdType == "Z" && r.Name is not null && r.Gender is not null && r.Birth is not null)
                     .GroupBy(r => (r.Name, r.Gender, r.Birth)))
        {
            if (group.Count() >= 2)
            {
                foreach (var r in group) r.Found.Add(("X05", "name"));
            }
        }

        foreach (var group in rows.Where(r => (r.IdValid || r.OtherIdValid) && r.Name is not null && r.Birth is not null && r.Phone is not null)
                     .GroupBy(r => (r.Name, r.Birth, r.Phone)))
        {
            if (group.Select(r => r.Id).Distinct().Count() >= 2)
            {
                foreach (var r in group) r.Found.Add(("X06", "id_number"));
            }
        }

        foreach (var group in rows.Where(r => r.V["student_no"] is not null && r.V["school_code"] is not null)
                     .GroupBy(r => (TextNormalizer.NormalizeCode(r.SchoolCode), TextNormalizer.NormalizeCode(r.StudentNo))))
        {
            if (group.Count() >= 2)
            {
                foreach (var r in group) r.Found.Add(("S03", "student_no"));
            }
        }
    }

    private static bool Agrees(string type, string hmt, string nationality) => type switch
    {
        "1" => nationality == "CHN" && hmt is "0" or "4",
        "6" => hmt == "1" && nationality is "HKG" or "CHN",
        "7" => hmt == "2" && nationality is "MAC" or "CHN",
        "8" => hmt == "3" && nationality is "TWN" or "CHN",
        "9" or "A" => hmt == "5" && nationality is not ("CHN" or "HKG" or "MAC" or "TWN"),
        _ => true,
    };

    private static IEnumerable<string> CrossRound(List<Rec> current, List<Rec> previous, Dictionary<string, School> schools,
        DateOnly round, DateOnly previousRound)
    {
        static int SchoolYear(DateOnly d) => d.Month >= 9 ? d.Year : d.Year - 1;
        var boundary = SchoolYear(round) > SchoolYear(previousRound);
        var now = current.Where(r => r.Code is not null && r.No is not null).ToLookup(r => (r.Code, r.No));
        var before = previous.Where(r => r.Code is not null && r.No is not null).GroupBy(r => (r.Code, r.No)).ToDictionary(g => g.Key, g => g.First());
        foreach (var p in previous)
        {
            if (p.Code is null || p.No is null || !schools.TryGetValue(p.Code, out var s) || !s.Open) continue;
            if (p.Grade == s.Max) continue; // graduates
            if (!now.Contains((p.Code, p.No))) yield return Line(p.StudentNo, p.SchoolCode, "T01", "student_no");
        }

        foreach (var c in current)
        {
            if (c.Code is null || c.No is null || !before.TryGetValue((c.Code, c.No), out var p)) continue;
            if (c.Birth is { } b && p.Birth is { } pb && b != pb) yield return Line(c.StudentNo, c.SchoolCode, "T02", "birth_date");
            if (c.Gender is { } g && p.Gender is { } pg && g != pg) yield return Line(c.StudentNo, c.SchoolCode, "T02", "gender");
            if (c.Id is { } id && p.Id is { } pid && (c.IdValid || c.OtherIdValid) && id != pid) yield return Line(c.StudentNo, c.SchoolCode, "T02", "id_number");
            if (c.Grade is { } gr && p.Grade is { } pgr && (gr < pgr || (boundary && gr == pgr))) yield return Line(c.StudentNo, c.SchoolCode, "T03", "grade");
        }
    }

    [GeneratedRegex("^[GLJ][0-9A-Z]{18}$")] private static partial Regex StudentNoShape();
    [GeneratedRegex(@"^\d(\.\d+)?E\+?\d{1,2}$")] private static partial Regex Scientific();
    [GeneratedRegex(@"^\d{15}000$")] private static partial Regex Padded();
    [GeneratedRegex(@"^[\u3400-\u4DBF\u4E00-\u9FFF]+(·[\u3400-\u4DBF\u4E00-\u9FFF]+)*$")] private static partial Regex CjkName();
    [GeneratedRegex("^[A-Za-z]+(·[A-Za-z]+)*$")] private static partial Regex LatinName();
    [GeneratedRegex("^1[3-9][0-9]{9}$")] private static partial Regex Mobile();
    [GeneratedRegex("^0[0-9]{2,3}[2-9][0-9]{6,7}$")] private static partial Regex Landline();
}
