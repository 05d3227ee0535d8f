using System.Reflection;
using NetArchTest.Rules;

namespace StudentDataQuality.Tests.Architecture;

/// <summary>
/// The layering of the projects (docs/architecture.md, "Projects and their layering"), checked twice over: on the assemblies each
/// built project references (what the compiler kept: a project reference that no code uses does not count), and with
/// NetArchTest on the types of each assembly (what the code depends on, namespace by namespace).
/// </summary>
public sealed class LayeringTests
{
    // The project assemblies, by assembly name (the command line is built as "sdq"), each with its namespace root. Core's
    // namespace is the project's root namespace itself, so a dependency on Core is never looked for by namespace.
    private const string Core = "StudentDataQuality.Core";
    private const string Data = "StudentDataQuality.Data";
    private const string Worksheets = "StudentDataQuality.Worksheets";
    private const string Synthetic = "StudentDataQuality.Synthetic";
    private const string Application = "StudentDataQuality.Application";
    private const string Jobs = "StudentDataQuality.Jobs";
    private const string Web = "StudentDataQuality.Web";
    private const string Cli = "sdq";

    private static readonly string[] ProjectAssemblies = [Core, Data, Worksheets, Synthetic, Application, Jobs, Web, Cli];

    /// <summary>What each project may reference of the others; anything else is a break of the layering.</summary>
    public static TheoryData<string, string[]> Allowed => new()
    {
        { Core, [] },
        { Data, [Core] },
        { Worksheets, [Core] },
        { Synthetic, [Core, Worksheets] },
        { Application, [Core, Data, Worksheets] },
        { Jobs, [Core, Data, Worksheets, Application] },
        { Web, [Core, Data, Worksheets, Application, Jobs] },
        { Cli, [Core, Data, Worksheets, Synthetic, Application, Jobs, Web] },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void Project_ReferencesOnlyTheProjectsBelowIt(string assembly, string[] allowed)
    {
        var unexpected = ProjectReferencesOf(assembly).Except(allowed).ToArray();

        Assert.True(unexpected.Length == 0,
            $"{assembly} references {string.Join(", ", unexpected)}, which its layer may not (docs/architecture.md).");
    }

    [Fact]
    public void Core_ReferencesNoOtherProject()
    {
        Assert.Empty(ProjectReferencesOf(Core));
        AssertNoDependency(Core, Data, Worksheets, Synthetic, Application, Jobs, Web, "StudentDataQuality.Cli");
    }

    [Fact]
    public void DataAndWorksheets_DoNotReferenceEachOther()
    {
        Assert.DoesNotContain(Worksheets, ProjectReferencesOf(Data));
        Assert.DoesNotContain(Data, ProjectReferencesOf(Worksheets));
        AssertNoDependency(Data, Worksheets);
        AssertNoDependency(Worksheets, Data);
    }

    [Fact]
    public void Hosts_AreReferencedByNoLibrary()
    {
        // The command line hosts the portal too (sdq web, sdq demo), so it alone may reference the portal; the portal never
        // references the command line, and no library either of them.
        foreach (var library in new[] { Core, Data, Worksheets, Synthetic, Application, Jobs })
        {
            Assert.DoesNotContain(Web, ProjectReferencesOf(library));
            Assert.DoesNotContain(Cli, ProjectReferencesOf(library));
            AssertNoDependency(library, Web, "StudentDataQuality.Cli");
        }

        Assert.DoesNotContain(Cli, ProjectReferencesOf(Web));
        AssertNoDependency(Web, "StudentDataQuality.Cli");
    }

    [Fact]
    public void Libraries_UseNoHostingPackages()
    {
        // Only hosts set up logging sinks and Hangfire's storage; a library takes an ILogger<T> and options.
        foreach (var library in new[] { Core, Data, Worksheets, Synthetic, Application, Jobs })
        {
            var hosting = Load(library).GetReferencedAssemblies()
                .Select(reference => reference.Name ?? "")
                .Where(name => name.StartsWith("Serilog", StringComparison.Ordinal) || name == "Hangfire.PostgreSql")
                .ToArray();
            Assert.True(hosting.Length == 0, $"{library} references {string.Join(", ", hosting)}: only the hosts may.");
        }
    }

    [Fact]
    public void Check_SeesAReferenceThatIsThere()
    {
        // The checks above can fail: the application services do use the data layer and the worksheets, and both are seen.
        Assert.Contains(Data, ProjectReferencesOf(Application));
        Assert.Contains(Worksheets, ProjectReferencesOf(Application));
        Assert.False(Types.InAssembly(Load(Application)).ShouldNot().HaveDependencyOn(Data).GetResult().IsSuccessful);
    }

    private static string[] ProjectReferencesOf(string assembly) =>
        Load(assembly).GetReferencedAssemblies()
            .Select(reference => reference.Name ?? "")
            .Where(name => ProjectAssemblies.Contains(name))
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static void AssertNoDependency(string assembly, params string[] namespaces)
    {
        var result = Types.InAssembly(Load(assembly)).ShouldNot().HaveDependencyOnAny(namespaces).GetResult();

        Assert.True(result.IsSuccessful,
            $"{assembly} depends on {string.Join(", ", namespaces)} in: {string.Join(", ", result.FailingTypeNames ?? [])}.");
    }

    // Every project assembly is beside the tests: the test project references the command line, which references the rest.
    private static Assembly Load(string name) => Assembly.Load(new AssemblyName(name));
}
