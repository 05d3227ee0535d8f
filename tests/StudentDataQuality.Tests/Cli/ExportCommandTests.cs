using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using StudentDataQuality.Cli.Commands;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Security;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Tests.Cli;

/// <summary>One database with a one-school round ("exp") whose worksheet came back with one correction: a change set of one line.</summary>
public sealed class ExportCliRound : IAsyncLifetime
{
    public const string Round = "exp";
    private readonly TempFolder _temp = new();

    public DatabaseFixture Database { get; } = new();
    public string Folder => _temp.Path;
    public OneSchoolRound School { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        School = await OneSchoolRound.CreateAsync(Database.DataSource, _temp.Path, Round);
        var returned = Path.Combine(_temp.Path, "returned.xlsx");
        await File.WriteAllBytesAsync(returned, School.Returned("黑龙江省哈尔滨市道里区友谊路1号"));
        var summary = await IngestCommand.RunAsync(School.Ingest, [returned], School.School, Path.Combine(_temp.Path, "receipts"), quiet: true,
            batchFiles: 10, CancellationToken.None);
        Assert.Equal(1, summary.Applied);
    }

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        _temp.Dispose();
    }
}

/// <summary>
/// The command line's export control (issue 19, docs/exports.md "At the command line"), run as the program itself on a real
/// database: the province's changes leave only by an approved request of a second data-team account, once, with a sidecar
/// watermark; a found file is named by its watermark, by its sha256 when the watermark is gone, and a forged one is told.
/// </summary>
public sealed partial class ExportCommandTests(ExportCliRound round) : IClassFixture<ExportCliRound>
{
    private static readonly string Actor = "cli:" + Environment.UserName;

    private DatabaseFixture Db => round.Database;

    [Fact]
    public async Task Changes_ForTheProvince_WithoutARequest_IsRefusedBeforeAnythingIsWritten_SayingWhatToDo()
    {
        var folder = Path.Combine(round.Folder, "no-request");
        var file = Path.Combine(folder, "changes.csv");
        const string Taken = "SELECT count(*) FROM export.file WHERE kind = 'changes'";
        var before = await Db.ScalarAsync<long>(Taken);

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null, "changes", "--round", ExportCliRound.Round, "--out", file);

