using System.Diagnostics;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Tests.Architecture;

/// <summary>
/// The repository stands on its own: its docs are its own (docs/), nothing refers to documents outside it, what points
/// into the docs finds what it names, and the rule catalogue of docs/record.md is the one of sql/rules.
/// </summary>
public sealed partial class DocsTests
{
    // Documents the project started from, kept outside the repository: no file may send a reader there (their names in
    // capitals, as they were written, so that a word such as "metadata.md" is none of them). This file names them to look
    // for them, and is the one file left out of the scan.
    [GeneratedRegex(@"(?<![A-Za-z0-9_])(ARCHITECTURE|DATA|WORKSHEETS|STYLE|TOOLCHAIN|VERIFICATION)\.md|(?i:shared/design|design notes)")]
    private static partial Regex OutsideDocument();

    private const string ThisFile = "tests/StudentDataQuality.Tests/Architecture/DocsTests.cs";

    [Fact]
    public void NoTrackedFile_RefersToDocumentsOutsideTheRepository()
    {
        var found = new List<string>();
        foreach (var path in TrackedFiles().Where(path => path != ThisFile))
        {
            if (ReadText(path) is not { } text)
            {
                continue;
            }

            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                found.AddRange(OutsideDocument().Matches(lines[i]).Select(match => $"{path}:{i + 1} names {match.Value}"));
            }
        }

        Assert.True(found.Count == 0,
            "Point to the repository's own docs (docs/architecture.md, record.md, worksheets.md, development.md) instead:\n"
            + string.Join('\n', found));
    }

    [Fact]
    public void SectionReferences_NameSectionsThatExist()
    {
        // A reference such as docs/worksheets.md, "Signed rows" in a comment or a doc: the file exists and has that heading.
        var missing = new List<string>();
        var seen = 0;
        foreach (var path in TrackedFiles())
        {
            if (ReadText(path) is not { } text)
            {
                continue;
            }

            foreach (Match reference in SectionReference().Matches(text))
            {
                seen++;
                var doc = Path.Combine(Root, "docs", reference.Groups["file"].Value);
                var section = reference.Groups["section"].Value;
                if (!File.Exists(doc) || !Headings(doc).Contains(section, StringComparer.OrdinalIgnoreCase))
                {
                    missing.Add($"{path}: docs/{reference.Groups["file"].Value}, \"{section}\"");
                }
            }
        }

        Assert.True(seen > 0, "No section reference was found: the pattern no longer matches how the code refers to its docs.");
        Assert.True(missing.Count == 0, "These name a doc or a section that does not exist:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void LinksOfTheDocs_PointToFilesThatExist()
    {
        var broken = new List<string>();
        foreach (var path in TrackedFiles().Where(path => path == "README.md" || (path.StartsWith("docs/", StringComparison.Ordinal) && path.EndsWith(".md", StringComparison.Ordinal))))
        {
            var folder = Path.GetDirectoryName(Path.Combine(Root, path))!;
            foreach (Match link in MarkdownLink().Matches(File.ReadAllText(Path.Combine(Root, path))))
            {
                var target = link.Groups["target"].Value;
                if (!target.Contains("://", StringComparison.Ordinal) && !File.Exists(Path.Combine(folder, target)) && !Directory.Exists(Path.Combine(folder, target)))
                {
                    broken.Add($"{path}: {target}");
                }
            }
        }

        Assert.True(broken.Count == 0, "Links to files that do not exist:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void RuleCatalogueOfTheRecordDoc_IsTheOneOfTheRuleFiles()
    {
        // docs/record.md, "The catalogue": | id | stage | severity | version | reads | title.en | title.zh |
        var documented = CatalogueRow().Matches(File.ReadAllText(Path.Combine(Root, "docs", "record.md")))
            .ToDictionary(row => row.Groups["id"].Value, row => (
                Stage: row.Groups["stage"].Value.Split(' ')[0], Severity: row.Groups["severity"].Value,
                Version: row.Groups["version"].Value, Title: row.Groups["title"].Value.Trim()));

        var files = Directory.GetFiles(Path.Combine(Root, "sql", "rules"), "*.sql");
        Assert.NotEmpty(files);
        var differences = new List<string>();
        foreach (var file in files)
        {
            var header = RuleHeader(file);
            var rule = (Stage: header["stage"], Severity: header["severity"], Version: header["version"], Title: header["title.en"]);
            if (!documented.Remove(header["id"], out var row))
            {
                differences.Add($"{header["id"]} is not in the catalogue of docs/record.md");
            }
            else if (row != rule)
            {
                differences.Add($"{header["id"]}: the doc says {row}, its file {rule}");
            }
        }

        differences.AddRange(documented.Keys.Select(id => $"{id} is in docs/record.md but has no file in sql/rules"));
        Assert.True(differences.Count == 0,
            "Bring the catalogue table of docs/record.md up to date with the rule files:\n" + string.Join('\n', differences));
    }

    private static Dictionary<string, string> RuleHeader(string file)
    {
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file).TakeWhile(line => line.StartsWith("--", StringComparison.Ordinal)))
        {
            var match = HeaderLine().Match(line);
            if (match.Success)
            {
                header.TryAdd(match.Groups[1].Value, match.Groups[2].Value.Trim());
            }
        }

        return header;
    }

    private static IEnumerable<string> Headings(string doc) =>
        File.ReadLines(doc).Where(line => line.StartsWith('#')).Select(line => line.TrimStart('#').Trim());

    /// <summary>The text of a tracked file, or null for a binary one (a NUL in it) or one deleted in the work tree.</summary>
    private static string? ReadText(string path)
    {
        var full = Path.Combine(Root, path);
        if (!File.Exists(full))
        {
            return null;
        }

        var text = File.ReadAllText(full);
        return text.Contains('\0', StringComparison.Ordinal) ? null : text;
    }

    private static readonly Lazy<string> RootFolder = new(() =>
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "StudentDataQuality.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("No StudentDataQuality.sln above the test assembly.");
    });

    internal static string Root => RootFolder.Value;

    private static readonly Lazy<string[]> Tracked = new(() =>
    {
        var start = new ProcessStartInfo("git", ["-C", Root, "ls-files", "-z"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var git = Process.Start(start) ?? throw new InvalidOperationException("git could not be started.");
        var output = git.StandardOutput.ReadToEnd();
        git.WaitForExit();
        if (git.ExitCode != 0)
        {
            throw new InvalidOperationException($"git ls-files failed in {Root} (exit code {git.ExitCode}): the docs tests read the tracked files.");
        }

        return output.Split('\0', StringSplitOptions.RemoveEmptyEntries);
    });

    private static string[] TrackedFiles() => Tracked.Value;

    [GeneratedRegex(@"docs/(?<file>[a-z-]+\.md), ""(?<section>[^""\n]+)""")]
    private static partial Regex SectionReference();

    [GeneratedRegex(@"\]\((?<target>[^)#\s]+)(#[^)]*)?\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^\| (?<id>[A-Z]\d\d) \| (?<stage>[^|]+?) \| (?<severity>error|warning) \| (?<version>\d+) \| [^|]* \| (?<title>[^|]+) \|", RegexOptions.Multiline)]
    private static partial Regex CatalogueRow();

    [GeneratedRegex(@"^--\s*([a-z.]+):\s*(.*)$")]
    private static partial Regex HeaderLine();
}
