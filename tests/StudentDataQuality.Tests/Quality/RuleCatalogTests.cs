using System.Text.RegularExpressions;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Tests.Quality;

public sealed class RuleCatalogTests
{
    [Fact]
    public void EveryRuleFile_HasACompleteHeader_InBothLanguages()
    {
        Assert.NotEmpty(RuleCatalog.All);
        Assert.Equal(RuleCatalog.All.Count, RuleCatalog.All.Select(r => r.Id).Distinct().Count());
        foreach (var rule in RuleCatalog.All)
        {
            Assert.Matches("^[SFCXTA][0-9]{2}$", rule.Id);
            Assert.NotEmpty(rule.Fields);
            Assert.Matches(@"\p{IsCJKUnifiedIdeographs}", rule.TitleZh);
            Assert.Matches(@"\p{IsCJKUnifiedIdeographs}", rule.FixZh);
            Assert.Matches("[A-Za-z]", rule.TitleEn);
        }
    }

    [Fact]
    public void RulesRun_StageByStage()
    {
        var stages = RuleCatalog.All.Select(r => r.Stage).ToList();

        Assert.Equal(stages.Order(), stages);
    }

    [Theory]
    [InlineData("id_number; DROP TABLE registry.round")]
    [InlineData("round")]
    [InlineData("round, id_number")]
    [InlineData("nickname")]
    public void PartnerFields_OtherThanRecordFields_AreRefused(string partners)
    {
        var text = $"""
            -- id: Z98
            -- stage: 4
            -- severity: error
            -- fields: id_number
            -- title.en: Something
            -- title.zh: 某事
            -- fix.en: Do this
            -- fix.zh: 这样做
            -- version: 1
            -- partners: {partners}
            SELECT c.record_id, NULL::text, 'id_number', c.id_number_raw, NULL::text, NULL::text FROM checked_record c
            """;

        var error = Assert.Throws<InvalidOperationException>(() => RuleCatalog.Parse("rules/Z98.sql", text));

        Assert.Contains("partners", error.Message);
    }

    [Fact]
    public void RulesThatGroupRecords_DeclareTheirPartners()
    {
        var partners = RuleCatalog.All.Where(r => r.PartnerFields.Count > 0).ToDictionary(r => r.Id, r => string.Join(", ", r.PartnerFields));

        Assert.Equal("school_code, student_no", partners["S03"]);
        Assert.Equal("id_number", partners["X03"]);
        // School-level rules count one school at a time: a re-check counts the schools of its records, not the province.
        Assert.All(RuleCatalog.All.Where(r => r.Stage == RuleStage.School), r => Assert.Equal("school_code", string.Join(", ", r.PartnerFields)));
        Assert.Empty(RuleCatalog.All.Single(r => r.Id == "F01").PartnerFields);
    }

    [Fact]
    public void AHeaderWithoutItsFixHint_IsRefused_NamingTheFileAndKey()
    {
        const string text = """
            -- id: Z99
            -- stage: 2
            -- severity: error
            -- fields: name
            -- title.en: Something
            -- title.zh: 某事
            -- fix.en: Do this
            -- version: 1
            SELECT 1
            """;

        var error = Assert.Throws<InvalidOperationException>(() => RuleCatalog.Parse("rules/Z99.sql", text));

        Assert.Contains("rules/Z99.sql", error.Message);
        Assert.Contains("'fix.zh:'", error.Message);
    }

    [Fact]
    public void ARuleFileNamedOtherThanItsId_IsRefused()
    {
        const string text = "-- id: F03\n-- stage: 2\n-- severity: error\n-- fields: id_number\n-- title.en: a\n-- title.zh: 甲\n-- fix.en: b\n-- fix.zh: 乙\n-- version: 1\nSELECT 1";

        var error = Assert.Throws<InvalidOperationException>(() => RuleCatalog.Parse("rules/F04.sql", text));

        Assert.Contains("must be named F03.sql", error.Message);
    }

