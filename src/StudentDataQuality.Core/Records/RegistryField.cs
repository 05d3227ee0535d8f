namespace StudentDataQuality.Records;

/// <summary>How a field's raw text becomes its typed, normalised value.</summary>
public enum FieldKind
{
    /// <summary>Free text (names, class, address): typed value is the trimmed text.</summary>
    Text,
    /// <summary>An identifier (student number, school code, ID numbers): trimmed, full-width folded, upper case.</summary>
    Identifier,
    /// <summary>A value of a code list: typed value is the code, NULL when outside the list.</summary>
    Code,
    /// <summary>A 0/1 (否/是) flag: typed boolean.</summary>
    Flag,
    /// <summary>A calendar date: YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD (also YYYY年M月D日).</summary>
    Date,
    /// <summary>A year and month: YYYYMM, YYYY-MM, YYYY/MM, YYYY年M月; typed as the first day of that month.</summary>
    YearMonth,
    /// <summary>A GB/T 2260 six-digit region code: typed when it has that shape (whether it exists is a rule).</summary>
    Region,
    /// <summary>The grade 1–12, also written 一年级…六年级, 初一…初三, 七…九年级, 高一…高三.</summary>
    Grade,
    /// <summary>A phone number: typed as its digits once spaces, hyphens and brackets are removed.</summary>
    Phone,
}

/// <summary>The database type of a field's typed column.</summary>
public enum TypedColumnType
{
    Text,
    SmallInt,
    Date,
    Boolean,
}

/// <summary>
/// One field of a layout (the registry record or the school master): its column name in the database, the headers
/// it is recognised by, how it is parsed, and whether a file must carry it.
/// </summary>
public sealed record RegistryField(
    string Name,
    string EnglishHeader,
    IReadOnlyList<string> ChineseHeaders,
    FieldKind Kind,
    bool Required,
    int MaxLength,
    CodeList? Codes = null)
{
    /// <summary>
    /// Whether the database keeps a typed column beside the raw text. Free text has none: its value is the trimmed
    /// text, which views derive.
    /// </summary>
    public bool HasTypedColumn => Kind != FieldKind.Text;

    /// <summary>The header the project writes (the national system's Chinese header).</summary>
    public string Header => ChineseHeaders[0];

    public TypedColumnType TypedType => Kind switch
    {
        FieldKind.Date or FieldKind.YearMonth => TypedColumnType.Date,
        FieldKind.Grade => TypedColumnType.SmallInt,
        FieldKind.Flag => TypedColumnType.Boolean,
        _ => TypedColumnType.Text,
    };
}
