using System.Globalization;
using System.Reflection;
using System.Resources;
using System.Text.RegularExpressions;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Every text the portal shows is in its resources, in both languages: each pair of .resx files (zh-CN, en) has the same
/// keys, and every key a page or handler asks for (<c>L["Key"]</c>, <c>Shared["Key", …]</c> of an
/// <c>IStringLocalizer&lt;T&gt;</c>) is there. The same for the messages of user errors (Core's Messages.resx).
/// </summary>
public sealed partial class PortalTextTests
{
    private static readonly Assembly Web = typeof(PortalText).Assembly;

    /// <summary>The portal's text classes: a class named *Text in the portal with a Resources/*.resx beside it.</summary>
    public static TheoryData<string> TextClasses()
    {
        var data = new TheoryData<string>();
        foreach (var name in Web.GetManifestResourceNames().Where(n => n.StartsWith("StudentDataQuality.Web.Resources.", StringComparison.Ordinal)))
        {
            data.Add(name["StudentDataQuality.Web.Resources.".Length..^".resources".Length]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TextClasses))]
    public void BothLanguages_HaveTheSameKeys(string textClass)
    {
        var chinese = Keys(textClass, CultureInfo.InvariantCulture);
        var english = Keys(textClass, CultureInfo.GetCultureInfo("en"));
        Assert.NotEmpty(chinese);
        Assert.Empty(chinese.Except(english).Order());
        Assert.Empty(english.Except(chinese).Order());
    }

    [Fact]
    public void EveryKeyAPageAsksFor_IsInItsResources()
    {
        var missing = new List<string>();
        var sources = Directory.EnumerateFiles(Path.Combine(Repository(), "src", "StudentDataQuality.Web"), "*.*", SearchOption.AllDirectories)
            .Where(f => (f.EndsWith(".razor", StringComparison.Ordinal) || f.EndsWith(".cs", StringComparison.Ordinal))
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        var imports = File.ReadAllText(Path.Combine(Repository(), "src", "StudentDataQuality.Web", "_Imports.razor"));
        var used = 0;
        foreach (var file in sources)
        {
            var text = File.ReadAllText(file);
            // The localizers of this file: injected (@inject IStringLocalizer<T> Name), taken as a parameter or field, or from _Imports.
            var localizers = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match m in Localizer().Matches(file.EndsWith(".razor", StringComparison.Ordinal) ? imports + text : text))
            {
                localizers[m.Groups["name"].Value] = m.Groups["type"].Value;
            }

            foreach (Match m in Lookup().Matches(text))
            {
                if (localizers.TryGetValue(m.Groups["name"].Value, out var type))
                {
                    used++;
                    if (!Keys(type, CultureInfo.InvariantCulture).Contains(m.Groups["key"].Value))
                    {
                        missing.Add($"{Path.GetFileName(file)}: {type}[\"{m.Groups["key"].Value}\"]");
                    }
                }
            }
        }

        Assert.True(used > 10, $"only {used} texts found asked for: the scan no longer reads the pages");
        Assert.Empty(missing);
    }

    [Fact]
    public void UserMessages_HaveBothLanguages_AndEveryCodeThrownIsThere()
    {
        var files = UserMessage.Codes("zh-CN");
        var englishFiles = UserMessage.Codes("en").ToDictionary(f => f.File, f => f.Codes);
        foreach (var (file, codes) in files)
        {
            Assert.Empty(codes.Except(englishFiles[file]).Order());
            Assert.Empty(englishFiles[file].Except(codes).Order());
        }

        // A code is in one file only (the first would hide the other).
        Assert.Empty(files.SelectMany(f => f.Codes).GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key));
        var chinese = files.SelectMany(f => f.Codes).ToHashSet(StringComparer.Ordinal);
        var missing = Directory.EnumerateFiles(Repository(), "*.cs", SearchOption.AllDirectories)
            .Where(f => (f.Contains($"{Path.DirectorySeparatorChar}src{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    || f.Contains($"{Path.DirectorySeparatorChar}jobs{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => MessageCode().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Code: m.Groups["code"].Value)))
            .Where(c => !chinese.Contains(c.Code))
            .Select(c => $"{c.File}: {c.Code}")
            .ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void NoUserErrorIsThrownAsPlainText()
    {
        var plain = Directory.EnumerateFiles(Repository(), "*.cs", SearchOption.AllDirectories)
            .Where(f => (f.Contains($"{Path.DirectorySeparatorChar}src{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    || f.Contains($"{Path.DirectorySeparatorChar}jobs{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => PlainThrow().Matches(File.ReadAllText(f)).Select(m => $"{Path.GetFileName(f)}: {m.Value}"))
            .ToList();
        Assert.Empty(plain);
    }

    private static HashSet<string> Keys(string textClass, CultureInfo culture)
    {
        var resources = new ResourceManager("StudentDataQuality.Web.Resources." + textClass, Web);
        var set = resources.GetResourceSet(culture, createIfNotExists: true, tryParents: false);
        return set is null ? [] : set.Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal);
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

    [GeneratedRegex(@"IStringLocalizer<(?<type>\w+)>\s+(?<name>\w+)")]
    private static partial Regex Localizer();

    [GeneratedRegex(@"\b(?<name>\w+)\[""(?<key>[^""]+)""\s*[\],]")]
    private static partial Regex Lookup();

    [GeneratedRegex(@"(new UserErrorException|: UserErrorException)\(\s*\$?""")]
    private static partial Regex PlainThrow();

    [GeneratedRegex(@"new UserMessage\(""(?<code>[^""]+)""\s*[,)]")]
    private static partial Regex MessageCode();
}
