using System.Text;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Data.Quality;

/// <summary>
/// The parts of a row rule: a rule that judges each record by its own values alone, written in the catalogue's
/// plainest form (sql/rules/README.md):
/// <code>
/// SELECT c.record_id, &lt;school_code&gt;, &lt;field&gt;, &lt;value&gt;, &lt;detail&gt;, &lt;severity&gt;
/// FROM   checked_record c
/// WHERE  c.round_id = @round_id
///   AND  &lt;condition&gt;
/// </code>
/// The runner reads the round once for all the row rules of a phase (<see cref="RowRules.Compose"/>) instead of once
/// per rule: a scan of the round costs more than most rules' conditions.
/// </summary>
/// <param name="Columns">The school code, field, value, detail and severity expressions, as written.</param>
/// <param name="Condition">What a failing record meets, as written (after the round's condition).</param>
public sealed record RowForm(IReadOnlyList<string> Columns, string Condition);

/// <summary>Recognises row rules and composes a phase's row rules into one query.</summary>
public static partial class RowRules
{
    /// <summary>
    /// The parts of <paramref name="sql"/> when it is a row rule; null otherwise (a rule with a join, a grouping, a
    /// WITH or more than one finding per record runs as its own query).
    /// </summary>
    public static RowForm? TryParse(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var text = sql.Trim().TrimEnd(';');
        // What the scanner below does not follow (block comments, dollar quoting) makes a rule run alone, as any rule can.
        if (!text.StartsWith("SELECT", StringComparison.OrdinalIgnoreCase) || text.Contains("/*", StringComparison.Ordinal) || DollarQuote().IsMatch(text))
        {
            return null;
        }

        var top = TopLevel(text);
        var clauses = top.Keywords.Where(k => k.Word != "OR").ToList();
        var from = clauses.FindIndex(k => k.Word == "FROM");
        var where = clauses.FindIndex(k => k.Word == "WHERE");
        // One FROM and one WHERE at the top level and nothing after them that changes which rows come out.
        if (from < 0 || where != from + 1 || clauses.Count != 3 || clauses[0] is not { Word: "SELECT", Position: 0 })
        {
            return null;
        }

        var fromAt = clauses[from].Position;
        var whereAt = clauses[where].Position;
        // "round AND a OR b" is "(round AND a) OR b": the condition after the round's would not be the rule's.
        if (top.Keywords.Any(k => k.Word == "OR" && k.Position > whereAt))
        {
            return null;
        }

        if (Squeeze(text[(fromAt + 4)..whereAt]) != "checked_record c")
        {
            return null;
        }

        var items = Split(text, 6, fromAt, top.Commas);
        if (items.Count != 6 || Squeeze(items[0]) != "c.record_id")
        {
            return null;
        }

        var round = RoundCondition().Match(text, whereAt + 5);
        if (!round.Success || round.Index != whereAt + 5)
        {
            return null;
        }

        var columns = items.Skip(1).Select(item => Alias().Replace(item.Trim(), "")).ToArray();
        return new RowForm(columns, text[(round.Index + round.Length)..].Trim());
    }

    /// <summary>
    /// One query for the row rules <paramref name="rules"/> (each with its <see cref="Rule.Row"/>): the records that fail
    /// any of them, each with one column per rule, NULL where the record passes that rule, otherwise an array of its
    /// school code, field, value, detail and severity. The conditions keep their own text (each in its own parentheses
    /// and lines, so that a comment in one cannot reach the next); every failing record of every rule comes out, as
    /// the rules' own queries would give them.
    /// </summary>
    public static string Compose(IReadOnlyList<Rule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var sql = new StringBuilder("SELECT c.record_id");
        foreach (var rule in rules)
        {
            var row = rule.Row ?? throw new ArgumentException($"Rule {rule.Id} is not a row rule.", nameof(rules));
            sql.Append($",\n       CASE WHEN (\n{row.Condition}\n) THEN ARRAY[{string.Join(", ", row.Columns.Select(c => $"({c})::text"))}] END AS {rule.Id.ToLowerInvariant()}");
        }

        sql.Append("\nFROM   checked_record c\nWHERE  c.round_id = @round_id\n  AND  (");
        sql.Append(string.Join("\n       OR ", rules.Select(rule => $"(\n{rule.Row!.Condition}\n)")));
        sql.Append(')');
        return sql.ToString();
    }

