using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Tests.Exports;

/// <summary>
/// The export policy as a table (README, "Exports and confidentiality"; docs/exports.md): every cell written out here as the
/// README prints it, and the decision for every role, kind, form and scope (one school's students, or more: bulk) worked
/// out from those cells by the rules the docs state: nothing where the cell is "none"; an aggregate only where the cell is
/// "aggregate"; a full file where the cell says masked, or more than one school's students in full, only by an approved
/// request. No database: the policy is code.
/// </summary>
public sealed class ExportPolicyTests
{
    /// <summary>The table as the README prints it: a row per kind, a column per role (data team, district, school, class teacher, manager).</summary>
    public static readonly IReadOnlyDictionary<ExportKind, string[]> Expected = new Dictionary<ExportKind, string[]>
    {
        [ExportKind.Worksheet] = ["full", "full", "full", "none", "none"],
        [ExportKind.Receipt] = ["full", "full", "full", "none", "none"],
        [ExportKind.Lineage] = ["full", "none", "none", "none", "none"],
        [ExportKind.Changes] = ["full", "none", "none", "none", "none"],
        [ExportKind.ProblemList] = ["masked", "masked", "none", "none", "none"],
        [ExportKind.ConfirmationSheets] = ["full", "none", "full", "none", "none"],
        [ExportKind.ClassAnswers] = ["none", "none", "none", "masked", "none"],
        [ExportKind.TrendTable] = ["aggregate", "aggregate", "none", "none", "aggregate"],
    };

    private static readonly AccountRole[] Columns = [AccountRole.DataTeam, AccountRole.District, AccountRole.School, AccountRole.ClassTeacher, AccountRole.Manager];

    /// <summary>One school's students (or one class, return or record) and more than one school's (bulk).</summary>
    private static readonly ExportScope[] OneSchool =
        [ExportScope.School("2301000001"), ExportScope.Class("2301000001", 4, "3班"), ExportScope.Return(17), ExportScope.Record(123456)];

    private static readonly ExportScope[] Bulk = [ExportScope.Province, ExportScope.District("230102")];

    public static TheoryData<ExportKind> Kinds() => [.. Enum.GetValues<ExportKind>()];

