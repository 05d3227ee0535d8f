using System.Globalization;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Returns;

/// <summary>
/// Whether a returned file can be trusted at all (WORKSHEETS.md, what the server refuses): the school, round and issue it
/// names, who sent it, and the signature of every row. Pure: it judges the file against the issued worksheet and its
/// snapshot as read by the caller; a refusal is a <see cref="WorksheetRejectedException"/> and nothing of the file is taken.
/// </summary>
public static class ReturnVerifier
{
    /// <summary>The worksheet the file names, and whether <paramref name="uploader"/> may return it now (the scope rule's verdict, asked in SQL when the worksheet was locked for this uploader).</summary>
    /// <exception cref="WorksheetRejectedException">The file names another school, round or issue; the uploader acts for another school; the round is closed; a newer issue exists.</exception>
    public static void Authorise(LockedWorksheet worksheet, ReturnedWorkbook workbook, Account uploader)
    {
        ArgumentNullException.ThrowIfNull(worksheet);
        ArgumentNullException.ThrowIfNull(workbook);
        ArgumentNullException.ThrowIfNull(uploader);
        var meta = workbook.Meta;
        if (meta.SchoolCode != worksheet.SchoolCode || meta.RoundId != worksheet.RoundId || meta.IssueNumber != worksheet.IssueNumber)
        {
            throw new WorksheetRejectedException(WorksheetRejection.BadSignature, workbook.FileName, WorksheetMeta.SheetName,
                detail: "school, round or issue number differ from the issued worksheet");
        }

        if (!worksheet.UploaderInScope)
        {
            throw new WorksheetRejectedException(WorksheetRejection.OtherSchool, workbook.FileName, detail: worksheet.SchoolCode);
        }

        if (worksheet.RoundStatus != "open")
        {
            throw new WorksheetRejectedException(WorksheetRejection.RoundClosed, workbook.FileName, detail: worksheet.RoundCode);
        }

        if (worksheet.LatestIssue > worksheet.IssueNumber)
        {
            throw new WorksheetRejectedException(WorksheetRejection.StaleIssue, workbook.FileName,
                detail: string.Create(CultureInfo.InvariantCulture, $"v{worksheet.IssueNumber}, newest v{worksheet.LatestIssue}"));
        }
    }

    /// <summary>
    /// The rows <c>_meta</c> records must be exactly the issued rows, each with the signature the server made over the
    /// issued values. The file's own copy of those values is never trusted: the snapshot is what the server signed.
    /// </summary>
    /// <exception cref="WorksheetRejectedException">Another key, other rows, or a signature that does not verify.</exception>
    public static void VerifySignatures(LockedWorksheet worksheet, ReturnedWorkbook workbook, IReadOnlyDictionary<string, IssuedRow> snapshot, SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(worksheet);
        ArgumentNullException.ThrowIfNull(workbook);
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(key);
        string? fault = null;
        if (workbook.Meta.KeyId != key.KeyId || worksheet.KeyId != key.KeyId)
        {
            fault = $"signed with key {workbook.Meta.KeyId}, this server's key is {key.KeyId}";
        }
        else if (workbook.Meta.Rows.Count != snapshot.Count)
        {
            fault = string.Create(CultureInfo.InvariantCulture, $"{workbook.Meta.Rows.Count} rows recorded, {snapshot.Count} issued");
        }
        else
        {
            foreach (var (rowKey, metaRow) in workbook.Meta.Rows)
            {
                if (!snapshot.TryGetValue(rowKey, out var issued))
                {
                    fault = $"row key {rowKey} was not issued";
                    break;
                }

                if (metaRow.Signature != issued.Signature || !RowSignature.Verify(key.Key, worksheet.WorksheetId, rowKey, issued.Values, metaRow.Signature))
                {
                    fault = $"the signature of row key {rowKey} does not verify";
                    break;
                }
            }
        }

        if (fault is not null)
        {
            throw new WorksheetRejectedException(WorksheetRejection.BadSignature, workbook.FileName, WorksheetMeta.SheetName, detail: fault);
        }
    }
}
