namespace PrintFarm.Core.Ingestion.Moonraker;

// Per-printer state of the Moonraker adapter: Klipper sends only changed fields, so the adapter keeps the merged
// print_stats (and the few other fields it uses). Plain properties, so System.Text.Json can checkpoint it.

/// <summary>The merged Klipper status of one printer and its open job.</summary>
internal sealed class MoonrakerPrinterState : IPrinterState<MoonrakerPrinterState>
{
    /// <summary><c>print_stats.state</c>; null until first seen.</summary>
    public string? State { get; set; }

    /// <summary><c>print_stats.filename</c>, relative to the gcodes folder; null when empty.</summary>
    public string? Filename { get; set; }

    /// <summary><c>print_stats.total_duration</c>, seconds, pauses included.</summary>
    public double? TotalDuration { get; set; }

    /// <summary><c>print_stats.print_duration</c>, seconds, without pauses and heat-up.</summary>
    public double? PrintDuration { get; set; }

    /// <summary><c>print_stats.filament_used</c>, mm of filament.</summary>
    public double? FilamentUsed { get; set; }

    /// <summary><c>print_stats.message</c>, Klipper's error text; null when empty.</summary>
    public string? Message { get; set; }

    /// <summary>Number of <c>exclude_object.objects</c>; null when the file defines none.</summary>
    public int? ObjectCount { get; set; }

    /// <summary>The open job.</summary>
    public MoonrakerOpenJob? Job { get; set; }

    /// <summary>Whether <see cref="State"/> was last set by a retained replay (a start it shows is unconfirmed).</summary>
    public bool StateFromRetained { get; set; }

    /// <summary>When printing began without a file name known; the job opens when the name arrives.</summary>
    public DateTimeOffset? PendingStart { get; set; }

    /// <summary>The <c>eventtime</c> of the message that began the pending start.</summary>
    public double? PendingStartEventTime { get; set; }

    /// <summary>The <c>eventtime</c> of the newest live message applied (Klipper's clock, seconds since host boot).</summary>
    public double? LastEventTime { get; set; }

    /// <summary>When that message arrived.</summary>
    public DateTimeOffset? LastReceivedAt { get; set; }

    /// <inheritdoc />
    public MoonrakerPrinterState Copy()
    {
        var copy = (MoonrakerPrinterState)MemberwiseClone();
        copy.Job = Job?.Copy();
        return copy;
    }
}

/// <summary>A Moonraker job between its start and end transitions.</summary>
internal sealed class MoonrakerOpenJob
{
    public string JobId { get; set; } = string.Empty;

    public string? Filename { get; set; }

    public DateTimeOffset Start { get; set; }

    /// <summary><c>total_duration</c> when the job paused: a resume must not go backwards.</summary>
    public double? PausedTotalDuration { get; set; }

    public MoonrakerOpenJob Copy() => (MoonrakerOpenJob)MemberwiseClone();
}
