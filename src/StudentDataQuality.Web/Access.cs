using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using Npgsql;
using StudentDataQuality.Web.Components.Pages;
using StudentDataQuality.Data;
using StudentDataQuality.Data.Exchange;

namespace StudentDataQuality.Web;

/// <summary>
/// Who may open which pages, decided in one place: a named policy per group of pages (the roles from
/// <see cref="AccountRole"/>), the scope of each read in the data layer (<c>access.may_act_for</c>, one SQL function), and
/// one answer to a read out of scope (<see cref="OutOfScopeException"/>: 404, and the audit entry). A page of another role
/// answers 403 (<c>/denied</c>), audited too.
/// </summary>
public static class Policies
{
    /// <summary>The data team's pages: rounds, reviews, accounts, the jobs.</summary>
    public const string DataTeam = nameof(AccountRole.DataTeam);

    /// <summary>A district's pages (its schools, approvals): district offices, and the data team for any district.</summary>
    public const string District = nameof(AccountRole.District);

    /// <summary>A school's pages (worksheet, returns, receipts, lineage): the school, its district, the data team.</summary>
    public const string School = nameof(AccountRole.School);

    /// <summary>The trends (aggregates only): managers, districts (their own), the data team.</summary>
    public const string Manager = nameof(AccountRole.Manager);

    /// <summary>A class teacher's pages (its classes' students, the parents' answers): class teachers only.</summary>
    public const string ClassTeacher = nameof(AccountRole.ClassTeacher);

    private static readonly Dictionary<string, AccountRole[]> Roles = new(StringComparer.Ordinal)
    {
        [DataTeam] = [AccountRole.DataTeam],
        [District] = [AccountRole.District, AccountRole.DataTeam],
        [School] = [AccountRole.School, AccountRole.District, AccountRole.DataTeam],
        [Manager] = [AccountRole.Manager, AccountRole.District, AccountRole.DataTeam],
        [ClassTeacher] = [AccountRole.ClassTeacher],
    };

    internal static void Add(AuthorizationOptions options)
    {
        foreach (var (name, roles) in Roles)
        {
            options.AddPolicy(name, p => p.RequireAuthenticatedUser().RequireRole(roles.Select(Account.RoleText)));
        }
    }

    /// <summary>
    /// A group of pages under one policy, with what every group has: a read out of scope answered 404 and audited, and every
    /// POST refused (400) unless its antiforgery token was valid.
    /// </summary>
    public static RouteGroupBuilder Pages(this IEndpointRouteBuilder app, string prefix, string policy) =>
        app.MapGroup(prefix).RequireAuthorization(policy).Guarded();

    /// <summary>The filters every group of pages has (<see cref="Pages"/>), for a group open to any signed-in account.</summary>
    public static RouteGroupBuilder Guarded(this RouteGroupBuilder group)
    {
        group.WithMetadata(new RequireAntiforgeryTokenAttribute());
        group.AddEndpointFilter(FormTokenFilter);
        group.AddEndpointFilter(ScopeFilter);
        return group;
    }

    /// <summary>
    /// A POST whose antiforgery token the middleware did not find valid (expired, from another site, missing) is refused
    /// before its handler: 400 and a page that says to reload.
    /// </summary>
    internal static async ValueTask<object?> FormTokenFilter(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
            && context.Features.Get<IAntiforgeryValidationFeature>() is not { IsValid: true })
        {
            var text = context.RequestServices.GetRequiredService<IStringLocalizer<PortalText>>();
            return Page.Message(text["FormExpired.Title"], text["FormExpired"], StatusCodes.Status400BadRequest, error: true);
        }

        return await next(invocation);
    }

    /// <summary>The one answer to a read or action out of the reader's scope: the audit entry, then "not found".</summary>
    internal static async ValueTask<object?> ScopeFilter(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        try
        {
            return await next(invocation);
        }
        catch (OutOfScopeException e)
        {
            var context = invocation.HttpContext;
            await AuditRefusedAsync(context, e.What, e.Object, e.SchoolCode, e.RoundId);
            return Page.NotFound(context);
        }
    }

    /// <summary>Puts a refusal on record: <c>access.refused</c>, what was asked, from where.</summary>
    internal static async Task AuditRefusedAsync(HttpContext context, string what, string? @object, string? schoolCode = null, int? roundId = null)
    {
        var dataSource = context.RequestServices.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await AuditLog.WriteAsync(connection, context.User.Identity?.Name ?? "anonymous", "access.refused", roundId, schoolCode,
            @object ?? context.Request.Path.ToString(), new { what, from = Portal.ClientAddress(context) }, context.RequestAborted);
    }
}
