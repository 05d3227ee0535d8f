using Npgsql;
using Spectre.Console;
using StudentDataQuality.Data.Staging;

namespace StudentDataQuality.Cli;

/// <summary>How results are shown in the terminal.</summary>
public static class Output
{
    public static async Task ExtractAsync(NpgsqlDataSource dataSource, ExtractResult result, CancellationToken cancellationToken)
    {
        var table = new Table().AddColumns("Source", "Kind", "Layout", "Rows", "Schools", "Rows/s", "Note");
        foreach (var source in result.Sources)
        {
            var rate = source.ElapsedMs > 0 ? $"{source.Rows * 1000 / source.ElapsedMs:N0}" : "";
            var note = source.AlreadyStaged
                ? $"already staged in this round as file #{source.FileId}: nothing to do"
                : source.UnknownColumns.Count > 0 ? $"columns not used (kept raw): {string.Join(", ", source.UnknownColumns)}" : source.Encoding ?? "";
            table.AddRow(Markup.Escape(source.Name), source.Kind, source.Layout, $"{source.Rows:N0}", $"{source.Schools:N0}", rate, Markup.Escape(note));
        }

        AnsiConsole.Write(table);
        var summary = await StagingReport.SummariseAsync(dataSource, result.Round.RoundId, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"Round [bold]{result.Round.Code}[/] (round date {result.Round.RoundDate:yyyy-MM-dd}, school year {result.Round.SchoolYear}/{result.Round.SchoolYear + 1}) is staged: {summary.Records:N0} records from {summary.Files:N0} export file(s); school master {summary.SchoolsInMaster:N0} schools in {summary.Districts:N0} districts.");
        if (summary.Unparsed.Count > 0)
        {
            AnsiConsole.WriteLine("Values that did not parse (kept raw; the checks will report them):");
            foreach (var (field, header, count) in summary.Unparsed)
            {
                AnsiConsole.WriteLine($"  {header} ({field}): {count:N0}");
            }
        }
    }
}