    [Fact]
    public void AParsedRule_KeepsItsQueryWithoutTheHeader_AndStage1And2RulesInvalidateByDefault()
    {
        const string text = "-- id: F03\n-- stage: 2\n-- severity: error\n-- fields: id_number\n-- title.en: a\n-- title.zh: 甲\n-- fix.en: b\n-- fix.zh: 乙\n-- version: 2\n-- a note\nSELECT 1;\n";

        var rule = RuleCatalog.Parse("rules/F03.sql", text);

        Assert.Equal("SELECT 1", rule.Sql);
        Assert.Equal(2, rule.Version);
        Assert.True(rule.Invalidates);
        Assert.False(RuleCatalog.Parse("rules/F03.sql", text.Replace("-- version: 2", "-- version: 2\n-- invalidates: no")).Invalidates);
    }

    [Fact]
    public void TheRowRules_AreThoseThatJudgeEachRecordByItsOwnValues_OneFindingAtMost()
    {
        var rowRules = RuleCatalog.All.Where(r => r.Row is not null).Select(r => r.Id).ToList();

        Assert.Equal(
            new[] { "F01", "F02", "F03", "F04", "F06", "F07", "F09", "F11", "F12", "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10" },
            rowRules);
    }

    [Fact]
    public void ARowRule_IsCutIntoItsColumnsAndCondition_WithoutTheirNames()
    {
        var form = RowRules.TryParse("""
            SELECT c.record_id, NULL::text AS school_code, 'grade' AS field, c.grade_raw AS value,
                   'a, (b) -- not a comment' AS detail, CASE WHEN c.grade > 9 THEN 'error' END AS severity
            FROM   checked_record c
            WHERE  c.round_id = @round_id
              AND  c.grade > 12 -- (a comment with a parenthesis, FROM and WHERE)
              AND  c.name <> 'it''s'
            """);

        Assert.NotNull(form);
        Assert.Equal(new[] { "NULL::text", "'grade'", "c.grade_raw", "'a, (b) -- not a comment'", "CASE WHEN c.grade > 9 THEN 'error' END" }, form.Columns);
        Assert.StartsWith("c.grade > 12 -- (a comment", form.Condition);
        Assert.EndsWith("c.name <> 'it''s'", form.Condition);
    }

    [Fact]
    public void AnEscapedQuoteInAnEString_DoesNotEndIt()
    {
        var form = RowRules.TryParse("""
            SELECT c.record_id, NULL::text, 'f', c.x, E'it\'s (a, b' AS detail, NULL::text
            FROM   checked_record c
            WHERE  c.round_id = @round_id AND c.x <> E'\\'
            """);

        Assert.NotNull(form);
        Assert.Equal(@"E'it\'s (a, b'", form.Columns[3]);
        Assert.Equal(@"c.x <> E'\\'", form.Condition);
    }

