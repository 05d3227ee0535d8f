namespace StudentDataQuality.Worksheets;

/// <summary>
/// The portal's public address (what registrars type to reach it), for the links to a rule's help page
/// (<c>/help/rules/{id}</c>) that files carry out of the portal: a worksheet cell's note holds the address as text, a
/// receipt's still-failing row as a hyperlink (docs/worksheets.md, "Links to the rules").
/// </summary>
public sealed class RuleHelp
{
    private readonly string _base;

    private RuleHelp(Uri address)
    {
        Address = address;
        _base = address.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    /// <summary>The portal's address as given (absolute, http or https).</summary>
    public Uri Address { get; }

    /// <summary>
    /// The address from a setting's value: an absolute http or https address with a host and nothing after its path (no
    /// query, no fragment, no user name). The portal may sit under a path (https://edu.example/sdq): the rules follow it.
    /// </summary>
    /// <exception cref="UserErrorException">Anything else (<c>Rules.HelpAddressInvalid</c>), naming the setting.</exception>
    public static RuleHelp From(string? address, string setting)
    {
        ArgumentException.ThrowIfNullOrEmpty(setting);
        var text = address?.Trim() ?? "";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0
            || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0 || text.Any(char.IsWhiteSpace) || text.Any(char.IsControl))
        {
            throw new UserErrorException(new UserMessage("Rules.HelpAddressInvalid", setting, address ?? ""));
        }

        return new RuleHelp(uri);
    }

    /// <summary>The address of a rule's page, e.g. https://sdq.edu.example/help/rules/F03.</summary>
    public string UrlOf(string ruleId)
    {
        ArgumentException.ThrowIfNullOrEmpty(ruleId);
        return $"{_base}/help/rules/{Uri.EscapeDataString(ruleId)}";
    }

    public override string ToString() => _base;
}
