using System.Text;
using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>Small hand-made registry exports for tests: a valid synthetic student, with any field overridden.</summary>
public static class SampleExport
{
    public static readonly IReadOnlyDictionary<string, string> ValidStudent = new Dictionary<string, string>
    {
        ["student_no"] = "G23010220180901002X",
        ["school_code"] = "2123000001",
        ["school_name"] = "哈尔滨市道里区第一小学",
        ["name"] = "王小明",
        ["gender"] = "2",
        ["birth_date"] = "20180901",
        ["birthplace"] = "230102",
        ["nationality"] = "CHN",
        ["ethnicity"] = "01",
        ["id_type"] = "1",
        ["id_number"] = "23010220180901002X",
        ["hmt_status"] = "0",
        ["household_region"] = "230102",
        ["household_type"] = "2",
        ["grade"] = "3",
        ["class_name"] = "2班",
        ["entry_month"] = "202409",
        ["study_mode"] = "1",
        ["only_child"] = "1",
        ["migrant_child"] = "0",
        ["left_behind"] = "0",
        ["disability"] = "0",
        ["guardian_name"] = "王建国",
        ["guardian_relation"] = "1",
        ["guardian_phone"] = "13912345678",
        ["guardian_id_number"] = "230102198503150017",
        ["address"] = "黑龙江省哈尔滨市道里区友谊路1号",
    };

    /// <summary>One student row in layout order, with overrides by field name.</summary>
    public static string[] Student(params (string Field, string Value)[] overrides)
    {
        var values = new Dictionary<string, string>(ValidStudent);
        foreach (var (field, value) in overrides)
        {
            values[field] = value;
        }

        return Layouts.Student.Fields.Select(f => values[f.Name]).ToArray();
    }

    public static string[] ChineseHeaders(RecordLayout? layout = null) => (layout ?? Layouts.Student).Fields.Select(f => f.Header).ToArray();

    /// <summary>RFC 4180 CSV text: fields with a comma, quote or line break are quoted.</summary>
    public static string Csv(IEnumerable<string[]> rows, string lineEnd = "\r\n") =>
        string.Concat(rows.Select(r => string.Join(",", r.Select(Quote)) + lineEnd));

    public static string Quote(string value) =>
        value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    public static string WriteCsv(string folder, string fileName, IEnumerable<string[]> rows, Encoding? encoding = null, string lineEnd = "\r\n")
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        File.WriteAllText(path, Csv(rows, lineEnd), encoding ?? new UTF8Encoding(false));
        return path;
    }
}

/// <summary>A scratch folder removed after the test.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sdq-" + Guid.NewGuid().ToString("N")[..12]);

    public TempFolder() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
