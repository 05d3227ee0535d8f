using StudentDataQuality.Identifiers;

namespace StudentDataQuality.Exports;

/// <summary>
/// What kind of file leaves the system. Each kind is one row of the export policy (<c>ExportPolicy</c>, README
/// "Exports and confidentiality"); the stored name (<see cref="ExportKinds.Name"/>) is what <c>export.file.kind</c> holds.
/// </summary>
public enum ExportKind
{
    /// <summary>One school's problem worksheet (.xlsx): the registrar fixes it.</summary>
    Worksheet,

    /// <summary>One return's receipt (.xlsx).</summary>
    Receipt,

    /// <summary>One student's lineage (W3C PROV-JSON).</summary>
    Lineage,

    /// <summary>A round's accepted changes for the upstream registry (.csv, the registry's import layout).</summary>
    Changes,

    /// <summary>The open problems of a school, a district or the province, one row per finding (.xlsx).</summary>
    ProblemList,

    /// <summary>One class's confirmation sheets (.pdf), printed for the parents.</summary>
    ConfirmationSheets,

    /// <summary>One class's answer workbook (.xlsx) for its class teacher.</summary>
    ClassAnswers,

    /// <summary>A trend table (.xlsx): aggregates, no student in it.</summary>
    TrendTable,
}

/// <summary>In which form a file carries personal data.</summary>
public enum ExportForm
{
    /// <summary>Counts and shares only: no student in it.</summary>
    Aggregate,

    /// <summary>Identifiers and phones masked by <see cref="StudentDataQuality.Identifiers.Masking"/>; names in full.</summary>
    Masked,

    /// <summary>Every value as the registry holds it.</summary>
    Full,
}

/// <summary>The stored names of the kinds and forms (what the database and the watermark hold).</summary>
public static class ExportKinds
{
    public static string Name(ExportKind kind) => kind switch
    {
        ExportKind.Worksheet => "worksheet",
        ExportKind.Receipt => "receipt",
        ExportKind.Lineage => "lineage",
        ExportKind.Changes => "changes",
        ExportKind.ProblemList => "problem_list",
        ExportKind.ConfirmationSheets => "confirmation_sheets",
        ExportKind.ClassAnswers => "class_answers",
        ExportKind.TrendTable => "trend_table",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static ExportKind? ParseKind(string? text) => Enum.GetValues<ExportKind>().Cast<ExportKind?>()
        .FirstOrDefault(k => string.Equals(Name(k!.Value), text?.Trim().Replace('-', '_'), StringComparison.OrdinalIgnoreCase));

    public static string Name(ExportForm form) => form switch
    {
        ExportForm.Aggregate => "aggregate",
        ExportForm.Masked => "masked",
        ExportForm.Full => "full",
        _ => throw new ArgumentOutOfRangeException(nameof(form)),
    };

    public static ExportForm? ParseForm(string? text) => Enum.GetValues<ExportForm>().Cast<ExportForm?>()
        .FirstOrDefault(f => string.Equals(Name(f!.Value), text?.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Whose data a file holds, as the register writes it: <c>province</c>, <c>district:230102</c>, <c>school:2301000001</c>,
/// <c>class:2301000001/4/3班</c>, <c>return:17</c>, <c>record:123456</c>. <see cref="Bulk"/>: more than one school's students.
/// </summary>
public sealed record ExportScope(string Text, bool Bulk)
{
    public static ExportScope Province { get; } = new("province", true);

    public static ExportScope District(string code) => new("district:" + code, true);

    public static ExportScope School(string code) => new("school:" + code, false);

    public static ExportScope Class(string schoolCode, int grade, string className) => new($"class:{schoolCode}/{grade}/{className}", false);

    public static ExportScope Return(long returnId) => new("return:" + returnId.ToString(System.Globalization.CultureInfo.InvariantCulture), false);

    public static ExportScope Record(long recordId) => new("record:" + recordId.ToString(System.Globalization.CultureInfo.InvariantCulture), false);

    public override string ToString() => Text;
}

/// <summary>
/// What every exported file carries, so that a file found anywhere names the person who took it: the export's id, who
/// took it, when, for what, and what it is. Written into the file by the Worksheets project (.xlsx: document properties,
/// a header/footer on every sheet and a very hidden sheet; .pdf: footer and metadata; .csv and .json: a sidecar
/// <c>.export.json</c> with the file's sha256) and read back by <c>sdq export identify</c>.
/// </summary>
public sealed record Watermark(string ExportId, string TakenBy, DateTimeOffset TakenAt, string Purpose, ExportKind Kind, ExportForm Form)
{
    /// <summary>
    /// Taken from a practice database (docs/training.md): the file then says "练习 / Practice" prominently (the header and
    /// footer of every sheet, a custom property, a banner on every PDF page, a field of a sidecar). The register sets it.
    /// </summary>
    public bool Practice { get; init; }

    /// <summary>What a practice file says, in both languages at once (the same as the portal's banner, Data's Practice.Label).</summary>
    public const string PracticeLabel = "练习 / Practice";
}

/// <summary>
/// An export's id: "EX" and ten characters of Crockford's base32 (50 random bits), written "EX-7K2MD-9XW4R"; typed back
/// in any case, with or without dashes.
/// </summary>
public static class ExportId
{
    public const string Prefix = "EX";

    public static string New() => RandomId.New(Prefix);

    public static string Format(string exportId) => RandomId.Format(exportId);

    public static string? Normalise(string? text) => RandomId.Normalise(text, Prefix);
}
