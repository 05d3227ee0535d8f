using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Localization;

namespace StudentDataQuality.Web;

/// <summary>
/// The reader's language: Simplified Chinese (the default) or English. Chosen with the switch on every page (a cookie, kept
/// a year), else from the browser's Accept-Language; the request's culture then picks every text of the page from the resources.
/// </summary>
public static class Languages
{
    public const string Cookie = "sdq.lang";

    /// <summary>The language cookie's name over https: host-only, Secure, path / (the `__Host-` prefix holds the browser to it).</summary>
    public const string SecureCookie = "__Host-" + Cookie;

    private static readonly CultureInfo[] Supported = [CultureInfo.GetCultureInfo("zh-CN"), CultureInfo.GetCultureInfo("zh"), CultureInfo.GetCultureInfo("en")];

    /// <summary>True when this request is answered in English (its UI culture); Simplified Chinese otherwise.</summary>
    public static bool English => CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "en";

    /// <summary>The reader's language as the worksheets and receipts name it.</summary>
    public static Worksheets.WorksheetLanguage Worksheet => English ? Worksheets.WorksheetLanguage.English : Worksheets.WorksheetLanguage.Chinese;

    /// <summary>The cookie's value for the switch's code ("zh" or "en").</summary>
    public static string CookieValue(string code) =>
        CookieRequestCultureProvider.MakeCookieValue(new RequestCulture(code == "en" ? "en" : "zh-CN"));

    public static RequestLocalizationOptions Options()
    {
        var options = new RequestLocalizationOptions
        {
            DefaultRequestCulture = new RequestCulture("zh-CN"),
            SupportedCultures = Supported,
            SupportedUICultures = Supported,
            FallBackToParentCultures = true,
            FallBackToParentUICultures = true,
        };
        // The switch's choice first (over https under its `__Host-` name), then what the browser asks for; the query string is not read.
        options.RequestCultureProviders =
        [
            new CookieRequestCultureProvider { CookieName = SecureCookie },
            new CookieRequestCultureProvider { CookieName = Cookie },
            new AcceptLanguageHeaderRequestCultureProvider(),
        ];
        return options;
    }
}
