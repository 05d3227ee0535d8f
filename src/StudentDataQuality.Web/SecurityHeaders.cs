using Microsoft.AspNetCore.Http;

namespace StudentDataQuality.Web;

/// <summary>
/// The security headers of every answer, the portal's and the worker's dashboard's alike: HSTS over https, no sniffing,
/// no framing, no referrer, a CSP (a jobs dashboard under <c>dashboardPath</c> also its own inline scripts), and
/// <c>no-store</c> where nothing else set a cache policy.
/// </summary>
internal static class SecurityHeaders
{
    /// <summary>The middleware for a host whose jobs dashboard is at <paramref name="dashboardPath"/>.</summary>
    public static Func<HttpContext, Func<Task>, Task> For(string dashboardPath) => (context, next) => Write(context, next, dashboardPath);

    private static Task Write(HttpContext context, Func<Task> next, string dashboardPath)
    {
        var headers = context.Response.Headers;
        // Over https (the portal's own, or a configured TLS proxy's): browsers use nothing but https here for a year.
        if (context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
        }

        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        // A jobs dashboard needs its own inline scripts and styles; the pages need inline styles only.
        headers["Content-Security-Policy"] = context.Request.Path.StartsWithSegments(dashboardPath)
            ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
            : "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";
        // Nothing personal is cached; set as the answer starts, where antiforgery has not set its own (it would warn at an override).
        context.Response.OnStarting(() =>
        {
            if (!context.Response.Headers.ContainsKey("Cache-Control"))
            {
                context.Response.Headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        });
        return next();
    }
}
