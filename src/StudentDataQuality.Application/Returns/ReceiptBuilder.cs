using StudentDataQuality.Data.Exchange;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Application.Returns;

/// <summary>Where a return came from: its id, the file, when and by whom it was received.</summary>
public sealed record ReturnArrival(long ReturnId, string FileName, string Sha256, DateTimeOffset ReceivedAt, string ReceivedBy);

/// <summary>
/// The receipt of a return (docs/worksheets.md, "The receipt"): what became of every row, and what is still open at the school
/// after the re-check. Pure: built from the plan and the school's open findings as the caller read them.
/// </summary>
public static class ReceiptBuilder
{
    public static Receipt Build(LockedWorksheet worksheet, ReturnedWorkbook workbook, ReturnPlan plan, ReturnArrival arrival,
        IReadOnlyList<SchoolOpenFinding> open, IReadOnlyDictionary<string, string> ruleTitles)
    {
        ArgumentNullException.ThrowIfNull(worksheet);
        ArgumentNullException.ThrowIfNull(workbook);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(arrival);
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(ruleTitles);
        var language = workbook.Meta.Language;
        var openByRecord = open.ToLookup(p => p.RecordId);
        ReceiptProblem Shown(SchoolOpenFinding p) =>
            new(p.RuleId, p.Severity == "error" ? ProblemSeverity.Error : ProblemSeverity.Warning, p.Field, ruleTitles.GetValueOrDefault(p.RuleId, p.RuleId),
                p.Value);

        var rows = new List<ReceiptRow>();
        foreach (var d in plan.Decisions)
        {
            var identity = d.Row.Identity;
            var (outcome, changes, reasons, failing) = d.Kind switch
            {
                RowDecisionKind.Correct when openByRecord[d.Issued.RecordId].Any() =>
                    (ReceiptOutcome.AppliedStillFailing, Changes(d), Array.Empty<string>(), openByRecord[d.Issued.RecordId].Select(Shown).ToArray()),
                RowDecisionKind.Correct => (ReceiptOutcome.AppliedClean, Changes(d), [], []),
                RowDecisionKind.Explain => (ReceiptOutcome.AwaitingReview, [], [], openByRecord[d.Issued.RecordId].Select(Shown).ToArray()),
                RowDecisionKind.Remove or RowDecisionKind.AlreadyRemoved => (ReceiptOutcome.Removed, [], [], []),
                RowDecisionKind.Reject => (ReceiptOutcome.Rejected, [], d.Problems.Select(p => p.Message(language)).ToArray(), []),
                _ => (ReceiptOutcome.Unchanged, Array.Empty<ReceiptChange>(), d.Note is null ? [] : new[] { d.Note }, Array.Empty<ReceiptProblem>()),
            };
            rows.Add(new ReceiptRow(d.Row.ExcelRow, d.Row.RowKey, identity.GetValueOrDefault("student_no"), identity.GetValueOrDefault("name"), outcome,
                changes, reasons, failing)
            {
                ReasonCodes = d.Kind == RowDecisionKind.Reject ? d.Problems.Select(p => "Return" + p.Code).ToArray()
                    : d.Note is null ? [] : ["ReturnCorrectedNothingChanged"],
            });
        }

        foreach (var problem in workbook.NotImported)
        {
            rows.Add(new ReceiptRow(problem.ExcelRow, problem.RowKey, null, null, ReceiptOutcome.NotImported, [], [problem.Message(language)], [])
            {
                ReasonCodes = ["Return" + problem.Code],
            });
        }

        return new Receipt
        {
            ReturnId = arrival.ReturnId,
            WorksheetId = worksheet.WorksheetId,
            RoundCode = worksheet.RoundCode,
            SchoolCode = worksheet.SchoolCode,
            SchoolName = worksheet.SchoolName,
            IssueNumber = worksheet.IssueNumber,
            FileName = arrival.FileName,
            Sha256 = arrival.Sha256,
            ReceivedAt = arrival.ReceivedAt,
            ReceivedBy = arrival.ReceivedBy,
            Language = language,
            Rows = rows.OrderBy(r => r.ExcelRow).ThenBy(r => r.RowKey, StringComparer.Ordinal).ToList(),
            StillOpen = open.Select(p => new ReceiptOpenProblem(p.StudentNo, p.Name, Shown(p), p.AwaitingReview)).ToList(),
        };

        static ReceiptChange[] Changes(RowDecision d) => d.Changes.Select(c => new ReceiptChange(c.Field, c.Header, c.Old, c.New)).ToArray();
    }
}
