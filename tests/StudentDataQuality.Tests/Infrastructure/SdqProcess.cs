using System.Diagnostics;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>One run of the built `sdq` program on a test database (as its owner, SDQ_DB), with its exit code and output.</summary>
public static partial class SdqProcess
{
    public static async Task<(int Exit, string Output)> RunAsync(string connectionString, IReadOnlyDictionary<string, string>? settings,
        params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(WorkerProcess.SdqAssembly());
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SDQ_DB"] = connectionString;
        info.Environment["COLUMNS"] = "400";
        // English, whatever the machine's locale, unless the test asks for a language (Cli:Language in its settings).
        English(info);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            info.Environment["SDQ__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        // Spectre wraps lines at its idea of the console width: whitespace runs read as one space.
        return (process.ExitCode, Whitespace().Replace(await output + await error, " "));
    }

    /// <summary>The program speaks English: no language setting, no Chinese locale from the machine that runs the tests.</summary>
    public static void English(ProcessStartInfo info)
    {
        info.Environment.Remove("SDQ_LANGUAGE");
        info.Environment.Remove("LC_ALL");
        info.Environment.Remove("LC_MESSAGES");
        info.Environment["LANG"] = "C.UTF-8";
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
