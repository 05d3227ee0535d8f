using System.Globalization;

namespace StudentDataQuality.Cli;

/// <summary>
/// The language the command line speaks (its messages, its errors): the setting <c>SDQ_LANGUAGE</c>, else
/// <c>Cli:Language</c> of appsettings.json (zh-CN or en), else the environment's locale (LC_ALL, LC_MESSAGES, LANG: zh* is
/// Chinese), else English. A terminal with no locale, or C/POSIX, reads English: that is what a server's shell has.
/// </summary>
public static class CliLanguage
{
    public static readonly CultureInfo Chinese = CultureInfo.GetCultureInfo("zh-CN");
    public static readonly CultureInfo English = CultureInfo.GetCultureInfo("en");

    /// <summary>
    /// The language from the setting (<paramref name="setting"/>), else from the locale variables in their POSIX order; null
    /// when the setting names a language the program does not speak.
    /// </summary>
    public static CultureInfo? Choose(string? setting, Func<string, string?> environment)
    {
        if (!string.IsNullOrWhiteSpace(setting))
        {
            return Named(setting.Trim());
        }

        // POSIX: LC_ALL overrides LC_MESSAGES, which overrides LANG; the first one set decides.
        var locale = new[] { "LC_ALL", "LC_MESSAGES", "LANG" }.Select(environment).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        return locale is not null && locale.StartsWith("zh", StringComparison.OrdinalIgnoreCase) ? Chinese : English;
    }

    /// <summary>Sets the language of this process (every thread, and this one) from the settings and the environment.</summary>
    public static void Apply()
    {
        var setting = Environment.GetEnvironmentVariable("SDQ_LANGUAGE") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : SdqEnvironment.Configuration["Cli:Language"];
        var culture = Choose(setting, Environment.GetEnvironmentVariable);
        Use(culture ?? English);
        if (culture is null)
        {
            throw new UserErrorException(new UserMessage("Cli.LanguageUnknown", setting));
        }
    }

    /// <summary>
    /// A user error as the command line tells it. A message the portal may also show names no option; where the command line
    /// has its own wording for it (<c>Cli.</c> + the code, naming the option or command to use), that one is told instead.
    /// </summary>
    public static string MessageOf(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error is UserErrorException { Text: { } text } && CliCodes.Value.Contains(CliCode(text)) ? new UserMessage(CliCode(text), text.Args).ToString()
            : error.Message;

        static string CliCode(UserMessage message) => "Cli." + message.Code;
    }

    private static readonly Lazy<HashSet<string>> CliCodes =
        new(() => UserMessage.Codes("en").SelectMany(f => f.Codes).Where(c => c.StartsWith("Cli.", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal));

    private static void Use(CultureInfo culture)
    {
        CultureInfo.DefaultThreadCurrentUICulture = culture;
        CultureInfo.CurrentUICulture = culture;
    }

    private static CultureInfo? Named(string name) =>
        name.StartsWith("zh", StringComparison.OrdinalIgnoreCase) ? Chinese
        : name.StartsWith("en", StringComparison.OrdinalIgnoreCase) ? English
        : null;
}
