using System.Security.Cryptography;
using System.Text;
using Npgsql;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Exports;

/// <summary>
/// The export register against a real database, as the portal's role (sdq_app): the policy decides before anything is
/// made; a bulk export takes an approved request, once, by its requester, within its window; the requester never approves
/// its own (in the code and in the table); what left is recorded with the sha256 of its bytes and found again by it.
/// </summary>
public sealed class ExportRegisterTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>
{
    private static readonly Account TeamA = new("team-a", AccountRole.DataTeam);
    private static readonly Account TeamB = new("team-b", AccountRole.DataTeam);
    private static readonly Account Manager = new("manager-w", AccountRole.Manager);
    private static readonly Account District = new("district-230102", AccountRole.District, DistrictCode: "230102");
    private const string From = "127.0.0.1";

    private async Task<ExportRegister> RegisterAsync(TimeSpan? window = null) =>
        new(await db.AppDataSourceAsync(), new ExportSettings(window));

    private static Func<Watermark, CancellationToken, Task<ExportContent>> Produce(List<Watermark> seen, string text = "a,b\r\n1,2\r\n") =>
        (watermark, _) =>
        {
            seen.Add(watermark);
            return Task.FromResult(new ExportContent("list.csv", 1, ["a", "b"], Encoding.UTF8.GetBytes(text + watermark.ExportId)));
        };

    [Theory]
    [InlineData(ExportKind.Worksheet, ExportForm.Full)]
    [InlineData(ExportKind.Receipt, ExportForm.Full)]
    [InlineData(ExportKind.Lineage, ExportForm.Full)]
    [InlineData(ExportKind.Changes, ExportForm.Full)]
    [InlineData(ExportKind.ProblemList, ExportForm.Masked)]
    [InlineData(ExportKind.ConfirmationSheets, ExportForm.Full)]
    [InlineData(ExportKind.ClassAnswers, ExportForm.Masked)]
    public async Task AManager_TakesNoPersonalData_NorAsksForIt_AndTheRefusalIsOnRecord(ExportKind kind, ExportForm form)
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();
        var files = await db.ScalarAsync<long>("SELECT count(*) FROM export.file");

        var take = await Assert.ThrowsAsync<UserErrorException>(() =>
            register.TakeAsync(Manager, new ExportOrder(kind, form, ExportScope.School("2301000001"), null), From, Produce(seen)));
        var ask = await Assert.ThrowsAsync<UserErrorException>(() =>
            register.RequestAsync(Manager, new ExportRequestDraft(kind, ExportForm.Full, ExportScope.Province, null, "to read it at home"), From));

