namespace StudentDataQuality;

/// <summary>
/// What was asked lies outside the reader's scope (another school, another district's school, a record or file of one):
/// the one answer of every scoped read and action. A host turns it into "not found" (the portal: 404, never telling whether
/// it exists) and the audit entry <c>access.refused</c> with <see cref="What"/> and <see cref="Object"/>.
/// </summary>
public sealed class OutOfScopeException : Exception
{
    public OutOfScopeException(string what, string? @object, string? schoolCode = null, int? roundId = null)
        : base($"The {what} '{@object}' is not within the reader's scope.")
    {
        What = what;
        Object = @object;
        SchoolCode = schoolCode;
        RoundId = roundId;
    }

    public OutOfScopeException()
        : this("object", (string?)null)
    {
    }

    public OutOfScopeException(string message)
        : base(message)
    {
        What = "object";
    }

    public OutOfScopeException(string message, Exception innerException)
        : base(message, innerException)
    {
        What = "object";
    }

    /// <summary>What kind of thing was asked for: "school", "receipt", "worksheet", "lineage", "approve"…</summary>
    public string What { get; }

    /// <summary>Its key as asked (a school code, a return's id), for the audit entry.</summary>
    public string? Object { get; }

    /// <summary>The school asked for, when known.</summary>
    public string? SchoolCode { get; }

    public int? RoundId { get; }
}
