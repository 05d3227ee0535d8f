using StudentDataQuality.Confirmations;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>What a returned class answer workbook says: whose class it is, and each row's answer (with its Excel row).</summary>
public sealed record ClassAnswerContent(string RoundCode, string SchoolCode, ClassKey Class, IReadOnlyList<SheetAnswer> Answers);

/// <summary>
/// The class answer workbook (docs/confirmations.md, "The class answer workbook"): one row per student with the values
/// printed on the student's sheet (signed, as a worksheet's rows are), where the class teacher marks "confirmed unchanged" or
/// types the corrected values and the date the parent signed.
/// </summary>
public static class ClassAnswerWorkbook
{
    /// <summary>The workbook of a class's newest sheets, its rows signed with <paramref name="signingKey"/>.</summary>
    public static byte[] Write(IReadOnlyList<ConfirmationSheet> sheets, byte[] signingKey, bool english = false) => throw new NotImplementedException();

    /// <summary>The answers of a returned workbook.</summary>
    /// <exception cref="UserErrorException">What is wrong with the file, where (sheet, Excel row, column header), and what to do; nothing is taken.</exception>
    public static ClassAnswerContent Read(Stream file, string fileName, byte[] signingKey, ReturnLimits? limits = null) => throw new NotImplementedException();
}
