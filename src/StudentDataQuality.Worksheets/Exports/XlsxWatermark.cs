using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// The watermark of an .xlsx (docs/exports.md, "Watermarks, in the files"), written into the package as it is, whoever made
/// it: the export's fields as custom document properties (<c>sdq.ExportId</c>, <c>sdq.TakenBy</c>, <c>sdq.TakenAt</c>,
/// <c>sdq.Purpose</c>, <c>sdq.Kind</c>, <c>sdq.Form</c>), one line in the header/footer of every worksheet, and a very hidden
/// sheet (<see cref="SheetName"/>) that holds them too. The workbook's own sheets, cells and signatures are left as they are:
/// the package is rewritten part by part (System.IO.Compression), each worksheet streamed through an XML reader and writer
/// with only its <c>headerFooter</c> added or replaced, so a province's problem list is never held as a document.
/// </summary>
public static class XlsxWatermark
{
    /// <summary>The very hidden sheet that holds the watermark's fields, one label/value row each.</summary>
    public const string SheetName = "_export";

    public const string ExportIdProperty = "sdq.ExportId";
    public const string TakenByProperty = "sdq.TakenBy";
    public const string TakenAtProperty = "sdq.TakenAt";
    public const string PurposeProperty = "sdq.Purpose";
    public const string KindProperty = "sdq.Kind";
    public const string FormProperty = "sdq.Form";

    /// <summary>A practice database's file (<see cref="Watermark.Practice"/>): the property holds <see cref="Watermark.PracticeLabel"/>.</summary>
    public const string PracticeProperty = "sdq.Practice";

    /// <summary>What Excel holds in one header or footer (characters, with its codes): a longer one is refused or cut by Excel.</summary>
    public const int MaxHeaderFooterCharacters = 255;

    private const string CustomNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties";
    private const string VariantNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes";

