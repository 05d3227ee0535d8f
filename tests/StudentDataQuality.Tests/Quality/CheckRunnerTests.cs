using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Quality;

/// <summary>How a check run behaves around its rules: a broken rule is named, and nothing of the run is kept.</summary>
public sealed class CheckRunnerTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Run_NamesTheRuleThatFailed_AndKeepsNothing_WhenItRanWithTheOtherRowRulesOfItsPhase()
    {
        SampleExport.WriteCsv(_temp.Path, "schools.csv", [SampleExport.ChineseHeaders(Records.Layouts.School), RuleHarness.PrimarySchool]);
        SampleExport.WriteCsv(_temp.Path, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student()]);
        await new ExtractService(db.DataSource).ExtractFilesAsync(new ExtractRequest("broken", "test") { RoundDate = new DateOnly(2026, 10, 15) }, [_temp.Path]);
        var good = RuleCatalog.All.Single(r => r.Id == "F01");
        // A rule whose query fails only when it runs (a division by zero on every record), a row rule of F01's stage: the
        // two run as one query, and the runner finds which of them failed.
        var broken = RuleCatalog.Parse("rules/Z99.sql", """
            -- id: Z99
            -- stage: 2
            -- severity: error
            -- fields: grade
            -- title.en: Broken
            -- title.zh: 损坏
            -- fix.en: None
            -- fix.zh: 无
            -- version: 1
            SELECT c.record_id, NULL::text AS school_code, 'grade' AS field, (1 / (c.grade - c.grade))::text AS value, NULL::text AS detail,
                   NULL::text AS severity
            FROM   checked_record c
            WHERE  c.round_id = @round_id
              AND  c.grade IS NOT NULL
            """);
        var before = await db.StateCountsAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new CheckRunner(db.DataSource).RunAsync("broken", "test", [good, broken]));

        Assert.NotNull(broken.Row);
        Assert.StartsWith("Rule Z99 failed: division by zero", error.Message);
        Assert.Equal(before, await db.StateCountsAsync());
        Assert.Equal(0L, (long)(await db.DataSource.CreateCommand("SELECT count(*) FROM quality.rule WHERE rule_id = 'Z99'").ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task AWholeRoundRun_AnalysesARoundThatWasNeverAnalysed()
    {
        SampleExport.WriteCsv(_temp.Path, "schools.csv", [SampleExport.ChineseHeaders(Records.Layouts.School), RuleHarness.PrimarySchool]);
        SampleExport.WriteCsv(_temp.Path, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student()]);
        var round = (await new ExtractService(db.DataSource).ExtractFilesAsync(
            new ExtractRequest("analysed", "test") { RoundDate = new DateOnly(2026, 10, 15) }, [_temp.Path])).Round;
        const string Statistics = "SELECT count(*) FROM pg_stats WHERE schemaname = 'registry' AND tablename = @table AND attname = 'school_code'";
        var table = $"record_version_r{round.RoundId}";

        await new CheckRunner(db.DataSource).RunAsync("analysed", "test");

        // Staging leaves statistics to the checks: a partition never analysed is stale whatever pg_stat_user_tables says.
        await using var count = db.DataSource.CreateCommand(Statistics);
        count.Parameters.AddWithValue("table", table);
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task TwoChecks_InOneTransaction_BothRun()
    {
        SampleExport.WriteCsv(_temp.Path, "schools.csv", [SampleExport.ChineseHeaders(Records.Layouts.School), RuleHarness.PrimarySchool]);
        SampleExport.WriteCsv(_temp.Path, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student(("name", "张3"))]);
        await new ExtractService(db.DataSource).ExtractFilesAsync(new ExtractRequest("twice", "test") { RoundDate = new DateOnly(2026, 10, 15) }, [_temp.Path]);
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var round = (await RoundStore.FindAsync(connection, "twice"))!;
        var runner = new CheckRunner(db.DataSource);

        var full = await runner.RunAsync(connection, round, CheckScope.Round, "test", null, CancellationToken.None);
        await using var ids = new Npgsql.NpgsqlCommand("SELECT record_id FROM registry.current_record WHERE round_id = @r", connection);
        ids.Parameters.AddWithValue("r", round.RoundId);
        var record = (long)(await ids.ExecuteScalarAsync())!;
        var again = await runner.RunAsync(connection, round, CheckScope.Records([record]), "test", null, CancellationToken.None);
        await transaction.CommitAsync();

        Assert.Equal(1, full.FindingsByRule["F10"]);
        Assert.Equal(1, again.FindingsByRule["F10"]);
    }
}
