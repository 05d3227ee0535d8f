namespace StudentDataQuality.Web;

/// <summary>Addresses the portal sends a browser back to: its own paths only.</summary>
public static class LocalPath
{
    /// <summary>
    /// A path of this site only (the language switch comes back to it), else "/": one leading '/', no "//" or '\\' anywhere
    /// (browsers read "/\\host" as "//host"), no control characters or spaces (browsers drop tabs and line breaks from an
    /// address, so "/\t/host" would become "//host"; a line break would also end the Location header), at most 2,000 characters.
    /// </summary>
    public static string OrHome(string? path) =>
        path is { Length: > 0 and <= 2000 } && path[0] == '/' && !path.Contains("//", StringComparison.Ordinal) && !path.Contains('\\', StringComparison.Ordinal)
        && !path.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) ? path : "/";
}
