using System.Diagnostics;
using System.Globalization;
using Npgsql;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Embedded;
using StudentDataQuality.Data.Migrations;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;

namespace StudentDataQuality.Bench;

/// <summary>
/// Worksheets (issue: per-school problem worksheets): the province of the checks benchmark, staged and checked once
/// into its own database (kept, so later runs start at the worksheets), then every school's workbook written with
/// the issuer as `sdq worksheets` does. Reports the total, the median and 95th percentile per workbook (make, write,
/// keep the snapshot), rows and files, and the bench process's peak working set after one district and after all
/// schools (memory flat in the number of schools: the two should be alike).
/// </summary>
internal static class WorksheetsBenchmark
{
    private const string Database = "sdq_bench_worksheets";

    public static async Task<int> RunAsync(string[] args)
    {
        var students = 3_000_000;
        var schools = 5_000;
        var work = Path.Combine(Path.GetTempPath(), "sdq-bench");
        for (var i = 0; i < args.Length - 1; i += 2)
        {
            switch (args[i])
            {
                case "--students": students = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--schools": schools = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--work": work = args[i + 1]; break;
                default: Console.Error.WriteLine($"Unknown option {args[i]}. Options: --students N --schools M --work DIR"); return 2;
            }
        }

        work = Path.GetFullPath(work);
        Console.WriteLine($"Worksheets: {students:N0} students, {schools:N0} schools, {Environment.ProcessorCount} cores; work folder {work}");
        var province = Province.Ensure(work, students, schools);
        var cluster = new EmbeddedPostgres(new EmbeddedPostgresOptions { DataDirectory = Path.Combine(work, "db"), Database = Database });
        await using var dataSource = NpgsqlDataSource.Create(cluster.Start());
        await new Migrator().MigrateAsync(dataSource);
        var round = $"bench-{students}";
        if (await RoundStore.FindAsync(dataSource, round) is null)
        {
            var watch = Stopwatch.StartNew();
            var extract = new ExtractService(dataSource);
            await extract.ExtractFilesAsync(new ExtractRequest(round + "-previous", "bench") { RoundDate = province.PreviousRoundDate }, [province.PreviousFolder]);
            await extract.ExtractFilesAsync(new ExtractRequest(round, "bench") { RoundDate = province.RoundDate, PreviousRoundCode = round + "-previous" },
                [province.ExportFolder]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"staged both rounds in {watch.Elapsed.TotalSeconds:F1} s"));
            watch.Restart();
            await new CheckRunner(dataSource).RunAsync(round, "bench");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"checked in {watch.Elapsed.TotalSeconds:F1} s"));
        }

        var issuer = new WorksheetIssuer(dataSource, SigningKey.From(new byte[32]));
        var output = Path.Combine(work, $"worksheets-{students}");
        var district = File.ReadLines(province.Schools).Skip(1).Select(l => l.Split(',')[2]).First();
        var (districtFiles, districtSeconds) = await IssueAsync(issuer, new WorksheetRequest(round, output + "-district", "bench") { District = district });
        var peakDistrict = Process.GetCurrentProcess().PeakWorkingSet64;
        var (files, seconds) = await IssueAsync(issuer, new WorksheetRequest(round, output, "bench"));
        var peakAll = Process.GetCurrentProcess().PeakWorkingSet64;

        var per = files.Select(f => f.ElapsedMs).Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

            one district ({district}): {districtFiles.Count:N0} workbooks in {districtSeconds:F1} s; peak working set {peakDistrict / 1_048_576:N0} MB
            all schools: {files.Count:N0} workbooks, {files.Sum(f => f.Rows):N0} rows, {files.Sum(f => f.Errors + f.Warnings):N0} problems, in {seconds:F1} s ({files.Count / seconds:F1} workbooks/s, {Environment.ProcessorCount} workers)
            per workbook (make, write, keep the snapshot): median {per[per.Length / 2]} ms, 95th percentile {per[(int)(per.Length * 0.95)]} ms, largest {files.Max(f => f.Rows):N0} rows
            peak working set after all schools {peakAll / 1_048_576:N0} MB (after one district {peakDistrict / 1_048_576:N0} MB)
            files: {Directory.EnumerateFiles(output, "*.xlsx", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) / 1_048_576.0:F1} MB in {output}
            """));
        return 0;
    }

    private static async Task<(IReadOnlyList<IssuedFile> Files, double Seconds)> IssueAsync(WorksheetIssuer issuer, WorksheetRequest request)
    {
        if (Directory.Exists(request.OutputDirectory))
        {
            Directory.Delete(request.OutputDirectory, recursive: true);
        }

        var watch = Stopwatch.StartNew();
        var files = await issuer.IssueAsync(request);
        return (files, watch.Elapsed.TotalSeconds);
    }
}
