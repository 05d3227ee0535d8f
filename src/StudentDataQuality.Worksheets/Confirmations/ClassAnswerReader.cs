using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Confirmations;
using StudentDataQuality.Records;
using StudentDataQuality.Text;
using SheetId = StudentDataQuality.Confirmations.SheetId;

namespace StudentDataQuality.Worksheets.Confirmations;

/// <summary>
/// Reads a returned class answer workbook, all or nothing: the package is measured first with the worksheets' defences
/// (<see cref="ReturnLimits"/>: size, zip bomb, macros), then <c>_meta</c> and the data sheet are streamed with the Open XML SDK's
/// reader, which sees what the file says (a formula and its text, a cell's type, the date system). The first thing wrong refuses the
/// whole file with a <see cref="UserErrorException"/> (code <c>AnswerWorkbook.*</c>) naming the file, sheet, Excel row and column header.
/// </summary>
internal sealed partial class ClassAnswerReader
{
    private const string RelationshipsNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    private const int MaxMetaRecords = 1_000;
    private const int MaxColumns = 16_384;

    private readonly WorkbookPart _workbook;
    private readonly string _fileName;
    private readonly byte[] _key;
    private readonly ReturnLimits _limits;
    private readonly DateOnly _today;
    private List<string> _sharedStrings = [];
    private bool _date1904;

    private ClassAnswerReader(WorkbookPart workbook, string fileName, byte[] key, ReturnLimits limits, DateOnly today)
    {
        _workbook = workbook;
        _fileName = fileName;
        _key = key;
        _limits = limits;
        _today = today;
    }

    private readonly record struct RawCell(string? Text, CellValues? Type, string? Formula);

    private sealed record SheetEntry(string? Name, string? Id);

    private sealed record Meta(Guid WorkbookId, string RoundCode, string SchoolCode, ClassKey Class, string DataSheet,
        IReadOnlyList<ClassAnswerLayout.Column> Columns);

    public static ClassAnswerContent Read(Stream file, string fileName, byte[] key, ReturnLimits limits, DateOnly today)
    {
        if (key.Length < RowSignature.MinimumKeyBytes)
        {
            throw new ArgumentException($"A signing key must have at least {RowSignature.MinimumKeyBytes} bytes.", nameof(key));
        }

        MemoryStream bytes;
        try
        {
            bytes = ReturnedWorkbookReader.ReadBounded(file, fileName, limits);
            ReturnedWorkbookReader.CheckPackage(bytes, fileName, limits);
        }
        catch (WorksheetRejectedException e)
        {
            // The same defences as a worksheet's, told in this workbook's words.
            throw e.Code switch
            {
                WorksheetRejection.TooLarge => Refuse(e, "TooLarge", fileName, (limits.MaxBytes / 1048576.0).ToString("0.##", CultureInfo.InvariantCulture)),
                WorksheetRejection.ZipBomb => Refuse(e, "Damaged", fileName),
                WorksheetRejection.Macros => Refuse(e, "Macros", fileName),
                _ => Refuse(e, "NotXlsx", fileName),
            };
        }

        using (bytes)
        {
            bytes.Position = 0;
            SpreadsheetDocument document;
            try
            {
                document = SpreadsheetDocument.Open(bytes, false, new OpenSettings { MaxCharactersInPart = limits.MaxCharactersInPart });
            }
            catch (Exception e) when (e is OpenXmlPackageException or InvalidDataException or IOException or XmlException
                                          or InvalidOperationException or ArgumentException)
            {
                throw Refuse(e, "NotXlsx", fileName);
            }

            using (document)
            {
                try
                {
                    var workbook = document.WorkbookPart ?? throw new UserErrorException(new UserMessage("AnswerWorkbook.NotXlsx", fileName));
                    return new ClassAnswerReader(workbook, fileName, key, limits, today).Run();
                }
                catch (Exception e) when (e is OpenXmlPackageException or XmlException or InvalidDataException)
                {
                    // A part stopped at MaxCharactersInPart, or XML that does not parse.
                    throw Refuse(e, "Damaged", fileName);
                }
            }
        }
    }

    private static UserErrorException Refuse(Exception inner, string code, params object?[] args) =>
        new(new UserMessage("AnswerWorkbook." + code, args), inner);

