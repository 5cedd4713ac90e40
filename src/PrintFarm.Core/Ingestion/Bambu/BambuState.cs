namespace PrintFarm.Core.Ingestion.Bambu;

// Per-printer state of the Bambu adapter: P1/A1 firmware sends deltas, so the fields used are merged here.
// Plain properties, so System.Text.Json can checkpoint it.

/// <summary>The merged <c>print</c> report of one printer and its open job.</summary>
internal sealed class BambuPrinterState : IPrinterState<BambuPrinterState>
{
    /// <summary>Last lifecycle <c>gcode_state</c> (IDLE, PREPARE, RUNNING, PAUSE, FINISH, FAILED); null until seen.</summary>
    public string? GcodeState { get; set; }

    public string? SubtaskName { get; set; }

    public string? GcodeFile { get; set; }

    public string? TaskId { get; set; }

    public string? SubtaskId { get; set; }

    public long? PrintError { get; set; }

    /// <summary><c>gcode_start_time</c>, epoch seconds.</summary>
    public long? GcodeStartTime { get; set; }

    public BambuOpenJob? Job { get; set; }

    /// <inheritdoc />
    public BambuPrinterState Copy()
    {
        var copy = (BambuPrinterState)MemberwiseClone();
        copy.Job = Job?.Copy();
        return copy;
    }
}

/// <summary>A Bambu job between its start and end transitions.</summary>
internal sealed class BambuOpenJob
{
    public string JobId { get; set; } = string.Empty;

    public string? File { get; set; }

    public DateTimeOffset Start { get; set; }

    public BambuOpenJob Copy() => (BambuOpenJob)MemberwiseClone();
}
