using System.Net;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Data;

/// <summary>
/// The common mistakes (docs/record.md, "Common mistakes") over a round run by the jobs in which a few schools returned their
/// worksheets through the portal (some answering half their rows, some sloppily): both lists equal what the test works out
/// itself from the findings read back row by row (LINQ, not the query's SQL), in order and at most ten; a district's lists
/// count only its schools; the scope comes from the account (a district account's choice of district is ignored, a school
/// account reads the province's); an unknown district is refused for the data team; the round is the newest with
/// issued worksheets, not a newer one without.
/// </summary>
public sealed class CommonMistakesTests(PortalRound fixture) : IClassFixture<PortalRound>
{
    private readonly DatabaseFixture db = fixture.Database;

    [Fact]
    public async Task TheProvincesLists_AreTheFindingsCountedByRule_InOrder_AtMostTen()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        var report = await new CommonMistakes(db.DataSource).ReadAsync(new Account("team", AccountRole.DataTeam), null);

        Assert.Equal(MistakesScope.Province, report.Scope);
        Assert.Equal(fixture.Run.RoundId, report.Round!.RoundId);
        Assert.False(report.Round.Closed);
        var expected = MistakeFacts.MostFound(facts);
        Assert.True(expected.Count > 1, "the round has too few kinds of problem to rank");
        Assert.Equal(expected, report.MostFound.Select(m => (m.RuleId, m.Count)));
        Assert.Equal(Enumerable.Range(1, report.MostFound.Count), report.MostFound.Select(m => m.Rank));
        Assert.True(report.MostFound.Count <= CommonMistakes.Top);

        var stillOpen = MistakeFacts.StillOpen(facts);
        Assert.NotEmpty(stillOpen);
        Assert.Equal(stillOpen, report.StillOpen.Select(m => (m.RuleId, m.Count, m.AtReturned)));
        Assert.All(report.StillOpen, m => Assert.Equal((double)m.Count / m.AtReturned, m.OpenShare!.Value, 9));
        // The definition is exercised: schools that did not return, and findings fixed at those that did, are both left out.
        Assert.Contains(facts, f => !f.Returned);
        Assert.Contains(facts, f => f.Returned && f.Status != "open" && f.Status != "superseded");
        Assert.All(report.MostFound.Where(m => m.Rule is not null), m => Assert.Equal(m.RuleId, m.Rule!.Id));
    }

    [Fact]
    public async Task ADistrictsLists_CountOnlyItsSchools_AndItsAccountCannotChooseAnother()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        var districts = facts.Where(f => f.District is not null).Select(f => f.District!).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(districts.Count >= 2, "the generated province has fewer than two districts with problems");
        var mistakes = new CommonMistakes(db.DataSource);

        foreach (var district in districts)
        {
            var own = facts.Where(f => f.District == district).ToList();
            var other = districts.First(d => d != district);
            var report = await mistakes.ReadAsync(new Account("district", AccountRole.District, DistrictCode: district), other);
            Assert.Equal(MistakesScope.District, report.Scope);
            Assert.Equal(district, report.DistrictCode);
            Assert.Equal(MistakeFacts.MostFound(own), report.MostFound.Select(m => (m.RuleId, m.Count)));
            Assert.Equal(MistakeFacts.StillOpen(own), report.StillOpen.Select(m => (m.RuleId, m.Count, m.AtReturned)));
            Assert.Empty(report.Districts);

            var chosen = await mistakes.ReadAsync(new Account("manager", AccountRole.Manager), district);
            Assert.Equal(MistakeFacts.MostFound(own), chosen.MostFound.Select(m => (m.RuleId, m.Count)));
        }

        Assert.NotEqual(MistakeFacts.MostFound(facts.Where(f => f.District == districts[0])),
            MistakeFacts.MostFound(facts.Where(f => f.District == districts[1])));
    }

    [Fact]
    public async Task ASchoolAndAClassTeacher_ReadTheProvinces_NeverTheirDistricts()
    {
        await MistakeFacts.ReturnSomeAsync(fixture);
        var facts = await MistakeFacts.ReadAsync(db, fixture.Run.RoundId);
        var school = facts.First(f => f.District is not null);
        var expected = MistakeFacts.MostFound(facts);
        Assert.NotEqual(expected, MistakeFacts.MostFound(facts.Where(f => f.District == school.District)));
        var mistakes = new CommonMistakes(db.DataSource);
        foreach (var account in new[]
                 {
                     new Account("school", AccountRole.School, school.School), new Account("teacher", AccountRole.ClassTeacher, school.School),
                     new Account("school", AccountRole.School, "NOT-IN-THE-MASTER"),
                 })
        {
            var report = await mistakes.ReadAsync(account, school.District);
            Assert.Equal(MistakesScope.Province, report.Scope);
            Assert.Null(report.DistrictCode);
            Assert.Empty(report.Districts);
            Assert.Equal(expected, report.MostFound.Select(m => (m.RuleId, m.Count)));
        }
    }

    [Fact]
    public async Task AnUnknownDistrict_IsRefusedForTheDataTeam_AndNothingIsCounted()
    {
        var mistakes = new CommonMistakes(db.DataSource);
        foreach (var asked in new[] { "999999", "<script>", "' OR 1=1 --" })
        {
            var report = await mistakes.ReadAsync(new Account("team", AccountRole.DataTeam), asked);
            Assert.Equal(MistakesScope.UnknownDistrict, report.Scope);
            Assert.Empty(report.MostFound);
            Assert.Empty(report.StillOpen);
        }
    }

    [Fact]
    public async Task TheRound_IsTheNewestWithIssuedWorksheets_NotANewerOneWithout()
    {
        await db.ExecuteAsync("""
            INSERT INTO registry.round (code, round_date, school_year, status, created_by)
            VALUES ('mistakes-later', DATE '2027-03-01', 2026, 'open', 'test')
            ON CONFLICT (code) DO NOTHING
            """);
        var report = await new CommonMistakes(db.DataSource).ReadAsync(new Account("team", AccountRole.DataTeam), null);
        Assert.Equal(fixture.Run.RoundId, report.Round!.RoundId);
    }
}

