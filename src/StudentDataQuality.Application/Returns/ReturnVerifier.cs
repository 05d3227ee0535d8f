using System.Globalization;
using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Returns;

/// <summary>
/// Whether a returned file can be trusted at all (docs/worksheets.md, "Refused whole"): the school, round and issue it
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
            throw WorksheetRejectedException.Explained(WorksheetRejection.BadSignature, workbook.FileName, WorksheetMeta.SheetName, null, "MetaDiffers");
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
            throw WorksheetRejectedException.Explained(WorksheetRejection.StaleIssue, workbook.FileName, null, null, "Issues", worksheet.IssueNumber,
                worksheet.LatestIssue);
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
        // What is wrong, as a text of the resources (Detail + the key) and its arguments: the message tells it in its language.
        (string Key, object?[] Args)? fault = null;
        if (workbook.Meta.KeyId != key.KeyId || worksheet.KeyId != key.KeyId)
        {
            fault = ("OtherKey", [workbook.Meta.KeyId, key.KeyId]);
        }
        else if (workbook.Meta.Rows.Count != snapshot.Count)
        {
            fault = ("RowCount", [workbook.Meta.Rows.Count, snapshot.Count]);
        }
        else
        {
            foreach (var (rowKey, metaRow) in workbook.Meta.Rows)
            {
                if (!snapshot.TryGetValue(rowKey, out var issued))
                {
                    fault = ("RowNotIssued", [rowKey]);
                    break;
                }

                if (metaRow.Signature != issued.Signature || !RowSignature.Verify(key.Key, worksheet.WorksheetId, rowKey, issued.Values, metaRow.Signature))
                {
                    fault = ("RowSignature", [rowKey]);
                    break;
                }
            }
        }

        if (fault is { } found)
        {
            throw WorksheetRejectedException.Explained(WorksheetRejection.BadSignature, workbook.FileName, WorksheetMeta.SheetName, null, found.Key, found.Args);
        }
    }
}
