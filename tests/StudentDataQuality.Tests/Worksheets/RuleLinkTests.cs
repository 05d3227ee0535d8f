using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// Links to a rule's page from the files (docs/worksheets.md, "Links to the rules"), read back by another program (openpyxl,
/// Debian python3-openpyxl): every problem cell's note names the page of each of that cell's rules, in the worksheet's
/// language, and a worksheet written without the portal's address names none; a receipt's still-failing rows and still-open
/// problems carry their rules' pages as hyperlinks; a bad address is refused with the setting's name.
/// </summary>
public sealed partial class RuleLinkTests
{
    private const string Portal = "https://sdq.edu.example/portal/";

    [Theory]
    [InlineData(WorksheetLanguage.Chinese, "规则说明：")]
    [InlineData(WorksheetLanguage.English, "Rule help: ")]
    public void EveryProblemCellsNote_NamesThePageOfEachOfItsRules(WorksheetLanguage language, string label)
    {
        var document = WorksheetSamples.Tricky();
        using var stream = new MemoryStream();
        WorkbookWriter.Write(document, stream, language, RuleHelp.From(Portal, "Web:PublicUrl"));
        var book = Read(stream.ToArray());

        // Which rules each flagged cell is about, from the document: the row (by its key, through _meta) and the field (by column).
        var expected = new Dictionary<(int Row, int Column), List<string>>();
        foreach (var row in document.Rows)
        {
            var excelRow = book.Rows[row.RowKey];
            foreach (var problem in row.Problems.Where(p => p.Field is not null && book.Columns.ContainsKey(p.Field)))
            {
                var key = (excelRow, book.Columns[problem.Field!]);
                if (!expected.TryGetValue(key, out var rules))
                {
                    expected[key] = rules = [];
                }

                rules.Add(problem.RuleId);
            }
        }

        Assert.NotEmpty(expected);
        Assert.Equal(expected.Keys.Order(), book.Notes.Keys.Order());
        var catalogue = RuleCatalog.All.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var (cell, note) in book.Notes)
        {
            var urls = HelpLine().Matches(note).Select(m => m.Groups[1].Value).ToList();
            Assert.Equal(note.Split('\n').Count(l => l.StartsWith(label, StringComparison.Ordinal)), urls.Count);
            Assert.Equal(expected[cell], urls.Select(u => u["https://sdq.edu.example/portal/help/rules/".Length..]));
            Assert.All(urls, u => Assert.StartsWith("https://sdq.edu.example/portal/help/rules/", u, StringComparison.Ordinal));
            Assert.All(urls, u => Assert.Contains(u[(u.LastIndexOf('/') + 1)..], catalogue));
            Assert.All(urls, u => Assert.Contains(label + u, note, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void AWorksheetWrittenWithoutTheAddress_NamesNoPage()
    {
        using var stream = new MemoryStream();
        WorkbookWriter.Write(WorksheetSamples.Tricky(), stream);
        var book = Read(stream.ToArray());
        Assert.NotEmpty(book.Notes);
        Assert.All(book.Notes.Values, n => Assert.DoesNotContain("/help/rules/", n, StringComparison.Ordinal));
        Assert.All(book.Notes.Values, n => Assert.DoesNotContain("规则说明", n, StringComparison.Ordinal));
    }

    [Fact]
    public void AReceipt_LinksEachStillFailingRow_AndEachOpenProblem_ToItsRulesPages()
    {
        var receipt = new Receipt
        {
            ReturnId = 5, WorksheetId = Guid.NewGuid(), RoundCode = "2025-秋", SchoolCode = "2123000001", SchoolName = "示范第一小学", IssueNumber = 1,
            FileName = "a.xlsx", Sha256 = new string('b', 64), ReceivedAt = DateTimeOffset.UnixEpoch, ReceivedBy = "school-2123000001",
            Language = WorksheetLanguage.Chinese,
            Rows =
            [
                new ReceiptRow(2, "1001", "L1", "李晓红", ReceiptOutcome.AppliedClean, [new ReceiptChange("gender", "性别", "3", "1")], [], []),
                new ReceiptRow(3, "1002", "L2", "王小明", ReceiptOutcome.AppliedStillFailing, [new ReceiptChange("gender", "性别", "3", "1")], [],
                    [new ReceiptProblem("F06", ProblemSeverity.Error, "birth_date", "出生日期不是有效日期", "2015-02-30"),
                        new ReceiptProblem("F11", ProblemSeverity.Warning, "guardian_phone", "联系电话格式可疑", "x"),
                        new ReceiptProblem("F06", ProblemSeverity.Error, "birth_date", "出生日期不是有效日期", "2015-02-30")]),
                new ReceiptRow(4, "1003", "L3", "赵六", ReceiptOutcome.AppliedStillFailing, [new ReceiptChange("gender", "性别", "3", "2")], [],
                    [new ReceiptProblem("C04", ProblemSeverity.Warning, "birth_date", "年龄与年级不符", "20180101")]),
            ],
            StillOpen =
            [
                new ReceiptOpenProblem("L2", "王小明", new ReceiptProblem("F06", ProblemSeverity.Error, "birth_date", "出生日期不是有效日期", "2015-02-30"), false),
                new ReceiptOpenProblem("L3", "赵六", new ReceiptProblem("C04", ProblemSeverity.Warning, "birth_date", "年龄与年级不符", "20180101"), true),
            ],
        };
        using var stream = new MemoryStream();
        ReceiptWriter.Write(receipt, stream, RuleHelp.From("http://127.0.0.1:5080", "Web:Urls"));
        var (rowsSheet, openSheet) = (ReceiptText.SheetNames(WorksheetLanguage.Chinese).Rows, ReceiptText.SheetNames(WorksheetLanguage.Chinese).StillOpen);
        var links = Links(stream.ToArray());

        // The rows sheet: the header, then each row by its Excel row; only the still-failing ones link, each rule once.
        var rows = links[rowsSheet];
        Assert.Equal(ReceiptText.Get("HeaderRuleHelp", WorksheetLanguage.Chinese), rows["1"].Value);
        Assert.False(rows.ContainsKey("2"));
        Assert.Equal("http://127.0.0.1:5080/help/rules/F06\nhttp://127.0.0.1:5080/help/rules/F11", rows["3"].Value);
        Assert.Equal("http://127.0.0.1:5080/help/rules/F06", rows["3"].Target);
        Assert.Equal("http://127.0.0.1:5080/help/rules/C04", rows["4"].Value);
        Assert.Equal("http://127.0.0.1:5080/help/rules/C04", rows["4"].Target);
        var open = links[openSheet];
        Assert.Equal("http://127.0.0.1:5080/help/rules/F06", open["2"].Target);
        Assert.Equal("http://127.0.0.1:5080/help/rules/C04", open["3"].Target);

        // Without the address: no column of links at all.
        using var plain = new MemoryStream();
        ReceiptWriter.Write(receipt, plain);
        Assert.All(Links(plain.ToArray()).Values, sheet => Assert.Empty(sheet));
    }

    [Theory]
    [InlineData("sdq.edu.example")]
    [InlineData("ftp://sdq.edu.example")]
    [InlineData("https://sdq.edu.example/?x=1")]
    [InlineData("https://sdq.edu.example/#top")]
    [InlineData("https://user@sdq.edu.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData("https://sdq.edu.example/a b")]
    [InlineData("")]
    public void ABadAddress_IsRefused_NamingTheSetting(string address)
    {
        var error = Assert.Throws<UserErrorException>(() => RuleHelp.From(address, "Web:PublicUrl"));
        Assert.Equal("Rules.HelpAddressInvalid", error.Text!.Code);
        Assert.Contains("Web:PublicUrl", error.Text.Render(System.Globalization.CultureInfo.GetCultureInfo("en")), StringComparison.Ordinal);
        Assert.Contains("Web:PublicUrl", error.Text.Render(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ARulesPage_FollowsTheAddressAndItsPath()
    {
        Assert.Equal("https://sdq.edu.example/help/rules/F03", RuleHelp.From("https://sdq.edu.example", "s").UrlOf("F03"));
        Assert.Equal("https://sdq.edu.example/sdq/help/rules/F03", RuleHelp.From(" https://sdq.edu.example/sdq/ ", "s").UrlOf("F03"));
        Assert.Equal("http://127.0.0.1:5080/help/rules/a%2Fb", RuleHelp.From("http://127.0.0.1:5080", "s").UrlOf("a/b"));
    }

    /// <summary>What openpyxl reads of a worksheet: each problem cell's note by (row, column), _meta's rows and field columns.</summary>
    private static Workbook Read(byte[] xlsx)
    {
        const string script = """
            import sys, json, openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            meta = book['_meta']
            problems = book[book.sheetnames[1]]
            rows, columns = {}, {}
            for r in meta.iter_rows(values_only=True):
                if r[0] == 'row': rows[r[2]] = int(r[1])
                if r[0] == 'column' and str(r[2]).startswith('field.'): columns[r[2][len('field.'):]] = int(r[1])
            notes = [[c.row, c.column, c.comment.text] for row in problems.iter_rows() for c in row if c.comment is not None]
            print(json.dumps({'rows': rows, 'columns': columns, 'notes': notes}, ensure_ascii=False))
            """;
        using var json = JsonDocument.Parse(Python(xlsx, script));
        var root = json.RootElement;
        return new Workbook(
            root.GetProperty("rows").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()),
            root.GetProperty("columns").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()),
            root.GetProperty("notes").EnumerateArray().ToDictionary(n => (n[0].GetInt32(), n[1].GetInt32()), n => n[2].GetString()!.Replace("\r\n", "\n", StringComparison.Ordinal)));
    }

    /// <summary>What openpyxl reads of a receipt: per sheet, each hyperlinked cell's row with its text and target.</summary>
    private static Dictionary<string, Dictionary<string, (string Value, string? Target)>> Links(byte[] xlsx)
    {
        const string script = """
            import sys, json, openpyxl
            book = openpyxl.load_workbook(sys.argv[1])
            out = {}
            for sheet in book.worksheets:
                header = [c.value for c in sheet[1]]
                cells = {}
                for i, h in enumerate(header):
                    if h in ('规则说明', 'Rule help'):
                        for row in sheet.iter_rows(min_col=i + 1, max_col=i + 1):
                            c = row[0]
                            if c.value is not None:
                                cells[str(c.row)] = [c.value, c.hyperlink.target if c.hyperlink is not None else None]
                out[sheet.title] = cells
            print(json.dumps(out, ensure_ascii=False))
            """;
        using var json = JsonDocument.Parse(Python(xlsx, script));
        return json.RootElement.EnumerateObject().ToDictionary(s => s.Name, s => s.Value.EnumerateObject().ToDictionary(
            c => c.Name, c => (c.Value[0].GetString()!.Replace("\r\n", "\n", StringComparison.Ordinal), c.Value[1].GetString())));
    }

    internal static string Python(byte[] xlsx, string script)
    {
        using var folder = new TempFolder();
        var input = folder.File("in.xlsx");
        File.WriteAllBytes(input, xlsx);
        var info = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8,
        };
        info.Environment["PYTHONIOENCODING"] = "utf-8";
        foreach (var argument in new[] { "-c", script, input })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "openpyxl (Debian python3-openpyxl) failed: " + error.Result);
        return text;
    }

    private sealed record Workbook(Dictionary<string, int> Rows, Dictionary<string, int> Columns, Dictionary<(int Row, int Column), string> Notes);

    [GeneratedRegex(@"^(?:规则说明：|Rule help: )(\S+)$", RegexOptions.Multiline)]
    private static partial Regex HelpLine();
}
