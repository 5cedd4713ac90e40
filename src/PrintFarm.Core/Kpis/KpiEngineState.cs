namespace PrintFarm.Core.Kpis;

/// <summary>A checkpoint of the <see cref="KpiEngine"/>: plain data, serialized as JSON by the host. Times are UTC ticks.</summary>
public sealed class KpiEngineState
{
    /// <summary>The farm's watermark.</summary>
    public long Watermark { get; set; } = long.MinValue;

    /// <summary>Newest receive time of any source.</summary>
    public long LatestReceived { get; set; } = long.MinValue;

    /// <summary>Late jobs so far.</summary>
    public long LateJobs { get; set; }

    /// <summary>Per-source clocks.</summary>
    public List<SourceState> Sources { get; set; } = [];

    /// <summary>Printers with a running job.</summary>
    public List<PrinterState> Printers { get; set; } = [];

    /// <summary>Open windows.</summary>
    public List<WindowState> Windows { get; set; } = [];

    /// <summary>A source's clock.</summary>
    public sealed class SourceState
    {
        /// <summary>Source name.</summary>
        public string Source { get; set; } = string.Empty;

        /// <summary>Newest event time.</summary>
        public long MaxEvent { get; set; }

        /// <summary>Newest receive time.</summary>
        public long LastReceived { get; set; }
    }

    /// <summary>A running job's accrual.</summary>
    public sealed class PrinterState
    {
        /// <summary>Printer id.</summary>
        public string Printer { get; set; } = string.Empty;

        /// <summary>Job start.</summary>
        public long OpenSince { get; set; }

        /// <summary>Printing time is accrued up to here.</summary>
        public long AccruedUntil { get; set; }
    }

    /// <summary>An open window series.</summary>
    public sealed class WindowState
    {
        /// <summary>Window size name.</summary>
        public string Window { get; set; } = string.Empty;

        /// <summary>Start.</summary>
        public long Start { get; set; }

        /// <summary>End (exclusive).</summary>
        public long End { get; set; }

        /// <summary>Scope.</summary>
        public KpiScope Scope { get; set; }

        /// <summary>Subject.</summary>
        public string Subject { get; set; } = string.Empty;

        /// <summary>Aggregates.</summary>
        public KpiTotals Totals { get; set; }

        /// <summary>Printers seen (farm scope).</summary>
        public List<string>? Printers { get; set; }
    }
}
