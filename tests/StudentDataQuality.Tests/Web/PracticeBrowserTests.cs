using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Data.Training;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Application;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// A trainee's practice round in a real browser: the round made by PracticeRounds, the portal served on the practice database
/// as `sdq web --practice` serves it (as sdq_app), a trainee's school account signs in, downloads, fixes, uploads, reads the
/// receipt and certifies; the trainer's progress shows it; the round is reset and the school is back at the start; and the
/// main database holds nothing of the practice round.
/// </summary>
public sealed class PracticeBrowserTests
{
    private const string MainRound = "2026-autumn";

    /// <summary>What the main database holds that a practice round could add to: counted per table.</summary>
    private static async Task<string> MainFootprintAsync(PracticeScenario practice) => await practice.MainScalarAsync<string>("""
        SELECT concat_ws(',', (SELECT count(*) FROM registry.round), (SELECT count(*) FROM reporting.quality_snapshot),
                              (SELECT count(*) FROM audit.event), (SELECT count(*) FROM export.file), (SELECT count(*) FROM exchange.sign_off),
                              (SELECT count(*) FROM access.account), (SELECT count(*) FROM exchange.worksheet_return))
        """);

    [Fact]
    public async Task ATrainee_DownloadsFixesUploadsAndCertifies_InAPracticeRound_WhichIsThenReset_AndTheMainDatabaseHoldsNothingOfIt()
    {
        // The main database holds a real round of its own, checked and in the managers' trends (a snapshot).
        await using var practice = await PracticeScenario.CreateAsync(schools: 6, trainees: 4, seedMain: async (main, folder) =>
        {
            var province = ProvinceGenerator.Generate(new GeneratorOptions
            {
                Schools = 3, Students = 90, Seed = 7, DefectRate = 0.08, OutputDirectory = Path.Combine(folder, "main-province"),
            });
            await new ExtractService(main, Microsoft.Extensions.Logging.Abstractions.NullLogger<ExtractService>.Instance).ExtractFilesAsync(
                new ExtractRequest(MainRound, "test") { RoundDate = new DateOnly(2026, 10, 15) }, [province.ExportDirectory], null);
            var checks = await new CheckRunner(main, Microsoft.Extensions.Logging.Abstractions.NullLogger<CheckRunner>.Instance).RunAsync(MainRound, "test");
            await new RoundRuns(main).TakeSnapshotAsync(checks.Round.RoundId, atClose: false, "test");
        });
        var mainBefore = await MainFootprintAsync(practice);
        using var temp = new TempFolder();
        _ = HangfireJobs.Storage(practice.Rounds.ConnectionString);
        await using var appDataSource = NpgsqlDataSource.Create(await TestDatabase.AppConnectionStringAsync(practice.Rounds.Database));
        var app = Portal.Build(new PortalSettings(appDataSource, HangfireJobs.Storage(await TestDatabase.AppConnectionStringAsync(practice.Rounds.Database), prepareSchema: false),
            IngestScenario.Key, "http://127.0.0.1:0")
        {
            Logging = new ConsoleErrors(), Exports = temp.Path, Worksheets = practice.Worksheets,
        });
        await app.StartAsync();
        string? certified = null;
        try
        {
            var site = new Uri(app.Urls.First());
            await using var chromium = await Chromium.LaunchAsync();
            var answers = RegistrarAnswers.Load(practice.Province.RegistrarAnswersPath);
            // Trainees in turn until one is left with nothing to fix after its return (as a diligent registrar fixes it).
            foreach (var account in practice.Made.Accounts.Where(a => a.Role == "school"))
            {
                var code = account.School!;
                var page = await chromium.NewPageAsync(site);
                await Authenticators.SignInFirstTimeInBrowserAsync(page, "/school", account.Name, account.Password);
                await page.GotoAsync("/school");
                // Every page of the practice round says so first, in both languages.
                Assert.Equal(Practice.Label, await page.Locator("#practice-banner strong").InnerTextAsync());
                Assert.StartsWith(Practice.Label, await page.TitleAsync(), StringComparison.Ordinal);
                var link = page.GetByRole(AriaRole.Link, new() { Name = "下载问题清单" });
                Assert.True(await link.CountAsync() == 1, page.Url + "\n" + await page.Locator("body").InnerTextAsync());
                var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "下载问题清单" }).ClickAsync());
                var downloaded = Path.Combine(temp.Path, $"{Guid.NewGuid():N}.xlsx");
                await download.SaveAsAsync(downloaded);
                var bytes = await File.ReadAllBytesAsync(downloaded);

