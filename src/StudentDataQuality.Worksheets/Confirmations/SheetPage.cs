using PdfSharp.Drawing;
using QRCoder;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Records;
using StudentDataQuality.Reference;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// One confirmation sheet on one A4 page (595 × 842 points). The layout is fixed: every box has its place and size whatever
/// the values are; a value is wrapped and shrunk to its box (<see cref="SheetTextFit"/>), so a long or hostile value never
/// moves anything else. From the top: heading, round, school, class and student number beside the sheet's QR code; the
/// table of the twelve values with a "correct / should be" box each; why the school asks and how the data is protected;
/// the lines to sign; the footer with the sheet id and the page of the class.
/// </summary>
internal sealed class SheetPage(XGraphics graphics, WorksheetLanguage language)
{
    private const double Margin = 42;
    private const double PageWidth = 595.28;
    private const double PageHeight = 841.89;
    private const double Width = PageWidth - (2 * Margin);
    private const double Left = Margin;
    private const double Right = PageWidth - Margin;

    private const double QrSize = 78;
    private const double InfoWidth = Width - QrSize - 16;

    private const double TableTop = 176;
    private const double HeaderRowHeight = 20;
    private const double RowHeight = 32;
    private const double TableBottom = 650;
    private const double LabelWidth = 90;
    private const double ValueWidth = 232;
    private const double AnswerWidth = Width - LabelWidth - ValueWidth;
    private const double Padding = 5;

    private static readonly XPen Rule = new(XColor.FromGrayScale(0.35), 0.6);
    private static readonly XPen Writing = new(XColor.FromGrayScale(0.55), 0.5);
    private static readonly XPen Tick = new(XColors.Black, 0.7);
    private static readonly XBrush HeaderShade = new XSolidBrush(XColor.FromGrayScale(0.9));

    /// <summary>Region names by their six-digit code (a prefecture 2301 is 230100), to show beside a region code.</summary>
    private static readonly Lazy<IReadOnlyDictionary<string, string>> RegionNames = new(() =>
        ReferenceData.Regions.GroupBy(r => r.SixDigitCode, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal));

    private readonly SheetTextFit _text = new(graphics);
    private bool English => language == WorksheetLanguage.English;

    public void Draw(ConfirmationSheet sheet, int page, int pages)
    {
        ArgumentNullException.ThrowIfNull(sheet);
        var sheetId = SheetId.Format(sheet.SheetId);
        DrawHeader(sheet, sheetId);
        DrawTable(sheet);
        DrawExplanation();
        DrawSignatures();
        DrawFooter(sheetId, page, pages);
    }

    private void DrawHeader(ConfirmationSheet sheet, string sheetId)
    {
        _text.Draw(Text("Heading"), new XRect(Left, Margin - 4, InfoWidth, 26), 18, 12);
        var line = 16.0;
        var y = 74.0;
        _text.Draw(Format("Round", SheetTextFit.Clean(sheet.RoundCode)), new XRect(Left, y, InfoWidth, line), 10.5, 6);
        _text.Draw(Format("School", SheetTextFit.Clean(sheet.SchoolName), SheetTextFit.Clean(sheet.SchoolCode)), new XRect(Left, y += line, InfoWidth, line), 10.5, 6);
        _text.Draw(Format("Class", SheetTextFit.Clean(sheet.Class.Display(English))), new XRect(Left, y += line, InfoWidth / 2, line), 10.5, 6);
        _text.Draw(Format("StudentNo", SheetTextFit.Clean(sheet.StudentNo)), new XRect(Left + (InfoWidth / 2), y, InfoWidth / 2, line), 10.5, 6);
        _text.Draw(Format("SheetId", sheetId), new XRect(Left, y += line, InfoWidth, line), 10.5, 6);

        var qrLeft = Right - QrSize;
        DrawQr(sheetId, qrLeft, Margin - 8, QrSize);
        _text.Draw(sheetId, new XRect(qrLeft - 12, Margin - 8 + QrSize + 1, QrSize + 24, 12), 8, 6, centre: true);

        _text.Draw(Text("Instruction"), new XRect(Left, 142, Width, 28), 9, 7);
    }

    /// <summary>The sheet id as a QR code of vector squares (one rectangle per run of dark modules in a row), quiet zone included.</summary>
    private void DrawQr(string text, double left, double top, double size)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        var rows = data.ModuleMatrix;
        var module = size / rows.Count;
        var path = new XGraphicsPath();
        for (var y = 0; y < rows.Count; y++)
        {
            for (var x = 0; x < rows[y].Length; x++)
            {
                if (!rows[y][x])
                {
                    continue;
                }

                var run = 1;
                while (x + run < rows[y].Length && rows[y][x + run])
                {
                    run++;
                }

                path.AddRectangle(left + (x * module), top + (y * module), run * module, module);
                x += run - 1;
            }
        }

