using System.Globalization;
using System.Text;
using StudentDataQuality.Records;

namespace StudentDataQuality.Worksheets;

/// <summary>
/// Writes a school's problem worksheet as an .xlsx (docs/worksheets.md): instructions (first and active), problems, codes,
/// and the very hidden <c>_meta</c>. Every value is a text cell with the text format; none is ever a formula.
/// </summary>
public static class WorkbookWriter
{
    /// <summary>The version of the workbook's layout, recorded in <c>_meta</c>; raise it when the layout changes.</summary>
    public const int TemplateVersion = 1;

    /// <summary>Excel's limit for the text of one cell.</summary>
    public const int MaxCellText = 32_767;

    /// <summary>
    /// Writes the workbook to <paramref name="output"/> (left open). Throws for a document it cannot write exactly. With
    /// <paramref name="ruleHelp"/>, every problem cell's note ends each problem with the address of its rule's page.
    /// </summary>
    public static void Write(WorksheetDocument document, Stream output, WorksheetLanguage language = WorksheetLanguage.Chinese,
        RuleHelp? ruleHelp = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(output);
        Validate(document);
        new WorkbookBuilder(document, language, ruleHelp).Save(output);
    }

    /// <summary>
    /// <c>&lt;round&gt;_&lt;school code&gt;_&lt;school name&gt;_v&lt;issue&gt;.xlsx</c>, with every character that Windows refuses in a
    /// file name (<c>\ / : * ? " &lt; &gt; |</c>, control characters) replaced by '-', surrounding spaces and dots
    /// removed from each part, and the school name cut to 60 characters.
    /// </summary>
    public static string FileName(WorksheetDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var round = FileNamePart(document.RoundCode, 40);
        var school = FileNamePart(document.SchoolCode, 20);
        var name = FileNamePart(document.SchoolName, 60);
        var issue = document.IssueNumber.ToString(CultureInfo.InvariantCulture);
        return name.Length == 0 ? $"{round}_{school}_v{issue}.xlsx" : $"{round}_{school}_{name}_v{issue}.xlsx";
    }

    /// <summary>
    /// Text made safe as (part of) a file or folder name on every system: the characters Windows refuses and control
    /// characters replaced by '-', surrounding spaces and dots removed, cut to <paramref name="maxLength"/> between
    /// characters.
    /// </summary>
    public static string FileNamePart(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(text.Length);
        foreach (var c in text.Normalize(NormalizationForm.FormC))
        {
            builder.Append(c is < ' ' or '\u007f' or '\\' or '/' or ':' or '*' or '?' or '"' or '<' or '>' or '|' ? '-' : c);
        }

        var part = builder.ToString().Trim(' ', '.', '\u3000');
        if (part.Length > maxLength)
        {
            // Cut between text elements, so a surrogate pair or a combining sequence is never split.
            var cut = new StringBuilder(maxLength);
            var elements = StringInfo.GetTextElementEnumerator(part);
            while (elements.MoveNext() && cut.Length + elements.GetTextElement().Length <= maxLength)
            {
                cut.Append(elements.GetTextElement());
            }

            part = cut.ToString().TrimEnd(' ', '.', '\u3000');
        }

        return part;
    }

    private static void Validate(WorksheetDocument document)
    {
        RequireCode(document.RoundCode, nameof(document.RoundCode));
        RequireCode(document.SchoolCode, nameof(document.SchoolCode));
        RequireCode(document.KeyId, nameof(document.KeyId));
        ArgumentNullException.ThrowIfNull(document.SchoolName);
        ArgumentNullException.ThrowIfNull(document.Contact);
        ArgumentNullException.ThrowIfNull(document.Fields);
        ArgumentNullException.ThrowIfNull(document.Rows);
        if (document.IssueNumber < 1 || document.TemplateVersion < 1)
        {
            throw new ArgumentException(
                $"The issue number and template version must be 1 or more; they are {document.IssueNumber} and {document.TemplateVersion}.",
                nameof(document));
        }

        var previous = -1;
        foreach (var field in document.Fields)
        {
            var index = Layouts.Student.IndexOf(field);
            if (index <= previous)
            {
                throw new ArgumentException(
                    $"The worksheet's fields must be distinct and in the order of Layouts.Student ('{field}' is out of place); " +
                    "build them with WorksheetFields.InLayoutOrder.", nameof(document));
            }

            previous = index;
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in document.Rows)
        {
            ArgumentNullException.ThrowIfNull(row);
            RequireCode(row.RowKey, "RowKey");
            if (!keys.Add(row.RowKey))
            {
                throw new ArgumentException($"The row key '{row.RowKey}' is used by two rows; row keys must be unique.", nameof(document));
            }

            if (row.Signature is not { Length: 64 } || !row.Signature.All(char.IsAsciiHexDigitLower))
            {
                throw new ArgumentException(
                    $"The row '{row.RowKey}' is not signed (sign the rows with RowSignature.SignRows before writing).", nameof(document));
            }

            ArgumentNullException.ThrowIfNull(row.Values);
            ArgumentNullException.ThrowIfNull(row.Problems);
            foreach (var text in IssuedTexts(document, row))
            {
                if (text is { Length: > MaxCellText })
                {
                    throw new ArgumentException(
                        $"A value of row '{row.RowKey}' has {text.Length} characters; a spreadsheet cell holds at most {MaxCellText}.", nameof(document));
                }
            }
        }
    }

    /// <summary>The texts of a row that must come back exactly as issued: the identity and the field values.</summary>
    internal static IEnumerable<string?> IssuedTexts(WorksheetDocument document, WorksheetRow row)
    {
        yield return row.StudentNo;
        yield return row.Grade;
        yield return row.ClassName;
        yield return row.Name;
        foreach (var field in document.Fields)
        {
            yield return row.Values.GetValueOrDefault(field);
        }
    }

    /// <summary>A code-like text (round, school code, key id, row key): not empty, no control characters.</summary>
    private static void RequireCode(string? value, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, name);
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException($"{name} must not contain control characters.", name);
        }
    }
}