                var edited = RegistrarSimulator.Edit(bytes, answers.GetValueOrDefault(code) ?? [], RegistrarStyle.Diligent, PracticeScenario.Seed);
                await page.Locator("input[type=file]").SetInputFilesAsync(new FilePayload
                {
                    Name = download.SuggestedFilename, MimeType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Buffer = edited.Workbook,
                });
                await page.GetByRole(AriaRole.Button, new() { Name = "上传" }).ClickAsync();
                await page.WaitForURLAsync("**/school/returns/*");
                Assert.Equal(Practice.Label, await page.Locator("#practice-banner strong").InnerTextAsync());
                // The receipt: a row per worksheet row it answered.
                var returnId = await practice.PracticeScalarAsync<long>(
                    "SELECT max(return_id) FROM exchange.worksheet_return WHERE school_code = @s AND received_by = @a", ("s", code), ("a", account.Name));
                Assert.Contains($"回执 #{returnId}", await page.Locator("h1").InnerTextAsync(), StringComparison.Ordinal);
                var rows = await practice.PracticeScalarAsync<long>(
                    "SELECT jsonb_array_length(receipt->'Rows')::bigint FROM exchange.worksheet_return WHERE return_id = @id", ("id", returnId));
                Assert.Equal(rows + 1, await page.Locator("table tr").CountAsync());

                await page.GotoAsync("/school");
                await page.GetByRole(AriaRole.Button, new() { Name = "确认本校数据" }).ClickAsync();
                await page.WaitForLoadStateAsync();
                if (await practice.PracticeScalarAsync<long>("SELECT count(*) FROM exchange.sign_off WHERE school_code = @s", ("s", code)) == 1)
                {
                    certified = code;
                    break;
                }

                await page.Context.CloseAsync();
            }

            Assert.NotNull(certified);
            // The trainer's progress: that trainee downloaded, returned and certified.
            var progress = (await practice.Rounds.ProgressAsync()).Single(p => p.Trainee.SchoolCode == certified);
            Assert.True(progress.Downloaded);
            Assert.True(progress.Returns >= 1);
            Assert.NotNull(progress.CertifiedAt);
            Assert.Equal(0, progress.OpenErrors);
        }
        finally
        {
            await app.DisposeAsync();
        }

        // Reset: the school is back at the start, not downloaded, not returned, not certified, its problems open again.
        var reset = await practice.Rounds.ResetAsync("test-trainer");
        var again = (await practice.Rounds.ProgressAsync()).Single(p => p.Trainee.SchoolCode == certified);
        Assert.False(again.Downloaded);
        Assert.Equal(0, again.Returns);
        Assert.Null(again.CertifiedAt);
        Assert.True(again.OpenErrors + again.OpenWarnings > 0);
        Assert.NotNull(reset.Info.ResetAt);

        // The main database holds nothing of it: its rounds, snapshots, audit log, exports, sign-offs and accounts are as they were.
        Assert.Equal(mainBefore, await MainFootprintAsync(practice));
        Assert.Equal(0L, await practice.MainScalarAsync<long>($"SELECT count(*) FROM registry.round WHERE code = '{reset.Info.RoundCode}'"));

        // And the managers' trends, as the main database's portal shows them, hold nothing of it (no banner either).
        var schools = (await practice.PracticeScalarAsync<string>("SELECT string_agg(DISTINCT school_name_raw, '|') FROM registry.school WHERE school_name_raw IS NOT NULL")).Split('|');
        await using var mainApp = NpgsqlDataSource.Create(await TestDatabase.AppConnectionStringAsync(practice.MainName));
        var main = Portal.Build(new PortalSettings(mainApp, HangfireJobs.Storage(practice.MainConnectionString), IngestScenario.Key, "http://127.0.0.1:0")
        {
            Logging = new ConsoleErrors(), Exports = temp.Path,
        });
        await main.StartAsync();
        try
        {
            using var manager = new PortalBrowser(new Uri(main.Urls.First()));
            await manager.SignInFirstTimeAsync("main-manager", await PortalBrowser.AccountAsync(practice.Main, "main-manager", AccountRole.Manager));
            var answer = await manager.GetAsync("/trends");
            Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
            var trends = await answer.Content.ReadAsStringAsync();
            Assert.DoesNotContain("practice-banner", trends, StringComparison.Ordinal);
            Assert.DoesNotContain(Practice.Label, trends, StringComparison.Ordinal);
            Assert.DoesNotContain(">" + reset.Info.RoundCode + "<", trends, StringComparison.Ordinal);
            Assert.DoesNotContain("\"" + reset.Info.RoundCode + "\"", trends, StringComparison.Ordinal);
            Assert.All(schools, name => Assert.DoesNotContain(name, trends, StringComparison.Ordinal));
            // …while its own round is there.
            Assert.Contains(MainRound, trends, StringComparison.Ordinal);
        }
        finally
        {
            await main.DisposeAsync();
        }
    }
}
