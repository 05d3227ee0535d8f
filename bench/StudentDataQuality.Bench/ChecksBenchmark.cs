using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Npgsql;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;
using StudentDataQuality.Reference;
using StudentDataQuality.Synthetic;

namespace StudentDataQuality.Bench;

/// <summary>
/// Staged quality checks benchmark (issue: staged quality checks). Generates a synthetic province with its previous
/// round, then alternates R times: the pandas peer script on the CSV files, and ours: a fresh database, both rounds
/// staged with <see cref="ExtractService"/>, every rule run with <see cref="CheckRunner"/> (the public API only, so it
/// measures whatever the checks are when it runs). Prints seconds per stage, totals, findings per rule next to the
/// generator's ground truth and the peer's counts, the ratio ours / pandas, and peak memory of both sides.
/// Usage: see Program.cs and bench/README.md.
/// </summary>
internal static class ChecksBenchmark
{
    private const string Database = "sdq_bench_checks";
    private const string Actor = "bench";
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static readonly string[] PeerPhases = ["read", "row_level", "duplicates", "school_master", "cross_round"];

    private static readonly Dictionary<string, string> PeerPhaseNames = new()
    {
        ["read"] = "read 3 CSV files (dtype=str)",
        ["row_level"] = "row-level checks",
        ["duplicates"] = "duplicate checks",
        ["school_master"] = "school master (X01, X02)",
        ["cross_round"] = "cross-round (T01-T03)",
    };

    private static readonly Dictionary<string, string> StageNames = new()
    {
        ["1"] = "structure", ["2"] = "format", ["3"] = "consistency", ["4"] = "cross-record", ["5"] = "cross-round", ["6"] = "school",
    };

