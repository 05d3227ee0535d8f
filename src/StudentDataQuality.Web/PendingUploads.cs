using System.Collections.Concurrent;
using System.Security.Cryptography;
using StudentDataQuality.Application;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Web;

/// <summary>
/// Uploads answered "received, being checked" before their batch was done: each under a key of its own (random, in the
/// address of its page), visible to the account that sent it only, kept an hour after it was received (its answer only,
/// never the file's bytes). In memory: a
/// portal restarted while a batch runs loses the page, not the return (the batch goes on, and the receipt is on the
/// school's page).
/// </summary>
public sealed class PendingUploads
{
    public static readonly TimeSpan KeptFor = TimeSpan.FromHours(1);

    /// <summary>What an upload came to, without the file's bytes: the return's id, or the refusal, or that it failed.</summary>
    public sealed record Answer(long? ReturnId, WorksheetRejectedException? Refusal)
    {
        public static Answer Of(BatchOutcome outcome) => new(outcome.Result?.Receipt.ReturnId, outcome.Refusal);
    }

    private sealed record Entry(string Account, Task<Answer> Outcome, DateTimeOffset Received);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Keeps an upload's outcome (still to come) for <paramref name="account"/>; returns its key.</summary>
    public string Add(string account, Task<BatchOutcome> outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        Prune();
        var added = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _entries[added] = new Entry(account, outcome.ContinueWith(done => Answer.Of(done.Result), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default), DateTimeOffset.UtcNow);
        return added;
    }

    /// <summary>The upload's answer, when <paramref name="account"/> sent it; null for any other key or account.</summary>
    public Task<Answer>? Find(string key, string account)
    {
        Prune();
        return _entries.TryGetValue(key, out var entry) && string.Equals(entry.Account, account, StringComparison.Ordinal) ? entry.Outcome : null;
    }

    private void Prune()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var (key, old) in _entries)
        {
            if (now - old.Received > KeptFor)
            {
                _entries.TryRemove(key, out _);
            }
        }
    }
}
