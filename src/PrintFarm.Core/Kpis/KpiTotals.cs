using System.Text.Json.Serialization;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Kpis;

/// <summary>
/// What a KPI aggregates in one window for one subject. Raw sums only, so merging is addition and a checkpoint is
/// exact; ratios are derived on read.
/// </summary>
public struct KpiTotals
{
    /// <summary>Jobs that completed.</summary>
    [JsonInclude]
    public long JobsCompleted { readonly get; private set; }

    /// <summary>Jobs that failed.</summary>
    [JsonInclude]
    public long JobsFailed { readonly get; private set; }

    /// <summary>Jobs that were cancelled.</summary>
    [JsonInclude]
    public long JobsCancelled { readonly get; private set; }

    /// <summary>Toys of completed jobs.</summary>
    [JsonInclude]
    public long ToysCompleted { readonly get; private set; }

    /// <summary>Print time of every ended job, seconds.</summary>
    [JsonInclude]
    public double PrintTimeSeconds { readonly get; private set; }

    /// <summary>Filament of every ended job with known filament, grams.</summary>
    [JsonInclude]
    public double FilamentUsedGrams { readonly get; private set; }

    /// <summary>Filament of failed and cancelled jobs with known filament, grams.</summary>
    [JsonInclude]
    public double FilamentWasteGrams { readonly get; private set; }

    /// <summary>Ended jobs whose filament is unknown (left out of material efficiency).</summary>
    [JsonInclude]
    public long JobsWithoutFilament { readonly get; private set; }

    /// <summary>Print time of completed jobs that had a slicer estimate, seconds.</summary>
    [JsonInclude]
    public double EstimatedJobsActualSeconds { readonly get; private set; }

    /// <summary>Slicer estimates of those same jobs, seconds.</summary>
    [JsonInclude]
    public double EstimatedJobsEstimateSeconds { readonly get; private set; }

    /// <summary>Material cost of ended jobs whose material has a price, farm currency.</summary>
    [JsonInclude]
    public double MaterialCost { readonly get; private set; }

    /// <summary>Seconds printers spent printing within the window (job intervals clipped to it), summed over printers.</summary>
    [JsonInclude]
    public double BusySeconds { readonly get; private set; }

    /// <summary>Printers seen in the window (any event or busy time); set by the engine on read, for the farm scope.</summary>
    [JsonIgnore]
    public int PrintersSeen { readonly get; internal set; }

    /// <summary>Adds an ended job's outcome, toys, time, filament and cost (not its busy time: see <see cref="AddBusy"/>).</summary>
    public void Add(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        switch (job.Outcome)
        {
            case JobOutcome.Completed: JobsCompleted++; break;
            case JobOutcome.Failed: JobsFailed++; break;
            default: JobsCancelled++; break;
        }

        ToysCompleted += job.ToysCompleted;
        PrintTimeSeconds += job.PrintTimeSeconds;
        if (job.Outcome == JobOutcome.Completed && job.EstimatedTimeSeconds is > 0)
        {
            EstimatedJobsActualSeconds += job.PrintTimeSeconds;
            EstimatedJobsEstimateSeconds += job.EstimatedTimeSeconds.Value;
        }

        if (job.MaterialCost is { } cost)
        {
            MaterialCost += cost;
        }

        if (!job.HasFilament)
        {
            JobsWithoutFilament++;
            return;
        }

        FilamentUsedGrams += job.FilamentGrams;
        if (job.Outcome != JobOutcome.Completed)
        {
            FilamentWasteGrams += job.FilamentGrams;
        }
    }

    /// <summary>
    /// Adds another window's raw sums to these (not <see cref="PrintersSeen"/>): the totals of a range of windows, from
    /// which the ratios below give the range's KPI weighted by volume, never an average of the windows' ratios.
    /// </summary>
    public void Add(in KpiTotals other)
    {
        JobsCompleted += other.JobsCompleted;
        JobsFailed += other.JobsFailed;
        JobsCancelled += other.JobsCancelled;
        ToysCompleted += other.ToysCompleted;
        PrintTimeSeconds += other.PrintTimeSeconds;
        FilamentUsedGrams += other.FilamentUsedGrams;
        FilamentWasteGrams += other.FilamentWasteGrams;
        JobsWithoutFilament += other.JobsWithoutFilament;
        EstimatedJobsActualSeconds += other.EstimatedJobsActualSeconds;
        EstimatedJobsEstimateSeconds += other.EstimatedJobsEstimateSeconds;
        MaterialCost += other.MaterialCost;
        BusySeconds += other.BusySeconds;
    }

