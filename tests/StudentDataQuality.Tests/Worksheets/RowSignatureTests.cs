using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

public sealed class RowSignatureTests
{
    private static readonly byte[] Key = WorksheetSamples.Key;
    private static readonly Guid Id = new("7b0c7d36-52e1-4a4c-9f57-1d5bd2f3a001");

    [Fact]
    public void Signature_IsHmacSha256_OverTheDocumentedEncoding()
    {
        // An independent rendering of the encoding the RowSignature remarks describe.
        var message = new MemoryStream();
        message.Write("sdq.worksheet.row.v1"u8);
        message.Write(Id.ToByteArray(bigEndian: true));
        void Int(int n)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(b, n);
            message.Write(b);
        }

        void Str(string? s)
        {
            if (s is null)
            {
                Int(-1);
                return;
            }

            var bytes = Encoding.UTF8.GetBytes(s);
            Int(bytes.Length);
            message.Write(bytes);
        }

        Str("1001");
        Int(3);
        Str("230102201503090316");
        Str(null);
        Str("");
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Key, message.ToArray()));

        Assert.Equal(expected, RowSignature.Compute(Key, Id, "1001", ["230102201503090316", null, ""]));
        Assert.Matches("^[0-9a-f]{64}$", expected);
    }

    [Fact]
    public void Verify_AcceptsTheSignature_AndRefusesAnyChange()
    {
        string?[] values = ["0123", "2015-03-09", null];
        var signature = RowSignature.Compute(Key, Id, "1001", values);
        Assert.True(RowSignature.Verify(Key, Id, "1001", values, signature));
        Assert.True(RowSignature.Verify(Key, Id, "1001", values, signature.ToUpperInvariant()));
        Assert.False(RowSignature.Verify(Key, Id, "1002", values, signature));
        Assert.False(RowSignature.Verify(Key, Guid.NewGuid(), "1001", values, signature));
        Assert.False(RowSignature.Verify(Key, Id, "1001", ["123", "2015-03-09", null], signature));
        Assert.False(RowSignature.Verify(Key, Id, "1001", ["0123", "2015-03-09", ""], signature));
        Assert.False(RowSignature.Verify(Key.Reverse().ToArray(), Id, "1001", values, signature));
        Assert.False(RowSignature.Verify(Key, Id, "1001", values, null));
        Assert.False(RowSignature.Verify(Key, Id, "1001", values, "not hex"));
        Assert.False(RowSignature.Verify(Key, Id, "1001", values, new string('z', 64)));
        Assert.False(RowSignature.Verify(Key, Id, "1001", values, signature[..62]));
    }

    [Theory]
    [InlineData(new[] { "ab", "c" }, new[] { "a", "bc" })]
    [InlineData(new string[0], new[] { "" })]
    public void DifferentInputs_NeverShareAMessage(string[] left, string[] right) =>
        Assert.NotEqual(RowSignature.Compute(Key, Id, "k", left), RowSignature.Compute(Key, Id, "k", right));

    [Fact]
    public void ALoneSurrogate_IsNotSignedAsTheReplacementCharacter()
    {
        // Built at run time: attribute arguments cannot hold a lone surrogate.
        var lone = "a" + (char)0xD800;
        Assert.NotEqual(RowSignature.Compute(Key, Id, "k", [lone]), RowSignature.Compute(Key, Id, "k", ["a\uFFFD"]));
        Assert.NotEqual(RowSignature.Compute(Key, Id, "k", [((char)0xD800).ToString()]), RowSignature.Compute(Key, Id, "k", [((char)0xDC00).ToString()]));
        Assert.True(RowSignature.Verify(Key, Id, "k", [lone], RowSignature.Compute(Key, Id, "k", [lone])));
    }

    [Fact]
    public void NullAndEmpty_AreDifferentValues() =>
        Assert.NotEqual(RowSignature.Compute(Key, Id, "k", [null]), RowSignature.Compute(Key, Id, "k", [""]));

    [Fact]
    public void RowKeyAndValues_CannotTradeCharacters() =>
        Assert.NotEqual(RowSignature.Compute(Key, Id, "k1", ["x"]), RowSignature.Compute(Key, Id, "k", ["1x"]));

    [Fact]
    public void AShortKey_IsRefused() =>
        Assert.Throws<ArgumentException>(() => RowSignature.Compute(new byte[16], Id, "k", []));

    [Fact]
    public void SignRows_SignsTheValuesOfTheShownFieldsInTheirOrder()
    {
        var document = WorksheetSamples.Tricky();
        Assert.All(document.Rows, r => Assert.True(RowSignature.VerifyRow(Key, document, r)));
        var row = document.Rows[0];
        var expected = RowSignature.Compute(Key, document.WorksheetId, row.RowKey, document.Fields.Select(f => row.Values.GetValueOrDefault(f)).ToArray());
        Assert.Equal(expected, row.Signature);
        // A value of a field that is not shown is not signed; a shown one is.
        var extra = row with { Values = new Dictionary<string, string?>(row.Values) { ["address_extra"] = "x" } };
        Assert.True(RowSignature.VerifyRow(Key, document, extra));
        var changed = row with { Values = new Dictionary<string, string?>(row.Values) { ["gender"] = "1" } };
        Assert.False(RowSignature.VerifyRow(Key, document, changed));
    }
}
