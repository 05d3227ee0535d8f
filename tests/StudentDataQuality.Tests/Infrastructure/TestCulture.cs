using System.Globalization;
using System.Runtime.CompilerServices;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// The tests read user errors in English, whatever the machine's locale: with no locale (or C.UTF-8) .NET's culture is the
/// invariant one, which the message resources answer in their default language, Chinese. Only the language of the
/// messages is set (CurrentUICulture); the portal still chooses per request (Chinese unless the browser asks for English),
/// and a test that wants Chinese asks for it (<c>MessageIn</c>).
/// </summary>
internal static class TestCulture
{
    // A test assembly is the application here: setting its culture when it loads is the point (CA2255 is for libraries).
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void English()
    {
        CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.GetCultureInfo("en");
        CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("en");
    }
}
