using StudentDataQuality.Application.Returns;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Staging;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Tests.Worksheets;

/// <summary>
/// The plan step of taking a return back, alone and without a database: a returned workbook as the reader gives it, the
/// issued snapshot, the records as they are now and earlier returns, and what each row becomes.
/// </summary>
public sealed class ReturnPlannerTests
{
    private const int RoundId = 7;
    private const int PreviousRoundId = 6;
    private const string Sheet = "问题清单";

    // The issued worksheet shows two fields: address (column E) and guardian phone (column G), and the locked name (column C).
    private static readonly MetaColumn[] Columns =
    [
        new(3, "id.name", "姓名"),
        new(5, "field.address", "现住址"),
        new(7, "field.guardian1_phone", "监护人1联系电话"),
    ];

    private static IssuedRow Issued(string rowKey, long recordId, string? address = "旧地址1号", string? phone = "13800000000") =>
        new(rowKey, recordId, 1, ["address", "guardian1_phone"], [address, phone], [100 + recordId], "sig-" + rowKey);

    private static CurrentVersion Current(long recordId, int version = 1, bool removed = false, int roundId = RoundId, string? address = "旧地址1号") =>
        new(roundId, recordId, version, new Dictionary<string, string?> { ["address"] = address, ["guardian1_phone"] = "13800000000", ["name"] = "张三" },
            null, removed);

    private static ReturnedRow Row(string rowKey, int excelRow, string? address = "旧地址1号", string? phone = "13800000000", WorksheetAction? action = null,
        string? explanation = null, string name = "张三", IReadOnlyList<ReturnProblem>? problems = null) => new()
        {
            ExcelRow = excelRow,
            RowKey = rowKey,
            Issued = new MetaRow(excelRow, rowKey, "sig-" + rowKey),
            Identity = new Dictionary<string, string?> { ["name"] = name },
            Values = new Dictionary<string, string?> { ["address"] = address, ["guardian1_phone"] = phone },
            ActionText = action?.ToString(),
            Action = action,
            Explanation = explanation,
            Problems = problems ?? [],
        };

    private static ReturnedWorkbook Workbook(params ReturnedRow[] rows) => new()
    {
        FileName = "return.xlsx",
        Meta = new ReturnedWorkbookMeta
        {
            WorksheetId = Guid.Parse("6f1c1a52-8a0e-4a57-9d0b-2f3c5d6e7f80"),
            RoundId = RoundId,
            SchoolCode = "2301020001",
            IssueNumber = 1,
            KeyId = "k1",
            TemplateVersion = 1,
            ProblemsSheet = Sheet,
            Language = WorksheetLanguage.Chinese,
            Properties = new Dictionary<string, string>(),
            Columns = Columns,
            Rows = rows.ToDictionary(r => r.RowKey, r => r.Issued),
        },
        ProblemsSheet = Sheet,
        HeaderRow = 1,
        ColumnNumbers = Columns.ToDictionary(c => c.Marker, c => c.Number),
        Rows = rows,
        NotImported = [],
    };

    private static ReturnPlan Plan(ReturnedWorkbook workbook, IReadOnlyList<IssuedRow> issued, IReadOnlyList<CurrentVersion> current,
        EarlierReturns? before = null) =>
        ReturnPlanner.Plan(workbook, issued.ToDictionary(i => i.RowKey), current.ToDictionary(c => c.RecordId),
            issued.ToDictionary(i => (i.RecordId, i.RecordVersion), _ => (IReadOnlyDictionary<string, string?>)new Dictionary<string, string?>
            {
                ["student_no"] = null, ["grade"] = null, ["class_name"] = null, ["name"] = "张三",
            }), before ?? EarlierReturns.None);

