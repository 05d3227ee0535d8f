using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Web;

/// <summary>
/// The filters of the explanations list as the address (or the decision's form) carries them. Anyone can type an address:
/// a value that is not a plausible code is ignored (and the page says which), never passed on; the status is one of a
/// fixed list.
/// </summary>
public static partial class ExplanationFilters
{
    /// <summary>The longest note a decision takes.</summary>
    public const int MaxNote = 500;

    /// <summary>The filter in <paramref name="values"/> and the names of the fields that were ignored.</summary>
    public static (ExplanationFilter Filter, IReadOnlyList<string> Ignored) Read(IEnumerable<KeyValuePair<string, StringValues>> values)
    {
        var given = values.ToDictionary(v => v.Key, v => v.Value.ToString().Trim(), StringComparer.OrdinalIgnoreCase);
        var ignored = new List<string>();
        string? Code(string field, Regex pattern)
        {
            if (!given.TryGetValue(field, out var value) || value.Length == 0)
            {
                return null;
            }

            if (pattern.IsMatch(value))
            {
                return value;
            }

            ignored.Add(field);
            return null;
        }

        var filter = new ExplanationFilter(Code("round", CodePattern()), Code("district", CodePattern()), Code("school", CodePattern()),
            Code("rule", RulePattern()));
        if (given.TryGetValue("status", out var status) && status.Length > 0)
        {
            if (ExplanationReview.Statuses.Contains(status, StringComparer.Ordinal))
            {
                filter = filter with { Status = status };
            }
            else
            {
                ignored.Add("status");
            }
        }

        return (filter, ignored);
    }

    /// <summary>The list's address for <paramref name="filter"/> at <paramref name="page"/> (the defaults left out), and more.</summary>
    public static string Href(ExplanationFilter filter, int page, IEnumerable<KeyValuePair<string, string?>>? more = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var query = new List<KeyValuePair<string, string?>>();
        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                query.Add(new(name, value));
            }
        }

        Add("round", filter.RoundCode);
        Add("district", filter.DistrictCode);
        Add("school", filter.SchoolCode);
        Add("rule", filter.RuleId);
        Add("status", filter.Status == "pending" ? null : filter.Status);
        Add("page", page == 1 ? null : page.ToString(CultureInfo.InvariantCulture));
        query.AddRange(more ?? []);
        return QueryHelpers.AddQueryString("/team/explanations", query);
    }

    /// <summary>The ids ticked in a form: every one a number (else the selection is refused), at most a page of them.</summary>
    public static IReadOnlyList<long> Ids(StringValues values)
    {
        if (values.Count > ExplanationReview.MaxSelection)
        {
            throw new UserErrorException(new UserMessage("Team.Review.TooMany", values.Count, ExplanationReview.MaxSelection));
        }

        var ids = new List<long>();
        foreach (var value in values)
        {
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
            {
                throw new UserErrorException(new UserMessage("Team.Review.BadSelection"));
            }

            ids.Add(id);
        }

        return ids;
    }

    /// <summary>A round, district or school code: letters, digits, dots, underscores, hyphens, at most 40.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
    internal static partial Regex CodePattern();

    /// <summary>A rule id such as F03.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$")]
    private static partial Regex RulePattern();
}

/// <summary>The audit search's filters as the address carries them; what is not plausible is ignored, and the page says which.</summary>
public static partial class AuditFilters
{
    public static (AuditQuery Query, IReadOnlyList<string> Ignored) Read(IQueryCollection values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var ignored = new List<string>();
        string? Text(string field, Regex pattern)
        {
            var value = values[field].ToString().Trim();
            if (value.Length == 0)
            {
                return null;
            }

            if (pattern.IsMatch(value))
            {
                return value;
            }

            ignored.Add(field);
            return null;
        }

        DateOnly? Date(string field)
        {
            var value = values[field].ToString().Trim();
            if (value.Length == 0)
            {
                return null;
            }

            if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) && date.Year is >= 2000 and <= 2100)
            {
                return date;
            }

            ignored.Add(field);
            return null;
        }

        return (new AuditQuery(Text("account", AccountPattern()), Text("action", ActionPattern()), Text("school", ExplanationFilters.CodePattern()),
            Date("from"), Date("to")), ignored);
    }

    /// <summary>The search's address for <paramref name="query"/> at <paramref name="page"/> (what is not given left out).</summary>
    public static string Href(AuditQuery query, int page)
    {
        ArgumentNullException.ThrowIfNull(query);
        var pairs = new List<KeyValuePair<string, string?>>
        {
            new("account", query.Actor), new("action", query.Action), new("school", query.SchoolCode),
            new("from", query.From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), new("to", query.To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            new("page", page == 1 ? null : page.ToString(CultureInfo.InvariantCulture)),
        };
        return QueryHelpers.AddQueryString("/team/audit", pairs.Where(p => !string.IsNullOrEmpty(p.Value)));
    }

    /// <summary>An account name as access.account allows it.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    private static partial Regex AccountPattern();

    /// <summary>An action such as explanation.accept.</summary>
    [GeneratedRegex("^[a-z][a-z0-9._-]{0,63}$")]
    private static partial Regex ActionPattern();
}