    /// <summary>The raw sums in a fixed order, for compact checkpoints (<see cref="FromSums"/> reads them back).</summary>
    internal readonly double[] ToSums() =>
    [
        JobsCompleted, JobsFailed, JobsCancelled, ToysCompleted, PrintTimeSeconds, FilamentUsedGrams, FilamentWasteGrams,
        JobsWithoutFilament, EstimatedJobsActualSeconds, EstimatedJobsEstimateSeconds, MaterialCost, BusySeconds,
    ];

    /// <summary>Totals from <see cref="ToSums"/>; missing trailing entries are 0.</summary>
    internal static KpiTotals FromSums(IReadOnlyList<double> s)
    {
        double At(int i) => i < s.Count ? s[i] : 0;
        return new KpiTotals
        {
            JobsCompleted = (long)At(0),
            JobsFailed = (long)At(1),
            JobsCancelled = (long)At(2),
            ToysCompleted = (long)At(3),
            PrintTimeSeconds = At(4),
            FilamentUsedGrams = At(5),
            FilamentWasteGrams = At(6),
            JobsWithoutFilament = (long)At(7),
            EstimatedJobsActualSeconds = At(8),
            EstimatedJobsEstimateSeconds = At(9),
            MaterialCost = At(10),
            BusySeconds = At(11),
        };
    }

    /// <summary>Adds (or, negative, takes back) printing time within the window.</summary>
    public void AddBusy(double seconds) => BusySeconds = Math.Max(0, BusySeconds + seconds);

    /// <summary>Jobs that ended in the window, whatever the outcome.</summary>
    public readonly long JobsEnded => JobsCompleted + JobsFailed + JobsCancelled;

    /// <summary>Total print time ÷ toys completed, seconds; <see langword="null"/> while no toy completed.</summary>
    public readonly double? AvgPrintTimePerToySeconds => ToysCompleted > 0 ? PrintTimeSeconds / ToysCompleted : null;

    /// <summary>(used − waste) ÷ used, 0–1; <see langword="null"/> while no filament is known.</summary>
    public readonly double? MaterialEfficiency => FilamentUsedGrams > 0 ? (FilamentUsedGrams - FilamentWasteGrams) / FilamentUsedGrams : null;

    /// <summary>Completed ÷ ended, 0–1; <see langword="null"/> while no job ended.</summary>
    public readonly double? SuccessRate => JobsEnded > 0 ? (double)JobsCompleted / JobsEnded : null;

    /// <summary>Actual ÷ estimated print time of completed jobs with an estimate; <see langword="null"/> without any.</summary>
    public readonly double? EstimateRatio => EstimatedJobsEstimateSeconds > 0 ? EstimatedJobsActualSeconds / EstimatedJobsEstimateSeconds : null;

    /// <summary>Material cost ÷ toys completed; <see langword="null"/> while no toy completed or no cost is known.</summary>
    public readonly double? MaterialCostPerToy => ToysCompleted > 0 && MaterialCost > 0 ? MaterialCost / ToysCompleted : null;

    /// <summary>
    /// Busy time ÷ <see cref="CapacitySeconds"/>, 0–1; <see langword="null"/> while no printer was seen. A printer runs one
    /// job at a time and its busy time is clipped to the window, so the cap at 1 guards rounding only: summed partials
    /// (Σ <c>printing_s</c> ÷ Σ <c>capacity_s</c>) give the same value.
    /// </summary>
    public readonly double? Utilization(TimeSpan windowLength, int printers) =>
        printers > 0 && windowLength > TimeSpan.Zero ? UtilizationOf(CapacitySeconds(windowLength, printers)) : null;

    /// <summary>Busy time ÷ <paramref name="capacitySeconds"/>, at most 1; <see langword="null"/> without capacity.</summary>
    public readonly double? UtilizationOf(double capacitySeconds) => capacitySeconds > 0 ? Math.Min(1, BusySeconds / capacitySeconds) : null;

    /// <summary>Window length × printers, seconds: the printing time the window offered, utilization's denominator.</summary>
    public static double CapacitySeconds(TimeSpan windowLength, int printers) => windowLength.TotalSeconds * printers;
}