    /// <summary>A phase of the run ("1", "3-6") as the table shows it: "stage 2 format", "stages 3-6 (consistency … school, side by side)".</summary>
    private static string PhaseName(string stages)
    {
        var ends = stages.Split('-');
        return ends.Length == 1
            ? $"stage {stages} {StageNames.GetValueOrDefault(stages, "")}"
            : $"stages {stages} ({StageNames.GetValueOrDefault(ends[0], ends[0])} … {StageNames.GetValueOrDefault(ends[1], ends[1])}, side by side)";
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var options = ChecksOptions.Parse(args);
        if (options is null)
        {
            return 2;
        }

        var work = Path.GetFullPath(options.Work);
        Directory.CreateDirectory(work);
        var peer = options.PeerScript ?? FindPeerScript();
        Console.WriteLine($"Staged quality checks: {options.Students:N0} students, {options.Schools:N0} schools, {options.Runs} run(s), " +
                          $"{Environment.ProcessorCount} cores, load average {LoadAverage()}; work folder {work}");

        var province = Province.Ensure(work, options.Students, options.Schools);
        var reference = WriteReference(work);
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(work, "db"), Database = Database });

        var peerRuns = new List<PeerRun>();
        var ourRuns = new List<OurRun>();
        for (var run = 1; run <= options.Runs; run++)
        {
            Console.WriteLine($"run {run}: pandas peer … (load average {LoadAverage()})");
            var p = await RunPeerAsync(options.Python, peer, province, reference);
            peerRuns.Add(p);
            Console.WriteLine(string.Create(Invariant, $"run {run}: pandas peer {p.Timing["total"]:F1} s (process {p.WallSeconds:F1} s, peak RSS {p.PeakRssMb:N0} MB)"));

            Console.WriteLine($"run {run}: ours … (load average {LoadAverage()})");
            var last = run == options.Runs;
            var o = await RunOursAsync(cluster, province, keep: (options.KeepDatabase || options.ExplainFolder is not null) && last);
            ourRuns.Add(o);
            Console.WriteLine(string.Create(Invariant,
                $"run {run}: ours staging {o.StagePreviousSeconds + o.StageCurrentSeconds:F1} s, checks {o.CheckSeconds:F1} s, {o.Findings.Values.Sum():N0} findings"));
        }

        if (options.ExplainFolder is { } plans)
        {
            await ExplainRulesAsync(cluster.Start(), plans);
            if (!options.KeepDatabase)
            {
                DropDatabase(cluster.Start());
            }
        }

        if (!options.KeepDatabase)
        {
            cluster.Stop();
        }

        var report = Report(options, province, peerRuns, ourRuns);
        Console.WriteLine();
        Console.Write(report);
        var results = Path.Combine(work, $"checks-results-{options.Students}.json");
        await File.WriteAllTextAsync(results, JsonSerializer.Serialize(new
        {
            options.Students,
            options.Schools,
            options.Runs,
            Cores = Environment.ProcessorCount,
            Pandas = peerRuns[0].Versions,
            Peer = peerRuns,
            Ours = ourRuns,
            GroundTruth = province.DefectsByRule,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results: {results}");
        return 0;
    }

    // ---- the two sides -------------------------------------------------------------------------------------------

    private static async Task<PeerRun> RunPeerAsync(string python, string script, Province province, string reference)
    {
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in new[]
                 {
                     script, "--students", province.Students, "--schools", province.Schools, "--previous", province.PreviousStudents,
                     "--reference", reference, "--round-date", province.RoundDate.ToString("yyyy-MM-dd", Invariant),
                     "--previous-round-date", province.PreviousRoundDate.ToString("yyyy-MM-dd", Invariant),
                 })
        {
            start.ArgumentList.Add(arg);
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {python}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var wall = watch.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The pandas peer failed (exit code {process.ExitCode}): {await stderr}");
        }

        using var json = JsonDocument.Parse(await stdout);
        var root = json.RootElement;
        return new PeerRun(
            wall,
            root.GetProperty("previous_rows").GetInt64(),
            root.GetProperty("timing_s").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble()),
            root.GetProperty("counts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()),
            root.GetProperty("peak_rss_mb").GetInt64(),
            $"pandas {root.GetProperty("pandas").GetString()}, numpy {root.GetProperty("numpy").GetString()}");
    }

    private static async Task<OurRun> RunOursAsync(EmbeddedPostgres cluster, Province province, bool keep)
    {
        // A fresh database per run: the rounds are extracted and checked once, as in a verification round, and no run
        // sees the findings of an earlier one.
        var connectionString = cluster.Start();
        DropDatabase(connectionString);
        connectionString = cluster.Start();
        var pgdata = Path.Combine(cluster.Status().DataDirectory, "pgdata");
        OurRun result;
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            await new Migrator().MigrateAsync(dataSource);
            var service = new ExtractService(dataSource);

            using var stagingMemory = new ServerMemorySampler(pgdata);
            var watch = Stopwatch.StartNew();
            await service.ExtractFilesAsync(
                new ExtractRequest("bench-previous", Actor) { RoundDate = province.PreviousRoundDate }, [province.PreviousFolder]);
            var stagePrevious = watch.Elapsed.TotalSeconds;
            watch.Restart();
            await service.ExtractFilesAsync(
                new ExtractRequest("bench-current", Actor) { RoundDate = province.RoundDate, PreviousRoundCode = "bench-previous" },
                [province.ExportFolder]);
            var stageCurrent = watch.Elapsed.TotalSeconds;
            var stagingPeak = stagingMemory.Stop();

            using var checkMemory = new ServerMemorySampler(pgdata);
            watch.Restart();
            var check = await new CheckRunner(dataSource).RunAsync("bench-current", Actor);
            var checkSeconds = watch.Elapsed.TotalSeconds;
            var checkPeak = checkMemory.Stop();
            result = new OurRun(stagePrevious, stageCurrent, checkSeconds, check.PhaseMs.ToDictionary(p => p.Stages, p => p.Ms), check.PhaseMs.ToDictionary(p => p.Stages, p => p.QueriesMs), check.RuleMs.ToDictionary(), check.FindingsByRule.ToDictionary(),
                stagingPeak, checkPeak, Process.GetCurrentProcess().PeakWorkingSet64 >> 20);
        }

        if (!keep)
        {
            DropDatabase(connectionString);
        }

        return result;
    }

    /// <summary>
    /// Writes each rule's plan with its run time and buffers on the last run's database into <paramref name="folder"/>
    /// (one file per rule; <see cref="CheckRunner.ExplainAsync"/>) and prints the rules by their time.
    /// </summary>
    private static async Task ExplainRulesAsync(string connectionString, string folder)
    {
        Directory.CreateDirectory(folder);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var times = new List<(string Rule, double Ms)>();
        foreach (var (name, plan) in await new CheckRunner(dataSource).ExplainAsync("bench-current"))
        {
            await File.WriteAllTextAsync(Path.Combine(folder, name + ".txt"), plan);
            var total = plan.Split('\n').LastOrDefault(l => l.StartsWith("Execution Time:", StringComparison.Ordinal));
            times.Add((name, total is null ? double.NaN : double.Parse(total.Split(' ')[2], Invariant)));
        }

        Console.WriteLine($"Plans of the {times.Count} queries (each rule alone, and each phase's row rules together; EXPLAIN ANALYZE): {folder}");
        Console.WriteLine(string.Join("  ", times.OrderByDescending(t => t.Ms).Select(t => string.Create(Invariant, $"{t.Rule} {t.Ms / 1000:F2} s"))));
    }

    private static void DropDatabase(string connectionString) => DropDatabase(connectionString, Database);

    /// <summary>Drops a bench database (its name one of the benchmarks' constants, never input), sessions and all.</summary>
    internal static void DropDatabase(string connectionString, string database)
    {
        var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false }.ConnectionString;
        using var connection = new NpgsqlConnection(admin);
        connection.Open();
        using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", connection) { CommandTimeout = 0 };
        drop.ExecuteNonQuery();
    }

    // ---- the report ----------------------------------------------------------------------------------------------

    private static string Report(ChecksOptions options, Province province, List<PeerRun> peerRuns, List<OurRun> ourRuns)
    {
        var runs = peerRuns.Count;
        var text = new StringBuilder();
        var header = string.Concat(Enumerable.Range(1, runs).Select(r => $"{"run " + r,9}")) + (runs > 1 ? $"{"median",9}" : "");
        text.AppendLine(Invariant, $"Seconds, {options.Students:N0} students ({peerRuns[0].PreviousRows:N0} in the previous round), " +
                                   $"{options.Schools:N0} schools, {Environment.ProcessorCount} cores; {peerRuns[0].Versions}");
        text.AppendLine(Invariant, $"{"",-48}{header}");

        void Row(string label, Func<int, double> value)
        {
            var values = Enumerable.Range(0, runs).Select(value).ToArray();
            text.Append(Invariant, $"{label,-48}");
            foreach (var v in values)
            {
                text.Append(Invariant, $"{v,9:F2}");
            }

            if (runs > 1)
            {
                text.Append(Invariant, $"{Median(values),9:F2}");
            }

            text.AppendLine();
        }

        text.AppendLine("pandas peer (bench/checks/peer_checks.py)");
        foreach (var phase in PeerPhases)
        {
            Row("  " + PeerPhaseNames[phase], i => peerRuns[i].Timing.GetValueOrDefault(phase));
        }

        Row("  total (its own clock)", i => peerRuns[i].Timing["total"]);
        Row("  process wall clock (with python start, import)", i => peerRuns[i].WallSeconds);

        text.AppendLine("ours (embedded PostgreSQL, ExtractService + CheckRunner)");
        Row("  extract previous round", i => ourRuns[i].StagePreviousSeconds);
        Row("  extract current round", i => ourRuns[i].StageCurrentSeconds);
        Row("  checks: set-up (catalogue, ANALYZE, views)", i => ourRuns[i].CheckSeconds - (ourRuns[i].StageMs.Values.Sum() / 1000.0));
        foreach (var stages in ourRuns[0].StageMs.Keys.Order(StringComparer.Ordinal))
        {
            Row($"  checks: {PhaseName(stages)}", i => ourRuns[i].StageMs.GetValueOrDefault(stages) / 1000.0);
            Row("    of which the rule queries", i => ourRuns[i].QueriesMs.GetValueOrDefault(stages) / 1000.0);
        }

        Row("  checks: total (CheckRunner.RunAsync)", i => ourRuns[i].CheckSeconds);
        Row("  extract both rounds + checks", i => ourRuns[i].StagePreviousSeconds + ourRuns[i].StageCurrentSeconds + ourRuns[i].CheckSeconds);

        text.AppendLine("ratio ours / pandas (above 1: ours slower)");
        Row("  checks total / pandas total", i => ourRuns[i].CheckSeconds / peerRuns[i].Timing["total"]);
        Row("  (extract + checks) / pandas total", i =>
            (ourRuns[i].StagePreviousSeconds + ourRuns[i].StageCurrentSeconds + ourRuns[i].CheckSeconds) / peerRuns[i].Timing["total"]);
        Row("  checks total / pandas checks without read", i =>
            ourRuns[i].CheckSeconds / (peerRuns[i].Timing["total"] - peerRuns[i].Timing["read"]));

        // Where the time goes: each rule's query and reading its failing records back (quality.check_run.rule_ms);
        // storing a stage's findings is in the stage's time, not in its rules'.
        text.AppendLine("the ten costliest rules (their query and reading back their failing records)");
        foreach (var rule in ourRuns[0].RuleMs.Keys.OrderByDescending(r => Median(ourRuns.Select(o => (double)o.RuleMs.GetValueOrDefault(r)).ToArray())).Take(10))
        {
            Row($"  {rule}", i => ourRuns[i].RuleMs.GetValueOrDefault(rule) / 1000.0);
        }

        text.AppendLine();
        text.AppendLine(Invariant, $"Peak memory (max over runs): pandas peer max RSS {peerRuns.Max(p => p.PeakRssMb):N0} MB; " +
                                   $"ours: PostgreSQL server processes (sum of PSS) {ourRuns.Max(o => o.ServerPeakKbCheck) >> 10:N0} MB during the checks, " +
                                   $"{ourRuns.Max(o => o.ServerPeakKbStaging) >> 10:N0} MB during extraction; " +
                                   $"bench process peak working set {ourRuns.Max(o => o.BenchPeakWorkingSetMb):N0} MB.");

        text.AppendLine();
        var last = ourRuns[^1];
        text.AppendLine(Invariant, $"Findings (last run): ours {last.Findings.Values.Sum():N0}, generator's ground truth {province.DefectsByRule.Values.Sum():N0}; " +
                                   $"the peer does {peerRuns[^1].Counts.Count} of the {last.Findings.Count} rules.");
        text.AppendLine(Invariant, $"{"rule",-6}{"truth",9}{"ours",9}{"pandas",9}");
        var mismatches = new List<string>();
        var anyExplained = false;
        foreach (var rule in last.Findings.Keys.Union(province.DefectsByRule.Keys).OrderBy(RuleOrder))
        {
            var truth = province.DefectsByRule.GetValueOrDefault(rule);
            var ours = last.Findings.GetValueOrDefault(rule);
            var pandas = peerRuns[^1].Counts.TryGetValue(rule, out var n) ? n.ToString("N0", Invariant) : "-";
            var peerDiffers = pandas != "-" && n != truth;
            // The peer has no S02: a name with unreadable characters is S02 here (and set aside), a bad name for it.
            var explained = peerDiffers && rule == "F10" && ours == truth && n > truth;
            var flag = ours != truth ? "  ours differs" : explained ? "  peer: + names that are S02 here" : peerDiffers ? "  peer differs" : "";
            text.AppendLine(Invariant, $"{rule,-6}{truth,9:N0}{ours,9:N0}{pandas,9}{flag}");
            anyExplained |= explained;
            if (flag.Length > 0 && !explained)
            {
                mismatches.Add(rule);
            }
        }

        text.AppendLine(mismatches.Count == 0
            ? "Ours equals the ground truth on every rule, and so does the peer on the rules it does" + (anyExplained ? ", but for F10 (see above)." : ".")
            : $"Counts that differ from the ground truth: {string.Join(", ", mismatches)}.");
        return text.ToString();
    }

    private static string RuleOrder(string rule) => "SFCXTA".IndexOf(rule[0], StringComparison.Ordinal) + rule;

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    // ---- inputs --------------------------------------------------------------------------------------------------

    /// <summary>The code lists and region codes the program uses, as a file for the peer (it has no access to the C# lists).</summary>
    private static string WriteReference(string work)
    {
        var path = Path.Combine(work, "reference.json");
        var content = new
        {
            code_lists = CodeLists.All.ToDictionary(l => l.Name, l => l.Entries.Select(e => new[] { e.Code, e.NameZh, e.NameEn }).ToArray()),
            regions = ReferenceData.Regions.Select(r => r.SixDigitCode).Distinct().Order(StringComparer.Ordinal).ToArray(),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(content, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        return path;
    }

    private static string FindPeerScript()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "bench", "checks", "peer_checks.py");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new InvalidOperationException("bench/checks/peer_checks.py was not found above the current folder; give it with --peer PATH.");
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}

