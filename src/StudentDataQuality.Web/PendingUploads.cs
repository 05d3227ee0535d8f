using System.Collections.Concurrent;
using System.Security.Cryptography;
using StudentDataQuality.Application;

namespace StudentDataQuality.Web;

/// <summary>
/// Uploads answered "received, being checked" before their batch was done: each under a key of its own (random, in the
/// address of its page), visible to the account that sent it only, kept an hour after it was received. In memory: a
/// portal restarted while a batch runs loses the page, not the return (the batch goes on, and the receipt is on the
/// school's page).
/// </summary>
public sealed class PendingUploads
{
    public static readonly TimeSpan KeptFor = TimeSpan.FromHours(1);

    private sealed record Entry(string Account, Task<BatchOutcome> Outcome, DateTimeOffset Received);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Keeps an upload's outcome (still to come) for <paramref name="account"/>; returns its key.</summary>
    public string Add(string account, Task<BatchOutcome> outcome)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var (key, old) in _entries)
        {
            if (now - old.Received > KeptFor)
            {
                _entries.TryRemove(key, out _);
            }
        }

        var added = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _entries[added] = new Entry(account, outcome, now);
        return added;
    }

    /// <summary>The upload's outcome, when <paramref name="account"/> sent it; null for any other key or account.</summary>
    public Task<BatchOutcome>? Find(string key, string account) =>
        _entries.TryGetValue(key, out var entry) && string.Equals(entry.Account, account, StringComparison.Ordinal) ? entry.Outcome : null;
}
