using System.Diagnostics;
using System.Globalization;
using Npgsql;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Synthetic;

namespace StudentDataQuality.Bench;

/// <summary>
/// Staging benchmark (issue: foundation). Stages a generated registry export with the extract service, side by side
/// in one run with `psql \copy` of the same CSV into an equivalent table (one text column per export column, created
/// in the same transaction as the COPY, as staging creates a round's partition). Runs alternate so that neither side
/// gets a warmer cache or a quieter machine. Reports rows/s, the ratio, and peak memory at two sizes.
/// Usage: see Program.cs and bench/README.md.
/// </summary>
internal static class StagingBenchmark
{
    /// <summary>Arguments: [rows] [workdir].</summary>
    public static async Task RunAsync(string[] args)
    {
        var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var work = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "sdq-bench");
        const int Runs = 3;

        var small = Province(rows / 4);
        var large = Province(rows);
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(work, "db") });
        var connectionString = cluster.Start();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new Migrator().MigrateAsync(dataSource);
        var url = PsqlUrl(connectionString);
        var service = new ExtractService(dataSource);

        // Warm-up (JIT, page cache) and the memory peak at a quarter of the size.
        await Stage(small);
        var peakSmall = Process.GetCurrentProcess().PeakWorkingSet64;

        var sdq = new List<double>();
        var psql = new List<double>();
        for (var run = 0; run < Runs; run++)
        {
            psql.Add(rows / PsqlCopy(large));
            sdq.Add(rows / await Stage(large));
        }

        var peakLarge = Process.GetCurrentProcess().PeakWorkingSet64;
        Console.WriteLine($"rows: {rows:N0} ({new FileInfo(large).Length / (1 << 20):N0} MB CSV, UTF-8), {Environment.ProcessorCount} cores");
        Console.WriteLine($"psql \\copy into an equivalent table: {string.Join(", ", psql.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} rows/s");
        Console.WriteLine($"extract service (probe, raw + typed version 1, key, commit): {string.Join(", ", sdq.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} rows/s");
        Console.WriteLine($"ratio (median / median): {Median(sdq) / Median(psql):F2}");
        Console.WriteLine($"peak working set: {peakSmall >> 20} MB after {rows / 4:N0} rows, {peakLarge >> 20} MB after {rows:N0} rows");

        string Province(int students)
        {
            var folder = Path.Combine(work, $"p{students}");
            var csv = Path.Combine(folder, "export", "students.csv");
            if (!File.Exists(csv))
            {
                ProvinceGenerator.Generate(new GeneratorOptions { Students = students, Schools = Math.Max(1, students / 500), Seed = 1, OutputDirectory = folder });
            }

            return csv;
        }

        async Task<double> Stage(string csv)
        {
            var watch = Stopwatch.StartNew();
            var round = "bench-" + Guid.NewGuid().ToString("N")[..8];
            await service.ExtractFilesAsync(new ExtractRequest(round, "bench") { RoundDate = new DateOnly(2026, 10, 15) }, [csv]);
            var seconds = watch.Elapsed.TotalSeconds;
            await using var drop = dataSource.CreateCommand(
                "DELETE FROM staging.source_file WHERE round_id = (SELECT round_id FROM registry.round WHERE code = @c)");
            drop.Parameters.AddWithValue("c", round);
            await using (var partition = dataSource.CreateCommand($"DROP TABLE registry.record_version_r{await RoundId(round)}"))
            {
                await partition.ExecuteNonQueryAsync();
            }

            await drop.ExecuteNonQueryAsync();
            return seconds;
        }

        async Task<int> RoundId(string code)
        {
            await using var command = dataSource.CreateCommand("SELECT round_id FROM registry.round WHERE code = @c");
            command.Parameters.AddWithValue("c", code);
            return (int)(await command.ExecuteScalarAsync())!;
        }

        double PsqlCopy(string csv)
        {
            var header = File.ReadLines(csv).First().TrimStart('\uFEFF');
            var columns = string.Join(", ", header.Split(',').Select(h => $"\"{h}\" text"));
            RunPsql("DROP TABLE IF EXISTS public.bench_psql_copy;");
            var script = $"""
                BEGIN;
                CREATE TABLE public.bench_psql_copy ({columns});
                \copy public.bench_psql_copy FROM '{csv}' WITH (FORMAT csv, HEADER true)
                COMMIT;
                """;
            var watch = Stopwatch.StartNew();
            RunPsql(script);
            return watch.Elapsed.TotalSeconds;
        }

        void RunPsql(string script)
        {
            var start = new ProcessStartInfo("psql", ["-q", "-v", "ON_ERROR_STOP=1", url]) { RedirectStandardInput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            process.StandardInput.Write(script);
            process.StandardInput.Close();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException("psql failed: " + process.StandardError.ReadToEnd());
            }
        }

        static string PsqlUrl(string connectionString)
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"postgresql://{b.Username}:{Uri.EscapeDataString(b.Password ?? "")}@{b.Host}:{b.Port}/{b.Database}";
        }

        static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
    }
}
