using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;
using StudentDataQuality.Data.Training;
using StudentDataQuality.Web.Components.Practice;

namespace StudentDataQuality.Web;

/// <summary>
/// The trainer's view of a practice round (docs/training.md): <c>/team/practice</c>, the data team only, each trainee's
/// progress (<see cref="Practice.ProgressAsync"/>, one query) with totals. It names accounts and school codes only, no
/// student. In a real database the page is not there (404), like any address that is not.
/// </summary>
internal static class PracticePages
{
    public const string Path = "/team/practice";

    public static void Map(WebApplication app)
    {
        var pages = app.Pages(Path, Policies.DataTeam);
        pages.MapGet("", ProgressAsync);
    }

    private static async Task<IResult> ProgressAsync(HttpContext context, PortalPractice practice, NpgsqlDataSource dataSource)
    {
        if (practice.Round is not { } round)
        {
            return Page.NotFound(context);
        }

        var progress = await Practice.ProgressAsync(dataSource, context.RequestAborted);
        return Page.Show<PracticeProgressPage>(new { Round = round, Progress = progress });
    }
}