    [Fact]
    public void AChangedValueWithNoAction_IsACorrection_FromTheRegistrysValue_NamedByItsCell()
    {
        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号")), [Issued("r1", 11)], [Current(11, version: 3)]);

        var decision = Assert.Single(plan.Decisions);
        Assert.Equal(RowDecisionKind.Correct, decision.Kind);
        var change = Assert.Single(decision.Changes);
        Assert.Equal(new FieldChange("address", "现住址", "E4", "旧地址1号", "新地址2号"), change);
        var version = Assert.Single(plan.Versions(returnId: 55));
        Assert.Equal((11L, 4, 55L, false), (version.RecordId, version.Version, version.ReturnId, version.Removed));
        Assert.Equal("新地址2号", version.RawValues["address"]);
        Assert.Equal("13800000000", version.RawValues["guardian1_phone"]);
        var line = Assert.Single(plan.Corrections);
        Assert.Equal(new CorrectionLine(11, 3, false, "address", "旧地址1号", "新地址2号", null, "r1", Sheet, 4, "现住址", "E4"), line);
        Assert.Equal([11L], plan.ChangedRecords);
    }

    [Fact]
    public void AnUntouchedRow_IsLeft_AndCorrectedWithNothingChanged_SaysSo()
    {
        var plan = Plan(Workbook(Row("r1", 4), Row("r2", 5, action: WorksheetAction.Corrected)), [Issued("r1", 11), Issued("r2", 12)],
            [Current(11), Current(12)]);

        Assert.All(plan.Decisions, d => Assert.Equal(RowDecisionKind.Leave, d.Kind));
        Assert.Null(plan.Decisions[0].Note);
        Assert.Contains("5", plan.Decisions[1].Note, StringComparison.Ordinal);
        Assert.Empty(plan.Changed);
        Assert.Empty(plan.Corrections);
    }

    [Fact]
    public void AChangedLockedName_RejectsTheRow_AndNothingOfItIsTaken()
    {
        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号", name: "李四")), [Issued("r1", 11)], [Current(11)]);

        var decision = Assert.Single(plan.Decisions);
        Assert.Equal(RowDecisionKind.Reject, decision.Kind);
        var problem = Assert.Single(decision.Problems);
        Assert.Equal((ReturnProblemCode.LockedCellChanged, "姓名", "name", 4), (problem.Code, problem.Column, problem.FieldName, problem.ExcelRow));
        Assert.Empty(plan.Versions(1));
        Assert.Empty(plan.Corrections);
    }

    [Fact]
    public void AProblemTheReaderFound_RejectsTheRow()
    {
        var formula = new ReturnProblem(ReturnProblemCode.Formula, Sheet, 4, "r1", "现住址", "address", "=A1");
        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号", problems: [formula])), [Issued("r1", 11)], [Current(11)]);

        Assert.Equal(RowDecisionKind.Reject, plan.Decisions[0].Kind);
        Assert.Equal([formula], plan.Decisions[0].Problems);
    }

    [Fact]
    public void AValueWithANul_CannotBeStored_AndRejectsTheRow()
    {
        var plan = Plan(Workbook(Row("r1", 4, address: "新\0地址")), [Issued("r1", 11)], [Current(11)]);

        Assert.Equal(RowDecisionKind.Reject, plan.Decisions[0].Kind);
        Assert.Equal(ReturnProblemCode.Unstorable, Assert.Single(plan.Decisions[0].Problems).Code);
    }

    [Fact]
    public void Confirmed_IsAnExplanationForReview_AndTheSameExplanationAgain_IsNotSentTwice()
    {
        var workbook = Workbook(Row("r1", 4, action: WorksheetAction.Confirmed, explanation: "地址属实"),
            Row("r2", 5, action: WorksheetAction.Confirmed, explanation: "电话属实"));
        var before = new EarlierReturns(new Dictionary<string, Dictionary<string, string?>>(), new Dictionary<string, string> { ["r2"] = "电话属实" });

        var plan = Plan(workbook, [Issued("r1", 11), Issued("r2", 12)], [Current(11, version: 2), Current(12)], before);

        Assert.All(plan.Decisions, d => Assert.Equal(RowDecisionKind.Explain, d.Kind));
        Assert.Equal([false, true], plan.Decisions.Select(d => d.Repeated));
        Assert.Equal([new ExplanationLine(11, 2, "r1", 4, "地址属实")], plan.Explanations);
        Assert.Empty(plan.Changed);
    }