    private sealed record Keyword(string Word, int Position);

    private sealed record Structure(List<Keyword> Keywords, List<int> Commas);

    /// <summary>
    /// The keywords (SELECT, FROM, WHERE, OR and any other clause word) and commas outside parentheses, CASE expressions,
    /// strings and comments.
    /// </summary>
    private static Structure TopLevel(string text)
    {
        var keywords = new List<Keyword>();
        var commas = new List<int>();
        var depth = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (ch == '\'')
            {
                // A string literal: '' inside it is a quote, and in an E'…' string a backslash escapes the next character.
                var escapes = i > 0 && text[i - 1] is 'E' or 'e' && (i == 1 || !IsWordChar(text[i - 2]));
                for (i++; i < text.Length; i++)
                {
                    if (escapes && text[i] == '\\')
                    {
                        i++;
                    }
                    else if (text[i] == '\'')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '\'')
                        {
                            i++;
                        }
                        else
                        {
                            break;
                        }
                    }
                }
            }
            else if (ch == '"')
            {
                i = text.IndexOf('"', i + 1) is var end and >= 0 ? end : text.Length;
            }
            else if (ch == '-' && i + 1 < text.Length && text[i + 1] == '-')
            {
                i = text.IndexOf('\n', i) is var end and >= 0 ? end : text.Length;
            }
            else if (ch == '(')
            {
                depth++;
            }
            else if (ch == ')')
            {
                depth--;
            }
            else if (depth == 0 && ch == ',')
            {
                commas.Add(i);
            }
            else if (char.IsLetter(ch) && (i == 0 || !IsWordChar(text[i - 1])))
            {
                var end = i;
                while (end < text.Length && IsWordChar(text[end]))
                {
                    end++;
                }

                // CASE … END nests like parentheses: an OR or a comma inside it belongs to the expression.
                var word = text[i..end].ToUpperInvariant();
                if (word == "CASE")
                {
                    depth++;
                }
                else if (word == "END")
                {
                    depth--;
                }
                else if (depth == 0 && word is "SELECT" or "FROM" or "WHERE" or "OR" or "GROUP" or "HAVING" or "ORDER" or "LIMIT" or "OFFSET" or "UNION"
                             or "EXCEPT" or "INTERSECT" or "WINDOW" or "FETCH" or "JOIN" or "DISTINCT")
                {
                    keywords.Add(new Keyword(word, i));
                }

                i = end - 1;
            }
        }

        return new Structure(keywords, commas);
    }

    private static bool IsWordChar(char ch) => char.IsLetterOrDigit(ch) || ch is '_' or '.' or '@' or '$';

    /// <summary>The select list (after SELECT, before FROM) cut at its top-level commas.</summary>
    private static List<string> Split(string text, int start, int end, List<int> commas)
    {
        var items = new List<string>();
        var from = start;
        foreach (var comma in commas.Where(c => c > start && c < end))
        {
            items.Add(text[from..comma]);
            from = comma + 1;
        }

        items.Add(text[from..end]);
        return items;
    }

    private static string Squeeze(string text) => Whitespace().Replace(text.Trim(), " ");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\$[A-Za-z_0-9]*\$")]
    private static partial Regex DollarQuote();

    [GeneratedRegex(@"\s+AS\s+[a-z_][a-z0-9_]*$", RegexOptions.IgnoreCase)]
    private static partial Regex Alias();

    [GeneratedRegex(@"\s+c\.round_id\s*=\s*@round_id\s+AND\s", RegexOptions.IgnoreCase)]
    private static partial Regex RoundCondition();
}