    /// <summary>The format id every user-defined property carries (ECMA-376 Part 1, 22.3.2.2).</summary>
    private const string UserDefinedFormatId = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}";

    /// <summary>
    /// CT_Worksheet's children that come after <c>headerFooter</c> (ECMA-376 Part 1, 18.3.1.99): the header/footer is written
    /// before the first of them, or last when there is none.
    /// </summary>
    private static readonly HashSet<string> AfterHeaderFooter = new(StringComparer.Ordinal)
    {
        "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
        "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts", "extLst",
    };

    /// <summary>The workbook with the watermark added (an earlier watermark replaced).</summary>
    /// <exception cref="ArgumentException">The bytes are not an .xlsx package.</exception>
    public static byte[] Apply(byte[] xlsx, Watermark watermark, WorksheetLanguage language = WorksheetLanguage.Chinese)
    {
        ArgumentNullException.ThrowIfNull(xlsx);
        ArgumentNullException.ThrowIfNull(watermark);
        try
        {
            using var source = new ZipArchive(new MemoryStream(xlsx, writable: false), ZipArchiveMode.Read);
            using var output = new MemoryStream();
            Apply(XlsxPackage.Open(source), output, watermark, language);
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or XmlException)
        {
            throw new ArgumentException("The file to watermark is not an .xlsx package: " + e.Message, nameof(xlsx), e);
        }
    }

    /// <summary>The watermark an .xlsx carries (from its properties, else its very hidden sheet, else its header/footer), or null.</summary>
    public static Watermark? Read(Stream xlsx) => ReadWithSource(xlsx)?.Watermark;

    /// <summary>The watermark and where it was found ("properties", "hidden sheet", "header"); null when none, or not a package.</summary>
    internal static (Watermark Watermark, string From)? ReadWithSource(Stream xlsx)
    {
        ArgumentNullException.ThrowIfNull(xlsx);
        try
        {
            using var zip = new ZipArchive(xlsx, ZipArchiveMode.Read, leaveOpen: true);
            if (!Bounded(zip))
            {
                // A found file may be built to exhaust its reader (a zip bomb): one beyond these bounds is not read.
                return null;
            }

            var package = XlsxPackage.Open(zip);
            if (FromProperties(package) is { } properties)
            {
                return (properties, "properties");
            }

            if (FromHiddenSheet(package) is { } sheet)
            {
                return (sheet, "hidden sheet");
            }

            return FromHeaders(package) is { } header ? (header, "header") : null;
        }
        catch (Exception e) when (e is InvalidDataException or XmlException or IOException or NotSupportedException
                                      or ArgumentException or UriFormatException or InvalidOperationException)
        {
            // A found file can be anything: one that is no readable package carries no watermark.
            return null;
        }
    }

    /// <summary>At most 10,000 parts, none over 1 GiB unpacked nor packed more than 200 to 1 (a workbook's XML packs 10–50 to 1).</summary>
    private static bool Bounded(ZipArchive zip) =>
        zip.Entries.Count <= 10_000
        && zip.Entries.All(e => e.Length <= 1L << 30 && e.Length <= 200L * Math.Max(e.CompressedLength, 1) + (1 << 20));

    private static void Apply(XlsxPackage package, Stream output, Watermark watermark, WorksheetLanguage language)
    {
        var replaced = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        var added = new List<(string Part, byte[] Bytes)>();

        // The very hidden sheet: the one a watermark made before, else a new one after every other sheet.
        var relationships = package.WorkbookRelationships ?? NewRelationships();
        var exportSheet = package.Sheets.FirstOrDefault(s => s.Name == SheetName && s.IsWorksheet);
        string exportPart;
        if (exportSheet is not null)
        {
            exportPart = exportSheet.Part;
            exportSheet.Element.SetAttributeValue("state", "veryHidden");
        }
        else
        {
            exportPart = FreePart(package, package.WorkbookPart[..(package.WorkbookPart.LastIndexOf('/') + 1)] + "worksheets/sdq_export", ".xml");
            var relationshipId = FreeRelationshipId(relationships, "rIdSdqExport");
            relationships.Root!.Add(new XElement(XName.Get("Relationship", XlsxPackage.PackageRelationshipNamespace),
                new XAttribute("Id", relationshipId), new XAttribute("Type", XlsxPackage.WorksheetRelationship),
                new XAttribute("Target", XlsxPackage.TargetFrom(package.WorkbookPart, exportPart))));
            var sheets = package.Workbook.Root!.Element(XName.Get("sheets", XlsxPackage.MainNamespace))
                ?? throw new InvalidDataException("The workbook has no sheets.");
            var sheetId = XlsxPackage.SheetElements(package.Workbook)
                .Select(s => long.TryParse((string?)s.Attribute("sheetId"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0)
                .DefaultIfEmpty(0).Max() + 1;
            sheets.Add(new XElement(XName.Get("sheet", XlsxPackage.MainNamespace),
                new XAttribute("name", SheetName),
                new XAttribute("sheetId", sheetId.ToString(CultureInfo.InvariantCulture)),
                new XAttribute("state", "veryHidden"),
                new XAttribute(XName.Get("id", XlsxPackage.RelationshipNamespace), relationshipId)));
        }

        replaced[package.WorkbookPart] = Save(package.Workbook);
        (package.WorkbookRelationships is null ? added : null)?.Add((package.WorkbookRelationshipsPart, Save(relationships)));
        if (package.WorkbookRelationships is not null)
        {
            replaced[package.WorkbookRelationshipsPart] = Save(relationships);
        }

        // The custom properties: sdq.* replaced, any other property kept.
        var rootRelationships = package.RootRelationships ?? NewRelationships();
        var customPart = package.CustomPropertiesPart;
        if (customPart is null || package.Entry(customPart) is null)
        {
            if (customPart is null)
            {
                customPart = FreePart(package, "docProps/custom", ".xml");
                rootRelationships.Root!.Add(new XElement(XName.Get("Relationship", XlsxPackage.PackageRelationshipNamespace),
                    new XAttribute("Id", FreeRelationshipId(rootRelationships, "rIdSdqCustom")),
                    new XAttribute("Type", XlsxPackage.CustomPropertiesRelationship),
                    new XAttribute("Target", customPart)));
            }

            added.Add((customPart, Save(CustomProperties(null, watermark))));
        }
        else
        {
            replaced[customPart] = Save(CustomProperties(package.LoadSmall(customPart), watermark));
        }

        (package.RootRelationships is null ? added : null)?.Add((XlsxPackage.RootRelationshipsPart, Save(rootRelationships)));
        if (package.RootRelationships is not null)
        {
            replaced[XlsxPackage.RootRelationshipsPart] = Save(rootRelationships);
        }

        // The content types: the very hidden sheet's and the custom properties' overrides.
        var contentTypes = package.LoadSmall(XlsxPackage.ContentTypesPart) ?? throw new InvalidDataException("The package has no [Content_Types].xml.");
        Override(contentTypes, exportPart, XlsxPackage.WorksheetContentType);
        Override(contentTypes, customPart, XlsxPackage.CustomPropertiesContentType);
        replaced[XlsxPackage.ContentTypesPart] = Save(contentTypes);

        var header = HeaderFooter(watermark, language);
        var exportSheetBytes = ExportSheet(watermark, header);
        if (package.Entry(exportPart) is not null)
        {
            replaced[exportPart] = exportSheetBytes;
        }
        else
        {
            added.Add((exportPart, exportSheetBytes));
        }

        var worksheets = package.Sheets.Where(s => s.IsWorksheet).Select(s => s.Part).ToHashSet(StringComparer.OrdinalIgnoreCase);
        using var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        var written = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in package.Zip.Entries)
        {
            if (!written.Add(entry.FullName))
            {
                continue;
            }

            var copy = target.CreateEntry(entry.FullName, CompressionLevel.Optimal);
            copy.LastWriteTime = entry.LastWriteTime;
            using var to = copy.Open();
            if (replaced.TryGetValue(entry.FullName, out var bytes))
            {
                to.Write(bytes);
            }
            else if (worksheets.Contains(entry.FullName))
            {
                using var from = entry.Open();
                WithHeaderFooter(from, to, header, watermark.Practice);
            }
            else
            {
                using var from = entry.Open();
                from.CopyTo(to);
            }
        }

        foreach (var (part, bytes) in added.Where(a => !written.Contains(a.Part)))
        {
            using var to = target.CreateEntry(part, CompressionLevel.Optimal).Open();
            to.Write(bytes);
        }
    }

    /// <summary>
    /// The header (the export id, right) and footer (the watermark's line, centre) in Excel's header codes: '&amp;' doubled, the
    /// taker's name and the purpose cut so that each stays within <see cref="MaxHeaderFooterCharacters"/>.
    /// </summary>
    internal static (string Header, string Footer) HeaderFooter(Watermark watermark, WorksheetLanguage language)
    {
        static string Codes(string text) => text.Replace("&", "&&", StringComparison.Ordinal);
        // A practice file's label, left in the header (large, bold, red) and the footer: "练习 / Practice".
        var practice = watermark.Practice ? "&L&\"-,Bold\"&16&KC00000" + Codes(Watermark.PracticeLabel) : "";
        var header = practice + "&R" + Codes(ExportId.Format(watermark.ExportId));
        var footerPractice = watermark.Practice ? "&L" + Codes(Watermark.PracticeLabel) : "";
        var purpose = WatermarkText.OneLine(watermark.Purpose).Length;
        var takenBy = Math.Min(WatermarkText.OneLine(watermark.TakenBy).Length, 64);
        string footer;
        while ((footer = footerPractice + "&C" + Codes(WatermarkText.Line(watermark, language, takenBy, purpose))).Length > MaxHeaderFooterCharacters)
        {
            var over = footer.Length - MaxHeaderFooterCharacters;
            if (purpose > 0)
            {
                purpose = Math.Max(0, purpose - Math.Max(1, over / 2));
            }
            else if (takenBy > 0)
            {
                takenBy = Math.Max(0, takenBy - Math.Max(1, over / 2));
            }
            else
            {
                break;
            }
        }

        return (header, footer);
    }

    /// <summary>Copies a worksheet part node by node, with its <c>headerFooter</c> replaced by the watermark's where the schema orders it.</summary>
    /// <remarks>
    /// A practice file's sheets open in page layout view, so that the header's "练习 / Practice" is seen on screen as soon as the
    /// sheet is opened, not only in print.
    /// </remarks>
    private static void WithHeaderFooter(Stream from, Stream to, (string Header, string Footer) headerFooter, bool practice = false)
    {
        using var reader = XmlReader.Create(from, XlsxPackage.ReaderSettings());
        using var writer = XmlWriter.Create(to, XlsxPackage.WriterSettings());
        writer.WriteStartDocument(standalone: true);
        reader.MoveToContent();
        writer.WriteStartElement(reader.Prefix, reader.LocalName, reader.NamespaceURI);
        writer.WriteAttributes(reader, defattr: true);
        var inserted = false;
        if (!reader.IsEmptyElement)
        {
            reader.Read();
            while (!reader.EOF && !(reader.NodeType == XmlNodeType.EndElement && reader.Depth == 0))
            {
                if (reader.NodeType == XmlNodeType.Element && reader.Depth == 1 && reader.NamespaceURI == XlsxPackage.MainNamespace)
                {
                    if (reader.LocalName == "headerFooter")
                    {
                        reader.Skip();
                        continue;
                    }

                    if (practice && reader.LocalName == "sheetViews")
                    {
                        var views = (XElement)XNode.ReadFrom(reader);
                        foreach (var view in views.Elements(XName.Get("sheetView", XlsxPackage.MainNamespace)))
                        {
                            view.SetAttributeValue("view", "pageLayout");
                        }

                        views.WriteTo(writer);
                        continue;
                    }

                    if (!inserted && AfterHeaderFooter.Contains(reader.LocalName))
                    {
                        WriteHeaderFooter(writer, headerFooter);
                        inserted = true;
                    }
                }

                writer.WriteNode(reader, defattr: true);
            }
        }

        if (!inserted)
        {
            WriteHeaderFooter(writer, headerFooter);
        }

        writer.WriteEndElement();
        writer.WriteEndDocument();
    }

    private static void WriteHeaderFooter(XmlWriter writer, (string Header, string Footer) headerFooter)
    {
        writer.WriteStartElement("headerFooter", XlsxPackage.MainNamespace);
        writer.WriteElementString("oddHeader", XlsxPackage.MainNamespace, XmlSafe(headerFooter.Header));
        writer.WriteElementString("oddFooter", XlsxPackage.MainNamespace, XmlSafe(headerFooter.Footer));
        writer.WriteEndElement();
    }

    /// <summary>The very hidden sheet: one row per field, the label in A and the value in B, both inline strings.</summary>
    private static byte[] ExportSheet(Watermark watermark, (string Header, string Footer) headerFooter)
    {
        using var stream = new MemoryStream();
        using (var writer = XmlWriter.Create(stream, XlsxPackage.WriterSettings()))
        {
            writer.WriteStartDocument(standalone: true);
            writer.WriteStartElement("worksheet", XlsxPackage.MainNamespace);
            writer.WriteStartElement("sheetData", XlsxPackage.MainNamespace);
            var row = 0;
            foreach (var (name, value) in Fields(watermark))
            {
                row++;
                var number = row.ToString(CultureInfo.InvariantCulture);
                writer.WriteStartElement("row", XlsxPackage.MainNamespace);
                writer.WriteAttributeString("r", number);
                InlineCell(writer, "A" + number, name);
                InlineCell(writer, "B" + number, value);
                writer.WriteEndElement();
            }

            writer.WriteEndElement();
            WriteHeaderFooter(writer, headerFooter);
            writer.WriteEndElement();
            writer.WriteEndDocument();
        }

        return stream.ToArray();
    }

    private static void InlineCell(XmlWriter writer, string reference, string text)
    {
        writer.WriteStartElement("c", XlsxPackage.MainNamespace);
        writer.WriteAttributeString("r", reference);
        writer.WriteAttributeString("t", "inlineStr");
        writer.WriteStartElement("is", XlsxPackage.MainNamespace);
        writer.WriteStartElement("t", XlsxPackage.MainNamespace);
        writer.WriteAttributeString("xml", "space", null, "preserve");
        writer.WriteString(Xstring(text));
        writer.WriteEndElement();
        writer.WriteEndElement();
        writer.WriteEndElement();
    }

    /// <summary>The fields in the order the sheet and the properties hold them.</summary>
    private static IEnumerable<(string Name, string Value)> Fields(Watermark watermark) =>
    [
        (ExportIdProperty, ExportId.Format(watermark.ExportId)),
        (TakenByProperty, watermark.TakenBy),
        (TakenAtProperty, watermark.TakenAt.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture)),
        (PurposeProperty, watermark.Purpose),
        (KindProperty, ExportKinds.Name(watermark.Kind)),
        (FormProperty, ExportKinds.Name(watermark.Form)),
        .. watermark.Practice ? new[] { (PracticeProperty, Watermark.PracticeLabel) } : [],
    ];

    private static XDocument CustomProperties(XDocument? existing, Watermark watermark)
    {
        var document = existing ?? new XDocument(new XDeclaration("1.0", "UTF-8", "yes"),
            new XElement(XName.Get("Properties", CustomNamespace), new XAttribute(XNamespace.Xmlns + "vt", VariantNamespace)));
        var root = document.Root ?? throw new InvalidDataException("The custom properties part is empty.");
        var property = XName.Get("property", CustomNamespace);
        root.Elements(property).Where(p => ((string?)p.Attribute("name"))?.StartsWith("sdq.", StringComparison.Ordinal) == true).Remove();
        foreach (var (name, value) in Fields(watermark))
        {
            root.Add(new XElement(property,
                new XAttribute("fmtid", UserDefinedFormatId), new XAttribute("pid", "0"), new XAttribute("name", name),
                new XElement(XName.Get("lpwstr", VariantNamespace), XmlSafe(value))));
        }

        // Property ids are unique and start at 2 (0 and 1 are reserved): numbered again in order.
        var pid = 2;
        foreach (var p in root.Elements(property))
        {
            p.SetAttributeValue("pid", (pid++).ToString(CultureInfo.InvariantCulture));
        }

        return document;
    }

    private static void Override(XDocument contentTypes, string part, string contentType)
    {
        var root = contentTypes.Root ?? throw new InvalidDataException("[Content_Types].xml is empty.");
        var name = XName.Get("Override", XlsxPackage.ContentTypesNamespace);
        var partName = "/" + part;
        var existing = root.Elements(name).FirstOrDefault(o => string.Equals((string?)o.Attribute("PartName"), partName, StringComparison.OrdinalIgnoreCase));
        if (existing is not null)
        {
            existing.SetAttributeValue("ContentType", contentType);
            return;
        }

        root.Add(new XElement(name, new XAttribute("PartName", partName), new XAttribute("ContentType", contentType)));
    }

    private static XDocument NewRelationships() =>
        new(new XDeclaration("1.0", "UTF-8", "yes"), new XElement(XName.Get("Relationships", XlsxPackage.PackageRelationshipNamespace)));

    private static string FreeRelationshipId(XDocument relationships, string wanted)
    {
        var taken = relationships.Root!.Elements().Select(r => (string?)r.Attribute("Id")).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var id = wanted;
        for (var n = 2; taken.Contains(id); n++)
        {
            id = wanted + n.ToString(CultureInfo.InvariantCulture);
        }

        return id;
    }

    private static string FreePart(XlsxPackage package, string stem, string extension)
    {
        var part = stem + extension;
        for (var n = 2; package.Entry(part) is not null; n++)
        {
            part = stem + n.ToString(CultureInfo.InvariantCulture) + extension;
        }

        return part;
    }

    private static byte[] Save(XDocument document)
    {
        using var stream = new MemoryStream();
        using (var writer = XmlWriter.Create(stream, XlsxPackage.WriterSettings()))
        {
            document.Save(writer);
        }

        return stream.ToArray();
    }

    /// <summary>The text without the characters XML 1.0 cannot hold (control characters but tab and line ends; lone surrogates).</summary>
    internal static string XmlSafe(string text)
    {
        if (!text.Any(c => !XmlConvert.IsXmlChar(c)))
        {
            return text;
        }

        var safe = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (XmlConvert.IsXmlChar(text[i]))
            {
                safe.Append(text[i]);
            }
            else if (i + 1 < text.Length && XmlConvert.IsXmlSurrogatePair(text[i + 1], text[i]))
            {
                safe.Append(text, i, 2);
                i++;
            }
        }

        return safe.ToString();
    }

    /// <summary>
    /// A cell's text as ECMA-376 ST_Xstring holds it: a character XML cannot hold as _xHHHH_, and a literal "_xHHHH_" with its
    /// underscore escaped (_x005F_), so a reader that decodes the escapes reads the text as it was.
    /// </summary>
    internal static string Xstring(string text)
    {
        var escaped = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '_' && i + 6 < text.Length && text[i + 1] == 'x' && text[i + 6] == '_' && text.AsSpan(i + 2, 4).ContainsOnlyHex())
            {
                escaped.Append("_x005F_");
            }
            else if (i + 1 < text.Length && XmlConvert.IsXmlSurrogatePair(text[i + 1], c))
            {
                escaped.Append(c).Append(text[++i]);
            }
            else if (!XmlConvert.IsXmlChar(c))
            {
                escaped.Append(CultureInfo.InvariantCulture, $"_x{(int)c:X4}_");
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    private static bool ContainsOnlyHex(this ReadOnlySpan<char> span)
    {
        foreach (var c in span)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    // ----- Reading -----

    private static Watermark? FromProperties(XlsxPackage package)
    {
        var part = package.CustomPropertiesPart ?? "docProps/custom.xml";
        if (package.LoadSmall(part)?.Root is not { } root)
        {
            return null;
        }

        var values = root.Elements(XName.Get("property", CustomNamespace))
            .Where(p => ((string?)p.Attribute("name"))?.StartsWith("sdq.", StringComparison.Ordinal) == true)
            .GroupBy(p => (string)p.Attribute("name")!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
        return FromFields(values);
    }

    private static Watermark? FromHiddenSheet(XlsxPackage package)
    {
        var sheet = package.Sheets.FirstOrDefault(s => s.Name == SheetName && s.IsWorksheet);
        if (sheet is null || package.Entry(sheet.Part) is not { } entry)
        {
            return null;
        }

        // Two cells a row: inline strings as written, or shared strings after a spreadsheet program saved the file again.
        var cells = new List<(int Row, string Column, string? Type, string Text)>();
        using (var stream = entry.Open())
        using (var reader = XmlReader.Create(stream, XlsxPackage.ReaderSettings(16 * 1024 * 1024)))
        {
            while (reader.ReadToFollowing("c", XlsxPackage.MainNamespace))
            {
                var reference = reader.GetAttribute("r") ?? "";
                var type = reader.GetAttribute("t");
                var column = new string([.. reference.TakeWhile(char.IsAsciiLetter)]);
                _ = int.TryParse(reference.AsSpan(column.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var row);
                cells.Add((row, column, type, CellText(reader)));
                if (cells.Count > 100)
                {
                    break;
                }
            }
        }

        var shared = SharedStrings(package, cells.Where(c => c.Type == "s")
            .Select(c => int.TryParse(c.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1).Where(i => i >= 0).ToHashSet());
        string Text((int Row, string Column, string? Type, string Text) cell) => cell.Type == "s"
            ? shared.GetValueOrDefault(int.TryParse(cell.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1, "")
            : cell.Text;

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in cells.GroupBy(c => c.Row))
        {
            var label = row.FirstOrDefault(c => c.Column == "A");
            var value = row.FirstOrDefault(c => c.Column == "B");
            if (label.Column is not null && Text(label) is { } name && name.StartsWith("sdq.", StringComparison.Ordinal))
            {
                values.TryAdd(name, value.Column is null ? "" : Text(value));
            }
        }

        return FromFields(values);
    }

    /// <summary>The text of the cell the reader is on (inline string, shared string index, or value), read to the cell's end.</summary>
    private static string CellText(XmlReader reader)
    {
        if (reader.IsEmptyElement)
        {
            return "";
        }

        var text = new StringBuilder();
        var depth = reader.Depth;
        while (reader.Read() && !(reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth))
        {
            if (reader.NodeType == XmlNodeType.Element && reader.NamespaceURI == XlsxPackage.MainNamespace && reader.LocalName is "t" or "v")
            {
                // The phonetic runs (rPh) are not the text.
                text.Append(reader.ReadElementContentAsString());
                if (reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth)
                {
                    break;
                }
            }
            else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "rPh")
            {
                reader.Skip();
                if (reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth)
                {
                    break;
                }
            }
        }

        return ReturnedWorkbookReader.DecodeEscapes(text.ToString());
    }

    /// <summary>The shared strings at these indexes only, streamed (the table of a province's list can be large).</summary>
    private static Dictionary<int, string> SharedStrings(XlsxPackage package, HashSet<int> wanted)
    {
        var found = new Dictionary<int, string>();
        if (wanted.Count == 0 || package.SharedStringsPart is not { } part || package.Entry(part) is not { } entry)
        {
            return found;
        }

        using var stream = entry.Open();
        using var reader = XmlReader.Create(stream, XlsxPackage.ReaderSettings());
        var index = -1;
        var last = wanted.Max();
        while (index < last && reader.ReadToFollowing("si", XlsxPackage.MainNamespace))
        {
            index++;
            if (wanted.Contains(index))
            {
                found[index] = CellText(reader);
            }
        }

        return found;
    }

    private static Watermark? FromHeaders(XlsxPackage package)
    {
        foreach (var sheet in package.Sheets.Where(s => s.IsWorksheet))
        {
            if (package.Entry(sheet.Part) is not { } entry)
            {
                continue;
            }

            using var stream = entry.Open();
            using var reader = XmlReader.Create(stream, XlsxPackage.ReaderSettings());
            if (!reader.ReadToFollowing("worksheet", XlsxPackage.MainNamespace) || reader.IsEmptyElement)
            {
                continue;
            }

            // The worksheet's children, each skipped whole (sheetData too), up to its headerFooter.
            reader.Read();
            while (!reader.EOF && reader.Depth >= 1)
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    reader.Read();
                    continue;
                }

                if (reader.LocalName != "headerFooter" || reader.NamespaceURI != XlsxPackage.MainNamespace)
                {
                    reader.Skip();
                    continue;
                }

                var texts = XElement.Load(reader.ReadSubtree()).Elements().Select(e => FromCodes(e.Value));
                if (texts.Select(WatermarkText.Parse).FirstOrDefault(w => w is not null) is { } watermark)
                {
                    return watermark;
                }

                break;
            }
        }

        return null;
    }

    /// <summary>A header's text without Excel's codes: "&amp;&amp;" is '&amp;'; section and format codes (&amp;L, &amp;C, &amp;P…) are left out.</summary>
    private static string FromCodes(string header)
    {
        var text = new StringBuilder(header.Length);
        for (var i = 0; i < header.Length; i++)
        {
            if (header[i] != '&')
            {
                text.Append(header[i]);
                continue;
            }

            if (i + 1 < header.Length && header[i + 1] == '&')
            {
                text.Append('&');
            }
            else if (i + 1 < header.Length && header[i + 1] == '"')
            {
                // &"font,style": to the closing quote.
                var close = header.IndexOf('"', i + 2);
                i = close < 0 ? header.Length : close;
                continue;
            }
            else
            {
                // &L &C &R start a section: a new line of text for the parser; &K gives a colour (six hex digits).
                if (i + 1 < header.Length && header[i + 1] is 'L' or 'C' or 'R')
                {
                    text.Append('\n');
                }
                else if (i + 1 < header.Length && header[i + 1] == 'K')
                {
                    i += 6;
                }
            }

            i++;
        }

        return text.ToString();
    }

    private static Watermark? FromFields(IReadOnlyDictionary<string, string> values)
    {
        if (ExportId.Normalise(values.GetValueOrDefault(ExportIdProperty)) is not { } id ||
            ExportKinds.ParseKind(values.GetValueOrDefault(KindProperty)) is not { } kind ||
            ExportKinds.ParseForm(values.GetValueOrDefault(FormProperty)) is not { } form ||
            !DateTimeOffset.TryParse(values.GetValueOrDefault(TakenAtProperty), CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
        {
            return null;
        }

        return new Watermark(id, values.GetValueOrDefault(TakenByProperty) ?? "", at, values.GetValueOrDefault(PurposeProperty) ?? "", kind, form)
        {
            Practice = values.ContainsKey(PracticeProperty),
        };
    }
}
