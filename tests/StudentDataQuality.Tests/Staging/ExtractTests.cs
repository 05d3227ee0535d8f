using System.Text;
using Npgsql;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Records;
using StudentDataQuality.Tests.Infrastructure;

namespace StudentDataQuality.Tests.Staging;

public sealed class ExtractTests(DatabaseFixture db) : IClassFixture<DatabaseFixture>, IDisposable
{
    private readonly TempFolder _temp = new();
    private static readonly DateOnly RoundDate = new(2026, 10, 15);

    public void Dispose() => _temp.Dispose();

    private ExtractService Service => new(db.DataSource);

    private static ExtractRequest Request(string round) => new(round, "test") { RoundDate = RoundDate };

    private static string NewRound() => "r" + Guid.NewGuid().ToString("N")[..10];

    private Task<long> RowsInRound(string round) =>
        db.ScalarAsync<long>("SELECT count(*) FROM registry.record_version v JOIN registry.round r USING (round_id) WHERE r.code = @c", ("c", round));

    private Task<long> FilesInRound(string round) =>
        db.ScalarAsync<long>("SELECT count(*) FROM staging.source_file f JOIN registry.round r USING (round_id) WHERE r.code = @c", ("c", round));

    [Fact]
    public async Task Extract_StagesRawTextBesideTypedValues_ForEveryField()
    {
        var round = NewRound();
        var path = SampleExport.WriteCsv(_temp.Path, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student()]);

        var result = await Service.ExtractFilesAsync(Request(round), [path]);

        var source = Assert.Single(result.Sources);
        Assert.Equal(1, source.Rows);
        Assert.False(source.AlreadyStaged);
        Assert.Equal("UTF-8", source.Encoding);
        await using var command = db.DataSource.CreateCommand(
            "SELECT * FROM registry.record WHERE round_id = @r");
        command.Parameters.AddWithValue("r", result.Round.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        foreach (var field in Layouts.Student.Fields)
        {
            Assert.Equal(SampleExport.ValidStudent[field.Name], reader.GetString(reader.GetOrdinal(field.Name + "_raw")));
        }

        Assert.Equal(new DateOnly(2018, 9, 1), reader.GetFieldValue<DateOnly>(reader.GetOrdinal("birth_date")));
        Assert.Equal((short)3, reader.GetInt16(reader.GetOrdinal("grade")));
        Assert.Equal(new DateOnly(2024, 9, 1), reader.GetFieldValue<DateOnly>(reader.GetOrdinal("entry_month")));
        Assert.False(reader.GetBoolean(reader.GetOrdinal("migrant_child")));
        Assert.Equal("2", reader.GetString(reader.GetOrdinal("gender")));
        Assert.Equal(1, reader.GetInt32(reader.GetOrdinal("version")));
        Assert.Equal(2, reader.GetInt32(reader.GetOrdinal("row_no")));
        Assert.True(reader.IsDBNull(reader.GetOrdinal("normalised")));
    }

