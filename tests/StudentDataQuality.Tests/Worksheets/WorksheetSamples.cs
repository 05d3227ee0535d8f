using StudentDataQuality.Identifiers;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>Made-up worksheets (no real person's data): ID numbers built by ResidentId.Create, invented names.</summary>
public static class WorksheetSamples
{
    public static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)(i * 7)).ToArray();

    /// <summary>Values a spreadsheet would turn into formulas, numbers or dates if they were not written as text.</summary>
    public static readonly string[] Dangerous =
        ["=1+1", "+86 138 0000 0000", "-5", "@x", "\t=cmd", "\r=1+1", "=HYPERLINK(\"http://127.0.0.1\",\"x\")", "０１２３", "1E5", "TRUE", "2024-01-01"];

    public static WorksheetProblem Problem(long id, string rule, string? field, ProblemSeverity severity = ProblemSeverity.Error, string? detail = null) => new()
    {
        FindingId = id,
        RuleId = rule,
        Severity = severity,
        Field = field,
        Detail = detail,
        TitleZh = $"{rule} 标题",
        TitleEn = $"{rule} title",
        FixZh = $"{rule} 修改方法",
        FixEn = $"{rule} how to fix",
    };

    public static WorksheetRow Row(string key, string? grade, string? className, string? name, Dictionary<string, string?> values,
        params WorksheetProblem[] problems) => new()
    {
        RowKey = key,
        StudentNo = values.GetValueOrDefault("id_number") is { Length: 18 } id ? "G" + id : "L0000000000000000" + key,
        Grade = grade,
        ClassName = className,
        Name = name,
        Values = values,
        Problems = problems,
    };

    /// <summary>
    /// A worksheet with the values that break naive writers: 18-digit IDs (one ending in X), leading zeros, formula-like
    /// text, a leading apostrophe, surrounding spaces, a carriage return, a control character, a literal _x0041_, null and
    /// empty values; rows out of order.
    /// </summary>
    public static WorksheetDocument Tricky(int extraRows = 0)
    {
        var idA = ResidentId.Create("230102", new DateOnly(2015, 3, 9), 31);
        var idX = FirstWithCheckX();
        var fields = WorksheetFields.InLayoutOrder(
            ["id_number", "birth_date", "gender", "ethnicity", "nationality", "guardian_phone", "address", "name", "only_child"]);
        List<WorksheetRow> rows =
        [
            Row("1003", "3", "10班", "王小明", new()
            {
                ["id_number"] = idA, ["birth_date"] = "2015-02-30", ["gender"] = "3", ["ethnicity"] = "01", ["nationality"] = "CHN",
                ["guardian_phone"] = "+86 138 0000 0000", ["address"] = "=1+1", ["name"] = "王小明", ["only_child"] = "是",
            }, Problem(1, "F06", "birth_date"), Problem(2, "F08", "gender"), Problem(3, "F11", "guardian_phone", ProblemSeverity.Warning)),
            Row("1001", "3", "2班", "李晓红", new()
            {
                ["id_number"] = idX, ["birth_date"] = "0123", ["gender"] = "2", ["ethnicity"] = "1", ["nationality"] = null,
                ["guardian_phone"] = "-5", ["address"] = "第一行\r第二行\r\n第三行", ["name"] = "@x", ["only_child"] = "",
            }, Problem(4, "F03", "id_number", detail: "校验位应为 X"), Problem(5, "S01", "nationality"), Problem(6, "T01", null, ProblemSeverity.Warning)),
            Row("1002", "初一", "1班", "张子涵", new()
            {
                ["id_number"] = "2.30102E+17", ["birth_date"] = "\r=1+1", ["gender"] = "1", ["ethnicity"] = "汉族", ["nationality"] = "CHN",
                ["guardian_phone"] = "\t=cmd", ["address"] = "a\u0001b _x0041_ ", ["name"] = "张子涵", ["only_child"] = "1",
            }, Problem(7, "F12", "id_number"), Problem(8, "S02", "address"), Problem(9, "X03", "school_code", detail: "2123000002 示范第二小学")),
            Row("1004", "1", "2班", "赵一诺", new()
            {
                ["id_number"] = ResidentId.Create("230102", new DateOnly(2018, 1, 1), 2), ["birth_date"] = "20180101", ["gender"] = "2",
                ["ethnicity"] = "01", ["nationality"] = "CHN", ["guardian_phone"] = "'0123", ["address"] = "@SUM(1)",
                ["name"] = "  赵一诺 ", ["only_child"] = "0",
            }, Problem(10, "C04", "birth_date", ProblemSeverity.Warning)),
        ];
        for (var i = 0; i < extraRows; i++)
        {
            var id = ResidentId.Create("230103", new DateOnly(2014, 1 + (i % 12), 1 + (i % 28)), i % 1000);
            rows.Add(Row((5000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), (1 + (i % 6)).ToString(System.Globalization.CultureInfo.InvariantCulture),
                $"{1 + (i % 9)}班", "学生" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), new()
                {
                    ["id_number"] = id, ["birth_date"] = id.Substring(6, 8), ["gender"] = "1", ["ethnicity"] = "01", ["nationality"] = "CHN",
                    ["guardian_phone"] = "13900000000", ["address"] = "示范路 " + i, ["name"] = "学生" + i, ["only_child"] = "0",
                }, Problem(100 + i, "F03", "id_number")));
        }

        var document = new WorksheetDocument
        {
            WorksheetId = new Guid("7b0c7d36-52e1-4a4c-9f57-1d5bd2f3a001"),
            RoundId = 7,
            RoundCode = "2025-秋",
            SchoolCode = "2123000001",
            SchoolName = "示范第一小学",
            IssueNumber = 2,
            Deadline = new DateOnly(2025, 11, 30),
            GeneratedAt = new DateTimeOffset(2025, 11, 1, 9, 30, 0, TimeSpan.FromHours(8)),
            KeyId = "key-2025-1",
            Contact = "+86 451 0000 0000 区教育局学籍科",
            Fields = fields,
            Rows = rows,
        };
        return RowSignature.SignRows(Key, document);
    }

    public static byte[] Write(WorksheetDocument document, WorksheetLanguage language = WorksheetLanguage.Chinese)
    {
        using var stream = new MemoryStream();
        WorkbookWriter.Write(document, stream, language);
        return stream.ToArray();
    }

    private static string FirstWithCheckX()
    {
        for (var sequence = 0; ; sequence++)
        {
            var id = ResidentId.Create("230102", new DateOnly(2015, 6, 1), sequence);
            if (id[17] == 'X')
            {
                return id;
            }
        }
    }
}
