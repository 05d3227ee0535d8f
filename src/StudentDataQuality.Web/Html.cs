using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;

namespace StudentDataQuality.Web;

/// <summary>The portal's pages as HTML: one layout, every value encoded, every form with its antiforgery token.</summary>
internal static class Html
{
    // Every script as itself (the default encoder would write Chinese as numeric references); markup characters are still encoded.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All);

    public static string E(string? text) => Encoder.Encode(text ?? "");

    public static string Page(string title, string body) => $$"""
        <!DOCTYPE html>
        <html lang="zh-CN">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{E(title)}} · 学籍数据质量 StudentDataQuality</title>
        <style>
        body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem; line-height: 1.5; }
        form.stacked label { display: block; margin: .6rem 0 .2rem; }
        form.stacked input[type=text], form.stacked input[type=password] { width: 100%; max-width: 24rem; padding: .4rem; box-sizing: border-box; }
        button { margin-top: .8rem; padding: .4rem 1.2rem; }
        table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: .3rem; text-align: left; vertical-align: top; }
        .error { color: #a40000; }
        header { display: flex; justify-content: space-between; align-items: center; border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
        </style>
        </head>
        <body>
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
