namespace PrintFarm.Core.Events;

/// <summary>What a canonical printer event says happened.</summary>
public enum EventKind
{
    /// <summary>A print job started on the printer.</summary>
    JobStarted,

    /// <summary>A running job reported progress (and possibly temperatures).</summary>
    JobProgress,

    /// <summary>A job ended: completed, failed or cancelled.</summary>
    JobFinished,

    /// <summary>A telemetry sample that is not tied to a job boundary (temperatures, state, presence).</summary>
    Status,
}

/// <summary>How a job ended.</summary>
public enum JobOutcome
{
    /// <summary>The job printed to the end.</summary>
    Completed,

    /// <summary>The job stopped on an error.</summary>
    Failed,

    /// <summary>Somebody (or a new job replacing it) stopped the job.</summary>
    Cancelled,
}

/// <summary>How trustworthy a job's filament figure is.</summary>
public enum FilamentSource
{
    /// <summary>No filament figure is known; the job is left out of material efficiency.</summary>
    Unknown,

    /// <summary>Measured by the printer (extruder travel, or reported grams).</summary>
    Measured,

    /// <summary>The slicer's estimate for the whole job.</summary>
    Estimated,

    /// <summary>The slicer's estimate scaled by the progress reached before the job stopped.</summary>
    Prorated,
}

/// <summary>
/// One normalized printer event. Every adapter (native, OctoPrint, Moonraker, Bambu) turns its own payloads
/// into these; everything downstream (job tracking, KPI windows, InfluxDB points) reads only this shape.
/// </summary>
public sealed class PrinterEvent
{
    /// <summary>What happened.</summary>
    public required EventKind Kind { get; init; }

    /// <summary>Printer id, taken from the MQTT topic.</summary>
    public required string Printer { get; init; }

    /// <summary>Adapter that produced the event: <c>native</c>, <c>octoprint</c>, <c>moonraker</c> or <c>bambu</c>.</summary>
    public required string Source { get; init; }

    /// <summary>Event time: when it happened on the printer (or the receive time for sources without a clock).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>
    /// True when the message carried no time of its own and <see cref="Timestamp"/> is only its receive time (OctoPrint's
    /// plain-text presence): such an event never moves the event-time clock, or a history published fast would be
    /// stamped "now" and close every window it holds.
    /// </summary>
    public bool ReceiveTimeOnly { get; init; }

    /// <summary>Printer-assigned job id, when the source has one.</summary>
    public string? JobId { get; init; }

    /// <summary>G-code file name or path.</summary>
    public string? File { get; init; }

    /// <summary>Toy (model) name; derived from <see cref="File"/> when absent.</summary>
    public string? Toy { get; init; }

    /// <summary>Toys on the plate; derived from <see cref="File"/> when absent.</summary>
    public int? Quantity { get; init; }

    /// <summary>Material name such as <c>PLA</c>.</summary>
    public string? Material { get; init; }

    /// <summary>How the job ended (<see cref="EventKind.JobFinished"/> only).</summary>
    public JobOutcome? Outcome { get; init; }

    /// <summary>Why the job did not complete, when the source says (<see cref="EventKind.JobFinished"/> only; see <see cref="Jobs.FailureReasons"/>).</summary>
    public Jobs.FailureReason? Reason { get; init; }

    /// <summary>The raw code or text the <see cref="Reason"/> came from, when there is one.</summary>
    public string? ReasonDetail { get; init; }

    /// <summary>Print time in seconds as reported by the printer.</summary>
    public double? PrintTimeSeconds { get; init; }

    /// <summary>Filament used, grams.</summary>
    public double? FilamentGrams { get; init; }

    /// <summary>Filament used, millimetres of filament.</summary>
    public double? FilamentMillimetres { get; init; }

    /// <summary>Where the filament figure comes from; <see cref="FilamentSource.Unknown"/> when none is given.</summary>
    public FilamentSource FilamentSource { get; init; }

    /// <summary>The slicer's estimated print time, seconds.</summary>
    public double? EstimatedTimeSeconds { get; init; }

    /// <summary>Job progress, percent 0–100.</summary>
    public double? ProgressPercent { get; init; }

    /// <summary>Printer state as the source names it (for example <c>printing</c>).</summary>
    public string? State { get; init; }

    /// <summary>Nozzle temperature, °C.</summary>
    public double? NozzleCelsius { get; init; }

    /// <summary>Nozzle target temperature, °C.</summary>
    public double? NozzleTargetCelsius { get; init; }

    /// <summary>Dual-nozzle printers: the first extruder's (id 0) temperature, °C.</summary>
    public double? Nozzle0Celsius { get; init; }

    /// <summary>Dual-nozzle printers: the second extruder's (id 1) temperature, °C.</summary>
    public double? Nozzle1Celsius { get; init; }

    /// <summary>Bed temperature, °C.</summary>
    public double? BedCelsius { get; init; }

    /// <summary>Bed target temperature, °C.</summary>
    public double? BedTargetCelsius { get; init; }

    /// <summary>Presence: whether the printer (or its host) is connected to the broker.</summary>
    public bool? Online { get; init; }

    /// <summary>An operator's maintenance switch (<c>printfarm/maintenance/{printer}</c>): on or off from <see cref="Timestamp"/>; nothing else in the event.</summary>
    public bool? Maintenance { get; init; }

    /// <summary>The printer's own cumulative energy counter, kWh (the native <c>energy</c> event); nothing else in the event.</summary>
    public double? EnergyKwh { get; init; }

    /// <summary>True when the telemetry part of the event carries anything worth a <c>printer</c> point.</summary>
    public bool HasTelemetry =>
        ProgressPercent is not null || State is not null || NozzleCelsius is not null || NozzleTargetCelsius is not null
        || Nozzle0Celsius is not null || Nozzle1Celsius is not null
        || BedCelsius is not null || BedTargetCelsius is not null || Online is not null;
}