    [Fact]
    public void ConfirmedWithChangedValues_IsAMixedAction_AndRejected()
    {
        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号", action: WorksheetAction.Confirmed, explanation: "属实")), [Issued("r1", 11)],
            [Current(11)]);

        Assert.Equal(RowDecisionKind.Reject, plan.Decisions[0].Kind);
        Assert.Equal(ReturnProblemCode.MixedAction, Assert.Single(plan.Decisions[0].Problems).Code);
    }

    [Fact]
    public void RemoveRegistration_GivesARemovedVersion_WithTheExplanationAsTheReason()
    {
        var plan = Plan(Workbook(Row("r1", 4, action: WorksheetAction.RemoveRegistration, explanation: "已转学")), [Issued("r1", 11)], [Current(11)]);

        Assert.Equal(RowDecisionKind.Remove, plan.Decisions[0].Kind);
        var version = Assert.Single(plan.Versions(9));
        Assert.True(version.Removed);
        Assert.Equal("旧地址1号", version.RawValues["address"]);
        Assert.Equal(new CorrectionLine(11, 1, true, null, null, null, "已转学", "r1", Sheet, 4, null, null), Assert.Single(plan.Corrections));
        Assert.Equal([11L], plan.RemovedRecords);
    }

    [Fact]
    public void ARecordRemovedEarlier_TakesNoMoreChanges_ButAnUntouchedRowSaysRemoved()
    {
        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号"), Row("r2", 5)), [Issued("r1", 11), Issued("r2", 12)],
            [Current(11, version: 2, removed: true), Current(12, version: 2, removed: true)]);

        Assert.Equal(RowDecisionKind.Reject, plan.Decisions[0].Kind);
        Assert.Equal(ReturnProblemCode.AlreadyRemoved, Assert.Single(plan.Decisions[0].Problems).Code);
        Assert.Equal(RowDecisionKind.AlreadyRemoved, plan.Decisions[1].Kind);
        Assert.Empty(plan.Changed);
    }

    [Fact]
    public void APreviousRoundStudent_CanBeExplained_NotCorrected()
    {
        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号"), Row("r2", 5, action: WorksheetAction.Confirmed, explanation: "已毕业")),
            [Issued("r1", 11), Issued("r2", 12)], [Current(11, roundId: PreviousRoundId), Current(12, roundId: PreviousRoundId)]);

        Assert.Equal(RowDecisionKind.Reject, plan.Decisions[0].Kind);
        Assert.Equal(ReturnProblemCode.PreviousRound, Assert.Single(plan.Decisions[0].Problems).Code);
        Assert.Equal(RowDecisionKind.Explain, plan.Decisions[1].Kind);
    }

    [Fact]
    public void ASecondReturn_AppliesOnlyWhatChangedSinceTheFirst()
    {
        // The first return set the address to 新地址2号; the second returns that address again and a new phone.
        var before = new EarlierReturns(
            new Dictionary<string, Dictionary<string, string?>> { ["r1"] = new() { ["address"] = "新地址2号" } }, new Dictionary<string, string>());

        var plan = Plan(Workbook(Row("r1", 4, address: "新地址2号", phone: "13911112222")), [Issued("r1", 11)],
            [Current(11, version: 2, address: "新地址2号")], before);

        var change = Assert.Single(plan.Decisions[0].Changes);
        Assert.Equal(("guardian1_phone", "G4", "13800000000", "13911112222"), (change.Field, change.Cell, change.Old, change.New));
    }

    [Fact]
    public void AnIssuedValueInFullWidthDigits_ReturnedAsTheReaderNormalisesIt_IsNotAChange()
    {
        var fullWidth = new string([.. "13800000000".Select(c => (char)(c - '0' + '０'))]) + " ";
        var plan = Plan(Workbook(Row("r1", 4, phone: "13800000000")), [Issued("r1", 11, phone: fullWidth)], [Current(11)]);

        Assert.Equal(RowDecisionKind.Leave, plan.Decisions[0].Kind);
        Assert.Empty(plan.Decisions[0].Changes);
    }
}
