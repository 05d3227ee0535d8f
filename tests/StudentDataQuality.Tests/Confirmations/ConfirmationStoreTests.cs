using Npgsql;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Data.Confirmations;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Confirmations;

/// <summary>A staged and checked round of a small generated province, with a class teacher of one of its classes.</summary>
public sealed class ConfirmationRound : IAsyncLifetime
{
    private readonly TempFolder _temp = new();

    public DatabaseFixture Database { get; } = new();
    public string School { get; private set; } = "";
    public ClassKey Class { get; private set; } = null!;
    public ClassKey OtherClass { get; private set; } = null!;
    public Account Registrar => new("school-" + School, AccountRole.School, School);
    public Account Teacher => new("ct-" + School, AccountRole.ClassTeacher, School);
    public const string Round = "conf";

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        var province = ProvinceGenerator.Generate(new GeneratorOptions
        {
            Students = 800, Schools = 4, Seed = 18, DefectRate = 0.05, OutputDirectory = Path.Combine(_temp.Path, "province"),
        });
        await new ExtractService(Database.DataSource).ExtractFilesAsync(new ExtractRequest(Round, "test") { RoundDate = new DateOnly(2026, 10, 15) },
            [province.ExportDirectory]);
        await new CheckRunner(Database.DataSource).RunAsync(Round, "test");

        // The school with the most students, its two largest classes.
        var classes = await ReadAsync("""
            SELECT r.school_code, r.grade, r.class_name FROM registry.current_record r JOIN registry.round o USING (round_id)
            WHERE o.code = @round AND r.grade IS NOT NULL AND r.class_name IS NOT NULL
            GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 1, 2, 3 LIMIT 2
            """);
        School = classes[0].School;
        Class = classes[0].Class;
        OtherClass = classes.Skip(1).Select(c => c.Class).First();
        await Database.ExecuteAsync("INSERT INTO access.account (account, role, school_code, created_by) VALUES (@a, 'school', @s, 'test')",
            ("a", Registrar.Name), ("s", School));
        await Database.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, ARRAY[@g]::smallint[], ARRAY[@c], 'test')",
            ("a", Teacher.Name), ("s", School), ("g", (short)Class.Grade), ("c", Class.ClassName));
    }

    private async Task<List<(string School, ClassKey Class)>> ReadAsync(string sql)
    {
        await using var command = Database.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("round", Round);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, ClassKey)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), new ClassKey(reader.GetInt16(1), reader.GetString(2))));
        }

        return rows;
    }

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        _temp.Dispose();
    }
}

/// <summary>
/// The confirmation store against a real round: printing makes a sheet per student of the class with the registry's values;
/// a class teacher reads its own class only, and only while the campaign is open; answers are taken all or none, applied
/// as corrections and re-checked, or held for the registrar (identity fields); the registrar's approval applies them.
/// </summary>
[Collection("confirmation round")]
public sealed class ConfirmationStoreTests(ConfirmationRound round)
{
    private static readonly DateOnly Today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai")).DateTime);

    private ConfirmationStore Store => new(round.Database.DataSource);

    private static byte[] Render(IReadOnlyList<ConfirmationSheet> sheets) => "%PDF-1.4 test"u8.ToArray();

    [Fact]
    public async Task Print_MakesASheetPerStudentOfTheClass_WithTheRegistrysValues_AndIsAudited()
    {
        var printed = await Store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render);

