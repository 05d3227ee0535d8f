namespace StudentDataQuality.Web;

/// <summary>
/// The texts of the second factor's pages (the code at sign-in, enrolment, the recovery codes, the account's second factor):
/// Resources/SecondFactorText.resx is zh-CN, SecondFactorText.en.resx English.
/// </summary>
public sealed class SecondFactorText;
