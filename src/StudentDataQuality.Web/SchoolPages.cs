using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Jobs;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Web;

/// <summary>
/// The school's pages: its newest worksheet and where it stands, the download (audited), the upload of a return (the same
/// ingest as every other way in) and its receipt as a page and as the .xlsx. What an account may see is decided in the
/// queries (<see cref="SchoolDesk"/>); anything out of its scope answers "not found", and is audited.
/// </summary>
internal static class SchoolPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var school = app.MapGroup("/school").RequireAuthorization();
        school.MapGet("/", StatusAsync);
        school.MapGet("/worksheets/{id:guid}", DownloadAsync);
        school.MapPost("/returns", UploadAsync);
        school.MapGet("/returns/{id:long}", ReceiptAsync);
        school.MapGet("/returns/{id:long}/receipt.xlsx", ReceiptFileAsync);
        school.MapPost("/certify", CertifyAsync);
        var district = app.MapGroup("/district").RequireAuthorization();
        district.MapGet("/", DistrictAsync);
        district.MapPost("/approve", ApproveAsync);
    }

    private static async Task<IResult> CertifyAsync(HttpContext context, IAntiforgery antiforgery, SchoolDesk desk)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        try
        {
            await desk.CertifyAsync(AccountOf(context.User), context.RequestAborted);
            return Results.Redirect("/school");
        }
        catch (UserErrorException e)
        {
            return Html.Content(Html.Page("确认 Sign-off", $"<h1>还不能确认 Not yet</h1>{Html.Error(e.Message)}<p><a href=\"/school\">返回 Back</a></p>"),
                StatusCodes.Status400BadRequest);
        }
    }

    private static async Task<IResult> DistrictAsync(HttpContext context, IAntiforgery antiforgery, SchoolDesk desk, string? code)
    {
        var account = AccountOf(context.User);
        if (account.Role is not (AccountRole.District or AccountRole.DataTeam))
        {
            return Results.Redirect("/denied");
        }

        var districtCode = account.Role == AccountRole.District ? account.DistrictCode! : code;
        if (string.IsNullOrEmpty(districtCode))
        {
            return Html.Content(Html.Page("区县 District", "<h1>区县 District</h1><p>请指定区县代码：/district?code=… Give the district's code: /district?code=…</p>"));
        }

        var schools = await desk.DistrictAsync(account, districtCode, context.RequestAborted);
        var tokens = antiforgery.GetAndStoreTokens(context);
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>区县 District {Html.E(districtCode)}</h1>
            <table><tr><th>学校 School</th><th>版次 Issue</th><th>截止 Due</th><th>已下载 Downloaded</th><th>上传 Returns</th><th>未解决 Open (errors / warnings)</th><th>确认 Certified</th><th>审核 Approved</th></tr>
            """);
        foreach (var s in schools)
        {
            var approve = s.CertifiedAt is not null && s.ApprovedAt is null
                ? $"""<form method="post" action="/district/approve">{Html.Token(tokens)}<input type="hidden" name="school" value="{Html.E(s.SchoolCode)}"><input type="hidden" name="district" value="{Html.E(districtCode)}"><button type="submit">审核通过 Approve</button></form>"""
                : s.ApprovedAt is { } approved ? approved.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : "";
            body.Append(CultureInfo.InvariantCulture,
                $"<tr{(s.Late ? " class=\"error\"" : "")}><td><a href=\"/school?code={Html.E(s.SchoolCode)}\">{Html.E(s.SchoolCode)}</a> {Html.E(s.SchoolName)}{(s.Late ? " · 逾期 late" : "")}</td><td>{s.IssueNumber}</td><td>{s.Deadline:yyyy-MM-dd}</td><td>{(s.Downloaded ? "是 yes" : "否 no")}</td><td>{s.Returns}</td><td>{s.OpenErrors} / {s.OpenWarnings}</td><td>{s.CertifiedAt?.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}</td><td>{approve}</td></tr>");
        }

        body.Append("</table><p><a href=\"/\">首页 Home</a></p>");
        return Html.Content(Html.Page("区县 District", body.ToString()));
    }

    private static async Task<IResult> ApproveAsync(HttpContext context, IAntiforgery antiforgery, SchoolDesk desk)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var account = AccountOf(context.User);
        if (account.Role is not (AccountRole.District or AccountRole.DataTeam))
        {
            return Results.Redirect("/denied");
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        return await desk.ApproveAsync(account, form["school"].ToString(), From(context), context.RequestAborted)
            ? Results.Redirect(account.Role == AccountRole.District ? "/district" : "/district?code=" + Uri.EscapeDataString(form["district"].ToString()))
            : NotFound();
    }

    public static Account AccountOf(ClaimsPrincipal user) => new(user.Identity!.Name!, Account.ParseRole(user.FindFirstValue(ClaimTypes.Role)!),
        user.FindFirstValue(Portal.SchoolClaim), user.FindFirstValue(Portal.DistrictClaim));

    private static string From(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "";

    private static async Task<IResult> StatusAsync(HttpContext context, IAntiforgery antiforgery, SchoolDesk desk, string? code)
    {
        var account = AccountOf(context.User);
        if (account.Role == AccountRole.Manager)
        {
            return Results.Redirect("/denied");
        }

        var schoolCode = account.Role == AccountRole.School ? account.SchoolCode! : code;
        if (string.IsNullOrEmpty(schoolCode))
        {
            return Html.Content(Html.Page("学校 School", "<h1>学校 School</h1><p>请指定学校标识码：/school?code=… Give the school's code: /school?code=…</p>"));
        }

        var status = await desk.StatusAsync(account, schoolCode, context.RequestAborted);
        if (status is null)
        {
            return Html.Content(Html.Page("学校 School", $"<h1>{Html.E(schoolCode)}</h1><p>暂无问题清单。No worksheet has been issued to this school.</p>"),
                StatusCodes.Status404NotFound);
        }

        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>{Html.E(status.SchoolCode)} · {Html.E(status.RoundCode)}</h1>
            <p>问题清单第 {status.IssueNumber} 版，{status.IssuedAt.ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd} 下发，截止 {status.Deadline:yyyy-MM-dd}；
            下发时 {status.IssuedErrors} 个错误、{status.IssuedWarnings} 个警告，现在未解决 {status.OpenErrors} 个错误、{status.OpenWarnings} 个警告。<br>
            Worksheet issue {status.IssueNumber}, issued {status.IssuedAt.ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd}, due {status.Deadline:yyyy-MM-dd};
            {status.IssuedErrors} errors and {status.IssuedWarnings} warnings when issued, {status.OpenErrors} errors and {status.OpenWarnings} warnings open now.</p>
            <p><a href="/school/worksheets/{status.WorksheetId}">下载问题清单 Download the worksheet</a></p>
            """);
        if (status.RoundOpen)
        {
            var tokens = antiforgery.GetAndStoreTokens(context);
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>上传修改后的问题清单 Upload the corrected worksheet</h2>
                <form method="post" action="/school/returns" enctype="multipart/form-data">
                {Html.Token(tokens)}
                <input type="file" name="file" accept=".xlsx" required>
                <button type="submit">上传 Upload</button>
                </form>
                """);
        }
        else
        {
            body.Append("<p>本轮核查已结束，不再接收上传。This round is closed; no more returns are taken.</p>");
        }

        if (status.RoundOpen && account.Role == AccountRole.School)
        {
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>确认 Sign-off</h2>
                <p>所有错误已更正、所有警告已更正或说明后，请确认本校数据。Once every error is fixed and every warning fixed or explained, certify your school's data.</p>
                <form method="post" action="/school/certify">{Html.Token(antiforgery.GetAndStoreTokens(context))}<button type="submit">确认本校数据 Certify</button></form>
                """);
        }

        body.Append("<h2>上传记录 Returns</h2><table><tr><th>回执 Receipt</th><th>文件 File</th><th>时间 When</th><th>上传人 By</th></tr>");
        foreach (var r in status.Returns)
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td><a href=\"/school/returns/{r.ReturnId}\">#{r.ReturnId}</a></td><td>{Html.E(r.FileName)}</td><td>{r.ReceivedAt.ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd HH:mm}</td><td>{Html.E(r.ReceivedBy)}</td></tr>");
        }

        body.Append("</table><p><a href=\"/\">首页 Home</a></p>");
        return Html.Content(Html.Page("学校 School", body.ToString()));
    }

    private static async Task<IResult> DownloadAsync(HttpContext context, SchoolDesk desk, Guid id)
    {
        var file = await desk.WorksheetAsync(AccountOf(context.User), id, From(context), context.RequestAborted);
        if (file is null)
        {
            return NotFound();
        }

        var path = file.OutputDirectory is { } folder && Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, file.FileName, SearchOption.AllDirectories).FirstOrDefault()
            : null;
        var bytes = path is null ? null : await File.ReadAllBytesAsync(path, context.RequestAborted);
        if (bytes is null || Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant() != file.Sha256)
        {
            return Html.Content(Html.Page("文件不在 File gone",
                "<h1>文件不在服务器上 The file is not on the server</h1><p>请联系数据管理员重新下发。Ask the data team to issue the worksheet again.</p>"),
                StatusCodes.Status410Gone);
        }

        return Results.File(bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", file.FileName);
    }

    private static async Task<IResult> UploadAsync(HttpContext context, IAntiforgery antiforgery, ReturnIngest ingest)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var upload = (await context.Request.ReadFormAsync(context.RequestAborted)).Files["file"];
        if (upload is null || upload.Length == 0)
        {
            return Refused("没有选择文件。No file was chosen: choose the corrected worksheet (.xlsx) and upload again.");
        }

        try
        {
            await using var stream = upload.OpenReadStream();
            var result = await ingest.IngestAsync(stream, Path.GetFileName(upload.FileName), AccountOf(context.User), context.RequestAborted);
            return Results.Redirect($"/school/returns/{result.Receipt.ReturnId}");
        }
        catch (WorksheetRejectedException refusal)
        {
            return Refused(refusal.MessageIn(WorksheetLanguage.Chinese) + " " + refusal.MessageIn(WorksheetLanguage.English));
        }
    }

    private static IResult Refused(string message) => Html.Content(Html.Page("未接收 Not taken",
        $"<h1>文件未被接收 The file was not taken</h1>{Html.Error(message)}<p>没有任何数据被修改。Nothing was changed.</p><p><a href=\"/school\">返回 Back</a></p>"),
        StatusCodes.Status400BadRequest);

    private static async Task<IResult> ReceiptAsync(HttpContext context, SchoolDesk desk, long id)
    {
        if (await ReadReceiptAsync(context, desk, id) is not { } receipt)
        {
            return NotFound();
        }

        var language = WorksheetLanguage.Chinese;
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>回执 Receipt #{receipt.ReturnId}</h1>
            <p>{Html.E(receipt.SchoolName)}（{Html.E(receipt.SchoolCode)}）· {Html.E(receipt.RoundCode)} · 第 {receipt.IssueNumber} 版 issue {receipt.IssueNumber} ·
            {Html.E(receipt.FileName)} · {receipt.ReceivedAt.ToOffset(TimeSpan.FromHours(8)):yyyy-MM-dd HH:mm} · {Html.E(receipt.ReceivedBy)}</p>
            <p><a href="/school/returns/{receipt.ReturnId}/receipt.xlsx">下载回执 Download the receipt (.xlsx)</a></p>
            <table><tr><th>行 Row</th><th>学籍号 Student no.</th><th>结果 Outcome</th><th>修改 Changes</th><th>说明 Notes</th></tr>
            """);
        foreach (var row in receipt.Rows)
        {
            var changes = string.Join("<br>", row.Changes.Select(c => $"{Html.E(c.ColumnHeader)}: {Html.E(c.OldValue)} → {Html.E(c.NewValue)}"));
            var notes = string.Join("<br>", row.Reasons.Select(Html.E).Concat(row.StillFailing.Select(p => Html.E($"{p.RuleId} {p.Title}"))));
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{row.ExcelRow}</td><td>{Html.E(row.StudentNo)}</td><td>{Html.E(row.Outcome.Label(language))}</td><td>{changes}</td><td>{notes}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture, $"</table><p>仍未解决 Still open: {receipt.StillOpen.Count}</p><p><a href=\"/school\">返回 Back</a></p>");
        return Html.Content(Html.Page("回执 Receipt", body.ToString()));
    }

    private static async Task<IResult> ReceiptFileAsync(HttpContext context, SchoolDesk desk, long id)
    {
        if (await ReadReceiptAsync(context, desk, id) is not { } receipt)
        {
            return NotFound();
        }

        using var output = new MemoryStream();
        ReceiptWriter.Write(receipt, output);
        return Results.File(output.ToArray(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ReceiptWriter.FileName(receipt));
    }

    private static async Task<Receipt?> ReadReceiptAsync(HttpContext context, SchoolDesk desk, long id) =>
        await desk.ReceiptAsync(AccountOf(context.User), id, From(context), context.RequestAborted) is { } found
            ? JsonSerializer.Deserialize<Receipt>(found.ReceiptJson, Receipt.JsonOptions)
            : null;

    /// <summary>Out of scope and not there answer alike, so that ids cannot be probed.</summary>
    private static IResult NotFound() => Html.Content(Html.Page("未找到 Not found", "<h1>未找到 Not found</h1><p><a href=\"/\">首页 Home</a></p>"),
        StatusCodes.Status404NotFound);
}
