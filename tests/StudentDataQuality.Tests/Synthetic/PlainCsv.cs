using System.Text;

namespace StudentDataQuality.Tests.Synthetic;

/// <summary>A deliberately plain RFC 4180 reader, independent of the generator's writer.</summary>
internal static class PlainCsv
{
    public static List<string[]> Read(string path, Encoding? encoding = null) => Parse(File.ReadAllText(path, encoding ?? Encoding.UTF8));

    public static List<string[]> Parse(string text)
    {
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            text = text[1..];
        }

        var rows = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                rows.Add([.. fields]);
                fields.Clear();
                i++;
            }
            else
            {
                Assert.False(c == '\n' || c == '\r', $"Bare line break outside quotes at character {i}.");
                field.Append(c);
            }
        }

        Assert.True(field.Length == 0 && fields.Count == 0, "The file must end with CRLF.");
        return rows;
    }
}
