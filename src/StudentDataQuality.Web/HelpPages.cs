using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Web.Components.Help;

namespace StudentDataQuality.Web;

/// <summary>
/// The help pages: the rule catalogue (<see cref="RuleCatalog.All"/>, one source with the checks) as a list by stage and a
/// page per rule (what it means, why it matters, wrong values and their right form, how to fix, whether a finding may be
/// explained). Open to every signed-in account of any role; they hold no personal data, so nothing is audited. A rule is
/// found by its id in the catalogue only (case-insensitive); any other id is "not found".
/// </summary>
internal static class HelpPages
{
    public const string RulesPath = "/help/rules";

    public static void Map(WebApplication app)
    {
        var pages = app.MapGroup(RulesPath).RequireAuthorization().Guarded();
        pages.MapGet("", () => Page.Show<RulesPage>(new { Rules = RuleCatalog.All }));
        pages.MapGet("/{id}", (HttpContext context, string id) => Find(id) is { } rule
            ? (IResult)Page.Show<RulePage>(new { Rule = rule })
            : Page.NotFound(context));
    }

    /// <summary>The catalogue's rule of this id (case-insensitive), or null.</summary>
    public static Rule? Find(string id) =>
        RuleCatalog.All.FirstOrDefault(r => string.Equals(r.Id, id, StringComparison.OrdinalIgnoreCase));
}