    [Fact]
    public void TheTable_HasARowForEveryKind_AndTheRolesInTheReadmesOrder()
    {
        Assert.Equal(Enum.GetValues<ExportKind>().Order(), Expected.Keys.Order());
        Assert.Equal(Columns, ExportPolicy.Roles);
        // Every role of the system has its column: none is left to the default.
        Assert.Equal(Enum.GetValues<AccountRole>().Order(), ExportPolicy.Roles.Order());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryCell_IsWhatTheReadmePrints(ExportKind kind)
    {
        var row = Columns.Select(role => ExportPolicy.RightOf(role, kind).ToString().ToLowerInvariant()).ToArray();
        Assert.Equal(Expected[kind], row);
    }

    [Fact]
    public void AManager_TakesTrendTablesAsAggregates_AndNoPersonalDataInAnyFormOrScope()
    {
        foreach (var kind in Enum.GetValues<ExportKind>().Where(k => k != ExportKind.TrendTable))
        {
            Assert.Equal(ExportRight.None, ExportPolicy.RightOf(AccountRole.Manager, kind));
            foreach (var form in Enum.GetValues<ExportForm>())
            {
                foreach (var scope in OneSchool.Concat(Bulk))
                {
                    Assert.Equal(ExportDecision.Refused, ExportPolicy.Decide(AccountRole.Manager, kind, form, scope));
                    // Not even by request: a manager may not ask for it.
                    Assert.False(ExportPolicy.MayRequest(AccountRole.Manager, kind, form, scope));
                }
            }
        }

        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.Manager, ExportKind.TrendTable, ExportForm.Aggregate, ExportScope.Province));
        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.Manager, ExportKind.TrendTable, ExportForm.Aggregate, ExportScope.District("230102")));
        Assert.Equal(ExportDecision.Refused, ExportPolicy.Decide(AccountRole.Manager, ExportKind.TrendTable, ExportForm.Masked, ExportScope.Province));
        Assert.Equal(ExportDecision.Refused, ExportPolicy.Decide(AccountRole.Manager, ExportKind.TrendTable, ExportForm.Full, ExportScope.Province));
        Assert.False(ExportPolicy.MayApprove(AccountRole.Manager));
    }

    [Fact]
    public void ABulkFullExport_NeedsARequest_ForEveryRoleThatMayTakeItInFull()
    {
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.DataTeam, ExportKind.Changes, ExportForm.Full, ExportScope.Province));
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.DataTeam, ExportKind.Worksheet, ExportForm.Full, ExportScope.District("230102")));
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.District, ExportKind.Receipt, ExportForm.Full, ExportScope.District("230102")));
        // One school's students in full, where the table says full: no request.
        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.School, ExportKind.Worksheet, ExportForm.Full, ExportScope.School("2301000001")));
        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.DataTeam, ExportKind.Changes, ExportForm.Full, ExportScope.School("2301000001")));
    }

    [Fact]
    public void AFullFileWhereTheTableSaysMasked_NeedsARequest_WhileTheMaskedOneDoesNot()
    {
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.District, ExportKind.ProblemList, ExportForm.Full, ExportScope.District("230102")));
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.DataTeam, ExportKind.ProblemList, ExportForm.Full, ExportScope.Province));
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.DataTeam, ExportKind.ProblemList, ExportForm.Full, ExportScope.School("2301000001")));
        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.District, ExportKind.ProblemList, ExportForm.Masked, ExportScope.District("230102")));
        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.DataTeam, ExportKind.ProblemList, ExportForm.Masked, ExportScope.Province));
    }

    [Fact]
    public void AClassTeacher_TakesOnlyItsClassAnswersMasked()
    {
        var scope = ExportScope.Class("2301000001", 4, "3班");
        Assert.Equal(ExportDecision.Allowed, ExportPolicy.Decide(AccountRole.ClassTeacher, ExportKind.ClassAnswers, ExportForm.Masked, scope));
        Assert.Equal(ExportDecision.NeedsRequest, ExportPolicy.Decide(AccountRole.ClassTeacher, ExportKind.ClassAnswers, ExportForm.Full, scope));
        Assert.Equal(ExportDecision.Refused, ExportPolicy.Decide(AccountRole.ClassTeacher, ExportKind.ClassAnswers, ExportForm.Aggregate, scope));
        foreach (var kind in Enum.GetValues<ExportKind>().Where(k => k != ExportKind.ClassAnswers))
        {
            Assert.All(Enum.GetValues<ExportForm>(), form =>
                Assert.Equal(ExportDecision.Refused, ExportPolicy.Decide(AccountRole.ClassTeacher, kind, form, scope)));
        }

        Assert.False(ExportPolicy.MayApprove(AccountRole.ClassTeacher));
    }

    [Fact]
    public void OnlyTheDataTeamApprovesRequests() =>
        Assert.Equal([AccountRole.DataTeam], Enum.GetValues<AccountRole>().Where(ExportPolicy.MayApprove));

    /// <summary>
    /// Every role × kind × form × scope: the decision the docs' rules give from the cell written above (not from the code's
    /// table), so that a changed cell or a changed rule fails here.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decide_FollowsTheCell_ForEveryRoleFormAndScope(ExportKind kind)
    {
        for (var column = 0; column < Columns.Length; column++)
        {
            var cell = Expected[kind][column];
            foreach (var form in Enum.GetValues<ExportForm>())
            {
                foreach (var (scope, bulk) in OneSchool.Select(s => (s, false)).Concat(Bulk.Select(s => (s, true))))
                {
                    var expected = (cell, form) switch
                    {
                        ("none", _) => ExportDecision.Refused,
                        ("aggregate", ExportForm.Aggregate) => ExportDecision.Allowed,
                        ("aggregate", _) => ExportDecision.Refused,
                        (_, ExportForm.Aggregate) => ExportDecision.Refused,
                        (_, ExportForm.Masked) => ExportDecision.Allowed,
                        ("masked", ExportForm.Full) => ExportDecision.NeedsRequest,
                        ("full", ExportForm.Full) => bulk ? ExportDecision.NeedsRequest : ExportDecision.Allowed,
                        _ => throw new InvalidOperationException($"no rule for {cell}/{form}"),
                    };
                    Assert.True(expected == ExportPolicy.Decide(Columns[column], kind, form, scope),
                        $"{Columns[column]} × {kind} × {form} × {scope}: expected {expected}, the policy says {ExportPolicy.Decide(Columns[column], kind, form, scope)}");
                    Assert.Equal(expected != ExportDecision.Refused, ExportPolicy.MayRequest(Columns[column], kind, form, scope));
                }
            }
        }
    }
}