/// <summary>Command-line options of the checks benchmark.</summary>
internal sealed record ChecksOptions(int Students, int Schools, int Runs, string Work, string Python, string? PeerScript, bool KeepDatabase,
    string? ExplainFolder = null)
{
    public static ChecksOptions? Parse(string[] args)
    {
        int? students = null, schools = null;
        var runs = 2;
        var work = Path.Combine(Path.GetTempPath(), "sdq-bench");
        var python = "/usr/bin/python3";
        string? peer = null;
        var keep = false;
        string? explain = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--students": students = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture); break;
                case "--schools": schools = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--work": work = Next(); break;
                case "--python": python = Next(); break;
                case "--peer": peer = Next(); break;
                case "--keep-db": keep = true; break;
                case "--explain": explain = Next(); break;
                default:
                    Console.Error.WriteLine(
                        $"Unknown option {args[i]}. Options: --students N --schools M --runs R --work DIR --python PATH --peer PATH --keep-db --explain DIR");
                    return null;
            }
        }

        var n = students ?? 1_000_000;
        var m = schools ?? n switch { 1_000_000 => 2_000, 3_000_000 => 5_000, _ => Math.Max(1, n / 500) };
        if (n < 1 || m < 1 || m > n || runs < 1)
        {
            Console.Error.WriteLine("--students, --schools and --runs must be positive, with at least one student per school.");
            return null;
        }

        return new ChecksOptions(n, m, runs, work, python, peer, keep, explain is null ? null : Path.GetFullPath(explain));
    }
}