        var students = await round.Database.ScalarAsync<long>("""
            SELECT count(*) FROM registry.current_record r JOIN registry.round o USING (round_id)
            WHERE o.code = @round AND r.school_code = @school AND r.grade = @grade AND r.class_name = @class
            """, ("round", ConfirmationRound.Round), ("school", round.School), ("grade", (short)round.Class.Grade), ("class", round.Class.ClassName));
        Assert.Equal(students, printed.Sheets.Count);
        Assert.Equal(printed.Sheets.Count, printed.Sheets.Select(s => s.SheetId).Distinct().Count());
        var sheet = printed.Sheets[0];
        Assert.Equal(sheet.SheetId, SheetId.Normalise(SheetId.Format(sheet.SheetId).ToLowerInvariant()));
        Assert.Equal(await round.Database.ScalarAsync<string>("SELECT guardian_phone_raw FROM registry.record WHERE record_id = @id AND is_current",
            ("id", sheet.RecordId)), sheet["guardian_phone"]);
        Assert.Equal(ConfirmationFields.All, sheet.Values.Select(v => v.Field));
        Assert.True(await round.Database.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT FROM audit.event WHERE action = 'confirmation.print' AND object = @print AND details ->> 'sha256' = @sha)",
            ("print", printed.PrintId.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("sha", printed.Sha256)));
        Assert.True((await Store.CampaignAsync(ConfirmationRound.Round))!.Open);
    }

    [Fact]
    public async Task Print_KeepsNothing_WhenTheRendererFails()
    {
        var before = await round.Database.ScalarAsync<long>("SELECT count(*) FROM confirm.sheet");

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, _ => throw new InvalidOperationException("no font")));

        Assert.Equal(before, await round.Database.ScalarAsync<long>("SELECT count(*) FROM confirm.sheet"));
    }

    [Fact, Trait("Category", "Security")]
    public async Task ClassTeacher_ReadsItsOwnClassOnly_AndManagersAndOtherSchoolsPrintNothing()
    {
        await Store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.OtherClass, Render);
        await Store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render);
        var own = await Store.ClassStudentsAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class);
        Assert.NotEmpty(own);

        await Assert.ThrowsAsync<OutOfScopeException>(() => Store.ClassStudentsAsync(round.Teacher, ConfirmationRound.Round, round.School, round.OtherClass));
        var other = (await Store.ClassSheetsAsync(round.Registrar, ConfirmationRound.Round, round.School, round.OtherClass))[0];
        await Assert.ThrowsAsync<OutOfScopeException>(() => Store.SheetAsync(round.Teacher, other.SheetId));
        await Assert.ThrowsAsync<OutOfScopeException>(() => Store.PrintAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class, Render));
        await Assert.ThrowsAsync<OutOfScopeException>(() =>
            Store.PrintAsync(new Account("m", AccountRole.Manager), ConfirmationRound.Round, round.School, round.Class, Render));
        await Assert.ThrowsAsync<OutOfScopeException>(() =>
            Store.PrintAsync(new Account("s", AccountRole.School, "X-OTHER"), ConfirmationRound.Round, round.School, round.Class, Render));
        await Assert.ThrowsAsync<OutOfScopeException>(() =>
            Store.AnswerAsync(round.Teacher, [new SheetAnswer(other.SheetId, Today, new Dictionary<string, string>())]));
    }

    [Fact]
    public async Task Answers_AppliedOrHeld_AndTheRegistrarsApprovalAppliesTheName()
    {
        var app = await round.Database.AppDataSourceAsync();
        var store = new ConfirmationStore(app);
        var printed = await store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render);
        var (unchanged, phone, name, badPhone) = (printed.Sheets[0], printed.Sheets[1], printed.Sheets[2], printed.Sheets[3]);

        var outcomes = await store.AnswerAsync(round.Teacher,
        [
            new SheetAnswer(SheetId.Format(unchanged.SheetId), Today, new Dictionary<string, string>()),
            new SheetAnswer(phone.SheetId, Today, new Dictionary<string, string> { ["guardian_phone"] = "13912345678", ["address"] = phone["address"] ?? "" }),
            new SheetAnswer(name.SheetId, Today, new Dictionary<string, string> { ["name"] = "王小明" }),
            new SheetAnswer(badPhone.SheetId, Today, new Dictionary<string, string> { ["guardian_phone"] = "12345" }),
        ]);

        Assert.True(outcomes[0].Unchanged);
        var applied = Assert.Single(outcomes[1].Changes);
        Assert.Equal(("guardian_phone", ChangeStatus.Applied, true), (applied.Field, applied.Status, applied.NowPasses));
        var waiting = Assert.Single(outcomes[2].Changes);
        Assert.Equal((ChangeStatus.Pending, "identity"), (waiting.Status, waiting.WaitsBecause));
        Assert.False(Assert.Single(outcomes[3].Changes).NowPasses);

        Assert.Equal("13912345678", await CurrentAsync<string>("guardian_phone_raw", phone.RecordId));
        Assert.Equal(name["name"], await CurrentAsync<string>("name_raw", name.RecordId));
        Assert.True(await round.Database.ScalarAsync<bool>("""
            SELECT EXISTS (SELECT FROM exchange.correction c JOIN confirm.change x USING (change_id)
                           WHERE c.record_id = @id AND c.field = 'guardian_phone' AND c.new_value = '13912345678' AND c.return_id IS NULL
                             AND x.change_id = @change AND x.correction_id = c.correction_id)
            """, ("id", phone.RecordId), ("change", applied.ChangeId)));
        // A value a parent gave that fails a rule is an open finding: it goes into the school's next worksheet.
        Assert.True(await round.Database.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT FROM quality.finding WHERE record_id = @id AND field = 'guardian_phone' AND status = 'open' AND value = '12345')",
            ("id", badPhone.RecordId)));

        var pending = Assert.Single(await store.PendingAsync(round.Registrar, ConfirmationRound.Round, round.School), p => p.SheetId == name.SheetId);
        Assert.Equal(("王小明", round.Teacher.Name), (pending.NewValue, pending.EnteredBy));
        await Assert.ThrowsAsync<OutOfScopeException>(() => store.DecideAsync(round.Teacher, pending.ChangeId, approve: true, null));

        var decided = await store.DecideAsync(round.Registrar, pending.ChangeId, approve: true, "birth certificate seen");

        Assert.Equal(ChangeStatus.Applied, decided.Status);
        Assert.Equal("王小明", await CurrentAsync<string>("name_raw", name.RecordId));
        Assert.True(await round.Database.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT FROM confirm.change WHERE change_id = @id AND decided_by = @by AND correction_id IS NOT NULL)",
            ("id", pending.ChangeId), ("by", round.Registrar.Name)));
        var again = await Assert.ThrowsAsync<UserErrorException>(() => store.DecideAsync(round.Registrar, pending.ChangeId, approve: false, null));
        Assert.Contains(round.Registrar.Name, again.Message, StringComparison.Ordinal);
        // Lineage names the sheet, the class teacher who entered it, the date the parent signed and the registrar who approved.
        var lineage = Assert.Single(await new LineageReader(app).ReadRecordAsync(name.RecordId, round.Registrar, "test"), r => r.RecordId == name.RecordId);
        var correction = Assert.Single(lineage.Corrections, c => c.Field == "name");
        Assert.Null(correction.ReturnId);
        var answer = Assert.Single(lineage.Confirmations);
        Assert.Equal((name.SheetId, round.Teacher.Name, Today), (answer.SheetId, answer.EnteredBy, answer.SignedOn));
        var lineageChange = Assert.Single(answer.Changes);
        Assert.Equal(((long?)correction.ChangeId, round.Registrar.Name, (long?)correction.CorrectionId), ((long?)lineageChange.ChangeId, lineageChange.DecidedBy, lineageChange.CorrectionId));
        Assert.Equal(lineageChange.ChangeId, lineage.Versions[^1].ChangeId);
        var prov = ProvJson.Build([lineage]).ToJsonString();
        Assert.Contains($"sdq:confirmation/{name.SheetId}", prov, StringComparison.Ordinal);
        Assert.Contains($"sdq:account/{round.Registrar.Name}", prov, StringComparison.Ordinal);

        Assert.Equal(4L, await round.Database.ScalarAsync<long>(
            "SELECT count(*) FROM audit.event WHERE action = 'confirmation.answer' AND object = ANY(@ids)",
            ("ids", new[] { unchanged.SheetId, phone.SheetId, name.SheetId, badPhone.SheetId })));
    }

    [Fact]
    public async Task Answers_AreTakenAllOrNone_AndTheSameAnswerTwiceOnce()
    {
        var printed = await Store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render);
        var (first, second) = (printed.Sheets[^1], printed.Sheets[^2]);
        var answers = new[]
        {
            new SheetAnswer(first.SheetId, Today, new Dictionary<string, string> { ["address"] = "幸福路 8 号" }),
            new SheetAnswer(second.SheetId, Today.AddDays(3), new Dictionary<string, string>()) { ExcelRow = 7 },
        };

        var early = await Assert.ThrowsAsync<UserErrorException>(() =>
            Store.AnswerAsync(round.Teacher, [answers[0] with { SignedOn = Today.AddDays(-1) }]));
        Assert.Contains(SheetId.Format(first.SheetId), early.Message, StringComparison.Ordinal);
        var future = await Assert.ThrowsAsync<UserErrorException>(() => Store.AnswerAsync(round.Teacher, answers, new AnswerFile("3班.xlsx", new string('a', 64))));
        Assert.Contains("3班.xlsx", future.Message, StringComparison.Ordinal);
        Assert.Contains("7", future.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await round.Database.ScalarAsync<long>("SELECT count(*) FROM confirm.answer WHERE sheet_id = ANY(@ids)",
            ("ids", new[] { first.SheetId, second.SheetId })));
        Assert.Equal(first["address"], await CurrentAsync<string>("address_raw", first.RecordId));

        var once = await Store.AnswerAsync(round.Teacher, [answers[0]]);
        var twice = await Store.AnswerAsync(round.Teacher, [answers[0]]);
        Assert.Equal(once[0].AnswerId, twice[0].AnswerId);
        Assert.Equal(1L, await round.Database.ScalarAsync<long>("SELECT count(*) FROM exchange.correction WHERE record_id = @id AND field = 'address'",
            ("id", first.RecordId)));
        var other = await Assert.ThrowsAsync<UserErrorException>(() =>
            Store.AnswerAsync(round.Teacher, [new SheetAnswer(first.SheetId, Today, new Dictionary<string, string>())]));
        Assert.Contains(round.Teacher.Name, other.Message, StringComparison.Ordinal);

        foreach (var bad in new Dictionary<string, string>[] { new() { ["school_code"] = "X" }, new() { ["address"] = "a\u0007b" }, new() { ["name"] = new string('张', 31) } })
        {
            await Assert.ThrowsAsync<UserErrorException>(() => Store.AnswerAsync(round.Teacher, [new SheetAnswer(second.SheetId, Today, bad)]));
        }

        await Assert.ThrowsAsync<UserErrorException>(() => Store.SheetAsync(round.Teacher, "not a sheet"));
        await Assert.ThrowsAsync<UserErrorException>(() => Store.SheetAsync(round.Teacher, SheetId.New()));
    }

    [Fact, Trait("Category", "Security")]
    public async Task ClassTeacher_SeesNothing_OnceTheCampaignIsClosed()
    {
        var closing = new ConfirmationStore(round.Database.DataSource);
        await closing.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render);
        await Assert.ThrowsAsync<OutOfScopeException>(() => closing.CloseCampaignAsync(ConfirmationRound.Round, round.Registrar));

        await closing.CloseCampaignAsync(ConfirmationRound.Round, Account.Operator("team"));
        try
        {
            await Assert.ThrowsAsync<OutOfScopeException>(() => closing.ClassStudentsAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class));
            Assert.NotEmpty(await closing.ClassStudentsAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class));
            var refused = await Assert.ThrowsAsync<UserErrorException>(() =>
                closing.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render));
            Assert.Contains(ConfirmationRound.Round, refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            await closing.OpenCampaignAsync(ConfirmationRound.Round, null, Account.Operator("team"));
        }

        Assert.NotEmpty(await closing.ClassStudentsAsync(round.Teacher, ConfirmationRound.Round, round.School, round.Class));
    }

    [Fact, Trait("Category", "Security")]
    public async Task ClassTeacher_SeesAClassOnlyOnceItsSheetsArePrinted()
    {
        // A class of the same school and a teacher of it, never printed: the open campaign does not reach it.
        var unprinted = new ClassKey(round.Class.Grade == 12 ? 1 : round.Class.Grade + 1, "99班");
        await round.Database.ExecuteAsync("SELECT access.add_class_teacher('ct-unprinted', @s, ARRAY[@g]::smallint[], ARRAY[@c], 'test')",
            ("s", round.School), ("g", (short)unprinted.Grade), ("c", unprinted.ClassName));
        await Store.PrintAsync(round.Registrar, ConfirmationRound.Round, round.School, round.Class, Render);
        Assert.True((await Store.CampaignAsync(ConfirmationRound.Round))!.Open);

        await Assert.ThrowsAsync<OutOfScopeException>(() =>
            Store.ClassStudentsAsync(new Account("ct-unprinted", AccountRole.ClassTeacher, round.School), ConfirmationRound.Round, round.School, unprinted));
    }

    [Fact]
    public async Task BulkClassTeachers_GiveANewClassItsOwnName_WhenAnotherClassHoldsTheRankedOne()
    {
        var store = new AccountStore(round.Database.DataSource);
        var grade = (await store.ClassTeacherCandidatesAsync(ConfirmationRound.Round, round.School, null))
            .GroupBy(c => c.Class.Grade).First(g => g.All(c => !c.Exists)).Key;
        // An earlier round's class took the name the first class of that grade would get now.
        var taken = $"ct-{round.School}-{grade}-1";
        await round.Database.ExecuteAsync("SELECT access.add_class_teacher(@a, @s, ARRAY[@g]::smallint[], ARRAY['98班'], 'test')",
            ("a", taken), ("s", round.School), ("g", (short)grade));

        var candidates = await store.ClassTeacherCandidatesAsync(ConfirmationRound.Round, round.School, null);

        var ranked = Assert.Single(candidates, c => c.Account.Name.StartsWith(taken + "-", StringComparison.Ordinal));
        Assert.Equal(grade, ranked.Class.Grade);
        Assert.False(ranked.Exists);
        Assert.Equal(candidates.Count, candidates.Select(c => c.Account.Name).Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("4年级3班", 4, "3班")]
    [InlineData("４年级３班", 4, "3班")]
    [InlineData("12/1班", 12, "1班")]
    [InlineData(" 1 / 2班 ", 1, "2班")]
    public void ClassKey_ReadsWhatPeopleType(string text, int grade, string name) =>
        Assert.Equal(new ClassKey(grade, name), ClassKey.Parse(text));

    [Theory]
    [InlineData("3班")]
    [InlineData("13年级1班")]
    [InlineData("٤年级1班")]
    [InlineData("")]
    public void ClassKey_RefusesWhatIsNoClass(string text) =>
        Assert.Contains("4年级3班", Assert.Throws<UserErrorException>(() => ClassKey.Parse(text)).Message, StringComparison.Ordinal);

    private Task<T> CurrentAsync<T>(string column, long recordId) =>
        round.Database.ScalarAsync<T>($"SELECT {column} FROM registry.record WHERE record_id = @id AND is_current", ("id", recordId));
}

[CollectionDefinition("confirmation round")]
public sealed class ConfirmationRoundCollection : ICollectionFixture<ConfirmationRound>;
