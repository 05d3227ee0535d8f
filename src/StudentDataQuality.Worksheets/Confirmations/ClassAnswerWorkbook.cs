using StudentDataQuality.Identifiers;
using System.Globalization;
using ClosedXML.Excel;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Text;

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
    private static readonly XLColor LockedFill = XLColor.FromArgb(0xD9, 0xD9, 0xD9);

    /// <summary>The workbook of a class's newest sheets, its rows signed with <paramref name="signingKey"/>.</summary>
    public static byte[] Write(IReadOnlyList<ConfirmationSheet> sheets, byte[] signingKey, bool english = false)
    {
        ArgumentNullException.ThrowIfNull(sheets);
        ArgumentNullException.ThrowIfNull(signingKey);
        if (sheets.Count == 0)
        {
            throw new ArgumentException("A class answer workbook needs the sheets of a class; there are none.", nameof(sheets));
        }

        var first = sheets[0];
        if (sheets.Any(s => s.RoundCode != first.RoundCode || s.SchoolCode != first.SchoolCode || s.Class != first.Class))
        {
            throw new ArgumentException("The sheets of a class answer workbook must be of one round, school and class.", nameof(sheets));
        }

        if (sheets.Select(s => s.SheetId).Distinct(StringComparer.Ordinal).Count() != sheets.Count)
        {
            throw new ArgumentException("A sheet is given twice.", nameof(sheets));
        }

        var language = english ? WorksheetLanguage.English : WorksheetLanguage.Chinese;
        var workbookId = Guid.NewGuid();
        var columns = ClassAnswerLayout.Columns(language);
        // The file goes round a class and may be forwarded: identity numbers are masked in it (the full value stays on the
        // student's own paper sheet and in the database, which the answers are compared with).
        var ordered = sheets.OrderBy(s => s.StudentNo, StringComparer.Ordinal).ThenBy(s => s.SheetId, StringComparer.Ordinal).Select(s => s with
        {
            StudentNo = Masking.StudentNo(s.StudentNo),
            Values = s.Values.Select(v => Masking.KindOf(v.Field) == MaskKind.IdNumber ? v with { Value = Masking.Field(v.Field, v.Value) } : v).ToList(),
        }).ToArray();
        var sentinel = CarriageReturns.ChooseSentinel(ordered.SelectMany(s => s.Values.Select(v => v.Value).Append(s.StudentNo)));

        using var workbook = new XLWorkbook();
        var instructions = workbook.AddWorksheet(ClassAnswerText.Get("SheetInstructions", language));
        var data = workbook.AddWorksheet(ClassAnswerText.Get("SheetAnswers", language));
        var meta = workbook.AddWorksheet(ClassAnswerLayout.MetaSheet);

        WriteInstructions(instructions, first, ordered.Length, language);
        WriteData(data, columns, ordered, signingKey, workbookId, sentinel, language);
        WriteMeta(meta, columns, first, signingKey, workbookId, data.Name, ordered.Length, language);

        // A hidden sheet must be neither first nor active: _meta is last, the instructions are active.
        meta.Visibility = XLWorksheetVisibility.VeryHidden;
        instructions.SetTabActive().SetTabSelected();
        var author = ClassAnswerText.Get("Author", language);
        workbook.Author = author;
        workbook.Properties.Author = author;
        workbook.Properties.Title = ClassAnswerText.Format("Title", language, first.SchoolName, first.Class.Display(english));
        // Convenience, not security (the signatures are what the reader trusts): sheets cannot be added, removed or renamed.
        workbook.Protect(null, XLProtectionAlgorithm.Algorithm.SimpleHash, XLWorkbookProtectionElements.Windows);
        using var output = new MemoryStream();
        CarriageReturns.Save(workbook, output, sentinel);
        return output.ToArray();
    }

    /// <summary>The answers of a returned workbook.</summary>
    /// <exception cref="UserErrorException">What is wrong with the file, where (sheet, Excel row, column header), and what to do; nothing is taken.</exception>
    public static ClassAnswerContent Read(Stream file, string fileName, byte[] signingKey, ReturnLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(signingKey);
        return ClassAnswerReader.Read(file, fileName, signingKey, limits ?? ReturnLimits.Default, DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8)));
    }

    /// <summary>The words the "confirmed unchanged" cell takes (either language, any case), and what each means.</summary>
    internal static bool? Confirmed(string? text) => text is null
        ? null
        : TextNormalizer.Trim(text).ToUpperInvariant() switch
        {
            "是" or "YES" or "Y" or "TRUE" or "1" or "√" or "✓" => true,
            "否" or "NO" or "N" or "FALSE" or "0" => false,
            _ => null,
        };

    private static void WriteInstructions(IXLWorksheet sheet, ConfirmationSheet first, int students, WorksheetLanguage language)
    {
        string Text(string key) => ClassAnswerText.Get(key, language);
        sheet.Column(1).Width = 20;
        sheet.Column(2).Width = 90;
        var row = 1;
        SetText(sheet.Cell(row, 1), ClassAnswerText.Format("Title", language, first.SchoolName, first.Class.Display(language == WorksheetLanguage.English)));
        sheet.Cell(row, 1).Style.Font.Bold = true;
        sheet.Cell(row, 1).Style.Font.FontSize = 14;
        row += 2;

        void Line(string label, string value)
        {
            SetText(sheet.Cell(row, 1), label);
            SetText(sheet.Cell(row, 2), value);
            sheet.Cell(row, 1).Style.Font.Bold = true;
            row++;
        }

        Line(Text("LabelSchool"), ClassAnswerText.Format("SchoolValue", language, first.SchoolName, first.SchoolCode));
        Line(Text("LabelClass"), first.Class.Display(language == WorksheetLanguage.English));
        Line(Text("LabelRound"), first.RoundCode);
        Line(Text("LabelStudents"), students.ToString(CultureInfo.InvariantCulture));
        row++;
        SetText(sheet.Cell(row, 1), Text("StepsTitle"));
        sheet.Cell(row, 1).Style.Font.Bold = true;
        row++;
        for (var step = 1; step <= 6; step++)
        {
            Line(step.ToString(CultureInfo.InvariantCulture), Text($"Step{step}"));
        }

        row++;
        Line(Text("LabelPrivacy"), Text("Privacy"));
        var used = sheet.Range(1, 1, row, 2).Style;
        used.NumberFormat.Format = TextCell.TextFormat;
        used.Alignment.Vertical = XLAlignmentVerticalValues.Top;
        sheet.Range(1, 2, row, 2).Style.Alignment.WrapText = true;
        WorkbookBuilder.FitToPageWidth(sheet);
        sheet.Protect().AllowElement(XLSheetProtectionElements.FormatColumns).AllowElement(XLSheetProtectionElements.FormatRows);
    }

    private static void WriteData(IXLWorksheet sheet, IReadOnlyList<ClassAnswerLayout.Column> columns, IReadOnlyList<ConfirmationSheet> sheets,
        byte[] key, Guid workbookId, char? sentinel, WorksheetLanguage language)
    {
        var first = ClassAnswerLayout.FirstDataRow;
        var last = first + sheets.Count - 1;
        foreach (var column in columns)
        {
            var style = sheet.Column(column.Number).Style;
            style.NumberFormat.Format = column.Marker == ClassAnswerLayout.SignedOnMarker ? "yyyy-mm-dd" : TextCell.TextFormat;
            style.Alignment.Vertical = XLAlignmentVerticalValues.Top;
            sheet.Column(column.Number).Width = column.Marker switch
            {
                ClassAnswerLayout.SheetIdMarker => 17,
                ClassAnswerLayout.StudentNoMarker => 22,
                ClassAnswerLayout.SignedOnMarker or ClassAnswerLayout.ConfirmedMarker => 14,
                "printed.address" or "should.address" => 30,
                "printed.id_number" or "should.id_number" => 22,
                _ => 13,
            };
            SetText(sheet.Cell(ClassAnswerLayout.HeaderRow, column.Number), column.Header);
            var editable = column.Marker.StartsWith(ClassAnswerLayout.ShouldBePrefix, StringComparison.Ordinal)
                || column.Marker is ClassAnswerLayout.ConfirmedMarker or ClassAnswerLayout.SignedOnMarker;
            var cells = sheet.Range(first, column.Number, last, column.Number).Style;
            if (editable)
            {
                cells.Protection.Locked = false;
            }
            else
            {
                cells.Fill.BackgroundColor = LockedFill;
            }
        }

        WorkbookBuilder.StyleHeader(sheet.Range(ClassAnswerLayout.HeaderRow, 1, ClassAnswerLayout.HeaderRow, columns.Count));
        sheet.Row(ClassAnswerLayout.HeaderRow).Height = 32;
        var at = columns.ToDictionary(c => c.Marker, c => c.Number, StringComparer.Ordinal);
        for (var i = 0; i < sheets.Count; i++)
        {
            var s = sheets[i];
            var row = first + i;
            var printed = ConfirmationFields.All.Select(f => s[f]).ToArray();
            SetText(sheet.Cell(row, at[ClassAnswerLayout.SheetIdMarker]), SheetId.Format(s.SheetId));
            SetExact(sheet.Cell(row, at[ClassAnswerLayout.StudentNoMarker]), s.StudentNo, sentinel);
            for (var f = 0; f < ConfirmationFields.All.Count; f++)
            {
                SetExact(sheet.Cell(row, at[ClassAnswerLayout.PrintedPrefix + ConfirmationFields.All[f]]), printed[f], sentinel);
            }

            SetText(sheet.Cell(row, at[ClassAnswerLayout.SignatureMarker]),
                ClassAnswerLayout.SignRow(key, workbookId, s.RoundCode, s.SchoolCode, s.Class, s.SheetId, s.StudentNo, printed));
        }

        var confirmed = sheet.Range(first, at[ClassAnswerLayout.ConfirmedMarker], last, at[ClassAnswerLayout.ConfirmedMarker]).SetDataValidation();
        confirmed.List("\"" + ClassAnswerText.Get("Yes", language) + "," + ClassAnswerText.Get("No", language) + "\"", true);
        confirmed.IgnoreBlanks = true;
        confirmed.ErrorStyle = XLErrorStyle.Stop;
        confirmed.ShowErrorMessage = true;
        confirmed.ErrorTitle = ClassAnswerText.Get("ConfirmedErrorTitle", language);
        confirmed.ErrorMessage = ClassAnswerText.Get("ConfirmedError", language);

        var signed = sheet.Range(first, at[ClassAnswerLayout.SignedOnMarker], last, at[ClassAnswerLayout.SignedOnMarker]).SetDataValidation();
        signed.Date.Between(new DateTime(2000, 1, 1), new DateTime(2099, 12, 31));
        signed.IgnoreBlanks = true;
        signed.ErrorStyle = XLErrorStyle.Stop;
        signed.ShowErrorMessage = true;
        signed.ErrorTitle = ClassAnswerText.Get("DateErrorTitle", language);
        signed.ErrorMessage = ClassAnswerText.Get("DateError", language);
        signed.ShowInputMessage = true;
        signed.InputTitle = ClassAnswerText.Get("DatePromptTitle", language);
        signed.InputMessage = ClassAnswerText.Get("DatePrompt", language);

        sheet.Column(at[ClassAnswerLayout.SignatureMarker]).Hide();
        sheet.SheetView.Freeze(ClassAnswerLayout.HeaderRow, at[ClassAnswerLayout.PrintedPrefix + "name"]);
        WorkbookBuilder.FitToPageWidth(sheet);
        sheet.PageSetup.SetRowsToRepeatAtTop(ClassAnswerLayout.HeaderRow, ClassAnswerLayout.HeaderRow);
        // No password: a registrar can unprotect the sheet; the row signatures are what makes a changed printed value visible.
        sheet.Protect()
            .AllowElement(XLSheetProtectionElements.FormatColumns)
            .AllowElement(XLSheetProtectionElements.FormatRows)
            .AllowElement(XLSheetProtectionElements.AutoFilter);
    }

    private static void WriteMeta(IXLWorksheet sheet, IReadOnlyList<ClassAnswerLayout.Column> columns, ConfirmationSheet first, byte[] key, Guid workbookId,
        string dataSheet, int rows, WorksheetLanguage language)
    {
        var row = 1;
        void Record(string kind, string a, string b, string? c = null)
        {
            SetText(sheet.Cell(row, 1), kind);
            SetText(sheet.Cell(row, 2), a);
            SetText(sheet.Cell(row, 3), b);
            SetText(sheet.Cell(row, 4), c);
            row++;
        }

        void Property(string name, string value) => Record(ClassAnswerLayout.MetaRecord, name, value);

        Property(ClassAnswerLayout.Properties.Format, ClassAnswerLayout.Format);
        Property(ClassAnswerLayout.Properties.WorkbookId, workbookId.ToString("D"));
        Property(ClassAnswerLayout.Properties.RoundCode, first.RoundCode);
        Property(ClassAnswerLayout.Properties.SchoolCode, first.SchoolCode);
        Property(ClassAnswerLayout.Properties.Grade, first.Class.Grade.ToString(CultureInfo.InvariantCulture));
        Property(ClassAnswerLayout.Properties.ClassName, first.Class.ClassName);
        Property(ClassAnswerLayout.Properties.Language, language.Tag());
        Property(ClassAnswerLayout.Properties.KeyId, ClassAnswerLayout.KeyId(key));
        Property(ClassAnswerLayout.Properties.GeneratedAt, DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        Property(ClassAnswerLayout.Properties.DataSheet, dataSheet);
        Property(ClassAnswerLayout.Properties.RowCount, rows.ToString(CultureInfo.InvariantCulture));
        Property(ClassAnswerLayout.Properties.Signature,
            ClassAnswerLayout.SignMeta(key, workbookId, first.RoundCode, first.SchoolCode, first.Class));
        foreach (var column in columns)
        {
            Record(ClassAnswerLayout.ColumnRecord, column.Number.ToString(CultureInfo.InvariantCulture), column.Marker, column.Header);
        }

        sheet.Protect();
    }

    /// <summary>A printed value, written exactly (a CR through the sentinel, see <see cref="CarriageReturns"/>).</summary>
    private static void SetExact(IXLCell cell, string? text, char? sentinel)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        TextCell.Set(cell, sentinel is { } s ? text.Replace('\r', s) : text, FormulaText.LooksLikeFormula(text));
    }

    private static void SetText(IXLCell cell, string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            TextCell.Set(cell, text);
        }
    }
}