        Assert.Equal(2, exit);
        Assert.Contains("only by an approved request, and nothing was written", output, StringComparison.Ordinal);
        Assert.Contains("sdq export request --kind changes --round exp", output, StringComparison.Ordinal);
        Assert.Contains("a second data-team account approves it", output, StringComparison.Ordinal);
        Assert.Contains("--request N", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any(), "a file was left behind");
        Assert.Equal(before, await Db.ScalarAsync<long>(Taken));
    }

    [Fact]
    public async Task Changes_ByARequestApprovedByASecondAccount_IsTakenOnce_WithASidecar_AndIdentified_ByWatermark_ThenBySha256()
    {
        var folder = Path.Combine(round.Folder, "requested");
        var file = Path.Combine(folder, "changes.csv");

        // Asked for at the command line: its number, and what happens next.
        var (asked, askedOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "export", "request", "--kind", "changes", "--round", ExportCliRound.Round, "--purpose", "yearly update of the national registry");
        Assert.True(asked == 0, askedOutput);
        var requestId = long.Parse(RequestNumber().Match(askedOutput).Groups[1].Value, CultureInfo.InvariantCulture);
        var id = requestId.ToString(CultureInfo.InvariantCulture);
        Assert.Contains($"sdq export approve {id}", askedOutput, StringComparison.Ordinal);
        Assert.Contains($"sdq changes --round exp --out changes.csv --request {id}", askedOutput, StringComparison.Ordinal);

        // Not approved yet: taking it is refused, nothing written.
        var (early, earlyOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "changes", "--round", ExportCliRound.Round, "--out", file, "--request", id);
        Assert.Equal(2, early);
        Assert.Contains("not approved yet", earlyOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(file));

        // The same command-line user cannot approve it (four eyes), and is told who may.
        var (own, ownOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "approve", id);
        Assert.Equal(2, own);
        Assert.Contains($"asked for by {Actor}", ownOutput, StringComparison.Ordinal);
        Assert.Contains("four eyes", ownOutput, StringComparison.Ordinal);
        Assert.Contains("operating-system account", ownOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", ownOutput, StringComparison.Ordinal);
        Assert.Equal("waiting", await Db.ScalarAsync<string>(
            "SELECT coalesce(decision, 'waiting') FROM export.request WHERE request_id = @r", ("r", requestId)));

        // A second data-team account approves it.
        await new ExportRegister(Db.DataSource).DecideAsync(Account.Operator("cli:team-li"), requestId, approve: true, "agreed", "test");

        var (taken, takenOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "changes", "--round", ExportCliRound.Round, "--out", file, "--request", id);
        Assert.True(taken == 0, takenOutput);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file)));
        var sidecar = ExportSidecar.Read(ExportSidecar.PathFor(file));
        Assert.NotNull(sidecar);
        Assert.Equal(sha256, sidecar.Value.Sha256);
        Assert.Equal(Actor, sidecar.Value.Watermark.TakenBy);
        Assert.Equal(ExportKind.Changes, sidecar.Value.Watermark.Kind);
        Assert.Equal("yearly update of the national registry", sidecar.Value.Watermark.Purpose);
        var exportId = ExportId.Normalise(sidecar.Value.Watermark.ExportId)!;
        Assert.Equal($"{sha256} {requestId} 1", await Db.ScalarAsync<string>(
            "SELECT sha256 || ' ' || request_id || ' ' || rows FROM export.file WHERE export_id = @e", ("e", exportId)));
        Assert.Equal(2, File.ReadAllLines(file).Count(l => l.Length > 0));
        Assert.Contains(ExportId.Format(exportId), takenOutput, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(folder, "*.partial"));

        // Taken once: a second take is refused and writes nothing.
        var again = Path.Combine(folder, "again.csv");
        var (twice, twiceOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "changes", "--round", ExportCliRound.Round, "--out", again, "--request", id);
        Assert.Equal(2, twice);
        Assert.Contains("taken once already", twiceOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(again));
        Assert.False(File.Exists(ExportSidecar.PathFor(again)));

        // The found file is named by its sidecar's watermark…
        var (byWatermark, byWatermarkOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "identify", file);
        Assert.True(byWatermark == 0, byWatermarkOutput);
        Assert.Contains("found by its watermark", byWatermarkOutput, StringComparison.Ordinal);
        Assert.Contains(ExportId.Format(exportId), byWatermarkOutput, StringComparison.Ordinal);
        Assert.Contains($"request {id} by {Actor}, approved by cli:team-li", byWatermarkOutput, StringComparison.Ordinal);

        // …and, the sidecar gone, by the sha256 of its bytes.
        File.Delete(ExportSidecar.PathFor(file));
        var (bySha, byShaOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "identify", file);
        Assert.True(bySha == 0, byShaOutput);
        Assert.Contains("found by the sha256 of its bytes", byShaOutput, StringComparison.Ordinal);
        Assert.Contains(ExportId.Format(exportId), byShaOutput, StringComparison.Ordinal);

        // An unrelated file: no record, said plainly.
        var unrelated = Path.Combine(round.Folder, "unrelated.csv");
        await File.WriteAllTextAsync(unrelated, "学籍号,姓名\nG000,某某\n");
        var (none, noneOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "identify", unrelated);
        Assert.Equal(ExportIdentifyCommand.NoRecord, none);
        Assert.Contains("No record", noneOutput, StringComparison.Ordinal);

        // The register shows the file with who asked and who approved, and the request as taken.
        var (list, listOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "list", "--kind", "changes");
        Assert.True(list == 0, listOutput);
        Assert.Contains(ExportId.Format(exportId), listOutput, StringComparison.Ordinal);
        Assert.Contains($"taken by {Actor}", listOutput, StringComparison.Ordinal);
        Assert.Contains($"request {id} by {Actor}, approved by cli:team-li", listOutput, StringComparison.Ordinal);
        Assert.Contains("purpose: yearly update of the national registry", listOutput, StringComparison.Ordinal);
        Assert.Contains(sha256, listOutput, StringComparison.Ordinal);
        var (requests, requestsOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "list", "--requests", "--by", Actor);
        Assert.True(requests == 0, requestsOutput);
        Assert.Contains($"request {id} taken", requestsOutput, StringComparison.Ordinal);
        Assert.Contains("cli:team-li", requestsOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARequest_IsRefusedByItsApprover_WithANote_AndCannotBeTaken()
    {
        var (asked, askedOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "export", "request", "--kind", "changes", "--round", ExportCliRound.Round, "--purpose", "a look at the corrections");
        Assert.True(asked == 0, askedOutput);
        var id = RequestNumber().Match(askedOutput).Groups[1].Value;

        var (noNote, noNoteOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "refuse", id);
        Assert.Equal(2, noNote);
        Assert.Contains("Give --note", noNoteOutput, StringComparison.Ordinal);

        await new ExportRegister(Db.DataSource).DecideAsync(Account.Operator("cli:team-wang"), long.Parse(id, CultureInfo.InvariantCulture),
            approve: false, "the worksheets are enough", "test");
        var file = Path.Combine(round.Folder, "refused", "changes.csv");
        var (take, takeOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "changes", "--round", ExportCliRound.Round, "--out", file, "--request", id);
        Assert.Equal(2, take);
        Assert.Contains("was refused", takeOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public async Task Identify_TellsAForgedWatermark_WhoseIdNoExportHas()
    {
        var file = Path.Combine(round.Folder, "forged.csv");
        await File.WriteAllTextAsync(file, "学籍号,姓名\nG111,某某\n");
        var forged = new Watermark(ExportId.New(), "someone", DateTimeOffset.UtcNow, "made up", ExportKind.Changes, ExportForm.Full);
        ExportSidecar.Write(file, forged, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))), 1, ["student_no", "name"]);

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null, "export", "identify", file);

        Assert.Equal(ExportIdentifyCommand.NoRecord, exit);
        Assert.Contains($"carries the watermark of export {ExportId.Format(forged.ExportId)}", output, StringComparison.Ordinal);
        Assert.Contains("no export has that id: the watermark is forged", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LineageProvJson_IsTakenThroughTheRegister_WithItsSidecar()
    {
        var studentNo = await Db.ScalarAsync<string>("SELECT student_no FROM registry.current_record WHERE record_id = @r", ("r", round.School.RecordId));
        var file = Path.Combine(round.Folder, "lineage", "lineage.json");

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null, "lineage", studentNo, "--prov-json", file);

        Assert.True(exit == 0, output);
        var sidecar = ExportSidecar.Read(ExportSidecar.PathFor(file));
        Assert.NotNull(sidecar);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))), sidecar.Value.Sha256);
        Assert.Equal($"lineage full record:{round.School.RecordId} {Actor}", await Db.ScalarAsync<string>(
            "SELECT kind || ' ' || form || ' ' || scope || ' ' || taken_by FROM export.file WHERE export_id = @e",
            ("e", ExportId.Normalise(sidecar.Value.Watermark.ExportId)!)));

        // Never over an existing file: refused, nothing taken.
        var before = await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE kind = 'lineage'");
        var (again, againOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null, "lineage", studentNo, "--prov-json", file);
        Assert.Equal(2, again);
        Assert.Contains("exists already", againOutput, StringComparison.Ordinal);
        Assert.Equal(before, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE kind = 'lineage'"));
    }

    [Fact]
    public async Task ConfirmationsPrint_ForTheWholeRound_WithoutARequest_IsRefusedBeforeAnythingIsPrinted()
    {
        var folder = Path.Combine(round.Folder, "sheets-round");
        const string Sheets = "SELECT count(*) FROM confirm.sheet s JOIN registry.round r USING (round_id) WHERE r.code = 'exp'";
        var before = await Db.ScalarAsync<long>(Sheets);

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null, "confirmations", "print", "--round", ExportCliRound.Round, "--out", folder);

        Assert.Equal(2, exit);
        Assert.Contains("sdq export request --kind confirmation-sheets --round exp", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
        Assert.Equal(before, await Db.ScalarAsync<long>(Sheets));
    }

    [Fact]
    public async Task ConfirmationsPrint_ForTheWholeRound_ByAnApprovedRequest_IsOneExport_WithItsManifest_TakenOnce()
    {
        var (asked, askedOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "export", "request", "--kind", "confirmation-sheets", "--round", ExportCliRound.Round, "--purpose", "the autumn confirmation");
        Assert.True(asked == 0, askedOutput);
        var id = RequestNumber().Match(askedOutput).Groups[1].Value;
        Assert.Contains($"sdq confirmations print --round exp --out ./sheets --request {id}", askedOutput, StringComparison.Ordinal);
        await new ExportRegister(Db.DataSource).DecideAsync(Account.Operator("cli:team-li"), long.Parse(id, CultureInfo.InvariantCulture),
            approve: true, null, "test");
        var folder = Path.Combine(round.Folder, "sheets-requested");

        var (exit, output) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "print", "--round", ExportCliRound.Round, "--out", folder, "--request", id);

        Assert.True(exit == 0, output);
        var pdf = Assert.Single(Directory.GetFiles(folder, "*.pdf"));
        var manifest = Path.Combine(folder, ConfirmationPrintCommand.ManifestName);
        var lines = File.ReadAllLines(manifest).Where(l => l.Length > 0).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(pdf))), lines[1], StringComparison.Ordinal);
        Assert.Equal($"confirmation_sheets full province {id} 1 {Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(manifest)))}",
            await Db.ScalarAsync<string>(
                "SELECT kind || ' ' || form || ' ' || scope || ' ' || request_id || ' ' || rows || ' ' || sha256 FROM export.file WHERE request_id = @r",
                ("r", long.Parse(id, CultureInfo.InvariantCulture))));
        Assert.Empty(Directory.GetFiles(folder, "*.partial"));

        // The request is spent: another print with it is refused, and nothing is printed.
        var again = Path.Combine(round.Folder, "sheets-again");
        var (twice, twiceOutput) = await SdqProcess.RunAsync(Db.ConnectionString, null,
            "confirmations", "print", "--round", ExportCliRound.Round, "--out", again, "--request", id);
        Assert.Equal(2, twice);
        Assert.Contains("taken once already", twiceOutput, StringComparison.Ordinal);
        Assert.True(!Directory.Exists(again) || !Directory.EnumerateFileSystemEntries(again).Any(), "a file was left behind");
    }

    [GeneratedRegex(@"Request (\d+) is waiting")]
    private static partial Regex RequestNumber();
}
