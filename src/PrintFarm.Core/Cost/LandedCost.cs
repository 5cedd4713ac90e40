using PrintFarm.Core.Events;

namespace PrintFarm.Core.Cost;

/// <summary>The prices of the cost formula, in the farm's currency (material prices come with each job).</summary>
/// <param name="EnergyPerKwh">Price of one kWh.</param>
/// <param name="MachinePerPrintingHour">Machine depreciation per printing hour.</param>
/// <param name="LabourPerPlate">Labour per plate (per ended job, whatever its outcome).</param>
public readonly record struct CostPrices(double EnergyPerKwh, double MachinePerPrintingHour, double LabourPerPlate);

/// <summary>The parts of a cost, farm currency.</summary>
/// <param name="Material">Filament at its material's price.</param>
/// <param name="Energy">Metered energy at the price per kWh.</param>
/// <param name="Machine">Printing hours at the depreciation rate.</param>
/// <param name="Labour">Labour per plate.</param>
public readonly record struct CostParts(double Material, double Energy, double Machine, double Labour)
{
    /// <summary>The sum of the parts.</summary>
    public double Total => Material + Energy + Machine + Labour;
}

/// <summary>
/// What landed cost aggregates in one window for one subject. Raw sums only (merging is addition, a checkpoint is
/// exact); the per-toy figures are read from them by <see cref="LandedCost"/>.
/// </summary>
public struct CostTotals
{
    /// <summary>Toys of completed jobs: the denominator of cost per toy.</summary>
    public long GoodToys { get; set; }

    /// <summary>Jobs ended, whatever the outcome (plates).</summary>
    public long Plates { get; set; }

    /// <summary>Material cost of every ended job (completed: used; failed and cancelled: waste).</summary>
    public double Material { get; set; }

    /// <summary>Machine cost of every ended job.</summary>
    public double Machine { get; set; }

    /// <summary>Labour of every ended job.</summary>
    public double Labour { get; set; }

    /// <summary>Energy of every ended job whose energy is metered, kWh.</summary>
    public double JobKwh { get; set; }

    /// <summary>Idle draw (no job running) within the window, kWh (farm and printer scopes only).</summary>
    public double IdleKwh { get; set; }

    /// <summary>Cost of <see cref="JobKwh"/> and <see cref="IdleKwh"/>.</summary>
    public double Energy { get; set; }

    /// <summary>The whole landed cost.</summary>
    public readonly double Total => Material + Machine + Labour + Energy;
}

/// <summary>
/// Landed cost: the one formula (docs/kpis.md, "Landed cost per toy"). A job costs its material (filament at its
/// material's price: used when completed, waste otherwise) + its metered energy × price per kWh + its printing hours ×
/// depreciation per printing hour + labour per plate. A window's cost per toy is everything it cost — completed,
/// failed and cancelled jobs, and the idle draw — ÷ the good toys it delivered: failures and idle draw are spread over
/// the good toys.
/// </summary>
public static class LandedCost
{
    /// <summary>The cost of one ended job; <paramref name="kwh"/> null (not metered) costs no energy.</summary>
    public static CostParts OfJob(EndedJob job, double? kwh, in CostPrices prices)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new CostParts(
            job.MaterialCost ?? 0,
            (kwh ?? 0) * prices.EnergyPerKwh,
            job.PrintTimeSeconds / 3600.0 * prices.MachinePerPrintingHour,
            prices.LabourPerPlate);
    }

    /// <summary>The cost of idle draw.</summary>
    public static double OfIdle(double kwh, in CostPrices prices) => kwh * prices.EnergyPerKwh;

    /// <summary>Adds a job's parts other than energy (at its end) to <paramref name="totals"/>.</summary>
    public static void AddJob(ref CostTotals totals, EndedJob job, in CostParts parts)
    {
        ArgumentNullException.ThrowIfNull(job);
        totals.Plates++;
        totals.GoodToys += job.ToysCompleted;
        totals.Material += parts.Material;
        totals.Machine += parts.Machine;
        totals.Labour += parts.Labour;
    }

    /// <summary>Adds a job's metered energy (once settled) to <paramref name="totals"/>.</summary>
    public static void AddJobEnergy(ref CostTotals totals, double kwh, in CostPrices prices)
    {
        totals.JobKwh += kwh;
        totals.Energy += kwh * prices.EnergyPerKwh;
    }

    /// <summary>Adds idle draw to <paramref name="totals"/>.</summary>
    public static void AddIdle(ref CostTotals totals, double kwh, in CostPrices prices)
    {
        totals.IdleKwh += kwh;
        totals.Energy += OfIdle(kwh, prices);
    }

    /// <summary>Landed cost per good toy; null while no toy completed.</summary>
    public static double? PerToy(in CostTotals t) => t.GoodToys > 0 ? t.Total / t.GoodToys : null;

    /// <summary>Energy (jobs and idle) per good toy, kWh; null while no toy completed.</summary>
    public static double? KwhPerToy(in CostTotals t) => t.GoodToys > 0 ? (t.JobKwh + t.IdleKwh) / t.GoodToys : null;

    /// <summary>A part per good toy; null while no toy completed.</summary>
    public static double? PartPerToy(double part, in CostTotals t) => t.GoodToys > 0 ? part / t.GoodToys : null;
}
