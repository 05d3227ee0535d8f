using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;

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

    /// <summary>Why a chosen password cannot be used (Chinese, then English), or null when it can.</summary>
    public static string? Problem(string accountName, string current, string chosen, string confirmation)
    {
        if (chosen != confirmation)
        {
            return "两次输入的新密码不一致。The two new passwords differ.";
        }

        if (chosen.Length < MinimumLength)
        {
            return $"新密码至少 {MinimumLength} 个字符。The new password needs at least {MinimumLength} characters.";
        }

        if (chosen == current)
        {
            return "新密码不能与原密码相同。The new password must differ from the old one.";
        }

        return chosen.Contains(accountName, StringComparison.OrdinalIgnoreCase)
            ? "新密码不能包含账号名。The new password must not contain the account name."
            : null;
    }
}
