using System.Globalization;

namespace StudentDataQuality.Worksheets;

/// <summary>Why a returned file was refused whole; each has its message in the resources (<c>Reject</c> + the name).</summary>
public enum WorksheetRejection
{
    /// <summary>Not an .xlsx: an old .xls (or a password-protected file, also an OLE compound file), a CSV or any renamed file.</summary>
    NotXlsx,

    /// <summary>Larger than <see cref="ReturnLimits.MaxBytes"/>.</summary>
    TooLarge,

    /// <summary>
    /// Its zip unpacks past <see cref="ReturnLimits.MaxUncompressedBytes"/>, or packs absurdly well, or has too many entries, or a part
    /// it is read from is longer than <see cref="ReturnLimits.MaxCharactersInPart"/>.
    /// </summary>
    ZipBomb,

    /// <summary>A macro-enabled workbook (vbaProject part or macro content type).</summary>
    Macros,

    /// <summary>No <c>_meta</c> sheet: not a worksheet this system issued.</summary>
    NoMeta,

    /// <summary>The <c>_meta</c> sheet is there but does not read as the layout of <see cref="WorksheetMeta"/>.</summary>
    BadMeta,

    /// <summary>The problems sheet is not found, by the name recorded in <c>_meta</c> nor by its headers.</summary>
    NoProblemsSheet,

    /// <summary>A column recorded in <c>_meta</c> is not found by its header on the problems sheet.</summary>
    MissingColumn,

    /// <summary>Two columns of the header row carry the same recorded header.</summary>
    DuplicateColumn,

    /// <summary>The worksheet id of <c>_meta</c> was never issued by this server.</summary>
    UnknownWorksheet,

    /// <summary><c>_meta</c> disagrees with the issued worksheet, or a row signature does not verify with the server's key.</summary>
    BadSignature,

    /// <summary>The worksheet is another school's than the uploading account's.</summary>
    OtherSchool,

    /// <summary>The worksheet's round is closed.</summary>
    RoundClosed,

    /// <summary>A newer issue of the school's worksheet exists.</summary>
    StaleIssue,

    /// <summary>The problems sheet holds more rows that were not issued (added or copied) than <see cref="ReturnLimits.MaxRows"/>.</summary>
    TooManyRows,

    /// <summary>The uploading account cannot return worksheets at all (its role, or its school or district unknown): refused before the file is read.</summary>
    NotPermitted,
}

/// <summary>
/// A returned worksheet refused whole: nothing of it is taken. <see cref="Message"/> is told in the reader's language (the UI
/// culture: English for en, Chinese otherwise, as the host chose it); <see cref="MessageIn"/> gives either; <see cref="Code"/> is for
/// programs and <see cref="Detail"/> (English) for the audit log.
/// </summary>
public sealed class WorksheetRejectedException : UserErrorException
{
    private readonly string? _detailKey;
    private readonly object?[] _detailArgs = [];

    public WorksheetRejectedException(
        WorksheetRejection code, string fileName, string? sheet = null, int? excelRow = null, string? column = null, string? detail = null)
        : base(Render(code, fileName, sheet, excelRow, column, detail, WorksheetLanguage.Chinese))
    {
        Code = code;
        FileName = fileName;
        Sheet = sheet;
        ExcelRow = excelRow;
        Column = column;
        Detail = detail;
    }

    /// <summary>The same refusal, keeping the exception that revealed it (a package the zip or Open XML reader refused).</summary>
    public WorksheetRejectedException(WorksheetRejection code, string fileName, string? detail, Exception innerException)
        : base(Render(code, fileName, null, null, null, detail, WorksheetLanguage.Chinese), innerException)
    {
        Code = code;
        FileName = fileName;
        Detail = detail;
    }

    private WorksheetRejectedException(
        WorksheetRejection code, string fileName, string? sheet, int? excelRow, string detailKey, object?[] detailArgs, Exception? innerException)
        : base(Render(code, fileName, sheet, excelRow, null, DetailText(detailKey, detailArgs, WorksheetLanguage.Chinese), WorksheetLanguage.Chinese),
            innerException!)
    {
        Code = code;
        FileName = fileName;
        Sheet = sheet;
        ExcelRow = excelRow;
        _detailKey = detailKey;
        _detailArgs = detailArgs;
        Detail = DetailText(detailKey, detailArgs, WorksheetLanguage.English);
    }

    public WorksheetRejection Code { get; }

    public string FileName { get; }

    /// <summary>The sheet the reason is on, when there is one.</summary>
    public string? Sheet { get; }

    /// <summary>The row as Excel numbers it, when there is one.</summary>
    public int? ExcelRow { get; }

    /// <summary>The column's header as the file shows it, when there is one.</summary>
    public string? Column { get; }

    /// <summary>What was found (sizes, the malformed record), in English for the audit log; the message tells it in its own language.</summary>
    public string? Detail { get; }

    /// <summary>The message in the reader's language: English when the UI culture is English, Chinese otherwise (the default).</summary>
    public override string Message => MessageIn(CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "en" ? WorksheetLanguage.English : WorksheetLanguage.Chinese);

    /// <summary>
    /// A refusal whose detail is itself a text of the resources (<c>Detail</c> + <paramref name="detailKey"/>), so that the message
    /// tells it in the message's language rather than gluing English into Chinese.
    /// </summary>
    public static WorksheetRejectedException Explained(
        WorksheetRejection code, string fileName, string? sheet, int? excelRow, string detailKey, params object?[] detailArgs) =>
        new(code, fileName, sheet, excelRow, detailKey, detailArgs, null);

    /// <summary>The same, keeping the exception that revealed it.</summary>
    public static WorksheetRejectedException ExplainedBy(
        Exception innerException, WorksheetRejection code, string fileName, string detailKey, params object?[] detailArgs) =>
        new(code, fileName, null, null, detailKey, detailArgs, innerException);

    /// <summary>The message in the given language.</summary>
    public string MessageIn(WorksheetLanguage language) =>
        Render(Code, FileName, Sheet, ExcelRow, Column, _detailKey is null ? Detail : DetailText(_detailKey, _detailArgs, language), language);

    private static string DetailText(string key, object?[] args, WorksheetLanguage language) => WorksheetText.Format("Detail" + key, language, args);

    private static string Render(
        WorksheetRejection code, string fileName, string? sheet, int? excelRow, string? column, string? detail, WorksheetLanguage language) =>
        WorksheetText.Format(
            "Reject" + code.ToString(), language, fileName, sheet ?? "", excelRow?.ToString(CultureInfo.InvariantCulture) ?? "", column ?? "", detail ?? "");
}
