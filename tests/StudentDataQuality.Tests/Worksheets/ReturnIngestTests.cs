using StudentDataQuality.Application;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Jobs;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// Returned worksheets taken back on a generated province: edits made with the Open XML SDK as a registrar's program
/// would, ingested as the school's account, and the database, the re-check and the receipt compared with the edits.
/// </summary>
public sealed class ReturnIngestTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A school's rows with a wrong check character (F03), with the number corrected.</summary>
    private static async Task<(IssuedFile File, List<(string RowKey, long RecordId, string Fixed)> Rows)> CheckCharacterRowsAsync(IngestScenario scenario)
    {
        var candidates = new List<(string School, string RowKey, long RecordId, string Value)>();
        await using (var command = scenario.DataSource.CreateCommand("""
            SELECT w.school_code, wr.row_key, wr.record_id, f.value
            FROM   quality.finding f
            JOIN   registry.round r ON r.round_id = f.round_id
            JOIN   exchange.worksheet_row wr ON wr.round_id = f.round_id AND wr.record_id = f.record_id
            JOIN   exchange.worksheet w ON w.worksheet_id = wr.worksheet_id
            WHERE  r.code = @round AND f.rule_id = 'F03' AND f.status = 'open'
              AND  NOT EXISTS (SELECT 1 FROM quality.finding o WHERE o.round_id = f.round_id AND o.record_id = f.record_id
                               AND o.status = 'open' AND o.finding_id <> f.finding_id)
            """))
        {
            command.Parameters.AddWithValue("round", scenario.Round);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                candidates.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3)));
            }
        }

        var school = candidates.GroupBy(c => c.School).OrderByDescending(g => g.Count()).First();
        var file = scenario.Files.Single(f => f.SchoolCode == school.Key);
        return (file, school.Select(c => (c.RowKey, c.RecordId, c.Value[..17] + ResidentId.ComputeCheckCharacter(c.Value.AsSpan(0, 17)))).ToList());
    }

    private static byte[] Edit(byte[] issued, Action<RegistrarEdits, ReturnedWorkbook> edit)
    {
        var layout = IngestScenario.Read(issued);
        using var edits = new RegistrarEdits(issued, layout.Meta.Language);
        edit(edits, layout);
        return edits.Save();
    }

    private static int Row(ReturnedWorkbook layout, string rowKey) => layout.Rows.Single(r => r.RowKey == rowKey).ExcelRow;

    private static int Column(ReturnedWorkbook layout, string marker) => layout.ColumnNumbers[marker];

    private static string ActionLabel(WorksheetAction action) => action.Label(WorksheetLanguage.Chinese);

    [Fact]
    public async Task Corrections_AreApplied_ReCheckedAtOnce_AndKeptWithTheirCell()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-fix");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        var returned = Edit(scenario.Issued(file), (e, layout) =>
        {
            foreach (var row in rows)
            {
                e.Type(Row(layout, row.RowKey), Column(layout, "field.id_number"), row.Fixed);
                e.Type(Row(layout, row.RowKey), Column(layout, "action"), ActionLabel(WorksheetAction.Corrected));
            }
        });

        var result = await scenario.IngestAsync(file, returned);

        Assert.False(result.AlreadyIngested);
        Assert.NotNull(result.CheckRunId);
        foreach (var row in rows)
        {
            var line = Assert.Single(result.Receipt.Rows, r => r.RowKey == row.RowKey);
            Assert.Equal(ReceiptOutcome.AppliedClean, line.Outcome);
            var change = Assert.Single(line.Changes);
            Assert.Equal(("id_number", row.Fixed), (change.Field, change.NewValue));
            Assert.Empty(await scenario.OpenFindingsAsync(row.RecordId));
            // The new version is the current one, typed and with its identity facts worked out like a staged row.
            Assert.Equal("2|" + row.Fixed + "|t", await scenario.ScalarAsync<string>("""
                SELECT concat_ws('|', version, id_number, id_number_check_ok) FROM registry.current_record WHERE record_id = @id
                """, ("id", row.RecordId)));
            Assert.Equal(1L, await scenario.ScalarAsync<long>("SELECT count(*) FROM registry.record_version WHERE record_id = @id AND is_current",
                ("id", row.RecordId)));
            // The correction names the cell it came from.
            var layout = IngestScenario.Read(returned);
            var cell = OpenXmlWorkbook.Reference(Row(layout, row.RowKey), Column(layout, "field.id_number"));
            Assert.Equal($"{cell}|1|2|{result.Receipt.ReturnId}", await scenario.ScalarAsync<string>("""
                SELECT concat_ws('|', cell, from_version, to_version, return_id) FROM exchange.correction WHERE record_id = @id
                """, ("id", row.RecordId)));
        }

        Assert.All(result.Receipt.Rows.Where(r => rows.All(x => x.RowKey != r.RowKey)), r => Assert.Equal(ReceiptOutcome.Unchanged, r.Outcome));
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event e JOIN registry.round r USING (round_id) WHERE e.action = 'worksheet.return' AND e.actor = @actor AND r.code = @round",
            ("actor", IngestScenario.SchoolAccount(file.SchoolCode)), ("round", scenario.Round)));
    }

    [Fact]
    public async Task TheSameBytesTwice_ChangeNothing_AndGiveTheEarlierReceipt()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-twice");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        var returned = Edit(scenario.Issued(file), (e, layout) => e.Type(Row(layout, rows[0].RowKey), Column(layout, "field.id_number"), rows[0].Fixed));
        var first = await scenario.IngestAsync(file, returned);
        var state = await scenario.StateAsync();

        var second = await scenario.IngestAsync(file, returned, name: "renamed copy.xlsx");

        Assert.True(second.AlreadyIngested);
        Assert.Equal(first.Receipt.ReturnId, second.Receipt.ReturnId);
        Assert.Equal(first.Receipt.Rows.Select(r => (r.RowKey, r.Outcome)), second.Receipt.Rows.Select(r => (r.RowKey, r.Outcome)));
        Assert.Equal(state.Split(',')[..^1], (await scenario.StateAsync()).Split(',')[..^1]);
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event e JOIN registry.round r USING (round_id) WHERE e.action = 'worksheet.return.repeat' AND r.code = @round",
            ("round", scenario.Round)));
    }

    [Fact]
    public async Task ALaterReturnOfTheSameWorksheet_AppliesOnlyWhatChangedSince()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-later");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        Assert.True(rows.Count >= 2, "the scenario needs a school with two F03 rows");
        var issued = scenario.Issued(file);
        var firstReturn = Edit(issued, (e, layout) => e.Type(Row(layout, rows[0].RowKey), Column(layout, "field.id_number"), rows[0].Fixed));
        await scenario.IngestAsync(file, firstReturn);
        // The registrar goes on in the same file: the first fix is still there, a second one is added.
        var secondReturn = Edit(firstReturn, (e, layout) => e.Type(Row(layout, rows[1].RowKey), Column(layout, "field.id_number"), rows[1].Fixed));

        var result = await scenario.IngestAsync(file, secondReturn);

        Assert.Equal(ReceiptOutcome.Unchanged, result.Receipt.Rows.Single(r => r.RowKey == rows[0].RowKey).Outcome);
        Assert.Equal(ReceiptOutcome.AppliedClean, result.Receipt.Rows.Single(r => r.RowKey == rows[1].RowKey).Outcome);
        Assert.Equal(2L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM exchange.correction c JOIN registry.round r USING (round_id) WHERE r.code = @round", ("round", scenario.Round)));
        Assert.Equal(2, await scenario.ScalarAsync<int>("SELECT version FROM registry.current_record WHERE record_id = @id", ("id", rows[0].RecordId)));
    }

    [Fact]
    public async Task Confirmed_WaitsForReview_AndRemoved_IsMarkedNotDeleted()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-actions");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        Assert.True(rows.Count >= 2, "the scenario needs a school with two F03 rows");
        var returned = Edit(scenario.Issued(file), (e, layout) =>
        {
            e.Type(Row(layout, rows[0].RowKey), Column(layout, "action"), ActionLabel(WorksheetAction.Confirmed));
            e.Type(Row(layout, rows[0].RowKey), Column(layout, "explanation"), "证件号码与户口本一致");
            e.Type(Row(layout, rows[1].RowKey), Column(layout, "action"), ActionLabel(WorksheetAction.RemoveRegistration));
            e.Type(Row(layout, rows[1].RowKey), Column(layout, "explanation"), "已转学");
        });
        var versions = await scenario.ScalarAsync<long>("SELECT count(*) FROM registry.record_version");

        var result = await scenario.IngestAsync(file, returned);

        var confirmed = result.Receipt.Rows.Single(r => r.RowKey == rows[0].RowKey);
        Assert.Equal(ReceiptOutcome.AwaitingReview, confirmed.Outcome);
        Assert.Contains(result.Receipt.StillOpen, p => p.AwaitingReview && p.Problem.RuleId == "F03");
        Assert.Equal("pending|证件号码与户口本一致|{F03||" + file.SchoolCode, await scenario.ScalarAsync<string>("""
            SELECT concat_ws('|', status, text, left(fingerprints::text, 5) || '|' || school_code) FROM exchange.explanation WHERE record_id = @id
            """, ("id", rows[0].RecordId)));
        Assert.Equal([("F03", "id_number")], await scenario.OpenFindingsAsync(rows[0].RecordId));

        Assert.Equal(ReceiptOutcome.Removed, result.Receipt.Rows.Single(r => r.RowKey == rows[1].RowKey).Outcome);
        Assert.Equal(versions + 1, await scenario.ScalarAsync<long>("SELECT count(*) FROM registry.record_version"));
        Assert.Equal("2|t", await scenario.ScalarAsync<string>(
            "SELECT concat_ws('|', version, registration_removed) FROM registry.record WHERE record_id = @id AND is_current", ("id", rows[1].RecordId)));
        Assert.Equal(0L, await scenario.ScalarAsync<long>("SELECT count(*) FROM registry.current_record WHERE record_id = @id", ("id", rows[1].RecordId)));
        Assert.Equal("removed", await scenario.ScalarAsync<string>(
            "SELECT string_agg(DISTINCT status, ',') FROM quality.finding WHERE record_id = @id AND rule_id = 'F03'", ("id", rows[1].RecordId)));
        Assert.Equal("removal|已转学", await scenario.ScalarAsync<string>(
            "SELECT concat_ws('|', kind, reason) FROM exchange.correction WHERE record_id = @id", ("id", rows[1].RecordId)));
    }

    [Fact]
    public async Task TheDataTeamsReview_ConfirmsTheExplainedFindings_OrLeavesThemOpen()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-review");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        Assert.True(rows.Count >= 2, "the scenario needs a school with two F03 rows");
        var returned = Edit(scenario.Issued(file), (e, layout) =>
        {
            foreach (var (row, text) in new[] { (rows[0], "与户口本一致"), (rows[1], "无误") })
            {
                e.Type(Row(layout, row.RowKey), Column(layout, "action"), ActionLabel(WorksheetAction.Confirmed));
                e.Type(Row(layout, row.RowKey), Column(layout, "explanation"), text);
            }
        });
        await scenario.IngestAsync(file, returned);
        var review = new ExplanationReview(scenario.DataSource);
        var pending = await review.PendingAsync(scenario.Round, file.SchoolCode);
        Assert.Equal(2, pending.Count);
        Assert.All(pending, p => Assert.Equal(["F03"], p.RuleIds));
        var accepted = pending.Single(p => p.Text == "与户口本一致");
        var refused = pending.Single(p => p.Text == "无误");

        await Assert.ThrowsAsync<UserErrorException>(() => review.DecideAsync(refused.ExplanationId, false, null, Account.Operator("data-team")));
        await Assert.ThrowsAsync<UserErrorException>(() => review.DecideAsync(accepted.ExplanationId, true, null, IngestScenario.AccountOf(file.SchoolCode)));
        Assert.Equal(1, await review.DecideAsync(accepted.ExplanationId, true, null, Account.Operator("data-team")));
        Assert.Equal(0, await review.DecideAsync(refused.ExplanationId, false, "请提供户口本复印件", Account.Operator("data-team")));

        Assert.Empty(await scenario.OpenFindingsAsync(rows[0].RecordId));
        Assert.Equal("confirmed", await scenario.ScalarAsync<string>(
            "SELECT status FROM quality.finding WHERE record_id = @id AND rule_id = 'F03' ORDER BY finding_id DESC LIMIT 1", ("id", rows[0].RecordId)));
        Assert.Equal([("F03", "id_number")], await scenario.OpenFindingsAsync(rows[1].RecordId));
        Assert.Empty(await review.PendingAsync(scenario.Round, file.SchoolCode));
        await Assert.ThrowsAsync<UserErrorException>(() => review.DecideAsync(accepted.ExplanationId, false, "again", Account.Operator("data-team")));
        Assert.Equal(2L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event e JOIN registry.round r USING (round_id) WHERE r.code = @round AND e.action LIKE 'explanation.%'",
            ("round", scenario.Round)));
        // A confirmed finding stays confirmed through a later check while its value is the same.
        await new StudentDataQuality.Data.Quality.CheckRunner(scenario.DataSource).RunAsync(scenario.Round, "test");
        Assert.Empty(await scenario.OpenFindingsAsync(rows[0].RecordId));
    }

    [Fact]
    public async Task Lineage_TracesEveryChangedValue_FromTheExtractRowToTheReCheck_AndTheChangeSetCarriesItsId()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-lineage");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        var row = rows[0];
        var returned = Edit(scenario.Issued(file), (e, layout) => e.Type(Row(layout, row.RowKey), Column(layout, "field.id_number"), row.Fixed));
        var result = await scenario.IngestAsync(file, returned);
        var studentNo = await scenario.ScalarAsync<string>("SELECT student_no FROM registry.current_record WHERE record_id = @id", ("id", row.RecordId));

        var lineage = Assert.Single(await new LineageReader(scenario.DataSource).ReadAsync(studentNo, scenario.Round, Account.Operator("data-team")));

        Assert.Equal([1, 2], lineage.Versions.Select(v => v.Version));
        var source = lineage.Versions[0].Source!;
        Assert.Equal(await scenario.ScalarAsync<string>("SELECT s.sha256 FROM staging.source_file s JOIN registry.record_version v USING (file_id) WHERE v.record_id = @id",
            ("id", row.RecordId)), source.Sha256);
        Assert.Equal(result.Receipt.ReturnId, lineage.Versions[1].ReturnId);
        var correction = Assert.Single(lineage.Corrections);
        var layout = IngestScenario.Read(returned);
        Assert.Equal(("id_number", lineage.Versions[0].Values["id_number"], row.Fixed, OpenXmlWorkbook.Reference(Row(layout, row.RowKey), Column(layout, "field.id_number"))),
            (correction.Field, correction.OldValue, correction.NewValue, correction.Cell));
        Assert.Equal(row.Fixed, lineage.Versions[1].Values["id_number"]);
        var returnedFile = Assert.Single(lineage.Returns);
        Assert.Equal((IngestScenario.SchoolAccount(file.SchoolCode), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(returned))),
            (returnedFile.ReceivedBy, returnedFile.Sha256));
        Assert.Equal(file.Sha256, Assert.Single(lineage.Worksheets).Sha256);
        var f03 = lineage.Findings.Where(f => f.RuleId == "F03").ToList();
        Assert.Contains(f03, f => f.RecordVersion == 1 && f.RunScope == "full" && f.Status == "resolved" && f.ClosedRunId == result.CheckRunId);

        var prov = ProvJson.Build([lineage]);
        var revision = prov["wasDerivedFrom"]!.AsObject().Select(p => p.Value!.AsObject())
            .Single(r => (string?)r["prov:generatedEntity"] == $"sdq:value/{row.RecordId}/v2/id_number" && r.ContainsKey("sdq:cell"));
        Assert.Equal($"sdq:return/{result.Receipt.ReturnId}", (string?)revision["prov:usedEntity"]);
        Assert.NotNull(prov["entity"]![$"sdq:file/{source.Sha256}"]);
        Assert.NotNull(prov["activity"]![$"sdq:check/{result.CheckRunId}"]);
        Assert.NotNull(prov["agent"]![$"sdq:account/{IngestScenario.SchoolAccount(file.SchoolCode)}"]);
        // A school sees only its own students' lineage.
        Assert.Empty(await new LineageReader(scenario.DataSource).ReadAsync(studentNo, scenario.Round,
            IngestScenario.AccountOf(scenario.Files.First(f => f.SchoolCode != file.SchoolCode).SchoolCode)));

        var path = Path.Combine(_temp.Path, "changes.csv");
        var changes = await new ChangeSetWriter(scenario.DataSource).WriteAsync(scenario.Round, path, Account.Operator("data-team"), StudentDataQuality.Tests.Infrastructure.TestWatermarks.Changes);
        Assert.Equal((1, 0), (changes.Corrected, changes.Removed));
        var lines = File.ReadAllLines(path);
        Assert.StartsWith("全国学籍号", lines[0].TrimStart('\uFEFF'), StringComparison.Ordinal);
        Assert.Contains(row.Fixed, lines[1], StringComparison.Ordinal);
        Assert.EndsWith($"变更,身份证件号,sdq:record/{row.RecordId}/v2,{IngestScenario.SchoolAccount(file.SchoolCode)}", lines[1][..lines[1].LastIndexOf(',')],
            StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("return")]
    [InlineData("versions")]
    [InlineData("recheck")]
    [InlineData("receipt")]
    public async Task AFailureAtAnyStep_LeavesNothingOfTheFile(string step)
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-crash-" + step);
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        var returned = Edit(scenario.Issued(file), (e, layout) =>
        {
            e.Type(Row(layout, rows[0].RowKey), Column(layout, "field.id_number"), rows[0].Fixed);
            e.Type(Row(layout, rows[^1].RowKey), Column(layout, "action"), ActionLabel(WorksheetAction.RemoveRegistration));
            e.Type(Row(layout, rows[^1].RowKey), Column(layout, "explanation"), "重复注册");
        });
        var before = await scenario.StateAsync();

        var failing = scenario.Ingest(s => { if (s == step) { throw new IOException("the machine went away at " + s); } });
        await Assert.ThrowsAsync<IOException>(() =>
            failing.IngestAsync(new MemoryStream(returned), "return.xlsx", IngestScenario.AccountOf(file.SchoolCode)));

        Assert.Equal(before, await scenario.StateAsync());
        // Once the machine is back, the same file goes in whole.
        var result = await scenario.IngestAsync(file, returned);
        Assert.False(result.AlreadyIngested);
        Assert.Equal(ReceiptOutcome.AppliedClean, result.Receipt.Rows.Single(r => r.RowKey == rows[0].RowKey).Outcome);
    }

    [Fact]
    public async Task AnotherSchoolsWorksheet_IsRefused_ChangingNothing_AndTheRefusalIsAudited()
    {
        var scenario = await IngestScenario.CreateAsync(db.DataSource, _temp.Path, "in-other");
        var (file, rows) = await CheckCharacterRowsAsync(scenario);
        var returned = Edit(scenario.Issued(file), (e, layout) => e.Type(Row(layout, rows[0].RowKey), Column(layout, "field.id_number"), rows[0].Fixed));
        var other = scenario.Files.First(f => f.SchoolCode != file.SchoolCode).SchoolCode;
        var before = await scenario.StateAsync();

        var refusal = await Assert.ThrowsAsync<WorksheetRejectedException>(() => scenario.IngestAsync(file, returned, IngestScenario.AccountOf(other)));

        Assert.Equal(WorksheetRejection.OtherSchool, refusal.Code);
        Assert.Contains(file.SchoolCode, refusal.MessageIn(WorksheetLanguage.English), StringComparison.Ordinal);
        Assert.Equal(before, await scenario.StateAsync());
        Assert.Equal(1L, await scenario.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'worksheet.return.refused' AND actor = @actor AND details->>'code' = 'OtherSchool' AND details->>'sha256' = @sha",
            ("actor", IngestScenario.SchoolAccount(other)), ("sha", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(returned)))));
        // The data team may return any school's worksheet.
        var result = await scenario.IngestAsync(file, returned, Account.Operator("data-team"));
        Assert.Equal(ReceiptOutcome.AppliedClean, result.Receipt.Rows.Single(r => r.RowKey == rows[0].RowKey).Outcome);
    }
}
