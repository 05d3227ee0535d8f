using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StudentDataQuality.Guides;
using StudentDataQuality.Web.Components.Help;
using StudentDataQuality.Worksheets.Guides;

namespace StudentDataQuality.Web;

/// <summary>
/// The help's front page and the guides per role (docs/portal.md, "Help: the guides"): <c>/help</c> lists the five guides
/// (the reader's own role's first), the rule catalogue and the common mistakes; <c>/help/guides/{role}</c> is a guide in the
/// reader's language, <c>/help/guides/{role}.pdf</c> the same as a printable PDF, <c>/help/guides/img/{name}.png</c> its
/// screenshots. Open to every signed-in account; they hold no personal data, so nothing is audited and the PDF is no export.
/// Everything is read from the guides' sources embedded in this assembly (<see cref="GuideLibrary"/>): no part of a request
/// reaches the file system, and a name the guides do not use is "not found".
/// </summary>
internal static class GuidePages
{
    public const string HelpPath = "/help";
    public const string GuidesPath = HelpPath + "/guides";
    public const string ImagesPath = GuidesPath + "/img";

    public static void Map(WebApplication app)
    {
        var pages = app.MapGroup(HelpPath).RequireAuthorization().Guarded();
        pages.MapGet("", (HttpContext context) => Page.Show<GuidesPage>(new
        {
            Guides = Ordered(context.User).Select(role => new GuideLink(role, GuideLibrary.Get(role, Languages.English).Title)).ToList(),
        }));
        pages.MapGet("/guides/img/{name}", (HttpContext context, string name) => GuideLibrary.Image(name) is { } png
            ? Results.File(png, "image/png")
            : (IResult)Page.NotFound(context));
        pages.MapGet("/guides/{name}", (HttpContext context, string name) =>
        {
            var pdf = name.EndsWith(".pdf", StringComparison.Ordinal);
            var role = pdf ? name[..^4] : name;
            if (!GuideRoles.All.Contains(role, StringComparer.Ordinal))
            {
                return Page.NotFound(context);
            }

            return pdf
                ? Results.File(GuideLibrary.Pdf(role, Languages.English), "application/pdf")
                : Page.Show<GuidePage>(new { Role = role, Guide = GuideLibrary.Get(role, Languages.English) });
        });
    }

    /// <summary>The address of a guide's page (and, with ".pdf", of its PDF).</summary>
    public static string PathOf(string role) => GuidesPath + "/" + role;

    /// <summary>Every guide, the reader's own role's first, then the others in their order.</summary>
    private static IEnumerable<string> Ordered(ClaimsPrincipal user)
    {
        var own = GuideRoles.OfRole(user.FindFirstValue(ClaimTypes.Role));
        return own is null ? GuideRoles.All : GuideRoles.All.Where(r => r == own).Concat(GuideRoles.All.Where(r => r != own));
    }
}

/// <summary>A guide on the help's front page: its role (for its address) and its title.</summary>
public sealed record GuideLink(string Role, string Title);

/// <summary>
/// The guides as this assembly embeds them (docs/guides/**: the Web project's csproj): each source parsed once, the PDFs made
/// once per guide and language, the screenshots any guide shows (by name; no other file is served).
/// </summary>
public static class GuideLibrary
{
    private static readonly System.Reflection.Assembly Assembly = typeof(GuideLibrary).Assembly;
    private static readonly ConcurrentDictionary<(string, bool), Guide> Guides = new();
    private static readonly ConcurrentDictionary<(string, bool), byte[]> Pdfs = new();
    private static readonly Lazy<IReadOnlySet<string>> Shown = new(() =>
        GuideRoles.All.SelectMany(r => new[] { false, true }.SelectMany(english => Get(r, english).Images)).ToHashSet(StringComparer.Ordinal));

    /// <summary>The guide of a role (one of <see cref="GuideRoles.All"/>) in Chinese or English.</summary>
    /// <exception cref="ArgumentException">Not a guide's role.</exception>
    public static Guide Get(string role, bool english)
    {
        if (!GuideRoles.All.Contains(role, StringComparer.Ordinal))
        {
            throw new ArgumentException($"No guide is named \"{role}\".", nameof(role));
        }

        return Guides.GetOrAdd((role, english), key =>
        {
            var name = GuideRoles.SourceName(key.Item1, key.Item2);
            return GuideMarkdown.Parse(System.Text.Encoding.UTF8.GetString(Resource("guides/" + name)
                ?? throw new InvalidOperationException($"The guide docs/guides/{name} is not embedded in the portal.")), "docs/guides/" + name);
        });
    }

    /// <summary>A screenshot's PNG by its name, when a guide shows it; null for any other name.</summary>
    public static byte[]? Image(string name) => Shown.Value.Contains(name) ? Resource("guides/img/" + name) : null;

    /// <summary>The guide's printable PDF (made once).</summary>
    public static byte[] Pdf(string role, bool english) =>
        Pdfs.GetOrAdd((role, english), key => GuidePdf.Render(Get(key.Item1, key.Item2), Image));

    private static byte[]? Resource(string name)
    {
        using var stream = Assembly.GetManifestResourceStream(name);
        if (stream is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
