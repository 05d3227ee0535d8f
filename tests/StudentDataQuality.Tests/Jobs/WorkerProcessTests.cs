using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Jobs;

/// <summary>
/// Rounds run by separate `sdq worker` processes on one database, as a deployment runs them: several workers split the
/// work and do nothing twice; a worker killed with SIGKILL in the middle of the worksheet fan-out or of an ingest, and
/// PostgreSQL restarted in the middle of a round, still end in exactly the expected data once the jobs are retried.
/// Everything is asserted on the data, never on the logs.
/// </summary>
public sealed class WorkerProcessTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>One job at a time per worker, one school per worksheet job: many small jobs for the workers to share.</summary>
    private static readonly Dictionary<string, string> OneAtATime = new() { ["Worker:WorkerCount"] = "1", ["Worker:WorksheetBatch"] = "1" };

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task SeveralWorkers_SplitARound_AndDoNothingTwice(int count)
    {
        var code = $"split-{count}";
        var storage = HangfireJobs.Storage(db.ConnectionString);
        var workers = Enumerable.Range(0, count).Select(_ => WorkerProcess.Start(db.ConnectionString, _temp.Path, OneAtATime)).ToList();
        try
        {
            foreach (var worker in workers)
            {
                await worker.RegisteredAsync(storage);
            }

            var run = await StartRoundAsync(db.DataSource, storage, code, seed: count);
            run = await HangfireJobs.StageAsync(new RoundRuns(db.DataSource), code, RoundStage.Issued);
            await AssertIssuedOnceAsync(db.DataSource, run);
            var byWorker = await WorkersAsync(db.DataSource, run.RoundId);
            Assert.Equal(workers.Select(w => w.WorkerName).Order(), byWorker.Keys.Order());
            Assert.Equal(run.SchoolsTotal, byWorker.Values.Sum());
        }
        finally
        {
            foreach (var worker in workers)
            {
                Assert.Equal(0, await worker.StopAsync());
                worker.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AWorkerKilledOrStoppedInTheWorksheetFanOut_TheNextWorkerFinishesTheRound_EachSchoolIssuedOnce(bool kill)
    {
        var code = kill ? "killed-fan-out" : "stopped-fan-out";
        var storage = HangfireJobs.Storage(db.ConnectionString);
        using var first = WorkerProcess.Start(db.ConnectionString, _temp.Path, OneAtATime);
        await first.RegisteredAsync(storage);
        var run = await StartRoundAsync(db.DataSource, storage, code, seed: kill ? 5 : 8);
        var runs = new RoundRuns(db.DataSource);
        await HangfireJobs.EventuallyAsync(async () => (await runs.GetAsync(code))!.SchoolsDone >= 3, "three schools issued by the first worker");
        if (kill)
        {
            first.Kill();
        }
        else
        {
            // SIGTERM, as a service manager stops it: the job in flight finishes (or is cancelled and requeued), exit code 0.
            Assert.Equal(0, await first.StopAsync());
        }

        var atStop = (await runs.GetAsync(code))!;
        Assert.True(atStop.SchoolsDone < atStop.SchoolsTotal, $"the stop came before the end of the fan-out ({atStop.SchoolsDone}/{atStop.SchoolsTotal})");

        using var second = WorkerProcess.Start(db.ConnectionString, _temp.Path, OneAtATime);
        run = await HangfireJobs.StageAsync(runs, code, RoundStage.Issued);
        await AssertIssuedOnceAsync(db.DataSource, run);
        var byWorker = await WorkersAsync(db.DataSource, run.RoundId);
        Assert.True(byWorker.GetValueOrDefault(first.WorkerName) >= 3, "the first worker's schools stay done");
        Assert.True(byWorker.GetValueOrDefault(second.WorkerName) >= 1, "the second worker finished the round");
    }

    [Fact]
    public async Task AWorkerKilledInTheMiddleOfIngests_EveryReturnIsTakenExactlyOnce()
    {
        const string Code = "killed-ingest";
        var storage = HangfireJobs.Storage(db.ConnectionString);
        using var first = WorkerProcess.Start(db.ConnectionString, _temp.Path, OneAtATime);
        await first.RegisteredAsync(storage);
        var run = await StartRoundAsync(db.DataSource, storage, Code, seed: 6);
        run = await HangfireJobs.StageAsync(new RoundRuns(db.DataSource), Code, RoundStage.Issued);

        var returns = await ReturnsAsync(run);
        var client = new BackgroundJobClient(storage);
        var jobs = returns.Select(path => client.Enqueue<IngestJob>(j => j.RunAsync(path, null, CancellationToken.None))).ToList();
        await HangfireJobs.EventuallyAsync(async () => await CountAsync(db.DataSource, "SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", run.RoundId) >= 3,
            "three returns taken by the first worker");
        first.Kill();
        Assert.True(await CountAsync(db.DataSource, "SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", run.RoundId) < returns.Count,
            "the kill came before the last return");

        using var second = WorkerProcess.Start(db.ConnectionString, _temp.Path, OneAtATime);
        foreach (var job in jobs)
        {
            Assert.DoesNotContain("refused", await HangfireJobs.SucceededAsync(storage, job, 180), StringComparison.Ordinal);
        }

        await AssertReturnsTakenOnceAsync(db.DataSource, run.RoundId, returns.Count);
    }

    [Fact]
    public async Task PostgreSqlRestartedInTheMiddleOfARound_TheRoundCompletesWithTheExpectedData()
    {
        const string Code = "restarted";
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(_temp.Path, "cluster"), Database = "restart", Disposable = true });
        var connectionString = cluster.Start();
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await new Migrator().MigrateAsync(dataSource);
            var storage = HangfireJobs.Storage(connectionString);
            using var worker = WorkerProcess.Start(connectionString, _temp.Path, OneAtATime);
            await worker.RegisteredAsync(storage);
            var run = await StartRoundAsync(dataSource, storage, Code, seed: 7);
            var runs = new RoundRuns(dataSource);
            await HangfireJobs.EventuallyAsync(async () => (await runs.GetAsync(Code))!.SchoolsDone >= 3, "three schools issued before the restart");

            var atStop = (await runs.GetAsync(Code))!;
            cluster.Stop();
            Assert.True(atStop.SchoolsDone < atStop.SchoolsTotal, $"the restart came before the end of the fan-out ({atStop.SchoolsDone}/{atStop.SchoolsTotal})");
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(connectionString, cluster.Start());
            dataSource.Clear(); // the test's own pooled connections died with the server; the worker finds out by itself

            try
            {
                run = await HangfireJobs.StageAsync(runs, Code, RoundStage.Issued, 180);
            }
            catch (Xunit.Sdk.XunitException e)
            {
                throw new Xunit.Sdk.XunitException(e.Message + "\nThe worker's log:\n" + worker.Output);
            }
            await AssertIssuedOnceAsync(dataSource, run);
            Assert.Equal(0, await worker.StopAsync());
        }
        finally
        {
            cluster.Stop();
        }
    }

    [Fact]
    [Trait("Category", "Security")]
    public async Task TheJobsDashboard_AsksForASignIn_AdmitsTheDataTeamOnly_AndRefusesAnActionWithoutItsAntiforgeryToken()
    {
        const string teamPassword = "team-secret-2026", schoolPassword = "school-secret-2026";
        await AccountAsync("dash-team", AccountRole.DataTeam, null, teamPassword);
        await AccountAsync("dash-school", AccountRole.School, "2301990001", schoolPassword);
        var storage = HangfireJobs.Storage(db.ConnectionString);
        var port = FreePort();
        using var worker = WorkerProcess.Start(db.ConnectionString, _temp.Path, OneAtATime, "--dashboard", $"http://127.0.0.1:{port}");
        await worker.RegisteredAsync(storage);
        var site = new Uri($"http://127.0.0.1:{port}");

        // No session: sent to the sign-in page, never the dashboard; an action is refused outright.
        using (var anonymous = new PortalBrowser(site, "en"))
        {
            var page = await anonymous.GetAsync("/hangfire/recurring");
            Assert.Equal(System.Net.HttpStatusCode.Redirect, page.StatusCode);
            Assert.StartsWith("/login", page.Headers.Location!.OriginalString, StringComparison.Ordinal);
            Assert.DoesNotContain("reminders", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            var trigger = await anonymous.Http.PostAsync(new Uri(site, "/hangfire/recurring/trigger"),
                new FormUrlEncodedContent(new Dictionary<string, string> { ["jobs[]"] = "reminders" }));
            Assert.False(trigger.IsSuccessStatusCode, $"an anonymous action answered {trigger.StatusCode}");
        }

        // Its sign-in page in the reader's language (the portal's layout and resources), and its form refused without its token.
        foreach (var (language, htmlLang, title) in new[] { ("en", "en", "Jobs dashboard · Sign in"), ("zh-CN", "zh-CN", "作业面板 · 登录") })
        {
            using var reader = new PortalBrowser(site, language);
            var page = await reader.GetAsync("/login");
            var signInPage = System.Net.WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync());
            Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
            Assert.Contains($"<html lang=\"{htmlLang}\">", signInPage, StringComparison.Ordinal);
            Assert.Contains($"<h1>{title}</h1>", signInPage, StringComparison.Ordinal);
        }

        using (var forger = new PortalBrowser(site, "en"))
        {
            var tokenless = await forger.Http.PostAsync(new Uri(site, "/login"), new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["account"] = "dash-school", ["password"] = schoolPassword,
            }));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, tokenless.StatusCode);
            // The handler did not run: no sign-in of the account on record.
            Assert.Equal(0L, await db.ScalarAsync<long>(
                "SELECT count(*) FROM audit.event WHERE actor = 'dash-school' AND (action LIKE 'sign-in%' OR action = 'dashboard.refused')"));
        }

        // A school's account (right password): no dashboard, and the refusal is on record.
        using (var school = new PortalBrowser(site, "en"))
        {
            var signIn = await school.SignInAsync("dash-school", schoolPassword);
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, signIn.StatusCode);
            var page = await school.GetAsync("/hangfire/recurring");
            Assert.NotEqual(System.Net.HttpStatusCode.OK, page.StatusCode);
            Assert.DoesNotContain("reminders", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE actor = 'dash-school' AND action = 'dashboard.refused'") >= 1);
        }

        // The data team's second factor, as in the portal: without one set up, or with its password alone, no dashboard.
        using (var noFactor = new PortalBrowser(site, "en"))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await noFactor.SignInAsync("dash-team", teamPassword)).StatusCode);
        }

        var secret = StudentDataQuality.Web.SecondFactorCodes.NewSecret();
        var factors = new SecondFactors(db.DataSource);
        var codes = new StudentDataQuality.Web.SecondFactorCodes(Worksheets.IngestScenario.Key);
        var teamAccount = new Account("dash-team", AccountRole.DataTeam);
        Assert.True(await factors.StartEnrolmentAsync("dash-team", codes.Protect("dash-team", secret), codes.KeyId));
        Assert.True(await factors.FinishEnrolmentAsync(teamAccount, Authenticators.Step(DateTimeOffset.UtcNow) - 2, [], "test"));
        Authenticators.Remember(site, "dash-team", StudentDataQuality.Web.SecondFactorCodes.Base32(secret));
        using (var wrongCode = new PortalBrowser(site, "en"))
        {
            var now = Authenticators.Step(DateTimeOffset.UtcNow);
            var right = Enumerable.Range(-1, 3).Select(d => Authenticators.Code(secret, now + d)).ToHashSet();
            var wrong = Enumerable.Range(0, 10).Select(i => i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)).First(c => !right.Contains(c));
            var refused = await wrongCode.PostAsync("/login", "/login", new() { ["account"] = "dash-team", ["password"] = teamPassword, ["code"] = wrong });
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.NotEqual(System.Net.HttpStatusCode.OK, (await wrongCode.GetAsync("/hangfire/recurring")).StatusCode);
        }

        // The data team: the dashboard; an action without the page's antiforgery token is refused, with it done.
        using var team = new PortalBrowser(site, "en");
        var signedIn = await team.PostAsync("/login", "/login", new()
        {
            ["account"] = "dash-team", ["password"] = teamPassword, ["code"] = Authenticators.NextCode(site, "dash-team"),
        });
        Assert.Equal(System.Net.HttpStatusCode.Redirect, signedIn.StatusCode);
        var recurring = await team.GetAsync("/hangfire/recurring");
        Assert.Equal(System.Net.HttpStatusCode.OK, recurring.StatusCode);
        var html = await recurring.Content.ReadAsStringAsync();
        Assert.Contains("StudentDataQuality jobs", html, StringComparison.Ordinal);
        Assert.Contains("reminders", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Password", html, StringComparison.OrdinalIgnoreCase);
        var forged = await team.Http.PostAsync(new Uri(site, "/hangfire/recurring/trigger"),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["jobs[]"] = "reminders" }));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, forged.StatusCode);
        var header = System.Text.RegularExpressions.Regex.Match(html, "<meta name=\"csrf-header\" content=\"([^\"]+)\">");
        var token = System.Text.RegularExpressions.Regex.Match(html, "<meta name=\"csrf-token\" content=\"([^\"]+)\">");
        Assert.True(header.Success && token.Success, "the dashboard's page carries its antiforgery token");
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(site, "/hangfire/recurring/trigger"))
               {
                   Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["jobs[]"] = "reminders" }),
               })
        {
            request.Headers.Add(System.Net.WebUtility.HtmlDecode(header.Groups[1].Value), System.Net.WebUtility.HtmlDecode(token.Groups[1].Value));
            Assert.True((await team.Http.SendAsync(request)).IsSuccessStatusCode, "an action with the page's token is done");
        }

        // Signed out: the session ends on the worker, so a copy of its cookie opens nothing.
        var session = signedIn.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("sdq.worker.session=", StringComparison.Ordinal));
        using var copied = new PortalBrowser(site, "en");
        copied.Http.DefaultRequestHeaders.Add("Cookie", session);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await copied.GetAsync("/hangfire/recurring")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Redirect, (await team.PostAsync("/account", "/logout", new())).StatusCode);
        Assert.NotEqual(System.Net.HttpStatusCode.OK, (await copied.GetAsync("/hangfire/recurring")).StatusCode);

        // Requests from another machine are refused before anything else, as the worker installs its filters.
        var options = StudentDataQuality.Web.WorkerDashboard.Options(db.DataSource, localOnly: true);
        await using var requestServices = new ServiceCollection().BuildServiceProvider();
        var remote = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = requestServices };
        remote.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("203.0.113.5");
        remote.Connection.LocalIpAddress = System.Net.IPAddress.Parse("192.0.2.10");
        remote.User = StudentDataQuality.Web.WorkerDashboard.Principal(new Account("dash-team", AccountRole.DataTeam), "stamp");
        Assert.Contains(options.Authorization, filter => !filter.Authorize(new Hangfire.Dashboard.AspNetCoreDashboardContext(storage, options, remote)));
        Assert.Equal(0, await worker.StopAsync());
    }

    /// <summary>An account with a password it chose (no one-time password to change first).</summary>
    private async Task AccountAsync(string name, AccountRole role, string? school, string password)
    {
        await new AccountStore(db.DataSource).AddAsync(new Account(name, role, school), "test");
        await new SignIns(db.DataSource).SetPasswordAsync(name, StudentDataQuality.Web.Passwords.Hash(name, password), oneTime: false, "test");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A province of 40 schools, extracted, checked and issued through the workers: starts the round (client only).</summary>
    private async Task<RoundRun> StartRoundAsync(NpgsqlDataSource dataSource, JobStorage storage, string code, int seed)
    {
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 4_000, Schools = 40, Seed = seed, DefectRate = 0.05, OutputDirectory = Path.Combine(_temp.Path, code, "province"),
        });
        await using var services = HangfireJobs.Services(dataSource, storage, new JobSettings { Reports = Path.Combine(_temp.Path, code, "reports") });
        return await services.GetRequiredService<RoundLauncher>().StartAsync(
            new RoundStart(code, new DateOnly(2026, 10, 15), [province.ExportDirectory], Path.Combine(_temp.Path, code, "worksheets")), "test");
    }

    /// <summary>Every school with open problems issued exactly once: one worksheet, one file, one audit entry, one check, one extract per file.</summary>
    private static async Task AssertIssuedOnceAsync(NpgsqlDataSource dataSource, RoundRun run)
    {
        var schools = await CountAsync(dataSource, """
            SELECT count(DISTINCT school_code) FROM quality.finding
            WHERE round_id = @r AND status = 'open' AND record_id IS NOT NULL AND school_code IS NOT NULL
            """, run.RoundId);
        Assert.True(schools >= 20, $"only {schools} schools have problems");
        Assert.Equal(schools, run.SchoolsTotal);
        Assert.Equal(schools, run.SchoolsDone);
        Assert.Equal(schools, await CountAsync(dataSource, "SELECT count(*) FROM exchange.worksheet WHERE round_id = @r", run.RoundId));
        Assert.Equal(schools, await CountAsync(dataSource, "SELECT count(DISTINCT school_code) FROM exchange.worksheet WHERE round_id = @r AND issue_no = 1", run.RoundId));
        Assert.Equal(schools, await CountAsync(dataSource, "SELECT count(*) FROM audit.event WHERE action = 'worksheet.issue' AND round_id = @r", run.RoundId));
        Assert.Equal(1, await CountAsync(dataSource, "SELECT count(*) FROM quality.check_run WHERE round_id = @r AND scope = 'full'", run.RoundId));
        Assert.Equal(await CountAsync(dataSource, "SELECT count(DISTINCT sha256) FROM staging.source_file WHERE round_id = @r", run.RoundId),
            await CountAsync(dataSource, "SELECT count(*) FROM staging.source_file WHERE round_id = @r", run.RoundId));
        var files = Directory.GetFiles(run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories);
        Assert.Equal(schools, files.Length);
        Assert.Empty(Directory.GetFiles(run.OutputDirectory, "*.partial", SearchOption.AllDirectories));
        await using var command = dataSource.CreateCommand("SELECT file_name, sha256 FROM exchange.worksheet WHERE round_id = @r");
        command.Parameters.AddWithValue("r", run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var byName = files.ToDictionary(f => Path.GetFileName(f), f => f);
        while (await reader.ReadAsync())
        {
            var bytes = await File.ReadAllBytesAsync(byName[reader.GetString(0)]);
            Assert.Equal(reader.GetString(1), Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant());
        }
    }

    /// <summary>Each return once, with one audit entry, its corrections and versions once (no record versioned twice by one return).</summary>
    private static async Task AssertReturnsTakenOnceAsync(NpgsqlDataSource dataSource, int roundId, int files)
    {
        Assert.Equal(files, await CountAsync(dataSource, "SELECT count(*) FROM exchange.worksheet_return WHERE round_id = @r", roundId));
        Assert.Equal(files, await CountAsync(dataSource, "SELECT count(*) FROM audit.event WHERE action = 'worksheet.return' AND round_id = @r", roundId));
        Assert.Equal(0, await CountAsync(dataSource, """
            SELECT count(*) FROM (SELECT record_id, return_id FROM registry.record_version
                                  WHERE round_id = @r AND return_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) twice
            """, roundId));
        Assert.Equal(0, await CountAsync(dataSource, """
            SELECT count(*) FROM exchange.worksheet_return t
            WHERE  t.round_id = @r
              AND  (SELECT count(*) FROM exchange.correction c WHERE c.return_id = t.return_id AND c.kind = 'value')
                   <> (SELECT count(*) FROM jsonb_array_elements(t.receipt->'Rows') row, jsonb_array_elements(row->'Changes') change)
            """, roundId));
        Assert.True(await CountAsync(dataSource, "SELECT count(*) FROM exchange.correction WHERE round_id = @r", roundId) > files, "the returns corrected values");
    }

    /// <summary>A diligent registrar's answer to every issued worksheet of the round, written beside them.</summary>
    private async Task<List<string>> ReturnsAsync(RoundRun run)
    {
        var province = Path.Combine(_temp.Path, run.RoundCode, "province");
        var answers = RegistrarAnswers.Load(Path.Combine(province, "registrar_answers.csv"));
        var folder = Directory.CreateDirectory(Path.Combine(_temp.Path, run.RoundCode, "returns")).FullName;
        var paths = new List<string>();
        await using var command = db.DataSource.CreateCommand("SELECT school_code, file_name FROM exchange.worksheet WHERE round_id = @r ORDER BY 1");
        command.Parameters.AddWithValue("r", run.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        var issued = Directory.GetFiles(run.OutputDirectory, "*.xlsx", SearchOption.AllDirectories).ToDictionary(f => Path.GetFileName(f), f => f);
        while (await reader.ReadAsync())
        {
            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(issued[reader.GetString(1)]), answers.GetValueOrDefault(reader.GetString(0)) ?? [],
                RegistrarStyle.Diligent, 6);
            var path = Path.Combine(folder, reader.GetString(1));
            await File.WriteAllBytesAsync(path, edited.Workbook);
            paths.Add(path);
        }

        return paths;
    }

    private static async Task<Dictionary<string, int>> WorkersAsync(NpgsqlDataSource dataSource, int roundId)
    {
        await using var command = dataSource.CreateCommand("SELECT worker, count(*)::int FROM registry.round_school_task WHERE round_id = @r GROUP BY 1");
        command.Parameters.AddWithValue("r", roundId);
        await using var reader = await command.ExecuteReaderAsync();
        var counts = new Dictionary<string, int>();
        while (await reader.ReadAsync())
        {
            counts[reader.GetString(0)] = reader.GetInt32(1);
        }

        return counts;
    }

    private static async Task<int> CountAsync(NpgsqlDataSource dataSource, string sql, int roundId)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("r", roundId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
