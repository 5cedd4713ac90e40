using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Truth;

/// <summary>The OEE inputs of one window (all jobs that ended in it) and the quality and performance they give.</summary>
/// <param name="GoodToys">Toys of completed jobs.</param>
/// <param name="ToysStarted">Good toys and the toys of jobs that count against quality (<see cref="Oee.CountsAgainstQuality"/>).</param>
/// <param name="EstimateSeconds">Slicer estimates of the completed jobs that carry one, seconds.</param>
/// <param name="EstimatedJobsActualSeconds">Print time the worker records for those same jobs, seconds.</param>
public readonly record struct OeeCounts(long GoodToys, long ToysStarted, double EstimateSeconds, double EstimatedJobsActualSeconds)
{
    /// <summary>Good toys ÷ toys started (<see cref="Oee.Quality"/>).</summary>
    public double? Quality => Oee.Quality(GoodToys, ToysStarted);

    /// <summary>Estimated ÷ actual printing time (<see cref="Oee.Performance"/>).</summary>
    public double? Performance => Oee.Performance(EstimateSeconds, EstimatedJobsActualSeconds);
}

/// <summary>
/// The simulator's ground truth for the job-derived parts of OEE: quality and performance of any window, for the farm
/// or one printer, from the jobs that truly ended and the failure reason each format's messages carry, with the core's
/// own formulas (<see cref="Oee"/>). Safe to read while the simulation is still adding jobs.
/// </summary>
public sealed class OeeTruth
{
    private readonly GroundTruth _jobs;

    internal OeeTruth(GroundTruth jobs) => _jobs = jobs;

    /// <summary>
    /// The failure reason the worker records for a simulated job, from what its format's emitter sends: OctoPrint's
    /// cancel (PrintCancelled by a user) and Bambu's cancel code are operator cancels; the failures send a heater or
    /// thermal-runaway error, which no taxonomy keyword names; Moonraker's and the native cancels carry no reason.
    /// </summary>
    public static FailureReason? ReasonOf(TrueJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var outcome = job.Reported.Outcome;
        FailureReason? reported = (job.Format, outcome) switch
        {
            (_, JobOutcome.Completed) => null,
            (PrinterFormat.OctoPrint, _) => FailureReasons.FromOctoPrint(outcome, "Thermal Runaway", "farm").Reason,
            (PrinterFormat.Bambu, JobOutcome.Cancelled) => FailureReasons.FromBambu(50348044, 50348044).Reason,
            (PrinterFormat.Bambu, _) => FailureReasons.FromBambu(83935249, 83935249).Reason,
            (PrinterFormat.Moonraker, JobOutcome.Failed) => FailureReasons.FromText("Heater extruder not heating at expected rate").Reason,
            _ => null,
        };
        return FailureReasons.ForOutcome(outcome, reported);
    }

    /// <summary>
    /// The OEE inputs of the window of <paramref name="window"/> starting at <paramref name="start"/>: the jobs that
    /// ended in it (before <paramref name="until"/> when given), of the farm or of <paramref name="printer"/>.
    /// </summary>
    public OeeCounts Counts(WindowSpec window, DateTimeOffset start, string printer = "", DateTimeOffset? until = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(printer);
        var end = window.EndOf(start);
        long good = 0, started = 0;
        double estimate = 0, actual = 0;
        foreach (var job in _jobs.Jobs)
        {
            var r = job.Reported with { Reason = ReasonOf(job) };
            if (r.End < start || r.End >= end || (until is { } u && r.End >= u) || (printer.Length > 0 && r.Printer != printer))
            {
                continue;
            }

            good += r.ToysCompleted;
            started += r.ToysCompleted + (Oee.CountsAgainstQuality(r) ? r.Quantity : 0);
            if (r.Outcome == JobOutcome.Completed && r.EstimatedTimeSeconds is double e && e > 0)
            {
                estimate += e;
                actual += r.PrintTimeSeconds;
            }
        }

        return new OeeCounts(good, started, estimate, actual);
    }
}
