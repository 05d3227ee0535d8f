using System.Text.RegularExpressions;

namespace StudentDataQuality.Data.Access;

/// <summary>
/// What an account name may be (the CHECK of access.account, migration 0005): 1 to 64 letters, digits, '.', '_', '@' or '-',
/// starting with a letter or digit. A name typed at sign-in is held to it before anything else is done with it.
/// </summary>
public static partial class AccountNames
{
    public const int MaxLength = 64;

    public static bool IsValid(string? name) => name is { Length: > 0 and <= MaxLength } && Pattern().IsMatch(name);

    /// <summary>A typed name as it may stand in the audit log: at most 64 characters (then "…"), control characters as U+FFFD.</summary>
    public static string ForRecord(string? name)
    {
        var text = name ?? "";
        var cut = text.Length > MaxLength ? text[..MaxLength] : text;
        var safe = string.Create(cut.Length, cut, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) || char.IsSurrogate(source[i]) ? '\uFFFD' : source[i];
            }
        });
        return text.Length > MaxLength ? safe + "…" : safe;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
