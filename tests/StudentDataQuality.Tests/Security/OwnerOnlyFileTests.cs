using StudentDataQuality.Cli.Commands;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Security;

/// <summary>
/// Issue 16, item 10: the files with the personal data of minors (worksheets and their manifest, receipts, change sets)
/// are the owner's alone, files 0600 in folders 0700, as the secrets are.
/// </summary>
public sealed class OwnerOnlyFileTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    [Trait("Category", "Security")]
    public async Task WorksheetsReceiptsAndChangeSets_AreWrittenOwnerOnly()
    {
        var round = await OneSchoolRound.CreateAsync(db.DataSource, _temp.Path, "sec-modes");
        var returns = Path.Combine(_temp.Path, "sec-modes-returns");
        Directory.CreateDirectory(returns);
        var returned = Path.Combine(returns, "returned.xlsx");
        await File.WriteAllBytesAsync(returned, round.Returned("黑龙江省哈尔滨市道里区友谊路1号"));
        var receipts = Path.Combine(_temp.Path, "sec-modes-out", "receipts");
        var changes = Path.Combine(_temp.Path, "sec-modes-out", "changes", "2026", "changes.csv");

        var summary = await IngestCommand.RunAsync(round.Ingest, [returned], round.School, receipts, quiet: true, batchFiles: 10, CancellationToken.None);
        await new ChangeSetWriter(db.DataSource).WriteAsync(round.Code, changes, Account.Operator("test"), StudentDataQuality.Tests.Infrastructure.TestWatermarks.Changes);

        Assert.Equal(1, summary.Applied);
        var output = Path.Combine(_temp.Path, "sec-modes-out");
        var files = Directory.GetFiles(output, "*", SearchOption.AllDirectories);
        var folders = Directory.GetDirectories(output, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith(".xlsx", StringComparison.Ordinal) && f.Contains("issued", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("manifest.csv", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains("receipts", StringComparison.Ordinal));
        Assert.Contains(changes, files);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var wrong = files.Select(f => (Path: f, Mode: Mode(f))).Where(f => f.Mode != OwnerFile)
            .Concat(folders.Select(d => (Path: d, Mode: Mode(d))).Where(d => d.Mode != OwnerFolder))
            .Select(x => $"{Path.GetRelativePath(output, x.Path)} is {x.Mode}").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    private static UnixFileMode Mode(string path) => OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path);
}
