namespace PrintFarm.Core.Events;

/// <summary>
/// A job that has ended, with everything known about it resolved: toy, quantity, material and grams.
/// One <c>job</c> point is written per ended job and the KPI windows aggregate these.
/// </summary>
public sealed record EndedJob
{
    /// <summary>Printer id.</summary>
    public required string Printer { get; init; }

    /// <summary>Adapter that reported the job.</summary>
    public required string Source { get; init; }

    /// <summary>The printer's job id, or a key made of printer and start time when the source has none.</summary>
    public required string JobId { get; init; }

    /// <summary>G-code file, empty when unknown.</summary>
    public required string File { get; init; }

    /// <summary>Toy name.</summary>
    public required string Toy { get; init; }

    /// <summary>Toys on the plate (at least 1).</summary>
    public required int Quantity { get; init; }

    /// <summary>Material name, upper case.</summary>
    public required string Material { get; init; }

    /// <summary>How the job ended.</summary>
    public required JobOutcome Outcome { get; init; }

    /// <summary>Why the job did not complete; null when it completed (see <see cref="Jobs.FailureReasons"/>).</summary>
    public Jobs.FailureReason? Reason { get; init; }

    /// <summary>The raw code or text the reason came from, or an operator's note; null when there is none.</summary>
    public string? ReasonDetail { get; init; }

    /// <summary>Where the reason came from: <c>printer</c> (the source's payload) or <c>operator</c> (a label); null when completed.</summary>
    public string? ReasonSource { get; init; }

    /// <summary>Event time the job started; equal to <see cref="End"/> minus print time when the start was not seen.</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>Event time the job ended.</summary>
    public required DateTimeOffset End { get; init; }

    /// <summary>Print time, seconds.</summary>
    public required double PrintTimeSeconds { get; init; }

    /// <summary>Filament used in grams; 0 when <see cref="FilamentSource"/> is <see cref="FilamentSource.Unknown"/>.</summary>
    public required double FilamentGrams { get; init; }

    /// <summary>Filament used in millimetres, when known.</summary>
    public double? FilamentMillimetres { get; init; }

    /// <summary>Where the filament figure comes from.</summary>
    public required FilamentSource FilamentSource { get; init; }

    /// <summary>Slicer estimate, seconds, when known.</summary>
    public double? EstimatedTimeSeconds { get; init; }

    /// <summary>Cost of the filament used, when its material has a price and the filament is known (farm currency).</summary>
    public double? MaterialCost { get; init; }

    /// <summary>Toys this job delivered: its quantity when completed, otherwise none.</summary>
    public int ToysCompleted => Outcome == JobOutcome.Completed ? Quantity : 0;

    /// <summary>True when the job's filament is known and so counts towards material efficiency.</summary>
    public bool HasFilament => FilamentSource != FilamentSource.Unknown;
}
