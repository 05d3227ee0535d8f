using System.Text.RegularExpressions;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// How the portal is built, kept so: pages are Razor components (no HTML in C# strings, no Html helper of old), roles are
/// named from <c>AccountRole</c> (no role name as a string literal in a role check).
/// </summary>
public sealed partial class PortalSourceTests
{
    private static IEnumerable<string> Sources(string extension) =>
        Directory.EnumerateFiles(Path.Combine(Repository(), "src", "StudentDataQuality.Web"), "*" + extension, SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    [Fact]
    public void NoPageIsBuiltFromStrings()
    {
        Assert.True(Sources(".razor").Count() > 10, "the pages are Razor components");
        var found = new List<string>();
        foreach (var file in Sources(".cs"))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].TrimStart();
                if (line.StartsWith("//", StringComparison.Ordinal))
                {
                    continue;
                }

                if (Markup().IsMatch(line) || OldHelper().IsMatch(line))
                {
                    found.Add($"{Path.GetFileName(file)}:{i + 1}: {line}");
                }
            }
        }

        Assert.Empty(found);
    }

    [Fact]
    public void RolesAreNamedFromTheEnum_NeverByALiteral()
    {
        var found = Sources(".cs").Concat(Sources(".razor"))
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (File: Path.GetFileName(f), Line: i + 1, Text: line)))
            .Where(l => RoleLiteral().IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.Empty(found);
    }

    private static string Repository()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "StudentDataQuality.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException("No solution folder above the tests.");
    }

    [GeneratedRegex(@"<\/?(html|body|p|div|table|thead|tbody|tr|td|th|h[1-6]|form|input|a|span|ul|ol|li|strong|em|nav|header|footer|button|label|select|option|img|svg|section|main|br|textarea|fieldset|legend|details|summary)(\s|>|/>)", RegexOptions.IgnoreCase)]
    private static partial Regex Markup();

    [GeneratedRegex(@"\bHtml\.(T|E|Page|Token|Content|Error)\(")]
    private static partial Regex OldHelper();

    [GeneratedRegex(@"(IsInRole|RequireRole|ParseRole)\(\s*""|==\s*""(data_team|district|school|manager)""|""data_team""")]
    private static partial Regex RoleLiteral();
}
