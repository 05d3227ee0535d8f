using StudentDataQuality.Data.Training;

namespace StudentDataQuality.Web;

/// <summary>
/// The texts of a practice round in the portal (the banner's line, the trainer's view): Resources/PracticeText.resx is zh-CN,
/// PracticeText.en.resx English. The label itself, <see cref="Practice.Label"/>, is shown in both languages at once.
/// </summary>
public sealed class PracticeText;

/// <summary>
/// Whether the portal's database is a practice one, read once when the portal starts (<see cref="Practice.FindAsync"/>, as
/// the portal's role may): every page then shows the practice banner and its tab title starts with the label.
/// </summary>
/// <param name="Round">The practice round the database holds; null in a real database.</param>
public sealed record PortalPractice(PracticeInfo? Round)
{
    public bool IsPractice => Round is not null;
}
