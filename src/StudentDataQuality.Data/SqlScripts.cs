using System.Reflection;

namespace StudentDataQuality.Data;

/// <summary>The SQL of the repository's sql/ folder, embedded in this assembly.</summary>
public static class SqlScripts
{
    private static readonly Assembly Assembly = typeof(SqlScripts).Assembly;

    /// <summary>The text of one script, e.g. "migrations/0001_foundation.sql".</summary>
    public static string Load(string path)
    {
        var name = "sql/" + path;
        using var stream = Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The SQL script '{name}' is not embedded in {Assembly.GetName().Name}; is it under sql/ in the repository?");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The names (relative to sql/) of every embedded script under a folder, in ordinal order.</summary>
    public static IReadOnlyList<string> List(string folder) =>
        Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith($"sql/{folder}/", StringComparison.Ordinal))
            .Select(n => n["sql/".Length..])
            .Order(StringComparer.Ordinal)
            .ToArray();
}
