using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace StudentDataQuality.Guides;

/// <summary>A piece of a guide's text: plain, or a link to a page of the portal (<see cref="Href"/>, always a local path).</summary>
public sealed record GuideRun(string Text, string? Href = null);

/// <summary>One block of a guide, in the order it is read.</summary>
public abstract record GuideBlock;

/// <summary>A section's heading (<c>## …</c>).</summary>
public sealed record GuideSection(string Text) : GuideBlock;

/// <summary>A paragraph: consecutive lines of text.</summary>
public sealed record GuideParagraph(IReadOnlyList<GuideRun> Runs) : GuideBlock;

/// <summary>A list: numbered steps (<c>1. …</c>) or bullets (<c>- …</c>), each item one line.</summary>
public sealed record GuideList(bool Numbered, IReadOnlyList<IReadOnlyList<GuideRun>> Items) : GuideBlock;

/// <summary>A screenshot (<c>![caption](img/name.png)</c>): <see cref="Name"/> is the file's name in docs/guides/img.</summary>
public sealed record GuideImage(string Caption, string Name) : GuideBlock;

/// <summary>A guide read from its source (docs/guides/&lt;role&gt;.&lt;language&gt;.md): its title and its blocks.</summary>
public sealed record Guide(string Title, IReadOnlyList<GuideBlock> Blocks)
{
    /// <summary>The screenshots the guide shows, by file name, in order.</summary>
    public IReadOnlyList<string> Images => [.. Blocks.OfType<GuideImage>().Select(i => i.Name)];

    /// <summary>The text of the numbered steps, each item's runs joined, in order.</summary>
    public IReadOnlyList<string> Steps => [.. Blocks.OfType<GuideList>().Where(l => l.Numbered).SelectMany(l => l.Items).Select(GuideMarkdown.Plain)];
}

/// <summary>
/// The guides' small Markdown: <c># title</c> (first, once), <c>## section</c>, paragraphs, <c>1.</c> numbered and <c>-</c>
/// bulleted items (one line each), <c>![caption](img/name.png)</c> on a line of its own, and in any text
/// <c>[text](portal:///path)</c> links to a page of the portal (served as /path). Nothing else is Markdown here: any other character is text, shown as it is (encoded by
/// the page). The sources are ours; a line this subset does not read is an error naming the file and line, so that a test
/// catches it before a reader would.
/// </summary>
public static partial class GuideMarkdown
{
    /// <summary>The guide of this source.</summary>
    /// <exception cref="FormatException">A line the subset does not read (file and line named).</exception>
    public static Guide Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? title = null;
        var blocks = new List<GuideBlock>();
        var paragraph = new List<string>();
        List<IReadOnlyList<GuideRun>>? items = null;
        var numbered = false;
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');

        void Flush()
        {
            if (paragraph.Count > 0)
            {
                blocks.Add(new GuideParagraph(Runs(Join(paragraph), source, 0)));
                paragraph.Clear();
            }

            if (items is not null)
            {
                blocks.Add(new GuideList(numbered, items));
                items = null;
            }
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd();
            var number = i + 1;
            FormatException Bad(string why) => new(string.Create(CultureInfo.InvariantCulture, $"{source}, line {number}: {why}"));
            if (line.Length == 0)
            {
                Flush();
                continue;
            }

            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                if (title is not null || blocks.Count > 0 || paragraph.Count > 0 || items is not null)
                {
                    throw Bad("the title (# …) comes first, once");
                }

                title = line[2..].Trim();
                continue;
            }

