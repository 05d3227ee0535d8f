using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace StudentDataQuality.Application;

/// <summary>
/// How returns that arrive together are batched: a batch closes after <see cref="MaxFiles"/> files or
/// <see cref="MaxWaitMs"/> milliseconds after its first file, whichever comes first, and <see cref="Concurrency"/>
/// batches are taken at once (one applies its files while another is re-checked).
/// </summary>
public sealed record ReturnBatching
{
    public const string Section = "Returns";

    /// <summary>Files at most in one batch (Returns:BatchFiles).</summary>
    public int MaxFiles { get; init; } = 64;

    /// <summary>How long a batch waits for more files after its first (Returns:BatchWaitMs).</summary>
    public int MaxWaitMs { get; init; } = 200;

    /// <summary>Batches taken at once (Returns:BatchConcurrency).</summary>
    public int Concurrency { get; init; } = 2;

    public static ReturnBatching Default { get; } = new();

    /// <summary>The settings as configured (<paramref name="setting"/> reads a key such as "Returns:BatchFiles"), the defaults where unset.</summary>
    /// <exception cref="ArgumentException">A setting that is not a whole number in its range.</exception>
    public static ReturnBatching From(Func<string, string?> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        return new ReturnBatching
        {
            MaxFiles = Read(setting, "BatchFiles", Default.MaxFiles, 1, 1000),
            MaxWaitMs = Read(setting, "BatchWaitMs", Default.MaxWaitMs, 0, 60_000),
            Concurrency = Read(setting, "BatchConcurrency", Default.Concurrency, 1, 16),
        };
    }

    private static int Read(Func<string, string?> setting, string name, int fallback, int min, int max)
    {
        var text = setting($"{Section}:{name}");
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"The setting {Section}:{name} is \"{text}\"; it must be a whole number from {min} to {max}.", $"{Section}:{name}");
    }
}

/// <summary>
/// Gathers returns that arrive together (uploads, the inbox, the ingest jobs) into batches for
/// <see cref="ReturnIngest.IngestBatchAsync"/>: each file's task completes with its outcome once its batch is committed.
/// Disposing stops taking new files and finishes those already handed over.
/// </summary>
public sealed class ReturnBatcher : IAsyncDisposable, IDisposable
{
    private sealed record Handed(ReturnedFile File, TaskCompletionSource<BatchOutcome> Done);

    private readonly ReturnIngest _ingest;
    private readonly ReturnBatching _batching;
    private readonly ILogger _logger;
    private readonly Channel<Handed> _queue = Channel.CreateUnbounded<Handed>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly Task[] _takers;

    public ReturnBatcher(ReturnIngest ingest, ReturnBatching? batching = null, ILogger<ReturnBatcher>? logger = null)
    {
        _ingest = ingest ?? throw new ArgumentNullException(nameof(ingest));
        _batching = batching ?? ReturnBatching.Default;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _takers = Enumerable.Range(0, _batching.Concurrency).Select(_ => Task.Run(TakeSafelyAsync)).ToArray();
    }

    public ReturnBatching Batching => _batching;

    /// <summary>Hands a file over; completes with its outcome when its batch is done (cancelling stops the waiting, not the ingest).</summary>
    public Task<BatchOutcome> SubmitAsync(ReturnedFile file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var handed = new Handed(file, new TaskCompletionSource<BatchOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(handed))
        {
            throw new ObjectDisposedException(nameof(ReturnBatcher), "Returns are no longer taken: the service is stopping.");
        }

        return handed.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Hands several files over at once and waits for all their outcomes, in the order given.</summary>
    public async Task<IReadOnlyList<BatchOutcome>> SubmitAllAsync(IEnumerable<ReturnedFile> files, CancellationToken cancellationToken = default) =>
        await Task.WhenAll(files.Select(f => SubmitAsync(f, cancellationToken)).ToList());

    private async Task TakeAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            var batch = new List<Handed>(_batching.MaxFiles);
            if (!reader.TryRead(out var first))
            {
                continue;
            }

            batch.Add(first);
            var closes = DateTime.UtcNow.AddMilliseconds(_batching.MaxWaitMs);
            while (batch.Count < _batching.MaxFiles)
            {
                if (reader.TryRead(out var next))
                {
                    batch.Add(next);
                    continue;
                }

                var left = closes - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    break;
                }

                using var wait = new CancellationTokenSource(left);
                try
                {
                    if (!await reader.WaitToReadAsync(wait.Token))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException) when (wait.IsCancellationRequested)
                {
                    break;
                }
            }

            await IngestAsync(batch);
        }
    }

    /// <summary>A taker that keeps taking whatever goes wrong with one batch (IngestAsync answers every file of it).</summary>
    private async Task TakeSafelyAsync()
    {
        while (true)
        {
            try
            {
                await TakeAsync();
                return;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Taking returns failed; taking goes on");
            }
        }
    }

    private async Task IngestAsync(List<Handed> batch)
    {
        try
        {
            var outcomes = await _ingest.IngestBatchAsync(batch.Select(h => h.File).ToList());
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Done.TrySetResult(outcomes[i]);
            }
        }
        catch (Exception e)
        {
            // The database could not be reached, or the connection broke before the batch's outcomes were known. A file
            // taken all the same gives its earlier receipt when it is sent again.
            foreach (var handed in batch)
            {
                handed.Done.TrySetResult(new BatchOutcome(handed.File, null, null, e));
            }

            _logger.LogError(e, "A batch of {Files} returns could not be taken", batch.Count);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_takers);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