    private UserErrorException Refuse(string code, params object?[] args) => new(new UserMessage("AnswerWorkbook." + code, [_fileName, .. args]));

    private ClassAnswerContent Run()
    {
        var sheets = ReadWorkbook();
        _sharedStrings = ReadSharedStrings();
        var metaSheet = sheets.FirstOrDefault(s => s.Name == ClassAnswerLayout.MetaSheet) ?? throw Refuse("NoMeta");
        var meta = ReadMeta(Rows(PartOf(metaSheet) ?? throw Refuse("BadMeta")));
        var data = FindDataSheet(sheets, meta);
        var answers = ReadAnswers(meta, data.Name, data.Part);
        return new ClassAnswerContent(meta.RoundCode, meta.SchoolCode, meta.Class, answers);
    }

    /// <summary>The data sheet by the name <c>_meta</c> records, or else the first other sheet with its headers (a sheet may be renamed).</summary>
    private (string Name, WorksheetPart Part) FindDataSheet(IReadOnlyList<SheetEntry> sheets, Meta meta)
    {
        if (sheets.FirstOrDefault(s => s.Name == meta.DataSheet) is { } named && PartOf(named) is { } namedPart)
        {
            return (named.Name!, namedPart);
        }

        foreach (var sheet in sheets.Where(s => s.Name != ClassAnswerLayout.MetaSheet))
        {
            if (PartOf(sheet) is { } part && Header(part, meta) is not null)
            {
                return (sheet.Name ?? "", part);
            }
        }

        throw Refuse("NoDataSheet", meta.DataSheet);
    }

    private List<SheetEntry> ReadWorkbook()
    {
        var sheets = new List<SheetEntry>();
        using var reader = OpenXmlReader.Create(_workbook);
        while (reader.Read())
        {
            if (!reader.IsStartElement)
            {
                continue;
            }

            if (reader.ElementType == typeof(WorkbookProperties))
            {
                _date1904 = Attribute(reader, "date1904") is "1" or "true";
            }
            else if (reader.ElementType == typeof(Sheet))
            {
                if (sheets.Count == _limits.MaxEntries)
                {
                    throw Refuse("Damaged");
                }

                sheets.Add(new SheetEntry(Attribute(reader, "name"), Attribute(reader, "id", RelationshipsNamespace)));
            }
        }

        return sheets;
    }

    private List<string> ReadSharedStrings()
    {
        var strings = new List<string>();
        if (_workbook.SharedStringTablePart is not { } part)
        {
            return strings;
        }

        using var reader = OpenXmlReader.Create(part);
        while (reader.Read())
        {
            if (reader.IsStartElement && reader.ElementType == typeof(SharedStringItem))
            {
                strings.Add(ReturnedWorkbookReader.DecodeEscapes(ItemText(reader, typeof(SharedStringItem))));
            }
        }

        return strings;
    }

    private WorksheetPart? PartOf(SheetEntry sheet) =>
        sheet.Id is { } id && _workbook.TryGetPartById(id, out var part) ? part as WorksheetPart : null;

    private Meta ReadMeta(IEnumerable<(int ExcelRow, SortedDictionary<int, RawCell> Cells)> rows)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        var columns = new List<ClassAnswerLayout.Column>();
        foreach (var (_, cells) in rows)
        {
            if (cells.Values.Any(c => c.Formula is not null) || properties.Count + columns.Count >= MaxMetaRecords)
            {
                throw Refuse("BadMeta");
            }

            string Part(int column) => cells.TryGetValue(column, out var cell) ? cell.Text ?? "" : "";
            switch (Part(1))
            {
                case "":
                    break;
                case ClassAnswerLayout.MetaRecord when Part(2).Length > 0 && properties.TryAdd(Part(2), Part(3)):
                    break;
                case ClassAnswerLayout.ColumnRecord
                    when int.TryParse(Part(2), NumberStyles.None, CultureInfo.InvariantCulture, out var number) && Part(3).Length > 0
                         && Part(4).Length > 0 && !columns.Any(c => c.Marker == Part(3)):
                    var marker = Part(3);
                    var field = marker.StartsWith(ClassAnswerLayout.PrintedPrefix, StringComparison.Ordinal) ? marker[ClassAnswerLayout.PrintedPrefix.Length..]
                        : marker.StartsWith(ClassAnswerLayout.ShouldBePrefix, StringComparison.Ordinal) ? marker[ClassAnswerLayout.ShouldBePrefix.Length..]
                        : null;
                    columns.Add(new ClassAnswerLayout.Column(number, marker, Part(4), field));
                    break;
                default:
                    throw Refuse("BadMeta");
            }
        }

