using System.ComponentModel;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Spectre.Console.Cli;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Jobs;
using StudentDataQuality.Synthetic;

namespace StudentDataQuality.Cli.Commands;

public sealed class DemoSettings : ProvinceSettings
{
    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for the generated province.")]
    [DefaultValue("sdq-demo")]
    public string Output { get; init; } = "sdq-demo";

    [CommandOption("--round <ROUND>")]
    [Description("Code of the demo round.")]
    [DefaultValue("demo-2026-autumn")]
    public string Round { get; init; } = "demo-2026-autumn";
}

/// <summary>
/// A whole verification round on a generated sample province, from nothing: starts the embedded database, generates
/// the province (with the previous round), extracts both rounds, checks, issues the worksheets, has simulated registrars
/// return them, takes the returns back, and summarises. Running it again is safe: the same seed gives the same files,
/// which the extract recognises as already staged; worksheets are issued again (the next issue) from what is open.
/// </summary>
public sealed class DemoCommand : AsyncCommand<DemoSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, DemoSettings settings, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLine("[bold]1. Database[/]");
        await using var dataSource = await SdqEnvironment.OpenDatabaseAsync(settings.DataDirectory, cancellationToken);
        AnsiConsole.WriteLine(SdqEnvironment.ConfiguredConnectionString() is null
            ? $"   embedded PostgreSQL running, data in {SdqEnvironment.Embedded(settings.DataDirectory).Status().DataDirectory}"
            : "   using the configured database (SDQ_DB)");

        AnsiConsole.MarkupLine("[bold]2. Generate a sample province[/]");
        var options = settings.ToOptions(settings.Output, previous: true);
        var province = await GenerateCommand.Generate(options, cancellationToken);
        GenerateCommand.Report(province);

        var service = new ExtractService(dataSource, SdqEnvironment.LoggerFactory.CreateLogger<ExtractService>());
        string? previousCode = null;
        if (province.PreviousExportDirectory is { } previousFolder && province.PreviousRoundDate is { } previousDate)
        {
            previousCode = settings.Round + "-previous";
            AnsiConsole.MarkupLineInterpolated($"[bold]3. Extract the previous round ({previousCode})[/]");
            var previous = await Progress.RunAsync("Staging rows", null, progress => service.ExtractFilesAsync(
                new ExtractRequest(previousCode, SdqEnvironment.Actor) { RoundDate = previousDate }, [previousFolder], progress, cancellationToken));
            await Output.ExtractAsync(dataSource, previous, cancellationToken);
        }

        AnsiConsole.MarkupLineInterpolated($"[bold]4. Extract round {settings.Round}[/]");
        var current = await Progress.RunAsync("Staging rows", options.Students, progress => service.ExtractFilesAsync(
            new ExtractRequest(settings.Round, SdqEnvironment.Actor) { RoundDate = options.RoundDate, PreviousRoundCode = previousCode },
            [province.ExportDirectory], progress, cancellationToken));
        await Output.ExtractAsync(dataSource, current, cancellationToken);

        AnsiConsole.MarkupLineInterpolated($"[bold]5. Check round {settings.Round}[/]");
        await CheckCommand.RunAsync(dataSource, settings.Round, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"[bold]6. Write each school's problem worksheet[/]");
        var worksheets = Path.Combine(settings.Output, "worksheets");
        if (Directory.Exists(worksheets))
        {
            Directory.Delete(worksheets, recursive: true);
        }

        var files = await WorksheetsCommand.RunAsync(dataSource, new WorksheetRequest(settings.Round, worksheets, SdqEnvironment.Actor)
        {
            Deadline = options.RoundDate.AddDays(21), Contact = "区县教育局学籍管理员 0451-12345678",
        }, settings.DataDirectory, cancellationToken);

        AnsiConsole.MarkupLine("[bold]7. The schools return their worksheets (simulated registrars)[/]");
        var returns = Path.Combine(settings.Output, "returns");
        var simulated = await SimulateReturnsAsync(dataSource, province, worksheets, returns, files, options.Seed, cancellationToken);

        AnsiConsole.MarkupLine("[bold]8. Take the returns back[/]");
        var before = await OpenCountsAsync(dataSource, settings.Round, cancellationToken);
        var ingest = new ReturnIngest(dataSource, SdqEnvironment.SigningKey(settings.DataDirectory));
        var receipts = Path.Combine(settings.Output, "receipts");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var totals = IngestCommand.Summary.None;
        await Progress.RunAsync("Ingesting returns", simulated.Count, async progress =>
        {
            foreach (var (school, path) in simulated)
            {
                totals += await IngestCommand.RunAsync(ingest, [path], new Account("school-" + school, AccountRole.School, school), receipts, quiet: true,
                    cancellationToken);
                progress.Report(totals.Files);
            }

            return totals;
        });
        var after = await OpenCountsAsync(dataSource, settings.Round, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"   {totals.Files} returns taken in {watch.Elapsed.TotalSeconds:N1} s ({totals.Refused} refused): {totals.Applied} students' records corrected ({totals.StillFailing} still failing), {totals.AwaitingReview} explanations waiting for review (sdq review), {totals.Removed} registrations removed.");
        AnsiConsole.MarkupLineInterpolated(
            $"   Open problems: {before.Errors:N0} errors and {before.Warnings:N0} warnings before the returns, {after.Errors:N0} errors and {after.Warnings:N0} warnings now. Receipts are in {Path.GetFullPath(receipts)}.");
        AnsiConsole.MarkupLineInterpolated(
            $"[green]Done.[/] Round {settings.Round} is staged, checked, issued and partly returned. Worksheets: {Path.GetFullPath(worksheets)}; the generator's ground truth: {province.GroundTruthPath}. Try `sdq review`, `sdq lineage <student number>`, `sdq changes --round {settings.Round} --out changes.csv`; `sdq db url` prints the database's address for psql.");
        return 0;
    }

    /// <summary>
    /// Each school with a worksheet gets an account, and a registrar who answers it from the generator's registrar
    /// answers: most fix everything, some half, some nothing (no return), some fix and make new mistakes.
    /// </summary>
    private static async Task<List<(string School, string Path)>> SimulateReturnsAsync(NpgsqlDataSource dataSource, GenerationResult province, string worksheets,
        string returns, IReadOnlyList<IssuedFile> files, int seed, CancellationToken cancellationToken)
    {
        if (Directory.Exists(returns))
        {
            Directory.Delete(returns, recursive: true);
        }

        var answers = RegistrarAnswers.Load(province.RegistrarAnswersPath);
        var accounts = new AccountStore(dataSource);
        var simulated = new List<(string, string)>();
        var styles = new Dictionary<RegistrarStyle, int>();
        foreach (var file in files)
        {
            await accounts.AddAsync(new Account("school-" + file.SchoolCode, AccountRole.School, file.SchoolCode), SdqEnvironment.Actor, cancellationToken);
            var style = RegistrarSimulator.StyleFor(file.SchoolCode, seed, (0.55, 0.2, 0.1, 0.15));
            styles[style] = styles.GetValueOrDefault(style) + 1;
            if (style == RegistrarStyle.Leaves)
            {
                continue;
            }

            var edited = RegistrarSimulator.Edit(await File.ReadAllBytesAsync(Path.Combine(worksheets, file.RelativePath), cancellationToken),
                answers.GetValueOrDefault(file.SchoolCode) ?? [], style, seed);
            var path = Path.Combine(returns, file.RelativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, edited.Workbook, cancellationToken);
            simulated.Add((file.SchoolCode, path));
        }

        AnsiConsole.MarkupLineInterpolated(
            $"   {files.Count} schools: {styles.GetValueOrDefault(RegistrarStyle.Diligent)} fix every problem, {styles.GetValueOrDefault(RegistrarStyle.Partial)} about half, {styles.GetValueOrDefault(RegistrarStyle.Sloppy)} fix and make new mistakes, {styles.GetValueOrDefault(RegistrarStyle.Leaves)} send nothing back. Returned files: {Path.GetFullPath(returns)}");
        return simulated;
    }

    private static async Task<(long Errors, long Warnings)> OpenCountsAsync(NpgsqlDataSource dataSource, string round, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT count(*) FILTER (WHERE f.severity = 'error'), count(*) FILTER (WHERE f.severity = 'warning')
            FROM   quality.finding f JOIN registry.round r USING (round_id) WHERE r.code = @round AND f.status = 'open'
            """);
        command.Parameters.AddWithValue("round", round);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
