using StudentDataQuality.Records;

namespace StudentDataQuality.Confirmations;

/// <summary>
/// The fields of a student's record a parent can judge, in the order the confirmation sheet shows them (docs/confirmations.md).
/// A change to an identity field (ID number, name, birth date) waits for the school registrar's approval with the paper
/// sheet at hand; a change to any other field is applied at once and re-checked.
/// </summary>
public static class ConfirmationFields
{
    /// <summary>The registry field names (<see cref="Layouts.Student"/>), in sheet order.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "name", "gender", "birth_date", "birthplace", "ethnicity", "id_number", "household_region", "household_type",
        "guardian_name", "guardian_relation", "guardian_phone", "address",
    ];

    /// <summary>The identity fields: their changes wait for the registrar.</summary>
    public static IReadOnlySet<string> Identity { get; } = new HashSet<string>(StringComparer.Ordinal) { "id_number", "name", "birth_date" };

    public static bool IsIdentity(string field) => Identity.Contains(field);

    public static bool Contains(string field) => All.Contains(field, StringComparer.Ordinal);

    /// <summary>The registry field (its Chinese and English headers, its length limit).</summary>
    public static RegistryField Field(string field) => Layouts.Student.Fields[Layouts.Student.IndexOf(field)];
}
