using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OtpNet;
using QRCoder;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Web;

/// <summary>
/// Which accounts need a second factor, and how long a sign-in may wait for its code. Roles not listed may enrol from their
/// pages (a school from its own page), and once enrolled are asked for a code too.
/// </summary>
public sealed record SecondFactorPolicy
{
    public IReadOnlySet<AccountRole> RequiredFor { get; init; } = new HashSet<AccountRole> { AccountRole.DataTeam, AccountRole.District };

    /// <summary>How long a right password waits for its code (or for enrolment) before the sign-in starts again.</summary>
    public TimeSpan PendingFor { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The name the authenticator app shows beside the account.</summary>
    public string Issuer { get; init; } = "StudentDataQuality";

    public static SecondFactorPolicy Default { get; } = new();
}

/// <summary>
/// The cryptography of the second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step either side taken),
/// the secret encrypted with AES-GCM under a key derived from the signing key (HKDF, its own purpose; the account name is
/// the associated data, so a secret copied to another account's row does not open), recovery codes kept as HMAC-SHA256
/// under another derived key, and the enrolment's QR code as an SVG path.
/// </summary>
public sealed class SecondFactorCodes
{
    /// <summary>Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i).</summary>
    private const string RecoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
    public const int RecoveryCodeCount = 10;
    private static readonly VerificationWindow Window = new(previous: 1, future: 1);

    private readonly byte[] _secretKey;
    private readonly byte[] _recoveryKey;

    public SecondFactorCodes(SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _secretKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, key.Key, 32, info: "sdq second factor secret v1"u8.ToArray());
        _recoveryKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, key.Key, 32, info: "sdq second factor recovery v1"u8.ToArray());
        KeyId = "k" + Convert.ToHexStringLower(SHA256.HashData(_secretKey))[..8];
    }

    /// <summary>Names the key the secrets are encrypted under (stored beside each): a secret of another key is not tried.</summary>
    public string KeyId { get; }

    public static byte[] NewSecret() => KeyGeneration.GenerateRandomKey(20);

    public static string Base32(byte[] secret) => Base32Encoding.ToString(secret);

    /// <summary>The secret as the enrolment page shows it: base32 in groups of four, for typing into an app by hand.</summary>
    public static string Grouped(byte[] secret) => string.Join(' ', Base32(secret).Chunk(4).Select(c => new string(c)));

    public byte[] Protect(string accountName, byte[] secret)
    {
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        var cipher = new byte[secret.Length];
        using var aes = new AesGcm(_secretKey, tag.Length);
        aes.Encrypt(nonce, secret, cipher, tag, Encoding.UTF8.GetBytes(accountName));
        return [.. nonce, .. tag, .. cipher];
    }

    /// <summary>The secret, or null when it was encrypted under another key, for another account, or was changed.</summary>
    public byte[]? Unprotect(string accountName, byte[] protectedSecret, string keyId)
    {
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        if (keyId != KeyId || protectedSecret.Length <= nonceSize + tagSize)
        {
            return null;
        }

        var secret = new byte[protectedSecret.Length - nonceSize - tagSize];
        try
        {
            using var aes = new AesGcm(_secretKey, tagSize);
            aes.Decrypt(protectedSecret.AsSpan(0, nonceSize), protectedSecret.AsSpan(nonceSize + tagSize), protectedSecret.AsSpan(nonceSize, tagSize), secret,
                Encoding.UTF8.GetBytes(accountName));
            return secret;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    /// <summary>The 30-second step of a right code (now, or one step either side), or null when the code is not six digits or wrong.</summary>
    public static long? MatchingStep(byte[] secret, string code, DateTime utcNow)
    {
        var digits = Digits(code);
        if (digits is null)
        {
            return null;
        }

        return new Totp(secret).VerifyTotp(utcNow, digits, out var step, Window) ? step : null;
    }

    /// <summary>The code typed with spaces and dashes left out, when it is six digits (a TOTP code), else null.</summary>
    public static string? Digits(string? typed)
    {
        var kept = new string((typed ?? "").Where(c => c is not (' ' or '-')).ToArray());
        return kept.Length == 6 && kept.All(char.IsAsciiDigit) ? kept : null;
    }

    /// <summary>New recovery codes (about 49 bits each), shown once as xxxxx-xxxxx.</summary>
    public static IReadOnlyList<string> NewRecoveryCodes() =>
        Enumerable.Range(0, RecoveryCodeCount).Select(_ => RandomNumberGenerator.GetString(RecoveryAlphabet, 10)).Select(c => $"{c[..5]}-{c[5..]}").ToArray();

    /// <summary>
    /// A recovery code's hash as stored, or null when the text cannot be one (so it is never looked up): case, spaces and
    /// dashes do not count.
    /// </summary>
    public string? RecoveryHash(string accountName, string? typed)
    {
        var kept = new string((typed ?? "").Where(c => c is not (' ' or '-')).Select(char.ToLowerInvariant).ToArray());
        if (kept.Length != 10 || !kept.All(c => RecoveryAlphabet.Contains(c, StringComparison.Ordinal)))
        {
            return null;
        }

        return Convert.ToHexStringLower(HMACSHA256.HashData(_recoveryKey, Encoding.UTF8.GetBytes(accountName + "\n" + kept)));
    }

    /// <summary>The otpauth:// address an authenticator app reads from the QR code.</summary>
    public static string AppAddress(string issuer, string accountName, byte[] secret) =>
        new OtpUri(OtpType.Totp, Base32(secret), accountName, issuer).ToString();

    /// <summary>
    /// The QR code of <paramref name="address"/> as the enrolment page draws it: one SVG path of its dark modules, a run of a
    /// row at a time, the quiet zone included (<see cref="QrDrawing.Size"/> modules square). The page draws it inline, so
    /// there is no image request and no data: address (the CSP allows neither); the path holds nothing but numbers.
    /// </summary>
    public static QrDrawing Qr(string address)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(address, QRCodeGenerator.ECCLevel.M);
        var rows = data.ModuleMatrix;
        var path = new StringBuilder();
        for (var y = 0; y < rows.Count; y++)
        {
            for (var x = 0; x < rows[y].Length; x++)
            {
                if (!rows[y][x])
                {
                    continue;
                }

                var run = 1;
                while (x + run < rows[y].Length && rows[y][x + run])
                {
                    run++;
                }

                path.Append(CultureInfo.InvariantCulture, $"M{x} {y}h{run}v1h-{run}z");
                x += run - 1;
            }
        }

        return new QrDrawing(rows.Count, path.ToString());
    }
}

/// <summary>A QR code to draw: <see cref="Size"/> modules square, its dark modules as one SVG path.</summary>
public sealed record QrDrawing(int Size, string Path);
