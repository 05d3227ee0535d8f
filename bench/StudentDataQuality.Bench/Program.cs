using StudentDataQuality.Bench;

// Benchmarks of StudentDataQuality (bench/README.md). Build and run in Release:
//
//   dotnet run -c Release --project bench/StudentDataQuality.Bench -- staging [rows] [workdir]
//       Staging (issue: foundation): the extract service against `psql \copy` of the same CSV, alternating,
//       3 runs of `rows` (default 1,000,000) and a warm-up at a quarter of it. Reports rows/s, ratio, peak memory.
//       The old form without the word `staging` (`-- [rows] [workdir]`) still runs it.
//
//   dotnet run -c Release --project bench/StudentDataQuality.Bench -- checks [--students N] [--schools M] [--runs R]
//       [--work DIR] [--python PATH] [--keep-db] [--explain DIR]
//       Staged quality checks (issue: staged quality checks): generates a synthetic province of N students (default
//       1,000,000; schools default 2,000 for 1M, 5,000 for 3M, else N / 500) with its previous round and 3% defects,
//       then R times (default 2), alternating: the pandas peer (bench/checks/peer_checks.py, /usr/bin/python3) on the
//       CSV files, and ours: a fresh database in a private embedded PostgreSQL (DIR/db), both rounds staged with the
//       extract service, and every rule of the catalogue run with CheckRunner. Reports seconds per stage, the
//       totals, findings per rule, the ratio ours / pandas, and peak memory of both sides.
//       DIR defaults to $TMPDIR/sdq-bench (the postgres system user must be able to reach it when run as root).
//
//   dotnet run -c Release --project bench/StudentDataQuality.Bench -- worksheets [--students N] [--schools M] [--work DIR]
//       Worksheets (issue: per-school problem worksheets): the same province (default 3,000,000 students, 5,000
//       schools) staged and checked once into its own database, then every school's workbook written by the issuer.
//       Reports the total, the median per workbook, and peak memory after one district and after all schools.
//   dotnet run -c Release --project bench/StudentDataQuality.Bench -- ingest [--students N] [--schools M] [--files F] [--work DIR]
//       [--reuse-issued yes] [--batch-files N] [--batch-wait-ms T] [--batches-at-once C] [--in-flight K] [--log-batches yes]
//       Ingest (issues: ingest corrected worksheets; returns at province scale): the same province and database; a fresh
//       issue of every worksheet, simulated registrars' returns, then every return handed to the batcher as uploads and
//       the inbox hand them over (K waiting at once, default a full batch for each taken at once), taken in batches with
//       the defaults unless given. Reports the total, files/s, the re-checks, the median and 95th percentile from a
//       file's handing over to its receipt, the rows by outcome, and peak memory. --files takes the first F (0: prepare
//       the database and the worksheets only, for later runs with --reuse-issued yes).
//   dotnet run -c Release --project bench/StudentDataQuality.Bench -- round [--students N] [--schools M] [--workers 1,2] [--work DIR]
//       A whole round through the workers (issue: Hangfire jobs and the worker): per worker count, a fresh database with
//       the previous round staged, that many `sdq worker` processes, and the round started as `sdq round start` does;
//       seconds per stage (extract, check, worksheets until issued), worksheets issued, schools per worker.
return args switch
{
    ["checks", .. var rest] => await ChecksBenchmark.RunAsync(rest),
    ["worksheets", .. var rest] => await WorksheetsBenchmark.RunAsync(rest),
    ["ingest", .. var rest] => await IngestBenchmark.RunAsync(rest),
    ["round", .. var rest] => await RoundBenchmark.RunAsync(rest),
    ["staging", .. var rest] => await Staging(rest),
    [] => await Staging(args),
    [var first, ..] when first.Length > 0 && char.IsAsciiDigit(first[0]) => await Staging(args),
    _ => Usage(),
};

static async Task<int> Staging(string[] args)
{
    await StagingBenchmark.RunAsync(args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        Usage:
          StudentDataQuality.Bench staging [rows] [workdir]
          StudentDataQuality.Bench checks [--students N] [--schools M] [--runs R] [--work DIR] [--python PATH] [--keep-db] [--explain DIR]
          StudentDataQuality.Bench worksheets [--students N] [--schools M] [--work DIR]
          StudentDataQuality.Bench ingest [--students N] [--schools M] [--files F] [--work DIR] [--reuse-issued yes] [--batch-files N]
                                   [--batch-wait-ms T] [--batches-at-once C] [--in-flight K] [--log-batches yes]
          StudentDataQuality.Bench round [--students N] [--schools M] [--workers 1,2] [--work DIR]
        See bench/README.md.
        """);
    return 2;
}
