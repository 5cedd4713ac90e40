using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Alerts;

/// <summary>A checkpoint of the <see cref="AlertEvaluator"/>: plain data, serialized as JSON by the host. Times are UTC ticks.</summary>
public sealed class AlertEvaluatorState
{
    /// <summary>Window size of the held windows.</summary>
    public string Window { get; set; } = string.Empty;

    /// <summary>End of the last closed window judged.</summary>
    public long EvaluatedUntil { get; set; } = long.MinValue;

    /// <summary>Newest receive time of any message.</summary>
    public long LatestReceived { get; set; } = long.MinValue;

    /// <summary>Closed and open windows held for the recent and baseline ranges, per subject.</summary>
    public List<SeriesState> Series { get; set; } = [];

    /// <summary>Alerts firing.</summary>
    public List<FiringState> Firing { get; set; } = [];

    /// <summary>Printers' last message and whether a job is open.</summary>
    public List<PrinterState> Printers { get; set; } = [];

    /// <summary>One subject's windows.</summary>
    public sealed class SeriesState
    {
        /// <summary>Scope.</summary>
        public KpiScope Scope { get; set; }

        /// <summary>Subject; empty for the farm.</summary>
        public string Subject { get; set; } = string.Empty;

        /// <summary>Windows by start.</summary>
        public List<WindowState> Windows { get; set; } = [];
    }

    /// <summary>One window's sums, compact: a farm holds a week of hourly windows per subject.</summary>
    public sealed class WindowState
    {
        /// <summary>Start.</summary>
        public long Start { get; set; }

        /// <summary>The window's raw sums in <see cref="KpiTotals"/> order (jobs completed, failed, cancelled, toys, print time, filament used, waste, …).</summary>
        public List<double> Sums { get; set; } = [];
    }

    /// <summary>A firing alert.</summary>
    public sealed class FiringState
    {
        /// <summary>Rule name.</summary>
        public string Rule { get; set; } = string.Empty;

        /// <summary>Scope.</summary>
        public KpiScope Scope { get; set; }

        /// <summary>Subject.</summary>
        public string Subject { get; set; } = string.Empty;
    }

    /// <summary>A printer's clock for the stopped-reporting rule.</summary>
    public sealed class PrinterState
    {
        /// <summary>Printer id.</summary>
        public string Printer { get; set; } = string.Empty;

        /// <summary>Newest receive time of its messages.</summary>
        public long LastReceived { get; set; }

        /// <summary>Whether it had a job open after that message.</summary>
        public bool JobOpen { get; set; }
    }
}
