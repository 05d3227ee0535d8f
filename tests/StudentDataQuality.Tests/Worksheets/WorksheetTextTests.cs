using StudentDataQuality.Records;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

public sealed class WorksheetTextTests
{
    [Fact]
    public void BothLanguages_HaveEveryText()
    {
        var chinese = WorksheetText.Keys(WorksheetLanguage.Chinese);
        var english = WorksheetText.Keys(WorksheetLanguage.English);
        Assert.NotEmpty(chinese);
        Assert.Equal(chinese.Order(StringComparer.Ordinal), english.Order(StringComparer.Ordinal));
        // English really comes from its own resources, not from the Chinese fallback.
        Assert.All(english.Where(k => !k.StartsWith("Problem", StringComparison.Ordinal) && !k.StartsWith("Note", StringComparison.Ordinal) || k == "NoteAuthor"),
            k => Assert.DoesNotMatch(@"\p{IsCJKUnifiedIdeographs}", WorksheetText.Get(k, WorksheetLanguage.English)));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void ValidationTexts_FitExcelsLimits(WorksheetLanguage language)
    {
        // Excel drops a data validation whose title passes 32 characters, error 225 or prompt 255.
        foreach (var key in new[] { "ActionErrorTitle", "CodeErrorTitle", "ActionPromptTitle" })
        {
            Assert.InRange(WorksheetText.Get(key, language).Length, 1, 32);
        }

        Assert.InRange(WorksheetText.Get("ActionError", language).Length, 1, 225);
        Assert.InRange(WorksheetText.Get("CodeError", language).Length, 1, 225);
        Assert.InRange(WorksheetText.Get("ActionPrompt", language).Length, 1, 255);
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void SheetNames_AreValidAndDistinct(WorksheetLanguage language)
    {
        var (instructions, problems, codes) = WorksheetText.SheetNames(language);
        string[] names = [instructions, problems, codes, WorksheetMeta.SheetName];
        Assert.Equal(4, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(names, n => Assert.True(n.Length is > 0 and <= 31 && n.IndexOfAny(['[', ']', ':', '*', '?', '/', '\\', '\'']) < 0, n));
    }

    [Theory]
    [InlineData("变更", WorksheetAction.Corrected)]
    [InlineData(" 佐证 ", WorksheetAction.Confirmed)]
    [InlineData("删除", WorksheetAction.RemoveRegistration)]
    [InlineData("Corrected", WorksheetAction.Corrected)]
    [InlineData("remove registration", WorksheetAction.RemoveRegistration)]
    public void Actions_AreReadBackInEitherLanguage(string text, WorksheetAction action) => Assert.Equal(action, WorksheetActions.Parse(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("改了")]
    [InlineData("1")]
    public void AnythingElse_IsNoAction(string? text) => Assert.Null(WorksheetActions.Parse(text));

    [Fact]
    public void Actions_HaveDistinctLabels_AndOnlyCorrectedNeedsNoExplanation()
    {
        foreach (var language in Enum.GetValues<WorksheetLanguage>())
        {
            Assert.Equal(3, WorksheetActions.All.Select(a => a.Label(language)).Distinct().Count());
        }

        Assert.Equal([WorksheetAction.Confirmed, WorksheetAction.RemoveRegistration], WorksheetActions.All.Where(a => a.RequiresExplanation()));
    }

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void DropdownChoices_AreDistinct_AndParseToTheirCodes(WorksheetLanguage language)
    {
        // The codes sheet offers each entry's name in the language; the reader must map it back to exactly that code.
        foreach (var field in Layouts.Student.Fields.Where(f => f.Codes is not null))
        {
            var names = field.Codes!.Entries.Select(e => language == WorksheetLanguage.English ? e.NameEn : e.NameZh).ToArray();
            Assert.Equal(names.Length, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
            Assert.Equal(field.Codes.Entries.Select(e => e.Code), names.Select(n => field.Codes.Match(n)));
        }
    }

    [Fact]
    public void WithProblems_GivesTheCorrectableFieldsInLayoutOrder()
    {
        var rows = WorksheetSamples.Tricky().Rows;
        // X03 is about school_code, which a school does not correct here; T01 has no field.
        Assert.Equal(["gender", "birth_date", "nationality", "id_number", "guardian_phone", "address"], WorksheetFields.WithProblems(rows));
        Assert.Equal(["student_no", "name", "address"], WorksheetFields.InLayoutOrder(["address", "name", "student_no", "name"]));
    }
}
