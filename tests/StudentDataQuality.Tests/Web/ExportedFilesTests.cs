using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Exports;
using StudentDataQuality.Synthetic;
using StudentDataQuality.Tests.Infrastructure;
using StudentDataQuality.Tests.Worksheets;
using StudentDataQuality.Worksheets.Exports;

namespace StudentDataQuality.Tests.Web;

/// <summary>
/// Every file the portal already handed out now leaves through the export register (docs/exports.md, "Every download"):
/// the worksheet, the receipt, the confirmation sheets, the class answer workbook and the trend tables each carry a
/// watermark (read back from the file as a finder would) that names a row of the register whose sha256 is the sha256 of
/// the bytes received and whose taker is the account that took it; a watermarked worksheet sent back is taken as before;
/// a manager gets no file with students in it from any address, and the register has nothing of it.
/// </summary>
public sealed class ExportedFilesTests(ExportedFilesTests.Site site) : IClassFixture<ExportedFilesTests.Site>
{
    /// <summary>A round in the portal with two classes printed (the campaign open), as the class pages' tests have it.</summary>
    public sealed class Site : IAsyncLifetime
    {
        public PortalRound Round { get; } = new();
        public ClassCampaign Campaign { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Round.InitializeAsync();
            Campaign = await ClassCampaign.PrintAsync(Round);
        }

        public Task DisposeAsync() => Round.DisposeAsync();
    }

