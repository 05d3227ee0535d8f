using StudentDataQuality.Application;
using StudentDataQuality.Data.Quality;

namespace StudentDataQuality.Jobs;

/// <summary>What the jobs of one worker need to know beyond the database: its name, its folders, how to batch.</summary>
public sealed record JobSettings
{
    /// <summary>This worker as the data records it (which worker issued which worksheet): host and process id by default.</summary>
    public string WorkerName { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>Schools per worksheet job of the fan-out: fewer jobs for the queue, still spread over every worker.</summary>
    public int WorksheetBatch { get; init; } = 10;

    /// <summary>When a case escalates (the Cases section of the settings): the daily reminders report lists the escalations.</summary>
    public StudentDataQuality.Data.Quality.CaseOptions Cases { get; init; } = StudentDataQuality.Data.Quality.CaseOptions.Default;

    /// <summary>The folder watched for returned worksheets (null: this worker sets no watch).</summary>
    public string? Inbox { get; init; }

    /// <summary>How returns that arrive together are batched (Returns:BatchFiles, Returns:BatchWaitMs, Returns:BatchConcurrency).</summary>
    public ReturnBatching Returns { get; init; } = ReturnBatching.Default;

    /// <summary>What the checks take from the deployment (the province of its school codes).</summary>
    public CheckOptions Checks { get; init; } = new();

    /// <summary>Where the daily reminders are written.</summary>
    public required string Reports { get; init; }

    /// <summary>
    /// The portal's public address (Web:PublicUrl): the worksheets the jobs issue name each problem's rule page in its note,
    /// the receipts they write link them (none: no links).
    /// </summary>
    public Worksheets.RuleHelp? RuleHelp { get; init; }
}
