using Hangfire;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Access;
using StudentDataQuality.Jobs;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;

namespace StudentDataQuality.Tests.Jobs;

/// <summary>
/// The inbox's senders (issue 16, item 14), through a real Hangfire server on the real database: a file is taken as the
/// account of the folder it was dropped in, judged as that account's upload would be; a file with no sender is not taken
/// and says why.
/// </summary>
public sealed class InboxSenderTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    [Trait("Category", "Security")]
    public async Task AReturnInASchoolsFolder_IsThatSchoolsReturn_AnotherSchoolsIsRefused_AndOneWithNoSenderIsNotTaken()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "inbox-senders");
        var (own, other, topLevel, unknown, sealedOne) = (scenario.Files[0], scenario.Files[1], scenario.Files[2], scenario.Files[3], scenario.Files[4]);
        var sender = IngestScenario.SchoolAccount(own.SchoolCode);
        await new SignIns(db.DataSource).SealAsync(IngestScenario.SchoolAccount(sealedOne.SchoolCode), "test");
        var inbox = Path.Combine(_temp.Path, "inbox");
        Drop(scenario, own, Path.Combine(inbox, sender));
        Drop(scenario, other, Path.Combine(inbox, sender));
        Drop(scenario, topLevel, inbox);
        Drop(scenario, unknown, Path.Combine(inbox, "nobody-of-that-name"));
        Drop(scenario, sealedOne, Path.Combine(inbox, IngestScenario.SchoolAccount(sealedOne.SchoolCode)));
        // A link in the school's folder to a file elsewhere (here another school's worksheet as issued): never followed.
        var link = Path.Combine(inbox, sender, "linked.xlsx");
        File.CreateSymbolicLink(link, Path.Combine(scenario.Folder, scenario.Files[5].RelativePath));
        File.SetLastWriteTimeUtc(link, DateTime.UtcNow - InboxJob.SettleTime - TimeSpan.FromSeconds(1));

        var storage = HangfireJobs.Storage(db.ConnectionString);
        var settings = new JobSettings { Inbox = inbox, Reports = Path.Combine(_temp.Path, "reports") };
        await using var services = HangfireJobs.Services(db.DataSource, storage, settings);
        using var server = HangfireJobs.Server(services, storage);
        await HangfireJobs.SucceededAsync(storage, new BackgroundJobClient(storage).Enqueue<InboxJob>(j => j.Scan(inbox)));
        try
        {
            await HangfireJobs.EventuallyAsync(() => Task.FromResult(Count(inbox, "taken") + Count(inbox, "refused") + Count(inbox, "not-taken") == 6),
                "every dropped file taken, refused or set aside", seconds: 90);
        }
        catch (Xunit.Sdk.XunitException e)
        {
            var monitoring = storage.GetMonitoringApi();
            throw new Xunit.Sdk.XunitException(e.Message + "\nIn the inbox:\n" + string.Join("\n", Directory.GetFiles(inbox, "*", SearchOption.AllDirectories))
                + "\nFailed jobs:\n" + string.Join("\n", monitoring.FailedJobs(0, 10).Select(j => j.Value.ExceptionMessage))
                + "\nScheduled (retries):\n" + string.Join("\n", monitoring.ScheduledJobs(0, 10).Select(j => j.Value.Job?.Method.Name)));
        }

        // Taken as the school's own account: the return, its receipt and its audit entry name it, not the pipeline.
        Assert.Equal(sender, await scenario.ScalarAsync<string>("SELECT received_by FROM exchange.worksheet_return WHERE school_code = @s",
            ("s", own.SchoolCode)));
        Assert.Equal(1L, await scenario.ScalarAsync<long>("SELECT count(*) FROM exchange.worksheet_return"));
        Assert.Equal(1L, await scenario.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'worksheet.return' AND actor = @a", ("a", sender)));
        Assert.True(await scenario.ScalarAsync<bool>("SELECT receipt::text LIKE '%' || @a || '%' FROM exchange.worksheet_return", ("a", sender)));
        Assert.Single(Directory.GetFiles(Path.Combine(inbox, "receipts", sender), "*.xlsx"));
        Assert.Single(Directory.GetFiles(Path.Combine(inbox, "taken", sender), "*.xlsx"));

        // Another school's worksheet in this school's folder: refused as out of the sender's scope, as an upload would be.
        var refusal = await File.ReadAllTextAsync(Assert.Single(Directory.GetFiles(Path.Combine(inbox, "refused", sender), "*.refused.txt")));
        Assert.Contains("refused (OtherSchool)", refusal, StringComparison.Ordinal);
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'worksheet.return.refused' AND actor = @a", ("a", sender)));

        // No sender (the inbox's own folder, a folder no account is named after, a sealed account), or a link: not taken, and why.
        var notes = Directory.GetFiles(Path.Combine(inbox, "not-taken"), "*.not-taken.txt").Select(File.ReadAllText).ToList();
        Assert.Equal(4, notes.Count);
        Assert.Equal(4, Directory.GetFiles(Path.Combine(inbox, "not-taken"), "*.xlsx").Length);
        Assert.Contains(notes, n => n.Contains(Path.GetFileName(topLevel.RelativePath), StringComparison.Ordinal)
                                    && n.Contains("inbox's own folder", StringComparison.Ordinal) && n.Contains("inbox/<account>/", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("no account is named 'nobody-of-that-name'", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("is sealed", StringComparison.Ordinal) && n.Contains("sdq user reset", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("links are not followed", StringComparison.Ordinal));
        Assert.Equal(4L, await scenario.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'inbox.not-taken' AND actor = 'job:inbox'"));
        Assert.Empty(Directory.GetFiles(inbox, "*.xlsx"));
        Assert.Empty(Directory.GetFiles(Path.Combine(inbox, "queued"), "*", SearchOption.AllDirectories));

        // What the inbox keeps (taken, refused, set aside, and its notes) is the owner's alone, as every file with personal data.
        if (!OperatingSystem.IsWindows())
        {
            foreach (var kept in new[] { "taken", "refused", "not-taken", "queued" })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(inbox, kept)));
                foreach (var file in Directory.GetFiles(Path.Combine(inbox, kept), "*", SearchOption.AllDirectories))
                {
                    Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{file} is not 0600");
                }
            }
        }
    }

    /// <summary>The school's issued worksheet sent back as it is, dropped in a folder as a copy that finished a while ago.</summary>
    private static void Drop(IngestScenario scenario, IssuedFile file, string folder)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, Path.GetFileName(file.RelativePath));
        File.WriteAllBytes(path, scenario.Issued(file));
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - InboxJob.SettleTime - TimeSpan.FromSeconds(1));
    }

    private static int Count(string inbox, string folder) =>
        Directory.Exists(Path.Combine(inbox, folder)) ? Directory.GetFiles(Path.Combine(inbox, folder), "*.xlsx", SearchOption.AllDirectories).Length : 0;
}
