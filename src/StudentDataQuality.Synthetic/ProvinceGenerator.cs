using System.Text;
using System.Text.Json;
using StudentDataQuality.Records;

namespace StudentDataQuality.Synthetic;

/// <summary>
/// Writes a synthetic province: school master, the current round's registry export, optionally the previous round's,
/// and the ground truth of every finding the quality rules must produce (docs/synthetic-province.md is the contract).
/// Generation is streamed school by school: memory does not grow with the number of students.
/// </summary>
public static class ProvinceGenerator
{
    /// <summary>The rule ids of the catalogue (docs/record.md), in catalogue order.</summary>
    public static IReadOnlyList<string> RuleIds { get; } =
    [
        "S01", "S02", "S03",
        "F01", "F02", "F03", "F04", "F05", "F06", "F07", "F08", "F09", "F10", "F11", "F12",
        "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10",
        "X01", "X02", "X03", "X04", "X05", "X06",
        "T01", "T02", "T03",
        "A01", "A02", "A03",
    ];

    public static GenerationResult Generate(GeneratorOptions options, IProgress<long>? studentsWritten = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.OutputDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Schools, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Schools, 100_000);
        if (options.Students < options.Schools)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Students,
                $"Students ({options.Students}) must be at least the number of schools ({options.Schools}).");
        }

        if (options.DefectRate is < 0 or > 1 || double.IsNaN(options.DefectRate))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.DefectRate, "DefectRate must be between 0 and 1.");
        }

        if (options.Previous && options.RoundDate.Month is >= 3 and <= 8)
        {
            throw new ArgumentException(
                $"With Previous the round date must fall in September–February (got {options.RoundDate:yyyy-MM-dd}): the previous "
                + "round, six months earlier, must be in the previous school year.", nameof(options));
        }

        return new ProvinceRun(options).Execute(studentsWritten, cancellationToken);
    }
}

internal sealed record GroundTruthLine(string StudentNo, string SchoolCode, string Rule, string Field);

/// <summary>One line of registrar_answers.csv (<see cref="RegistrarAnswers"/> reads them back).</summary>
internal sealed record AnswerLine(string SchoolCode, string StudentNo, string Rule, string Field, string Action, string Value);

internal sealed partial class ProvinceRun
{
    private const int MinimumPerRule = 3;
    private const int ReservoirPerGrade = 16;

    private readonly GeneratorOptions _options;
    private readonly ProvinceReference _reference = new();
    private readonly IdAllocator _ids;
    private readonly int _schoolYear;
    private readonly int _previousSchoolYear;
    private readonly DateOnly _previousRound;
    private readonly Dictionary<string, int> _injected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _findings = new(StringComparer.Ordinal);
    private readonly List<StudentRow>[] _reservoir = Enumerable.Range(0, 13).Select(_ => new List<StudentRow>()).ToArray();
    private readonly HashSet<string> _withoutIdKeys = new(StringComparer.Ordinal);
    private readonly string[] _recordRules;
    private List<SchoolPlan> _schools = [];
    private List<string> _closedCodes = [];

    public ProvinceRun(GeneratorOptions options)
    {
        _options = options;
        _schoolYear = SchoolCalendar.SchoolYear(options.RoundDate);
        _previousRound = options.RoundDate.AddMonths(-6);
        _previousSchoolYear = SchoolCalendar.SchoolYear(_previousRound);
        _ids = new IdAllocator([.. _reference.AllIdRegions], options.RoundDate.AddYears(-28), options.RoundDate.AddYears(-2));
        _recordRules = [.. ProvinceGenerator.RuleIds.Where(r => r[0] is not 'A' && (options.Previous || r[0] != 'T'))];
        foreach (var rule in ProvinceGenerator.RuleIds)
        {
            _injected[rule] = 0;
            _findings[rule] = 0;
        }
    }

