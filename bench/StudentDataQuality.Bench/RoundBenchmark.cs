using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Npgsql;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Rounds;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Bench;

/// <summary>
/// A whole round through the workers (issue: Hangfire jobs and the worker): for each worker count (default 1, then 2),
/// a fresh database with the previous round staged (set-up, not timed), that many `sdq worker` processes (the Release
/// build, each with as many jobs at once as the machine has cores), then `sdq round start` as a client would, timed stage
/// by stage from the round's own state: extract, check, the worksheet fan-out until issued. Reports seconds per stage,
/// the worksheets issued, how the schools were split between the workers, and the ratio of each run to the first.
/// </summary>
internal static class RoundBenchmark
{
    private const string Database = "sdq_bench_round";
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        var students = 3_000_000;
        int? schools = null;
        var workerCounts = new[] { 1, 2 };
        var work = Path.Combine(Path.GetTempPath(), "sdq-bench");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--students": students = int.Parse(args[++i], Invariant); break;
                case "--schools": schools = int.Parse(args[++i], Invariant); break;
                case "--workers": workerCounts = args[++i].Split(',').Select(w => int.Parse(w, Invariant)).ToArray(); break;
                case "--work": work = args[++i]; break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}. Usage: round [--students N] [--schools M] [--workers 1,2] [--work DIR]");
                    return 2;
            }
        }

        work = Path.GetFullPath(work);
        var province = Province.Ensure(work, students, schools ?? (students >= 3_000_000 ? 5_000 : students >= 1_000_000 ? 2_000 : Math.Max(1, students / 500)));
        var sdq = SdqAssembly();
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(work, "db"), Database = Database });
        Console.WriteLine($"Whole round through the workers: {students:N0} students, {Environment.ProcessorCount} cores, worker counts {string.Join(", ", workerCounts)}; {sdq}");
        var runs = new List<RoundRun>();
        foreach (var count in workerCounts)
        {
            runs.Add(await RunOnceAsync(cluster, province, sdq, count, Path.Combine(work, $"round-{count}")));
            var r = runs[^1];
            Console.WriteLine(string.Create(Invariant,
                $"{count} worker(s): extract {r.Extract:F1} s, check {r.Check:F1} s, worksheets {r.Worksheets:F1} s ({r.Issued:N0} issued), total {r.Total:F1} s; schools per worker: {string.Join(", ", r.Split)}"));
        }

        cluster.Stop();
        var text = new StringBuilder();
        text.AppendLine(Invariant, $"Seconds, {students:N0} students, {Environment.ProcessorCount} cores (each worker runs as many jobs at once as there are cores)");
        text.AppendLine(Invariant, $"{"",-28}{string.Concat(runs.Select(r => $"{r.Workers + " worker(s)",14}"))}");
        void Row(string label, Func<RoundRun, double> value, string format = "F1") =>
            text.AppendLine(Invariant, $"{label,-28}{string.Concat(runs.Select(r => value(r).ToString(format, Invariant).PadLeft(14)))}");
        Row("extract", r => r.Extract);
        Row("check", r => r.Check);
        Row("worksheets (fan-out, join)", r => r.Worksheets);
        Row("whole round", r => r.Total);
        Row("ratio to the first run", r => r.Total / runs[0].Total, "F2");
        text.AppendLine(Invariant, $"{"worksheets issued",-28}{string.Concat(runs.Select(r => $"{r.Issued,14:N0}"))}");
        Console.WriteLine();
        Console.Write(text);
        return 0;
    }

    private static async Task<RoundRun> RunOnceAsync(EmbeddedPostgres cluster, Province province, string sdq, int workers, string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        Directory.CreateDirectory(folder);
        var connectionString = cluster.Start();
        ChecksBenchmark.DropDatabase(connectionString, Database);
        connectionString = cluster.Start();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new Migrator().MigrateAsync(dataSource);
        var watch = Stopwatch.StartNew();
        await new ExtractService(dataSource).ExtractFilesAsync(
            new ExtractRequest("bench-previous", "bench") { RoundDate = province.PreviousRoundDate }, [province.PreviousFolder]);
        Console.WriteLine(string.Create(Invariant, $"  set-up: previous round staged in {watch.Elapsed.TotalSeconds:F1} s"));

        var options = new PostgreSqlStorageOptions { SchemaName = "hangfire", QueuePollInterval = TimeSpan.FromSeconds(1) };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var processes = Enumerable.Range(0, workers).Select(_ => StartWorker(sdq, connectionString, key, folder)).ToList();
        try
        {
            while (storage.GetMonitoringApi().Servers().Count < workers)
            {
                await Task.Delay(200);
            }

            var runs = new RoundRuns(dataSource);
            var launcher = new RoundLauncher(runs, new BackgroundJobClient(storage));
            watch.Restart();
            await launcher.StartAsync(new RoundStart("bench-round", province.RoundDate, [province.ExportFolder], Path.Combine(folder, "worksheets"))
            {
                PreviousRoundCode = "bench-previous",
            }, "bench");
            var seen = new Dictionary<RoundStage, double>();
            StudentDataQuality.Data.Rounds.RoundRun? run = null;
            while (run?.Stage != RoundStage.Issued)
            {
                await Task.Delay(250);
                run = await runs.GetAsync("bench-round");
                seen.TryAdd(run!.Stage, watch.Elapsed.TotalSeconds);
                if (run.Problem is { } problem)
                {
                    Console.WriteLine($"  (retrying: {problem})");
                }
            }

            var checking = seen.GetValueOrDefault(RoundStage.Checking, seen.GetValueOrDefault(RoundStage.Issuing));
            var issuing = seen.GetValueOrDefault(RoundStage.Issuing, seen[RoundStage.Issued]);
            var issued = seen[RoundStage.Issued];
            await using var split = dataSource.CreateCommand(
                "SELECT worker, count(*) FROM registry.round_school_task WHERE round_id = @r GROUP BY 1 ORDER BY 1");
            split.Parameters.AddWithValue("r", run.RoundId);
            var bySplit = new List<string>();
            await using (var reader = await split.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    bySplit.Add(string.Create(Invariant, $"{reader.GetString(0)}: {reader.GetInt64(1):N0}"));
                }
            }

            return new RoundRun(workers, checking, issuing - checking, issued - issuing, issued, run.SchoolsTotal ?? 0, bySplit);
        }
        finally
        {
            foreach (var process in processes)
            {
                using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(Invariant)]))
                {
                    await kill.WaitForExitAsync();
                }

                await process.WaitForExitAsync();
                process.Dispose();
            }
        }
    }

    private static Process StartWorker(string sdq, string connectionString, string key, string folder)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = false, RedirectStandardError = false };
        info.ArgumentList.Add(sdq);
        info.ArgumentList.Add("worker");
        info.Environment["SDQ_DB"] = connectionString;
        info.Environment["SDQ_SIGNING_KEY"] = key;
        info.Environment["SDQ_DATA_DIR"] = folder;
        info.Environment["SDQ__Serilog__MinimumLevel__Default"] = "Warning";
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>The sdq program built in Release beside this benchmark (the project reference builds it).</summary>
    private static string SdqAssembly()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "StudentDataQuality.sln")))
        {
            root = root.Parent;
        }

        var path = root is null ? null : Path.Combine(root.FullName, "src", "StudentDataQuality.Cli", "bin", "Release", "net10.0", "sdq.dll");
        return path is not null && File.Exists(path)
            ? path
            : throw new InvalidOperationException($"Build sdq in Release first ({path}): dotnet build -c Release src/StudentDataQuality.Cli");
    }

    private sealed record RoundRun(int Workers, double Extract, double Check, double Worksheets, double Total, int Issued, IReadOnlyList<string> Split);
}
