using StudentDataQuality.Data.Quality;
using StudentDataQuality.Records;

namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the help pages (the rule catalogue): Resources/HelpText.resx is zh-CN, HelpText.en.resx English, read through
/// <c>IStringLocalizer&lt;HelpText&gt;</c>. The rules' own words (title, why, fix) come from their files' headers.
/// </summary>
public sealed class HelpText
{
    /// <summary>A rule's field by its header in the reader's language (the student record's layout); its name when the layout has none.</summary>
    public static string FieldLabel(string field)
    {
        var index = Layouts.Student.IndexOf(field);
        if (index < 0)
        {
            return field;
        }

        var f = Layouts.Student.Fields[index];
        return Languages.English ? f.EnglishHeader : f.Header;
    }

    /// <summary>The page of a rule, as every link to it is written.</summary>
    public static string RulePath(string ruleId) => HelpPages.RulesPath + "/" + Uri.EscapeDataString(ruleId);

    public static string Title(Rule rule) => Languages.English ? rule.TitleEn : rule.TitleZh;

    public static string Fix(Rule rule) => Languages.English ? rule.FixEn : rule.FixZh;

    public static string? Why(Rule rule) => Languages.English ? rule.WhyEn : rule.WhyZh;
}