        string Required(string name) => properties.TryGetValue(name, out var value) && value.Length > 0 ? value : throw Refuse("BadMeta");

        if (properties.GetValueOrDefault(ClassAnswerLayout.Properties.Format) != ClassAnswerLayout.Format)
        {
            // A worksheet's _meta, or anything else's: not a class answer workbook.
            throw Refuse("NoMeta");
        }

        if (Required(ClassAnswerLayout.Properties.KeyId) != ClassAnswerLayout.KeyId(_key))
        {
            throw Refuse("OtherKey");
        }

        var workbookId = Guid.TryParse(Required(ClassAnswerLayout.Properties.WorkbookId), out var id) ? id : throw Refuse("BadMeta");
        var grade = int.TryParse(Required(ClassAnswerLayout.Properties.Grade), NumberStyles.None, CultureInfo.InvariantCulture, out var g) && g is >= 1 and <= 12
            ? g
            : throw Refuse("MetaChanged");
        var @class = new ClassKey(grade, Required(ClassAnswerLayout.Properties.ClassName));
        var round = Required(ClassAnswerLayout.Properties.RoundCode);
        var school = Required(ClassAnswerLayout.Properties.SchoolCode);
        if (!ClassAnswerLayout.VerifyMeta(_key, workbookId, round, school, @class, properties.GetValueOrDefault(ClassAnswerLayout.Properties.Signature)))
        {
            throw Refuse("MetaChanged");
        }

        // The columns this reader needs, each recorded once: a field's two, and the sheet id, student number, confirmed, date, signature.
        var needed = ClassAnswerLayout.Columns(WorksheetLanguage.Chinese).Select(c => c.Marker);
        if (needed.Any(m => !columns.Any(c => c.Marker == m)))
        {
            throw Refuse("BadMeta");
        }

