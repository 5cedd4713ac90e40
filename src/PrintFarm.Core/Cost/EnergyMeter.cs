using PrintFarm.Core.Events;

namespace PrintFarm.Core.Cost;

/// <summary>Energy a printer drew while no job ran on it, between two instants.</summary>
/// <param name="Printer">Printer id.</param>
/// <param name="From">Start of the idle stretch.</param>
/// <param name="To">Its end (equal to <paramref name="From"/> for a reading interval of no length).</param>
/// <param name="Kwh">Energy, kWh.</param>
public readonly record struct IdleEnergy(string Printer, DateTimeOffset From, DateTimeOffset To, double Kwh);

/// <summary>An ended job whose energy is known: every reading up to its end has been attributed.</summary>
/// <param name="Job">The job.</param>
/// <param name="Kwh">Its energy, kWh; null when its printer is not metered (no plug, or no reading yet).</param>
public readonly record struct SettledJob(EndedJob Job, double? Kwh);

/// <summary>What <see cref="EnergyMeter.Read"/> made of a reading.</summary>
public enum ReadingOutcome
{
    /// <summary>Counted (the first reading of a counter only sets where counting starts).</summary>
    Counted,

    /// <summary>Not newer than the printer's last reading (a repeat or a replay): nothing changed.</summary>
    Stale,

    /// <summary>A native reading for a printer that has a configured plug: the plug is its meter, nothing changed.</summary>
    Ignored,
}

/// <summary>
/// Per-printer energy from cumulative counters, split into each job's energy and idle draw. The one place this is
/// computed (docs/kpis.md, "Energy per job").
/// </summary>
/// <remarks>
/// <para>Counter: each reading after the first adds the counter's growth since the previous one. A smaller value than
/// before is a reset (the plug restarted or was reset): it counts from zero again, so the reading adds its own value,
/// never a negative amount. What the plug drew between its last reading before a reset and the reset itself is lost by
/// the plug and cannot be metered; nothing before a printer's first reading is metered.</para>
/// <para>Gaps: the energy between two readings is spread evenly over their interval, however long. Where a job starts or
/// ends inside the interval, the job gets the share of the time it covers (interpolated at its edges), the rest is idle
/// draw. So across a long gap that spans a job edge the split is by time, not by what the printer really drew.</para>
/// <para>Order: an interval is attributed only once the farm's watermark has passed its end, so job starts and ends up
/// to then are known whatever order the plug's and the printer's messages arrived in. A job's energy is settled when
/// an interval ending at or after the job's end has been attributed.</para>
/// <para>Conservation: every kWh counted is given once, to one job or to idle draw.</para>
/// </remarks>
public sealed class EnergyMeter
{
    // A printer whose plug stops reporting must not hold ended jobs for ever: beyond this many, the oldest settles with
    // the energy it has.
    internal const int MaxSpansPerPrinter = 64;

    private readonly Dictionary<string, string> _plugs;
    private readonly HashSet<string> _plugPrinters;
    private readonly Dictionary<string, PrinterMeter> _printers = new(StringComparer.Ordinal);
    private long _earliestPending = long.MaxValue;

