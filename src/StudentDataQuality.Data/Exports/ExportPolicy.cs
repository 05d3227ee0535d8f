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

    /// <summary>
    /// Whether a file of this kind can be of this scope: the changes for the registry are the province's (the registry takes
    /// them whole); a problem list is a school's, a district's or the province's; confirmation sheets a class's, a school's, a
    /// district's or the province's; every other kind one school's, class's, return's or record's, or (trend tables) any.
    /// </summary>
    public static bool ScopeFits(ExportKind kind, ExportScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var level = scope.Text.Split(':')[0];
        return kind switch
        {
            ExportKind.Changes => level == "province",
            ExportKind.ProblemList => level is "province" or "district" or "school",
            ExportKind.ConfirmationSheets => level is "province" or "district" or "school" or "class",
            ExportKind.TrendTable => level is "province" or "district",
            _ => !scope.Bulk,
        };
    }

    /// <summary>
    /// Whether two names are the same channel: the command line's operators (<c>cli:&lt;os user&gt;</c>) decide the command
    /// line's requests, the portal's signed-in accounts the portal's, so that one person cannot ask under one name and approve
    /// under the other (a portal account "li" and the server's user "li").
    /// </summary>
    public static bool SameChannel(string requester, string approver) => IsCommandLine(requester) == IsCommandLine(approver);

    /// <summary>A command-line operator's name (portal account names cannot hold ':').</summary>
    public static bool IsCommandLine(string name) => name.StartsWith("cli:", StringComparison.Ordinal);

    /// <summary>Who approves requests: a data-team account other than the requester.</summary>
    public static bool MayApprove(AccountRole role) => role == AccountRole.DataTeam;
}