        graphics.DrawPath(XBrushes.Black, path);
    }

    private void DrawTable(ConfirmationSheet sheet)
    {
        var fields = ConfirmationFields.All;
        var valueLeft = Left + LabelWidth;
        var answerLeft = valueLeft + ValueWidth;

        graphics.DrawRectangle(HeaderShade, Left, TableTop, Width, HeaderRowHeight);
        var headerText = new XRect(0, TableTop + 4, 0, HeaderRowHeight - 6);
        _text.Draw(Text("ColumnField"), headerText with { X = Left + Padding, Width = LabelWidth - (2 * Padding) }, 9.5, 6);
        _text.Draw(Text("ColumnValue"), headerText with { X = valueLeft + Padding, Width = ValueWidth - (2 * Padding) }, 9.5, 6);
        _text.Draw(Text("ColumnAnswer"), headerText with { X = answerLeft + Padding, Width = AnswerWidth - (2 * Padding) }, 9.5, 6);

        // Every field but the last has the same height; the last (the address, the longest value) takes what is left.
        var top = TableTop + HeaderRowHeight;
        for (var i = 0; i < fields.Count; i++)
        {
            var height = i < fields.Count - 1 ? RowHeight : TableBottom - top;
            var field = ConfirmationFields.Field(fields[i]);
            var label = English ? field.EnglishHeader : field.Header;
            _text.Draw(label, new XRect(Left + Padding, top + Padding, LabelWidth - (2 * Padding), height - (2 * Padding)), 9.5, 6);
            _text.Draw(Shown(field, sheet[fields[i]]), new XRect(valueLeft + Padding, top + Padding, ValueWidth - (2 * Padding), height - (2 * Padding)), 10.5, 5.5);
            DrawAnswerBox(answerLeft, top, height);
            graphics.DrawLine(Rule, Left, top, Right, top);
            top += height;
        }

        graphics.DrawRectangle(Rule, Left, TableTop, Width, TableBottom - TableTop);
        graphics.DrawLine(Rule, valueLeft, TableTop, valueLeft, TableBottom);
        graphics.DrawLine(Rule, answerLeft, TableTop, answerLeft, TableBottom);
    }

    /// <summary>"□ correct" and "□ should be: ____", with more lines to write on where the row is taller.</summary>
    private void DrawAnswerBox(double left, double top, double height)
    {
        const double box = 7.5;
        var x = left + Padding + 1;
        var size = 9.0;
        graphics.DrawRectangle(Tick, x, top + 5, box, box);
        _text.Draw(Text("Correct"), new XRect(x + box + 4, top + 3.5, AnswerWidth - box - 16, 12), size, 6);
        var second = top + 18;
        graphics.DrawRectangle(Tick, x, second + 1.5, box, box);
        var shouldBe = Text("ShouldBe");
        _text.Draw(shouldBe, new XRect(x + box + 4, second, AnswerWidth - box - 16, 12), size, 6);
        var lineStart = Math.Min(x + box + 6 + _text.Width(shouldBe, size), left + AnswerWidth - 40);
        var right = left + AnswerWidth - Padding - 1;
        var baseline = second + 11;
        graphics.DrawLine(Writing, lineStart, baseline, right, baseline);
        for (baseline += 16; baseline < top + height - 4; baseline += 16)
        {
            graphics.DrawLine(Writing, x, baseline, right, baseline);
        }
    }

    private void DrawExplanation()
    {
        var y = TableBottom + 8;
        _text.Draw(Text("WhyTitle"), new XRect(Left, y, Width, 12), 9.5, 6);
        _text.Draw(Text("Why"), new XRect(Left, y + 13, Width, 34), 8.5, 6);
        y += 49;
        _text.Draw(Text("ProtectionTitle"), new XRect(Left, y, Width, 12), 9.5, 6);
        _text.Draw(Text("Protection"), new XRect(Left, y + 13, Width, 34), 8.5, 6);
    }

    private void DrawSignatures()
    {
        const double size = 10;
        var y = 762.0;
        var guardian = Text("GuardianSignature");
        _text.Draw(guardian, new XRect(Left, y, 140, 14), size, 6);
        var start = Left + Math.Min(_text.Width(guardian, size), 140) + 4;
        graphics.DrawLine(Writing, start, y + 13, Left + 250, y + 13);

        var date = Text("Date");
        var dateLeft = Left + 270;
        _text.Draw(date, new XRect(dateLeft, y, 70, 14), size, 6);
        var dateStart = dateLeft + Math.Min(_text.Width(date, size), 70) + 4;
        graphics.DrawLine(Writing, dateStart, y + 13, Right, y + 13);
        _text.Draw(Text("DateBlank"), new XRect(dateStart + 40, y + 1, Right - dateStart - 40, 12), 9, 6);

        y += 24;
        var teacher = Text("TeacherCheck");
        _text.Draw(teacher, new XRect(Left, y, 160, 14), size, 6);
        var teacherStart = Left + Math.Min(_text.Width(teacher, size), 160) + 4;
        graphics.DrawLine(Writing, teacherStart, y + 13, Left + 250, y + 13);
    }

    private void DrawFooter(string sheetId, int page, int pages)
    {
        var y = PageHeight - 30;
        graphics.DrawLine(Rule, Left, y - 3, Right, y - 3);
        _text.Draw(Format("FooterSheet", sheetId), new XRect(Left, y, Width / 2, 12), 8, 6);
        var text = Format("Footer", page, pages);
        var width = _text.Width(text, 8);
        _text.Draw(text, new XRect(Right - width - 1, y, width + 1, 12), 8, 6);
    }

    /// <summary>
    /// A value as the registry holds it: a code with its name from the field's code list ("1 男"), a region code with the
    /// region's name, anything else as it is; blank is blank (an empty box, never "null").
    /// </summary>
    private string Shown(RegistryField field, string? value)
    {
        var text = SheetTextFit.Clean(value);
        if (text.Length == 0)
        {
            return "";
        }

        if (field.Codes?.Entries.FirstOrDefault(e => e.Code == text) is { } entry)
        {
            return $"{text} {(English ? entry.NameEn : entry.NameZh)}";
        }

        if (field.Kind == FieldKind.Region && RegionNames.Value.TryGetValue(text, out var region))
        {
            return $"{text} {region}";
        }

        return text;
    }

    private string Text(string key) => ConfirmationSheetText.Get(key, language);

    private string Format(string key, params object?[] args) => ConfirmationSheetText.Format(key, language, args);
}