    /// <summary>Creates a meter for the configured plugs (plug name → printer id); native readings need none.</summary>
    public EnergyMeter(IReadOnlyDictionary<string, string>? plugs = null)
    {
        _plugs = new Dictionary<string, string>(plugs ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        _plugPrinters = new HashSet<string>(_plugs.Values, StringComparer.Ordinal);
    }

    /// <summary>Every kWh counted so far (since this meter was created or restored, plus what the restored state had).</summary>
    public double MeteredKwh { get; private set; }

    /// <summary>The printer a plug feeds, when the plug is configured.</summary>
    public bool TryGetPrinter(string plug, out string printer) => _plugs.TryGetValue(plug, out printer!);

    /// <summary>
    /// A reading of <paramref name="printer"/>'s counter (from its plug, or <paramref name="native"/> from the printer's
    /// own <c>energy</c> event).
    /// </summary>
    public ReadingOutcome Read(string printer, DateTimeOffset time, double counterKwh, bool native = false)
    {
        ArgumentNullException.ThrowIfNull(printer);
        if (native && _plugPrinters.Contains(printer))
        {
            return ReadingOutcome.Ignored;
        }

        var m = Get(printer);
        var t = time.UtcTicks;
        if (m.LastTime is not { } last)
        {
            m.LastTime = t;
            m.LastCounter = counterKwh;
            m.AttributedUntil = t;
            return ReadingOutcome.Counted;
        }

        if (t <= last)
        {
            return ReadingOutcome.Stale;
        }

        var delta = Delta(m.LastCounter, counterKwh);
        m.Pending.Enqueue(new Interval(last, t, delta));
        _earliestPending = Math.Min(_earliestPending, t);
        m.LastTime = t;
        m.LastCounter = counterKwh;
        MeteredKwh += delta;
        return ReadingOutcome.Counted;
    }

    /// <summary>The energy between two counter values: the growth, or after a reset (a smaller value) the new value.</summary>
    public static double Delta(double previousKwh, double counterKwh) => counterKwh >= previousKwh ? counterKwh - previousKwh : counterKwh;

    /// <summary>A job started on <paramref name="printer"/> (its end comes with <see cref="JobEnded"/>).</summary>
    public void JobOpened(string printer, DateTimeOffset start)
    {
        if (!IsMetered(printer))
        {
            return;
        }

        var m = Get(printer);
        m.Spans.Add(new Span { Start = start.UtcTicks });
    }

    /// <summary>
    /// A job ended. Returns it settled at once when its printer is not metered (energy unknown) or every reading up to
    /// its end is already attributed; otherwise it waits for <see cref="Advance"/>.
    /// </summary>
    public SettledJob? JobEnded(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (!IsMetered(job.Printer) || _printers.GetValueOrDefault(job.Printer) is not { LastTime: not null } m)
        {
            // No plug, or no reading yet: nothing of this job can be metered.
            if (_printers.GetValueOrDefault(job.Printer) is { } unread)
            {
                unread.Spans.RemoveAll(s => s.End is null && s.Start == job.Start.UtcTicks);
            }

            return new SettledJob(job, null);
        }

        var span = m.Spans.Find(s => s.End is null && s.Start == job.Start.UtcTicks);
        if (span is null)
        {
            // Its start was not seen (or was replaced): the job's interval from its end and print time.
            span = new Span { Start = job.Start.UtcTicks };
            m.Spans.Add(span);
        }

        span.End = job.End.UtcTicks;
        span.Job = job;
        if (span.End <= m.AttributedUntil)
        {
            m.Spans.Remove(span);
            return new SettledJob(job, span.Kwh);
        }

        return null;
    }

    /// <summary>
    /// Attributes every reading interval that ends at or before <paramref name="watermark"/>: jobs' shares accrue, idle
    /// shares are appended to <paramref name="idle"/>, and jobs whose energy is now complete to <paramref name="settled"/>.
    /// </summary>
    public void Advance(DateTimeOffset? watermark, List<IdleEnergy> idle, List<SettledJob> settled)
    {
        ArgumentNullException.ThrowIfNull(idle);
        ArgumentNullException.ThrowIfNull(settled);
        if (watermark is not { } wm || wm.UtcTicks < _earliestPending)
        {
            return;
        }

        var until = wm.UtcTicks;
        var earliest = long.MaxValue;
        foreach (var (printer, m) in _printers)
        {
            while (m.Pending.TryPeek(out var next) && next.To <= until)
            {
                m.Pending.Dequeue();
                Attribute(printer, m, next, idle);
                m.AttributedUntil = next.To;
            }

            if (m.Pending.TryPeek(out var left))
            {
                earliest = Math.Min(earliest, left.To);
            }

            Settle(m, settled);
        }

        _earliestPending = earliest;
    }

    private static void Settle(PrinterMeter m, List<SettledJob> settled)
    {
        for (var i = 0; i < m.Spans.Count; i++)
        {
            var s = m.Spans[i];
            if (s.End is { } end && end <= m.AttributedUntil || m.Spans.Count - i > MaxSpansPerPrinter && s.Job is not null)
            {
                if (s.Job is { } job)
                {
                    settled.Add(new SettledJob(job, s.Kwh));
                }

                m.Spans.RemoveAt(i--);
            }
        }

        // An open span never ended (its end event was lost) cannot grow without bound either.
        while (m.Spans.Count > MaxSpansPerPrinter)
        {
            m.Spans.RemoveAt(0);
        }
    }

    // Splits one interval's energy between the jobs covering parts of it and idle draw, by time.
    private static void Attribute(string printer, PrinterMeter m, Interval iv, List<IdleEnergy> idle)
    {
        if (iv.To == iv.From)
        {
            return;
        }

        var cuts = new List<long>(4) { iv.From, iv.To };
        foreach (var s in m.Spans)
        {
            if (s.Start > iv.From && s.Start < iv.To)
            {
                cuts.Add(s.Start);
            }

            if (s.End is { } e && e > iv.From && e < iv.To)
            {
                cuts.Add(e);
            }
        }

        cuts.Sort();
        var length = (double)(iv.To - iv.From);
        var remaining = iv.Kwh;
        for (var i = 0; i + 1 < cuts.Count; i++)
        {
            var (a, b) = (cuts[i], cuts[i + 1]);
            if (b == a)
            {
                continue;
            }

            // The last piece takes what is left, so the pieces add up to the interval's energy.
            var share = b == iv.To ? remaining : iv.Kwh * ((b - a) / length);
            remaining -= share;
            var owner = m.Spans.Find(s => s.Start <= a && (s.End ?? long.MaxValue) >= b);
            if (owner is not null)
            {
                owner.Kwh += share;
            }
            else if (share != 0)
            {
                idle.Add(new IdleEnergy(printer, new DateTimeOffset(a, TimeSpan.Zero), new DateTimeOffset(b, TimeSpan.Zero), share));
            }
        }
    }

    private bool IsMetered(string printer) => _plugPrinters.Contains(printer) || _printers.ContainsKey(printer);

    private PrinterMeter Get(string printer)
    {
        if (!_printers.TryGetValue(printer, out var m))
        {
            m = new PrinterMeter();
            _printers.Add(printer, m);
        }

        return m;
    }

    /// <summary>The meter's state for a checkpoint: each printer's last reading, unattributed intervals and unsettled jobs.</summary>
    public EnergyMeterState SaveState() => new()
    {
        MeteredKwh = MeteredKwh,
        Printers = _printers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new EnergyMeterState.PrinterState
        {
            Printer = p.Key,
            LastTime = p.Value.LastTime,
            LastCounterKwh = p.Value.LastCounter,
            AttributedUntil = p.Value.AttributedUntil,
            Pending = p.Value.Pending.Select(i => new EnergyMeterState.IntervalState { From = i.From, To = i.To, Kwh = i.Kwh }).ToList(),
            Jobs = p.Value.Spans.Select(s => new EnergyMeterState.SpanState { Start = s.Start, End = s.End, Kwh = s.Kwh, Job = s.Job }).ToList(),
        }).ToList(),
    };

