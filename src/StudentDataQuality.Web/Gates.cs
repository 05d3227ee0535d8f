namespace StudentDataQuality.Web;

/// <summary>
/// How much heavy work the portal does at once; the rest waits its turn. Returned worksheets (reading the workbook,
/// re-checking its records) and password checks (tens of milliseconds of CPU each, by design) are what two hundred
/// schools send in the same minute: done a few at a time they finish soonest, and never starve the thread pool or
/// exhaust the database connections.
/// </summary>
public sealed class Gates(int uploads, int passwordChecks) : IDisposable
{
    public Gate Uploads { get; } = new(uploads);
    public Gate PasswordChecks { get; } = new(passwordChecks);

    public void Dispose()
    {
        Uploads.Dispose();
        PasswordChecks.Dispose();
    }
}

/// <summary>A number of slots; <see cref="EnterAsync"/> waits for one, disposing its answer frees it.</summary>
public sealed class Gate(int slots) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(Math.Max(1, slots), Math.Max(1, slots));

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _freed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _freed, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
