using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StudentDataQuality.Application;
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
        school.MapPost("/returns", UploadAsync).RequireRateLimiting(Portal.UploadRateLimit);
        school.MapGet("/uploads/{key}", UploadedAsync);
        school.MapGet("/returns/{id:long}", ReceiptAsync);
        school.MapGet("/returns/{id:long}/receipt.xlsx", ReceiptFileAsync);
        school.MapPost("/certify", CertifyAsync);
        // A student's lineage by the record's id: never by the student number, which can be a resident ID number ('G' + the
        // number) and would sit in addresses, logs and browser history (issue 16, item 12). The record id says nothing of
        // the student (its file and row); scope is checked in the query and anything out of it answers "not found", audited.
        school.MapGet("/records/{id:long}", LineageAsync);
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
            return Html.Content(Html.Page(Html.T("确认", "Sign-off"),
                $"<h1>{Html.T("还不能确认", "Not yet")}</h1>{Html.Error(e.Message)}<p><a href=\"/school\">{Html.T("返回", "Back")}</a></p>"),
                StatusCodes.Status400BadRequest);
        }
    }

    private static async Task<IResult> DistrictAsync(HttpContext context, IAntiforgery antiforgery, SchoolDesk desk, string? code)
    {
        var account = AccountOf(context.User);
        if (account.Role is not (AccountRole.District or AccountRole.DataTeam))
        {
            return await Portal.DeniedAsync(context);
        }

        var districtCode = account.Role == AccountRole.District ? account.DistrictCode! : code;
        if (string.IsNullOrEmpty(districtCode))
        {
            return Html.Content(Html.Page(Html.T("区县", "District"),
                $"<h1>{Html.T("区县", "District")}</h1><p>{Html.T("请指定区县代码：/district?code=…", "Give the district's code: /district?code=…")}</p>"));
        }

        var schools = await desk.DistrictAsync(account, districtCode, context.RequestAborted);
        var tokens = antiforgery.GetAndStoreTokens(context);
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>{Html.T("区县", "District")} {Html.E(districtCode)}</h1>
            <p>{Html.T("逾期未完成的学校排在前面。", "Schools past their deadline and not done come first.")}</p>
            <table><tr><th>{Html.T("学校", "School")}</th><th>{Html.T("版次", "Issue")}</th><th>{Html.T("截止", "Due")}</th><th>{Html.T("已下载", "Downloaded")}</th><th>{Html.T("上传", "Returns")}</th><th>{Html.T("未解决（错误 / 警告）", "Open (errors / warnings)")}</th><th>{Html.T("已确认", "Certified")}</th><th>{Html.T("审核", "Approved")}</th></tr>
            """);
        foreach (var s in schools)
        {
            var approve = s.CertifiedAt is not null && s.ApprovedAt is null
                ? $"""<form method="post" action="/district/approve">{Html.Token(tokens)}<input type="hidden" name="school" value="{Html.E(s.SchoolCode)}"><input type="hidden" name="district" value="{Html.E(districtCode)}"><button type="submit">{Html.T("审核通过", "Approve")}</button></form>"""
                : s.ApprovedAt is { } approved ? Day(approved) : "";
            var state = s.Late ? $" · {Html.T("逾期", "late")}" : s.OpenErrors == 0 && s.OpenWarnings == 0 && s.IssueNumber is not null ? $" · {Html.T("已无问题", "clean")}" : "";
            body.Append(CultureInfo.InvariantCulture,
                $"<tr{(s.Late ? " class=\"error\"" : "")}><td><a href=\"/school?code={Html.E(s.SchoolCode)}\">{Html.E(s.SchoolCode)}</a> {Html.E(s.SchoolName)}{state}</td><td>{s.IssueNumber}</td><td>{s.Deadline:yyyy-MM-dd}</td><td>{(s.Downloaded ? Html.T("是", "yes") : Html.T("否", "no"))}</td><td>{s.Returns}</td><td>{s.OpenErrors} / {s.OpenWarnings}</td><td>{(s.CertifiedAt is { } certified ? Day(certified) : "")}</td><td>{approve}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture, $"</table><p><a href=\"/\">{Html.T("首页", "Home")}</a></p>");
        return Html.Content(Html.Page(Html.T("区县", "District"), body.ToString()));
    }

    private static string Day(DateTimeOffset at) => at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Minute(DateTimeOffset at) => at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static async Task<IResult> ApproveAsync(HttpContext context, IAntiforgery antiforgery, SchoolDesk desk)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the page.");
        }

        var account = AccountOf(context.User);
        if (account.Role is not (AccountRole.District or AccountRole.DataTeam))
        {
            return await Portal.DeniedAsync(context);
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
            return await Portal.DeniedAsync(context);
        }

        var schoolCode = account.Role == AccountRole.School ? account.SchoolCode! : code;
        if (string.IsNullOrEmpty(schoolCode))
        {
            return Html.Content(Html.Page(Html.T("学校", "School"),
                $"<h1>{Html.T("学校", "School")}</h1><p>{Html.T("请指定学校标识码：/school?code=…", "Give the school's code: /school?code=…")}</p>"));
        }

        var status = await desk.StatusAsync(account, schoolCode, context.RequestAborted);
        if (status is null)
        {
            return Html.Content(Html.Page(Html.T("学校", "School"),
                $"<h1>{Html.E(schoolCode)}</h1><p>{Html.T("暂无问题清单。", "No worksheet has been issued to this school.")}</p><p><a href=\"/\">{Html.T("首页", "Home")}</a></p>"),
                StatusCodes.Status404NotFound);
        }

        var body = new StringBuilder();
        var issued = Day(status.IssuedAt);
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>{Html.E(status.SchoolCode)} · {Html.E(status.RoundCode)}</h1>
            <p>{(Html.English
                ? $"Worksheet issue {status.IssueNumber}, issued {issued}, due {status.Deadline:yyyy-MM-dd}; {status.IssuedErrors} errors and {status.IssuedWarnings} warnings when issued, <strong>{status.OpenErrors} errors and {status.OpenWarnings} warnings open now</strong>."
                : $"问题清单第 {status.IssueNumber} 版，{issued} 下发，截止 {status.Deadline:yyyy-MM-dd}；下发时 {status.IssuedErrors} 个错误、{status.IssuedWarnings} 个警告，<strong>现在未解决 {status.OpenErrors} 个错误、{status.OpenWarnings} 个警告</strong>。")}</p>
            <p><a href="/school/worksheets/{status.WorksheetId}">{Html.T("下载问题清单", "Download the worksheet")}</a></p>
            """);
        if (status.RoundOpen)
        {
            var tokens = antiforgery.GetAndStoreTokens(context);
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>{Html.T("上传修改后的问题清单", "Upload the corrected worksheet")}</h2>
                <p>{Html.T($"只接收本校下发的 .xlsx 问题清单，文件不超过 {ReturnLimits.Default.MaxBytes / (1024 * 1024)} MB。",
                    $"Only the .xlsx worksheet issued to your school is taken, up to {ReturnLimits.Default.MaxBytes / (1024 * 1024)} MB.")}</p>
                <form method="post" action="/school/returns" enctype="multipart/form-data">
                {Html.Token(tokens)}
                <input type="file" name="file" accept=".xlsx" required aria-label="{Html.T("问题清单文件", "Worksheet file")}">
                <button type="submit">{Html.T("上传", "Upload")}</button>
                </form>
                """);
        }
        else
        {
            body.Append(CultureInfo.InvariantCulture, $"<p>{Html.T("本轮核查已结束，不再接收上传。", "This round is closed; no more returns are taken.")}</p>");
        }

        if (status.RoundOpen && account.Role == AccountRole.School)
        {
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>{Html.T("确认", "Sign-off")}</h2>
                <p>{Html.T("所有错误已更正、所有警告已更正或说明后，请确认本校数据。", "Once every error is fixed and every warning fixed or explained, certify your school's data.")}</p>
                <form method="post" action="/school/certify">{Html.Token(antiforgery.GetAndStoreTokens(context))}<button type="submit">{Html.T("确认本校数据", "Certify")}</button></form>
                """);
        }

        if (account.Role == AccountRole.School)
        {
            body.Append(CultureInfo.InvariantCulture, $"<p><a href=\"/account/second-factor\">{Html.T("第二重验证（可选）", "Second factor (optional)")}</a></p>");
        }

        var problems = await desk.OpenProblemsAsync(account, schoolCode, From(context), 1000, context.RequestAborted);
        body.Append(CultureInfo.InvariantCulture, $"""
            <h2>{Html.T("仍未解决的问题", "What remains open")} ({problems.Count}{(problems.Count == 1000 ? "+" : "")})</h2>
            <table><tr><th>{Html.T("学籍号", "Student no.")}</th><th>{Html.T("规则", "Rule")}</th><th>{Html.T("级别", "Severity")}</th><th>{Html.T("字段", "Field")}</th><th>{Html.T("当前值", "Value now")}</th><th>{Html.T("已说明", "Explained")}</th></tr>
            """);
        foreach (var p in problems)
        {
            var student = p.RecordId is { } recordId
                ? $"<a href=\"/school/records/{recordId.ToString(CultureInfo.InvariantCulture)}\">{Html.E(p.StudentNo)}</a>"
                : Html.E(p.StudentNo);
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{student}</td><td>{Html.E(p.RuleId)} {Html.E(Html.English ? p.TitleEn : p.TitleZh)}</td><td>{(p.Severity == "error" ? Html.T("错误", "error") : Html.T("警告", "warning"))}</td><td>{Html.E(p.Field)}</td><td>{Html.E(p.Value)}</td><td>{(p.Explained ? Html.T("是", "yes") : "")}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture, $"""
            </table>
            <h2>{Html.T("上传记录", "Returns")}</h2>
            <table><tr><th>{Html.T("回执", "Receipt")}</th><th>{Html.T("文件", "File")}</th><th>{Html.T("时间", "When")}</th><th>{Html.T("上传人", "By")}</th></tr>
            """);
        foreach (var r in status.Returns)
        {
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td><a href=\"/school/returns/{r.ReturnId}\">#{r.ReturnId}</a></td><td>{Html.E(r.FileName)}</td><td>{Minute(r.ReceivedAt)}</td><td>{Html.E(r.ReceivedBy)}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture, $"</table><p><a href=\"/\">{Html.T("首页", "Home")}</a></p>");
        return Html.Content(Html.Page(Html.T("学校", "School"), body.ToString()));
    }

    /// <summary>
    /// Where a student's values came from: each version (the extract row, or the return that made it), every correction
    /// (who, which file and cell, old → new) and every finding with what became of it. Only records of schools the account
    /// acts for; reading it is audited, a record out of scope too. Addressed by the record's id, with the same student's
    /// records of other rounds that the account may see.
    /// </summary>
    private static async Task<IResult> LineageAsync(HttpContext context, LineageReader lineage, long id)
    {
        var account = AccountOf(context.User);
        if (account.Role == AccountRole.Manager)
        {
            return await Portal.DeniedAsync(context);
        }

        var records = await lineage.ReadRecordAsync(id, account, From(context), context.RequestAborted);
        if (records.Count == 0)
        {
            return NotFound();
        }

        var studentNo = records.FirstOrDefault(r => r.RecordId == id)?.StudentNo;
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"<h1>{Html.T("数据来源", "Lineage")} · {Html.E(studentNo)}</h1>");
        foreach (var record in records)
        {
            body.Append(CultureInfo.InvariantCulture, $"""
                <h2>{Html.E(record.RoundCode)} · {Html.E(record.SchoolCode)}</h2>
                <h3>{Html.T("版本", "Versions")}</h3>
                <table><tr><th>{Html.T("版本", "Version")}</th><th>{Html.T("来源", "From")}</th></tr>
                """);
            foreach (var v in record.Versions)
            {
                var from = v.Source is { } source
                    ? $"{Html.E(source.FileName)} · {Html.T("行", "row")} {source.Row} · {Minute(source.StagedAt)} · {Html.E(source.StagedBy)}"
                    : v.ReturnId is { } returnId ? $"{Html.T("回执", "return")} #{returnId}" : "";
                body.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>v{v.Version}{(v.Current ? $" ({Html.T("当前", "current")})" : "")}{(v.Removed ? $" · {Html.T("已删除", "removed")}" : "")}</td><td>{from}</td></tr>");
            }

            body.Append(CultureInfo.InvariantCulture, $"""
                </table><h3>{Html.T("修改", "Corrections")}</h3>
                <table><tr><th>{Html.T("回执", "Return")}</th><th>{Html.T("单元格", "Cell")}</th><th>{Html.T("字段", "Field")}</th><th>{Html.T("原值 → 新值", "Before → after")}</th><th>{Html.T("版本", "Versions")}</th></tr>
                """);
            foreach (var c in record.Corrections)
            {
                var file = record.Returns.FirstOrDefault(r => r.ReturnId == c.ReturnId);
                body.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>#{c.ReturnId} {Html.E(file?.FileName)} · {Html.E(file?.ReceivedBy)} · {(file is null ? "" : Minute(file.ReceivedAt))}</td><td>{Html.E(c.Sheet)}!{Html.E(c.Cell)}</td><td>{Html.E(c.Column ?? c.Field)}</td><td>{Html.E(c.OldValue)} → {Html.E(c.NewValue)}</td><td>v{c.FromVersion} → v{c.ToVersion}</td></tr>");
            }

            body.Append(CultureInfo.InvariantCulture, $"""
                </table><h3>{Html.T("核查结果", "Findings")}</h3>
                <table><tr><th>{Html.T("规则", "Rule")}</th><th>{Html.T("字段", "Field")}</th><th>{Html.T("值", "Value")}</th><th>{Html.T("版本", "Version")}</th><th>{Html.T("状态", "Status")}</th></tr>
                """);
            foreach (var f in record.Findings)
            {
                body.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>{Html.E(f.RuleId)}</td><td>{Html.E(f.Field)}</td><td>{Html.E(f.Value)}</td><td>v{f.RecordVersion}</td><td>{Html.E(f.Status)}</td></tr>");
            }

            body.Append("</table>");
        }

        body.Append(CultureInfo.InvariantCulture, $"<p><a href=\"/school\">{Html.T("返回", "Back")}</a></p>");
        return Html.Content(Html.Page(Html.T("数据来源", "Lineage"), body.ToString()));
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
        // The file is served only as it was issued (its recorded sha256), read from disk as it is sent.
        string? sha256 = null;
        if (path is not null)
        {
            await using var read = File.OpenRead(path);
            sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(read, context.RequestAborted));
        }

        if (path is null || sha256 != file.Sha256)
        {
            return Html.Content(Html.Page(Html.T("文件不在", "File gone"),
                $"<h1>{Html.T("文件不在服务器上", "The file is not on the server")}</h1><p>{Html.T("请联系数据管理员重新下发。", "Ask the data team to issue the worksheet again.")}</p>"),
                StatusCodes.Status410Gone);
        }

        return Results.File(Path.GetFullPath(path), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", file.FileName);
    }

    private static async Task<IResult> UploadAsync(HttpContext context, IAntiforgery antiforgery, ReturnIngest ingest, ReturnBatcher batcher,
        PendingUploads pending, PortalSettings settings, Gates gates)
    {
        // An upload a little too large is still received (and thrown away) so that the browser reads why, not a reset
        // connection; one past Portal.MaxDrainedBytes is cut off by the server.
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = Portal.MaxDrainedBytes;
        }

        // Who may return worksheets at all is decided before anything of the upload is read, the form included (the ingest
        // decides it again for the file, and the school of the file's _meta before any of its rows).
        var account = AccountOf(context.User);
        try
        {
            await ingest.CheckUploaderAsync(account, Html.T("所选文件", "the chosen file"), context.RequestAborted);
        }
        catch (WorksheetRejectedException refusal)
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            return Refused(refusal.MessageIn(Html.English ? WorksheetLanguage.English : WorksheetLanguage.Chinese), StatusCodes.Status403Forbidden);
        }

        // Over the size limit by its length: refused before the form is read (the form, token included, could not be read whole).
        var tooLarge = context.Request.ContentLength > Portal.MaxUploadRequestBytes;
        IFormFile? upload = null;
        if (!tooLarge)
        {
            try
            {
                if (!await antiforgery.IsRequestValidAsync(context))
                {
                    return Results.BadRequest("The form expired or did not come from this site; reload the page.");
                }

                upload = (await context.Request.ReadFormAsync(context.RequestAborted)).Files["file"];
                tooLarge = upload?.Length > ReturnLimits.Default.MaxBytes;
            }
            catch (Exception e) when (e is BadHttpRequestException or InvalidDataException)
            {
                tooLarge = true; // sent without its length, and longer than the server reads
            }
        }

        if (tooLarge)
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            var refusal = ReturnLimits.Default.TooLarge(upload?.FileName ?? Html.T("所选文件", "the chosen file"));
            await ingest.RefusedAsync(account, refusal, upload?.Length ?? context.Request.ContentLength, context.RequestAborted);
            return Refused(refusal.MessageIn(Html.English ? WorksheetLanguage.English : WorksheetLanguage.Chinese), StatusCodes.Status413PayloadTooLarge);
        }

        if (upload is null || upload.Length == 0)
        {
            return Refused(Html.T("没有选择文件：请选择修改后的问题清单（.xlsx）再上传。", "No file was chosen: choose the corrected worksheet (.xlsx) and upload again."));
        }

        // The file is held (a slot of the gate) from its reading until its batch is done; the batch goes on when the
        // browser goes away, and the receipt is on the school's page.
        var slot = await gates.Uploads.EnterAsync(context.RequestAborted);
        Task<BatchOutcome> outcome;
        try
        {
            await using var stream = upload.OpenReadStream();
            outcome = batcher.SubmitAsync(await ingest.ReceiveAsync(stream, Path.GetFileName(upload.FileName), account, context.RequestAborted));
        }
        catch (WorksheetRejectedException refusal)
        {
            slot.Dispose();
            return Refused(refusal.MessageIn(Html.English ? WorksheetLanguage.English : WorksheetLanguage.Chinese));
        }
        catch
        {
            slot.Dispose();
            throw;
        }

        _ = outcome.ContinueWith(_ => slot.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (await Task.WhenAny(outcome, Task.Delay(settings.UploadAnswerWithin, context.RequestAborted)) == outcome)
        {
            return Answer(PendingUploads.Answer.Of(await outcome));
        }

        return Results.Redirect($"/school/uploads/{pending.Add(account.Name, outcome)}");
    }

    /// <summary>An upload answered before its batch was done: "received, being checked" until it is, then as the upload would have been answered.</summary>
    private static async Task<IResult> UploadedAsync(HttpContext context, PendingUploads pending, string key)
    {
        if (pending.Find(key, AccountOf(context.User).Name) is not { } outcome)
        {
            return NotFound();
        }

        if (outcome.IsCompleted)
        {
            return Answer(await outcome);
        }

        context.Response.Headers["Refresh"] = "3";
        return Html.Content(Html.Page(Html.T("正在检查", "Being checked"), $"""
            <h1>{Html.T("文件已收到，正在检查", "Received, being checked")}</h1>
            <p>{Html.T("文件已收到，正在与其他学校同时上传的文件一起核验和复查。检查完成后本页会自动显示回执，通常不超过一分钟。",
                "The file was received and is being verified and re-checked together with the files other schools uploaded at the same time. This page shows the receipt by itself when the check is done, usually within a minute.")}</p>
            <p>{Html.T("可以离开本页：回执也会出现在本校页面上。", "You may leave this page: the receipt will also be on your school's page.")}</p>
            <p><a href="/school/uploads/{Html.E(key)}">{Html.T("刷新", "Refresh")}</a> · <a href="/school">{Html.T("返回", "Back")}</a></p>
            """));
    }

    private static IResult Answer(PendingUploads.Answer outcome) => outcome switch
    {
        { ReturnId: { } returnId } => Results.Redirect($"/school/returns/{returnId}"),
        { Refusal: { } refusal } => Refused(refusal.MessageIn(Html.English ? WorksheetLanguage.English : WorksheetLanguage.Chinese)),
        _ => Html.Content(Html.Page(Html.T("暂未接收", "Not taken yet"), $"""
            <h1>{Html.T("文件暂时无法接收", "The file could not be taken just now")}</h1>
            <p>{Html.T("服务器处理时出错，文件中的任何内容都没有被采用。请几分钟后重新上传同一文件。",
                "The server failed while taking it; nothing of the file was kept. Upload the same file again in a few minutes.")}</p>
            <p><a href="/school">{Html.T("返回", "Back")}</a></p>
            """), StatusCodes.Status503ServiceUnavailable),
    };

    internal static IResult Refused(string message, int status = StatusCodes.Status400BadRequest) => Html.Content(Html.Page(Html.T("未接收", "Not taken"),
        $"<h1>{Html.T("文件未被接收", "The file was not taken")}</h1>{Html.Error(message)}<p>{Html.T("没有任何数据被修改。", "Nothing was changed.")}</p><p><a href=\"/school\">{Html.T("返回", "Back")}</a></p>"),
        status);

    private static async Task<IResult> ReceiptAsync(HttpContext context, SchoolDesk desk, long id)
    {
        if (await ReadReceiptAsync(context, desk, id) is not { } receipt)
        {
            return NotFound();
        }

        var language = Html.English ? WorksheetLanguage.English : WorksheetLanguage.Chinese;
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"""
            <h1>{Html.T("回执", "Receipt")} #{receipt.ReturnId}</h1>
            <p>{Html.E(receipt.SchoolName)} ({Html.E(receipt.SchoolCode)}) · {Html.E(receipt.RoundCode)} · {Html.T($"第 {receipt.IssueNumber} 版", $"issue {receipt.IssueNumber}")} ·
            {Html.E(receipt.FileName)} · {Minute(receipt.ReceivedAt)} · {Html.E(receipt.ReceivedBy)}</p>
            <p><a href="/school/returns/{receipt.ReturnId}/receipt.xlsx">{Html.T("下载回执（.xlsx）", "Download the receipt (.xlsx)")}</a></p>
            <table><tr><th>{Html.T("行", "Row")}</th><th>{Html.T("学籍号", "Student no.")}</th><th>{Html.T("结果", "Outcome")}</th><th>{Html.T("修改", "Changes")}</th><th>{Html.T("说明", "Notes")}</th></tr>
            """);
        foreach (var row in receipt.Rows)
        {
            var changes = string.Join("<br>", row.Changes.Select(c => $"{Html.E(c.ColumnHeader)}: {Html.E(c.OldValue)} → {Html.E(c.NewValue)}"));
            var notes = string.Join("<br>", row.Reasons.Select(Html.E).Concat(row.StillFailing.Select(p => Html.E($"{p.RuleId} {p.Title}"))));
            body.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{row.ExcelRow}</td><td>{Html.E(row.StudentNo)}</td><td>{Html.E(row.Outcome.Label(language))}</td><td>{changes}</td><td>{notes}</td></tr>");
        }

        body.Append(CultureInfo.InvariantCulture,
            $"</table><p>{Html.T("仍未解决", "Still open")}: {receipt.StillOpen.Count}</p><p><a href=\"/school\">{Html.T("返回", "Back")}</a></p>");
        return Html.Content(Html.Page(Html.T("回执", "Receipt"), body.ToString()));
    }

    private static async Task<IResult> ReceiptFileAsync(HttpContext context, SchoolDesk desk, long id)
    {
        // The bytes are made inside the read so that the audit entry carries the sha256 of exactly what is handed out.
        Receipt? receipt = null;
        var bytes = await desk.ReceiptFileAsync(AccountOf(context.User), id, From(context), json =>
        {
            receipt = JsonSerializer.Deserialize<Receipt>(json, Receipt.JsonOptions)!;
            using var output = new MemoryStream();
            ReceiptWriter.Write(receipt, output);
            return output.ToArray();
        }, context.RequestAborted);
        return bytes is null || receipt is null
            ? NotFound()
            : Results.File(bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ReceiptWriter.FileName(receipt));
    }

    private static async Task<Receipt?> ReadReceiptAsync(HttpContext context, SchoolDesk desk, long id) =>
        await desk.ReceiptAsync(AccountOf(context.User), id, From(context), context.RequestAborted) is { } found
            ? JsonSerializer.Deserialize<Receipt>(found.ReceiptJson, Receipt.JsonOptions)
            : null;

    /// <summary>Out of scope and not there answer alike, so that ids cannot be probed.</summary>
    private static IResult NotFound() => Html.Content(Html.Page(Html.T("未找到", "Not found"),
        $"<h1>{Html.T("未找到", "Not found")}</h1><p><a href=\"/\">{Html.T("首页", "Home")}</a></p>"),
        StatusCodes.Status404NotFound);
}
