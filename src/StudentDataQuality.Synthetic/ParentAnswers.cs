using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using StudentDataQuality.Confirmations;

namespace StudentDataQuality.Synthetic;

/// <summary>What a simulated parent did with a sheet.</summary>
public enum ParentReply
{
    /// <summary>The sheet did not come back.</summary>
    NotReturned,

    /// <summary>Ticked "correct" everywhere and signed.</summary>
    Unchanged,

    /// <summary>Wrote a new guardian's phone or address (applied at once).</summary>
    CorrectedContact,

    /// <summary>Wrote a corrected name (an identity field: it waits for the registrar).</summary>
    CorrectedName,
}

/// <summary>A simulated parent's reply to one sheet, and the answer the class teacher enters (null when not returned).</summary>
public sealed record SimulatedParent(ConfirmationSheet Sheet, ParentReply Reply, SheetAnswer? Answer);

/// <summary>
/// Parents answering a class's confirmation sheets, for the demo (docs/confirmations.md, "Command line and the demo"):
/// deterministic from the seed and the students (never from the sheet ids, which are random at every print), so the same
/// seed gives the same answers. Of a class, about <see cref="NotReturnedShare"/> of the sheets do not come back, about
/// <see cref="CorrectedShare"/> come back with a new guardian's phone or address, the given number with a corrected name,
/// and the rest unchanged.
/// </summary>
public static partial class ParentAnswers
{
    public const double NotReturnedShare = 0.15;
    public const double CorrectedShare = 0.2;

    private const string GivenNameCharacters = "明华丽军伟芳娜敏静磊洋艳勇杰娟涛超秀霞平刚桂英";

    /// <summary>
    /// The replies to one class's sheets, in the sheets' order: the students ranked by a hash of the seed and their record, the
    /// first <paramref name="nameCorrections"/> correct the name, then the share that corrects a phone or address, then the
    /// share that does not answer; the others confirm unchanged. Every answer is signed on <paramref name="signedOn"/>.
    /// </summary>
    public static IReadOnlyList<SimulatedParent> Simulate(IReadOnlyList<ConfirmationSheet> sheets, int seed, DateOnly signedOn, int nameCorrections = 0)
    {
        ArgumentNullException.ThrowIfNull(sheets);
        ArgumentOutOfRangeException.ThrowIfNegative(nameCorrections);
        var names = Math.Min(nameCorrections, sheets.Count);
        var corrected = (int)Math.Round(sheets.Count * CorrectedShare, MidpointRounding.AwayFromZero);
        var notReturned = (int)Math.Round(sheets.Count * NotReturnedShare, MidpointRounding.AwayFromZero);
        var rank = sheets.Select((sheet, i) => (sheet, i))
            .OrderBy(x => Hash(seed, x.sheet.RecordId, "rank"), StringComparer.Ordinal).ThenBy(x => x.sheet.RecordId)
            .Select((x, r) => (x.i, r)).ToDictionary(x => x.i, x => x.r);
        return [.. sheets.Select((sheet, i) =>
        {
            var r = rank[i];
            var reply = r < names ? ParentReply.CorrectedName
                : r < names + corrected ? ParentReply.CorrectedContact
                : r < names + corrected + notReturned ? ParentReply.NotReturned
                : ParentReply.Unchanged;
            return new SimulatedParent(sheet, reply, reply switch
            {
                ParentReply.NotReturned => null,
                ParentReply.Unchanged => new SheetAnswer(sheet.SheetId, signedOn, new Dictionary<string, string>()),
                ParentReply.CorrectedName => new SheetAnswer(sheet.SheetId, signedOn, new Dictionary<string, string> { ["name"] = CorrectedName(sheet, seed) }),
                _ => new SheetAnswer(sheet.SheetId, signedOn, Contact(sheet, seed)),
            });
        })];
    }

    /// <summary>A new mobile number (a valid one, not the printed one), or a new address, chosen from the seed and the record.</summary>
    private static Dictionary<string, string> Contact(ConfirmationSheet sheet, int seed)
    {
        var hash = Hash(seed, sheet.RecordId, "contact");
        if (hash[0] % 2 == 0)
        {
            var phone = "13" + (Number(hash, 1) % 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture);
            if (phone == sheet["guardian_phone"])
            {
                phone = "15" + phone[2..];
            }

            return new Dictionary<string, string> { ["guardian_phone"] = phone };
        }

        // The family moved within the same place: a new house number, building and room, the rest of the address kept.
        var number = 1 + (int)(Number(hash, 2) % 300);
        var building = 1 + (int)(Number(hash, 3) % 30);
        var room = 101 + (int)(Number(hash, 4) % 18) * 100;
        var tail = string.Create(CultureInfo.InvariantCulture, $"{number}号{building}栋{room}室");
        var printed = sheet["address"] ?? "";
        var address = HouseNumber().Match(printed) is { Success: true } m ? m.Groups[1].Value + tail
            : printed.Length > 0 ? printed + tail
            : "黑龙江省哈尔滨市南岗区学府路" + tail;
        return new Dictionary<string, string> { ["address"] = address.Length > 200 ? address[..200] : address };
    }

    /// <summary>The printed name with its last character written otherwise (a misspelt given name), never the same name.</summary>
    private static string CorrectedName(ConfirmationSheet sheet, int seed)
    {
        var name = sheet["name"] is { Length: > 1 } printed ? printed : "张明";
        var hash = Hash(seed, sheet.RecordId, "name");
        var start = (int)(Number(hash, 0) % (ulong)GivenNameCharacters.Length);
        for (var k = 0; k < GivenNameCharacters.Length; k++)
        {
            var c = GivenNameCharacters[(start + k) % GivenNameCharacters.Length];
            if (c != name[^1])
            {
                return name[..^1] + c;
            }
        }

        return name;
    }

    private static string Hash(int seed, long recordId, string what) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{seed}|{recordId}|{what}"))));

    private static ulong Number(string hash, int part) => ulong.Parse(hash.AsSpan(part * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(.*?)\d+号.*$")]
    private static partial Regex HouseNumber();
}
