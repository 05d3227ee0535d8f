using System.Text.Json;

namespace StudentDataQuality.Tests.Core;

/// <summary>
/// The packages the build resolved, read from this test project's assets file (obj/project.assets.json, written by restore:
/// its graph holds every project of the solution this one references, transitive packages included).
/// </summary>
[Trait("Category", "Security")]
public sealed class DependencyTests
{
    [Fact]
    public void SystemDrawingCommon_ResolvesAtAPatchedVersion()
    {
        // CVE-2021-24112 (GHSA-rxg9-xrhp-64gj): remote code execution through libgdiplus on Linux, fixed in 4.7.2 and 5.0.3.
        var resolved = ResolvedVersions("System.Drawing.Common");

        Assert.NotEmpty(resolved); // ClosedXML brings it: a graph without it means the assets file was not the one meant
        Assert.All(resolved, version => Assert.True(version >= new Version(4, 7, 3) && (version.Major != 5 || version >= new Version(5, 0, 3)),
            $"System.Drawing.Common resolves at {version}, which has CVE-2021-24112; pin 4.7.3 or later in Directory.Packages.props."));
    }

    private static IReadOnlyList<Version> ResolvedVersions(string package)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(AssetsFile()));
        return assets.RootElement.GetProperty("libraries").EnumerateObject()
            .Select(library => library.Name.Split('/'))
            .Where(parts => string.Equals(parts[0], package, StringComparison.OrdinalIgnoreCase))
            .Select(parts => Version.Parse(parts[1]))
            .ToArray();
    }

    private static string AssetsFile()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "StudentDataQuality.Tests.csproj")))
        {
            folder = folder.Parent;
        }

        Assert.NotNull(folder);
        var path = Path.Combine(folder.FullName, "obj", "project.assets.json");
        Assert.True(File.Exists(path), $"No assets file at {path}: restore the solution first.");
        return path;
    }
}
