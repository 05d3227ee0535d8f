using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;
using Xunit.Abstractions;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// 200 schools upload their corrected worksheets to the portal at the same moment, on loopback: every upload gets its own
/// receipt, each return is taken once and whole, and nothing is lost. The latencies (p50, p95, max) are written to the
/// test output; they are reported, not asserted (timings belong to benchmarks).
/// </summary>
public sealed class UploadLoadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Schools = 200;
    private readonly DatabaseFixture _db = new();
    private readonly TempFolder _temp = new();

    public Task InitializeAsync() => _db.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task TwoHundredSchools_UploadAtOnce_EveryReceiptIsRight_AndNothingIsLost()
    {
        using var bounded = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 8_000, Schools = Schools, Seed = 47, DefectRate = 0.2, OutputDirectory = Path.Combine(_temp.Path, "province"),
        });
        var storage = HangfireJobs.Storage(_db.ConnectionString);
        RoundRun run;
        await using (var services = HangfireJobs.Services(_db.DataSource, storage, new JobSettings { Reports = _temp.Path }))
        using (HangfireJobs.Server(services, storage))
        {
            await services.GetRequiredService<RoundLauncher>().StartAsync(
                new RoundStart("load", new DateOnly(2026, 10, 15), [province.ExportDirectory], Path.Combine(_temp.Path, "worksheets")), "test");
            run = await HangfireJobs.StageAsync(services.GetRequiredService<RoundRuns>(), "load", RoundStage.Issued);
        }

        // Every school with a worksheet, its account (one password hash for all: the hasher salts per hash, not per account) and its answer.
        var answers = RegistrarAnswers.Load(province.RegistrarAnswersPath);
        var files = Directory.EnumerateFiles(run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories).ToList();
        var schools = new List<(string Code, string Account, string FileName, byte[] Edited)>();
        foreach (var file in files.Order(StringComparer.Ordinal).Take(Schools))
        {
            var code = await _db.ScalarAsync<string>("SELECT school_code FROM exchange.worksheet WHERE file_name = @f", ("f", Path.GetFileName(file)));
            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(file), answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, 47);
            schools.Add((code, "school-" + code, Path.GetFileName(file), edited.Workbook));
        }

        Assert.Equal(Schools, schools.Count);
        var hash = Passwords.Hash("any", "load-test-password");
        var signIns = new SignIns(_db.DataSource);
        var accounts = new AccountStore(_db.DataSource);
        foreach (var school in schools)
        {
            await accounts.AddAsync(new Account(school.Account, AccountRole.School, school.Code), "test");
            await signIns.SetPasswordAsync(school.Account, hash, oneTime: false, "test");
        }

        await using var app = Portal.Build(new PortalSettings(await _db.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(_db), IngestScenario.Key,
            "http://127.0.0.1:0") { Logging = new ConsoleErrors(), KnownProxies = ["127.0.0.1"] });
        await app.StartAsync(bounded.Token);
        var site = new Uri(app.Urls.First());
        // Each school from its own network, as a TLS proxy in front of the portal forwards them (the rate limits are per address).
        var browsers = schools.Select(_ => new PortalBrowser(site)).ToList();
        for (var i = 0; i < browsers.Count; i++)
        {
            browsers[i].Http.DefaultRequestHeaders.Add("X-Forwarded-For", $"10.{i / 250}.{i % 250}.1");
        }
        try
        {
            await Task.WhenAll(schools.Select((s, i) => SignInAsync(browsers[i], s.Account)));
            var auditBefore = await _db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'worksheet.return'");

            // All at once: each browser has its page (and token) open, then every upload is sent together.
            var tokens = await Task.WhenAll(browsers.Select(b => b.FormTokenAsync("/school")));
            var start = new TaskCompletionSource();
            var uploads = schools.Select(async (s, i) =>
            {
                await start.Task;
                var watch = Stopwatch.StartNew();
                var answer = await browsers[i].UploadWithTokenAsync("/school/returns", tokens[i], s.FileName, s.Edited, bounded.Token);
                // Answered "received, being checked" when its batch takes longer: that page fills in with the receipt.
                var waited = answer.StatusCode == HttpStatusCode.Redirect
                             && answer.Headers.Location!.OriginalString.StartsWith("/school/uploads/", StringComparison.Ordinal);
                while (answer.StatusCode == HttpStatusCode.Redirect && answer.Headers.Location!.OriginalString.StartsWith("/school/uploads/", StringComparison.Ordinal))
                {
                    var page = await browsers[i].GetAsync(answer.Headers.Location!.OriginalString);
                    if (page.StatusCode != HttpStatusCode.OK)
                    {
                        answer = page;
                        continue;
                    }

                    Assert.Equal("3", Assert.Single(page.Headers.GetValues("Refresh")));
                    await Task.Delay(200, bounded.Token);
                }

                return (School: s, Answer: answer, Elapsed: watch.Elapsed, Waited: waited);
            }).ToList();
            var wall = Stopwatch.StartNew();
            start.SetResult();
            var results = await Task.WhenAll(uploads);
            wall.Stop();

            foreach (var (school, answer, _, _) in results)
            {
                Assert.True(answer.StatusCode == HttpStatusCode.Redirect, $"{school.Code}: {answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
                var returnId = long.Parse(answer.Headers.Location!.OriginalString["/school/returns/".Length..], CultureInfo.InvariantCulture);
                Assert.Equal(school.Code, await _db.ScalarAsync<string>("SELECT school_code FROM exchange.worksheet_return WHERE return_id = @id", ("id", returnId)));
                Assert.Equal(school.Account, await _db.ScalarAsync<string>("SELECT received_by FROM exchange.worksheet_return WHERE return_id = @id", ("id", returnId)));
            }

            // One return per school, each with its own receipt; every change on a receipt is a correction, and no record was versioned twice by one return.
            Assert.Equal((long)schools.Count, await _db.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", ("r", run.RoundId)));
            Assert.Equal((long)schools.Count, await _db.ScalarAsync<long>("SELECT count(DISTINCT school_code) FROM exchange.worksheet_return WHERE round_id = @r", ("r", run.RoundId)));
            Assert.Equal(schools.Count, results.Select(r => r.Answer.Headers.Location!.OriginalString).Distinct().Count());
            Assert.Equal(0L, await _db.ScalarAsync<long>("""
                SELECT count(*) FROM exchange.worksheet_return t
                WHERE  t.round_id = @r
                  AND  (SELECT count(*) FROM exchange.correction c WHERE c.return_id = t.return_id AND c.kind = 'value')
                       <> (SELECT count(*) FROM jsonb_array_elements(t.receipt->'Rows') row, jsonb_array_elements(row->'Changes') change)
                """, ("r", run.RoundId)));
            Assert.Equal(0L, await _db.ScalarAsync<long>("""
                SELECT count(*) FROM (SELECT return_id, record_id FROM registry.record_version WHERE round_id = @r AND return_id IS NOT NULL
                                      GROUP BY return_id, record_id HAVING count(*) > 1) twice
                """, ("r", run.RoundId)));
            Assert.Equal(auditBefore + schools.Count, await _db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'worksheet.return'"));
            Assert.True(await _db.ScalarAsync<long>("SELECT count(*) FROM exchange.correction WHERE round_id = @r", ("r", run.RoundId)) > schools.Count,
                "the diligent returns changed next to nothing");

            var rechecks = await _db.ScalarAsync<long>("SELECT count(DISTINCT check_run_id) FROM exchange.worksheet_return WHERE round_id = @r", ("r", run.RoundId));
            var sorted = results.Select(r => r.Elapsed.TotalMilliseconds).Order().ToList();
            double Percentile(double p) => sorted[(int)Math.Ceiling(p * sorted.Count) - 1];
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{schools.Count} uploads at once on loopback: all taken in {wall.Elapsed.TotalSeconds:0.0} s; upload to receipt p50 {Percentile(0.5) / 1000:0.00} s, p95 {Percentile(0.95) / 1000:0.00} s, max {sorted[^1] / 1000:0.00} s; {results.Count(r => r.Waited)} answered \"received, being checked\" first (after 3 s); {rechecks} re-checks ({Environment.ProcessorCount} cores)"));
        }
        finally
        {
            browsers.ForEach(b => b.Dispose());
        }
    }

    private static async Task SignInAsync(PortalBrowser browser, string account)
    {
        var answer = await browser.SignInAsync(account, "load-test-password");
        Assert.Equal("/", answer.Headers.Location?.OriginalString);
    }
}
