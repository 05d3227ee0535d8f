using System.IO.Compression;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace StudentDataQuality.Worksheets.Exports;

/// <summary>
/// The few facts of an .xlsx package (ECMA-376 Part 2, Open Packaging Conventions) the watermark needs, read from the zip
/// one small part at a time: where the workbook is, its sheets and their parts, the custom properties part. Nothing here
/// loads a worksheet: those are streamed by their readers and writers.
/// </summary>
internal sealed class XlsxPackage
{
    public const string MainNamespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    public const string RelationshipNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    public const string PackageRelationshipNamespace = "http://schemas.openxmlformats.org/package/2006/relationships";
    public const string ContentTypesNamespace = "http://schemas.openxmlformats.org/package/2006/content-types";
    public const string OfficeDocumentRelationship = RelationshipNamespace + "/officeDocument";
    public const string CustomPropertiesRelationship = RelationshipNamespace + "/custom-properties";
    public const string WorksheetRelationship = RelationshipNamespace + "/worksheet";
    public const string SharedStringsRelationship = RelationshipNamespace + "/sharedStrings";
    public const string WorksheetContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml";
    public const string CustomPropertiesContentType = "application/vnd.openxmlformats-officedocument.custom-properties+xml";
    public const string ContentTypesPart = "[Content_Types].xml";
    public const string RootRelationshipsPart = "_rels/.rels";

    /// <summary>A small part (content types, relationships, the workbook, custom properties) is read whole; a bigger one is no package's.</summary>
    private const long MaxSmallPartCharacters = 8 * 1024 * 1024;

    private readonly Dictionary<string, ZipArchiveEntry> _entries;

    private XlsxPackage(ZipArchive zip)
    {
        Zip = zip;
        _entries = new Dictionary<string, ZipArchiveEntry>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in zip.Entries)
        {
            // A zip may name an entry twice; the first stands (what System.IO.Packaging would refuse, a reader skips).
            _entries.TryAdd(entry.FullName, entry);
        }

        RootRelationships = LoadSmall(RootRelationshipsPart);
        WorkbookPart = Targets(RootRelationships, RootRelationshipsPart, OfficeDocumentRelationship).FirstOrDefault()
            ?? throw new InvalidDataException("The package names no workbook.");
        WorkbookRelationshipsPart = RelationshipsPartOf(WorkbookPart);
        Workbook = LoadSmall(WorkbookPart) ?? throw new InvalidDataException($"The package has no {WorkbookPart}.");
        WorkbookRelationships = LoadSmall(WorkbookRelationshipsPart);
        CustomPropertiesPart = Targets(RootRelationships, RootRelationshipsPart, CustomPropertiesRelationship).FirstOrDefault();

        var sheets = new List<SheetInfo>();
        var targets = WorkbookRelationships?.Root?.Elements(XName.Get("Relationship", PackageRelationshipNamespace))
            .Where(r => (string?)r.Attribute("TargetMode") != "External")
            .GroupBy(r => (string?)r.Attribute("Id") ?? "", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal) ?? [];
        foreach (var sheet in SheetElements(Workbook))
        {
            var id = (string?)sheet.Attribute(XName.Get("id", RelationshipNamespace));
            if (id is null || !targets.TryGetValue(id, out var relationship))
            {
                continue;
            }

            var type = (string?)relationship.Attribute("Type");
            var part = Resolve(WorkbookPart, (string?)relationship.Attribute("Target") ?? "");
            sheets.Add(new SheetInfo((string?)sheet.Attribute("name") ?? "", id, part, type == WorksheetRelationship, sheet));
        }

