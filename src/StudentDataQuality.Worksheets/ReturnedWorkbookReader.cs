using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Records;
using StudentDataQuality.Text;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Reads a worksheet a school sends back (WORKSHEETS.md, "What the server accepts back"), without a database: refuses
/// the whole file for what makes it unreadable or untrustworthy, and otherwise returns every row with what was wrong
/// with it. Uses the Open XML SDK directly rather than ClosedXML, because the reader must see what the file says: the
/// formulas behind cached values, the cell types, the date system and the sheets' states.
/// </summary>
public static partial class ReturnedWorkbookReader
{
    private const string WorkbookContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml";

    /// <summary>How far down a registrar may have pushed the header row by inserting rows above it.</summary>
    private const int HeaderSearchRows = 20;

    private static readonly byte[] OleSignature = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

    /// <summary>Reads the returned file. Throws <see cref="WorksheetRejectedException"/> when the file is refused whole.</summary>
    public static ReturnedWorkbook Read(Stream file, string fileName, ReturnLimits limits)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(limits);
        using var bytes = ReadBounded(file, fileName, limits);
        CheckPackage(bytes, fileName, limits);
        bytes.Position = 0;
        SpreadsheetDocument document;
        try
        {
            document = SpreadsheetDocument.Open(bytes, false);
        }
        catch (Exception e) when (e is OpenXmlPackageException or InvalidDataException or IOException or System.Xml.XmlException
                                      or InvalidOperationException or ArgumentException)
        {
            throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, e.Message, e);
        }

        using (document)
        {
            try
            {
                return new Reading(document, fileName).Run();
            }
            catch (Exception e) when (e is OpenXmlPackageException or System.Xml.XmlException or InvalidDataException)
            {
                throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, e.Message, e);
            }
        }
    }

    /// <summary>The upload in memory, refusing it as soon as it passes the limit.</summary>
    private static MemoryStream ReadBounded(Stream file, string fileName, ReturnLimits limits)
    {
        if (file.CanSeek && file.Length - file.Position > limits.MaxBytes)
        {
            throw TooLarge(file.Length - file.Position);
        }

        var memory = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
        {
            memory.Write(buffer, 0, read);
            if (memory.Length > limits.MaxBytes)
            {
                throw TooLarge(memory.Length);
            }
        }

        return memory;

        WorksheetRejectedException TooLarge(long size) => new(
            WorksheetRejection.TooLarge, fileName,
            detail: string.Create(CultureInfo.InvariantCulture, $"{Megabytes(size)} > {Megabytes(limits.MaxBytes)}"));
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.##} MB");

    /// <summary>
    /// Signature, zip structure, sizes and macros, with System.IO.Compression alone: nothing here trusts the sizes the
    /// zip declares, every entry is unpacked into a counter that stops at the limit.
    /// </summary>
    private static void CheckPackage(MemoryStream bytes, string fileName, ReturnLimits limits)
    {
        var head = bytes.GetBuffer().AsSpan(0, (int)Math.Min(bytes.Length, 8));
        if (head.StartsWith(OleSignature) || !head.StartsWith("PK\u0003\u0004"u8))
        {
            throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName,
                detail: head.StartsWith(OleSignature) ? "OLE compound file (.xls or encrypted)" : "not a zip package");
        }

        bytes.Position = 0;
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(bytes, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, e.Message, e);
        }

        using (zip)
        {
            if (zip.Entries.Count > limits.MaxEntries)
            {
                throw new WorksheetRejectedException(WorksheetRejection.ZipBomb, fileName,
                    detail: string.Create(CultureInfo.InvariantCulture, $"{zip.Entries.Count} entries"));
            }

            var declared = zip.Entries.Sum(e => Math.Max(0, e.Length));
            if (declared > limits.MaxUncompressedBytes)
            {
                throw Bomb(declared);
            }

            long total = 0;
            var buffer = new byte[81920];
            string? contentTypes = null;
            foreach (var entry in zip.Entries)
            {
                var name = entry.FullName;
                if (name.EndsWith("vbaProject.bin", StringComparison.OrdinalIgnoreCase) ||
                    name.EndsWith("vbaProjectSignature.bin", StringComparison.OrdinalIgnoreCase) ||
                    name.StartsWith("xl/macrosheets/", StringComparison.OrdinalIgnoreCase))
                {
                    throw new WorksheetRejectedException(WorksheetRejection.Macros, fileName, detail: name);
                }

                long size = 0;
                var isContentTypes = string.Equals(name, "[Content_Types].xml", StringComparison.Ordinal);
                using var copy = isContentTypes ? new MemoryStream() : null;
                try
                {
                    using var stream = entry.Open();
                    int read;
                    while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        size += read;
                        total += read;
                        if (total > limits.MaxUncompressedBytes)
                        {
                            throw Bomb(total);
                        }

                        if (size > limits.RatioCheckFromBytes && size > (long)limits.MaxCompressionRatio * Math.Max(1, entry.CompressedLength))
                        {
                            throw new WorksheetRejectedException(WorksheetRejection.ZipBomb, fileName, detail: string.Create(
                                CultureInfo.InvariantCulture, $"{name}: more than {limits.MaxCompressionRatio}:1"));
                        }

                        copy?.Write(buffer, 0, read);
                    }
                }
                catch (InvalidDataException e)
                {
                    throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, e.Message, e);
                }

                if (copy is not null)
                {
                    contentTypes = Encoding.UTF8.GetString(copy.GetBuffer(), 0, (int)copy.Length);
                }
            }

            if (contentTypes is null)
            {
                throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, detail: "no [Content_Types].xml");
            }

            if (contentTypes.Contains("macroEnabled", StringComparison.OrdinalIgnoreCase) ||
                contentTypes.Contains("vbaProject", StringComparison.OrdinalIgnoreCase))
            {
                throw new WorksheetRejectedException(WorksheetRejection.Macros, fileName, detail: "macro content type");
            }

            if (!contentTypes.Contains(WorkbookContentType, StringComparison.Ordinal))
            {
                // A .docx, .pptx, .xlsb or any other package renamed to .xlsx.
                throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, detail: "no spreadsheet workbook part");
            }
        }

        WorksheetRejectedException Bomb(long size) => new(
            WorksheetRejection.ZipBomb, fileName,
            detail: string.Create(CultureInfo.InvariantCulture, $"{Megabytes(size)} > {Megabytes(limits.MaxUncompressedBytes)} unpacked"));
    }

    /// <summary>ECMA-376 Part 1, 22.9.2.19 ST_Xstring: _xHHHH_ is the UTF-16 code unit HHHH, read left to right.</summary>
    internal static string DecodeEscapes(string text) =>
        text.Contains("_x", StringComparison.Ordinal)
            ? Escape().Replace(text, m => ((char)int.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToString())
            : text;

    /// <summary>Trimmed, full-width digits folded, null when nothing is left: how every returned cell is read, so how an issued value compares with it.</summary>
    public static string? Normalise(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (text.AsSpan().ContainsAnyInRange('０', '９'))
        {
            text = string.Create(text.Length, text, static (span, source) =>
            {
                for (var i = 0; i < source.Length; i++)
                {
                    span[i] = source[i] is >= '０' and <= '９' ? (char)(source[i] - '０' + '0') : source[i];
                }
            });
        }

        var trimmed = TextNormalizer.Trim(text);
        return trimmed.Length == 0 ? null : trimmed;
    }

    /// <summary>
    /// The day a date serial number names: the 1900 system counts 1900-01-01 as 1 and keeps Lotus's 1900-02-29 as 60
    /// (which is no day); the 1904 system counts 1904-01-01 as 0. The time of day is dropped.
    /// </summary>
    internal static DateOnly? FromSerial(double serial, bool date1904)
    {
        if (double.IsNaN(serial) || serial < 0 || serial >= 2958466)
        {
            return null;
        }

        var days = (int)Math.Floor(serial);
        if (date1904)
        {
            var day = new DateOnly(1904, 1, 1).AddDays(days);
            return day.Year <= 9999 ? day : null;
        }

        return days is 0 or 60 ? null : new DateOnly(1899, 12, 31).AddDays(days < 60 ? days : days - 1);
    }

    [GeneratedRegex("_x([0-9A-Fa-f]{4})_", RegexOptions.CultureInvariant)]
    private static partial Regex Escape();

    [GeneratedRegex("^([A-Za-z]{1,3})([0-9]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex CellReference();

    /// <summary>A cell as read: its text before normalisation, how it was stored, and whether it holds a formula.</summary>
    private readonly record struct RawCell(string? Text, CellValues? Type, bool Formula);

    /// <summary>One reading of one package.</summary>
    private sealed class Reading(SpreadsheetDocument document, string fileName)
    {
        private readonly WorkbookPart _workbook = document.WorkbookPart
            ?? throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, detail: "no workbook part");

        private string[] _sharedStrings = [];
        private bool _date1904;

        public ReturnedWorkbook Run()
        {
            _sharedStrings = _workbook.SharedStringTablePart?.SharedStringTable?
                .Elements<SharedStringItem>().Select(i => DecodeEscapes(ItemText(i))).ToArray() ?? [];
            _date1904 = _workbook.Workbook.WorkbookProperties?.Date1904?.Value ?? false;
            var sheets = _workbook.Workbook.Sheets?.Elements<Sheet>().ToArray() ?? [];

            // Visible, hidden (LibreOffice re-saves very hidden as hidden) and very hidden are all accepted: the locks
            // and states are conveniences, the signatures are what the ingest trusts.
            var metaSheet = sheets.FirstOrDefault(s => string.Equals(s.Name?.Value, WorksheetMeta.SheetName, StringComparison.Ordinal))
                ?? throw new WorksheetRejectedException(WorksheetRejection.NoMeta, fileName, sheet: WorksheetMeta.SheetName);
            var meta = ReadMeta(Grid(PartOf(metaSheet) ?? throw BadMeta(null, "not a worksheet")));
            var (sheetName, grid) = FindProblemsSheet(sheets, meta);
            return ReadProblems(meta, sheetName, grid);
        }

        private WorksheetPart? PartOf(Sheet sheet) =>
            sheet.Id?.Value is { } id && _workbook.TryGetPartById(id, out var part) ? part as WorksheetPart : null;

        private WorksheetRejectedException BadMeta(int? excelRow, string detail) =>
            new(WorksheetRejection.BadMeta, fileName, WorksheetMeta.SheetName, excelRow, detail: detail);

        private ReturnedWorkbookMeta ReadMeta(SortedDictionary<int, SortedDictionary<int, RawCell>> grid)
        {
            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            var columns = new List<MetaColumn>();
            var rows = new Dictionary<string, MetaRow>(StringComparer.Ordinal);
            foreach (var (excelRow, cells) in grid)
            {
                if (cells.Values.Any(c => c.Formula))
                {
                    throw BadMeta(excelRow, "formula");
                }

                string Part(int column) => cells.TryGetValue(column, out var cell) ? cell.Text ?? "" : "";
                var a = Part(2);
                var b = Part(3);
                switch (Part(1))
                {
                    case "":
                        break;
                    case WorksheetMeta.MetaRecord:
                        if (a.Length == 0 || !properties.TryAdd(a, b))
                        {
                            throw BadMeta(excelRow, "meta record without a name, or twice");
                        }

                        break;
                    case WorksheetMeta.ColumnRecord:
                        if (!int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || b.Length == 0 ||
                            Part(4).Length == 0 || columns.Any(c => c.Marker == b || c.Number == number))
                        {
                            throw BadMeta(excelRow, "column record");
                        }

                        columns.Add(new MetaColumn(number, b, Part(4)));
                        break;
                    case WorksheetMeta.RowRecord:
                        var signature = Part(4);
                        if (!int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var issuedRow) || b.Length == 0 ||
                            signature.Length != 64 || !signature.All(char.IsAsciiHexDigit) ||
                            !rows.TryAdd(b, new MetaRow(issuedRow, b, signature)))
                        {
                            throw BadMeta(excelRow, "row record");
                        }

                        break;
                    default:
                        throw BadMeta(excelRow, "unknown record '" + Part(1) + "'");
                }
            }

            if (properties.GetValueOrDefault(WorksheetMeta.Properties.Format) != WorksheetMeta.Format)
            {
                throw BadMeta(null, "format is not " + WorksheetMeta.Format);
            }

            string Required(string name) =>
                properties.TryGetValue(name, out var value) && value.Length > 0 ? value : throw BadMeta(null, "no " + name);

            int Number(string name) =>
                int.TryParse(Required(name), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw BadMeta(null, name);

            foreach (var marker in new[] { "row_key", "action", "explanation" })
            {
                if (!columns.Any(c => c.Marker == marker))
                {
                    throw BadMeta(null, "no column " + marker);
                }
            }

            return new ReturnedWorkbookMeta
            {
                WorksheetId = Guid.TryParse(Required(WorksheetMeta.Properties.WorksheetId), out var id) ? id
                    : throw BadMeta(null, WorksheetMeta.Properties.WorksheetId),
                RoundId = Number(WorksheetMeta.Properties.RoundId),
                SchoolCode = Required(WorksheetMeta.Properties.SchoolCode),
                IssueNumber = Number(WorksheetMeta.Properties.IssueNumber),
                KeyId = Required(WorksheetMeta.Properties.KeyId),
                TemplateVersion = Number(WorksheetMeta.Properties.TemplateVersion),
                ProblemsSheet = Required(WorksheetMeta.Properties.ProblemsSheet),
                Language = properties.GetValueOrDefault(WorksheetMeta.Properties.Language) == WorksheetLanguage.English.Tag()
                    ? WorksheetLanguage.English
                    : WorksheetLanguage.Chinese,
                Properties = properties,
                Columns = columns.OrderBy(c => c.Number).ToArray(),
                Rows = rows,
            };
        }

        /// <summary>
        /// The problems sheet by the name <c>_meta</c> records, or else the first other worksheet whose header row carries
        /// the recorded row-key and action headers (a registrar may rename a sheet).
        /// </summary>
        private (string Name, SortedDictionary<int, SortedDictionary<int, RawCell>> Grid) FindProblemsSheet(
            IReadOnlyList<Sheet> sheets, ReturnedWorkbookMeta meta)
        {
            var named = sheets.FirstOrDefault(s => s.Name?.Value == meta.ProblemsSheet);
            var candidates = named is not null ? [named] : sheets.Where(s => s.Name?.Value != WorksheetMeta.SheetName);
            foreach (var sheet in candidates)
            {
                if (PartOf(sheet) is { } part)
                {
                    var grid = Grid(part);
                    if (named is not null || HeaderRow(grid, meta) is not null)
                    {
                        return (sheet.Name!.Value!, grid);
                    }
                }
            }

            throw new WorksheetRejectedException(WorksheetRejection.NoProblemsSheet, fileName, meta.ProblemsSheet);
        }

        private int? HeaderRow(SortedDictionary<int, SortedDictionary<int, RawCell>> grid, ReturnedWorkbookMeta meta)
        {
            var keyHeader = meta.Columns.Single(c => c.Marker == "row_key").Header;
            var actionHeader = meta.Columns.Single(c => c.Marker == "action").Header;
            foreach (var (excelRow, cells) in grid)
            {
                if (excelRow > HeaderSearchRows)
                {
                    break;
                }

                var texts = cells.Values.Select(c => Normalise(c.Text)).ToArray();
                if (texts.Contains(keyHeader) && texts.Contains(actionHeader))
                {
                    return excelRow;
                }
            }

            return null;
        }

        private ReturnedWorkbook ReadProblems(ReturnedWorkbookMeta meta, string sheetName, SortedDictionary<int, SortedDictionary<int, RawCell>> grid)
        {
            var headerRow = HeaderRow(grid, meta) ?? throw new WorksheetRejectedException(
                WorksheetRejection.MissingColumn, fileName, sheetName, WorksheetLayout.HeaderRow,
                meta.Columns.Single(c => c.Marker == "row_key").Header);

            // Each recorded column by its header text, wherever it now is; the read-only problem summary is not needed.
            var headers = grid[headerRow];
            var at = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var column in meta.Columns.Where(c => c.Marker != "problems"))
            {
                var found = headers.Where(h => Normalise(h.Value.Text) == TextNormalizer.Trim(column.Header)).Select(h => h.Key).ToArray();
                if (found.Length == 0)
                {
                    throw new WorksheetRejectedException(WorksheetRejection.MissingColumn, fileName, sheetName, headerRow, column.Header);
                }

                if (found.Length > 1)
                {
                    throw new WorksheetRejectedException(WorksheetRejection.DuplicateColumn, fileName, sheetName, headerRow, column.Header);
                }

                at[column.Marker] = found[0];
            }

            var byMarker = meta.Columns.ToDictionary(c => c.Marker, StringComparer.Ordinal);
            var rows = new List<ReturnedRow>();
            var notImported = new List<ReturnProblem>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (excelRow, cells) in grid)
            {
                if (excelRow <= headerRow)
                {
                    continue;
                }

                var problems = new List<ReturnProblem>();
                var formulas = cells.Where(c => c.Value.Formula).Select(c => c.Key).ToArray();
                // A phantom row (formatted but empty) is skipped wherever it is, also between data rows.
                if (formulas.Length == 0 && cells.Values.All(c => Normalise(c.Text) is null))
                {
                    continue;
                }

                string? Value(string marker)
                {
                    var column = byMarker[marker];
                    if (!cells.TryGetValue(at[marker], out var cell))
                    {
                        return null;
                    }

                    var (text, problem) = Convert(cell, column);
                    if (problem is { } code)
                    {
                        problems.Add(new ReturnProblem(code, sheetName, excelRow, null, column.Header, column.FieldName, cell.Text));
                    }

                    return text;
                }

                var key = Value("row_key");
                if (key is null || !meta.Rows.TryGetValue(key, out var issued))
                {
                    notImported.Add(new ReturnProblem(ReturnProblemCode.AddedRow, sheetName, excelRow, key, byMarker["row_key"].Header, null, key));
                    continue;
                }

                if (!seen.Add(key))
                {
                    notImported.Add(new ReturnProblem(ReturnProblemCode.DuplicateKey, sheetName, excelRow, key, byMarker["row_key"].Header, null, key));
                    continue;
                }

                foreach (var number in formulas)
                {
                    var header = Normalise(headers.GetValueOrDefault(number).Text) ?? OpenXmlReference(excelRow, number);
                    problems.Add(new ReturnProblem(ReturnProblemCode.Formula, sheetName, excelRow, key, header, null, null));
                }

                var identity = meta.Columns.Where(c => c.Marker.StartsWith("id.", StringComparison.Ordinal))
                    .ToDictionary(c => c.FieldName!, c => Value(c.Marker), StringComparer.Ordinal);
                var values = meta.Columns.Where(c => c.IsField).ToDictionary(c => c.FieldName!, c => Value(c.Marker), StringComparer.Ordinal);
                var actionText = Value("action");
                var action = WorksheetActions.Parse(actionText);
                var explanation = Value("explanation");
                if (actionText is not null && action is null)
                {
                    problems.Add(new ReturnProblem(ReturnProblemCode.UnknownAction, sheetName, excelRow, key, byMarker["action"].Header, null, actionText));
                }

                if (action is { } chosen && chosen.RequiresExplanation() && explanation is null)
                {
                    problems.Add(new ReturnProblem(ReturnProblemCode.ExplanationRequired, sheetName, excelRow, key,
                        byMarker["explanation"].Header, null, actionText));
                }

                rows.Add(new ReturnedRow
                {
                    ExcelRow = excelRow,
                    RowKey = key,
                    Issued = issued,
                    Identity = identity,
                    Values = values,
                    ActionText = actionText,
                    Action = action,
                    Explanation = explanation,
                    Problems = problems.Select(p => p with { RowKey = key }).ToArray(),
                });
            }

            foreach (var issued in meta.Rows.Values.Where(r => !seen.Contains(r.RowKey)).OrderBy(r => r.ExcelRow))
            {
                notImported.Add(new ReturnProblem(ReturnProblemCode.DeletedRow, sheetName, issued.ExcelRow, issued.RowKey, null, null, issued.RowKey));
            }

            return new ReturnedWorkbook
            {
                FileName = fileName,
                Meta = meta,
                ProblemsSheet = sheetName,
                HeaderRow = headerRow,
                ColumnNumbers = at,
                Rows = rows,
                NotImported = notImported,
            };
        }

        /// <summary>A cell's value as the text the registry would hold, or the problem that makes it untrustworthy.</summary>
        private (string? Text, ReturnProblemCode? Problem) Convert(RawCell cell, MetaColumn column)
        {
            var kind = column.FieldName is { } name && Layouts.Student.Fields.FirstOrDefault(f => f.Name == name) is { } field
                ? field.Kind
                : FieldKind.Text;
            switch (cell.Type)
            {
                case CellValues.Boolean:
                    var yes = cell.Text is "1" or "true";
                    return (kind == FieldKind.Flag ? (yes ? "1" : "0") : (yes ? "TRUE" : "FALSE"), null);
                case CellValues.Date:
                    return DateTime.TryParse(cell.Text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                        ? (DayText(DateOnly.FromDateTime(date), kind), null)
                        : (Normalise(cell.Text), null);
                case null or CellValues.Number when cell.Text is { Length: > 0 } raw && !cell.Formula:
                    return Number(raw, kind);
                default:
                    return (Normalise(cell.Text), null);
            }
        }

        private (string? Text, ReturnProblemCode? Problem) Number(string raw, FieldKind kind)
        {
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return (Normalise(raw), null);
            }

            var integral = Math.Abs(number) < 1e28 && number == Math.Floor(number);
            var digits = integral ? ((decimal)number).ToString("0", CultureInfo.InvariantCulture) : null;
            if (kind is FieldKind.Date or FieldKind.YearMonth)
            {
                // A yyyyMMdd (or yyyyMM) typed into a General cell is a number, not a serial.
                var typedLength = kind == FieldKind.Date ? 8 : 6;
                if (digits is { } d && d.Length == typedLength)
                {
                    return (d, null);
                }

                return FromSerial(number, _date1904) is { } day ? (DayText(day, kind), null) : (raw, ReturnProblemCode.InvalidDate);
            }

            if (digits is null)
            {
                return (((decimal)number).ToString(CultureInfo.InvariantCulture), null);
            }

            // Excel keeps 15 significant digits: a longer number (an ID typed without the text format) lost the rest.
            var unsigned = digits.TrimStart('-');
            return unsigned.Length > 15 ? (digits, ReturnProblemCode.LostDigits) : (digits, null);
        }

        private static string DayText(DateOnly day, FieldKind kind) =>
            day.ToString(kind == FieldKind.YearMonth ? "yyyyMM" : "yyyyMMdd", CultureInfo.InvariantCulture);

        /// <summary>Every cell with a value or a formula, by Excel row and column number (a missing r attribute counts on).</summary>
        private SortedDictionary<int, SortedDictionary<int, RawCell>> Grid(WorksheetPart part)
        {
            var grid = new SortedDictionary<int, SortedDictionary<int, RawCell>>();
            var sheetData = part.Worksheet.GetFirstChild<SheetData>();
            if (sheetData is null)
            {
                return grid;
            }

            var rowNumber = 0;
            foreach (var row in sheetData.Elements<Row>())
            {
                rowNumber = row.RowIndex?.Value is { } index ? (int)index : rowNumber + 1;
                var columnNumber = 0;
                foreach (var cell in row.Elements<Cell>())
                {
                    columnNumber = cell.CellReference?.Value is { } reference && CellReference().Match(reference) is { Success: true } match
                        ? ColumnNumber(match.Groups[1].Value)
                        : columnNumber + 1;
                    var raw = Read(cell);
                    if (raw.Text is null && !raw.Formula)
                    {
                        continue;
                    }

                    if (!grid.TryGetValue(rowNumber, out var cells))
                    {
                        cells = [];
                        grid[rowNumber] = cells;
                    }

                    cells[columnNumber] = raw;
                }
            }

            return grid;
        }

        private RawCell Read(Cell cell)
        {
            var type = cell.DataType?.Value;
            var value = cell.CellValue?.Text;
            var text = type switch
            {
                CellValues.SharedString => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < _sharedStrings.Length
                    ? _sharedStrings[i]
                    : null,
                CellValues.InlineString => cell.InlineString is { } inline ? DecodeEscapes(ItemText(inline)) : null,
                CellValues.String => value is null ? null : DecodeEscapes(value),
                _ => value,
            };
            return new RawCell(string.IsNullOrEmpty(text) ? null : text, type, cell.CellFormula is not null);
        }

        /// <summary>The text of a shared or inline string: its t, or its runs' t; never the phonetic (rPh) runs.</summary>
        private static string ItemText(OpenXmlElement item) =>
            item.GetFirstChild<DocumentFormat.OpenXml.Spreadsheet.Text>() is { } text
                ? text.Text
                : string.Concat(item.Elements<Run>().Select(r => r.Text?.Text));

        private static int ColumnNumber(string letters) =>
            letters.ToUpperInvariant().Aggregate(0, (n, c) => (n * 26) + (c - 'A' + 1));

        private static string OpenXmlReference(int row, int column)
        {
            var letters = "";
            for (var c = column; c > 0; c = (c - 1) / 26)
            {
                letters = (char)('A' + ((c - 1) % 26)) + letters;
            }

            return letters + row.ToString(CultureInfo.InvariantCulture);
        }
    }
}
