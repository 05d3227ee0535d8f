using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Web;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// One database, one round ("portal", 12 schools) run by the jobs to issued, and the portal on it, for the tests of a
/// class. The portal's exports folder is the generated province's, so the data team can start rounds from it.
/// </summary>
public sealed class PortalRound : IAsyncLifetime
{
    private readonly TempFolder _temp = new();
    private WebApplication _app = null!;

    public DatabaseFixture Database { get; } = new();
    public Uri Site { get; private set; } = null!;
    public GenerationResult Province { get; private set; } = null!;
    public RoundRun Run { get; private set; } = null!;
    public Hangfire.JobStorage Storage { get; private set; } = null!;
    public string ProvinceDirectory => Path.Combine(_temp.Path, "province");

    /// <summary>
    /// Make the database a practice one before the round starts (docs/training.md): its marker row, as `sdq training
    /// create` writes it (the round's code "portal"), so that the worksheets are issued, and the portal started, as in practice.
    /// </summary>
    public bool Practice { get; init; }

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        if (Practice)
        {
            await Database.ExecuteAsync("""
                INSERT INTO training.practice (round_code, seed, schools, trainees, created_by) VALUES ('portal', 31, 12, 1, 'test')
                """);
        }

        Province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 1_500, Schools = 12, Seed = 31, DefectRate = 0.05, OutputDirectory = ProvinceDirectory,
        });
        Storage = HangfireJobs.Storage(Database.ConnectionString);
        await using (var services = HangfireJobs.Services(Database.DataSource, Storage, new JobSettings { Reports = _temp.Path }))
        using (HangfireJobs.Server(services, Storage))
        {
            await services.GetRequiredService<RoundLauncher>().StartAsync(
                new RoundStart("portal", new DateOnly(2026, 10, 15), [Province.ExportDirectory], Path.Combine(_temp.Path, "worksheets")), "test");
            Run = await HangfireJobs.StageAsync(services.GetRequiredService<RoundRuns>(), "portal", RoundStage.Issued);
        }

        // The jobs take a live snapshot after the round is issued, in a job of its own that the server may not reach before
        // it stops above: taken now, once the server is gone (it replaces the day's), the trends always have their round.
        await new RoundRuns(Database.DataSource).TakeSnapshotAsync(Run.RoundId, atClose: false, "test");

        // As `sdq web` runs it: on the portal's database role, which cannot change the audit log.
        _app = Portal.Build(new PortalSettings(await Database.AppDataSourceAsync(), await HangfireJobs.PortalStorageAsync(Database), IngestScenario.Key,
            "http://127.0.0.1:0")
        {
            Logging = new ConsoleErrors(), Exports = ProvinceDirectory, Worksheets = Path.Combine(_temp.Path, "worksheets"),
        });
        await _app.StartAsync();
        Site = new Uri(_app.Urls.First());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await Database.DisposeAsync();
        _temp.Dispose();
    }
}
