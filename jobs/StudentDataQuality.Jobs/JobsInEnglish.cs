using System.Globalization;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Server;
using StudentDataQuality.Worksheets;

namespace StudentDataQuality.Jobs;

/// <summary>
/// What the jobs record is in English, whoever enqueued them: a round's problem, a job's result, and the failure Hangfire keeps
/// for a job (its dashboard and the retries read it), like the audit log. Without this a job would speak the language of the
/// request that enqueued it (Hangfire captures the caller's culture) and its failure the language of the worker's machine.
/// The portal and the command line tell a person a user error in their own language when they show it (docs/portal.md, "Messages").
/// </summary>
public sealed class JobsInEnglish : JobFilterAttribute, IServerFilter, IElectStateFilter
{
    public static readonly CultureInfo English = CultureInfo.GetCultureInfo("en");

    public JobsInEnglish()
    {
        // After Hangfire's CaptureCultureAttribute, which sets the caller's culture when a job starts.
        Order = 100;
    }

    /// <summary>Adds the filter to every job of this process, once.</summary>
    public static void Register()
    {
        lock (GlobalJobFilters.Filters)
        {
            if (!GlobalJobFilters.Filters.Any(f => f.Instance is JobsInEnglish))
            {
                GlobalJobFilters.Filters.Add(new JobsInEnglish());
            }
        }
    }

    /// <summary>The message of a failure as the jobs record it: a user error in English, anything else as it is.</summary>
    public static string MessageOf(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            WorksheetRejectedException refusal => refusal.MessageIn(WorksheetLanguage.English),
            UserErrorException user => user.MessageIn(English),
            _ => error.Message,
        };
    }

    public void OnPerforming(PerformingContext context) => CultureInfo.CurrentUICulture = English;

    public void OnPerformed(PerformedContext context)
    {
    }

    // The failed state is written after the job, on the worker's thread: its message is read then. Only a failure: the other
    // elections happen in the callers too (enqueuing from a portal request, which must keep its reader's language).
    public void OnStateElection(ElectStateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.CandidateState is FailedState)
        {
            CultureInfo.CurrentUICulture = English;
        }
    }
}
