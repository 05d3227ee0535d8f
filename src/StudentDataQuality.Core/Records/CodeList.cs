namespace StudentDataQuality.Records;

/// <summary>One entry of a code list: the code, its Chinese and English names.</summary>
public sealed record CodeEntry(string Code, string NameZh, string NameEn);

/// <summary>
/// A code list of docs/record.md. A value matches when it is a code, or one of the entry's names or aliases
/// (the words a registrar types: 男, 女, 是, 否…), compared after trimming and folding full-width characters.
/// </summary>
public sealed class CodeList
{
    private readonly Dictionary<string, string> _lookup = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _exact = new(StringComparer.Ordinal);

    public CodeList(string name, IReadOnlyList<CodeEntry> entries, IReadOnlyDictionary<string, string>? aliases = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Entries = entries;
        foreach (var entry in entries)
        {
            _lookup[entry.Code] = entry.Code;
            _lookup.TryAdd(entry.NameZh, entry.Code);
            _lookup.TryAdd(entry.NameEn, entry.Code);
        }

        foreach (var (alias, code) in aliases ?? new Dictionary<string, string>())
        {
            _lookup[alias] = code;
        }

        foreach (var entry in entries)
        {
            _exact[entry.Code] = entry.Code;
        }
    }

    public string Name { get; }

    public IReadOnlyList<CodeEntry> Entries { get; }

    /// <summary>The code for a value, or null when the value is not in the list.</summary>
    public string? Match(string value)
    {
        // Nearly every value is a code exactly as listed: answer that without trimming or folding.
        if (_exact.TryGetValue(value, out var code))
        {
            return code;
        }

        var key = Text.TextNormalizer.Trim(Text.TextNormalizer.FoldFullWidth(value));
        return _lookup.GetValueOrDefault(key);
    }

    public bool Contains(string code) => Entries.Any(e => e.Code == code);
}
