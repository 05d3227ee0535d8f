using System.Globalization;
using System.Resources;

namespace StudentDataQuality;

/// <summary>
/// A message to a person as a code and its arguments, rendered in the reader's language from the resources of the messages:
/// Resources/*Messages.resx (zh-CN, the default) and *Messages.en.resx (English), one pair per area (SchoolMessages,
/// TeamMessages…); a code is in one of them only. Arguments are values (a file name, a row, a count), never text of
/// one language; a code names what happened (<c>Round.NotFound</c>), not the host that tells it.
/// </summary>
public sealed record UserMessage(string Code, params object?[] Args)
{
    private static readonly ResourceManager[] Resources = typeof(UserMessage).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("StudentDataQuality.Resources.", StringComparison.Ordinal) && n.EndsWith("Messages.resources", StringComparison.Ordinal))
        .Order(StringComparer.Ordinal)
        .Select(n => new ResourceManager(n[..^".resources".Length], typeof(UserMessage).Assembly))
        .ToArray();

    /// <summary>The message in <paramref name="culture"/> (a missing code is a build mistake: it throws).</summary>
    public string Render(CultureInfo culture)
    {
        var format = Resources.Select(r => r.GetString(Code, culture)).FirstOrDefault(f => f is not null)
            ?? throw new InvalidOperationException($"The message '{Code}' is missing from the resources for {culture.Name}.");
        // An argument that is itself a message (a stage's name, say) is rendered in the same language.
        return Args.Length == 0 ? format : string.Format(culture, format, Args.Select(a => a is UserMessage m ? m.Render(culture) : a).ToArray());
    }

    public override string ToString() => Render(CultureInfo.CurrentUICulture);

    /// <summary>
    /// Every code of the messages in one language (zh-CN or en), file by file, without falling back to the other (for tests).
    /// </summary>
    public static IReadOnlyList<(string File, IReadOnlySet<string> Codes)> Codes(string language)
    {
        var culture = language == "en" ? CultureInfo.GetCultureInfo("en") : CultureInfo.InvariantCulture;
        return Resources.Select(r => (r.BaseName, (IReadOnlySet<string>)(r.GetResourceSet(culture, createIfNotExists: true, tryParents: false)
            ?? throw new InvalidOperationException($"No {language} resources for {r.BaseName}."))
            .Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal))).ToList();
    }
}
