using System.Globalization;
using System.Text;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Application;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Records;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Text;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Synthetic;

/// <summary>
/// registrar_answers.csv against the ground truth and the independent rule oracle, and the registrar simulator against
/// worksheets written by the project's WorkbookWriter and read back by its ReturnedWorkbookReader.
/// </summary>
public sealed class RegistrarSimulatorTests(RegistrarSimulatorTests.Province province) : IClassFixture<RegistrarSimulatorTests.Province>
{
    private static readonly DateOnly RoundDate = new(2026, 10, 15);

    /// <summary>Findings no registrar answers: the row's school code names no school that could (docs/synthetic-province.md).</summary>
    private static readonly string[] Unanswerable = ["F09", "X01"];

    /// <summary>Rules whose kept registration is confirmed and whose finding goes once the duplicate is removed.</summary>
    private static readonly string[] Duplicates = ["X03", "X04", "X05", "X06"];

    private static readonly IReadOnlyDictionary<string, Rule> Rules = RuleCatalog.All.ToDictionary(r => r.Id);

    private static int Col(string field) => Layouts.Student.IndexOf(field);

    /// <summary>A generated province with the previous round, shared by the tests of this class (read only).</summary>
    public sealed class Province : IDisposable
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "sdq-registrar-" + Guid.NewGuid().ToString("N"));
        private readonly Dictionary<WorksheetLanguage, List<(string, WorksheetDocument, byte[])>> _worksheets = [];

        public Province()
        {
            Result = ProvinceGenerator.Generate(new GeneratorOptions
            {
                Students = 3000, Schools = 20, OutputDirectory = Path.Combine(_root, "province"), Seed = 7, DefectRate = 0.06, Previous = true,
            });
            Truth = [.. PlainCsv.Read(Result.GroundTruthPath).Skip(1)];
            AnswerRows = [.. PlainCsv.Read(Result.RegistrarAnswersPath).Skip(1)];
            Answers = RegistrarAnswers.Load(Result.RegistrarAnswersPath);
            Current = PlainCsv.Read(Path.Combine(Result.ExportDirectory, "students.csv"));
            Previous = PlainCsv.Read(Path.Combine(Result.PreviousExportDirectory!, "students.csv"));
        }

        public string Root => _root;

        public GenerationResult Result { get; }

        /// <summary>ground_truth.csv without its header: student_no, school_code, rule_id, field.</summary>
        public List<string[]> Truth { get; }

        /// <summary>registrar_answers.csv as plain CSV, without its header.</summary>
        public List<string[]> AnswerRows { get; }

        public IReadOnlyDictionary<string, IReadOnlyList<RegistrarAnswer>> Answers { get; }

        /// <summary>The current export, header first.</summary>
        public List<string[]> Current { get; }

        /// <summary>The previous round's export, header first.</summary>
        public List<string[]> Previous { get; }

        public IReadOnlyList<RegistrarAnswer> AnswersOf(string school) => Answers.GetValueOrDefault(school) ?? [];

        /// <summary>The issued worksheets in one language, written once (the tests only read them).</summary>
        public List<(string School, WorksheetDocument Document, byte[] Issued)> Worksheets(WorksheetLanguage language)
        {
            lock (_worksheets)
            {
                if (!_worksheets.TryGetValue(language, out var list))
                {
                    list = BuildWorksheets(this, language);
                    _worksheets[language] = list;
                }

                return list;
            }
        }

        public void Dispose()
        {
            if (Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }
        }
    }

    // ---- registrar_answers.csv ----

    [Fact]
    public void AnswersFile_IsUtf8WithCrlf_AndLoadsEveryLineGroupedBySchool()
    {
        var bytes = File.ReadAllBytes(province.Result.RegistrarAnswersPath);
        Assert.NotEqual(0xEF, bytes[0]);
        var text = new UTF8Encoding(false, true).GetString(bytes);
        Assert.StartsWith(RegistrarAnswers.Header + "\r\n", text, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(province.Result.GroundTruthPath)!, RegistrarAnswers.FileName),
            province.Result.RegistrarAnswersPath);

        var loaded = province.Answers.Values.SelectMany(a => a).ToList();
        Assert.Equal(province.AnswerRows.Count, loaded.Count);
        Assert.All(province.Answers, p => Assert.All(p.Value, a => Assert.Equal(p.Key, a.SchoolCode)));
        var expected = province.AnswerRows.Select(r => string.Join('|', r)).Order(StringComparer.Ordinal);
        var actual = loaded.Select(a =>
            string.Join('|', a.SchoolCode, a.StudentNo, a.RuleId, a.Field, RegistrarAnswers.Word(a.Action), a.Value));
        Assert.Equal(expected, actual.Order(StringComparer.Ordinal));
        Assert.All(loaded.Where(a => a.Action != WorksheetAction.Corrected), a => Assert.Equal("", a.Value));
        Assert.Contains(loaded, a => a.Action == WorksheetAction.Corrected && a.Value.Length == 0 && a.Field == "guardian_id_number");
    }

    [Fact]
    public void AnswersFile_AnswersEveryGroundTruthLineWithAStudent_ExceptDamagedSchoolCodes()
    {
        var answers = province.AnswerRows.Select(r => (School: r[0], No: r[1], Rule: r[2], Field: r[3], Action: r[4], Value: r[5])).ToList();
        var answered = answers.ToLookup(a => (a.School, a.No, a.Rule));
        var lines = province.Truth.Where(t => t[0].Length > 0).ToList();
        Assert.Contains(lines, t => Unanswerable.Contains(t[2]));
        foreach (var t in lines)
        {
            var key = (t[1], t[0], t[2]);
            if (Unanswerable.Contains(t[2]))
            {
                Assert.DoesNotContain(answers, a => a.School == t[1] && a.No == t[0]);
            }
            else
            {
                Assert.True(answered[key].Any(), $"no answer for {string.Join(',', t)}");
            }
        }

        // Nothing answered that the ground truth does not list; no school-level line.
        var truthKeys = lines.Select(t => (t[1], t[0], t[2])).ToHashSet();
        Assert.All(answers, a => Assert.Contains((a.School, a.No, a.Rule), truthKeys));
        Assert.All(answers, a => Assert.NotEqual('A', a.Rule[0]));

        // Per rule: the action a registrar who knows the truth takes.
        string[] confirmed = ["F05", "C04", "C10", "T01", "T02", "T03"];
        Assert.All(answers.Where(a => confirmed.Contains(a.Rule)), a => Assert.True(a.Action == "confirm" || a.Rule == "C10", a.ToString()));
        Assert.All(answers.Where(a => a.Rule[0] is 'S' or 'F' && a.Rule is not ("S03" or "F05")), a => Assert.Equal("correct", a.Action));
        Assert.All(answers.Where(a => a.Rule is "X02"), a => Assert.Equal("remove", a.Action));

        // Duplicates: one "remove" per injected copy. S03's two rows share their number, so one line answers both.
        int TruthCount(string rule) => lines.Count(t => t[2] == rule);
        int Count(string rule, string action) => answers.Count(a => a.Rule == rule && a.Action == action);
        Assert.Equal(TruthCount("S03") / 2, Count("S03", "remove"));
        Assert.Equal(0, Count("S03", "confirm"));
        foreach (var rule in new[] { "X03", "X04", "X06" })
        {
            Assert.True(TruthCount(rule) >= 6, rule);
            Assert.Equal(TruthCount(rule) / 2, Count(rule, "remove"));
            Assert.Equal(TruthCount(rule) / 2, Count(rule, "confirm"));
        }

        // X05: the second registration of the child is removed (both its lines), the first confirmed (both its lines).
        Assert.Equal(TruthCount("X05") / 2, Count("X05", "remove"));
        Assert.Equal(Count("X05", "remove"), answers.Count(a => a.Rule == "C10" && a.Action == "remove"));
        Assert.All(answers.Where(a => a.Action == "remove" && a.Rule == "X05"),
            a => Assert.Contains(answers, b => b.School == a.School && b.No == a.No && b.Rule == "C10" && b.Action == "remove"));
    }

    [Fact]
    public void ApplyingTheAnswersToTheExport_LeavesTheOracleOnlyTheConfirmedFacts()
    {
        var rows = province.Current.Skip(1).Select(r => r.ToArray()).ToList();
        var removed = new HashSet<int>();
        var index = rows.Select((r, i) => (r, i)).ToLookup(x => (x.r[Col("school_code")], x.r[Col("student_no")]), x => x.i);
        var corrections = 0;
        var removedKeys = new HashSet<(string, string)>();
        foreach (var answer in province.Answers.Values.SelectMany(a => a))
        {
            var matches = index[(answer.SchoolCode, answer.StudentNo)].Where(i => !removed.Contains(i)).ToList();
            switch (answer.Action)
            {
                case WorksheetAction.RemoveRegistration:
                    // One registration goes per school and number, whatever the number of findings answered (X05 has two
                    // lines; S03's one line stands for two rows of which one goes).
                    if (removedKeys.Add((answer.SchoolCode, answer.StudentNo)))
                    {
                        Assert.NotEmpty(matches);
                        removed.Add(matches[^1]);
                    }

                    break;
                case WorksheetAction.Corrected:
                    var row = rows[Assert.Single(matches)];
                    // The clean value is not what the export holds: every correction changes something.
                    Assert.NotEqual(answer.Value, row[Col(answer.Field)]);
                    row[Col(answer.Field)] = answer.Value;
                    corrections++;
                    break;
                default:
                    // A confirmed fact stays as it is; T01's row is the previous round's, absent now.
                    Assert.Equal(answer.RuleId == "T01" ? 0 : 1, matches.Count);
                    break;
            }
        }

        Assert.True(corrections > 100, corrections.ToString(CultureInfo.InvariantCulture));
        var found = Oracle(rows.Where((_, i) => !removed.Contains(i)));
        Assert.Equal(ExpectedAfterAnswers(), found);
    }

    // ---- the simulator ----

    [Theory]
    [InlineData(WorksheetLanguage.Chinese)]
    [InlineData(WorksheetLanguage.English)]
    public void Diligent_EditsAndActions_ReadBackWithTheProjectsReader_ExactlyAsReported(WorksheetLanguage language)
    {
        var schools = Worksheets(language);
        var sawS03 = false;
        foreach (var (school, document, issued) in schools)
        {
            var answers = province.AnswersOf(school);
            var result = RegistrarSimulator.Edit(issued, answers, RegistrarStyle.Diligent, seed: 1);
            var book = Read(result.Workbook, document);
            Assert.Empty(book.NotImported);
            Assert.Equal(document.Rows.Count, book.Rows.Count);
            Assert.Empty(result.NewMistakes);
            var answered = result.Answers.ToDictionary(a => a.RowKey);
            Assert.Equal(result.Answers.Count, answered.Count);
            Assert.Equal(document.Rows.Select(r => r.RowKey).Order(StringComparer.Ordinal),
                answered.Keys.Concat(result.RowsLeft).Order(StringComparer.Ordinal));
            var edits = result.Edits.ToDictionary(e => (e.RowKey, e.Field));
            foreach (var row in book.Rows)
            {
                Assert.False(row.Rejected, row.RowKey);
                var issuedRow = document.Rows.Single(r => r.RowKey == row.RowKey);
                if (answered.TryGetValue(row.RowKey, out var answer))
                {
                    Assert.Equal(answer.Action, row.Action);
                    Assert.Equal(answer.Action.Label(language), row.ActionText);
                    Assert.Equal(answer.Explanation, row.Explanation);
                    Assert.Equal(answer.Action != WorksheetAction.Corrected, answer.Explanation is not null);
                    Assert.Equal(issuedRow.StudentNo, answer.StudentNo);
                }
                else
                {
                    Assert.Null(row.ActionText);
                    Assert.Null(row.Explanation);
                }

                foreach (var field in document.Fields)
                {
                    var was = issuedRow.Values.GetValueOrDefault(field);
                    if (edits.TryGetValue((row.RowKey, field), out var edit))
                    {
                        Assert.Equal(WorksheetAction.Corrected, row.Action);
                        Assert.Equal(was, edit.OldValue);
                        Assert.Equal(Shown(edit.NewValue), row.Values[field]);
                    }
                    else
                    {
                        Assert.Equal(Shown(was), row.Values[field]);
                    }
                }
            }

            // Every answer of the school reached its row: corrections as edits, the rest as actions.
            var byNumber = document.Rows.ToLookup(r => r.StudentNo);
            foreach (var answer in answers)
            {
                var keys = byNumber[answer.StudentNo].Select(r => r.RowKey).ToList();
                Assert.NotEmpty(keys);
                if (answer.Action == WorksheetAction.Corrected)
                {
                    var edit = Assert.Single(result.Edits, e => keys.Contains(e.RowKey) && e.Field == answer.Field);
                    Assert.Equal(answer.Value.Length == 0 ? null : answer.Value, edit.NewValue);
                }
                else
                {
                    Assert.Contains(result.Answers, a => keys.Contains(a.RowKey) && a.Action == answer.Action);
                }

                if (answer.RuleId == "S03")
                {
                    // Two rows show the number: one is removed, the other is left as it is.
                    Assert.Equal(2, keys.Count);
                    Assert.Single(result.Answers, a => keys.Contains(a.RowKey));
                    Assert.Single(result.RowsLeft, keys.Contains);
                    sawS03 = true;
                }
            }

            // The rows left are exactly those nobody can answer.
            Assert.All(result.RowsLeft, key => Assert.True(
                answers.All(a => a.StudentNo != document.Rows.Single(r => r.RowKey == key).StudentNo) ||
                byNumber[document.Rows.Single(r => r.RowKey == key).StudentNo].Count() == 2, key));
            AssertTypedAsText(issued, result, document, language);
        }

        Assert.True(sawS03);
        Assert.Contains(schools, s => !province.Answers.ContainsKey(s.School));
    }

    [Fact]
    public void Diligent_And_Sloppy_ReturnsApplied_GiveTheOracleTheConfirmedFactsAndExactlyTheNamedMistakes()
    {
        var expected = ExpectedAfterAnswers();
        foreach (var style in new[] { RegistrarStyle.Diligent, RegistrarStyle.Sloppy })
        {
            var rows = province.Current.Skip(1).Select(r => r.ToArray()).ToList();
            var removed = new HashSet<int>();
            var mistakes = new List<string>();
            foreach (var (school, document, issued) in Worksheets(WorksheetLanguage.Chinese))
            {
                var result = RegistrarSimulator.Edit(issued, province.AnswersOf(school), style, seed: 3);
                mistakes.AddRange(result.NewMistakes.Select(m => RuleOracle.Line(m.StudentNo, m.SchoolCode, m.RuleId, m.Field)));
                Assert.True(result.NewMistakes.Count <= RegistrarSimulator.SloppyMistakeRows);
                Assert.All(result.NewMistakes, m => Assert.Equal(school, m.SchoolCode));

                // The edits no answer explains are the mistakes: typed into corrected rows, over a value the row showed.
                var answered = province.AnswersOf(school).Where(a => a.Action == WorksheetAction.Corrected)
                    .Select(a => (a.StudentNo, a.Field)).ToHashSet();
                var extra = result.Edits.Where(e => !answered.Contains((e.StudentNo, e.Field))).ToList();
                Assert.Equal(result.NewMistakes.Select(m => m.Field).Order(StringComparer.Ordinal),
                    extra.Select(e => e.Field).Order(StringComparer.Ordinal));
                Assert.All(extra, e => Assert.Contains(result.Answers, a => a.RowKey == e.RowKey && a.Action == WorksheetAction.Corrected));
                Assert.All(extra, e => Assert.NotNull(e.OldValue));

                ApplyReturn(Read(result.Workbook, document), document, rows, removed);
            }

            var found = Oracle(rows.Where((_, i) => !removed.Contains(i)));
            if (style == RegistrarStyle.Diligent)
            {
                Assert.Empty(mistakes);
                Assert.Equal(expected, found);
            }
            else
            {
                Assert.True(mistakes.Count >= 4, string.Join(' ', mistakes));
                Assert.True(mistakes.Select(m => m.Split(',')[2]).Distinct().Count() >= 2, string.Join(' ', mistakes));
                Assert.Equal(expected.Concat(mistakes).Order(StringComparer.Ordinal), found);
            }
        }
    }

    [Fact]
    public void Leaves_ReturnsTheIssuedBytes_AndLeavesEveryRow()
    {
        var (school, document, issued) = Worksheets(WorksheetLanguage.Chinese).First(s => province.Answers.ContainsKey(s.School));
        var result = RegistrarSimulator.Edit(issued, province.AnswersOf(school), RegistrarStyle.Leaves, seed: 1);
        Assert.Equal(issued, result.Workbook);
        Assert.NotSame(issued, result.Workbook);
        Assert.Empty(result.Edits);
        Assert.Empty(result.Answers);
        Assert.Empty(result.NewMistakes);
        Assert.Equal(document.Rows.Select(r => r.RowKey).Order(StringComparer.Ordinal), result.RowsLeft.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Partial_AnswersAboutHalfOfTheDiligentRows_TheSameWayForTheSameSeed()
    {
        var total = 0;
        var differ = false;
        foreach (var (school, document, issued) in Worksheets(WorksheetLanguage.Chinese).Where(s => province.Answers.ContainsKey(s.School)))
        {
            var answers = province.AnswersOf(school);
            var all = RegistrarSimulator.Edit(issued, answers, RegistrarStyle.Diligent, seed: 5);
            var half = RegistrarSimulator.Edit(issued, answers, RegistrarStyle.Partial, seed: 5);
            var again = RegistrarSimulator.Edit(issued, answers, RegistrarStyle.Partial, seed: 5);
            var other = RegistrarSimulator.Edit(issued, answers, RegistrarStyle.Partial, seed: 6);
            Assert.InRange(half.Answers.Count, all.Answers.Count / 2, (all.Answers.Count + 1) / 2);
            Assert.All(half.Answers, a => Assert.Contains(a, all.Answers));
            Assert.All(half.Edits, e => Assert.Contains(e, all.Edits));
            Assert.Equal(half.Answers, again.Answers);
            Assert.Equal(half.Edits, again.Edits);
            Assert.Equal(half.RowsLeft, again.RowsLeft);
            differ |= !half.Answers.SequenceEqual(other.Answers);

            // What is read back is what was reported, and the rows not chosen stay untouched.
            var book = Read(half.Workbook, document);
            Assert.Equal(half.Answers.Select(a => (a.RowKey, (WorksheetAction?)a.Action)),
                book.Rows.Where(r => r.Action is not null).Select(r => (r.RowKey, r.Action)));
            Assert.All(book.Rows.Where(r => half.RowsLeft.Contains(r.RowKey)), r => Assert.Null(r.ActionText));
            Assert.Equal(document.Rows.Count, half.Answers.Count + half.RowsLeft.Count);
            total += all.Answers.Count;
        }

        Assert.True(total > 50, total.ToString(CultureInfo.InvariantCulture));
        Assert.True(differ);
    }

    [Fact]
    public void Correct_WhoseFieldIsNotOnTheSheet_LeavesTheRow_AndTextIsTypedExactly()
    {
        var document = WorksheetSamples.Tricky();
        var issued = WorksheetSamples.Write(document);
        var school = document.SchoolCode;
        var byKey = document.Rows.ToDictionary(r => r.RowKey);
        var tricky = "第一行\r第二行 _x0041_ =1+1";
        RegistrarAnswer Answer(string key, string rule, string field, WorksheetAction action, string value = "") =>
            new(school, byKey[key].StudentNo!, rule, field, action, value);
        RegistrarAnswer[] answers =
        [
            // 1003 needs a column the sheet lacks (household_region): the whole row stays open.
            Answer("1003", "F06", "birth_date", WorksheetAction.Corrected, "2015-03-09"),
            Answer("1003", "S01", "household_region", WorksheetAction.Corrected, "230102"),
            Answer("1002", "S02", "address", WorksheetAction.Corrected, tricky),
            Answer("1002", "F12", "id_number", WorksheetAction.Corrected, "230102201503090318"),
            Answer("1001", "T02", "birth_date", WorksheetAction.Confirmed),
            new("2123000002", byKey["1004"].StudentNo!, "C04", "birth_date", WorksheetAction.RemoveRegistration, ""),
        ];
        var result = RegistrarSimulator.Edit(issued, answers, RegistrarStyle.Diligent, seed: 9);
        Assert.Equal(new[] { "1003", "1004" }, result.RowsLeft.Order(StringComparer.Ordinal));
        Assert.Equal(new[] { "1001", "1002" }, result.Answers.Select(a => a.RowKey).Order(StringComparer.Ordinal));
        Assert.Equal(
            new[] { ("1002", "address", tricky), ("1002", "id_number", "230102201503090318") },
            result.Edits.Select(e => (e.RowKey, e.Field, e.NewValue!)).OrderBy(e => e.Field, StringComparer.Ordinal));
        Assert.Equal("a\u0001b _x0041_ ", result.Edits.Single(e => e.Field == "address").OldValue);

        var book = Read(result.Workbook, document);
        Assert.All(book.Rows, r => Assert.False(r.Rejected));
        var row1002 = book.Rows.Single(r => r.RowKey == "1002");
        Assert.Equal(WorksheetAction.Corrected, row1002.Action);
        Assert.Equal(tricky, row1002.Values["address"]);
        Assert.Equal("230102201503090318", row1002.Values["id_number"]);
        Assert.Null(book.Rows.Single(r => r.RowKey == "1003").Action);
        Assert.Equal("2015-02-30", book.Rows.Single(r => r.RowKey == "1003").Values["birth_date"]);
        var row1001 = book.Rows.Single(r => r.RowKey == "1001");
        Assert.Equal(WorksheetAction.Confirmed, row1001.Action);
        Assert.False(string.IsNullOrWhiteSpace(row1001.Explanation));
        AssertTypedAsText(issued, result, document, WorksheetLanguage.Chinese);
    }

    [Fact]
    public void StyleFor_IsStablePerSchool_AndFollowsTheShares()
    {
        var codes = Enumerable.Range(0, 4000).Select(i => "2123" + (100000 + i).ToString(CultureInfo.InvariantCulture)).ToList();
        var shares = (0.5, 0.2, 0.2, 0.1);
        var styles = codes.Select(c => RegistrarSimulator.StyleFor(c, 11, shares)).ToList();
        Assert.Equal(styles, codes.Select(c => RegistrarSimulator.StyleFor(c, 11, shares)));
        Assert.NotEqual(styles, codes.Select(c => RegistrarSimulator.StyleFor(c, 12, shares)));
        var counts = styles.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count() / (double)codes.Count);
        Assert.InRange(counts[RegistrarStyle.Diligent], 0.46, 0.54);
        Assert.InRange(counts[RegistrarStyle.Partial], 0.17, 0.23);
        Assert.InRange(counts[RegistrarStyle.Leaves], 0.17, 0.23);
        Assert.InRange(counts[RegistrarStyle.Sloppy], 0.08, 0.12);
        Assert.All(codes.Take(200), c => Assert.Equal(RegistrarStyle.Sloppy, RegistrarSimulator.StyleFor(c, 1, (0, 0, 0, 3))));
        Assert.All(codes.Take(200), c => Assert.NotEqual(RegistrarStyle.Leaves, RegistrarSimulator.StyleFor(c, 1, (1, 1, 0, 1))));
        Assert.Throws<ArgumentOutOfRangeException>(() => RegistrarSimulator.StyleFor("2123000001", 1, (0, 0, 0, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RegistrarSimulator.StyleFor("2123000001", 1, (1, -1, 0, 0)));
    }

    [Fact]
    public void Load_ReadsQuotedValues_AndRefusesAnUnknownAction()
    {
        var path = Path.Combine(province.Root, "answers-test.csv");
        File.WriteAllText(path, RegistrarAnswers.Header + "\r\n" +
            "2123000001,G1,S02,address,correct,\"a,b \"\"c\"\"\r\nd\"\r\n" +
            "2123000001,G2,T02,gender,confirm,\r\n" +
            "2123000002,G3,X02,grade,remove,\r\n", new UTF8Encoding(false));
        var loaded = RegistrarAnswers.Load(path);
        Assert.Equal(["2123000001", "2123000002"], loaded.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new RegistrarAnswer("2123000001", "G1", "S02", "address", WorksheetAction.Corrected, "a,b \"c\"\r\nd"),
            loaded["2123000001"][0]);
        Assert.Equal(WorksheetAction.Confirmed, loaded["2123000001"][1].Action);
        Assert.Equal(WorksheetAction.RemoveRegistration, loaded["2123000002"][0].Action);

        File.WriteAllText(path, RegistrarAnswers.Header + "\r\n2123000001,G1,S02,address,fix,x\r\n", new UTF8Encoding(false));
        var e = Assert.Throws<FormatException>(() => RegistrarAnswers.Load(path));
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }

    // ---- helpers ----

    /// <summary>
    /// What the oracle must find once every answer is applied (record-level lines only): the confirmed facts, except the
    /// kept rows of duplicates whose copy was removed, and the rows no registrar can answer.
    /// </summary>
    private List<string> ExpectedAfterAnswers()
    {
        var actions = province.AnswerRows.ToLookup(r => (r[0], r[1], r[2]), r => r[4]);
        return [.. province.Truth
            .Where(t => t[0].Length > 0)
            .Where(t => Unanswerable.Contains(t[2]) || (actions[(t[1], t[0], t[2])].Contains("confirm") && !Duplicates.Contains(t[2])))
            .Select(t => string.Join(',', t))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>The oracle's record-level findings on these current rows (school-level lines left out: counts change).</summary>
    private List<string> Oracle(IEnumerable<string[]> rows)
    {
        var folder = Path.Combine(province.Root, "applied-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        File.Copy(province.Result.SchoolMasterPath, Path.Combine(folder, "schools.csv"));
        var text = new StringBuilder();
        foreach (var row in province.Current.Take(1).Concat(rows))
        {
            text.Append(string.Join(',', row.Select(Quote))).Append("\r\n");
        }

        File.WriteAllText(Path.Combine(folder, "students.csv"), text.ToString(), new UTF8Encoding(false));
        return [.. RuleOracle.Check(folder, province.Result.PreviousExportDirectory, RoundDate)
            .Where(l => l.Split(',')[2][0] != 'A')
            .Order(StringComparer.Ordinal)];

        static string Quote(string v) =>
            v.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;
    }

    /// <summary>
    /// One worksheet per school code that has findings of students, built the way WorksheetIssuer builds them (each row
    /// shows its findings' fields, and for stage 3 on every field the rule reads; never the school's own code): current
    /// rows keyed by their export line, previous-round rows (T01) by 1,000,000 + theirs.
    /// </summary>
    private List<(string School, WorksheetDocument Document, byte[] Issued)> Worksheets(WorksheetLanguage language) =>
        province.Worksheets(language);

    private static List<(string School, WorksheetDocument Document, byte[] Issued)> BuildWorksheets(
        Province province, WorksheetLanguage language)
    {
        var current = province.Current.Skip(1).Select((r, i) => (Key: (i + 1).ToString(CultureInfo.InvariantCulture), Row: r)).ToList();
        var previous = province.Previous.Skip(1)
            .Select((r, i) => (Key: (1_000_000 + i).ToString(CultureInfo.InvariantCulture), Row: r)).ToList();
        var rows = new Dictionary<string, (string[] Row, List<(string Rule, string Field)> Findings)>(StringComparer.Ordinal);
        foreach (var group in province.Truth.Where(t => t[0].Length > 0).GroupBy(t => (No: t[0], School: t[1], Previous: t[2] == "T01")))
        {
            var source = group.Key.Previous ? previous : current;
            var matches = source.Where(x => x.Row[Col("student_no")] == group.Key.No && x.Row[Col("school_code")] == group.Key.School).ToList();
            Assert.NotEmpty(matches);
            // S03's rows share their number and have one finding each; every other row has its own.
            var findings = group.Select(t => (t[2], t[3])).ToList();
            var each = matches.Count > 1 ? findings.Distinct().ToList() : findings;
            foreach (var (key, row) in matches)
            {
                rows[key] = (row, each);
            }
        }

        var findingId = 0L;
        var result = new List<(string, WorksheetDocument, byte[])>();
        foreach (var school in rows.GroupBy(r => r.Value.Row[Col("school_code")]).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var worksheetRows = new List<WorksheetRow>();
            foreach (var (key, (row, findings)) in school)
            {
                var shown = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (rule, field) in findings)
                {
                    shown.Add(field);
                    if (Rules[rule].Stage >= RuleStage.Consistency)
                    {
                        shown.UnionWith(Rules[rule].Fields);
                    }
                }

                shown.RemoveWhere(f => WorksheetFields.NotCorrectable.Contains(f));
                string? Raw(string field) => row[Col(field)] is { Length: > 0 } v ? v : null;
                worksheetRows.Add(new WorksheetRow
                {
                    RowKey = key, StudentNo = Raw("student_no"), Grade = Raw("grade"), ClassName = Raw("class_name"), Name = Raw("name"),
                    Values = shown.ToDictionary(f => f, Raw),
                    Problems = [.. findings.Select(f => WorksheetSamples.Problem(++findingId, f.Rule, f.Field))],
                });
            }

            var document = RowSignature.SignRows(WorksheetSamples.Key, new WorksheetDocument
            {
                WorksheetId = new Guid(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(school.Key))[..16]), RoundId = 3,
                RoundCode = "2026-秋", SchoolCode = school.Key, SchoolName = "学校" + school.Key, IssueNumber = 1,
                Deadline = new DateOnly(2026, 11, 1), GeneratedAt = new DateTimeOffset(2026, 10, 20, 8, 0, 0, TimeSpan.FromHours(8)),
                KeyId = "k-test", Contact = "区教育局学籍科", Fields = WorksheetFields.InLayoutOrder(worksheetRows.SelectMany(r => r.Values.Keys)),
                Rows = worksheetRows,
            });
            result.Add((school.Key, document, WorksheetSamples.Write(document, language)));
        }

        return result;
    }

    private static ReturnedWorkbook Read(byte[] bytes, WorksheetDocument document)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return ReturnedWorkbookReader.Read(stream, WorkbookWriter.FileName(document), ReturnLimits.Default);
    }

    /// <summary>
    /// Applies a returned worksheet as the ingest would, to the export rows: corrected rows take every field value that
    /// differs from the issued one, removed rows go, confirmed rows stay.
    /// </summary>
    private static void ApplyReturn(ReturnedWorkbook book, WorksheetDocument document, List<string[]> rows, HashSet<int> removed)
    {
        foreach (var row in book.Rows)
        {
            Assert.False(row.Rejected, row.RowKey);
            var index = int.Parse(row.RowKey, CultureInfo.InvariantCulture) - 1;
            if (index >= 1_000_000 - 1)
            {
                Assert.True(row.Action is null or WorksheetAction.Confirmed, row.RowKey);
                continue;
            }

            var issued = document.Rows.Single(r => r.RowKey == row.RowKey);
            switch (row.Action)
            {
                case WorksheetAction.RemoveRegistration:
                    Assert.True(removed.Add(index));
                    break;
                case WorksheetAction.Corrected:
                    foreach (var (field, value) in row.Values)
                    {
                        if (value != Shown(issued.Values.GetValueOrDefault(field)))
                        {
                            rows[index][Col(field)] = value ?? "";
                        }
                    }

                    break;
            }
        }
    }

    /// <summary>A value as the reader returns it: full-width digits folded, trimmed, null when nothing is left.</summary>
    private static string? Shown(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var folded = new string([.. value.Select(c => c is >= '０' and <= '９' ? (char)(c - '０' + '0') : c)]);
        var trimmed = TextNormalizer.Trim(folded);
        return trimmed.Length == 0 ? null : trimmed;
    }

    /// <summary>Every typed cell is a string (never a number) and keeps the issued cell's style: unlocked, text format, fill.</summary>
    private static void AssertTypedAsText(byte[] issued, SimulatedReturn result, WorksheetDocument document, WorksheetLanguage language)
    {
        var sheet = WorksheetText.SheetNames(language).Problems;
        using var before = new OpenXmlWorkbook(issued);
        using var after = new OpenXmlWorkbook(result.Workbook);
        var columns = WorksheetLayout.Columns(document.Fields, language);
        int ExcelRow(string key) => before.Cells(sheet).Values.Single(c => c.Column == 1 && c.Text == key).Row;
        int Number(string marker) => columns.Single(c => c.Marker == marker).Number;
        var typed = result.Edits.Select(e => (e.RowKey, Column: Number("field." + e.Field), Text: e.NewValue))
            .Concat(result.Answers.Select(a => (a.RowKey, Column: Number("action"), Text: (string?)a.Action.Label(language))))
            .Concat(result.Answers.Where(a => a.Explanation is not null)
                .Select(a => (a.RowKey, Column: Number("explanation"), Text: a.Explanation)));
        foreach (var (key, column, text) in typed)
        {
            var row = ExcelRow(key);
            var was = before.Cell(sheet, row, column);
            var now = after.Cell(sheet, row, column);
            Assert.NotNull(now);
            Assert.Equal(text ?? "", now.Text);
            Assert.True(text is null ? now.Type is null : now.Type == CellValues.InlineString, now.Reference);
            Assert.False(now.Locked, now.Reference);
            Assert.Equal("@", now.NumberFormat);
            if (was is not null)
            {
                Assert.Equal(was.FillRgb, now.FillRgb);
                Assert.Equal(was.QuotePrefix, now.QuotePrefix);
            }
        }
    }
}
