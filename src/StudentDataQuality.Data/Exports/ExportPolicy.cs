using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Data.Exports;

/// <summary>What a role may take of a kind of file, for one school's students (or one class, one return, one record).</summary>
public enum ExportRight
{
    /// <summary>Nothing: not even by request.</summary>
    None,

    /// <summary>Aggregates only (a kind without students).</summary>
    Aggregate,

    /// <summary>Masked; in full only by an approved request.</summary>
    Masked,

    /// <summary>In full (more than one school's students in full: only by an approved request).</summary>
    Full,
}

/// <summary>What the policy says to one export.</summary>
public enum ExportDecision
{
    Allowed,

    /// <summary>Only with an approved request: a purpose, approved by a second data-team account.</summary>
    NeedsRequest,

    Refused,
}

/// <summary>
/// The export policy, in one table: what each role may take of each kind of file, for one school's students; and one rule
/// over it: a file with more than one school's students in full (<see cref="ExportScope.Bulk"/>), or in full where the table
/// says masked, leaves only by an approved request (a purpose, approved by a second data-team account, taken once within
/// its window). The README's "Exports and confidentiality" prints this table (a test keeps them the same); the register
/// (<see cref="ExportRegister"/>) asks it before every file is made, so no page or command can take another road.
/// </summary>
public static class ExportPolicy
{
    /// <summary>The roles in the table's column order.</summary>
    public static IReadOnlyList<AccountRole> Roles { get; } =
        [AccountRole.DataTeam, AccountRole.District, AccountRole.School, AccountRole.ClassTeacher, AccountRole.Manager];

    private static readonly Dictionary<ExportKind, ExportRight[]> Table = new()
    {
        //                                    data team            district             school             class teacher        manager
        [ExportKind.Worksheet] = [ExportRight.Full, ExportRight.Full, ExportRight.Full, ExportRight.None, ExportRight.None],
        [ExportKind.Receipt] = [ExportRight.Full, ExportRight.Full, ExportRight.Full, ExportRight.None, ExportRight.None],
        [ExportKind.Lineage] = [ExportRight.Full, ExportRight.None, ExportRight.None, ExportRight.None, ExportRight.None],
        [ExportKind.Changes] = [ExportRight.Full, ExportRight.None, ExportRight.None, ExportRight.None, ExportRight.None],
        [ExportKind.ProblemList] = [ExportRight.Masked, ExportRight.Masked, ExportRight.None, ExportRight.None, ExportRight.None],
        [ExportKind.ConfirmationSheets] = [ExportRight.Full, ExportRight.None, ExportRight.Full, ExportRight.None, ExportRight.None],
        [ExportKind.ClassAnswers] = [ExportRight.None, ExportRight.None, ExportRight.None, ExportRight.Masked, ExportRight.None],
        [ExportKind.TrendTable] = [ExportRight.Aggregate, ExportRight.Aggregate, ExportRight.None, ExportRight.None, ExportRight.Aggregate],
    };

    /// <summary>The table's cell: what <paramref name="role"/> may take of <paramref name="kind"/> for one school's students.</summary>
    public static ExportRight RightOf(AccountRole role, ExportKind kind)
    {
        var column = Roles.ToList().IndexOf(role);
        return column < 0 ? ExportRight.None : Table[kind][column];
    }

    /// <summary>Whether a file of this kind, form and scope may leave for this role now, only by request, or never.</summary>
    public static ExportDecision Decide(AccountRole role, ExportKind kind, ExportForm form, ExportScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var right = RightOf(role, kind);
        return (right, form) switch
        {
            (ExportRight.None, _) => ExportDecision.Refused,
            (ExportRight.Aggregate, ExportForm.Aggregate) => ExportDecision.Allowed,
            (ExportRight.Aggregate, _) => ExportDecision.Refused,
            (_, ExportForm.Aggregate) => ExportDecision.Refused,
            (ExportRight.Masked, ExportForm.Masked) => ExportDecision.Allowed,
            (ExportRight.Masked, ExportForm.Full) => ExportDecision.NeedsRequest,
            (ExportRight.Full, ExportForm.Masked) => ExportDecision.Allowed,
            (ExportRight.Full, ExportForm.Full) => scope.Bulk ? ExportDecision.NeedsRequest : ExportDecision.Allowed,
            _ => ExportDecision.Refused,
        };
    }

    /// <summary>Whether <paramref name="role"/> may ask for this export at all (a request the policy would refuse is refused).</summary>
    public static bool MayRequest(AccountRole role, ExportKind kind, ExportForm form, ExportScope scope) =>
        Decide(role, kind, form, scope) != ExportDecision.Refused;

    /// <summary>Who approves requests: a data-team account other than the requester.</summary>
    public static bool MayApprove(AccountRole role) => role == AccountRole.DataTeam;
}
