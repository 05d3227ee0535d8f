using ClosedXML.Excel;
using StudentDataQuality.Application.Exports;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;
using StudentDataQuality.Identifiers;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Tests.Exports;

/// <summary>
/// The problem list (docs/exports.md, "The problem list") over a round run by the jobs, written on the portal's database
/// role and read back with ClosedXML: a district's list holds every open finding of its schools and nothing of another
/// district's; masked, it holds no full ID number, phone or student number; in full, the values as held; the scope is the
/// reader's or refused.
/// </summary>
[Trait("Category", "Security")]
public sealed class ProblemListTests(PortalRound round) : IClassFixture<PortalRound>
{
    // Columns of the sheet (1-based), as ProblemListExport writes them.
    private const int District = 1, School = 2, StudentNo = 4, Name = 5, Rule = 8, Severity = 10, Field = 11, Value = 12, FirstSeen = 13;

    private DatabaseFixture Db => round.Database;

    [Fact]
    public async Task ADistrictsMaskedList_HoldsEveryOpenFindingOfItsSchools_AndNoFullIdNumberPhoneOrStudentNumber()
    {
        var district = await BusiestDistrictAsync();
        var expected = await Db.ScalarAsync<long>("""
            SELECT count(*) FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d
            """, ("r", round.Run.RoundId), ("d", district));
        Assert.True(expected > 0);

        var (rows, fields, sheet) = await WriteAsync(new Account("district-list", AccountRole.District, DistrictCode: district),
            ExportScope.District(district), ExportForm.Masked, WorksheetLanguage.Chinese);

        Assert.Equal(expected, rows);
        Assert.Equal(expected, sheet.Count);
        Assert.Contains("student_no", fields);
        Assert.All(sheet, row => Assert.Equal(district, row[District]));
        Assert.Equal(await ListAsync("""
            SELECT DISTINCT f.school_code FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d ORDER BY 1
            """, ("r", round.Run.RoundId), ("d", district)), sheet.Select(r => r[School]).Distinct().Order(StringComparer.Ordinal));

        // Nothing whole of what the policy masks: the ID numbers, guardians' ID numbers, phones and student numbers of
        // every record of the district's schools, and every finding's value on those fields.
        var text = string.Join("\n", sheet.SelectMany(r => r));
        var secrets = await ListAsync("""
            SELECT DISTINCT v FROM registry.current_record r JOIN access.school_district d ON d.school_code = r.school_code,
                   unnest(ARRAY[r.id_number_raw, r.guardian_id_number_raw, r.guardian_phone_raw, r.student_no_raw]) v
            WHERE  r.round_id = @r AND d.district_code = @d AND length(btrim(v)) >= 11
            UNION
            SELECT DISTINCT f.value FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d
              AND  f.field IN ('id_number', 'guardian_id_number', 'guardian_phone', 'student_no') AND length(btrim(f.value)) >= 11
            """, ("r", round.Run.RoundId), ("d", district));
        Assert.True(secrets.Count > 100, $"{secrets.Count} values to look for");
        Assert.All(secrets, secret => Assert.DoesNotContain(secret.Trim(), text, StringComparison.Ordinal));

        // Masked by the one policy, names in full.
        var studentNos = await ListAsync("""
            SELECT DISTINCT f.student_no FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d AND f.student_no IS NOT NULL
            """, ("r", round.Run.RoundId), ("d", district));
        Assert.Equal(studentNos.Select(s => Masking.StudentNo(s)!).Order(StringComparer.Ordinal).ToList(),
            sheet.Select(r => r[StudentNo]).Where(s => s.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList());
        var names = await ListAsync("""
            SELECT DISTINCT r.name FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            JOIN   registry.current_record r ON r.record_id = f.record_id AND r.round_id = f.round_id
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d AND r.name <> ''
            """, ("r", round.Run.RoundId), ("d", district));
        Assert.NotEmpty(names);
        var namesInFile = sheet.Select(r => r[Name]).ToHashSet(StringComparer.Ordinal);
        Assert.All(names, name => Assert.Contains(name, namesInFile));

        // In the language: the rule's title, the field's header, the severity, the round it was first seen in.
        Assert.All(sheet, row => Assert.Contains(row[Severity], new[] { "错误", "警告" }));
        Assert.Contains(sheet, row => row[Field] == "身份证件号");
        Assert.All(sheet, row => Assert.Equal("portal", row[FirstSeen]));
    }

    [Fact]
    public async Task TheFullForm_HoldsTheValuesAsHeld_AndAFormulaLikeValueStaysText()
    {
        var district = await BusiestDistrictAsync();
        // A hostile value, as a registrar could have typed it into a name: written as text, never as a formula.
        const string Hostile = "=HYPERLINK(\"http://example.invalid/\",\"点我\")";
        var hostileFinding = await Db.ScalarAsync<long>("""
            SELECT min(f.finding_id) FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d AND f.field NOT IN ('id_number', 'guardian_id_number', 'guardian_phone', 'student_no')
            """, ("r", round.Run.RoundId), ("d", district));
        var before = await Db.ScalarAsync<string?>("SELECT value FROM quality.finding WHERE finding_id = @f", ("f", hostileFinding));
        await Db.ExecuteAsync("UPDATE quality.finding SET value = @v WHERE finding_id = @f", ("v", Hostile), ("f", hostileFinding));
        try
        {
            using var file = new MemoryStream();
            var (rows, _) = await new ProblemListExport(await Db.AppDataSourceAsync()).WriteAsync(Account.Operator("team-list"), round.Run.RoundId,
                ExportScope.District(district), ExportForm.Full, WorksheetLanguage.English, file);
            file.Position = 0;
            using var book = new XLWorkbook(file);
            var sheet = book.Worksheet("Problem list");
            Assert.Equal("Student number", sheet.Cell(1, StudentNo).GetString());

            // Every finding's student number, rule and value as the database holds them, row for row.
            var held = await ListAsync("""
                SELECT concat_ws('|', coalesce(f.student_no, ''), f.rule_id, coalesce(f.value, ''))
                FROM   quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
                WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d
                """, ("r", round.Run.RoundId), ("d", district));
            var written = Enumerable.Range(2, rows).Select(r => string.Join('|', sheet.Cell(r, StudentNo).GetString(), sheet.Cell(r, Rule).GetString(),
                sheet.Cell(r, Value).GetString())).ToList();
            Assert.Equal(held.Order(StringComparer.Ordinal), written.Order(StringComparer.Ordinal));

            var hostile = sheet.Column(Value).CellsUsed().Single(c => c.GetString() == Hostile);
            Assert.False(hostile.HasFormula);
            Assert.Equal("@", hostile.Style.NumberFormat.Format);
            Assert.True(hostile.Style.IncludeQuotePrefix);
            Assert.DoesNotContain(sheet.CellsUsed(), c => c.HasFormula);
        }
        finally
        {
            await Db.ExecuteAsync("UPDATE quality.finding SET value = @v WHERE finding_id = @f", ("v", (object?)before ?? DBNull.Value), ("f", hostileFinding));
        }
    }

    [Fact]
    public async Task TheProvinceList_HoldsEveryOpenFindingOfTheRound()
    {
        // In full (as an approved request takes it), so that the order of the student numbers can be seen.
        var (rows, _, sheet) = await WriteAsync(Account.Operator("team-province"), ExportScope.Province, ExportForm.Full, WorksheetLanguage.English);
        Assert.Equal(await Db.ScalarAsync<long>("SELECT count(*) FROM quality.finding WHERE round_id = @r AND status = 'open'", ("r", round.Run.RoundId)),
            rows);
        Assert.Equal(rows, sheet.Count);
        Assert.True(sheet.Select(r => r[District]).Distinct().Count() > 1, "the province's list spans its districts");
        Assert.All(sheet, row => Assert.Contains(row[Severity], new[] { "error", "warning" }));

        // In school, student number, rule order.
        var keys = sheet.Select(r => (r[School], r[StudentNo], r[Rule])).ToList();
        Assert.Equal(keys.OrderBy(k => k.Item1, StringComparer.Ordinal).ThenBy(k => k.Item2, StringComparer.Ordinal).ThenBy(k => k.Item3, StringComparer.Ordinal),
            keys);
    }

    [Fact]
    public async Task AnotherDistrictsList_ASchoolOrAManager_IsOutOfScope_AndNothingIsWritten()
    {
        var districts = await ListAsync("SELECT DISTINCT district_code FROM access.school_district WHERE district_code IS NOT NULL ORDER BY 1");
        Assert.True(districts.Count > 1, "the round has more than one district");
        var school = await Db.ScalarAsync<string>("SELECT min(school_code) FROM access.school_district WHERE district_code = @d", ("d", districts[0]));
        var export = new ProblemListExport(await Db.AppDataSourceAsync());
        var asked = new (Account Reader, ExportScope Scope)[]
        {
            (new Account("district-other", AccountRole.District, DistrictCode: districts[1]), ExportScope.District(districts[0])),
            (new Account("district-other", AccountRole.District, DistrictCode: districts[1]), ExportScope.Province),
            (new Account("district-other", AccountRole.District, DistrictCode: districts[1]), ExportScope.School(school)),
            (new Account("school-own", AccountRole.School, school), ExportScope.School(school)),
            (new Account("school-own", AccountRole.School, school, districts[0]), ExportScope.District(districts[0])),
            (new Account("manager-list", AccountRole.Manager), ExportScope.Province),
        };
        foreach (var (reader, scope) in asked)
        {
            using var file = new MemoryStream();
            var refused = await Assert.ThrowsAsync<OutOfScopeException>(() =>
                export.WriteAsync(reader, round.Run.RoundId, scope, ExportForm.Masked, WorksheetLanguage.Chinese, file));
            Assert.Equal("problem list", refused.What);
            Assert.Equal(0, file.Length);
        }

        // A district's own school is its to take.
        using var own = new MemoryStream();
        var (rows, _) = await export.WriteAsync(new Account("district-own", AccountRole.District, DistrictCode: districts[0]), round.Run.RoundId,
            ExportScope.School(school), ExportForm.Masked, WorksheetLanguage.Chinese, own);
        Assert.Equal(await Db.ScalarAsync<long>("SELECT count(*) FROM quality.finding WHERE round_id = @r AND status = 'open' AND school_code = @s",
            ("r", round.Run.RoundId), ("s", school)), rows);

        // A round that is not there: said so.
        var missing = await Assert.ThrowsAsync<UserErrorException>(() => export.WriteAsync(Account.Operator("team-list"), 999_999, ExportScope.Province,
            ExportForm.Masked, WorksheetLanguage.Chinese, new MemoryStream()));
        Assert.Equal("ProblemList.NoRound", missing.Text?.Code);
    }

    [Fact]
    public async Task ADistrict_TakesItsMaskedListThroughTheRegister_Watermarked_OnRecord_ButInFullOnlyByRequest()
    {
        var district = await BusiestDistrictAsync();
        var office = new Account("district-register", AccountRole.District, DistrictCode: district);
        var dataSource = await Db.AppDataSourceAsync();
        var register = new ExportRegister(dataSource);

        Task<ExportContent> Produce(ExportForm form, Watermark watermark, CancellationToken cancellationToken) =>
            ProduceAsync(new ProblemListExport(dataSource), office, ExportScope.District(district), form, watermark, cancellationToken);

        var taken = await register.TakeAsync(office, new ExportOrder(ExportKind.ProblemList, ExportForm.Masked, ExportScope.District(district),
            round.Run.RoundId), "127.0.0.1", (watermark, cancellationToken) => Produce(ExportForm.Masked, watermark, cancellationToken));

        // The file names its export, and the register holds what left: the rows, the fields, masked, its sha256.
        Assert.Equal(ExportId.Normalise(taken.ExportId), ExportId.Normalise(XlsxWatermark.Read(new MemoryStream(taken.Bytes!))?.ExportId));
        var recorded = await Db.ScalarAsync<string>("""
            SELECT concat_ws('|', kind, form, scope, rows, array_to_string(fields, ','), sha256) FROM export.file WHERE taken_by = 'district-register'
            """);
        var expected = await Db.ScalarAsync<long>("""
            SELECT count(*) FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
            WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code = @d
            """, ("r", round.Run.RoundId), ("d", district));
        Assert.Equal($"problem_list|masked|district:{district}|{expected}|{string.Join(',', ProblemListExport.Fields)}|{taken.Sha256}", recorded);

        // In full, a district's list is a bulk export of personal data: only by an approved request, and nothing is made.
        var made = false;
        var refused = await Assert.ThrowsAsync<UserErrorException>(() => register.TakeAsync(office, new ExportOrder(ExportKind.ProblemList, ExportForm.Full,
            ExportScope.District(district), round.Run.RoundId), "127.0.0.1", (watermark, cancellationToken) =>
            {
                made = true;
                return Produce(ExportForm.Full, watermark, cancellationToken);
            }));
        Assert.Equal("Exports.RequestNeeded", refused.Text?.Code);
        Assert.False(made);
        Assert.Equal(1L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE taken_by = 'district-register'"));
    }

    private async Task<ExportContent> ProduceAsync(ProblemListExport export, Account reader, ExportScope scope, ExportForm form,
        Watermark watermark, CancellationToken cancellationToken)
    {
        using var file = new MemoryStream();
        var (rows, fields) = await export.WriteAsync(reader, round.Run.RoundId, scope, form, WorksheetLanguage.Chinese, file, cancellationToken);
        return new ExportContent("问题清单.xlsx", rows, fields, XlsxWatermark.Apply(file.ToArray(), watermark));
    }

    private Task<string> BusiestDistrictAsync() => Db.ScalarAsync<string>("""
        SELECT d.district_code FROM quality.finding f JOIN access.school_district d ON d.school_code = f.school_code
        WHERE  f.round_id = @r AND f.status = 'open' AND d.district_code IS NOT NULL
        GROUP  BY d.district_code ORDER BY count(DISTINCT f.school_code) DESC, count(*) DESC, 1 LIMIT 1
        """, ("r", round.Run.RoundId));

    /// <summary>Writes a list on the portal's database role and reads every data row back (cells as text, indexed by column number from 1).</summary>
    private async Task<(int Rows, IReadOnlyList<string> Fields, List<string[]> Sheet)> WriteAsync(Account reader, ExportScope scope, ExportForm form,
        WorksheetLanguage language)
    {
        using var file = new MemoryStream();
        var (rows, fields) = await new ProblemListExport(await Db.AppDataSourceAsync()).WriteAsync(reader, round.Run.RoundId, scope, form, language, file);
        file.Position = 0;
        using var book = new XLWorkbook(file);
        var sheet = book.Worksheets.Single();
        var read = Enumerable.Range(2, sheet.LastRowUsed()!.RowNumber() - 1)
            .Select(r => Enumerable.Range(0, 14).Select(c => c == 0 ? "" : sheet.Cell(r, c).GetString()).ToArray()).ToList();
        return (rows, fields, read);
    }

    private async Task<List<string>> ListAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Db.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var list = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }
}