        return new Meta(workbookId, round, school, @class, Required(ClassAnswerLayout.Properties.DataSheet), columns);
    }

    /// <summary>The header row (within the first rows) that carries the sheet id and signature headers, with its cells.</summary>
    private (int ExcelRow, SortedDictionary<int, RawCell> Cells)? Header(WorksheetPart part, Meta meta)
    {
        var sheetIdHeader = meta.Columns.Single(c => c.Marker == ClassAnswerLayout.SheetIdMarker).Header;
        var signatureHeader = meta.Columns.Single(c => c.Marker == ClassAnswerLayout.SignatureMarker).Header;
        foreach (var row in Rows(part))
        {
            if (row.ExcelRow > ClassAnswerLayout.HeaderSearchRows)
            {
                break;
            }

            var texts = row.Cells.Values.Select(c => ReturnedWorkbookReader.Normalise(c.Text)).ToArray();
            if (texts.Contains(sheetIdHeader) && texts.Contains(signatureHeader))
            {
                return row;
            }
        }

        return null;
    }

    private List<SheetAnswer> ReadAnswers(Meta meta, string sheetName, WorksheetPart part)
    {
        var (headerRow, headers) = Header(part, meta)
            ?? throw Refuse("MissingColumn", sheetName, meta.Columns.Single(c => c.Marker == ClassAnswerLayout.SheetIdMarker).Header);
        var at = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var column in meta.Columns)
        {
            var found = headers.Where(h => ReturnedWorkbookReader.Normalise(h.Value.Text) == TextNormalizer.Trim(column.Header)).Select(h => h.Key).ToArray();
            if (found.Length == 0)
            {
                throw Refuse("MissingColumn", sheetName, column.Header);
            }

            if (found.Length > 1)
            {
                throw Refuse("DuplicateColumn", sheetName, headerRow, column.Header);
            }

            at[column.Marker] = found[0];
        }

        var byMarker = meta.Columns.ToDictionary(c => c.Marker, StringComparer.Ordinal);
        var answers = new List<SheetAnswer>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (excelRow, cells) in Rows(part))
        {
            if (excelRow <= headerRow)
            {
                continue;
            }

            if (seen.Count + 1 > _limits.MaxRows || excelRow - headerRow > _limits.MaxRows)
            {
                throw Refuse("TooManyRows", sheetName, _limits.MaxRows);
            }

            RawCell? Cell(string marker) => cells.TryGetValue(at[marker], out var cell) ? cell : null;
            string Header(string marker) => byMarker[marker].Header;

            // What was written in the cells a class teacher fills: the corrected values, confirmed, date.
            var corrections = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var field in ConfirmationFields.All)
            {
                var marker = ClassAnswerLayout.ShouldBePrefix + field;
                if (Cell(marker) is { } cell && Value(cell, field, sheetName, excelRow, Header(marker)) is { } value)
                {
                    corrections[field] = value;
                }
            }

            var confirmedCell = Cell(ClassAnswerLayout.ConfirmedMarker);
            var confirmedText = confirmedCell is { } c ? CellText(c) : null;
            var confirmed = ClassAnswerWorkbook.Confirmed(confirmedText);
            var dateCell = Cell(ClassAnswerLayout.SignedOnMarker);
            var dateText = dateCell is { } d ? CellText(d) : null;
            if (corrections.Count == 0 && confirmed != true && dateText is null)
            {
                if (confirmedText is not null && confirmed is null)
                {
                    throw Refuse("ConfirmedInvalid", sheetName, excelRow, Header(ClassAnswerLayout.ConfirmedMarker), confirmedText);
                }

                // Nothing filled (or only "no"): the sheet has not come back yet.
                continue;
            }

            var sheetId = SheetId.Normalise(Cell(ClassAnswerLayout.SheetIdMarker)?.Text);
            var studentNo = Cell(ClassAnswerLayout.StudentNoMarker)?.Text;
            var printed = ConfirmationFields.All.Select(f => Cell(ClassAnswerLayout.PrintedPrefix + f)?.Text).ToArray();
            var signature = Cell(ClassAnswerLayout.SignatureMarker)?.Text;
            if (sheetId is null || Cell(ClassAnswerLayout.SheetIdMarker)?.Formula is not null ||
                !ClassAnswerLayout.VerifyRow(_key, meta.WorkbookId, meta.RoundCode, meta.SchoolCode, meta.Class, sheetId, studentNo, printed, signature))
            {
                throw Refuse("RowChanged", sheetName, excelRow, Header(ClassAnswerLayout.SheetIdMarker));
            }

            if (!seen.TryAdd(sheetId, excelRow))
            {
                throw Refuse("DuplicateSheet", sheetName, excelRow, Header(ClassAnswerLayout.SheetIdMarker), SheetId.Format(sheetId), seen[sheetId]);
            }

            if (confirmedText is not null && confirmed is null)
            {
                throw Refuse("ConfirmedInvalid", sheetName, excelRow, Header(ClassAnswerLayout.ConfirmedMarker), confirmedText);
            }

            if (confirmed == true && corrections.Count > 0)
            {
                throw Refuse("ConfirmedAndCorrected", sheetName, excelRow, Header(ClassAnswerLayout.ConfirmedMarker),
                    Header(ClassAnswerLayout.ShouldBePrefix + corrections.Keys.First()));
            }

            var dateHeader = Header(ClassAnswerLayout.SignedOnMarker);
            if (corrections.Count == 0 && confirmed != true)
            {
                throw Refuse("NothingAnswered", sheetName, excelRow, dateHeader);
            }

            if (dateText is null)
            {
                throw Refuse("DateMissing", sheetName, excelRow, dateHeader);
            }

            var signedOn = SignedOn(dateCell!.Value) ?? throw Refuse("DateInvalid", sheetName, excelRow, dateHeader, dateText);
            if (signedOn > _today)
            {
                throw Refuse("DateFuture", sheetName, excelRow, dateHeader, signedOn.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }

            answers.Add(new SheetAnswer(sheetId, signedOn, corrections) { ExcelRow = excelRow });
        }

        return answers;
    }

    /// <summary>
    /// A corrected value as the registry would take it: text as typed (trimmed; a formula as its own text, never its result), a
    /// number in its exact digits, a date cell as yyyyMMdd for a date field. Refuses a value the registry cannot hold.
    /// </summary>
    private string? Value(RawCell cell, string field, string sheetName, int excelRow, string header)
    {
        var registryField = ConfirmationFields.Field(field);
        string? text;
        if (cell.Formula is not null)
        {
            text = ReturnedWorkbookReader.Normalise("=" + cell.Formula);
        }
        else if (cell.Type is null or CellValues.Number && double.TryParse(cell.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            var integral = Math.Abs(number) < 1e28 && number == Math.Floor(number);
            var digits = integral ? ((decimal)number).ToString("0", CultureInfo.InvariantCulture) : null;
            if (registryField.Kind == FieldKind.Date && digits is not { Length: 8 })
            {
                text = ReturnedWorkbookReader.FromSerial(number, _date1904) is { } day ? day.ToString("yyyyMMdd", CultureInfo.InvariantCulture) : cell.Text;
            }
            else if (digits is not null && digits.TrimStart('-').Length > 15)
            {
                // Excel keeps 15 significant digits: a longer number (an ID typed into a number cell) lost the rest.
                throw Refuse("LostDigits", sheetName, excelRow, header, digits);
            }
            else
            {
                text = digits ?? ((decimal)number).ToString(CultureInfo.InvariantCulture);
            }
        }
        else if (cell.Type == CellValues.Date && DateTime.TryParse(cell.Text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            text = DateOnly.FromDateTime(date).ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        }
        else if (cell.Type == CellValues.Boolean)
        {
            text = cell.Text is "1" or "true" ? "TRUE" : "FALSE";
        }
        else
        {
            text = ReturnedWorkbookReader.Normalise(cell.Text);
        }

        if (text is null)
        {
            return null;
        }

        if (text.Any(char.IsControl))
        {
            throw Refuse("ControlCharacter", sheetName, excelRow, header);
        }

        if (text.Length > registryField.MaxLength)
        {
            throw Refuse("ValueTooLong", sheetName, excelRow, header, registryField.MaxLength, text.Length);
        }

        return text;
    }

    /// <summary>The text of a cell a person reads (confirmed, date): a formula's own text, otherwise the value, trimmed.</summary>
    private static string? CellText(RawCell cell) =>
        cell.Formula is not null ? ReturnedWorkbookReader.Normalise("=" + cell.Formula) : ReturnedWorkbookReader.Normalise(cell.Text);

    /// <summary>
    /// The date a parent signed: a date cell (a serial in a number cell, as Excel, WPS and LibreOffice save it; an ISO date cell),
    /// or a date typed as text: 2026-10-15, 2026/10/15, 2026.10.15, 20261015, 2026年10月15日.
    /// </summary>
    private DateOnly? SignedOn(RawCell cell)
    {
        if (cell.Formula is not null || cell.Text is null)
        {
            return null;
        }

        if (cell.Type == CellValues.Date)
        {
            return DateTime.TryParse(cell.Text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? DateOnly.FromDateTime(date) : null;
        }

        if (cell.Type is null or CellValues.Number)
        {
            if (!double.TryParse(cell.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var serial))
            {
                return null;
            }

            // 20261015 typed into a General cell is a number, not a serial.
            return serial is >= 19000101 and <= 99991231 && serial == Math.Floor(serial)
                ? FieldParser.ParseDate(serial.ToString("0", CultureInfo.InvariantCulture))
                : ReturnedWorkbookReader.FromSerial(serial, _date1904);
        }

        var text = TextNormalizer.Trim(TextNormalizer.FoldFullWidth(cell.Text));
        if (FieldParser.ParseDate(text) is { } parsed)
        {
            return parsed;
        }

        var match = TypedDate().Match(text);
        return match.Success && DateOnly.TryParseExact(
            $"{match.Groups[1].Value}-{int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture):00}-{int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture):00}",
            "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? day
            : null;
    }

    [GeneratedRegex(@"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$", RegexOptions.CultureInvariant)]
    private static partial Regex TypedDate();

    [GeneratedRegex("^([A-Za-z]{1,3})([0-9]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex CellReference();

    /// <summary>The rows with a value or a formula, streamed in file order; each row's cells by column number.</summary>
    private IEnumerable<(int ExcelRow, SortedDictionary<int, RawCell> Cells)> Rows(WorksheetPart part)
    {
        using var reader = OpenXmlReader.Create(part);
        var rowNumber = 0;
        while (reader.Read())
        {
            if (!reader.IsStartElement || reader.ElementType != typeof(Row))
            {
                continue;
            }

            rowNumber = uint.TryParse(Attribute(reader, "r"), NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index is > 0 and <= int.MaxValue
                ? (int)index
                : rowNumber + 1;
            var cells = RowCells(reader);
            if (cells.Count > 0)
            {
                yield return (rowNumber, cells);
            }
        }
    }

    private SortedDictionary<int, RawCell> RowCells(OpenXmlReader reader)
    {
        var cells = new SortedDictionary<int, RawCell>();
        var columnNumber = 0;
        while (reader.Read())
        {
            if (reader.ElementType == typeof(Row) && reader.IsEndElement)
            {
                break;
            }

            if (reader.ElementType != typeof(Cell) || !reader.IsStartElement)
            {
                continue;
            }

            columnNumber = Attribute(reader, "r") is { } reference && CellReference().Match(reference) is { Success: true } match
                ? match.Groups[1].Value.ToUpperInvariant().Aggregate(0, (n, ch) => (n * 26) + (ch - 'A' + 1))
                : columnNumber + 1;
            var raw = ReadCell(reader);
            if ((raw.Text is not null || raw.Formula is not null) && columnNumber <= MaxColumns)
            {
                cells[columnNumber] = raw;
            }
        }

        return cells;
    }

    private RawCell ReadCell(OpenXmlReader reader)
    {
        var type = Attribute(reader, "t") switch
        {
            null => (CellValues?)null,
            "s" => CellValues.SharedString,
            "inlineStr" => CellValues.InlineString,
            "str" => CellValues.String,
            "b" => CellValues.Boolean,
            "n" => CellValues.Number,
            "d" => CellValues.Date,
            _ => CellValues.Error,
        };
        string? value = null, inline = null, formula = null;
        while (reader.Read())
        {
            if (reader.ElementType == typeof(Cell) && reader.IsEndElement)
            {
                break;
            }

            if (!reader.IsStartElement)
            {
                continue;
            }

            if (reader.ElementType == typeof(CellFormula))
            {
                // A shared formula's other cells have an empty f: they still hold a formula.
                formula = reader.GetText() is { Length: > 0 } f ? f : "";
            }
            else if (reader.ElementType == typeof(CellValue))
            {
                value = reader.GetText();
            }
            else if (reader.ElementType == typeof(InlineString))
            {
                inline = ItemText(reader, typeof(InlineString));
            }
        }

        var text = type switch
        {
            CellValues.SharedString => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < _sharedStrings.Count
                ? _sharedStrings[i]
                : null,
            CellValues.InlineString => inline is null ? null : ReturnedWorkbookReader.DecodeEscapes(inline),
            CellValues.String => value is null ? null : ReturnedWorkbookReader.DecodeEscapes(value),
            _ => value,
        };
        return new RawCell(string.IsNullOrEmpty(text) ? null : text, type, formula);
    }

    /// <summary>The text of a shared or inline string: its t, or its runs' t; never the phonetic runs.</summary>
    private static string ItemText(OpenXmlReader reader, Type item)
    {
        string? own = null;
        StringBuilder? runs = null;
        var (inRun, inPhonetic) = (false, false);
        while (reader.Read())
        {
            var type = reader.ElementType;
            if (type == item && reader.IsEndElement)
            {
                break;
            }

            if (type == typeof(Run))
            {
                inRun = reader.IsStartElement;
            }
            else if (type == typeof(PhoneticRun))
            {
                inPhonetic = reader.IsStartElement;
            }
            else if (type == typeof(DocumentFormat.OpenXml.Spreadsheet.Text) && reader.IsStartElement && !inPhonetic)
            {
                if (inRun)
                {
                    (runs ??= new StringBuilder()).Append(reader.GetText());
                }
                else
                {
                    own ??= reader.GetText();
                }
            }
        }

        return own ?? runs?.ToString() ?? "";
    }

    private static string? Attribute(OpenXmlReader reader, string localName, string namespaceUri = "")
    {
        foreach (var attribute in reader.Attributes)
        {
            if (attribute.LocalName == localName && attribute.NamespaceUri == namespaceUri)
            {
                return attribute.Value;
            }
        }

        return null;
    }
}
