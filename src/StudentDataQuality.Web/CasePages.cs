using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using StudentDataQuality.Data.Quality;
using StudentDataQuality.Web.Components.Cases;

namespace StudentDataQuality.Web;

/// <summary>
/// The cases pages (issue 21, docs/cases.md "The portal"): a round's open cases, sorted by age and paged in SQL, with the
/// round's summary on top, and one case's history. District offices read their own district (the scope comes from the
/// account, through <see cref="Cases"/>; a district asked for in the address is not theirs to choose), the data team the
/// province or the district it asks for. Schools and managers are refused by the district policy. Student numbers are
/// masked; the reads are audited by <see cref="Cases"/>.
/// </summary>
public static class CasePages
{
    /// <summary>The rows of a page of cases.</summary>
    public const int PageSize = 50;

    /// <summary>The largest "open at least N rounds" asked for that is taken; more is no filter (no round chain is that long).</summary>
    private const int MaxRounds = 1000;

    public static void Map(WebApplication app)
    {
        var pages = app.Pages("/cases", Policies.District);
        pages.MapGet("/", ListAsync);
        pages.MapGet("/{id:long}", HistoryAsync);
    }

    /// <summary>The cases of the portal (its database, the escalation settings it was started with).</summary>
    internal static Cases CasesOf(HttpContext context)
    {
        var settings = context.RequestServices.GetRequiredService<PortalSettings>();
        return new Cases(settings.DataSource, settings.Cases);
    }

    private static async Task<IResult> ListAsync(HttpContext context, IStringLocalizer<CaseText> text, string? round, string? district,
        string? older, string? owner, string? page)
    {
        var account = Portal.AccountOf(context.User);
        // A district office's district is its own, whatever the address says; the data team's is the one it asks for.
        var districtCode = account.DistrictCode ?? NullIfEmpty(district);
        if (!IsCode(round) || !IsCode(districtCode))
        {
            return Page.NotFound(context);
        }

        var cases = CasesOf(context);
        var roundCode = NullIfEmpty(round) ?? await cases.NewestRoundAsync(context.RequestAborted);
        if (roundCode is null)
        {
            return Page.Message(text["Title"], text["NoRound"]);
        }

        var minRounds = int.TryParse(older, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxRounds ? n : (int?)null;
        var ownerFilter = Cases.ParseOwner(owner);
        var number = int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p >= 1 && p <= 1_000_000 ? p : 1;
        var query = new CaseQuery(NullIfEmpty(round), account.DistrictCode is null ? districtCode : null, minRounds, ownerFilter, number);
        try
        {
            var filter = new CaseFilter(districtCode, minRounds, ownerFilter);
            var list = await cases.ListAsync(account, roundCode, filter, (number - 1) * PageSize, PageSize, context.RequestAborted);
            if (list.Rows.Count == 0 && number > 1)
            {
                // A page past the end (an old link, a typed number): the first page of the same filters.
                return Results.Redirect(query.Href(1));
            }

            var summary = await cases.SummaryAsync(account, roundCode, districtCode, context.RequestAborted);
            return Page.Show<CasesPage>(new { Query = query, Cases = list, Summary = summary, District = districtCode });
        }
        catch (UserErrorException e)
        {
            return Page.Message(text["Title"], e.Message, StatusCodes.Status404NotFound, error: true, back: "/cases");
        }
    }

    private static async Task<IResult> HistoryAsync(HttpContext context, IStringLocalizer<CaseText> text, long id, string? round)
    {
        var account = Portal.AccountOf(context.User);
        if (!IsCode(round) || id < 1)
        {
            return Page.NotFound(context);
        }

        var cases = CasesOf(context);
        var roundCode = NullIfEmpty(round) ?? await cases.NewestRoundAsync(context.RequestAborted);
        if (roundCode is null)
        {
            return Page.NotFound(context);
        }

        try
        {
            var steps = await cases.HistoryAsync(account, roundCode, id.ToString(CultureInfo.InvariantCulture), context.RequestAborted);
            return Page.Show<CaseHistoryPage>(new { CaseId = id, RoundCode = roundCode, Steps = steps });
        }
        catch (UserErrorException)
        {
            // An unknown case and a case of another district answer alike.
            return Page.Message(text["History.Title"], text["History.NotFound"], StatusCodes.Status404NotFound, error: true, back: "/cases");
        }
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    /// <summary>None, or a code as rounds and districts have them: anything else is answered "not found" without a query.</summary>
    private static bool IsCode(string? code) => string.IsNullOrEmpty(code) || ExplanationFilters.CodePattern().IsMatch(code);
}

/// <summary>What a page of cases was asked for (the district only where the reader may choose it), and the links that keep it.</summary>
public sealed record CaseQuery(string? Round, string? District, int? MinRounds, CaseOwner? Owner, int Page)
{
    /// <summary>The address of page <paramref name="page"/> of the same filters.</summary>
    public string Href(int page)
    {
        var parts = new List<string>();
        Add("round", Round);
        Add("district", District);
        Add("older", MinRounds?.ToString(CultureInfo.InvariantCulture));
        Add("owner", Owner is { } owner ? Cases.OwnerText(owner) : null);
        Add("page", page > 1 ? page.ToString(CultureInfo.InvariantCulture) : null);
        return "/cases" + (parts.Count == 0 ? "" : "?" + string.Join("&", parts));

        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                parts.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
    }

    /// <summary>The address of a case's history in the round shown.</summary>
    public string HistoryHref(long caseId) =>
        "/cases/" + caseId.ToString(CultureInfo.InvariantCulture) + (Round is null ? "" : "?round=" + Uri.EscapeDataString(Round));
}
