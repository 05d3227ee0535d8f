using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using StudentDataQuality.Web.Components.Pages;

namespace StudentDataQuality.Web;

/// <summary>The portal's answers as pages: a component rendered on the server (Razor, encoded by default), with its status.</summary>
public static class Page
{
    /// <summary>The page <typeparamref name="T"/> with its parameters (an anonymous object or a dictionary), answered with <paramref name="status"/>.</summary>
    public static RazorComponentResult<T> Show<T>(object? parameters = null, int status = StatusCodes.Status200OK) where T : IComponent =>
        new(parameters ?? new Dictionary<string, object?>()) { StatusCode = status, ContentType = "text/html; charset=utf-8" };

    /// <summary>A page that says one thing (texts already in the reader's language).</summary>
    public static RazorComponentResult<MessagePage> Message(string title, string? message, int status = StatusCodes.Status200OK, bool error = false, string back = "/") =>
        Show<MessagePage>(new Dictionary<string, object?> { ["Title"] = title, ["Message"] = message, ["IsError"] = error, ["Back"] = back }, status);

    /// <summary>"Not found": what is not there and what is out of the reader's scope answer alike.</summary>
    public static RazorComponentResult<MessagePage> NotFound(HttpContext context)
    {
        var text = context.RequestServices.GetRequiredService<IStringLocalizer<PortalText>>();
        return Message(text["NotFound.Title"], text["NotFound"], StatusCodes.Status404NotFound);
    }
}
