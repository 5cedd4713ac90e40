using System.Globalization;
using PrintFarm.Simulator.Catalog;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator;

/// <summary>What to simulate. Every random choice comes from <see cref="Seed"/>, so equal options give an equal trace.</summary>
public sealed class SimulationOptions
{
    /// <summary>Printers. Default 12.</summary>
    public int Printers { get; set; } = 12;

    /// <summary>Put a smart plug (Tasmota and Shelly Gen2 in turn) on every third printer (see <see cref="Truth.SmartPlugs"/>). Default false.</summary>
    public bool SmartPlugs { get; set; }

    /// <summary>
    /// Take orders and print for them (see <see cref="OrderDesk"/>): orders published retained on
    /// <c>printfarm/orders/{id}</c>, every plate printed from a file named <c>order-{id}_…</c>, ground truth in
    /// <see cref="Truth.OrdersTruth"/>. Default false: every plate is a random toy of the catalogue.
    /// </summary>
    public bool Orders { get; set; }

    /// <summary>Shares of the four formats; default equal shares.</summary>
    public FormatMix Mix { get; set; } = FormatMix.Equal;

    /// <summary>Seed of every random choice. Default 42.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>Simulated time at which the trace starts (whole seconds). Default 2026-01-05 06:00 UTC.</summary>
    public DateTimeOffset Start { get; set; } = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);

    /// <summary>Simulated time covered; <see langword="null"/> for no end. Default 8 h.</summary>
    public TimeSpan? Duration { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Share of jobs that fail (0–1). Default 0.05.</summary>
    public double FailureRate { get; set; } = 0.05;

    /// <summary>Share of jobs that are cancelled (0–1). Default 0.04.</summary>
    public double CancelRate { get; set; } = 0.04;

    /// <summary>Share of jobs paused once (0–1). Default 0.1.</summary>
    public double PauseRate { get; set; } = 0.1;

    /// <summary>Chance that a printer drops off the broker between two jobs (0–1). Default 0.05.</summary>
    public double FlapRate { get; set; } = 0.05;

    /// <summary>
    /// Chance that an operator puts a printer into maintenance (5–30 min, on <c>printfarm/maintenance/{printer}</c>)
    /// before its next job (0–1). Default 0.
    /// </summary>
    public double MaintenanceRate { get; set; }

    /// <summary>Chance of one malformed message between two jobs (0–1). Default 0.03.</summary>
    public double MalformedRate { get; set; } = 0.03;

    /// <summary>Multiplies every telemetry cadence (progress, temperatures): 2 sends half as many samples. Default 1.</summary>
    public double CadenceFactor { get; set; } = 1;

    /// <summary>Prefix of every printer id (<c>{prefix}octo-01</c>, …); keeps runs apart on a shared broker. Default empty.</summary>
    public string PrinterPrefix { get; set; } = string.Empty;

    /// <summary>The toys.</summary>
    public ToyCatalog Catalog { get; set; } = ToyCatalog.Default;

    /// <summary>The scenario (<c>steady</c> or <c>efficiency-drop</c>). Default steady.</summary>
    public Scenario Scenario { get; set; } = Scenario.Steady;

    /// <summary>
    /// Efficiency drop: simulated time after <see cref="Start"/> when a bad batch of filament hits half the printers: the
    /// prints running on them fail within minutes, and their later jobs fail often. Default 2 h.
    /// </summary>
    public TimeSpan DropAfter { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Efficiency drop: the struck printers' failure rate from then on (0–1). Default 0.6.</summary>
    public double DropFailureRate { get; set; } = 0.6;

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        static void Rate(double v, string name)
        {
            if (v is < 0 or > 1 || double.IsNaN(v))
            {
                throw new ArgumentOutOfRangeException(name, v.ToString(CultureInfo.InvariantCulture), $"{name} must be between 0 and 1");
            }
        }

        if (Printers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Printers), Printers, "at least one printer");
        }

        Rate(FailureRate, nameof(FailureRate));
        Rate(CancelRate, nameof(CancelRate));
        Rate(PauseRate, nameof(PauseRate));
        Rate(FlapRate, nameof(FlapRate));
        Rate(MalformedRate, nameof(MalformedRate));
        Rate(MaintenanceRate, nameof(MaintenanceRate));
        Rate(DropFailureRate, nameof(DropFailureRate));
        if (FailureRate + CancelRate > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(FailureRate), "FailureRate + CancelRate must not exceed 1");
        }

        if (CadenceFactor <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(CadenceFactor), CadenceFactor, "must be above 0");
        }

        if (Start.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Start), Start, "must be a whole second");
        }
    }
}

/// <summary>A scripted change in the farm's behaviour.</summary>
public enum Scenario
{
    /// <summary>Every printer keeps the configured rates.</summary>
    Steady,

    /// <summary>At <see cref="SimulationOptions.DropAfter"/> half the printers start failing, so material efficiency falls.</summary>
    EfficiencyDrop,
}
