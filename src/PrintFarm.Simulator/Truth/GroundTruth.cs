using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Truth;

/// <summary>A simulated job: what truly happened and what the worker should record from its format's messages.</summary>
/// <param name="Planned">What happened on the printer.</param>
/// <param name="Reported">The job point the worker should write (outcome, toy, quantity, print time, filament).</param>
/// <param name="Format">The printer's format.</param>
/// <param name="Ended">False for a job still running when the trace ends: it counts only in printing time.</param>
public sealed record TrueJob(PlannedJob Planned, EndedJob Reported, PrinterFormat Format, bool Ended);

/// <summary>
/// The simulator's ground truth: every job that ended, and from them the exact KPI totals the worker should report
/// for any window, with the core's own window rules (<see cref="WindowSpec"/>) and formulas (<see cref="KpiTotals"/>).
/// Safe to read while the simulation is still adding jobs.
/// </summary>
public sealed class GroundTruth
{
    private readonly object _gate = new();
    private readonly List<TrueJob> _jobs = [];
    private readonly Dictionary<string, PrinterFormat> _formats;

    private readonly DateTimeOffset? _stop;

    internal GroundTruth(IEnumerable<SimPrinter> printers, DateTimeOffset? stop)
    {
        _stop = stop;
        _formats = printers.ToDictionary(p => p.Id, p => p.Format, StringComparer.Ordinal);
    }

    /// <summary>A snapshot of the jobs that ended, in the order they were planned.</summary>
    public IReadOnlyList<TrueJob> Jobs
    {
        get
        {
            lock (_gate)
            {
                return _jobs.Where(j => j.Ended).ToArray();
            }
        }
    }

    /// <summary>A snapshot of every job started, ended or not.</summary>
    public IReadOnlyList<TrueJob> Started
    {
        get
        {
            lock (_gate)
            {
                return _jobs.ToArray();
            }
        }
    }

    internal void Add(PlannedJob planned, EndedJob reported, bool ended)
    {
        lock (_gate)
        {
            _jobs.Add(new TrueJob(planned, reported, _formats[planned.Printer], ended));
        }
    }

    /// <summary>
    /// The totals of one window for one scope: the jobs that ended in it (up to <paramref name="until"/>, exclusive,
    /// when given), and printing time clipped to it for the farm and printer scopes.
    /// </summary>
    /// <param name="window">Window size.</param>
    /// <param name="start">Window start (as <see cref="WindowSpec.StartOf"/> gives it).</param>
    /// <param name="scope">Scope.</param>
    /// <param name="subject">Printer or toy; empty for the farm.</param>
    /// <param name="until">Only jobs that ended before this instant (a live view); <see langword="null"/> for all.</param>
    public KpiTotals Totals(WindowSpec window, DateTimeOffset start, KpiScope scope = KpiScope.Farm, string subject = "", DateTimeOffset? until = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        var end = window.EndOf(start);
        var totals = default(KpiTotals);
        foreach (var job in Started)
        {
            var r = job.Reported;
            if (until is { } u && r.Start >= u)
            {
                continue;
            }

            // A job still running (at the end of the trace, or at `until`) has printed up to then.
            var ended = job.Ended && (until is null || r.End < until);
            var busyUntil = ended ? r.End : until ?? _stop ?? r.End;

            var matches = scope switch
            {
                KpiScope.Printer => r.Printer == subject,
                KpiScope.Toy => r.Toy == subject,
                KpiScope.Material => r.Material == subject,
                _ => true,
            };
            if (!matches)
            {
                continue;
            }

            if (ended && r.End >= start && r.End < end)
            {
                totals.Add(r);
            }

            if (scope is KpiScope.Farm or KpiScope.Printer)
            {
                var from = r.Start > start ? r.Start : start;
                var to = busyUntil < end ? busyUntil : end;
                if (to > from)
                {
                    totals.AddBusy((to - from).TotalSeconds);
                }
            }
        }

        return totals;
    }

    /// <summary>The starts of the windows of <paramref name="window"/> in which at least one recorded job ended, in order.</summary>
    public IReadOnlyList<DateTimeOffset> WindowsWithJobs(WindowSpec window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return Jobs.Select(j => window.StartOf(j.Reported.End)).Distinct().Order().ToArray();
    }
}
