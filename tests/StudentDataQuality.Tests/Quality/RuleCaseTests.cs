using StudentDataQuality.Data.Quality;
using StudentDataQuality.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StudentDataQuality.Tests.Quality;

/// <summary>
/// The passing and failing examples of every rule, one file of cases per rule (RuleCases/README.md): all staged in one
/// round and checked once, then each case compared on its own rows. A case compares the findings of its rule and of any
/// rule it names in an expectation; a case marked "only" compares every rule's findings on its rows.
/// </summary>
public sealed class RuleCaseTests(CheckedRuleCases round) : IClassFixture<CheckedRuleCases>
{
    public static TheoryData<RuleCaseTitle> Cases => new(RuleCases.All.Select(c => new RuleCaseTitle(c.Title)));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Case(RuleCaseTitle title)
    {
        var ruleCase = RuleCases.All.Single(c => c.Title == title.ToString());
        var rows = round.Export.Schools.Concat(round.Export.Students).Concat(round.Export.PreviousStudents)
            .Where(r => ReferenceEquals(r.Case, ruleCase)).ToList();
        var expected = rows.SelectMany(r => r.Expected).ToList();
        var rules = expected.Select(e => e.Rule).Append(ruleCase.Rule).ToHashSet();
        var found = (await round.FindingsAsync())
            .Where(f => f.Row is not null && ReferenceEquals(f.Row.Case, ruleCase) && (ruleCase.Only || rules.Contains(f.Finding.Rule)))
            .Select(f => f.Finding).ToList();

        var unexpected = found.ToList();
        var missing = new List<CaseFinding>();
        foreach (var finding in expected)
        {
            var match = unexpected.FirstOrDefault(f => f.Satisfies(finding));
            if (match is null)
            {
                missing.Add(finding);
            }
            else
            {
                unexpected.Remove(match);
            }
        }

        static string Lines(List<CaseFinding> findings) => findings.Count == 0 ? " none" : "\n  " + string.Join("\n  ", findings);
        Assert.True(missing.Count == 0 && unexpected.Count == 0,
            $"{title} (compared: {(ruleCase.Only ? "every rule" : string.Join(", ", rules))})\n"
            + $"missing:{Lines(missing)}\nunexpected:{Lines(unexpected)}\nfound:{Lines(found)}");
    }

    [Fact]
    public void EveryRule_HasACaseFile_AndEveryCaseFile_NamesARule()
    {
        Assert.Equal(RuleCatalog.All.Select(r => r.Id).Order(StringComparer.Ordinal), RuleCases.FileRules);
    }

    [Fact]
    public void EveryRule_HasAFailingAndAPassingCase()
    {
        var lacking = new List<string>();
        foreach (var rule in RuleCatalog.All)
        {
            var cases = RuleCases.All.Where(c => c.Rule == rule.Id).ToList();
            var failing = cases.Count(c => ExpectedRules(c).Contains(rule.Id));
            if (failing == 0 || failing == cases.Count)
            {
                lacking.Add($"{rule.Id}: {failing} failing of {cases.Count}");
            }
        }

        Assert.True(lacking.Count == 0, string.Join("\n", lacking));
    }

    [Fact]
    public async Task EveryFindingOfTheRound_IsOnARowOfACase()
    {
        var findings = await round.FindingsAsync();

        var strays = findings.Where(f => f.Row is null).Select(f => f.Finding.ToString()).ToList();
        Assert.True(strays.Count == 0, string.Join("\n", strays));
        Assert.NotEmpty(findings);
    }

    /// <summary>
    /// The cases share one round, so a case's rows must not meet another case's in a rule that compares records: not
    /// in a school (S03, X04, the T and A rules), not by resident ID (X03), not as the same person (X05, X06).
    /// </summary>
    [Fact]
    public async Task NoTwoCases_ShareASchoolAnIdOrAPerson()
    {
        var db = await round.DatabaseAsync();
        await using var command = db.DataSource.CreateCommand("""
            SELECT ro.code, r.row_no,
                   'school ' || r.school_code,
                   CASE WHEN r.id_type = '1' AND r.id_number_check_ok AND r.id_number_birth IS NOT NULL THEN 'resident ID ' || r.id_number END,
                   CASE WHEN r.id_type = 'Z' THEN 'name, gender, birth date ' || concat_ws(' ', r.name, r.gender, r.birth_date) END,
                   'name, birth date, phone ' || concat_ws(' ', r.name, r.birth_date,
                       CASE WHEN octet_length(r.guardian_phone) = 13 AND left(r.guardian_phone, 2) = '86' THEN substr(r.guardian_phone, 3) ELSE r.guardian_phone END)
            FROM   registry.record r
            JOIN   registry.round ro ON ro.round_id = r.round_id
            WHERE  r.version = 1 AND ro.code = ANY (@codes)
            """);
        command.Parameters.AddWithValue("codes", CheckedRuleCases.RoundCodes.ToArray());
        var keys = new List<(string Key, RuleCase Case)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var row = round.RowOf(reader.GetString(0), reader.GetInt32(1));
                for (var i = 2; i < reader.FieldCount; i++)
                {
                    if (!reader.IsDBNull(i))
                    {
                        keys.Add((reader.GetString(i), row.Case));
                    }
                }
            }
        }

        var shared = keys.GroupBy(k => k.Key).Where(g => g.Select(k => k.Case).Distinct().Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(" | ", g.Select(k => k.Case.Title).Distinct())}").ToList();

        Assert.True(shared.Count == 0, string.Join("\n", shared));
    }

    /// <summary>
    /// A case's title as a theory argument: serializable, so that each case is a test of its own, and shown whole
    /// (xunit cuts a string argument at 50 characters).
    /// </summary>
    public sealed class RuleCaseTitle : IXunitSerializable
    {
        private string _title;

        [Obsolete("For the xunit serializer only.")]
        public RuleCaseTitle() => _title = "";

        public RuleCaseTitle(string title) => _title = title;

        public void Deserialize(IXunitSerializationInfo info) => _title = info.GetValue<string>("title");

        public void Serialize(IXunitSerializationInfo info) => info.AddValue("title", _title);

        public override string ToString() => _title;
    }

    private static IEnumerable<string> ExpectedRules(RuleCase ruleCase) =>
        ruleCase.Schools.Concat(ruleCase.Students).Concat(ruleCase.Students.SelectMany(s => s.Before)).Concat(ruleCase.Previous)
            .SelectMany(r => r.Expect).Select(e => e.Rule ?? ruleCase.Rule);
}
