using PrintFarm.Core.Events;

namespace PrintFarm.Core.Ingestion.OctoPrint;

// Per-printer state of the OctoPrint adapter: O(1) per printer (the estimate cache is bounded) and plain
// properties, so System.Text.Json can checkpoint it.

/// <summary>What the adapter remembers about one OctoPrint instance.</summary>
internal sealed class OctoPrintPrinterState : IPrinterState<OctoPrintPrinterState>
{
    /// <summary>Files kept in <see cref="Estimates"/>; the oldest is dropped beyond this.</summary>
    public const int MaxEstimates = 16;

    /// <summary>The job between PrintStarted and its end event.</summary>
    public OctoPrintOpenJob? Job { get; set; }

    /// <summary>The last job ended, so the second half of a cancel pair and redeliveries are recognised.</summary>
    public OctoPrintEndedJob? LastEnded { get; set; }

    /// <summary>Analysis estimates by file path, newest last.</summary>
    public List<OctoPrintEstimate> Estimates { get; set; } = [];

    /// <inheritdoc />
    public OctoPrintPrinterState Copy() => new()
    {
        Job = Job is { } job ? new OctoPrintOpenJob { JobId = job.JobId, Path = job.Path, Start = job.Start, ProgressPercent = job.ProgressPercent } : null,

        // Ended jobs and estimates are replaced, never changed in place: the copy may share them.
        LastEnded = LastEnded,
        Estimates = [.. Estimates ?? []],
    };

    public OctoPrintEstimate? FindEstimate(string path)
    {
        for (var i = Estimates.Count - 1; i >= 0; i--)
        {
            if (Estimates[i].Path == path)
            {
                return Estimates[i];
            }
        }

        return null;
    }

    public void RememberEstimate(string path, double? millimetres, double? seconds)
    {
        var existing = FindEstimate(path);
        if (existing is not null)
        {
            Estimates.Remove(existing);
        }

        Estimates.Add(new OctoPrintEstimate
        {
            Path = path,
            FilamentMillimetres = millimetres ?? existing?.FilamentMillimetres,
            PrintTimeSeconds = seconds ?? existing?.PrintTimeSeconds,
        });
        if (Estimates.Count > MaxEstimates)
        {
            Estimates.RemoveAt(0);
        }
    }
}

/// <summary>An open OctoPrint job.</summary>
internal sealed class OctoPrintOpenJob
{
    public string JobId { get; set; } = string.Empty;

    public string Path { get; set; } = string.Empty;

    /// <summary>PrintStarted's <c>_timestamp</c>, epoch seconds.</summary>
    public long Start { get; set; }

    /// <summary>Last progress seen, percent.</summary>
    public double? ProgressPercent { get; set; }
}

/// <summary>The last ended OctoPrint job.</summary>
internal sealed class OctoPrintEndedJob
{
    public string JobId { get; set; } = string.Empty;

    public string Path { get; set; } = string.Empty;

    /// <summary>The end event's <c>_timestamp</c>, epoch seconds.</summary>
    public long End { get; set; }

    public JobOutcome Outcome { get; set; }
}

/// <summary>G-code analysis figures of one file.</summary>
internal sealed class OctoPrintEstimate
{
    public string Path { get; set; } = string.Empty;

    /// <summary>Filament over all tools, mm.</summary>
    public double? FilamentMillimetres { get; set; }

    /// <summary>Estimated print time, seconds.</summary>
    public double? PrintTimeSeconds { get; set; }
}
