using StudentDataQuality.Data.Quality;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Cli;

/// <summary>
/// `sdq rules --doc FILE.pdf` through the built program: a printable A4 PDF of the whole catalogue in the command line's
/// language, read back with pdftotext: every rule's id and title, its fix and every example's wrong and right value, page
/// numbers on every page; an extension other than .md or .pdf is refused (exit 2, the message, no file).
/// </summary>
public sealed class RulesPdfTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    [Theory]
    [InlineData("zh-CN")]
    [InlineData("en")]
    public async Task TheCatalogue_AsAPdf_HoldsEveryRule_InTheCommandLinesLanguage(string language)
    {
        using var folder = new TempFolder();
        var path = folder.File("rules.pdf");
        var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, new Dictionary<string, string> { ["Cli:Language"] = language },
            "rules", "--doc", path);
        Assert.True(exit == 0, output);
        var pdf = await File.ReadAllBytesAsync(path);
        Assert.StartsWith("%PDF-", System.Text.Encoding.ASCII.GetString(pdf, 0, 5), StringComparison.Ordinal);
        Assert.Contains("A4", Poppler.Info(pdf), StringComparison.Ordinal);
        var pages = Poppler.Pages(pdf);
        Assert.True(pages.Count > 1);
        // Line breaks and the spaces of wrapping are not the text's: compare without white space.
        var text = Squeeze(string.Join("\n", pages));
        // In the order drawn (an example's wrong value whole, then its right one, each wrapped in its column).
        var raw = Squeeze(System.Text.Encoding.UTF8.GetString(Poppler.Run(pdf, "pdftotext", "-raw", "-enc", "UTF-8", "{pdf}", "-")));
        var english = language == "en";
        foreach (var rule in RuleCatalog.All)
        {
            Assert.Contains(Squeeze($"{rule.Id} {(english ? rule.TitleEn : rule.TitleZh)}"), text, StringComparison.Ordinal);
            Assert.Contains(Squeeze(english ? rule.FixEn : rule.FixZh), text, StringComparison.Ordinal);
            Assert.NotEmpty(rule.Examples);
            foreach (var example in rule.Examples)
            {
                Assert.Contains(Squeeze(example.Wrong), raw, StringComparison.Ordinal);
                Assert.Contains(Squeeze(example.Right), raw, StringComparison.Ordinal);
            }
        }

        Assert.DoesNotContain(english ? RuleCatalog.All[0].TitleZh : RuleCatalog.All[0].TitleEn, text, StringComparison.Ordinal);
        for (var i = 0; i < pages.Count; i++)
        {
            var footer = english ? $"Page {i + 1} of {pages.Count}" : $"第 {i + 1} 页，共 {pages.Count} 页";
            Assert.Contains(Squeeze(footer), Squeeze(pages[i]), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("rules.txt")]
    [InlineData("rules")]
    [InlineData("rules.pdf.docx")]
    public async Task AnotherExtension_IsRefused_WithTheTwoThatArePossible_AndNoFile(string name)
    {
        using var folder = new TempFolder();
        var path = folder.File(name);
        var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, null, "rules", "--doc", path);
        Assert.Equal(2, exit);
        Assert.Contains(".md", output, StringComparison.Ordinal);
        Assert.Contains(".pdf", output, StringComparison.Ordinal);
        Assert.Contains(name, output, StringComparison.Ordinal);
        Assert.DoesNotContain(" at StudentDataQuality", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Theory]
    [InlineData("rules.pdf")]
    [InlineData("rules.md")]
    public async Task AFolderThatIsNotThere_IsSaidSo_NeverAStackTrace(string name)
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "not-made", name);
        var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, null, "rules", "--doc", path);
        Assert.Equal(2, exit);
        Assert.Contains("--doc", output, StringComparison.Ordinal);
        Assert.DoesNotContain(" at StudentDataQuality", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task TheMarkdown_IsStillWritten_ForAnMdFile()
    {
        using var folder = new TempFolder();
        var path = folder.File("rules.md");
        var (exit, output) = await SdqProcess.RunAsync(db.ConnectionString, null, "rules", "--doc", path);
        Assert.True(exit == 0, output);
        Assert.StartsWith("# ", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
    }

    /// <summary>The text without white space (wrapping's) and without what the PDF leaves out of a value (control and format characters).</summary>
    private static string Squeeze(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)
        && char.GetUnicodeCategory(c) is not (System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
            or System.Globalization.UnicodeCategory.PrivateUse)));
}
