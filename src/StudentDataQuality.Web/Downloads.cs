using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Localization;
using StudentDataQuality.Data.Exports;
using StudentDataQuality.Exports;

namespace StudentDataQuality.Web;

/// <summary>
/// Every file the portal hands out leaves through the export register (docs/exports.md, "Every download"): the register's
/// policy decides first, the producer makes the file as before and writes the watermark into it, and what left is on record
/// (<c>export.file</c>, audit <c>export.take</c>) with the sha256 of exactly the bytes sent. A refusal of the register
/// (<c>Exports.*</c>) is a page that says why (403); nothing was made. Any other user error of the producer is left to
/// the handler, which answers it as it did before.
/// </summary>
internal static class Downloads
{
    public const string Xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    public const string Pdf = "application/pdf";

    /// <summary>Takes a file through the register and answers it as a download; a refusal of the register as a page.</summary>
    public static async Task<IResult> TakeAsync(HttpContext context, ExportOrder order, string contentType,
        Func<Watermark, CancellationToken, Task<ExportContent>> produce, string back)
    {
        ArgumentNullException.ThrowIfNull(context);
        ExportedFile file;
        try
        {
            file = await context.RequestServices.GetRequiredService<ExportRegister>().TakeAsync(Portal.AccountOf(context.User), order,
                Portal.ClientAddress(context), produce, context.RequestAborted);
        }
        catch (UserErrorException e) when (IsRefusal(e))
        {
            var text = context.RequestServices.GetRequiredService<IStringLocalizer<DownloadText>>();
            return Page.Message(text["Refused.Title"], e.Message, StatusCodes.Status403Forbidden, error: true, back: back);
        }

        return Results.File(file.Bytes ?? throw new InvalidOperationException("The export register answered a download without its bytes."),
            contentType, file.FileName);
    }

    /// <summary>The register's own refusals (the policy, a request needed or spent); not the producer's.</summary>
    private static bool IsRefusal(UserErrorException e) => e.Text?.Code.StartsWith("Exports.", StringComparison.Ordinal) == true;
}
