using System.Text.RegularExpressions;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Synthetic;

namespace StudentDataQuality.Tests.Synthetic;

/// <summary>The demo's simulated parents: the same seed gives the same answers, and a class gets the mix the demo promises.</summary>
public sealed partial class ParentAnswersTests
{
    private static readonly DateOnly Signed = new(2026, 10, 20);

    [Fact]
    public void TheSameSeed_GivesTheSameAnswers_AndAnotherSeed_OtherOnes()
    {
        var sheets = Sheets(40, "QS");

        var first = ParentAnswers.Simulate(sheets, 7, Signed, nameCorrections: 1);
        // Printed again: new sheet ids, the same students, so the same answers.
        var again = ParentAnswers.Simulate(Sheets(40, "QT"), 7, Signed, nameCorrections: 1);
        var other = ParentAnswers.Simulate(sheets, 8, Signed, nameCorrections: 1);

        Assert.Equal(first.Select(Describe), again.Select(Describe));
        Assert.NotEqual(first.Select(Describe), other.Select(Describe));
    }

    [Fact]
    public void AClass_GetsMostlyUnchanged_SomeContactsCorrected_TheNamesAsked_AndSomeNotReturned()
    {
        var sheets = Sheets(40, "QS");

        var parents = ParentAnswers.Simulate(sheets, 3, Signed, nameCorrections: 2);

        Assert.Equal(sheets.Select(s => s.SheetId), parents.Select(p => p.Sheet.SheetId));
        Assert.Equal(2, parents.Count(p => p.Reply == ParentReply.CorrectedName));
        Assert.Equal(8, parents.Count(p => p.Reply == ParentReply.CorrectedContact));
        Assert.Equal(6, parents.Count(p => p.Reply == ParentReply.NotReturned));
        Assert.Equal(24, parents.Count(p => p.Reply == ParentReply.Unchanged));
        Assert.All(parents.Where(p => p.Reply == ParentReply.NotReturned), p => Assert.Null(p.Answer));
        Assert.All(parents.Where(p => p.Answer is not null), p => Assert.Equal(Signed, p.Answer!.SignedOn));
        Assert.All(parents.Where(p => p.Reply == ParentReply.Unchanged), p => Assert.True(p.Answer!.Unchanged));
        Assert.All(parents.Where(p => p.Reply == ParentReply.CorrectedName), p =>
        {
            var name = Assert.Single(p.Answer!.Corrections, c => c.Key == "name").Value;
            Assert.Single(p.Answer.Corrections);
            Assert.NotEqual(p.Sheet["name"], name);
            Assert.Equal(p.Sheet["name"]![..^1], name[..^1]);
        });
        var contacts = parents.Where(p => p.Reply == ParentReply.CorrectedContact).Select(p => Assert.Single(p.Answer!.Corrections)).ToList();
        Assert.All(contacts, c => Assert.Contains(c.Key, new[] { "guardian_phone", "address" }));
        Assert.All(contacts.Where(c => c.Key == "guardian_phone"), c => Assert.Matches(Mobile(), c.Value));
        Assert.All(parents.Where(p => p.Reply == ParentReply.CorrectedContact),
            p => Assert.NotEqual(p.Sheet[p.Answer!.Corrections.Keys.Single()], p.Answer.Corrections.Values.Single()));
    }

    [Fact]
    public void NoNameCorrection_UnlessAsked()
    {
        Assert.DoesNotContain(ParentAnswers.Simulate(Sheets(30, "QS"), 5, Signed), p => p.Reply == ParentReply.CorrectedName);
    }

    private static string Describe(SimulatedParent p) =>
        $"{p.Sheet.RecordId}:{p.Reply}:{string.Join(";", p.Answer?.Corrections.Select(c => $"{c.Key}={c.Value}") ?? [])}";

    private static List<ConfirmationSheet> Sheets(int count, string prefix) =>
        [.. Enumerable.Range(1, count).Select(i => new ConfirmationSheet($"{prefix}{i:D10}", "demo", "2301000001", "第一小学", new ClassKey(4, "3班"),
            $"G23010220150304{i:D4}", 1000 + i, 1,
            ConfirmationFields.All.Select(f => new SheetValue(f, f switch
            {
                "name" => "李" + "明华丽军伟"[i % 5] + "强",
                "guardian_phone" => $"1390000{i:D4}",
                "address" => $"黑龙江省哈尔滨市南岗区学府路{i}号3栋2单元501室",
                _ => "x",
            })).ToList(), DateTimeOffset.UnixEpoch))];

    [GeneratedRegex(@"^1[3-9][0-9]{9}$")]
    private static partial Regex Mobile();
}
