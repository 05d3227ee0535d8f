using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using StudentDataQuality.Records;
using StudentDataQuality.Text;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Reads a worksheet a school sends back (docs/worksheets.md, "Taking a return back"), without a database: refuses
/// the whole file for what makes it unreadable or untrustworthy, and otherwise returns every row with what was wrong
/// with it. Uses the Open XML SDK directly rather than ClosedXML, because the reader must see what the file says: the
/// formulas behind cached values, the cell types, the date system and the sheets' states.
/// <para>
/// Bounded in memory (docs/security.md, "Uploads bounded in memory"): the package is measured before it is opened, and the
/// parts it is read from (the workbook, the shared strings, <c>_meta</c> and the problems sheet) are streamed with the
/// SDK's <see cref="OpenXmlReader"/>, each stopped at <see cref="ReturnLimits.MaxCharactersInPart"/>; what is kept is one row
/// at a time, the shared strings, and the rows the result holds (at most <see cref="ReturnLimits.MaxRows"/> of each kind).
/// </para>
/// </summary>
public static partial class ReturnedWorkbookReader
{
    private const string WorkbookContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml";

    private const string RelationshipsNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    /// <summary>How far down a registrar may have pushed the header row by inserting rows above it.</summary>
    private const int HeaderSearchRows = 20;

    /// <summary>Excel's last column (XFD); a cell beyond it is no spreadsheet's and is not read.</summary>
    private const int MaxColumns = 16_384;

    /// <summary>A worksheet's <c>_meta</c> has a dozen meta records and a column record per column (a few dozen).</summary>
    private const int MaxMetaRecords = 1_000;

    private static readonly byte[] OleSignature = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

    /// <summary>Reads the returned file. Throws <see cref="WorksheetRejectedException"/> when the file is refused whole.</summary>
    public static ReturnedWorkbook Read(Stream file, string fileName, ReturnLimits limits) => Read(file, fileName, limits, accept: null);