        Assert.Equal("Exports.NotAllowed", take.Text!.Code);
        Assert.Equal("Exports.NotAllowed", ask.Text!.Code);
        Assert.Empty(seen);
        Assert.Equal(files, await db.ScalarAsync<long>("SELECT count(*) FROM export.file"));
        Assert.True(await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE actor = 'manager-w' AND action = 'export.refused' AND details->>'kind' = @kind",
            ("kind", ExportKinds.Name(kind))) >= 2);
    }

    [Fact]
    public async Task AManager_TakesATrendTable_Watermarked_AndOnRecord()
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();

        var file = await register.TakeAsync(Manager, new ExportOrder(ExportKind.TrendTable, ExportForm.Aggregate, ExportScope.Province, null), From,
            Produce(seen));

        var watermark = Assert.Single(seen);
        Assert.Equal(file.Watermark, watermark);
        Assert.Equal("manager-w", watermark.TakenBy);
        Assert.Equal(ExportRegister.RoutinePurpose(ExportKind.TrendTable), watermark.Purpose);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(file.Bytes!)), file.Sha256);
        Assert.Equal(file.Sha256, await db.ScalarAsync<string>("SELECT sha256 FROM export.file WHERE export_id = @id", ("id", file.ExportId)));
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'export.take' AND object = @id AND actor = 'manager-w'", ("id", file.ExportId)));
    }

    [Fact]
    public async Task ABulkFullExport_WithoutARequest_IsRefused_WithWhatToDo_AndNothingIsMade()
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();

        var refused = await Assert.ThrowsAsync<UserErrorException>(() =>
            register.TakeAsync(TeamA, new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null), From, Produce(seen)));

        Assert.Equal("Exports.RequestNeeded", refused.Text!.Code);
        Assert.Contains("request", refused.Text!.Render(System.Globalization.CultureInfo.GetCultureInfo("en")), StringComparison.Ordinal);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task ARequest_IsApprovedByASecondAccountOnly_TakenOnceByItsRequester_ThenSpent()
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();
        var request = await register.RequestAsync(TeamA,
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, "the registry's import of autumn"), From);
        Assert.Equal(ExportRequestStatus.Waiting, request.Status);
        var order = new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, RequestId: request.RequestId);

        var waiting = await Assert.ThrowsAsync<UserErrorException>(() => register.TakeAsync(TeamA, order, From, Produce(seen)));
        var own = await Assert.ThrowsAsync<UserErrorException>(() => register.DecideAsync(TeamA, request.RequestId, true, null, From));
        var byDistrict = await Assert.ThrowsAsync<UserErrorException>(() => register.DecideAsync(District, request.RequestId, true, null, From));
        Assert.Equal("Exports.RequestWaiting", waiting.Text!.Code);
        Assert.Equal("Exports.OwnRequest", own.Text!.Code);
        Assert.Equal("Exports.ApproverNotTeam", byDistrict.Text!.Code);
        Assert.Equal(ExportRequestStatus.Waiting, (await register.RequestAsync(TeamA, request.RequestId)).Status);

        var approved = await register.DecideAsync(TeamB, request.RequestId, true, "as every term", From);
        Assert.Equal(ExportRequestStatus.Approved, approved.Status);
        Assert.Equal("team-b", approved.DecidedBy);
        Assert.InRange(approved.ExpiresAt!.Value - approved.DecidedAt!.Value, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24.1));

        var notYours = await Assert.ThrowsAsync<UserErrorException>(() => register.TakeAsync(TeamB, order, From, Produce(seen)));
        Assert.Equal("Exports.RequestNotFound", notYours.Text!.Code);
        Assert.Empty(seen);

        var file = await register.TakeAsync(TeamA, order, From, Produce(seen));
        Assert.Equal("the registry's import of autumn", Assert.Single(seen).Purpose);
        var again = await Assert.ThrowsAsync<UserErrorException>(() => register.TakeAsync(TeamA, order, From, Produce(seen)));
        Assert.Equal("Exports.RequestTaken", again.Text!.Code);
        Assert.Single(seen);

        var spent = await register.RequestAsync(TeamA, request.RequestId);
        Assert.Equal(ExportRequestStatus.Taken, spent.Status);
        Assert.Equal(file.ExportId, spent.ExportId);
        var record = await register.IdentifyAsync(TeamB, null, file.Sha256, From);
        Assert.NotNull(record);
        Assert.Equal((file.ExportId, "team-a", "team-b", request.RequestId), (record.ExportId, record.TakenBy, record.ApprovedBy, record.RequestId));
        Assert.Equal("team-a", record.RequestedBy);
        Assert.Equal(["a", "b"], record.Fields);
    }

    [Fact]
    public async Task AnApprovedRequest_PastItsWindow_OrRefused_OrForAnotherExport_CannotBeTaken()
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();
        var draft = new ExportRequestDraft(ExportKind.ProblemList, ExportForm.Full, ExportScope.District("230102"), null, "chasing the schools");
        var expired = await register.RequestAsync(TeamA, draft, From);
        var refused = await register.RequestAsync(TeamA, draft, From);
        var other = await register.RequestAsync(TeamA, draft, From);
        await register.DecideAsync(TeamB, expired.RequestId, true, null, From);
        await register.DecideAsync(TeamB, refused.RequestId, false, "the masked list is enough", From);
        await register.DecideAsync(TeamB, other.RequestId, true, null, From);
        await db.ExecuteAsync(
            // The window is never moved by anyone (request_moves_forward): the test steps past it with the trigger off.
            "BEGIN; ALTER TABLE export.request DISABLE TRIGGER request_moves_forward; UPDATE export.request SET expires_at = now() - interval '1 minute' WHERE request_id = @id; ALTER TABLE export.request ENABLE TRIGGER request_moves_forward; COMMIT", ("id", expired.RequestId));

        Task Take(long id, ExportScope scope) => register.TakeAsync(TeamA,
            new ExportOrder(ExportKind.ProblemList, ExportForm.Full, scope, null, RequestId: id), From, Produce(seen));

        Assert.Equal("Exports.RequestExpired", (await Assert.ThrowsAsync<UserErrorException>(() => Take(expired.RequestId, draft.Scope))).Text!.Code);
        Assert.Equal("Exports.RequestRefused", (await Assert.ThrowsAsync<UserErrorException>(() => Take(refused.RequestId, draft.Scope))).Text!.Code);
        Assert.Equal("Exports.RequestOtherExport",
            (await Assert.ThrowsAsync<UserErrorException>(() => Take(other.RequestId, ExportScope.Province))).Text!.Code);
        Assert.Empty(seen);
        Assert.Equal(ExportRequestStatus.Expired, (await register.RequestAsync(TeamA, expired.RequestId)).Status);
        Assert.Equal(ExportRequestStatus.Refused, (await register.RequestAsync(TeamA, refused.RequestId)).Status);
    }

    [Fact]
    public async Task AFileThatFailedToBeMade_LeavesTheRequestAsItWas()
    {
        var register = await RegisterAsync();
        var request = await register.RequestAsync(TeamA,
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, "the registry's import"), From);
        await register.DecideAsync(TeamB, request.RequestId, true, null, From);
        var order = new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, RequestId: request.RequestId);

        await Assert.ThrowsAsync<IOException>(() => register.TakeAsync(TeamA, order, From, (_, _) => throw new IOException("disk full")));

        Assert.Equal(ExportRequestStatus.Approved, (await register.RequestAsync(TeamA, request.RequestId)).Status);
        var seen = new List<Watermark>();
        await register.TakeAsync(TeamA, order, From, Produce(seen));
        Assert.Single(seen);
    }

    [Fact]
    public async Task ADistrict_AsksForItsOwnDistrictOnly_AndTakesItsMaskedListWithoutARequest()
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();

        await Assert.ThrowsAsync<OutOfScopeException>(() => register.RequestAsync(District,
            new ExportRequestDraft(ExportKind.ProblemList, ExportForm.Full, ExportScope.District("230103"), null, "a neighbour's problems"), From));
        var own = await register.RequestAsync(District,
            new ExportRequestDraft(ExportKind.ProblemList, ExportForm.Full, ExportScope.District("230102"), null, "calling the schools"), From);
        var notNeeded = await Assert.ThrowsAsync<UserErrorException>(() => register.RequestAsync(District,
            new ExportRequestDraft(ExportKind.ProblemList, ExportForm.Masked, ExportScope.District("230102"), null, "the masked list"), From));
        var masked = await register.TakeAsync(District,
            new ExportOrder(ExportKind.ProblemList, ExportForm.Masked, ExportScope.District("230102"), null), From, Produce(seen));

        Assert.Equal(ExportRequestStatus.Waiting, own.Status);
        Assert.Equal("Exports.RequestNotNeeded", notNeeded.Text!.Code);
        Assert.Equal(ExportForm.Masked, masked.Watermark.Form);
        Assert.Equal([own.RequestId], (await register.RequestsAsync(District)).Select(r => r.RequestId));
        Assert.Contains(own.RequestId, (await register.RequestsAsync(TeamA)).Select(r => r.RequestId));
        await Assert.ThrowsAsync<OutOfScopeException>(() => register.RequestAsync(new Account("district-230103", AccountRole.District,
            DistrictCode: "230103"), own.RequestId));
    }

    [Fact]
    public async Task TheRegister_IsTheDataTeams_AndFindsAFileByWatermarkOrBySha256()
    {
        var register = await RegisterAsync();
        var file = await register.TakeAsync(TeamA, new ExportOrder(ExportKind.Worksheet, ExportForm.Full, ExportScope.School("2301000001"), null),
            From, Produce([], "worksheet"));

        await Assert.ThrowsAsync<OutOfScopeException>(() => register.ListAsync(District, new ExportQuery(), 0, 10, From));
        await Assert.ThrowsAsync<OutOfScopeException>(() => register.IdentifyAsync(Manager, file.ExportId, file.Sha256, From));
        var page = await register.ListAsync(TeamB, new ExportQuery(TakenBy: "team-a", Kind: ExportKind.Worksheet), 0, 10, From);
        var byId = await register.IdentifyAsync(TeamB, ExportId.Format(file.ExportId).ToLowerInvariant(), new string('0', 64), From);
        var bySha = await register.IdentifyAsync(TeamB, null, file.Sha256.ToUpperInvariant(), From);
        var none = await register.IdentifyAsync(TeamB, null, new string('f', 64), From);

        Assert.Contains(page.Files, f => f.ExportId == file.ExportId && f.Scope == "school:2301000001" && f.Form == ExportForm.Full);
        Assert.Equal((file.ExportId, "watermark"), (byId?.ExportId, byId?.FoundBy));
        Assert.Equal((file.ExportId, "sha256"), (bySha?.ExportId, bySha?.FoundBy));
        Assert.Null(none);
        Assert.Equal(1L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'export.identify' AND details->>'found' = 'false' AND actor = 'team-b'"));
    }

    [Fact]
    public async Task ARequest_IsDecidedInTheChannelItWasAskedIn_SoThatNoOneApprovesUnderASecondName()
    {
        var register = await RegisterAsync();
        var inPortal = await register.RequestAsync(TeamA,
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, "the registry's import"), From);
        var atCommandLine = await register.RequestAsync(Account.Operator("cli:li"),
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, "the registry's import"), From);

        var portalByOperator = await Assert.ThrowsAsync<UserErrorException>(() =>
            register.DecideAsync(Account.Operator("cli:team-a"), inPortal.RequestId, true, null, From));
        var operatorsByPortal = await Assert.ThrowsAsync<UserErrorException>(() =>
            register.DecideAsync(TeamB, atCommandLine.RequestId, true, null, From));
        var byOtherOperator = await register.DecideAsync(Account.Operator("cli:wang"), atCommandLine.RequestId, true, null, From);

        Assert.Equal("Exports.DecideInConsole", portalByOperator.Text!.Code);
        Assert.Equal("Exports.DecideAtCommandLine", operatorsByPortal.Text!.Code);
        Assert.Equal(ExportRequestStatus.Waiting, (await register.RequestAsync(TeamA, inPortal.RequestId)).Status);
        Assert.Equal(ExportRequestStatus.Approved, byOtherOperator.Status);
    }

    [Fact]
    public async Task TheChangesForTheRegistry_AreTheProvincesOnly()
    {
        var register = await RegisterAsync();
        var seen = new List<Watermark>();

        var asked = await Assert.ThrowsAsync<UserErrorException>(() => register.RequestAsync(TeamA,
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.District("230102"), null, "one district's changes"), From));
        var taken = await Assert.ThrowsAsync<UserErrorException>(() => register.TakeAsync(TeamA,
            new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.School("2301000001"), null), From, Produce(seen)));

        Assert.Equal("Exports.ScopeNotForKind", asked.Text!.Code);
        Assert.Equal("Exports.ScopeNotForKind", taken.Text!.Code);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task AFoundFile_IsKnownByItsBytes_OrAPartOfIt_BeforeTheIdItsWatermarkClaims()
    {
        var register = await RegisterAsync();
        var order = new ExportOrder(ExportKind.Worksheet, ExportForm.Full, ExportScope.School("2301000002"), null);
        var first = await register.TakeAsync(TeamA, order, From, Produce([], "first"));
        var csv = Encoding.UTF8.GetBytes("inside,a,zip\r\n");
        var second = await register.TakeAsync(TeamB, order, From, (watermark, _) => Task.FromResult(new ExportContent("bundle.zip", 1, ["a"],
            Encoding.UTF8.GetBytes("zip " + watermark.ExportId), Parts: [new ExportPart("inside.csv", Convert.ToHexStringLower(SHA256.HashData(csv)))])));

        // The first export's watermark copied onto the second's bytes: the bytes say who took them.
        var copied = await register.IdentifyAsync(TeamA, first.ExportId, second.Sha256, From);
        var part = await register.IdentifyAsync(TeamA, null, Convert.ToHexStringLower(SHA256.HashData(csv)), From);

        Assert.Equal((second.ExportId, "sha256", "team-b"), (copied?.ExportId, copied?.FoundBy, copied?.TakenBy));
        Assert.Equal((second.ExportId, "part"), (part?.ExportId, part?.FoundBy));
    }

    [Fact]
    public async Task ThePortalsRole_CannotApproveItsOwnRequest_NorRewriteOrDeleteTheRegister()
    {
        var register = await RegisterAsync();
        var request = await register.RequestAsync(TeamA,
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, "the registry's import"), From);
        var taken = await register.RequestAsync(TeamA,
            new ExportRequestDraft(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, "the registry's import, again"), From);
        await register.DecideAsync(TeamB, taken.RequestId, true, null, From);
        await register.TakeAsync(TeamA, new ExportOrder(ExportKind.Changes, ExportForm.Full, ExportScope.Province, null, RequestId: taken.RequestId),
            From, Produce([]));
        await using var app = await db.AppDataSourceAsync() is var source ? source.CreateConnection() : null!;
        await app.OpenAsync();

        async Task<string> SqlStateAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, app);
            command.Parameters.AddWithValue("id", request.RequestId);
            var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            return error.SqlState;
        }

        Assert.Equal(PostgresErrorCodes.CheckViolation, await SqlStateAsync(
            "UPDATE export.request SET decision = 'approved', decided_by = requested_by, decided_at = now(), expires_at = now() + interval '1 day' WHERE request_id = @id"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, await SqlStateAsync(
            "UPDATE export.request SET decision = 'approved', decided_by = 'cli:someone', decided_at = now(), expires_at = now() + interval '1 day' WHERE request_id = @id"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, await SqlStateAsync(
            "UPDATE export.request SET taken_at = now(), export_id = 'EX0000000000' WHERE request_id = @id"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, await SqlStateAsync("DELETE FROM export.request WHERE request_id = @id"));

        // What was decided and taken stays: not undone, not moved, not renamed.
        async Task<string> TakenStateAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, app);
            command.Parameters.AddWithValue("id", taken.RequestId);
            return (await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync())).SqlState;
        }

        Assert.Equal(PostgresErrorCodes.CheckViolation, await TakenStateAsync("UPDATE export.request SET taken_at = NULL, export_id = NULL WHERE request_id = @id"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, await TakenStateAsync("UPDATE export.request SET expires_at = now() + interval '9 days' WHERE request_id = @id"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, await TakenStateAsync("UPDATE export.request SET decided_by = 'team-c' WHERE request_id = @id"));
        Assert.Equal(ExportRequestStatus.Taken, (await register.RequestAsync(TeamA, taken.RequestId)).Status);
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, await SqlStateAsync("UPDATE export.request SET purpose = 'other' WHERE request_id = @id"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, await SqlStateAsync("DELETE FROM export.file WHERE request_id = @id"));
    }
}
