using System.Globalization;
using System.Resources;
using System.Security.Cryptography;
using StudentDataQuality.Confirmations;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// The layout of the class answer workbook, for its writer and its reader (docs/confirmations.md, "The class answer workbook"):
/// the <c>_meta</c> records, the data sheet's columns (by marker, found again by their headers), and the signatures.
/// </summary>
internal static class ClassAnswerLayout
{
    /// <summary>The value of the <c>format</c> property, and the first value of every signed message (so that no worksheet row's signature stands for one of these).</summary>
    public const string Format = "sdq.class-answers/1";

    public const string MetaSheet = "_meta";
    public const string MetaRecord = "meta";
    public const string ColumnRecord = "column";
    public const int HeaderRow = 1;
    public const int FirstDataRow = 2;

    /// <summary>How far down someone may have pushed the header row by inserting rows above it.</summary>
    public const int HeaderSearchRows = 20;

    public const string SheetIdMarker = "sheet_id";
    public const string StudentNoMarker = "student_no";
    public const string PrintedPrefix = "printed.";
    public const string ShouldBePrefix = "should.";
    public const string ConfirmedMarker = "confirmed";
    public const string SignedOnMarker = "signed_on";
    public const string SignatureMarker = "signature";

    /// <summary>The <c>_meta</c> property names.</summary>
    public static class Properties
    {
        public const string Format = "format";
        public const string WorkbookId = "workbook_id";
        public const string RoundCode = "round_code";
        public const string SchoolCode = "school_code";
        public const string Grade = "grade";
        public const string ClassName = "class_name";
        public const string Language = "language";
        public const string KeyId = "key_id";
        public const string GeneratedAt = "generated_at";
        public const string DataSheet = "sheet.data";
        public const string RowCount = "row_count";
        public const string Signature = "signature";
    }

    /// <summary>One column of the data sheet: its marker (what it holds), its header as written, the field when it is a field's.</summary>
    public sealed record Column(int Number, string Marker, string Header, string? Field);

    /// <summary>The data sheet's columns in order: sheet id, student number, per field the printed value and "should be", confirmed, date, signature.</summary>
    public static IReadOnlyList<Column> Columns(WorksheetLanguage language)
    {
        var columns = new List<Column>();
        void Add(string marker, string header, string? field = null) => columns.Add(new Column(columns.Count + 1, marker, header, field));
        Add(SheetIdMarker, ClassAnswerText.Get("HeaderSheetId", language));
        Add(StudentNoMarker, WorksheetLayout.FieldHeader(WorksheetLayout.FieldOf("student_no"), language));
        foreach (var field in ConfirmationFields.All)
        {
            var header = WorksheetLayout.FieldHeader(ConfirmationFields.Field(field), language);
            Add(PrintedPrefix + field, header, field);
            Add(ShouldBePrefix + field, ClassAnswerText.Format("HeaderShouldBe", language, header), field);
        }

        Add(ConfirmedMarker, ClassAnswerText.Get("HeaderConfirmed", language));
        Add(SignedOnMarker, ClassAnswerText.Get("HeaderSignedOn", language));
        Add(SignatureMarker, ClassAnswerText.Get("HeaderSignature", language));
        return columns;
    }

    /// <summary>"k" and 8 hex digits of the key's SHA-256: the key id a worksheet's <c>_meta</c> carries too (SigningKey.From).</summary>
    public static string KeyId(byte[] key) => "k" + Convert.ToHexString(SHA256.HashData(key))[..8].ToLowerInvariant();

    /// <summary>
    /// The signature of <c>_meta</c>'s class: the workbook id, round, school, grade and class, so that another class's workbook
    /// cannot be made of this one by editing <c>_meta</c>.
    /// </summary>
    public static string SignMeta(byte[] key, Guid workbookId, string roundCode, string schoolCode, ClassKey @class) =>
        RowSignature.Compute(key, workbookId, "_meta", [Format, roundCode, schoolCode, Grade(@class), @class.ClassName]);

    public static bool VerifyMeta(byte[] key, Guid workbookId, string roundCode, string schoolCode, ClassKey @class, string? signature) =>
        RowSignature.Verify(key, workbookId, "_meta", [Format, roundCode, schoolCode, Grade(@class), @class.ClassName], signature);

    /// <summary>
    /// A row's signature: the workbook id, the sheet id (as stored), and the format, round, school, grade, class, student number
    /// and the printed values in <see cref="ConfirmationFields.All"/> order (empty as null, line breaks as LF). A row copied from another class's or
    /// another workbook's sheet, or whose sheet id or printed values were changed, does not verify.
    /// </summary>
    public static string SignRow(byte[] key, Guid workbookId, string roundCode, string schoolCode, ClassKey @class, string sheetId, string? studentNo,
        IReadOnlyList<string?> printed) =>
        RowSignature.Compute(key, workbookId, sheetId, RowValues(roundCode, schoolCode, @class, studentNo, printed));

    public static bool VerifyRow(byte[] key, Guid workbookId, string roundCode, string schoolCode, ClassKey @class, string sheetId, string? studentNo,
        IReadOnlyList<string?> printed, string? signature) =>
        RowSignature.Verify(key, workbookId, sheetId, RowValues(roundCode, schoolCode, @class, studentNo, printed), signature);

    private static string Grade(ClassKey @class) => @class.Grade.ToString(CultureInfo.InvariantCulture);

    private static string?[] RowValues(string roundCode, string schoolCode, ClassKey @class, string? studentNo, IReadOnlyList<string?> printed) =>
        [Format, roundCode, schoolCode, Grade(@class), @class.ClassName, Empty(studentNo), .. printed.Select(Empty)];

    /// <summary>
    /// A value as signed: empty as null, and line breaks as LF: ClosedXML and others re-save a CR inside a text as a raw CR, which
    /// reads back as LF (see <see cref="CarriageReturns"/>), and a changed line break is no changed value.
    /// </summary>
    private static string? Empty(string? value) =>
        string.IsNullOrEmpty(value) ? null : value.Contains('\r', StringComparison.Ordinal) ? WorkbookBuilder.NormaliseLineBreaks(value) : value;
}

/// <summary>
/// Every text the class answer workbook shows a person (Resources/ClassAnswerText.resx is zh-CN, the .en.resx English). A missing
/// text is a build mistake and throws.
/// </summary>
public static class ClassAnswerText
{
    private static readonly ResourceManager Resources =
        new("StudentDataQuality.Worksheets.Resources.ClassAnswerText", typeof(ClassAnswerText).Assembly);

    public static string Get(string key, WorksheetLanguage language) =>
        Resources.GetString(key, language.Culture())
        ?? throw new InvalidOperationException($"The class answer workbook text '{key}' is missing from the resources for {language.Tag()}.");

    public static string Format(string key, WorksheetLanguage language, params object?[] args) =>
        string.Format(language.Culture(), Get(key, language), args);

    /// <summary>Every key of the resources in one language, without falling back to the other (for tests).</summary>
    public static IReadOnlySet<string> Keys(WorksheetLanguage language)
    {
        var culture = language == WorksheetLanguage.Chinese ? CultureInfo.InvariantCulture : language.Culture();
        var set = Resources.GetResourceSet(culture, createIfNotExists: true, tryParents: false)
            ?? throw new InvalidOperationException($"No class answer workbook resources for {language.Tag()}.");
        return set.Cast<System.Collections.DictionaryEntry>().Select(e => (string)e.Key).ToHashSet(StringComparer.Ordinal);
    }
}