    [Fact]
    public async Task Extract_KeepsUnparsableValuesRaw_WithTypedNull_AndNeverDropsTheRow()
    {
        var round = NewRound();
        var path = SampleExport.WriteCsv(_temp.Path, "students.csv",
        [
            SampleExport.ChineseHeaders(),
            SampleExport.Student(("birth_date", "2018-02-30"), ("grade", "十三年级"), ("gender", "未知"), ("entry_month", "202413")),
            SampleExport.Student(("id_number", "２３０１０２２０１８０９０１００２ｘ"), ("student_no", "g23010220180901002x")),
        ]);

        var result = await Service.ExtractFilesAsync(Request(round), [path]);

        Assert.Equal(2, result.RowsStaged);
        await using var command = db.DataSource.CreateCommand("""
            SELECT birth_date_raw, birth_date, grade_raw, grade, gender_raw, gender, entry_month, id_number, student_no, normalised
            FROM registry.record_version WHERE round_id = @r ORDER BY row_no
            """);
        command.Parameters.AddWithValue("r", result.Round.RoundId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("2018-02-30", reader.GetString(0));
        Assert.True(reader.IsDBNull(1));
        Assert.Equal("十三年级", reader.GetString(2));
        Assert.True(reader.IsDBNull(3));
        Assert.Equal("未知", reader.GetString(4));
        Assert.True(reader.IsDBNull(5));
        Assert.True(reader.IsDBNull(6));
        Assert.True(await reader.ReadAsync());
        Assert.Equal("23010220180901002X", reader.GetString(7));
        Assert.Equal("G23010220180901002X", reader.GetString(8));
        Assert.Equal(["student_no", "id_number"], reader.GetFieldValue<string[]>(9));
    }

    [Theory]
    [InlineData("utf8")]
    [InlineData("utf8-bom")]
    [InlineData("gb18030")]
    public async Task Extract_DetectsEncoding_AndReadsChineseTextExactly(string encodingName)
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var encoding = encodingName switch
        {
            "utf8" => new UTF8Encoding(false),
            "utf8-bom" => new UTF8Encoding(true),
            _ => Encoding.GetEncoding(54936),
        };
        var round = NewRound();
        var path = SampleExport.WriteCsv(_temp.Path, $"students-{encodingName}.csv",
            [SampleExport.ChineseHeaders(), SampleExport.Student(("name", "欧阳·娜仁花"))], encoding);

        var result = await Service.ExtractFilesAsync(Request(round), [path]);

        Assert.Equal(encodingName == "gb18030" ? "GB18030" : "UTF-8", result.Sources[0].Encoding);
        Assert.Equal("欧阳·娜仁花", await db.ScalarAsync<string>(
            "SELECT name_raw FROM registry.record_version WHERE round_id = @r", ("r", result.Round.RoundId)));
        Assert.Equal("哈尔滨市道里区第一小学", await db.ScalarAsync<string>(
            "SELECT school_name FROM registry.current_record WHERE round_id = @r", ("r", result.Round.RoundId)));
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\n")]
    public async Task Extract_ReadsQuotedFieldsWithCommasQuotesAndLineBreaks(string lineEnd)
    {
        var round = NewRound();
        var address = "黑龙江省哈尔滨市\n道里区, \"友谊路\" 1号";
        var path = SampleExport.WriteCsv(_temp.Path, "quoted.csv",
            [SampleExport.ChineseHeaders(), SampleExport.Student(("address", address)), SampleExport.Student(("name", "李四"))], lineEnd: lineEnd);

        var result = await Service.ExtractFilesAsync(Request(round), [path]);

        Assert.Equal(2, result.RowsStaged);
        Assert.Equal(address, await db.ScalarAsync<string>(
            "SELECT address_raw FROM registry.record_version WHERE round_id = @r AND row_no = 2", ("r", result.Round.RoundId)));
        Assert.Equal("李四", await db.ScalarAsync<string>(
            "SELECT name_raw FROM registry.record_version WHERE round_id = @r AND row_no = 3", ("r", result.Round.RoundId)));
    }

    [Fact]
    public async Task Extract_MapsEnglishAndMarkedHeaders_AndKeepsUnknownColumnsRaw()
    {
        var round = NewRound();
        var headers = Layouts.Student.Fields.Select((f, i) => i % 3 == 0 ? f.EnglishHeader.ToUpperInvariant() : i % 3 == 1 ? $" {f.Header}* " : f.Header + "★")
            .Append("备注").ToArray();
        var path = SampleExport.WriteCsv(_temp.Path, "mixed.csv", [headers, [.. SampleExport.Student(), "转入"]]);

        var result = await Service.ExtractFilesAsync(Request(round), [path]);

        Assert.Equal(["备注"], result.Sources[0].UnknownColumns);
        Assert.Equal(["转入"], await db.ScalarAsync<string[]>(
            "SELECT extra_raw FROM registry.record_version WHERE round_id = @r", ("r", result.Round.RoundId)));
        Assert.Equal("王小明", await db.ScalarAsync<string>(
            "SELECT name FROM registry.current_record WHERE round_id = @r", ("r", result.Round.RoundId)));
    }

    [Fact]
    public async Task Extract_SameFileTwiceInARound_IsANoOpThatSaysSo()
    {
        var round = NewRound();
        var path = SampleExport.WriteCsv(_temp.Path, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student()]);
        var first = await Service.ExtractFilesAsync(Request(round), [path]);

        var second = await Service.ExtractFilesAsync(Request(round), [path]);

        Assert.True(second.Sources[0].AlreadyStaged);
        Assert.Equal(first.Sources[0].FileId, second.Sources[0].FileId);
        Assert.Equal(0, second.RowsStaged);
        Assert.Equal(1, await RowsInRound(round));
        Assert.Equal(1, await FilesInRound(round));
    }