            if (title is null)
            {
                throw Bad("a guide starts with its title (# …)");
            }

            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                Flush();
                blocks.Add(new GuideSection(line[3..].Trim()));
                continue;
            }

            if (line.StartsWith('#'))
            {
                throw Bad("only # title and ## section headings are read");
            }

            if (line.StartsWith("![", StringComparison.Ordinal))
            {
                var image = ImageLine().Match(line);
                if (!image.Success)
                {
                    throw Bad("an image is ![caption](img/name.png) alone on its line (name: a-z, 0-9, -)");
                }

                Flush();
                blocks.Add(new GuideImage(image.Groups[1].Value.Trim(), image.Groups[2].Value));
                continue;
            }

            var item = NumberedItem().Match(line);
            var isBullet = line.StartsWith("- ", StringComparison.Ordinal);
            if (item.Success || isBullet)
            {
                if (paragraph.Count > 0 || (items is not null && numbered != item.Success))
                {
                    Flush();
                }

                if (item.Success && items is null && item.Groups[1].Value != "1")
                {
                    throw Bad("a numbered list starts at 1.");
                }

                numbered = item.Success;
                items ??= [];
                items.Add(Runs(item.Success ? item.Groups[2].Value : line[2..].Trim(), source, number));
                continue;
            }

            if (items is not null)
            {
                throw Bad("a list item is one line; leave an empty line before the next paragraph");
            }

            paragraph.Add(line.Trim());
        }

        Flush();
        if (title is null || title.Length == 0)
        {
            throw new FormatException(source + ": the guide has no title (# …)");
        }

        return new Guide(title, blocks);
    }

    private const string PortalScheme = "portal://";

    /// <summary>The runs' text joined, links as their text.</summary>
    public static string Plain(IEnumerable<GuideRun> runs) => string.Concat(runs.Select(r => r.Text));

    /// <summary>Lines of a paragraph joined: with a space between words, with nothing between Chinese characters.</summary>
    private static string Join(List<string> lines)
    {
        var text = new StringBuilder(lines[0]);
        foreach (var line in lines.Skip(1))
        {
            if (!(IsWide(text[^1]) && IsWide(line[0])))
            {
                text.Append(' ');
            }

            text.Append(line);
        }

        return text.ToString();
    }

    private static bool IsWide(char c) => c >= '\u2E80';

    /// <summary>The text's runs: <c>[text](/path)</c> becomes a link; the path is local (starts with one /), nothing else.</summary>
    private static List<GuideRun> Runs(string text, string source, int line)
    {
        var runs = new List<GuideRun>();
        var at = 0;
        foreach (Match link in Link().Matches(text))
        {
            // portal:///help/rules: an address of the portal (not a file beside the source), written with its own scheme.
            var href = link.Groups[2].Value.StartsWith(PortalScheme, StringComparison.Ordinal) ? link.Groups[2].Value[PortalScheme.Length..] : "";
            if (!href.StartsWith('/') || href.StartsWith("//", StringComparison.Ordinal))
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{source}, line {line}: a link goes to a page of the portal, written portal:///path: {link.Groups[2].Value}"));
            }

            if (link.Index > at)
            {
                runs.Add(new GuideRun(text[at..link.Index]));
            }

            runs.Add(new GuideRun(link.Groups[1].Value, href));
            at = link.Index + link.Length;
        }

        if (at < text.Length)
        {
            runs.Add(new GuideRun(text[at..]));
        }

        return runs;
    }

    [GeneratedRegex(@"^!\[([^\]]+)\]\(img/([a-z0-9][a-z0-9-]{0,60}\.png)\)$")]
    private static partial Regex ImageLine();

    [GeneratedRegex(@"^(\d{1,2})\.\s+(.+)$")]
    private static partial Regex NumberedItem();

    [GeneratedRegex(@"\[([^\]]+)\]\(([^)\s]+)\)")]
    private static partial Regex Link();
}

/// <summary>The five guides, one per role: their names in addresses and files, and the guide of each account's role.</summary>
public static class GuideRoles
{
    /// <summary>Every guide's name, in the order /help lists them (before the reader's own comes first).</summary>
    public static IReadOnlyList<string> All { get; } = ["school", "district", "class-teacher", "data-team", "manager"];

    /// <summary>The guide of an account's role, by the role's text (school, district, class_teacher, data_team, manager); null for none.</summary>
    public static string? OfRole(string? roleText) => roleText?.Replace('_', '-') is { } name && All.Contains(name) ? name : null;

    /// <summary>The source's name of a guide in a language ("school.zh.md").</summary>
    public static string SourceName(string role, bool english) => role + (english ? ".en.md" : ".zh.md");
}
