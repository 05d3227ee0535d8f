using System.Text.Json;
using StudentDataQuality.Records;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// A finding a rule case expects on one of its rows, as written in the case file: what is left out takes its default
/// when the round is built (the rule of the file, the row's own text of the field, the rule's severity); a detail left
/// out is not compared.
/// </summary>
public sealed record ExpectedFinding(string? Rule, string Field, string? Value, string? Severity, string? Detail);

/// <summary>
/// One row of a case: a student of this round (with <see cref="Before"/>, its rows in the previous round), a student
/// only in the previous round, or a school of the master. <see cref="Set"/> holds the fields the case gives; every other
/// field keeps the default row's value.
/// </summary>
public sealed record CaseRow(IReadOnlyDictionary<string, string> Set, IReadOnlyList<ExpectedFinding> Expect, int? Like, DateOnly? Born, int Repeat,
    IReadOnlyList<CaseRow> Before);

/// <summary>One example of a rule: the rows it stages and the findings it expects on them (RuleCases/README.md).</summary>
public sealed record RuleCase(string Rule, string Name, bool Only, IReadOnlyList<CaseRow> Schools, IReadOnlyList<CaseRow> Students,
    IReadOnlyList<CaseRow> Previous)
{
    /// <summary>How the case is named in a test run, and how a test finds it again: "F03: a lower-case x is …".</summary>
    public string Title => $"{Rule}: {Name}";
}

/// <summary>
/// The rule cases of Quality/RuleCases/&lt;rule&gt;.json, copied next to the test assembly. The files are JSON with
/// comments allowed; a key the format does not know (a misspelt field) stops the run naming the file and the case.
/// </summary>
public static class RuleCases
{
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
    private static readonly Lazy<IReadOnlyList<RuleCase>> Loaded = new(Load);

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Quality", "RuleCases");

    /// <summary>The rules that have a case file, by the file's name.</summary>
    public static IReadOnlyList<string> FileRules =>
        Directory.EnumerateFiles(Folder, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Every case of every file, in file order.</summary>
    public static IReadOnlyList<RuleCase> All => Loaded.Value;

    private static IReadOnlyList<RuleCase> Load()
    {
        var cases = new List<RuleCase>();
        foreach (var rule in FileRules)
        {
            var file = rule + ".json";
            using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, file)), Options);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidOperationException($"{file}: expected an array of cases.");
            }

            foreach (var element in document.RootElement.EnumerateArray())
            {
                cases.Add(ReadCase(file, rule, element));
            }

            var repeated = cases.Where(c => c.Rule == rule).GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
            if (repeated is not null)
            {
                throw new InvalidOperationException($"{file}: two cases are named '{repeated.Key}'; a name tells a case apart in the test run.");
            }
        }

        return cases;
    }

    private static RuleCase ReadCase(string file, string rule, JsonElement element)
    {
        var name = element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
        var where = $"{file}, case '{name}'";
        if (name.Length == 0)
        {
            throw new InvalidOperationException($"{file}: a case without a name.");
        }

        Keys(where, element, ["name", "only", "schools", "students", "previous"]);
        var students = Rows(where, element, "students", RowKind.Student);
        if (students.Count == 0)
        {
            throw new InvalidOperationException($"{where}: a case needs at least one student.");
        }

        return new RuleCase(rule, name, element.TryGetProperty("only", out var only) && only.GetBoolean(),
            Rows(where, element, "schools", RowKind.School), students, Rows(where, element, "previous", RowKind.Previous));
    }

    private enum RowKind
    {
        Student,
        Previous,
        Before,
        School,
    }

    private static List<CaseRow> Rows(string where, JsonElement element, string key, RowKind kind) =>
        element.TryGetProperty(key, out var rows) ? rows.EnumerateArray().Select((r, i) => Row($"{where}, {key}[{i + 1}]", r, kind)).ToList() : [];

    private static CaseRow Row(string where, JsonElement element, RowKind kind)
    {
        var layout = kind == RowKind.School ? Layouts.School : Layouts.Student;
        string[] own = kind switch
        {
            RowKind.Student => ["expect", "like", "born", "repeat", "before"],
            RowKind.Previous => ["expect", "born", "repeat"],
            _ => ["expect"],
        };
        Keys(where, element, [.. own, .. layout.Fields.Select(f => f.Name)]);
        var set = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject().Where(p => !own.Contains(p.Name)))
        {
            set[property.Name] = property.Value.ValueKind == JsonValueKind.String
                ? property.Value.GetString()!
                : throw new InvalidOperationException($"{where}: {property.Name} must be written as a string, as the export has it.");
        }

        var expect = element.TryGetProperty("expect", out var e) ? e.EnumerateArray().Select(x => Expected(where, x)).ToList() : [];
        var before = !element.TryGetProperty("before", out var b) ? []
            : b.ValueKind == JsonValueKind.Array ? b.EnumerateArray().Select((x, i) => Row($"{where}, before[{i + 1}]", x, RowKind.Before)).ToList()
            : [Row($"{where}, before", b, RowKind.Before)];
        DateOnly? born = element.TryGetProperty("born", out var d)
            ? DateOnly.ParseExact(d.GetString()!, "yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture)
            : null;
        return new CaseRow(set, expect, element.TryGetProperty("like", out var like) ? like.GetInt32() : null, born,
            element.TryGetProperty("repeat", out var repeat) ? repeat.GetInt32() : 1, before);
    }

    private static ExpectedFinding Expected(string where, JsonElement element)
    {
        Keys(where + ", expect", element, ["rule", "field", "value", "severity", "detail"]);
        string? Text(string key) => element.TryGetProperty(key, out var v) ? v.GetString() : null;
        return new ExpectedFinding(Text("rule"), Text("field") ?? throw new InvalidOperationException($"{where}: an expected finding without its field."),
            Text("value"), Text("severity"), Text("detail"));
    }

    private static void Keys(string where, JsonElement element, IReadOnlyCollection<string> known)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException($"{where}: expected an object.");
        }

        var unknown = element.EnumerateObject().Select(p => p.Name).Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException($"{where}: unknown key(s) {string.Join(", ", unknown)}; known: {string.Join(", ", known)}.");
        }
    }
}