    /// <summary>Replaces the state with a saved one; null (an older checkpoint, or costing was off) starts empty.</summary>
    public void RestoreState(EnergyMeterState? state)
    {
        _printers.Clear();
        _earliestPending = long.MaxValue;
        MeteredKwh = state?.MeteredKwh ?? 0;
        foreach (var p in state?.Printers ?? [])
        {
            var m = Get(p.Printer);
            m.LastTime = p.LastTime;
            m.LastCounter = p.LastCounterKwh;
            m.AttributedUntil = p.AttributedUntil;
            foreach (var i in p.Pending ?? [])
            {
                m.Pending.Enqueue(new Interval(i.From, i.To, i.Kwh));
                _earliestPending = Math.Min(_earliestPending, i.To);
            }

            m.Spans.AddRange((p.Jobs ?? []).Select(s => new Span { Start = s.Start, End = s.End, Kwh = s.Kwh, Job = s.Job }));
        }
    }

    private readonly record struct Interval(long From, long To, double Kwh);

    private sealed class Span
    {
        public long Start;
        public long? End;
        public double Kwh;
        public EndedJob? Job;
    }

    private sealed class PrinterMeter
    {
        public long? LastTime;
        public double LastCounter;
        public long AttributedUntil = long.MinValue;
        public readonly Queue<Interval> Pending = new();
        public readonly List<Span> Spans = [];
    }
}

/// <summary>A checkpoint of the <see cref="EnergyMeter"/>; times are UTC ticks, energies kWh.</summary>
public sealed class EnergyMeterState
{
    /// <summary>Every kWh counted.</summary>
    public double MeteredKwh { get; set; }

    /// <summary>Per printer.</summary>
    public List<PrinterState> Printers { get; set; } = [];

    /// <summary>One printer's meter.</summary>
    public sealed class PrinterState
    {
        /// <summary>Printer id.</summary>
        public string Printer { get; set; } = string.Empty;

        /// <summary>Time of the last reading; null before the first.</summary>
        public long? LastTime { get; set; }

        /// <summary>The counter at the last reading, kWh.</summary>
        public double LastCounterKwh { get; set; }

        /// <summary>Readings are attributed up to here.</summary>
        public long AttributedUntil { get; set; }

        /// <summary>Counted intervals not yet attributed.</summary>
        public List<IntervalState>? Pending { get; set; }

        /// <summary>Jobs not yet settled.</summary>
        public List<SpanState>? Jobs { get; set; }
    }

    /// <summary>A counted interval.</summary>
    public sealed class IntervalState
    {
        /// <summary>Start.</summary>
        public long From { get; set; }

        /// <summary>End.</summary>
        public long To { get; set; }

        /// <summary>Energy, kWh.</summary>
        public double Kwh { get; set; }
    }

    /// <summary>An unsettled job.</summary>
    public sealed class SpanState
    {
        /// <summary>Start.</summary>
        public long Start { get; set; }

        /// <summary>End; null while it runs.</summary>
        public long? End { get; set; }

        /// <summary>Energy so far, kWh.</summary>
        public double Kwh { get; set; }

        /// <summary>The ended job; null while it runs.</summary>
        public EndedJob? Job { get; set; }
    }
}
