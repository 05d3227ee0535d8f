namespace StudentDataQuality.Records;

/// <summary>An ordered set of fields that one kind of file carries (the registry export, the school master).</summary>
public sealed class RecordLayout
{
    private readonly Dictionary<string, int> _byHeader = new(StringComparer.Ordinal);

    public RecordLayout(string name, IReadOnlyList<RegistryField> fields)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Fields = fields;
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            foreach (var header in field.ChineseHeaders.Append(field.EnglishHeader).Append(field.Name))
            {
                _byHeader[HeaderKey(header)] = i;
            }
        }
    }

    public string Name { get; }

    public IReadOnlyList<RegistryField> Fields { get; }

    public int IndexOf(string fieldName)
    {
        for (var i = 0; i < Fields.Count; i++)
        {
            if (Fields[i].Name == fieldName)
            {
                return i;
            }
        }

        throw new ArgumentException($"Layout '{Name}' has no field '{fieldName}'.", nameof(fieldName));
    }

    /// <summary>The field index a header names, or -1.</summary>
    public int Match(string header) => _byHeader.GetValueOrDefault(HeaderKey(header), -1);

    /// <summary>
    /// Header comparison ignores case, surrounding spaces, full-width forms, a trailing required marker (* or ★)
    /// and the spaces, underscores and hyphens inside English names.
    /// </summary>
    public static string HeaderKey(string header)
    {
        var key = Text.TextNormalizer.Trim(Text.TextNormalizer.FoldFullWidth(header.TrimStart('\uFEFF')));
        key = key.TrimEnd('*', '★', '☆', ' ');
        return key.Replace(" ", "", StringComparison.Ordinal)
            .Replace("_", "", StringComparison.Ordinal)
            .Replace("-", "", StringComparison.Ordinal)
            .ToLowerInvariant();
    }
}
