using System.Diagnostics;
using System.Globalization;
using nietras.SeparatedValues;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Text;

namespace StudentDataQuality.Bench;

/// <summary>
/// Ingest (issue: ingest corrected worksheets): the province of the worksheets benchmark (staged and checked once into
/// its database), a fresh issue of every school's worksheet, simulated registrars' returns (most fix everything, some
/// half, some make new mistakes, some send nothing), then every return ingested as its school's account, handed over as
/// uploads and the inbox hand them over: taken in batches (a savepoint per file, one re-check per batch), as the
/// portal and the jobs take them. Reports the total, the median and 95th percentile from a file's handing over to its
/// receipt, rows by outcome, the re-checks, and the bench process's peak working set.
/// </summary>
internal static class IngestBenchmark
{
    private const string Database = "sdq_bench_worksheets";

    public static async Task<int> RunAsync(string[] args)
    {
        var students = 3_000_000;
        var schools = 5_000;
        var limit = int.MaxValue;
        var reuse = false;
        var batching = ReturnBatching.Default;
        int? inFlight = null;
        var logBatches = false;
        var work = Path.Combine(Path.GetTempPath(), "sdq-bench");
        for (var i = 0; i < args.Length - 1; i += 2)
        {
            switch (args[i])
            {
                case "--students": students = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--schools": schools = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--files": limit = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--reuse-issued": reuse = args[i + 1] == "yes"; break;
                case "--work": work = args[i + 1]; break;
                case "--batch-files": batching = batching with { MaxFiles = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--batch-wait-ms": batching = batching with { MaxWaitMs = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--batches-at-once": batching = batching with { Concurrency = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--in-flight": inFlight = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--log-batches": logBatches = args[i + 1] == "yes"; break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}. Options: --students N --schools M --files F --work DIR --reuse-issued yes " +
                        "--batch-files N --batch-wait-ms T --batches-at-once C --in-flight K --log-batches yes");
                    return 2;
            }
        }

        work = Path.GetFullPath(work);
        Console.WriteLine($"Ingest: {students:N0} students, {schools:N0} schools, {Environment.ProcessorCount} cores; work folder {work}");
        var province = Province.Ensure(work, students, schools);
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(work, "db"), Database = Database });
        await using var dataSource = NpgsqlDataSource.Create(cluster.Start());
        await new Migrator().MigrateAsync(dataSource);
        var round = $"bench-{students}";
        var watch = Stopwatch.StartNew();
        if (await RoundStore.FindAsync(dataSource, round) is null)
        {
            var extract = new ExtractService(dataSource);
            await extract.ExtractFilesAsync(new ExtractRequest(round + "-previous", "bench") { RoundDate = province.PreviousRoundDate }, [province.PreviousFolder]);
            await extract.ExtractFilesAsync(new ExtractRequest(round, "bench") { RoundDate = province.RoundDate, PreviousRoundCode = round + "-previous" },
                [province.ExportFolder]);
            await new CheckRunner(dataSource).RunAsync(round, "bench");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"staged and checked in {watch.Elapsed.TotalSeconds:F1} s"));
        }

        var key = SigningKey.From(new byte[32]);
        var issued = Path.Combine(work, $"ingest-issued-{students}");
        IReadOnlyList<IssuedFile> files;
        if (reuse && File.Exists(Path.Combine(issued, "manifest.csv")))
        {
            // The worksheets of an earlier run whose returns were not ingested (an interrupted run): still the newest issue.
            // The manifest as the issuer writes it (CsvTableWriter: quoted where needed, formula-like text behind an apostrophe).
            var read = new List<IssuedFile>();
            using (var manifest = Sep.New(',').Reader(o => o with { Unescape = true }).FromFile(Path.Combine(issued, "manifest.csv")))
            {
                foreach (var row in manifest)
                {
                    var f = new string[9];
                    for (var i = 0; i < f.Length; i++)
                    {
                        var v = row[i].ToString();
                        f[i] = v.Length > 1 && v[0] == FormulaText.Prefix && FormulaText.LooksLikeFormula(v.AsSpan(1)) ? v[1..] : v;
                    }

                    read.Add(new IssuedFile(f[0], f[1], f[2], f[3], f[4], int.Parse(f[5], CultureInfo.InvariantCulture), int.Parse(f[6], CultureInfo.InvariantCulture),
                        int.Parse(f[7], CultureInfo.InvariantCulture), int.Parse(f[8], CultureInfo.InvariantCulture)));
                }
            }

            files = read;
            Console.WriteLine($"using the {files.Count:N0} worksheets issued earlier in {issued}");
        }
        else
        {
            if (Directory.Exists(issued))
            {
                Directory.Delete(issued, recursive: true);
            }

            watch.Restart();
            files = await new WorksheetIssuer(dataSource, key).IssueAsync(new WorksheetRequest(round, issued, "bench"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"issued {files.Count:N0} worksheets in {watch.Elapsed.TotalSeconds:F1} s"));
        }

        if (limit == 0)
        {
            // --files 0: the database and the issued worksheets are ready for later runs (--reuse-issued yes).
            return 0;
        }

        watch.Restart();
        var answers = RegistrarAnswers.Load(province.RegistrarAnswers);
        var returns = new List<(IssuedFile File, byte[] Bytes, int Edits)>();
        foreach (var file in files.Take(limit))
        {
            var style = RegistrarSimulator.StyleFor(file.SchoolCode, 1, (0.55, 0.2, 0.1, 0.15));
            if (style == RegistrarStyle.Leaves)
            {
                continue;
            }

            var simulated = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(Path.Combine(issued, file.RelativePath)),
                answers.GetValueOrDefault(file.SchoolCode) ?? [], style, 1);
            returns.Add((file, simulated.Workbook, simulated.Answers.Count));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"simulated {returns.Count:N0} returns ({returns.Sum(r => r.Edits):N0} rows answered) in {watch.Elapsed.TotalSeconds:F1} s"));

        var accounts = new AccountStore(dataSource);
        foreach (var file in returns.Select(r => r.File))
        {
            await accounts.AddAsync(new Account("school-" + file.SchoolCode, AccountRole.School, file.SchoolCode), "bench");
        }

        // Every return handed over as it would arrive from uploads and the inbox, at most --in-flight waiting at once, and
        // taken in batches as the portal and the jobs take them (the defaults unless the options say otherwise).
        // Enough files waiting to fill every batch taken at once, unless --in-flight says otherwise.
        var waiting = inFlight ?? batching.MaxFiles * batching.Concurrency;
        Console.WriteLine($"batches: up to {batching.MaxFiles} files or {batching.MaxWaitMs} ms, {batching.Concurrency} at once; {waiting} files in flight");
        var ingest = new ReturnIngest(dataSource, key, logger: logBatches ? new BatchLog() : null);
        var perFile = new List<long>();
        var repeats = 0;
        var failed = 0;
        var rechecks = new HashSet<long>();
        var rows = new Dictionary<string, int>();
        var gate = new SemaphoreSlim(waiting);
        var done = new object();
        watch.Restart();
        await using (var batcher = new ReturnBatcher(ingest, batching))
        {
            var all = returns.Select(async r =>
            {
                await gate.WaitAsync();
                try
                {
                    var one = Stopwatch.StartNew();
                    var outcome = await batcher.SubmitAsync(new ReturnedFile(r.Bytes, Path.GetFileName(r.File.RelativePath),
                        new Account("school-" + r.File.SchoolCode, AccountRole.School, r.File.SchoolCode)));
                    lock (done)
                    {
                        if (outcome.Result is not { } result)
                        {
                            failed++;
                            Console.Error.WriteLine($"  {r.File.RelativePath}: {outcome.Refusal?.Message ?? outcome.Failure?.Message}");
                        }
                        else if (result.AlreadyIngested)
                        {
                            // Taken by an interrupted earlier run: not part of the figures.
                            repeats++;
                        }
                        else
                        {
                            perFile.Add(one.ElapsedMilliseconds);
                            if (result.CheckRunId is { } run)
                            {
                                rechecks.Add(run);
                            }
                            foreach (var row in result.Receipt.Rows)
                            {
                                rows[row.Outcome.ToString()] = rows.GetValueOrDefault(row.Outcome.ToString()) + 1;
                            }

                            if (perFile.Count % 500 == 0)
                            {
                                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {perFile.Count:N0} files in {watch.Elapsed.TotalSeconds:F1} s"));
                            }
                        }
                    }
                }
                finally
                {
                    gate.Release();
                }
            }).ToList();
            await Task.WhenAll(all);
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var sorted = perFile.Order().ToArray();
        if (sorted.Length == 0)
        {
            // Every file refused (e.g. --reuse-issued with worksheets of a database made again since): no figures to print.
            Console.Error.WriteLine($"No return was taken ({failed} refused or failed): nothing was measured. Issue the worksheets again (without --reuse-issued).");
            return 1;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

            ingested {perFile.Count:N0} returns in {seconds:F1} s ({perFile.Count / seconds:F1} files/s; {repeats} taken by an earlier run skipped, {failed} refused or failed; {rechecks.Count:N0} re-checks)
            rows: {string.Join(", ", rows.OrderBy(r => r.Key).Select(r => $"{r.Key} {r.Value:N0}"))}
            per file, handed over to receipt: median {sorted[sorted.Length / 2]} ms, 95th percentile {sorted[(int)(sorted.Length * 0.95)]} ms, slowest {sorted[^1]} ms
            peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1_048_576:N0} MB
            """));
        return 0;
    }
}

/// <summary>The ingest's own account of each batch (read, applied, re-checked, committed), printed with --log-batches yes.</summary>
internal sealed class BatchLog : Microsoft.Extensions.Logging.ILogger<ReturnIngest>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Information;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        var text = formatter(state, exception);
        if (text.StartsWith("Batch of", StringComparison.Ordinal) || logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning)
        {
            Console.WriteLine("  " + text + (exception is null ? "" : " " + exception.Message));
        }
    }
}
