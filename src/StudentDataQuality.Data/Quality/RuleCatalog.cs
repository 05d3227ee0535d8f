using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Data.Quality;

/// <summary>One quality rule: its catalogue entry (the header of its file) and its set-based query.</summary>
/// <param name="Partners">
/// What a re-check of some records must look at besides them. Empty: nothing (the rule judges each record by its own
/// values, perhaps against the school master or its own previous-round row). Field names: the records of either round
/// sharing those values with a re-checked record (old or new version), a superset of every group the rule forms.
/// </param>
public sealed record Rule(
    string Id, RuleStage Stage, string Severity, IReadOnlyList<string> Fields, string TitleEn, string TitleZh, string FixEn, string FixZh,
    int Version, bool Invalidates, string Sql, IReadOnlyList<string>? Partners = null)
{
    public IReadOnlyList<string> PartnerFields { get; } = Partners ?? [];

    public string Sha256 { get; } = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Sql))).ToLowerInvariant();

    /// <summary>The parts of a row rule (one finding at most per record, judged by its own values), which the runner reads the round once for; null for any other rule.</summary>
    public RowForm? Row { get; } = Partners is null or { Count: 0 } ? RowRules.TryParse(Sql) : null;

    /// <summary>Why the rule matters (header <c>why.en</c>, <c>why.zh</c>): for the rule's help page and guides.</summary>
    public string? WhyEn { get; init; }

    public string? WhyZh { get; init; }

    /// <summary>Wrong values and their right form, in pairs (header <c>example.wrong</c> / <c>example.right</c> lines, in order).</summary>
    public IReadOnlyList<RuleExample> Examples { get; init; } = [];

    /// <summary>Whether a school may explain a finding instead of fixing it (header <c>explain: yes|no</c>); null: not said.</summary>
    public bool? Explainable { get; init; }

    public string StageName => Stage switch
    {
        RuleStage.Structure => "structure",
        RuleStage.Format => "format",
        RuleStage.Consistency => "consistency",
        RuleStage.CrossRecord => "cross-record",
        RuleStage.CrossRound => "cross-round",
        _ => "school",
    };
}

/// <summary>A wrong value of a rule and its right form, as its help page shows them.</summary>
public sealed record RuleExample(string Wrong, string Right);

/// <summary>
/// The stages of the checks, in the order they run (docs/record.md, "Stages"). A rule sees only the values that the invalidating rules of
/// the stages before it passed. The number is what a rule file's header and quality.rule.stage say ('school' is 6).
/// </summary>
public enum RuleStage
{
    Structure = 1,
    Format = 2,
    Consistency = 3,
    CrossRecord = 4,
    CrossRound = 5,

    /// <summary>School-level rules: their findings name a school and no record.</summary>
    School = 6,
}

/// <summary>
/// The rule catalogue: one file per rule under sql/rules, its header the catalogue entry. Adding a rule is adding a
/// file. A header that is incomplete or malformed stops the program with the file and the key at fault.
/// </summary>
public static partial class RuleCatalog
{
    private static readonly Lazy<IReadOnlyList<Rule>> Rules = new(() =>
        SqlScripts.List("rules").Select(path => Parse(path, SqlScripts.Load(path))).OrderBy(r => r.Stage).ThenBy(r => r.Id, StringComparer.Ordinal).ToArray());

    /// <summary>Every rule embedded in this build, in execution order (stage, then id).</summary>
    public static IReadOnlyList<Rule> All => Rules.Value;

    public static Rule Parse(string path, string text)
    {
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        var wrong = new List<string>();
        var right = new List<string>();
        var body = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            var match = HeaderLine().Match(line);
            if (match.Success && body.Length == 0)
            {
                // Examples repeat, in pairs; every other key is said once.
                var (key, value) = (match.Groups[1].Value, match.Groups[2].Value.Trim());
                (key switch { "example.wrong" => wrong, "example.right" => right, _ => null })?.Add(value);
                header[key] = value;
            }
            else if (!line.TrimStart().StartsWith("--", StringComparison.Ordinal) || body.Length > 0)
            {
                body.AppendLine(line.TrimEnd('\r'));
            }
        }

        string Get(string key) => header.TryGetValue(key, out var value) && value.Length > 0
            ? value
            : throw new InvalidOperationException($"Rule file {path}: the header has no '{key}:' line.");

        var id = Get("id");
        if (Path.GetFileNameWithoutExtension(path) != id)
        {
            throw new InvalidOperationException($"Rule file {path}: its id is {id}; the file must be named {id}.sql.");
        }

        var stageText = Get("stage");
        var stage = stageText == "school" ? RuleStage.School : int.TryParse(stageText, out var n) && n is >= 1 and <= 5 ? (RuleStage)n
            : throw new InvalidOperationException($"Rule file {path}: stage '{stageText}' is not 1–5 or 'school'.");
        var severity = Get("severity");
        if (severity is not ("error" or "warning"))
        {
            throw new InvalidOperationException($"Rule file {path}: severity '{severity}' is not error or warning.");
        }

        var version = int.TryParse(Get("version"), out var v) && v >= 1
            ? v
            : throw new InvalidOperationException($"Rule file {path}: version must be a whole number from 1.");
        var invalidates = !header.TryGetValue("invalidates", out var inv) || inv != "no";
        var sql = body.ToString().Trim().TrimEnd(';');
        if (!sql.StartsWith("SELECT", StringComparison.OrdinalIgnoreCase) && !sql.StartsWith("WITH", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Rule file {path}: after its header, a rule is one SELECT (or WITH … SELECT) statement.");
        }

        var partners = header.TryGetValue("partners", out var p)
            ? p.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : [];
        // The partner fields become column names of a query: only fields of the record layout pass. (A rule that needed the
        // whole round whatever changed, 'partners: round', was allowed until issue 14; none did, and a re-check, which
        // reads its scope's records with their values set aside, could not judge it as a full run does.)
        if (!partners.All(f => Records.Layouts.Student.Fields.Any(x => x.Name == f)))
        {
            throw new InvalidOperationException(
                $"Rule file {path}: partners '{p}' must be fields of the student record (e.g. school_code, student_no): those every group the rule forms shares.");
        }

        if (wrong.Count != right.Count)
        {
            throw new InvalidOperationException(
                $"Rule file {path}: {wrong.Count} 'example.wrong:' and {right.Count} 'example.right:' lines; each wrong value is followed by its right form.");
        }

        bool? explainable = header.TryGetValue("explain", out var explain) ? explain switch
        {
            "yes" => true,
            "no" => false,
            _ => throw new InvalidOperationException($"Rule file {path}: explain '{explain}' is not yes or no."),
        } : null;

        return new Rule(id, stage, severity, Get("fields").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            Get("title.en"), Get("title.zh"), Get("fix.en"), Get("fix.zh"), version, invalidates && stage <= RuleStage.Format, sql, partners)
        {
            WhyEn = header.GetValueOrDefault("why.en"),
            WhyZh = header.GetValueOrDefault("why.zh"),
            Examples = wrong.Zip(right, (w, r) => new RuleExample(w, r)).ToList(),
            Explainable = explainable,
        };
    }

    [GeneratedRegex(@"^--\s*([a-z]+(?:\.[a-z]+)?):\s*(.*)$")]
    private static partial Regex HeaderLine();
}