    public GenerationResult Execute(IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(_options.OutputDirectory);
        var export = Path.Combine(root, "export");
        Directory.CreateDirectory(export);
        var encoding = CsvExportWriter.EncodingFor(_options.Encoding);

        _schools = SchoolMasterBuilder.Build(_options, _reference);
        _closedCodes = [.. _schools.Where(s => !s.IsOpen).Select(s => s.Code)];

        var schoolMaster = Path.Combine(export, "schools.csv");
        WriteSchoolMaster(schoolMaster, encoding);
        var studentPaths = new List<string>();
        CsvExportWriter? csv = null;
        XlsxExportWriter? xlsx = null;
        CsvExportWriter? previous = null;
        var header = Layouts.Student.Fields.Select(f => f.Header).ToArray();
        string? previousDirectory = null;
        var groundTruthPath = Path.Combine(root, "ground_truth.csv");
        var answersPath = Path.Combine(root, RegistrarAnswers.FileName);
        var written = 0L;
        try
        {
            if (_options.Format is ExportFormat.Csv or ExportFormat.Both)
            {
                studentPaths.Add(Path.Combine(export, "students.csv"));
                csv = new CsvExportWriter(studentPaths[^1], encoding);
                csv.WriteRow(header);
            }

            if (_options.Format is ExportFormat.Xlsx or ExportFormat.Both)
            {
                var folder = _options.Format == ExportFormat.Both ? Path.Combine(root, "xlsx") : export;
                Directory.CreateDirectory(folder);
                if (_options.Format == ExportFormat.Both)
                {
                    File.Copy(schoolMaster, Path.Combine(folder, "schools.csv"), overwrite: true);
                }

                studentPaths.Add(Path.Combine(folder, "students.xlsx"));
                xlsx = new XlsxExportWriter(studentPaths[^1], header);
            }

            if (_options.Previous)
            {
                previousDirectory = Path.Combine(root, "previous");
                Directory.CreateDirectory(previousDirectory);
                File.Copy(schoolMaster, Path.Combine(previousDirectory, "schools.csv"), overwrite: true);
                previous = new CsvExportWriter(Path.Combine(previousDirectory, "students.csv"), encoding);
                previous.WriteRow(header);
            }

            using var truth = new StreamWriter(groundTruthPath, false, new UTF8Encoding(false)) { NewLine = "\r\n" };
            truth.WriteLine("student_no,school_code,rule_id,field");
            using var answers = new CsvExportWriter(answersPath, CsvExportWriter.EncodingFor(ExportEncoding.Utf8));
            answers.WriteRow(RegistrarAnswers.Header.Split(','));
            var remaining = _schools.Count(s => s.HasStudents);
            foreach (var school in _schools)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (rows, previousRows, lines, answerLines) = GenerateSchool(school, remaining);
                if (school.HasStudents)
                {
                    remaining--;
                }

                foreach (var row in rows)
                {
                    csv?.WriteRow(row.Values);
                    xlsx?.WriteRow(row.Values);
                }

                foreach (var row in previousRows)
                {
                    previous!.WriteRow(row.Values);
                }

                foreach (var line in lines)
                {
                    truth.Write(line.StudentNo);
                    truth.Write(',');
                    truth.Write(line.SchoolCode);
                    truth.Write(',');
                    truth.Write(line.Rule);
                    truth.Write(',');
                    truth.WriteLine(line.Field);
                    _findings[line.Rule]++;
                }

                foreach (var a in answerLines)
                {
                    answers.WriteRow([a.SchoolCode, a.StudentNo, a.Rule, a.Field, a.Action, a.Value]);
                }

                written += rows.Count;
                if (rows.Count > 0)
                {
                    progress?.Report(written);
                }
            }
        }
        finally
        {
            csv?.Dispose();
            xlsx?.Dispose();
            previous?.Dispose();
        }

        var defects = ProvinceGenerator.RuleIds
            .Where(r => _options.Previous || !(r[0] == 'T' || r == "A02"))
            .ToDictionary(r => r, r => _findings[r], StringComparer.Ordinal);
        var result = new GenerationResult(export, schoolMaster, studentPaths, groundTruthPath, answersPath, previousDirectory,
            _options.Previous ? _previousRound : null, checked((int)written), _schools.Count, defects);
        WriteManifest(Path.Combine(root, "province.json"), result);
        return result;
    }

    private void WriteSchoolMaster(string path, Encoding encoding)
    {
        using var writer = new CsvExportWriter(path, encoding);
        writer.WriteRow([.. Layouts.School.Fields.Select(f => f.Header)]);
        foreach (var s in _schools)
        {
            writer.WriteRow([s.Code, s.Name, s.County.Code, s.County.Name, Num(s.MinGrade), Num(s.MaxGrade), s.IsOpen ? "1" : "0"]);
        }
    }

    private void WriteManifest(string path, GenerationResult result)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("options");
        json.WriteNumber("students", _options.Students);
        json.WriteNumber("schools", _options.Schools);
        json.WriteNumber("seed", _options.Seed);
        json.WriteNumber("defect_rate", _options.DefectRate);
        json.WriteString("round_date", SchoolCalendar.FormatDate(_options.RoundDate));
        json.WriteString("encoding", _options.Encoding.ToString());
        json.WriteString("format", _options.Format.ToString());
        json.WriteBoolean("previous", _options.Previous);
        json.WriteEndObject();
        json.WriteString("round_date", SchoolCalendar.FormatDate(_options.RoundDate));
        if (result.PreviousRoundDate is { } previous)
        {
            json.WriteString("previous_round_date", SchoolCalendar.FormatDate(previous));
        }
        else
        {
            json.WriteNull("previous_round_date");
        }

        json.WriteNumber("students", result.Students);
        json.WriteNumber("schools", result.Schools);
        json.WriteNumber("open_schools", _schools.Count(s => s.IsOpen));
        json.WriteNumber("findings", result.DefectsByRule.Values.Sum());
        json.WriteStartObject("defects_by_rule");
        foreach (var (rule, count) in result.DefectsByRule)
        {
            json.WriteNumber(rule, count);
        }

        json.WriteEndObject();
        json.WriteStartArray("files");
        json.WriteStringValue("export/schools.csv");
        foreach (var p in result.StudentExportPaths)
        {
            json.WriteStringValue(Path.GetRelativePath(Path.GetDirectoryName(result.ExportDirectory)!, p).Replace('\\', '/'));
        }

        json.WriteStringValue("ground_truth.csv");
        if (result.PreviousExportDirectory is not null)
        {
            json.WriteStringValue("previous/schools.csv");
            json.WriteStringValue("previous/students.csv");
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static string Num(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