/// <summary>A finding read back for the test's own counting: its rule, status, school, the school's district, whether the school returned.</summary>
internal sealed record MistakeFact(string RuleId, string Status, string School, string? District, bool Returned);

/// <summary>Returns for the tests of the common mistakes, and the counts worked out in C# from the findings read back.</summary>
internal static class MistakeFacts
{
    private static readonly SemaphoreSlim Once = new(1, 1);

    /// <summary>
    /// Four schools (those with the most answers) return their worksheets through the portal once: two answering about half
    /// of their rows, two sloppily; the other schools do not return. Done once per database.
    /// </summary>
    public static async Task ReturnSomeAsync(PortalRound fixture)
    {
        var db = fixture.Database;
        await Once.WaitAsync();
        try
        {
            if (await db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", ("r", fixture.Run.RoundId)) > 0)
            {
                return;
            }

            var answers = RegistrarAnswers.Load(fixture.Province.RegistrarAnswersPath);
            var schools = (await db.ScalarAsync<string>("SELECT string_agg(school_code, ',') FROM exchange.worksheet WHERE round_id = @r",
                ("r", fixture.Run.RoundId))).Split(',');
            var returning = schools.OrderByDescending(s => answers.GetValueOrDefault(s)?.Count ?? 0).ThenBy(s => s, StringComparer.Ordinal).Take(4).ToList();
            for (var i = 0; i < returning.Count; i++)
            {
                var code = returning[i];
                var worksheetId = await db.ScalarAsync<Guid>(
                    "SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r AND school_code = @s ORDER BY issue_no DESC LIMIT 1",
                    ("r", fixture.Run.RoundId), ("s", code));
                var name = "mistakes-return-" + i;
                using var school = new PortalBrowser(fixture.Site);
                await school.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(db.DataSource, name, AccountRole.School, code));
                var bytes = await (await school.GetAsync($"/school/worksheets/{worksheetId}")).Content.ReadAsByteArrayAsync();
                var edited = RegistrarSimulator.Edit(bytes, answers.GetValueOrDefault(code) ?? [], i % 2 == 0 ? RegistrarStyle.Partial : RegistrarStyle.Sloppy,
                    seed: 11 + i);
                var upload = await school.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook);
                Assert.Equal(HttpStatusCode.Redirect, upload.StatusCode);
            }
        }
        finally
        {
            Once.Release();
        }
    }

    /// <summary>The round's findings with a school, row by row, with the school's district and whether it returned.</summary>
    public static async Task<List<MistakeFact>> ReadAsync(DatabaseFixture db, int roundId)
    {
        await using var command = db.DataSource.CreateCommand("""
            SELECT f.rule_id, f.status, f.school_code, d.district_code,
                   f.school_code IN (SELECT t.school_code FROM exchange.worksheet_return t WHERE t.round_id = f.round_id)
            FROM   quality.finding f
            LEFT   JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.school_code IS NOT NULL
            """);
        command.Parameters.AddWithValue("r", roundId);
        var facts = new List<MistakeFact>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            facts.Add(new MistakeFact(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetBoolean(4)));
        }

        return facts;
    }

    /// <summary>Each rule's findings (superseded ones left out), most first, ties by rule id, at most ten.</summary>
    public static List<(string RuleId, int Count)> MostFound(IEnumerable<MistakeFact> facts) =>
        facts.Where(f => f.Status != "superseded").GroupBy(f => f.RuleId).Select(g => (g.Key, g.Count()))
            .OrderByDescending(r => r.Item2).ThenBy(r => r.Key, StringComparer.Ordinal).Take(10).ToList();

    /// <summary>
    /// At schools that returned: each rule's findings still open and all its findings (superseded left out); rules with any
    /// still open, most first, ties by rule id, at most ten.
    /// </summary>
    public static List<(string RuleId, int Count, int AtReturned)> StillOpen(IEnumerable<MistakeFact> facts) =>
        facts.Where(f => f.Returned && f.Status != "superseded").GroupBy(f => f.RuleId)
            .Select(g => (g.Key, g.Count(f => f.Status == "open"), g.Count())).Where(r => r.Item2 > 0)
            .OrderByDescending(r => r.Item2).ThenBy(r => r.Key, StringComparer.Ordinal).Take(10).ToList();
}