    [Fact]
    public async Task Extract_Folder_StagesSchoolMasterAndStudents_InOneRound()
    {
        var round = NewRound();
        var folder = Path.Combine(_temp.Path, "export");
        SampleExport.WriteCsv(folder, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student(), SampleExport.Student(("name", "李四"))]);
        SampleExport.WriteCsv(folder, "schools.csv",
            [SampleExport.ChineseHeaders(Layouts.School), ["2123000001", "哈尔滨市道里区第一小学", "230102", "道里区", "1", "6", "1"]]);

        var result = await Service.ExtractFilesAsync(Request(round), [folder]);

        Assert.Equal(["school", "student"], result.Sources.Select(s => s.Layout));
        Assert.Equal(2, await RowsInRound(round));
        Assert.Equal((short)6, await db.ScalarAsync<short>(
            "SELECT max_grade FROM registry.school WHERE round_id = @r AND school_code = '2123000001'", ("r", result.Round.RoundId)));
    }

    [Fact]
    public async Task Extract_FromSourceDatabaseQuery_StagesTheSameAsTheFile()
    {
        await using (var setup = db.DataSource.CreateCommand($"""
            CREATE TABLE public.registry_export AS SELECT {string.Join(", ", Layouts.Student.Fields.Select(f => $"'{SampleExport.ValidStudent[f.Name]}'::text AS \"{f.Header}\""))};
            """))
        {
            await setup.ExecuteNonQueryAsync();
        }

        var fileRound = NewRound();
        var path = SampleExport.WriteCsv(_temp.Path, "students.csv", [SampleExport.ChineseHeaders(), SampleExport.Student()]);
        var fromFile = await Service.ExtractFilesAsync(Request(fileRound), [path]);
        var queryRound = NewRound();

        var fromQuery = await Service.ExtractQueryAsync(Request(queryRound), db.ConnectionString, "SELECT * FROM public.registry_export");
        var again = await Service.ExtractQueryAsync(Request(queryRound), db.ConnectionString, "SELECT * FROM public.registry_export");

        Assert.Equal(1, fromQuery.RowsStaged);
        Assert.True(again.Sources[0].AlreadyStaged);
        Assert.Equal(1, await RowsInRound(queryRound));
        var columns = string.Join(", ", Layouts.Student.Fields.SelectMany(f => f.HasTypedColumn ? new[] { f.Name + "_raw", f.Name } : [f.Name + "_raw"]));
        var differences = await db.ScalarAsync<long>($"""
            SELECT count(*) FROM (
                (SELECT {columns} FROM registry.record_version WHERE round_id = @a EXCEPT SELECT {columns} FROM registry.record_version WHERE round_id = @b)
                UNION ALL
                (SELECT {columns} FROM registry.record_version WHERE round_id = @b EXCEPT SELECT {columns} FROM registry.record_version WHERE round_id = @a)) d
            """, ("a", fromFile.Round.RoundId), ("b", fromQuery.Round.RoundId));
        Assert.Equal(0, differences);
    }
}
