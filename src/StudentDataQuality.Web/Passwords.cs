using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Localization;

namespace StudentDataQuality.Web;

/// <summary>Password hashes (the framework's hasher, PBKDF2), one-time passwords, and what a chosen password must be.</summary>
public static class Passwords
{
    private static readonly PasswordHasher<string> Hasher = new();

    /// <summary>Letters and digits that cannot be mistaken for one another when read aloud or copied from paper.</summary>
    private const string OneTimeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

    public const int MinimumLength = 10;

    public static string Hash(string accountName, string password) => Hasher.HashPassword(accountName, password);

    public static bool Matches(string accountName, string hash, string password) =>
        Hasher.VerifyHashedPassword(accountName, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>A one-time password of 12 characters (about 70 bits), given by the data team and changed at first sign-in.</summary>
    public static string OneTime() => RandomNumberGenerator.GetString(OneTimeAlphabet, 12);

    /// <summary>Why a chosen password cannot be used, as a text key of <see cref="PortalText"/>; null when it can.</summary>
    public static string? Problem(string accountName, string current, string chosen, string confirmation) =>
        chosen != confirmation ? "Password.Differ"
        : chosen.Length < MinimumLength ? "Password.TooShort"
        : chosen == current ? "Password.Same"
        : chosen.Contains(accountName, StringComparison.OrdinalIgnoreCase) ? "Password.ContainsName"
        : null;

    /// <summary>Why a chosen password cannot be used, in the reader's language; null when it can.</summary>
    public static string? Problem(IStringLocalizer<PortalText> text, string accountName, string current, string chosen, string confirmation)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Problem(accountName, current, chosen, confirmation) is { } key ? text[key, MinimumLength].Value : null;
    }
}