        Sheets = sheets;
        SharedStringsPart = WorkbookRelationships?.Root?.Elements(XName.Get("Relationship", PackageRelationshipNamespace))
            .Where(r => (string?)r.Attribute("Type") == SharedStringsRelationship)
            .Select(r => Resolve(WorkbookPart, (string?)r.Attribute("Target") ?? ""))
            .FirstOrDefault();
    }

    public ZipArchive Zip { get; }

    public XDocument? RootRelationships { get; }

    public string WorkbookPart { get; }

    public string WorkbookRelationshipsPart { get; }

    public XDocument Workbook { get; }

    public XDocument? WorkbookRelationships { get; }

    public string? CustomPropertiesPart { get; }

    public string? SharedStringsPart { get; }

    /// <summary>The workbook's sheets in its order, with their parts (worksheets and chart sheets alike).</summary>
    public IReadOnlyList<SheetInfo> Sheets { get; }

    public static XlsxPackage Open(ZipArchive zip) => new(zip);

    public ZipArchiveEntry? Entry(string part) => _entries.GetValueOrDefault(part);

    /// <summary>A small part as a document (whitespace kept), or null when the package has no such part.</summary>
    public XDocument? LoadSmall(string part)
    {
        if (Entry(part) is not { } entry)
        {
            return null;
        }

        using var stream = entry.Open();
        using var reader = XmlReader.Create(stream, ReaderSettings(MaxSmallPartCharacters));
        return XDocument.Load(reader, LoadOptions.PreserveWhitespace);
    }

    /// <summary>Settings for reading any part of a file that may come from anywhere: no DTD, no external entity.</summary>
    public static XmlReaderSettings ReaderSettings(long maxCharacters = 0) => new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = maxCharacters,
        CloseInput = false,
    };

    /// <summary>Settings for writing a part: UTF-8 without a byte order mark, line ends kept as they were read.</summary>
    public static XmlWriterSettings WriterSettings() => new()
    {
        Encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        NewLineHandling = NewLineHandling.Entitize,
        CloseOutput = false,
    };

    public static IEnumerable<XElement> SheetElements(XDocument workbook) =>
        workbook.Root?.Element(XName.Get("sheets", MainNamespace))?.Elements(XName.Get("sheet", MainNamespace)) ?? [];

    /// <summary>The parts a relationships part points at with that type (internal targets only).</summary>
    public static IEnumerable<string> Targets(XDocument? relationships, string relationshipsPart, string type) =>
        relationships?.Root?.Elements(XName.Get("Relationship", PackageRelationshipNamespace))
            .Where(r => (string?)r.Attribute("Type") == type && (string?)r.Attribute("TargetMode") != "External")
            .Select(r => Resolve(SourceOf(relationshipsPart), (string?)r.Attribute("Target") ?? "")) ?? [];

    /// <summary>"xl/workbook.xml" → "xl/_rels/workbook.xml.rels".</summary>
    public static string RelationshipsPartOf(string part)
    {
        var slash = part.LastIndexOf('/');
        return slash < 0 ? "_rels/" + part + ".rels" : part[..(slash + 1)] + "_rels/" + part[(slash + 1)..] + ".rels";
    }

    /// <summary>The part a relationships part belongs to ("_rels/.rels" belongs to the package: "").</summary>
    private static string SourceOf(string relationshipsPart)
    {
        var folder = relationshipsPart[..relationshipsPart.LastIndexOf("_rels/", StringComparison.Ordinal)];
        var name = relationshipsPart[(relationshipsPart.LastIndexOf('/') + 1)..^".rels".Length];
        return folder + name;
    }

    /// <summary>A relationship's target as a zip entry name: relative to the source part's folder, or absolute from the root.</summary>
    public static string Resolve(string sourcePart, string target)
    {
        target = Uri.UnescapeDataString(target.Replace('\\', '/'));
        var path = target.StartsWith('/') ? target[1..] : sourcePart[..(sourcePart.LastIndexOf('/') + 1)] + target;
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }

                continue;
            }

            segments.Add(segment);
        }

        return string.Join('/', segments);
    }

    /// <summary>"xl/worksheets/sheet1.xml" as a target from "xl/workbook.xml": "worksheets/sheet1.xml" (or "/…" when not below it).</summary>
    public static string TargetFrom(string sourcePart, string part)
    {
        var folder = sourcePart[..(sourcePart.LastIndexOf('/') + 1)];
        return part.StartsWith(folder, StringComparison.Ordinal) ? part[folder.Length..] : "/" + part;
    }
}

/// <summary>One sheet of the workbook: its name, relationship id, part, whether it is a worksheet, and its element in workbook.xml.</summary>
internal sealed record SheetInfo(string Name, string RelationshipId, string Part, bool IsWorksheet, XElement Element);
