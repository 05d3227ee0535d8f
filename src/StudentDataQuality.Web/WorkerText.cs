namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the worker's jobs dashboard (its sign-in and account page, `sdq worker --dashboard`): Resources/WorkerText.resx
/// is zh-CN, WorkerText.en.resx English.
/// </summary>
public sealed class WorkerText;