/// <summary>A generated province: the files of both rounds, round dates and ground-truth counts (province.json).</summary>
internal sealed record Province(
    string ExportFolder, string PreviousFolder, DateOnly RoundDate, DateOnly PreviousRoundDate, IReadOnlyDictionary<string, long> DefectsByRule)
{
    public string Students => Path.Combine(ExportFolder, "students.csv");

    public string Schools => Path.Combine(ExportFolder, "schools.csv");

    public string PreviousStudents => Path.Combine(PreviousFolder, "students.csv");

    public string RegistrarAnswers => Path.Combine(Path.GetDirectoryName(ExportFolder)!, "registrar_answers.csv");

    /// <summary>Generates the province unless the same one is there already (the generator is deterministic).</summary>
    public static Province Ensure(string work, int students, int schools)
    {
        var folder = Path.Combine(work, $"checks-{students}-{schools}");
        var manifest = Path.Combine(folder, "province.json");
        // A province generated before the generator wrote its registrar answers is generated again (the same files, and the answers).
        if (!File.Exists(manifest) || !File.Exists(Path.Combine(folder, "registrar_answers.csv")))
        {
            var watch = Stopwatch.StartNew();
            // Written last by the generator: a province without it is incomplete and is generated again.
            ProvinceGenerator.Generate(new GeneratorOptions
            {
                Students = students, Schools = schools, Seed = 1, DefectRate = 0.03, Previous = true, OutputDirectory = folder,
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generated the province in {watch.Elapsed.TotalSeconds:F1} s: {folder}"));
        }
        else
        {
            Console.WriteLine($"using the province generated earlier: {folder}");
        }

        using var json = JsonDocument.Parse(File.ReadAllText(manifest));
        var root = json.RootElement;
        var previous = Path.Combine(folder, "previous");
        return new Province(
            Path.Combine(folder, "export"),
            previous,
            DateOnly.ParseExact(root.GetProperty("round_date").GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture),
            DateOnly.ParseExact(root.GetProperty("previous_round_date").GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture),
            root.GetProperty("defects_by_rule").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()));
    }
}

internal sealed record PeerRun(
    double WallSeconds, long PreviousRows, Dictionary<string, double> Timing, Dictionary<string, long> Counts, long PeakRssMb, string Versions);

internal sealed record OurRun(
    double StagePreviousSeconds, double StageCurrentSeconds, double CheckSeconds, Dictionary<string, long> StageMs, Dictionary<string, long> QueriesMs, Dictionary<string, long> RuleMs, Dictionary<string, long> Findings,
    long ServerPeakKbStaging, long ServerPeakKbCheck, long BenchPeakWorkingSetMb);

/// <summary>
/// Samples the memory of a PostgreSQL cluster's server processes (the postmaster and its children) every 200 ms: the
/// sum of their proportional set sizes (PSS, so shared buffers count once), from /proc. Linux only; 0 elsewhere.
/// </summary>
internal sealed class ServerMemorySampler : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<long> _loop;

    public ServerMemorySampler(string pgdata)
    {
        var pidFile = Path.Combine(pgdata, "postmaster.pid");
        _loop = File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), out var postmaster)
            ? Task.Run(() => SampleAsync(postmaster, _stop.Token))
            : Task.FromResult(0L);
    }

    /// <summary>Stops sampling and returns the peak in kB.</summary>
    public long Stop()
    {
        _stop.Cancel();
        return _loop.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private static async Task<long> SampleAsync(int postmaster, CancellationToken token)
    {
        long peak = 0;
        while (!token.IsCancellationRequested)
        {
            peak = Math.Max(peak, Pss(postmaster) + Children(postmaster).Sum(Pss));
            try
            {
                await Task.Delay(200, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return Math.Max(peak, Pss(postmaster) + Children(postmaster).Sum(Pss));
    }

    /// <summary>The processes whose parent is pid (/proc/*/stat: the field after the command name in parentheses).</summary>
    private static IEnumerable<int> Children(int pid)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) && parent == pid)
                {
                    children.Add(child);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we listed.
            }
        }

        return children;
    }

    private static long Pss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended between listing and reading.
        }

        return 0;
    }
}
