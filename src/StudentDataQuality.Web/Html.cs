using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;

namespace StudentDataQuality.Web;

/// <summary>The portal's pages as HTML: one layout, every value encoded, every form with its antiforgery token.</summary>
internal static class Html
{
    // Every script as itself (the default encoder would write Chinese as numeric references); markup characters are still encoded.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All);

    private static readonly AsyncLocal<Request?> Current = new();

    /// <summary>What a page is drawn for: its language and its own path (for the language switch to come back to).</summary>
    private sealed record Request(bool English, string PathAndQuery);

    public const string LanguageCookie = "sdq.lang";

    /// <summary>The language cookie's name over https: host-only, Secure, path / (the `__Host-` prefix holds the browser to it).</summary>
    public const string SecureLanguageCookie = "__Host-" + LanguageCookie;

    /// <summary>True when the request is answered in English: the reader chose it (the switch's cookie), or, before any
    /// choice, the browser asks for English before Chinese. Simplified Chinese otherwise.</summary>
    public static bool English => System.Globalization.CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "en";

    /// <summary>The text in the reader's language. Both are the page's own literals (trusted markup); data is encoded with <see cref="E"/>.</summary>
    public static string T(string chinese, string english) => English ? english : chinese;

    /// <summary>Sets the request's language for the pages drawn while it is answered (an async-local value, one per request).</summary>
    public static Task ChooseLanguage(Microsoft.AspNetCore.Http.HttpContext context, Func<Task> next)
    {
        var chosen = context.Request.Cookies[SecureLanguageCookie] ?? context.Request.Cookies[LanguageCookie];
        var english = chosen is "en" || (chosen is not "zh" && PrefersEnglish(context.Request.Headers.AcceptLanguage.ToString()));
        Current.Value = new Request(english, context.Request.Path + context.Request.QueryString);
        return next();
    }

    private static bool PrefersEnglish(string acceptLanguage)
    {
        foreach (var part in acceptLanguage.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var tag = part.Split(';')[0];
            if (tag.StartsWith("zh", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if (tag.StartsWith("en", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static string E(string? text) => Encoder.Encode(text ?? "");

    /// <summary>
    /// A path of this site only (the language switch comes back to it), else "/": one leading '/', no "//" or '\\' anywhere
    /// (browsers read "/\\host" as "//host"), no control characters or spaces (browsers drop tabs and line breaks from an
    /// address, so "/\t/host" would become "//host"; a line break would also end the Location header), at most 2,000 characters.
    /// </summary>
    public static string LocalOrHome(string? path) =>
        path is { Length: > 0 and <= 2000 } && path[0] == '/' && !path.Contains("//", StringComparison.Ordinal) && !path.Contains('\\', StringComparison.Ordinal)
        && !path.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) ? path : "/";

    private static string Switch()
    {
        var back = Uri.EscapeDataString(Current.Value?.PathAndQuery ?? "/");
        return English
            ? $"""<nav class="lang"><a href="/lang/zh?back={back}" lang="zh-CN">中文</a> · <strong>English</strong></nav>"""
            : $"""<nav class="lang"><strong>中文</strong> · <a href="/lang/en?back={back}" lang="en">English</a></nav>""";
    }

    public static string Page(string title, string body) => $$"""
        <!DOCTYPE html>
        <html lang="{{(English ? "en" : "zh-CN")}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{E(title)}} · {{T("学籍数据质量", "StudentDataQuality")}}</title>
        <style>
        body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem; line-height: 1.5; }
        form.stacked label { display: block; margin: .6rem 0 .2rem; }
        form.stacked input[type=text], form.stacked input[type=password] { width: 100%; max-width: 24rem; padding: .4rem; box-sizing: border-box; }
        button { margin-top: .8rem; padding: .4rem 1.2rem; }
        table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: .3rem; text-align: left; vertical-align: top; }
        .error { color: #a40000; }
        header { display: flex; justify-content: space-between; align-items: center; gap: .5rem; flex-wrap: wrap; border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
        nav.lang { text-align: right; font-size: .9rem; }
        .wide { overflow-x: auto; }
        table.figures td { white-space: nowrap; } td.num { text-align: right; }
        img.chart { max-width: 100%; height: auto; }
        @media (max-width: 640px) {
          body { padding: .5rem; }
          table { display: block; overflow-x: auto; }
          td, th { min-width: 4.5em; }
          input, select, button { font-size: 1rem; }
        }
        </style>
        </head>
        <body>
        {{Switch()}}
        {{body}}
        </body>
        </html>
        """;

    public static string Token(AntiforgeryTokenSet tokens) =>
        $"""<input type="hidden" name="{E(tokens.FormFieldName)}" value="{E(tokens.RequestToken)}">""";

    public static Microsoft.AspNetCore.Http.IResult Content(string html, int status = 200) =>
        Microsoft.AspNetCore.Http.Results.Content(html, "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);

    public static string Error(string? message) => message is null ? "" : $"""<p class="error" role="alert">{E(message)}</p>""";
}
