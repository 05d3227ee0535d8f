using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Tests.Architecture;

/// <summary>What the README tells its readers about the code is what the code does.</summary>
public sealed class ReadmeTests
{
    private const string Start = "<!-- export policy: generated from ExportPolicy; a test keeps it the same -->";
    private const string End = "<!-- end of export policy -->";

    [Fact]
    public void ThePolicyTable_IsTheCodes()
    {
        var readme = File.ReadAllText(Path.Combine(DocsTests.Root, "README.md"));
        var from = readme.IndexOf(Start, StringComparison.Ordinal);
        var to = readme.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, "README.md lost the export policy table's markers.");
        var rows = readme[(from + Start.Length)..to].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Skip(2).Select(Cells).ToList();
        var header = Cells(readme[(from + Start.Length)..to].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0]);

        // One row per kind of file, in the enum's order; one column per role, in the policy's order.
        Assert.Equal(["file", "data team", "district", "school", "class teacher", "manager"], header);
        Assert.Equal(ExportPolicy.Roles, [AccountRole.DataTeam, AccountRole.District, AccountRole.School, AccountRole.ClassTeacher, AccountRole.Manager]);
        var expected = Enum.GetValues<ExportKind>().Select(kind => ExportPolicy.Roles.Select(role => Cell(ExportPolicy.RightOf(role, kind))).ToList()).ToList();
        var actual = rows.Select(row => row.Skip(1).ToList()).ToList();
        Assert.True(expected.Count == actual.Count && expected.Zip(actual).All(p => p.First.SequenceEqual(p.Second)),
            "The README's export policy table differs from ExportPolicy. The code's table, row by row (kinds in ExportKind's order):\n"
            + string.Join('\n', Enum.GetValues<ExportKind>().Zip(expected, (kind, cells) => $"| {kind} | {string.Join(" | ", cells)} |")));
        Assert.All(Enum.GetValues<ExportKind>().Zip(rows),
            pair => Assert.StartsWith(Words(pair.First), pair.Second[0], StringComparison.OrdinalIgnoreCase));
    }

    private static string Cell(ExportRight right) => right switch
    {
        ExportRight.None => "–",
        ExportRight.Aggregate => "aggregates",
        ExportRight.Masked => "masked",
        _ => "full",
    };

    /// <summary>The first word of a kind as the README names it (ProblemList → "problem").</summary>
    private static string Words(ExportKind kind) => kind switch
    {
        ExportKind.Changes => "changes",
        _ => string.Concat(kind.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()))
            .Split(' ')[0],
    };

    private static List<string> Cells(string line) => line.Trim('|').Split('|').Select(cell => cell.Trim()).ToList();
}