    [Theory]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c JOIN reference.region r ON r.code = c.x WHERE c.round_id = @round_id AND r.code IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL GROUP BY 1, 2, 3, 4, 5, 6")]
    [InlineData("SELECT DISTINCT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_source c WHERE c.round_id = @round_id AND c.x IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @previous_round_id AND c.x IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL")]
    [InlineData("SELECT c.school_code, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL UNION ALL SELECT 1, NULL, NULL, NULL, NULL, NULL")]
    [InlineData("WITH a AS (SELECT 1) SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL OR c.y IS NULL")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x IS NULL /* ( */")]
    [InlineData("SELECT c.record_id, NULL::text, 'f', c.x, NULL::text, NULL::text FROM checked_record c WHERE c.round_id = @round_id AND c.x = $$a)$$")]
    public void AQueryThatIsMoreThanARecordsOwnCondition_IsNoRowRule(string sql)
    {
        Assert.Null(RowRules.TryParse(sql));
    }

    /// <summary>What a rule's help page lacks: why it matters, two wrong values with their right form, whether it may be explained.</summary>
    private static List<string> HelpGaps(Rule rule)
    {
        var gaps = new List<string>();
        if (rule.WhyEn is null || !Regex.IsMatch(rule.WhyEn, "[A-Za-z]"))
        {
            gaps.Add("why.en");
        }

        if (rule.WhyZh is null || !Regex.IsMatch(rule.WhyZh, @"\p{IsCJKUnifiedIdeographs}"))
        {
            gaps.Add("why.zh");
        }

        if (rule.Examples.Count < 2)
        {
            gaps.Add("example pairs: " + rule.Examples.Count);
        }

        gaps.AddRange(rule.Examples.Where(e => e.Wrong.Length == 0 || e.Right.Length == 0 || e.Wrong == e.Right || e.Wrong.Length > 200 || e.Right.Length > 200)
            .Select(e => $"example '{e.Wrong}' → '{e.Right}'"));
        if (rule.Explainable is null)
        {
            gaps.Add("explain");
        }

        return gaps;
    }

    [Fact]
    public void EveryRule_SaysWhyItMatters_GivesWrongValuesWithTheirRightForm_AndWhetherItMayBeExplained()
    {
        var gaps = RuleCatalog.All.Select(r => (r.Id, Gaps: HelpGaps(r))).Where(r => r.Gaps.Count > 0).Select(r => $"{r.Id}: {string.Join(", ", r.Gaps)}");

        Assert.Empty(gaps);
    }

    [Fact]
    public void ARuleFileWithoutWhyExamplesOrExplain_IsNamedByTheCheck()
    {
        const string text = "-- id: F03\n-- stage: 2\n-- severity: error\n-- fields: id_number\n-- title.en: a\n-- title.zh: 甲\n-- fix.en: b\n-- fix.zh: 乙\n-- version: 2\n"
            + "-- example.wrong: 230102201503040020\n-- example.right: 230102201503040023\nSELECT 1";

        var gaps = HelpGaps(RuleCatalog.Parse("rules/F03.sql", text));

        Assert.Equal(new[] { "why.en", "why.zh", "example pairs: 1", "explain" }, gaps);
    }

    [Fact]
    public void TheHelpLines_NeverReachTheQuery_SoEveryRulesShaIsThatOfItsFileWithoutThem()
    {
        var help = new Regex(@"^--\s*(why\.en|why\.zh|example\.wrong|example\.right|explain):");
        foreach (var path in SqlScripts.List("rules"))
        {
            var text = SqlScripts.Load(path);
            var lines = text.Split('\n');
            var without = string.Join('\n', lines.Where(l => !help.IsMatch(l)));

            var full = RuleCatalog.All.Single(r => r.Id == Path.GetFileNameWithoutExtension(path));
            var bare = RuleCatalog.Parse(path, without);

            Assert.True(lines.Length - without.Split('\n').Length >= 7, $"{path}: the help lines were not found to take out");
            Assert.Null(bare.WhyEn);
            Assert.Empty(bare.Examples);
            Assert.Equal(bare.Sql, full.Sql);
            Assert.Equal(bare.Sha256, full.Sha256);
        }
    }

    [Fact]
    public void EveryResidentIdInARightForm_PassesTheProjectsCheck_AndTheWrongIdsOfF03AndF04_FailTheirs()
    {
        var id = new Regex("(?<![0-9])[0-9]{17}[0-9X](?![0-9])");
        var right = RuleCatalog.All.SelectMany(r => r.Examples.SelectMany(e => id.Matches(e.Right)).Select(m => (r.Id, Number: m.Value))).ToList();

        Assert.NotEmpty(right);
        Assert.All(right, x => Assert.True(ResidentId.HasValidCheckCharacter(x.Number) && ResidentId.BirthDate(x.Number) is not null, $"{x.Id}: {x.Number}"));
        var f03 = RuleCatalog.All.Single(r => r.Id == "F03").Examples.Select(e => id.Match(e.Wrong).Value).ToList();
        Assert.All(f03, n => Assert.False(ResidentId.HasValidCheckCharacter(n), n));
        var f04 = RuleCatalog.All.Single(r => r.Id == "F04").Examples.Select(e => id.Match(e.Wrong).Value).ToList();
        Assert.All(f04, n => Assert.True(ResidentId.HasValidCheckCharacter(n) && ResidentId.BirthDate(n) is null, n));
    }

    [Fact]
    public void ARuleAboutAValueThatIsSimplyWrong_MayNotBeExplained_AnUnusualButRealSituation_May()
    {
        var explainable = RuleCatalog.All.ToDictionary(r => r.Id, r => r.Explainable);

        Assert.False(explainable["F03"]);
        Assert.False(explainable["F08"]);
        Assert.True(explainable["C04"]);
        Assert.True(explainable["A01"]);
        // An error that the school must fix is never explained away.
        Assert.All(RuleCatalog.All.Where(r => r.Stage <= RuleStage.Structure), r => Assert.False(r.Explainable, r.Id));
    }
}
