using System.Diagnostics;
using System.Text;
using Hangfire;

namespace StudentDataQuality.Tests.Infrastructure;

/// <summary>
/// A real `sdq worker` process (the program as built with the solution) on a test database: started, waited for until
/// its Hangfire server is registered, stopped with SIGTERM, or killed with SIGKILL. Its output is kept for failure messages.
/// </summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private WorkerProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    /// <summary>What the worker wrote to its console so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The name the worker records on the work it did (host and process id).</summary>
    public string WorkerName => $"{Environment.MachineName}:{_process.Id}";

    public static WorkerProcess Start(string connectionString, string dataDirectory, IReadOnlyDictionary<string, string>? settings = null, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(SdqAssembly());
        info.ArgumentList.Add("worker");
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SDQ_DB"] = connectionString;
        info.Environment["SDQ_SIGNING_KEY"] = Convert.ToBase64String(Worksheets.IngestScenario.Key.Key);
        info.Environment["SDQ_DATA_DIR"] = dataDirectory;
        // English, whatever the machine's locale, unless the test asks for a language (Cli:Language in its settings).
        SdqProcess.English(info);
        info.Environment["SDQ__Worker__InvisibilityTimeout"] = "00:00:15";
        info.Environment["SDQ__Worker__DistributedLockTimeout"] = "00:00:15";
        info.Environment["SDQ__Worker__QueuePollInterval"] = "00:00:00.2";
        info.Environment["SDQ__Worker__GracePeriod"] = "00:00:05";
        info.Environment["SDQ__Serilog__MinimumLevel__Default"] = "Information";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            info.Environment["SDQ__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var worker = new WorkerProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"));
        worker._process.OutputDataReceived += (_, e) => worker.Append(e.Data);
        worker._process.ErrorDataReceived += (_, e) => worker.Append(e.Data);
        worker._process.BeginOutputReadLine();
        worker._process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>Waits until the worker's Hangfire server has reported in.</summary>
    public async Task RegisteredAsync(JobStorage storage, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"The worker exited with {_process.ExitCode}:\n{Output}");
            }

            if (storage.GetMonitoringApi().Servers().Any(s => s.Name.StartsWith(WorkerName + ":", StringComparison.Ordinal)))
            {
                return;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"The worker did not register within {seconds} s:\n{Output}");
    }

    /// <summary>SIGKILL: the process ends at once, with whatever it was doing.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as a service manager stops it; waits for it to end and returns its exit code.</summary>
    public async Task<int> StopAsync(int seconds = 60)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>The sdq program built with the solution, in the same configuration as the tests.</summary>
    internal static string SdqAssembly()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testBin.Parent!.Name;
        var root = testBin;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "StudentDataQuality.sln")))
        {
            root = root.Parent;
        }

        var path = root is null ? null : Path.Combine(root.FullName, "src", "StudentDataQuality.Cli", "bin", configuration, testBin.Name, "sdq.dll");
        return path is not null && File.Exists(path)
            ? path
            : throw new InvalidOperationException($"The sdq program is not built ({path ?? "no solution folder above the tests"}); run `dotnet build StudentDataQuality.sln` first.");
    }
}
