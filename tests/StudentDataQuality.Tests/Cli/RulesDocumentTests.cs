using StudentDataQuality.Cli.Commands;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Tests.Cli;

/// <summary>`sdq rules --doc`: the catalogue as a document, with what each rule's header says for its readers.</summary>
public sealed class RulesDocumentTests
{
    [Fact]
    public void TheDocument_HoldsEveryRulesWhy_Examples_AndWhetherItCanBeExplained()
    {
        var document = RulesCommand.Document(RuleCatalog.All);

        Assert.All(RuleCatalog.All, rule =>
        {
            var section = Section(document, rule.Id);
            Assert.Contains($"- 为什么重要: {rule.WhyZh}", section, StringComparison.Ordinal);
            Assert.Contains($"- Why it matters: {rule.WhyEn}", section, StringComparison.Ordinal);
            Assert.Contains(rule.Explainable == true ? "Can be explained instead of fixed" : "Cannot be explained instead of fixed", section,
                StringComparison.Ordinal);
            // The table: its header, its rule line, then one row per example.
            Assert.Equal(rule.Examples.Count + 2, section.Split('\n').Count(line => line.StartsWith("| ", StringComparison.Ordinal)));
        });
    }

    [Fact]
    public void AnExampleValue_StaysOneCellOfText()
    {
        var rule = RuleCatalog.Parse("sql/rules/Z99.sql", """
            -- id: Z99
            -- stage: 2
            -- severity: error
            -- fields: name
            -- title.en: A test rule
            -- title.zh: 测试规则
            -- fix.en: Fix it.
            -- fix.zh: 改正。
            -- example.wrong: a|b `c` <script>
            -- example.right: a\b
            -- version: 1
            SELECT 1
            """);

        var document = RulesCommand.Document([rule]);

        Assert.Contains("| a\\|b \\`c\\` &lt;script> | a\\\\b |", document, StringComparison.Ordinal);
        Assert.DoesNotContain("为什么重要", document, StringComparison.Ordinal);
    }

    private static string Section(string document, string id)
    {
        var start = document.IndexOf($"### {id} ", StringComparison.Ordinal);
        Assert.True(start >= 0, $"The document has no section for {id}.");
        var end = document.IndexOf("\n### ", start + 4, StringComparison.Ordinal);
        var stageEnd = document.IndexOf("\n## ", start + 4, StringComparison.Ordinal);
        end = new[] { end, stageEnd, document.Length }.Where(i => i > 0).Min();
        return document[start..end];
    }
}
