using Spectre.Console;

namespace StudentDataQuality.Cli;

/// <summary>A progress bar for long steps when the terminal can show one; plain output otherwise.</summary>
public static class Progress
{
    public static async Task<T> RunAsync<T>(string description, long? total, Func<IProgress<long>, Task<T>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return await work(new Progress<long>());
        }

        T result = default!;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(description, maxValue: total ?? 1);
                task.IsIndeterminate = total is null;
                var reporter = new SynchronousProgress(done =>
                {
                    task.Value = total is null ? 0 : Math.Min(done, total.Value);
                    task.Description = $"{description}: {done:N0}";
                });
                result = await work(reporter);
                task.IsIndeterminate = false;
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to a thread-pool callback out of order).</summary>
    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
