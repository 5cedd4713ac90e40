using PrintFarm.Core.Events;

namespace PrintFarm.Core.Kpis;

/// <summary>What a KPI aggregates in one window for one subject. Raw sums only; ratios are derived on read.</summary>
public struct KpiTotals
{
    /// <summary>Jobs that completed.</summary>
    public long JobsCompleted { readonly get; private set; }

    /// <summary>Jobs that failed.</summary>
    public long JobsFailed { readonly get; private set; }

    /// <summary>Jobs that were cancelled.</summary>
    public long JobsCancelled { readonly get; private set; }

    /// <summary>Toys of completed jobs.</summary>
    public long ToysCompleted { readonly get; private set; }

    /// <summary>Print time of every ended job, seconds.</summary>
    public double PrintTimeSeconds { readonly get; private set; }

    /// <summary>Filament of every ended job with known filament, grams.</summary>
    public double FilamentUsedGrams { readonly get; private set; }

    /// <summary>Filament of failed and cancelled jobs with known filament, grams.</summary>
    public double FilamentWasteGrams { readonly get; private set; }

    /// <summary>Ended jobs whose filament is unknown (left out of material efficiency).</summary>
    public long JobsWithoutFilament { readonly get; private set; }

    /// <summary>Adds an ended job.</summary>
    public void Add(EndedJob job)
    {
        switch (job.Outcome)
        {
            case JobOutcome.Completed: JobsCompleted++; break;
            case JobOutcome.Failed: JobsFailed++; break;
            default: JobsCancelled++; break;
        }

        ToysCompleted += job.ToysCompleted;
        PrintTimeSeconds += job.PrintTimeSeconds;
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

    /// <summary>Jobs that ended in the window, whatever the outcome.</summary>
    public readonly long JobsEnded => JobsCompleted + JobsFailed + JobsCancelled;

    /// <summary>Total print time ÷ toys completed, seconds; <see langword="null"/> while no toy completed.</summary>
    public readonly double? AvgPrintTimePerToySeconds => ToysCompleted > 0 ? PrintTimeSeconds / ToysCompleted : null;

    /// <summary>(used − waste) ÷ used, 0–1; <see langword="null"/> while no filament is known.</summary>
    public readonly double? MaterialEfficiency => FilamentUsedGrams > 0 ? (FilamentUsedGrams - FilamentWasteGrams) / FilamentUsedGrams : null;

    /// <summary>Completed ÷ ended, 0–1; <see langword="null"/> while no job ended.</summary>
    public readonly double? SuccessRate => JobsEnded > 0 ? (double)JobsCompleted / JobsEnded : null;
}
