using System.ComponentModel;
using Spectre.Console.Cli;

namespace StudentDataQuality.Cli.Commands;

/// <summary>Options every command takes.</summary>
public class SdqSettings : CommandSettings
{
    [CommandOption("-v|--verbose")]
    [Description("Show debug logging, and the stack trace of errors.")]
    public bool Verbose { get; init; }

    [CommandOption("--data-dir <DIR>")]
    [Description("Folder of the embedded database (default: under the user's local data folder; /var/lib/studentdataquality/db for root). Ignored when SDQ_DB is set.")]
    public string? DataDirectory { get; init; }

    /// <summary>Set once, as the options are read: every database this command opens is then the practice round's.</summary>
    [CommandOption("--practice")]
    [Description("Work on the practice round (sdq training create): the practice database beside the main one, instead of the main one.")]
    public bool Practice
    {
        get => SdqEnvironment.PracticeSelected;
        init => SdqEnvironment.PracticeSelected |= value;
    }
}
