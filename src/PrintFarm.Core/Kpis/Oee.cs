using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;

namespace PrintFarm.Core.Kpis;

/// <summary>
/// Overall equipment effectiveness, the one place its formula lives: OEE = availability × performance × quality
/// (Nakajima's definition, as ISO 22400-2:2014 names it: availability = actual production time ÷ planned busy time,
/// effectiveness = planned run time per item × produced quantity ÷ actual production time, quality ratio = good quantity
/// ÷ produced quantity). For a print farm: production time is printing time, planned time is the window minus
/// maintenance and declared off-shift time, the planned run time is the slicer's estimate.
/// </summary>
public static class Oee
{
    /// <summary>
    /// Whether an ended job's toys count as quality losses (toys started that are not good), by its failure reason
    /// (<see cref="FailureReasons"/>). A completed job has none. An operator cancel is a decision, not a defect: a job
    /// whose reason is <see cref="FailureReason.OperatorCancel"/> (Bambu reports a cancel as FAILED with a cancel code),
    /// and a cancelled job no source gave a reason for, are left out of quality altogether. Every other failed job
    /// counts (its toys are scrap whatever the cause, unknown included), and so does a cancel for a named reason
    /// (spaghetti, adhesion, clog, runout, power loss, user error): it was stopped because the toys were lost.
    /// </summary>
    public static bool CountsAgainstQuality(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.Outcome switch
        {
            JobOutcome.Completed => false,
            _ when job.Reason == FailureReason.OperatorCancel => false,
            JobOutcome.Failed => true,
            _ => job.Reason is { } reason && reason != FailureReason.Unknown,
        };
    }

    /// <summary>Printing time ÷ planned time, at most 1; none without planned time.</summary>
    public static double? Availability(double printingSeconds, double plannedSeconds) =>
        plannedSeconds > 0 ? Math.Min(1, Math.Max(0, printingSeconds) / plannedSeconds) : null;

    /// <summary>
    /// Slicer-estimated time ÷ actual printing time of the completed jobs that carry an estimate, at most 1; none
    /// without such a job.
    /// </summary>
    public static double? Performance(double estimateSeconds, double actualSeconds) =>
        actualSeconds > 0 ? Math.Min(1, Math.Max(0, estimateSeconds) / actualSeconds) : null;

    /// <summary>Good toys ÷ toys started (operator cancels left out); none when no toy was started.</summary>
    public static double? Quality(long goodToys, long toysStarted) =>
        toysStarted > 0 ? (double)goodToys / toysStarted : null;

    /// <summary>Availability × performance × quality; none when any of the three is unknown.</summary>
    public static double? Value(double? availability, double? performance, double? quality) =>
        availability is { } a && performance is { } p && quality is { } q ? a * p * q : null;
}