    private DatabaseFixture Db => site.Round.Database;

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private async Task<PortalBrowser> SignedInAsync(string name, AccountRole role, string? school = null)
    {
        var browser = new PortalBrowser(site.Round.Site);
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(Db.DataSource, name, role, school));
        return browser;
    }

    /// <summary>
    /// The register's row the watermark names: it is the file received (its sha256), taken by <paramref name="taker"/>, of
    /// the kind, form and scope the download is; and its audit entry (<c>export.take</c>) is there.
    /// </summary>
    private async Task AssertOnRecordAsync(Watermark? watermark, byte[] bytes, string taker, ExportKind kind, ExportForm form, string scope)
    {
        Assert.NotNull(watermark);
        Assert.Equal(taker, watermark.TakenBy);
        Assert.Equal(kind, watermark.Kind);
        Assert.Equal(form, watermark.Form);
        var row = await Db.ScalarAsync<string>(
            "SELECT concat_ws('|', sha256, taken_by, kind, form, scope) FROM export.file WHERE export_id = @id", ("id", watermark.ExportId));
        Assert.Equal(string.Join('|', Sha256(bytes), taker, ExportKinds.Name(kind), ExportKinds.Name(form), scope), row);
        Assert.Equal(1L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'export.take' AND object = @id AND actor = @a",
            ("id", watermark.ExportId), ("a", taker)));
    }

    private static Watermark? XlsxWatermarkOf(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return XlsxWatermark.Read(stream);
    }

    [Fact]
    public async Task TheWorksheetAndItsReceipt_CarryTheirRegisterRow_AndTheWatermarkedWorksheetReturned_IsTakenBackAsBefore()
    {
        var (school, worksheetId, issuedSha) = await Db.ScalarAsync<string>("""
            SELECT school_code || '|' || worksheet_id || '|' || sha256 FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code LIMIT 1
            """, ("r", site.Round.Run.RoundId)) is var row && row.Split('|') is [var s, var w, var h] ? (s, Guid.Parse(w), h) : default;
        var name = "school-x" + school;
        using var registrar = await SignedInAsync(name, AccountRole.School, school);

        var download = await registrar.GetAsync($"/school/worksheets/{worksheetId}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        // The file that leaves is the issued one with its watermark: no longer the issued bytes, on record as itself.
        Assert.NotEqual(issuedSha, Sha256(bytes));
        var watermark = XlsxWatermarkOf(bytes);
        await AssertOnRecordAsync(watermark, bytes, name, ExportKind.Worksheet, ExportForm.Full, "school:" + school);
        Assert.Equal(ExportRegisterPurpose(ExportKind.Worksheet), watermark!.Purpose);
        // The download's own audit entry stays, with the issued file's sha256.
        Assert.Equal(issuedSha, await Db.ScalarAsync<string>(
            "SELECT details->>'sha256' FROM audit.event WHERE action = 'worksheet.download' AND actor = @a AND object = @w", ("a", name), ("w", worksheetId.ToString())));

        // The watermarked worksheet, corrected as a registrar does and sent back: taken as any return.
        var answers = RegistrarAnswers.Load(site.Round.Province.RegistrarAnswersPath);
        var edited = RegistrarSimulator.Edit(bytes, answers.GetValueOrDefault(school) ?? [], RegistrarStyle.Diligent, 19);
        var upload = await registrar.UploadAsync("/school", "/school/returns", "returned.xlsx", edited.Workbook);
        Assert.Equal(HttpStatusCode.Redirect, upload.StatusCode);
        var returnId = await Db.ScalarAsync<long>("SELECT return_id FROM exchange.worksheet_return WHERE worksheet_id = @w", ("w", worksheetId));
        Assert.Equal($"/school/returns/{returnId}", upload.Headers.Location?.OriginalString);
        Assert.True(await Db.ScalarAsync<int>(
            "SELECT coalesce(jsonb_array_length(receipt->'Rows'), 0) FROM exchange.worksheet_return WHERE return_id = @id", ("id", returnId)) > 0);

        // Its receipt as a file: watermarked as it is made, the same sha256 in the register and in the download's audit entry.
        var receipt = await registrar.GetAsync($"/school/returns/{returnId}/receipt.xlsx");
        Assert.Equal(HttpStatusCode.OK, receipt.StatusCode);
        var receiptBytes = await receipt.Content.ReadAsByteArrayAsync();
        await AssertOnRecordAsync(XlsxWatermarkOf(receiptBytes), receiptBytes, name, ExportKind.Receipt, ExportForm.Full,
            "return:" + returnId.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(Sha256(receiptBytes), await Db.ScalarAsync<string>(
            "SELECT details->>'sha256' FROM audit.event WHERE action = 'receipt.download' AND actor = @a ORDER BY event_id DESC LIMIT 1", ("a", name)));
    }

    [Fact]
    public async Task TheConfirmationSheetsPdf_CarriesItsWatermark_AndThePrintsSha256IsOfTheBytesThatLeft()
    {
        var campaign = site.Campaign;
        var name = "registrar-x" + campaign.School;
        using var registrar = await SignedInAsync(name, AccountRole.School, campaign.School);
        var pdf = await registrar.PostAsync("/school", "/school/confirmations/print", new()
        {
            ["grade"] = campaign.Class.Grade.ToString(CultureInfo.InvariantCulture), ["class"] = campaign.Class.ClassName,
        });
        Assert.Equal(HttpStatusCode.OK, pdf.StatusCode);
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType?.MediaType);
        var bytes = await pdf.Content.ReadAsByteArrayAsync();

        using var temp = new TempFolder();
        var path = Path.Combine(temp.Path, "found.pdf");
        await File.WriteAllBytesAsync(path, bytes);
        var found = ExportFileReader.Read(path);
        Assert.Equal(Sha256(bytes), found.Sha256);
        await AssertOnRecordAsync(found.Watermark, bytes, name, ExportKind.ConfirmationSheets, ExportForm.Full,
            $"class:{campaign.School}/{campaign.Class.Grade}/{campaign.Class.ClassName}");
        // The print's own record (and its audit entry) carry the sha256 of the watermarked file, not of a file before it.
        Assert.Equal(Sha256(bytes), await Db.ScalarAsync<string>(
            "SELECT sha256 FROM confirm.print WHERE printed_by = @a ORDER BY print_id DESC LIMIT 1", ("a", name)));
        Assert.Equal(Sha256(bytes), await Db.ScalarAsync<string>(
            "SELECT details->>'sha256' FROM audit.event WHERE action = 'confirmation.print' AND actor = @a ORDER BY event_id DESC LIMIT 1", ("a", name)));
    }

    [Fact]
    public async Task ADistrictOffice_IsRefusedTheConfirmationSheets_ByThePolicy_WithAPageThatSaysSo_AndNothingIsPrinted()
    {
        var campaign = site.Campaign;
        var district = await Db.ScalarAsync<string>("SELECT district_code FROM access.school_district WHERE school_code = @s", ("s", campaign.School));
        var name = "district-x" + district;
        var browser = new PortalBrowser(site.Round.Site);
        await browser.SignInFirstTimeAsync(name, await PortalBrowser.AccountAsync(Db.DataSource, name, AccountRole.District, district: district));
        using (browser)
        {
            // The school's page shows the district no print button (the policy gives it no sheets) …
            var schoolPage = await (await browser.GetAsync("/school?code=" + campaign.School)).Content.ReadAsStringAsync();
            Assert.Contains("id=\"confirmations\"", schoolPage, StringComparison.Ordinal);
            Assert.DoesNotContain("action=\"/school/confirmations/print\"", schoolPage, StringComparison.Ordinal);

            // … and a print posted all the same is refused.
            var prints = await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.print");
            var answer = await browser.PostAsync("/school?code=" + campaign.School, "/school/confirmations/print", new()
            {
                ["school"] = campaign.School, ["grade"] = campaign.Class.Grade.ToString(CultureInfo.InvariantCulture), ["class"] = campaign.Class.ClassName,
            });
            Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
            Assert.Equal("text/html", answer.Content.Headers.ContentType?.MediaType);
            var page = await answer.Content.ReadAsStringAsync();
            Assert.Contains("<h1>不能下载此文件</h1>", page, StringComparison.Ordinal);
            Assert.Contains("role=\"alert\"", page, StringComparison.Ordinal);
            Assert.Equal(prints, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.print"));
            Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE taken_by = @a", ("a", name)));
            Assert.Equal("policy", await Db.ScalarAsync<string>(
                "SELECT details->>'reason' FROM audit.event WHERE action = 'export.refused' AND actor = @a AND details->>'kind' = 'confirmation_sheets'", ("a", name)));
        }
    }

    [Fact]
    public async Task TheClassAnswerWorkbook_IsTakenMasked_WithItsWatermark()
    {
        var campaign = site.Campaign;
        const string name = "teacher-export";
        using var teacher = new PortalBrowser(site.Round.Site);
        await teacher.SignInFirstTimeAsync(name, await campaign.TeacherAsync(Db, name));
        var download = await teacher.GetAsync($"/class/{campaign.Class.Grade}/{Uri.EscapeDataString(campaign.Class.ClassName)}/answers.xlsx");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        await AssertOnRecordAsync(XlsxWatermarkOf(bytes), bytes, name, ExportKind.ClassAnswers, ExportForm.Masked,
            $"class:{campaign.School}/{campaign.Class.Grade}/{campaign.Class.ClassName}");
        Assert.Equal(campaign.Printed.Sheets.Count, await Db.ScalarAsync<int>(
            "SELECT rows FROM export.file WHERE taken_by = @a AND kind = 'class_answers'", ("a", name)));
    }

    [Fact]
    public async Task AManager_TakesATrendTable_Watermarked_AsAnAggregate()
    {
        using var manager = await SignedInAsync("manager-trend-x", AccountRole.Manager);
        var download = await manager.GetAsync("/trends/export/districts.xlsx");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        await AssertOnRecordAsync(XlsxWatermarkOf(bytes), bytes, "manager-trend-x", ExportKind.TrendTable, ExportForm.Aggregate, "province");
        // The export's own audit entry stays.
        Assert.Equal(1L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'report.export' AND actor = 'manager-trend-x'"));
    }

    [Fact]
    public async Task AManager_GetsNoFileWithStudents_FromAnyAddress_AndTheRegisterHasNothingOfIt()
    {
        var campaign = site.Campaign;
        var worksheetId = await Db.ScalarAsync<Guid>("SELECT worksheet_id FROM exchange.worksheet WHERE round_id = @r ORDER BY school_code LIMIT 1",
            ("r", site.Round.Run.RoundId));
        var record = await Db.ScalarAsync<long>("SELECT min(record_id) FROM registry.record WHERE round_id = @r", ("r", site.Round.Run.RoundId));
        var returnId = await Db.ScalarAsync<long>("SELECT coalesce(max(return_id), 1) FROM exchange.worksheet_return");
        const string name = "manager-nofile";
        using var manager = await SignedInAsync(name, AccountRole.Manager);
        string[] addresses =
        [
            $"/school/worksheets/{worksheetId}",
            $"/school/returns/{returnId}/receipt.xlsx",
            $"/school/records/{record}",
            "/district/problems.xlsx?round=portal",
            $"/class/{campaign.Class.Grade}/{Uri.EscapeDataString(campaign.Class.ClassName)}/answers.xlsx",
        ];
        foreach (var address in addresses)
        {
            var answer = await manager.GetAsync(address);
            Assert.True(answer.StatusCode != HttpStatusCode.OK, $"{address}: {answer.StatusCode}");
            Assert.Null(answer.Content.Headers.ContentDisposition);
            var body = await answer.Content.ReadAsByteArrayAsync();
            Assert.False(body.Length >= 2 && body[0] == 'P' && body[1] == 'K', $"{address}: a workbook was sent");
        }

        // Printing needs a form of the school's page, which a manager never gets: the post is refused as any forged form.
        var print = await manager.Http.PostAsync(new Uri(site.Round.Site, "/school/confirmations/print"), new FormUrlEncodedContent(
            new Dictionary<string, string> { ["grade"] = campaign.Class.Grade.ToString(CultureInfo.InvariantCulture), ["class"] = campaign.Class.ClassName }));
        Assert.NotEqual(HttpStatusCode.OK, print.StatusCode);
        Assert.NotEqual("application/pdf", print.Content.Headers.ContentType?.MediaType);

        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM export.file WHERE taken_by = @a", ("a", name)));
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'export.take' AND actor = @a", ("a", name)));
        Assert.Equal(0L, await Db.ScalarAsync<long>("SELECT count(*) FROM confirm.print WHERE printed_by = @a", ("a", name)));
        // Each refusal is on record.
        Assert.True(await Db.ScalarAsync<long>("SELECT count(*) FROM audit.event WHERE action = 'access.refused' AND actor = @a", ("a", name)) >= 4);
    }

    [Theory]
    [InlineData(null, 24)]
    [InlineData(" ", 24)]
    [InlineData("1", 1)]
    [InlineData("48", 48)]
    [InlineData("168", 168)]
    public void TheWindowSetting_IsWholeHours_DefaultingTo24(string? setting, int hours)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [StudentDataQuality.Web.Portal.TakeWithinSetting] = setting }).Build();
        Assert.Equal(TimeSpan.FromHours(hours), StudentDataQuality.Web.Portal.ExportSettingsFrom(configuration).TakeWithin);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("169")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("24h")]
    [InlineData("=cmd|' /C calc'!A0")]
    public void AWindowSettingOutOfRange_StopsThePortal_WithAMessageNamingTheSetting(string setting)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [StudentDataQuality.Web.Portal.TakeWithinSetting] = setting }).Build();
        var e = Assert.Throws<UserErrorException>(() => StudentDataQuality.Web.Portal.ExportSettingsFrom(configuration));
        Assert.Equal("ExportWiring.TakeWithinHours", e.Text?.Code);
        Assert.Contains("Exports:TakeWithinHours", e.Message, StringComparison.Ordinal);
    }

    private static string ExportRegisterPurpose(ExportKind kind) => StudentDataQuality.Data.Exports.ExportRegister.RoutinePurpose(kind);
}
