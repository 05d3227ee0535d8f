namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the data team's console (rounds, schedules, the chase list, explanations, the audit search):
/// Resources/TeamText.resx is zh-CN, TeamText.en.resx English.
/// </summary>
public sealed class TeamText;