    /// <summary>
    /// Reads the returned file; <paramref name="accept"/> is given its <c>_meta</c> as soon as that is read, before any row of
    /// the problems sheet, and refuses the file by throwing a <see cref="WorksheetRejectedException"/> (another school's
    /// worksheet is refused before its rows are read).
    /// </summary>
    public static ReturnedWorkbook Read(Stream file, string fileName, ReturnLimits limits, Action<ReturnedWorkbookMeta>? accept)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(limits);
        using var bytes = ReadBounded(file, fileName, limits);
        var sizes = CheckPackage(bytes, fileName, limits);
        bytes.Position = 0;
        SpreadsheetDocument document;
        try
        {
            document = SpreadsheetDocument.Open(bytes, false, new OpenSettings { MaxCharactersInPart = limits.MaxCharactersInPart });
        }
        catch (Exception e) when (e is OpenXmlPackageException or InvalidDataException or IOException or XmlException
                                      or InvalidOperationException or ArgumentException)
        {
            throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, e.Message, e);
        }

        using (document)
        {
            var reading = new Reading(document, fileName, limits);
            try
            {
                return reading.Run(accept);
            }
            catch (XmlException e) when (reading.CurrentPart is { } part && sizes.GetValueOrDefault(part) > limits.MaxCharactersInPart)
            {
                // The part's reader stopped at MaxCharactersInPart (a part has at least as many bytes as characters).
                throw WorksheetRejectedException.ExplainedBy(e, WorksheetRejection.ZipBomb, fileName, "PartCharacters", part,
                    limits.MaxCharactersInPart.ToString("N0", CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is OpenXmlPackageException or XmlException or InvalidDataException)
            {
                throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, e.Message, e);
            }
        }
    }

    /// <summary>The upload in memory, refusing it as soon as it passes the limit.</summary>
    internal static MemoryStream ReadBounded(Stream file, string fileName, ReturnLimits limits)
    {
        if (file.CanSeek && file.Length - file.Position > limits.MaxBytes)
        {
            throw limits.TooLarge(fileName);
        }

        var memory = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
        {
            memory.Write(buffer, 0, read);
            if (memory.Length > limits.MaxBytes)
            {
                throw limits.TooLarge(fileName);
            }
        }

        return memory;
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.##} MB");

    /// <summary>
    /// Signature, zip structure, sizes and macros, with System.IO.Compression alone: nothing here trusts the sizes the
    /// zip declares, every entry is unpacked into a counter that stops at the limit. Returns each entry's unpacked size.
    /// </summary>
    internal static Dictionary<string, long> CheckPackage(MemoryStream bytes, string fileName, ReturnLimits limits)
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
                throw WorksheetRejectedException.Explained(WorksheetRejection.ZipBomb, fileName, null, null, "Entries", zip.Entries.Count);
            }

            var declared = zip.Entries.Sum(e => Math.Max(0, e.Length));
            if (declared > limits.MaxUncompressedBytes)
            {
                throw Bomb(declared);
            }

            long total = 0;
            var buffer = new byte[81920];
            string? contentTypes = null;
            var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
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
                // System.IO.Packaging reads these whole when the package is opened, before any limit of the SDK applies.
                var packagePart = isContentTypes || name.EndsWith(".rels", StringComparison.OrdinalIgnoreCase);
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
                            throw WorksheetRejectedException.Explained(WorksheetRejection.ZipBomb, fileName, null, null, "Ratio", name, limits.MaxCompressionRatio);
                        }

                        if (packagePart && size > limits.MaxPackagePartBytes)
                        {
                            throw new WorksheetRejectedException(WorksheetRejection.ZipBomb, fileName, detail: string.Create(
                                CultureInfo.InvariantCulture, $"{name}: {Megabytes(size)} > {Megabytes(limits.MaxPackagePartBytes)}"));
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

                // A zip may name an entry twice; the larger size stands for the name.
                sizes[name] = Math.Max(size, sizes.GetValueOrDefault(name));
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

            return sizes;
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
    /// <summary>A cell as read: its text before normalisation, how it was stored, and whether it holds a formula.</summary>
    private readonly record struct RawCell(string? Text, CellValues? Type, bool Formula);

    /// <summary>A sheet as the workbook lists it: its name and the id of its part.</summary>
    private sealed record SheetEntry(string? Name, string? Id);

    /// <summary>One row with a value or a formula: its Excel number and its cells by column number.</summary>
    private sealed record SheetRow(int ExcelRow, SortedDictionary<int, RawCell> Cells);

    /// <summary>One reading of one package.</summary>
    private sealed class Reading(SpreadsheetDocument document, string fileName, ReturnLimits limits)
    {
        private readonly WorkbookPart _workbook = document.WorkbookPart
            ?? throw new WorksheetRejectedException(WorksheetRejection.NotXlsx, fileName, detail: "no workbook part");

        private List<string> _sharedStrings = [];
        private bool _date1904;

        /// <summary>The part being read (as its zip entry is named), so that a part stopped at its limit can be named.</summary>
        public string? CurrentPart { get; private set; }

        public ReturnedWorkbook Run(Action<ReturnedWorkbookMeta>? accept)
        {
            var sheets = ReadWorkbook();
            _sharedStrings = ReadSharedStrings();

            // Visible, hidden (LibreOffice re-saves very hidden as hidden) and very hidden are all accepted: the locks
            // and states are conveniences, the signatures are what the ingest trusts.
            var metaSheet = sheets.FirstOrDefault(s => string.Equals(s.Name, WorksheetMeta.SheetName, StringComparison.Ordinal))
                ?? throw new WorksheetRejectedException(WorksheetRejection.NoMeta, fileName, sheet: WorksheetMeta.SheetName);
            var meta = ReadMeta(Rows(PartOf(metaSheet) ?? throw BadMeta(null, "NotAWorksheet")));
            accept?.Invoke(meta);
            var (sheetName, part) = FindProblemsSheet(sheets, meta);
            return ReadProblems(meta, sheetName, part);
        }

        /// <summary>The date system and the sheets, streamed: a workbook part is a few kilobytes, but it is the file's word.</summary>
        private List<SheetEntry> ReadWorkbook()
        {
            var sheets = new List<SheetEntry>();
            using var reader = Open(_workbook);
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
                    if (sheets.Count == limits.MaxEntries)
                    {
                        throw WorksheetRejectedException.Explained(WorksheetRejection.ZipBomb, fileName, null, null, "Sheets", limits.MaxEntries);
                    }

                    sheets.Add(new SheetEntry(Attribute(reader, "name"), Attribute(reader, "id", RelationshipsNamespace)));
                }
            }

            return sheets;
        }

        /// <summary>The shared strings, streamed item by item; each is kept (cells refer to them by number), nothing else is.</summary>
        private List<string> ReadSharedStrings()
        {
            var strings = new List<string>();
            if (_workbook.SharedStringTablePart is not { } part)
            {
                return strings;
            }

            using var reader = Open(part);
            while (reader.Read())
            {
                if (reader.IsStartElement && reader.ElementType == typeof(SharedStringItem))
                {
                    strings.Add(DecodeEscapes(ItemText(reader, typeof(SharedStringItem))));
                }
            }

            return strings;
        }

        private OpenXmlReader Open(OpenXmlPart part)
        {
            CurrentPart = part.Uri.OriginalString.TrimStart('/');
            // The package was opened with OpenSettings.MaxCharactersInPart: the part's XML reader stops there.
            return OpenXmlReader.Create(part);
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

        private WorksheetPart? PartOf(SheetEntry sheet) =>
            sheet.Id is { } id && _workbook.TryGetPartById(id, out var part) ? part as WorksheetPart : null;

        private WorksheetRejectedException BadMeta(int? excelRow, string detailKey, params object?[] detailArgs) =>
            WorksheetRejectedException.Explained(WorksheetRejection.BadMeta, fileName, WorksheetMeta.SheetName, excelRow, detailKey, detailArgs);

        private ReturnedWorkbookMeta ReadMeta(IEnumerable<SheetRow> sheetRows)
        {
            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            var columns = new List<MetaColumn>();
            var rows = new Dictionary<string, MetaRow>(StringComparer.Ordinal);
            foreach (var (excelRow, cells) in sheetRows)
            {
                if (cells.Values.Any(c => c.Formula))
                {
                    throw BadMeta(excelRow, "Formula");
                }

                string Part(int column) => cells.TryGetValue(column, out var cell) ? cell.Text ?? "" : "";
                var a = Part(2);
                var b = Part(3);
                switch (Part(1))
                {
                    case "":
                        break;
                    case WorksheetMeta.MetaRecord:
                        if (properties.Count == MaxMetaRecords)
                        {
                            throw BadMeta(excelRow, "TooManyMetaRecords", MaxMetaRecords);
                        }

                        if (a.Length == 0 || !properties.TryAdd(a, b))
                        {
                            throw BadMeta(excelRow, "MetaRecord");
                        }

                        break;
                    case WorksheetMeta.ColumnRecord:
                        if (columns.Count == MaxMetaRecords)
                        {
                            throw BadMeta(excelRow, "TooManyColumnRecords", MaxMetaRecords);
                        }

                        if (!int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || b.Length == 0 ||
                            Part(4).Length == 0 || columns.Any(c => c.Marker == b || c.Number == number))
                        {
                            throw BadMeta(excelRow, "ColumnRecord");
                        }

                        columns.Add(new MetaColumn(number, b, Part(4)));
                        break;
                    case WorksheetMeta.RowRecord:
                        if (rows.Count == limits.MaxRows)
                        {
                            throw BadMeta(excelRow, "TooManyRowRecords", limits.MaxRows);
                        }

                        var signature = Part(4);
                        if (!int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var issuedRow) || b.Length == 0 ||
                            signature.Length != 64 || !signature.All(char.IsAsciiHexDigit) ||
                            !rows.TryAdd(b, new MetaRow(issuedRow, b, signature)))
                        {
                            throw BadMeta(excelRow, "RowRecord");
                        }

                        break;
                    default:
                        throw BadMeta(excelRow, "UnknownRecord", Part(1));
                }
            }

            if (properties.GetValueOrDefault(WorksheetMeta.Properties.Format) != WorksheetMeta.Format)
            {
                throw BadMeta(null, "Format", WorksheetMeta.Format);
            }

            string Required(string name) =>
                properties.TryGetValue(name, out var value) && value.Length > 0 ? value : throw BadMeta(null, "Missing", name);

            int Number(string name) =>
                int.TryParse(Required(name), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw BadMeta(null, "Invalid", name);

            foreach (var marker in new[] { "row_key", "action", "explanation" })
            {
                if (!columns.Any(c => c.Marker == marker))
                {
                    throw BadMeta(null, "MissingColumn", marker);
                }
            }

            return new ReturnedWorkbookMeta
            {
                WorksheetId = Guid.TryParse(Required(WorksheetMeta.Properties.WorksheetId), out var id) ? id
                    : throw BadMeta(null, "Invalid", WorksheetMeta.Properties.WorksheetId),
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
        private (string Name, WorksheetPart Part) FindProblemsSheet(IReadOnlyList<SheetEntry> sheets, ReturnedWorkbookMeta meta)
        {
            var named = sheets.FirstOrDefault(s => s.Name == meta.ProblemsSheet);
            var candidates = named is not null ? [named] : sheets.Where(s => s.Name != WorksheetMeta.SheetName);
            foreach (var sheet in candidates)
            {
                if (PartOf(sheet) is { } part && (named is not null || Header(Rows(part), meta) is not null))
                {
                    return (sheet.Name!, part);
                }
            }

            throw new WorksheetRejectedException(WorksheetRejection.NoProblemsSheet, fileName, meta.ProblemsSheet);
        }

        /// <summary>The first row, within the first <see cref="HeaderSearchRows"/>, that carries the row-key and action headers.</summary>
        private static SheetRow? Header(IEnumerable<SheetRow> sheetRows, ReturnedWorkbookMeta meta)
        {
            var keyHeader = meta.Columns.Single(c => c.Marker == "row_key").Header;
            var actionHeader = meta.Columns.Single(c => c.Marker == "action").Header;
            foreach (var row in sheetRows)
            {
                if (row.ExcelRow > HeaderSearchRows)
                {
                    break;
                }

                var texts = row.Cells.Values.Select(c => Normalise(c.Text)).ToArray();
                if (texts.Contains(keyHeader) && texts.Contains(actionHeader))
                {
                    return row;
                }
            }

            return null;
        }

        /// <summary>The problems sheet, read twice as a stream: for its header row (at the top), then row by row below it.</summary>
        private ReturnedWorkbook ReadProblems(ReturnedWorkbookMeta meta, string sheetName, WorksheetPart part)
        {
            var (headerRow, headers) = Header(Rows(part), meta) ?? throw new WorksheetRejectedException(
                WorksheetRejection.MissingColumn, fileName, sheetName, WorksheetLayout.HeaderRow,
                meta.Columns.Single(c => c.Marker == "row_key").Header);

            // Each recorded column by its header text, wherever it now is; the read-only problem summary is not needed.
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
            void NotImported(ReturnProblem problem)
            {
                // Rows that were never issued are reported one by one; more than a worksheet can hold are no return.
                if (notImported.Count == limits.MaxRows)
                {
                    throw WorksheetRejectedException.Explained(WorksheetRejection.TooManyRows, fileName, sheetName, null, "RowsMoreThan", limits.MaxRows);
                }

                notImported.Add(problem);
            }

            foreach (var (excelRow, cells) in Rows(part))
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
                    NotImported(new ReturnProblem(ReturnProblemCode.AddedRow, sheetName, excelRow, key, byMarker["row_key"].Header, null, key));
                    continue;
                }

                if (!seen.Add(key))
                {
                    NotImported(new ReturnProblem(ReturnProblemCode.DuplicateKey, sheetName, excelRow, key, byMarker["row_key"].Header, null, key));
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

        /// <summary>
        /// The rows with a value or a formula, streamed one at a time in file order (a missing r attribute counts on, for rows
        /// and cells alike); each row's cells by column number. Nothing of a row is kept once the next is read.
        /// </summary>
        private IEnumerable<SheetRow> Rows(WorksheetPart part)
        {
            using var reader = Open(part);
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
                    yield return new SheetRow(rowNumber, cells);
                }
            }
        }

        /// <summary>The cells of the row the reader is at, read to the row's end: those with a value or a formula.</summary>
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
                    ? ColumnNumber(match.Groups[1].Value)
                    : columnNumber + 1;
                var raw = ReadCell(reader);
                if ((raw.Text is not null || raw.Formula) && columnNumber <= MaxColumns)
                {
                    cells[columnNumber] = raw;
                }
            }

            return cells;
        }

        /// <summary>The cell the reader is at, read to its end: its type, its value or inline string, whether it has a formula.</summary>
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
            string? value = null, inline = null;
            var formula = false;
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
                    formula = true;
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
                CellValues.InlineString => inline is null ? null : DecodeEscapes(inline),
                CellValues.String => value is null ? null : DecodeEscapes(value),
                _ => value,
            };
            return new RawCell(string.IsNullOrEmpty(text) ? null : text, type, formula);
        }

        /// <summary>
        /// The text of a shared or inline string the reader is at, read to its end: its t, or its runs' t; never the phonetic
        /// (rPh) runs.
        /// </summary>
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
