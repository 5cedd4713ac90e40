using PrintFarm.Core.Events;
using PrintFarm.Simulator.Catalog;

namespace PrintFarm.Simulator.Formats;

/// <summary>
/// One job as it truly happens on a simulated printer, in whole simulated seconds: heat-up, printing, at most one
/// pause, and an end that may come before the plate is done (failure or cancel).
/// </summary>
public sealed record PlannedJob
{
    /// <summary>Printer id.</summary>
    public required string Printer { get; init; }

    /// <summary>Sequence number of the job on its printer, from 1.</summary>
    public required int Number { get; init; }

    /// <summary>Toy.</summary>
    public required Toy Toy { get; init; }

    /// <summary>Job start (file selected, heaters on).</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>Heat-up before the first layer, seconds.</summary>
    public required int HeatUpSeconds { get; init; }

    /// <summary>Printing time of the whole plate (the slicer's figure), seconds.</summary>
    public required int PlateSeconds { get; init; }

    /// <summary>How it ends.</summary>
    public required JobOutcome Outcome { get; init; }

    /// <summary>Why it did not complete (<see cref="Truth.SimReasons"/>); null when it completed.</summary>
    public PrintFarm.Core.Jobs.FailureReason? Reason { get; init; }

    /// <summary>Percent of the plate printed when it ends: 100 when completed, 1–99 otherwise.</summary>
    public required int StopPercent { get; init; }

    /// <summary>Percent at which it pauses, or <see langword="null"/> for no pause.</summary>
    public int? PauseAtPercent { get; init; }

    /// <summary>Pause length, seconds.</summary>
    public int PauseSeconds { get; init; }

    /// <summary>Printing seconds actually done (pauses and heat-up excluded).</summary>
    public int PrintedSeconds => (int)((long)PlateSeconds * StopPercent / 100);

    /// <summary>Printing seconds done at <paramref name="percent"/>.</summary>
    public int SecondsAt(int percent) => (int)((long)PlateSeconds * percent / 100);

    /// <summary>When printing starts (heat-up done).</summary>
    public DateTimeOffset PrintingFrom => Start.AddSeconds(HeatUpSeconds);

    /// <summary>When the pause starts, if any.</summary>
    public DateTimeOffset? PausedFrom => PauseAtPercent is { } p ? PrintingFrom.AddSeconds(SecondsAt(p)) : null;

    /// <summary>When printing resumes, if paused.</summary>
    public DateTimeOffset? ResumedAt => PausedFrom?.AddSeconds(PauseSeconds);

    /// <summary>The job's end.</summary>
    public DateTimeOffset End => PrintingFrom.AddSeconds(PrintedSeconds + (PauseAtPercent is null ? 0 : PauseSeconds));

    /// <summary>Wall-clock seconds from start to end (heat-up and pause included).</summary>
    public int ElapsedSeconds => (int)(End - Start).TotalSeconds;

    /// <summary>Filament of the whole plate, millimetres (the slicer's estimate).</summary>
    public double PlateFilamentMm => Toy.PlateFilamentMm;

    /// <summary>Filament actually extruded, millimetres.</summary>
    public double UsedFilamentMm => Toy.PlateFilamentMm * StopPercent / 100.0;

    /// <summary>
    /// The order this plate is printed for (<see cref="OrderDesk"/>), or <see langword="null"/>: its file is then
    /// named <c>order-{id}_{toy file}</c>, the convention by which the worker links a job to an order.
    /// </summary>
    public string? Order { get; init; }

    /// <summary>The G-code file.</summary>
    public string File => Order is null ? Toy.File : $"order-{Order}_{Toy.File}";

    /// <summary>Phase and whole-percent progress at <paramref name="time"/> (between start and end).</summary>
    public (JobPhase Phase, int Percent) At(DateTimeOffset time)
    {
        if (time < PrintingFrom)
        {
            return (JobPhase.HeatingUp, 0);
        }

        var wall = (long)(time - PrintingFrom).TotalSeconds;
        if (PausedFrom is { } pausedFrom && time >= pausedFrom)
        {
            if (time < ResumedAt)
            {
                return (JobPhase.Paused, PauseAtPercent!.Value);
            }

            wall -= PauseSeconds;
        }

        var percent = (int)Math.Min(StopPercent, wall * 100 / Math.Max(1, PlateSeconds));
        return (JobPhase.Printing, percent);
    }

    /// <summary>Nozzle temperature at <paramref name="time"/>, °C: a ramp during heat-up, then the target with a little noise.</summary>
    public static double Nozzle(JobPhase phase, double heatFraction, int wobble) => phase switch
    {
        JobPhase.HeatingUp => Math.Round(25 + ((NozzleTarget - 25) * heatFraction), 1),
        _ => NozzleTarget + ((wobble % 7) - 3) / 10.0,
    };

    /// <summary>Bed temperature, °C.</summary>
    public static double Bed(JobPhase phase, double heatFraction, int wobble) => phase switch
    {
        JobPhase.HeatingUp => Math.Round(24 + ((BedTarget - 24) * Math.Min(1, heatFraction * 1.5)), 1),
        _ => BedTarget + ((wobble % 5) - 2) / 10.0,
    };

    /// <summary>PLA nozzle target, °C.</summary>
    public const double NozzleTarget = 215;

    /// <summary>PLA bed target, °C.</summary>
    public const double BedTarget = 60;
}

/// <summary>What a printer is doing within a job.</summary>
public enum JobPhase
{
    /// <summary>Heaters on, not printing yet.</summary>
    HeatingUp,

    /// <summary>Printing.</summary>
    Printing,

    /// <summary>Paused.</summary>
    Paused,
}
