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

    /// <summary><c>ams.tray_now</c>: the tray feeding the nozzle.</summary>
    public int? TrayNow { get; set; }

    /// <summary><c>tray_type</c> of each AMS tray by its <see cref="TrayNow"/> index.</summary>
    public Dictionary<int, string>? Trays { get; set; }

    /// <summary><c>vt_tray.tray_type</c>: the external spool's material.</summary>
    public string? ExternalTray { get; set; }

    /// <summary>Dual-nozzle printers: the active extruder (0 or 1).</summary>
    public int? ActiveExtruder { get; set; }

    /// <summary>A job that ended FAILED without an error code, waiting for a cancel code within the grace period.</summary>
    public BambuPendingEnd? PendingEnd { get; set; }

    public BambuOpenJob? Job { get; set; }

    /// <inheritdoc />
    public BambuPrinterState Copy()
    {
        var copy = (BambuPrinterState)MemberwiseClone();
        copy.Job = Job?.Copy();
        copy.Trays = Trays is null ? null : new Dictionary<int, string>(Trays);

        // PendingEnd is replaced, never changed in place.
        return copy;
    }
}

/// <summary>A Bambu job between its start and end transitions.</summary>
internal sealed class BambuOpenJob
{
    public string JobId { get; set; } = string.Empty;

    public string? File { get; set; }

    public DateTimeOffset Start { get; set; }

    /// <summary>The active spool's material when the job started, if the printer reported it.</summary>
    public string? Material { get; set; }

    public BambuOpenJob Copy() => (BambuOpenJob)MemberwiseClone();
}

/// <summary>A Bambu job whose FAILED report came without an error code: failed, unless a cancel code follows.</summary>
internal sealed class BambuPendingEnd
{
    public string JobId { get; set; } = string.Empty;

    public string? File { get; set; }

    public string? Material { get; set; }

    /// <summary>When the FAILED report arrived: the job's end time whatever the outcome.</summary>
    public DateTimeOffset At { get; set; }
}
