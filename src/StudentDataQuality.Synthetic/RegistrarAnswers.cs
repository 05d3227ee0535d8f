using System.Globalization;
using System.Text;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Synthetic;

/// <summary>
/// One line of registrar_answers.csv: what a registrar who knows the truth answers in the worksheet about one finding
/// of the ground truth (docs/synthetic-province.md, "Registrar answers").
/// </summary>
/// <param name="SchoolCode">The school whose worksheet carries the row, as written in the export.</param>
/// <param name="StudentNo">The row's student number as written in the export (the worksheet shows it as registered).</param>
/// <param name="RuleId">The rule of the ground-truth finding answered.</param>
/// <param name="Field">
/// For <see cref="WorksheetAction.Corrected"/>, the field whose cell gets <see cref="Value"/> (the finding's field, except
/// C07's migrant_child and C08's hmt_status); otherwise the finding's field.
/// </param>
/// <param name="Value">For <see cref="WorksheetAction.Corrected"/>, the clean value (empty: the cell is cleared); else empty.</param>
public sealed record RegistrarAnswer(
    string SchoolCode, string StudentNo, string RuleId, string Field, WorksheetAction Action, string Value);

/// <summary>Reads registrar_answers.csv, which <see cref="ProvinceGenerator"/> writes beside ground_truth.csv.</summary>
public static class RegistrarAnswers
{
    public const string FileName = "registrar_answers.csv";

    public const string Header = "school_code,student_no,rule_id,field,action,value";

    /// <summary>The field's value is edited to the clean one: <see cref="WorksheetAction.Corrected"/>.</summary>
    public const string CorrectWord = "correct";

    /// <summary>The row is right as it stands and is explained: <see cref="WorksheetAction.Confirmed"/>.</summary>
    public const string ConfirmWord = "confirm";

    /// <summary>The row is an extra registration of the student: <see cref="WorksheetAction.RemoveRegistration"/>.</summary>
    public const string RemoveWord = "remove";

    /// <summary>Every answer of the file, by school code (ordinal), each school's in file order.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<RegistrarAnswer>> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = File.ReadAllText(path, new UTF8Encoding(false, true));
        var records = Parse(text, path);
        if (records.Count == 0 || string.Join(',', records[0].Fields) != Header)
        {
            throw new FormatException($"{path}: the first line must be the header '{Header}'.");
        }

        var bySchool = new Dictionary<string, List<RegistrarAnswer>>(StringComparer.Ordinal);
        foreach (var (line, fields) in records.Skip(1))
        {
            if (fields.Count != 6)
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{path}, line {line}: expected 6 fields ({Header}), found {fields.Count}."));
            }

            var action = ParseAction(fields[4]) ?? throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"{path}, line {line}: the action '{fields[4]}' is not {CorrectWord}, {ConfirmWord} or {RemoveWord}."));
            if (action != WorksheetAction.Corrected && fields[5].Length > 0)
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{path}, line {line}: only a {CorrectWord} answer carries a value."));
            }

            if (!bySchool.TryGetValue(fields[0], out var list))
            {
                list = [];
                bySchool[fields[0]] = list;
            }

            list.Add(new RegistrarAnswer(fields[0], fields[1], fields[2], fields[3], action, fields[5]));
        }

        return bySchool.ToDictionary(p => p.Key, p => (IReadOnlyList<RegistrarAnswer>)p.Value, StringComparer.Ordinal);
    }

    /// <summary>The action an answer word names; null for anything else.</summary>
    public static WorksheetAction? ParseAction(string word) => word switch
    {
        CorrectWord => WorksheetAction.Corrected,
        ConfirmWord => WorksheetAction.Confirmed,
        RemoveWord => WorksheetAction.RemoveRegistration,
        _ => null,
    };

    /// <summary>The word the file uses for an action.</summary>
    public static string Word(WorksheetAction action) => action switch
    {
        WorksheetAction.Corrected => CorrectWord,
        WorksheetAction.Confirmed => ConfirmWord,
        WorksheetAction.RemoveRegistration => RemoveWord,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown worksheet action."),
    };

    /// <summary>RFC 4180 records (quoted fields may hold commas, quotes and line breaks), with the line each starts on.</summary>
    private static List<(int Line, List<string> Fields)> Parse(string text, string path)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var start = 1;
        var i = 0;
        var atFieldStart = true;
        while (i < text.Length)
        {
            var c = text[i];
            if (atFieldStart && c == '"')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                            $"{path}, line {start}: a quoted field is not closed."));
                    }

                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (text[i] == '\n')
                    {
                        line++;
                    }

                    field.Append(text[i++]);
                }

                atFieldStart = false;
                if (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                {
                    throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                        $"{path}, line {line}: text after a closing quote."));
                }

                continue;
            }

            switch (c)
            {
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    atFieldStart = true;
                    i++;
                    break;
                case '\r' or '\n':
                    fields.Add(field.ToString());
                    field.Clear();
                    if (fields is not [""])
                    {
                        records.Add((start, fields));
                    }

                    fields = [];
                    atFieldStart = true;
                    i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                    start = ++line;
                    break;
                default:
                    field.Append(c);
                    atFieldStart = false;
                    i++;
                    break;
            }
        }

        if (!atFieldStart || field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            records.Add((start, fields));
        }

        return records;
    }
}
