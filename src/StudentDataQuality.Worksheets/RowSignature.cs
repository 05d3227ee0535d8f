using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// The signature of one issued row (docs/worksheets.md, "Signed rows"): HMAC-SHA256 with a server key over the worksheet id, the row key
/// and the row's issued values, as 64 lower-case hex digits. It proves that a row of a returned file's <c>_meta</c> was
/// issued by this server for this worksheet; the locks of the sheet prove nothing.
/// </summary>
/// <remarks>
/// The signed message is unambiguous: a version tag, the worksheet id as 16 bytes (RFC 4122 order), then the row key
/// and each value as a big-endian 32-bit length followed by its UTF-8 bytes, a null value as length -1 (so null and
/// empty differ), after the count of values. No two different inputs give the same message.
/// </remarks>
public static class RowSignature
{
    /// <summary>The shortest key accepted: 256 bits, the HMAC-SHA256 block's worth of security.</summary>
    public const int MinimumKeyBytes = 32;

    private static readonly byte[] Tag = "sdq.worksheet.row.v1"u8.ToArray();

    public static string Compute(byte[] key, Guid worksheetId, string rowKey, IReadOnlyList<string?> issuedValuesInFieldOrder)
    {
        var mac = ComputeBytes(key, worksheetId, rowKey, issuedValuesInFieldOrder);
        return Convert.ToHexStringLower(mac);
    }

    /// <summary>True when <paramref name="signature"/> is the signature of these inputs (compared in constant time).</summary>
    public static bool Verify(
        byte[] key, Guid worksheetId, string rowKey, IReadOnlyList<string?> issuedValuesInFieldOrder, string? signature)
    {
        if (signature is null || signature.Length != 64)
        {
            return false;
        }

        var expected = ComputeBytes(key, worksheetId, rowKey, issuedValuesInFieldOrder);
        Span<byte> given = stackalloc byte[32];
        if (Convert.FromHexString(signature, given, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>The row's issued values in the order of <paramref name="fields"/> (null for a field the row lacks).</summary>
    public static IReadOnlyList<string?> IssuedValues(IReadOnlyList<string> fields, WorksheetRow row)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(row);
        var values = new string?[fields.Count];
        for (var i = 0; i < fields.Count; i++)
        {
            values[i] = row.Values.GetValueOrDefault(fields[i]);
        }

        return values;
    }

    /// <summary>The document with every row signed over its values of <see cref="WorksheetDocument.Fields"/>.</summary>
    public static WorksheetDocument SignRows(byte[] key, WorksheetDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var rows = document.Rows
            .Select(r => r with { Signature = Compute(key, document.WorksheetId, r.RowKey, IssuedValues(document.Fields, r)) })
            .ToArray();
        return document with { Rows = rows };
    }

    /// <summary>True when the row's signature matches its values of <see cref="WorksheetDocument.Fields"/>.</summary>
    public static bool VerifyRow(byte[] key, WorksheetDocument document, WorksheetRow row)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(row);
        return Verify(key, document.WorksheetId, row.RowKey, IssuedValues(document.Fields, row), row.Signature);
    }

    private static byte[] ComputeBytes(byte[] key, Guid worksheetId, string rowKey, IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(rowKey);
        ArgumentNullException.ThrowIfNull(values);
        if (key.Length < MinimumKeyBytes)
        {
            throw new ArgumentException($"A worksheet signing key must have at least {MinimumKeyBytes} bytes; this one has {key.Length}.", nameof(key));
        }

        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(Tag);
        Span<byte> buffer = stackalloc byte[16];
        if (!worksheetId.TryWriteBytes(buffer, bigEndian: true, out _))
        {
            throw new InvalidOperationException("A Guid did not fit 16 bytes.");
        }

        hmac.AppendData(buffer);
        AppendString(hmac, rowKey);
        AppendInt(hmac, values.Count);
        foreach (var value in values)
        {
            AppendString(hmac, value);
        }

        return hmac.GetHashAndReset();
    }

    private static void AppendString(IncrementalHash hmac, string? value)
    {
        if (value is null)
        {
            AppendInt(hmac, -1);
            return;
        }

        // Invalid UTF-16 (a lone surrogate in a badly encoded extract) must still sign exactly: encode it as U+FFFD
        // would merge distinct inputs, so such strings are signed by their UTF-16 code units instead, flagged by a
        // different length marker.
        if (!IsWellFormedUtf16(value))
        {
            AppendInt(hmac, -2);
            AppendInt(hmac, value.Length);
            var units = new byte[value.Length * 2];
            for (var i = 0; i < value.Length; i++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(units.AsSpan(i * 2), value[i]);
            }

            hmac.AppendData(units);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        AppendInt(hmac, bytes.Length);
        hmac.AppendData(bytes);
    }

    private static void AppendInt(IncrementalHash hmac, int value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, value);
        hmac.AppendData(buffer);
    }

    private static bool IsWellFormedUtf16(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }
}
