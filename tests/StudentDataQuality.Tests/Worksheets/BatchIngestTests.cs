using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// Returns taken in batches (issue: returns at province scale): each file applied under its own savepoint, the records
/// the batch changed re-checked once. A batch's re-check must equal a full re-run of the round; a failure of one file
/// takes nothing of it and leaves the others of its batch taken; the batcher closes a batch by count or by time.
/// </summary>
public sealed class BatchIngestTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private const int Seed = 9;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Every school's simulated return (fix all, half, new mistakes; none for those who send nothing).</summary>
    private static List<ReturnedFile> Returns(IngestScenario scenario, int seed = Seed)
    {
        var answers = RegistrarAnswers.Load(scenario.Province.RegistrarAnswersPath);
        var returns = new List<ReturnedFile>();
        foreach (var file in scenario.Files)
        {
            var style = RegistrarSimulator.StyleFor(file.SchoolCode, seed, (0.4, 0.25, 0.25, 0.1));
            if (style == RegistrarStyle.Leaves)
            {
                continue;
            }

            var simulated = RegistrarSimulator.Edit(scenario.Issued(file), answers.GetValueOrDefault(file.SchoolCode) ?? [], style, seed);
            returns.Add(new ReturnedFile(simulated.Workbook, Path.GetFileName(file.RelativePath), IngestScenario.AccountOf(file.SchoolCode)));
        }

        return returns;
    }

    [Fact]
    public async Task RandomBatches_EachReCheckedOnce_EqualAFullRerunAfterEveryBatch()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "batch-prop", students: 3_000, schools: 30);
        var returns = Returns(scenario);
        var random = new Random(20261207);
        var ingest = scenario.Ingest();
        var runner = new CheckRunner(db.DataSource);
        var batches = 0;
        var changedBatches = 0;
        for (var taken = 0; taken < returns.Count; batches++)
        {
            var batch = returns.Skip(taken).Take(random.Next(1, 9)).ToList();
            taken += batch.Count;
            var before = await CurrentFindings.ReadAsync(scenario.DataSource, scenario.Round);
            var runsBefore = await RunsAsync(scenario);

            var outcomes = await ingest.IngestBatchAsync(batch);

            Assert.All(outcomes, o => Assert.True(o.Result is { AlreadyIngested: false }, $"{o.File.FileName}: {o.Refusal?.Message}{o.Failure}"));
            var changed = outcomes.Any(o => o.Result!.CheckRunId is not null);
            // One re-check for the whole batch, whoever sent what.
            Assert.Equal(changed ? 1 : 0, await RunsAsync(scenario) - runsBefore);
            Assert.Single(outcomes.Select(o => o.Result!.CheckRunId).OfType<long>().Distinct().DefaultIfEmpty(0));
            var afterBatch = await CurrentFindings.ReadAsync(scenario.DataSource, scenario.Round);
            await runner.RunAsync(scenario.Round, "test");
            var afterFull = await CurrentFindings.ReadAsync(scenario.DataSource, scenario.Round);
            Assert.True(afterBatch.SetEquals(afterFull),
                $"batch {batches} ({string.Join(", ", batch.Select(f => f.FileName))}): only after the batch's re-check " +
                $"[{string.Join("; ", afterBatch.Except(afterFull).Take(5))}], only after the full run [{string.Join("; ", afterFull.Except(afterBatch).Take(5))}]");
            if (!before.SetEquals(afterFull))
            {
                changedBatches++;
            }
        }

        Assert.True(batches >= 5, $"only {batches} batches");
        Assert.True(changedBatches >= batches / 2, $"only {changedBatches} of {batches} batches changed the findings");
    }

    [Fact]
    public async Task AFailureInTheMiddleOfABatch_TakesNothingOfThatFile_TheOthersAreTaken_AndTheFileIsTakenOnceWhenSentAgain()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "batch-fail");
        var batch = Returns(scenario).Take(5).ToList();
        Assert.Equal(5, batch.Count);
        var versions = 0;
        // The machine fails while the third file of the batch writes its versions.
        var failing = scenario.Ingest(step =>
        {
            if (step == "versions" && ++versions == 3)
            {
                throw new IOException("the disk went away");
            }
        });

        var outcomes = await failing.IngestBatchAsync(batch);

        var failed = Assert.Single(outcomes, o => o.Failure is not null);
        Assert.IsType<IOException>(failed.Failure);
        Assert.Equal(4, outcomes.Count(o => o.Result is { AlreadyIngested: false }));
        Assert.Equal(4L, await ReturnsOfAsync(scenario, outcomes.Where(o => o.Result is not null).Select(o => o.File.Sha256).ToArray()));
        Assert.Equal(0L, await ReturnsOfAsync(scenario, failed.File.Sha256));
        Assert.Equal(0L, await scenario.ScalarAsync<long>("""
            SELECT count(*) FROM audit.event WHERE action = 'worksheet.return' AND details->>'sha256' = @sha
            """, ("sha", failed.File.Sha256)));
        // The failure is on record (nothing of the file was kept).
        Assert.Equal(1L, await scenario.ScalarAsync<long>("""
            SELECT count(*) FROM audit.event WHERE action = 'worksheet.return.failed' AND details->>'sha256' = @sha AND details->>'error' = 'IOException'
            """, ("sha", failed.File.Sha256)));

        // Sent again (with a copy of a file already taken): the failed file is taken once, the copy gets its earlier receipt.
        var again = await scenario.Ingest().IngestBatchAsync([failed.File, batch.First(f => f != failed.File)]);

        Assert.False(again[0].Result!.AlreadyIngested);
        Assert.True(again[1].Result!.AlreadyIngested);
        Assert.Equal(1L, await ReturnsOfAsync(scenario, failed.File.Sha256));
        Assert.Equal(5L, await RoundReturnsAsync(scenario));
    }

    [Fact]
    public async Task AFailureOfTheBatchsReCheck_LeavesNothingOfAnyFile_AndTheBatchGoesInWholeAfterwards()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "batch-recheck");
        var batch = Returns(scenario).Take(4).ToList();
        var before = await scenario.StateAsync();

        var outcomes = await scenario.Ingest(step =>
        {
            if (step == "recheck")
            {
                throw new IOException("the database went away");
            }
        }).IngestBatchAsync(batch);

        Assert.All(outcomes, o => Assert.IsType<IOException>(o.Failure));
        Assert.Equal(before, await scenario.StateAsync());
        var again = await scenario.Ingest().IngestBatchAsync(batch);
        Assert.All(again, o => Assert.False(o.Result!.AlreadyIngested));
    }

    [Fact]
    public async Task TheSameFileTwiceInABatch_IsTakenOnce_AndAnotherSchoolsFileInIt_IsRefusedAlone()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "batch-same");
        var returns = Returns(scenario).Take(2).ToList();
        var stranger = returns[1] with { Uploader = IngestScenario.AccountOf(returns[0].Uploader.SchoolCode!) };

        var outcomes = await scenario.Ingest().IngestBatchAsync([returns[0], stranger, returns[0]]);

        Assert.False(outcomes[0].Result!.AlreadyIngested);
        Assert.Equal(WorksheetRejection.OtherSchool, outcomes[1].Refusal!.Code);
        Assert.True(outcomes[2].Result!.AlreadyIngested);
        Assert.Equal(outcomes[0].Result!.Receipt.ReturnId, outcomes[2].Result!.Receipt.ReturnId);
        Assert.Equal(1L, await RoundReturnsAsync(scenario));
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'worksheet.return.refused' AND details->>'code' = 'OtherSchool' AND details->>'sha256' = @sha",
            ("sha", stranger.Sha256)));
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'worksheet.return.repeat' AND details->>'sha256' = @sha", ("sha", returns[0].Sha256)));
    }

    [Fact]
    public async Task ABatchHoldingReturnsOfTwoOpenRounds_TakesThemAll_EachRoundReCheckedOnce()
    {
        var autumn = await IngestScenario.CreateAsync(db.DataSource, Path.Combine(_temp.Path, "autumn"), "batch-autumn", seed: 23);
        var spring = await IngestScenario.CreateAsync(db.DataSource, Path.Combine(_temp.Path, "spring"), "batch-spring", seed: 24);
        var autumnRuns = await RunsAsync(autumn);
        var springRuns = await RunsAsync(spring);
        var batch = Returns(autumn).Take(3).Concat(Returns(spring).Take(3)).ToList();

        var outcomes = await autumn.Ingest().IngestBatchAsync(batch);

        Assert.All(outcomes, o => Assert.True(o.Result is { AlreadyIngested: false }, $"{o.File.FileName}: {o.Refusal?.Message}{o.Failure}"));
        Assert.Equal((1, 1), ((int)(await RunsAsync(autumn) - autumnRuns), (int)(await RunsAsync(spring) - springRuns)));
        Assert.Equal((3L, 3L), (await RoundReturnsAsync(autumn), await RoundReturnsAsync(spring)));
    }

    [Fact]
    public async Task TheBatcher_TakesFilesHandedOverTogether_InOneBatch_AndALoneFileAfterItsWait()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "batch-batcher");
        var returns = Returns(scenario).Take(7).ToList();
        var runsBefore = await RunsAsync(scenario);
        await using var batcher = new ReturnBatcher(scenario.Ingest(), new ReturnBatching { MaxFiles = 6, MaxWaitMs = 5_000, Concurrency = 1 });

        var six = await batcher.SubmitAllAsync(returns.Take(6));

        Assert.All(six, o => Assert.False(o.Result!.AlreadyIngested));
        Assert.Equal(1, await RunsAsync(scenario) - runsBefore);
        // A lone file waits for company no longer than the batch's time (5 s here), then goes alone.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var lone = await batcher.SubmitAsync(returns[6]);
        Assert.False(lone.Result!.AlreadyIngested);
        Assert.InRange(watch.ElapsedMilliseconds, 4_500, 60_000);
        Assert.Equal(2, await RunsAsync(scenario) - runsBefore);
    }

    [Fact]
    public void BatchSettings_ComeFromConfiguration_WithDefaults_AndABadValueIsNamed()
    {
        var settings = new Dictionary<string, string?> { ["Returns:BatchFiles"] = "12", ["Returns:BatchWaitMs"] = "" };

        var batching = ReturnBatching.From(key => settings.GetValueOrDefault(key));

        Assert.Equal((12, ReturnBatching.Default.MaxWaitMs, ReturnBatching.Default.Concurrency), (batching.MaxFiles, batching.MaxWaitMs, batching.Concurrency));
        settings["Returns:BatchConcurrency"] = "two";
        var error = Assert.Throws<ArgumentException>(() => ReturnBatching.From(key => settings.GetValueOrDefault(key)));
        Assert.Contains("Returns:BatchConcurrency", error.Message, StringComparison.Ordinal);
    }

    private static Task<long> RunsAsync(IngestScenario scenario) =>
        scenario.ScalarAsync<long>("SELECT count(*) FROM quality.check_run c JOIN registry.round r USING (round_id) WHERE r.code = @round AND c.scope = 'records'",
            ("round", scenario.Round));

    private static Task<long> RoundReturnsAsync(IngestScenario scenario) =>
        scenario.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return t JOIN registry.round r USING (round_id) WHERE r.code = @round",
            ("round", scenario.Round));

    private static Task<long> ReturnsOfAsync(IngestScenario scenario, params string[] sha256) =>
        scenario.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE sha256 = ANY(@sha)", ("sha", sha256));
}
