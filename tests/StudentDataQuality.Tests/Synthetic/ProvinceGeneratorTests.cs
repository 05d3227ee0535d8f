using System.IO.Compression;
using System.Text;
using System.Xml;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Records;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Text;

namespace StudentDataQuality.Tests.Synthetic;

public sealed class ProvinceGeneratorTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sdq-synthetic-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private GenerationResult Generate(string name, int students = 2000, int schools = 20, double rate = 0.05, int seed = 7,
        bool previous = true, ExportEncoding encoding = ExportEncoding.Utf8, ExportFormat format = ExportFormat.Csv) =>
        ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = students, Schools = schools, OutputDirectory = Path.Combine(_root, name), Seed = seed, DefectRate = rate,
            Previous = previous, Encoding = encoding, Format = format,
        });

    private static List<string[]> Students(GenerationResult result) => PlainCsv.Read(Path.Combine(result.ExportDirectory, "students.csv"));

    private static List<string> GroundTruth(GenerationResult result) =>
        [.. File.ReadAllLines(result.GroundTruthPath, Encoding.UTF8).Skip(1)];

    private static int Col(string field) => Layouts.Student.IndexOf(field);

    [Fact]
    public void Generate_IsByteIdentical_ForTheSameSeed_AndDiffers_ForAnother()
    {
        var a = Generate("a", students: 1500, schools: 15);
        var b = Generate("b", students: 1500, schools: 15);
        var c = Generate("c", students: 1500, schools: 15, seed: 8);
        foreach (var file in new[] { "export/schools.csv", "export/students.csv", "previous/students.csv", "ground_truth.csv", "province.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "a", file)), File.ReadAllBytes(Path.Combine(_root, "b", file)));
        }

        Assert.NotEqual(File.ReadAllBytes(Path.Combine(_root, "a", "export/students.csv")), File.ReadAllBytes(Path.Combine(_root, "c", "export/students.csv")));
        Assert.Equal(1500, a.Students);
        Assert.Equal(1500, Students(a).Count - 1);
        Assert.NotEqual(GroundTruth(a), GroundTruth(c));
    }

    [Fact]
    public void CleanProvince_HasValidCodedRealisticRows_AndNoFindings()
    {
        var result = Generate("clean", students: 3000, schools: 25, rate: 0);
        Assert.Empty(GroundTruth(result));
        Assert.All(result.DefectsByRule.Values, v => Assert.Equal(0, v));
        Assert.Empty(RuleOracle.Check(result.ExportDirectory, result.PreviousExportDirectory, new DateOnly(2026, 10, 15)));

        var schools = PlainCsv.Read(result.SchoolMasterPath);
        Assert.Equal(Layouts.School.Fields.Select(f => f.Header), schools[0]);
        Assert.Contains(schools.Skip(1), s => s[6] == "0");
        var closed = schools.Skip(1).Where(s => s[6] == "0").Select(s => s[0]).ToHashSet();
        var rows = Students(result).Skip(1).ToList();
        Assert.Equal(3000, rows.Count);
        var coded = Layouts.Student.Fields.Select((f, i) => (f, i)).Where(x => x.f.Codes is not null).ToList();
        var leapDay = false;
        foreach (var row in rows)
        {
            Assert.DoesNotContain(row[Col("school_code")], closed);
            Assert.All(coded, x => Assert.NotNull(x.f.Codes!.Match(row[x.i])));
            var birth = FieldParser.ParseDate(row[Col("birth_date")])!.Value;
            leapDay |= birth is { Month: 2, Day: 29 };
            var grade = FieldParser.ParseGrade(row[Col("grade")])!.Value;
            var age = 2026 - birth.Year - (birth.Month > 9 || (birth.Month == 9 && birth.Day > 1) ? 1 : 0);
            Assert.InRange(age - (grade + 5), 0, 1);
            Assert.Matches(@"^1[3-9]\d{9}$|^0\d{3}-[2-9]\d{7}$", row[Col("guardian_phone")]);
            Assert.NotEqual("Z", row[Col("id_type")]);
            if (row[Col("id_type")] != "1")
            {
                Assert.StartsWith("J", row[Col("student_no")]);
                continue;
            }

            var id = TextNormalizer.NormalizeCode(row[Col("id_number")]);
            Assert.True(ResidentId.HasValidCheckCharacter(id), id);
            Assert.Equal(birth, ResidentId.BirthDate(id));
            Assert.Equal(int.Parse(row[Col("gender")]), ResidentId.GenderCode(id));
            var no = row[Col("student_no")];
            Assert.True(no == "G" + id || (no.Length == 19 && no[0] == 'L'), no);
            var guardian = row[Col("guardian_id_number")];
            Assert.True(guardian.Length == 0 || (ResidentId.HasValidCheckCharacter(guardian) && guardian != id));
        }

        Assert.Equal(rows.Count, rows.Select(r => r[Col("student_no")]).Distinct().Count());
        Assert.Contains(rows, r => r[Col("id_number")].EndsWith('x'));
        Assert.Contains(rows, r => r[Col("student_no")][0] == 'L');
        Assert.Contains(rows, r => r[Col("name")].Contains('·'));
        _ = leapDay; // a real 29 February is rare at this size; the oracle above proves it would be clean
    }

    [Fact]
    public void SmallProvince_WithPrevious_HasEveryRuleOfTheCatalogue_AndOracleAgrees()
    {
        var result = Generate("all");
        var truth = GroundTruth(result);
        var rules = truth.Select(l => l.Split(',')[2]).ToHashSet();
        Assert.Equal(ProvinceGenerator.RuleIds.OrderBy(r => r), rules.OrderBy(r => r));
        Assert.All(ProvinceGenerator.RuleIds.Where(r => r[0] != 'A'), r => Assert.True(result.DefectsByRule[r] >= 3, $"{r}: {result.DefectsByRule[r]}"));
        Assert.Equal(truth.Count, result.DefectsByRule.Values.Sum());

        var expected = RuleOracle.Check(result.ExportDirectory, result.PreviousExportDirectory, new DateOnly(2026, 10, 15));
        Assert.Equal(expected.Order(StringComparer.Ordinal), truth.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(11)]
    public void GroundTruth_MatchesOracle_ForOtherSeedsAndRates(int seed)
    {
        var result = Generate("seed" + seed, students: 4000, schools: 30, rate: 0.1, seed: seed, previous: seed == 3);
        var expected = RuleOracle.Check(result.ExportDirectory, result.PreviousExportDirectory, new DateOnly(2026, 10, 15));
        Assert.Equal(expected.Order(StringComparer.Ordinal), GroundTruth(result).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void GroundTruth_RowsShowTheirDefect()
    {
        var result = Generate("rows");
        var rows = Students(result).Skip(1).ToList();
        var byKey = rows.ToLookup(r => (r[Col("student_no")], r[Col("school_code")]));
        var truth = GroundTruth(result).Select(l => l.Split(',')).ToList();
        foreach (var t in truth.Where(t => t[0].Length > 0 && t[2][0] != 'T' || t[2] is "T02" or "T03"))
        {
            var row = byKey[(t[0], t[1])].First();
            var id = TextNormalizer.NormalizeCode(row[Col("id_number")]);
            switch (t[2])
            {
                case "F03":
                    Assert.True(ResidentId.HasValidShape(id) && !ResidentId.HasValidCheckCharacter(id) && ResidentId.BirthDate(id) is not null, id);
                    break;
                case "F04":
                    Assert.True(ResidentId.HasValidCheckCharacter(id) && ResidentId.BirthDate(id) is null, id);
                    break;
                case "F12":
                    Assert.Matches(@"^\d\.\d+E\+17$|^\d{15}000$", id);
                    break;
                case "S03":
                    Assert.Equal(2, byKey[(t[0], t[1])].Count());
                    break;
                case "X03":
                    Assert.True(rows.Where(r => TextNormalizer.NormalizeCode(r[Col("id_number")]) == id).Select(r => r[Col("school_code")]).Distinct().Count() >= 2);
                    break;
                case "C10":
                    Assert.Equal("Z", row[Col("id_type")]);
                    Assert.Equal("", row[Col("id_number")]);
                    break;
                case "C01":
                    Assert.NotEqual(ResidentId.BirthDate(id), FieldParser.ParseDate(row[Col("birth_date")]));
                    break;
            }
        }

        var flagged = truth.Where(t => t[0].Length > 0).Select(t => (t[0], t[1])).ToHashSet();
        foreach (var row in rows.Where(r => !flagged.Contains((r[Col("student_no")], r[Col("school_code")])) && r[Col("id_type")] == "1"))
        {
            Assert.True(ResidentId.HasValidCheckCharacter(TextNormalizer.NormalizeCode(row[Col("id_number")])), row[Col("id_number")]);
        }
    }

    [Fact]
    public void Encodings_DecodeToTheSameContent()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var plain = Generate("utf8", students: 800, schools: 10, previous: false);
        var bom = Generate("bom", students: 800, schools: 10, previous: false, encoding: ExportEncoding.Utf8Bom);
        var gb = Generate("gb", students: 800, schools: 10, previous: false, encoding: ExportEncoding.Gb18030);
        var path = Path.Combine("export", "students.csv");
        var utf8Bytes = File.ReadAllBytes(Path.Combine(_root, "utf8", path));
        var bomBytes = File.ReadAllBytes(Path.Combine(_root, "bom", path));
        Assert.NotEqual(0xEF, utf8Bytes[0]);
        Assert.Equal([0xEF, 0xBB, 0xBF], bomBytes[..3]);
        var reference = new UTF8Encoding(false, true).GetString(utf8Bytes);
        Assert.Equal(reference, new UTF8Encoding(false, true).GetString(bomBytes[3..]));
        var gbBytes = File.ReadAllBytes(Path.Combine(_root, "gb", path));
        Assert.NotEqual(utf8Bytes, gbBytes);
        Assert.Equal(reference, Encoding.GetEncoding(54936).GetString(gbBytes));
        Assert.Equal(File.ReadAllBytes(plain.GroundTruthPath), File.ReadAllBytes(gb.GroundTruthPath));
        Assert.Equal(File.ReadAllText(plain.SchoolMasterPath), File.ReadAllText(bom.SchoolMasterPath));
    }

    [Fact]
    public void Xlsx_HoldsTheSameRowsAsTheCsv_AsInlineStrings()
    {
        var result = Generate("both", students: 1200, schools: 12, rate: 0.1, format: ExportFormat.Both);
        Assert.Equal(2, result.StudentExportPaths.Count);
        var xlsxPath = result.StudentExportPaths.Single(p => p.EndsWith(".xlsx", StringComparison.Ordinal));
        Assert.Equal(Path.Combine(_root, "both", "xlsx", "students.xlsx"), xlsxPath);
        Assert.True(File.Exists(Path.Combine(_root, "both", "xlsx", "schools.csv")));
        Assert.False(File.Exists(Path.Combine(result.ExportDirectory, "students.xlsx")));

        var csv = Students(result);
        var sheet = ReadSheet(xlsxPath);
        Assert.Equal(csv.Count, sheet.Count);
        for (var i = 0; i < csv.Count; i++)
        {
            Assert.Equal(csv[i], sheet[i]);
        }
    }

    /// <summary>Reads the first worksheet by unzipping it: every cell must be an inline string.</summary>
    private static List<string[]> ReadSheet(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var entry = zip.Entries.Single(e => e.FullName.Contains("worksheets/", StringComparison.Ordinal) && e.FullName.EndsWith(".xml", StringComparison.Ordinal));
        using var reader = XmlReader.Create(entry.Open());
        var rows = new List<string[]>();
        List<string>? row = null;
        while (reader.Read())
        {
            if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "row")
            {
                row = [];
            }
            else if (reader.NodeType == XmlNodeType.EndElement && reader.LocalName == "row")
            {
                rows.Add([.. row!]);
            }
            else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "c")
            {
                Assert.Equal("inlineStr", reader.GetAttribute("t"));
            }
            else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "t")
            {
                row!.Add(Unescape(reader.ReadElementContentAsString()));
            }
        }

        return rows;
    }

    private static string Unescape(string s) => System.Text.RegularExpressions.Regex.Replace(s, "_x([0-9A-Fa-f]{4})_",
        m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString());
}
