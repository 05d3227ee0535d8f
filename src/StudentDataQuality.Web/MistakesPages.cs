using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Data.Reporting;
using StudentDataQuality.Web.Components.Help;

namespace StudentDataQuality.Web;

/// <summary>
/// The common mistakes (issue 20; docs/record.md, "Common mistakes"): for the current round, the rules most found and the
/// rules most often still open after a return, with their fix hints. Open to every signed-in account; what it counts is
/// decided by <see cref="CommonMistakes"/> from the account (a district its own district, a school and a class teacher
/// their school's district, the data team and managers the province or a district they choose with <c>?district=</c>, which
/// every other account's page ignores). Aggregates only: nothing is audited. A district that is not one of the round's is a
/// "not found" page that says so.
/// </summary>
internal static class MistakesPages
{
    public const string MistakesPath = "/help/mistakes";

    public static void Map(WebApplication app)
    {
        var pages = app.MapGroup(MistakesPath).RequireAuthorization().Guarded();
        pages.MapGet("", async (HttpContext context, NpgsqlDataSource dataSource, IStringLocalizer<MistakesText> text, string? district) =>
        {
            var report = await new CommonMistakes(dataSource).ReadAsync(Portal.AccountOf(context.User), district, context.RequestAborted);
            return report.Scope == MistakesScope.UnknownDistrict
                ? (IResult)Page.Message(text["UnknownDistrict.Title"], text["UnknownDistrict"], StatusCodes.Status404NotFound, error: true,
                    back: MistakesPath)
                : Page.Show<MistakesPage>(new { Report = report });
        });
    }
}
