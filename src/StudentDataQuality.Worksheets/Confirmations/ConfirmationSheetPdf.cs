using StudentDataQuality.Confirmations;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// The printable confirmation sheets of one class (docs/confirmations.md, "The confirmation sheet (PDF)"): one A4 page per
/// student, in Chinese (or English), with a CJK font embedded, as text that can be searched and read back.
/// </summary>
public static class ConfirmationSheetPdf
{
    /// <summary>The PDF of these sheets, one page each, in the order given.</summary>
    public static byte[] Render(IReadOnlyList<ConfirmationSheet> sheets, bool english = false) => throw new NotImplementedException();
}
