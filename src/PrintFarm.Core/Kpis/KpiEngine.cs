using PrintFarm.Core.Events;

namespace PrintFarm.Core.Kpis;

/// <summary>The dimension a KPI series is aggregated over.</summary>
public enum KpiScope
{
    /// <summary>The whole farm (no dimension tag).</summary>
    Farm,

    /// <summary>Per printer (<c>printer</c> tag).</summary>
    Printer,

    /// <summary>Per toy (<c>toy</c> tag).</summary>
    Toy,

    /// <summary>Per material (<c>material</c> tag).</summary>
    Material,

    /// <summary>Per order (<c>order</c> tag): the order book's at-risk alert only, never a <c>kpi</c> point.</summary>
    Order,
}

/// <summary>One KPI series value: a window of one size, for one scope and subject.</summary>
/// <param name="Window">Window size.</param>
/// <param name="WindowStart">Window start (the point's timestamp).</param>
/// <param name="WindowEnd">Window end, exclusive.</param>
/// <param name="Scope">Scope.</param>
/// <param name="Subject">Printer, toy or material; empty for <see cref="KpiScope.Farm"/>.</param>
/// <param name="Totals">Aggregates so far.</param>
public readonly record struct KpiPoint(WindowSpec Window, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, KpiScope Scope, string Subject, KpiTotals Totals)
{
    /// <summary>
    /// How far event time had got when the point was taken: the farm's watermark, up to which running jobs' printing
    /// time is in. Before <see cref="WindowEnd"/> the window is still running and only its elapsed part can have been
    /// busy. <see langword="null"/>: the whole window (a point not taken from an engine).
    /// </summary>
    public DateTimeOffset? MeasuredUntil { get; init; }

    /// <summary>The part of the window that has elapsed by event time: the whole window once the watermark passed its end.</summary>
    public TimeSpan Elapsed => (MeasuredUntil is { } until && until < WindowEnd ? until : WindowEnd) - WindowStart;

    /// <summary>
    /// Printing time ÷ the elapsed part of the window (the whole window once it has passed): per printer, or the mean
    /// over printers seen for the farm; none for toy and material, and none while no part of the window has elapsed.
    /// </summary>
    public double? Utilization => Scope switch
    {
        KpiScope.Farm => Totals.Utilization(Elapsed, Totals.PrintersSeen),
        KpiScope.Printer => Totals.Utilization(Elapsed, 1),
        _ => null,
    };

    /// <summary>
    /// The farm's utilization denominator, so that <c>printing_s</c> ÷ this is <see cref="Utilization"/> and summed
    /// partitions give the farm's: <see cref="KpiTotals.CapacitySeconds"/> of the elapsed part and the printers seen,
    /// but never below the printing time (in a running window a job's known interval can run ahead of the watermark,
    /// where utilization is capped at 1). None for other scopes and while nothing has elapsed or no printer was seen.
    /// </summary>
    public double? CapacitySeconds => Scope == KpiScope.Farm && Totals.PrintersSeen > 0 && Elapsed > TimeSpan.Zero
        ? Math.Max(KpiTotals.CapacitySeconds(Elapsed, Totals.PrintersSeen), Totals.BusySeconds)
        : null;
}

/// <summary>Settings of the <see cref="KpiEngine"/>.</summary>
public sealed class KpiEngineOptions
{
    /// <summary>Window sizes; default <c>1h</c> and <c>1d</c> (UTC).</summary>
    public IReadOnlyList<WindowSpec> Windows { get; init; } = [WindowSpec.Parse("1h"), WindowSpec.Parse("1d")];

    /// <summary>Bound on out-of-orderness: a source's watermark trails its newest event time by this much. Default 30 s.</summary>
    public TimeSpan OutOfOrderness { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long after its end (by watermark) a window still accepts late jobs. Default 10 min.</summary>
    public TimeSpan AllowedLateness { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A source that has sent nothing for this long (by receive time, relative to the newest message of any source)
    /// no longer holds the farm's watermark back. Default 5 min.
    /// </summary>
    public TimeSpan SourceIdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Tumbling event-time windows over ended jobs and printing time, for every configured size and every scope.
/// </summary>
/// <remarks>
/// <para>A job counts in the window that contains its end. Printing time (for utilization) is the job's interval
/// clipped to each window it spans, accrued as the watermark advances while the job runs, so a long job also fills the
/// windows that close before it ends.</para>
/// <para>Each source (native, octoprint, …) has a watermark: its newest event time minus the out-of-orderness bound.
/// The farm's watermark is the lowest of the sources that are not idle, and never goes back. A window closes when the
/// watermark passes its end plus the allowed lateness; until then late events still correct it. A job for a closed
/// window is late: it changes nothing and is reported to the caller to count and log.</para>
/// <para>Open windows report their totals on each <see cref="Collect"/> after they change, so dashboards see them
/// live; closed windows are released, so memory is bounded by the open windows, and per-printer state is O(1).</para>
/// </remarks>
public sealed class KpiEngine
{
    private readonly Dictionary<WindowKey, Window> _windows = [];
    private readonly List<WindowKey> _dirty = [];
    private readonly Dictionary<string, SourceClock> _sources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PrinterState> _printers = new(StringComparer.Ordinal);
    private readonly WindowSpec[] _specs;
    private readonly KpiEngineOptions _options;
    private long _watermark = long.MinValue;
    private long _latestReceived = long.MinValue;
    private long _latestEvent = long.MinValue;
    private long _nextClose = long.MinValue;
    private long _collectedWatermark = long.MinValue;

    /// <summary>Creates an engine.</summary>
    public KpiEngine(KpiEngineOptions? options = null)
    {
        _options = options ?? new KpiEngineOptions();
        if (_options.Windows.Count == 0)
        {
            throw new ArgumentException("at least one window size is needed", nameof(options));
        }

        _specs = _options.Windows.Distinct().ToArray();
    }

    /// <summary>The window sizes.</summary>
    public IReadOnlyList<WindowSpec> Windows => _specs;

    /// <summary>The farm's watermark; <see langword="null"/> before any event.</summary>
    public DateTimeOffset? Watermark => _watermark == long.MinValue ? null : new DateTimeOffset(_watermark, TimeSpan.Zero);

    /// <summary>
    /// The newest event time of any source since this engine was created or restored (not checkpointed); null before.
    /// Old history leaves it where it is: the watermark then has nothing newer to move to (readiness reads this).
    /// </summary>
    public DateTimeOffset? LatestEvent => Interlocked.Read(ref _latestEvent) is var t && t == long.MinValue ? null : new DateTimeOffset(t, TimeSpan.Zero);

    /// <summary>Window × scope × subject series held in memory.</summary>
    public int OpenSeries => _windows.Count;

    /// <summary>Jobs that arrived after one of their windows had closed.</summary>
    public long LateJobs { get; private set; }

    /// <summary>
    /// Notes any event: moves its source's watermark (and so perhaps the farm's) and marks the printer (when given) as
    /// seen in the windows containing <paramref name="eventTime"/>, for utilization.
    /// </summary>
    public void Observe(string source, string? printer, DateTimeOffset eventTime, DateTimeOffset receivedAt)
    {
        if (!_sources.TryGetValue(source, out var clock))
        {
            clock = new SourceClock();
            _sources.Add(source, clock);
        }

        var received = receivedAt.UtcTicks;
        clock.LastReceived = Math.Max(clock.LastReceived, received);
        _latestReceived = Math.Max(_latestReceived, received);
        if (eventTime.UtcTicks > clock.MaxEvent)
        {
            clock.MaxEvent = eventTime.UtcTicks;
        }

        if (eventTime.UtcTicks > _latestEvent)
        {
            _latestEvent = eventTime.UtcTicks;
        }

        AdvanceWatermark();
        if (printer is not null)
        {
            MarkSeen(GetPrinter(printer), printer, eventTime);
        }
    }

    /// <summary>
    /// Notes a message that carries no event time (a presence message): the source is alive as of
    /// <paramref name="receivedAt"/>, but its event-time clock does not move. The printer (when given) is marked seen at
    /// the source's newest event time, the source's "now" in event time; before the source's first timed event, nowhere.
    /// </summary>
    public void ObserveReceipt(string source, string? printer, DateTimeOffset receivedAt)
    {
        if (!_sources.TryGetValue(source, out var clock))
        {
            clock = new SourceClock();
            _sources.Add(source, clock);
        }

        var received = receivedAt.UtcTicks;
        clock.LastReceived = Math.Max(clock.LastReceived, received);
        _latestReceived = Math.Max(_latestReceived, received);
        AdvanceWatermark();
        if (printer is not null && clock.MaxEvent != long.MinValue)
        {
            MarkSeen(GetPrinter(printer), printer, new DateTimeOffset(Math.Min(clock.MaxEvent, received), TimeSpan.Zero));
        }
    }

    /// <summary>A job started on <paramref name="printer"/>: its printing time accrues from <paramref name="start"/>.</summary>
    public void JobOpened(string printer, DateTimeOffset start)
    {
        var state = GetPrinter(printer);
        state.OpenSince = start.UtcTicks;
        state.AccruedUntil = start.UtcTicks;
    }

    /// <summary>Adds an ended job to its windows. Returns how many window sizes had already closed for it (0: on time).</summary>
    /// <param name="job">The job.</param>
    /// <param name="receivedAt">
    /// When the message that ended it was received. The job's end is an event time and never moves processing time: a
    /// printer clock running ahead must not mark other sources idle or close windows early. A direct caller without a
    /// receive time (tests, benchmarks) passes none, and the end stands in for it.
    /// </param>
    public int AddJob(EndedJob job, DateTimeOffset? receivedAt = null)
    {
        ArgumentNullException.ThrowIfNull(job);

        // The end is an event time of the job's source like any other (the processor has observed it already; a
        // direct caller may not have).
        Observe(job.Source, null, job.End, receivedAt ?? job.End);
        var state = GetPrinter(job.Printer);
        var start = job.Start.UtcTicks;
        var end = job.End.UtcTicks;
        if (state.OpenSince == start)
        {
            // Printing time up to AccruedUntil is in already; settle the rest (or take back an over-accrual when the
            // end arrived later than the watermark had moved past it).
            if (end > state.AccruedUntil)
            {
                Accrue(job.Printer, state.AccruedUntil, end, +1);
            }
            else if (end < state.AccruedUntil)
            {
                Accrue(job.Printer, end, state.AccruedUntil, -1);
            }
        }
        else
        {
            Accrue(job.Printer, start, end, +1);
        }

        state.OpenSince = null;
        var late = 0;
        for (var i = 0; i < _specs.Length; i++)
        {
            var windowStart = _specs[i].StartOf(job.End);
            var windowEnd = _specs[i].EndOf(windowStart);
            if (IsClosed(windowEnd.UtcTicks))
            {
                late++;
                continue;
            }

            var ticks = windowStart.UtcTicks;
            var farm = Get(new WindowKey(i, ticks, KpiScope.Farm, string.Empty), windowEnd);
            farm.Totals.Add(job);
            farm.Printers!.Add(job.Printer);
            Get(new WindowKey(i, ticks, KpiScope.Printer, job.Printer), windowEnd).Totals.Add(job);
            Get(new WindowKey(i, ticks, KpiScope.Toy, job.Toy), windowEnd).Totals.Add(job);
            Get(new WindowKey(i, ticks, KpiScope.Material, job.Material), windowEnd).Totals.Add(job);
        }

        if (late > 0)
        {
            LateJobs++;
        }

        return late;
    }

    /// <summary>True when the window of size <paramref name="spec"/> that contains <paramref name="time"/> has closed: it no longer changes.</summary>
    public bool IsWindowClosed(WindowSpec spec, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return IsClosed(spec.EndOf(spec.StartOf(time)).UtcTicks);
    }

    /// <summary>
    /// Accrues running jobs' printing time up to the watermark, appends every series that changed since the last call,
    /// then releases every window the watermark has passed by more than the allowed lateness (its last change was
    /// emitted just before).
    /// </summary>
    public void Collect(List<KpiPoint> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_watermark != long.MinValue)
        {
            AccrueRunningJobs(_watermark);
            MarkElapsedChanged();
        }

        foreach (var key in _dirty)
        {
            var w = _windows[key];
            w.Dirty = false;
            if (key.Scope is KpiScope.Farm or KpiScope.Printer)
            {
                w.EmittedUntil = ElapsedEnd(w);
            }

            output.Add(ToPoint(key, w));
        }

        _dirty.Clear();
        if (_watermark == long.MinValue)
        {
            return;
        }

        List<WindowKey>? closed = null;
        foreach (var (key, w) in _windows)
        {
            if (IsClosed(w.End))
            {
                (closed ??= []).Add(key);
            }
        }

        if (closed is not null)
        {
            foreach (var key in closed)
            {
                _windows.Remove(key);
            }
        }
    }

    /// <summary>Everything needed to carry on after a restart: watermarks, open windows and running jobs' accrual.</summary>
    public KpiEngineState SaveState() => new()
    {
        Watermark = _watermark,
        LatestReceived = _latestReceived,
        LateJobs = LateJobs,
        Sources = _sources.Select(kv => new KpiEngineState.SourceState { Source = kv.Key, MaxEvent = kv.Value.MaxEvent, LastReceived = kv.Value.LastReceived }).ToList(),
        Printers = _printers.Where(kv => kv.Value.OpenSince is not null)
            .Select(kv => new KpiEngineState.PrinterState { Printer = kv.Key, OpenSince = kv.Value.OpenSince!.Value, AccruedUntil = kv.Value.AccruedUntil }).ToList(),
        Windows = _windows.Select(kv => new KpiEngineState.WindowState
        {
            Window = _specs[kv.Key.Spec].Name,
            Start = kv.Key.StartTicks,
            End = kv.Value.End,
            Scope = kv.Key.Scope,
            Subject = kv.Key.Subject,
            Totals = kv.Value.Totals,
            Printers = kv.Value.Printers?.Order(StringComparer.Ordinal).ToList(),
        }).ToList(),
    };

    /// <summary>
    /// Replaces this engine's state with a saved one. Windows of sizes no longer configured are dropped (their count
    /// is returned). Every restored window is marked changed, so the next <see cref="Collect"/> rewrites it.
    /// </summary>
    public int RestoreState(KpiEngineState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _windows.Clear();
        _dirty.Clear();
        _sources.Clear();
        _printers.Clear();
        _watermark = state.Watermark;
        _latestReceived = state.LatestReceived;
        _nextClose = _watermark == long.MinValue ? long.MinValue : NextClose(_watermark);
        LateJobs = state.LateJobs;
        foreach (var s in state.Sources)
        {
            _sources[s.Source] = new SourceClock { MaxEvent = s.MaxEvent, LastReceived = s.LastReceived };
        }

        foreach (var p in state.Printers)
        {
            _printers[p.Printer] = new PrinterState(_specs.Length) { OpenSince = p.OpenSince, AccruedUntil = p.AccruedUntil };
        }

        var dropped = 0;
        foreach (var w in state.Windows)
        {
            var spec = Array.FindIndex(_specs, s => s.Name == w.Window);
            if (spec < 0)
            {
                dropped++;
                continue;
            }

            var key = new WindowKey(spec, w.Start, w.Scope, w.Subject);
            var window = new Window(w.End, w.Scope == KpiScope.Farm) { Totals = w.Totals, Dirty = true };
            if (w.Printers is not null)
            {
                window.Printers?.UnionWith(w.Printers);
            }

            _windows[key] = window;
            _dirty.Add(key);
        }

        return dropped;
    }

    private void AdvanceWatermark()
    {
        var idleBefore = _latestReceived - _options.SourceIdleTimeout.Ticks;
        var lowest = long.MaxValue;
        foreach (var clock in _sources.Values)
        {
            // A source that has sent only untimed messages (ObserveReceipt) has no clock yet and holds nothing back.
            if (clock.LastReceived >= idleBefore && clock.MaxEvent != long.MinValue && clock.MaxEvent < lowest)
            {
                lowest = clock.MaxEvent;
            }
        }

        if (lowest != long.MaxValue)
        {
            var candidate = Math.Max(0, lowest - _options.OutOfOrderness.Ticks);
            if (candidate > _watermark)
            {
                // About to close a window: running jobs' printing time must be in it first. Without this, a burst of
                // events (a backlog after a reconnect) would close windows between two Collect calls with their
                // printing time missing. Crossing a close is rare (once per smallest window), so this stays cheap.
                if (_watermark != long.MinValue && candidate >= _nextClose)
                {
                    AccrueRunningJobs(candidate);
                }

                _watermark = candidate;
                _nextClose = NextClose(candidate);
            }
        }
    }

    // The first moment after `watermark` at which some window closes: the window containing watermark − lateness
    // ends after that instant, so it closes after `watermark`, and no earlier window is still open.
    private long NextClose(long watermark)
    {
        var lateness = _options.AllowedLateness.Ticks;
        var open = new DateTimeOffset(Math.Max(0, watermark - lateness), TimeSpan.Zero);
        var next = long.MaxValue;
        foreach (var spec in _specs)
        {
            next = Math.Min(next, spec.EndOf(spec.StartOf(open)).UtcTicks + lateness);
        }

        return next;
    }

    private void AccrueRunningJobs(long until)
    {
        foreach (var (printer, state) in _printers)
        {
            if (state.OpenSince is not null && until > state.AccruedUntil)
            {
                Accrue(printer, state.AccruedUntil, until, +1);
                state.AccruedUntil = until;
            }
        }
    }

    // Utilization is over the elapsed part of a running window, so a farm or printer window whose elapsed part grew
    // since it was written is written again even when nothing else changed (an idle printer's share falls as the hour
    // goes on) — unless its utilization comes out the same (nothing printed in it: 0 % stays 0 %), as the point would
    // be the same bytes. While event time moves on, an unchanged window is rewritten once its elapsed part grew by a minute of
    // event time (a sixtieth of an hour window) rather than at every flush: at 10,000 printers a rewrite of every idle
    // window at each flush cost 10 % more points and a quarter more CPU a message (docs/benchmarks.md). Once event time
    // stands still between two flushes (the farm caught up, a trace read to its end) every window is brought up to the
    // watermark, so the last value written never depends on how the messages were cut into flushes or restarts; once
    // the watermark passes a window's end it is written a last time over the whole window.
    private static readonly long ElapsedRewriteStep = TimeSpan.FromMinutes(1).Ticks;

    private void MarkElapsedChanged()
    {
        var settled = _watermark == _collectedWatermark;
        _collectedWatermark = _watermark;
        foreach (var (key, w) in _windows)
        {
            if (w.Dirty || key.Scope is not (KpiScope.Farm or KpiScope.Printer))
            {
                continue;
            }

            var elapsed = ElapsedEnd(w);
            if (elapsed == w.EmittedUntil)
            {
                continue;
            }

            // Not for the farm: its point carries capacity_s, which grows with the elapsed part whatever it printed.
            if (w.EmittedUntil != long.MinValue && key.Scope == KpiScope.Printer && SameUtilization(key, w, elapsed))
            {
                // The point would be written byte for byte as before (a printer that has printed nothing in the window
                // stays at 0 %): it is as good as written at this watermark.
                w.EmittedUntil = elapsed;
                continue;
            }

            if (settled || elapsed == w.End || w.EmittedUntil == long.MinValue || elapsed - w.EmittedUntil >= Math.Min(ElapsedRewriteStep, (w.End - key.StartTicks) / 60))
            {
                w.Dirty = true;
                _dirty.Add(key);
            }
        }
    }

    private long ElapsedEnd(Window w) => Math.Min(w.End, _watermark);

    // Utilization is the only part of a point that depends on the elapsed end (KpiPoint.Utilization, same formula).
    private static bool SameUtilization(WindowKey key, Window w, long elapsedEnd)
    {
        var printers = key.Scope == KpiScope.Farm ? w.Printers!.Count : 1;
        return w.Totals.Utilization(TimeSpan.FromTicks(elapsedEnd - key.StartTicks), printers)
            == w.Totals.Utilization(TimeSpan.FromTicks(w.EmittedUntil - key.StartTicks), printers);
    }

    private bool IsClosed(long windowEndTicks) =>
        _watermark != long.MinValue && windowEndTicks + _options.AllowedLateness.Ticks <= _watermark;

    private void MarkSeen(PrinterState state, string printer, DateTimeOffset time)
    {
        for (var i = 0; i < _specs.Length; i++)
        {
            var spec = _specs[i];
            var start = spec.StartOf(time);
            if (state.SeenWindow[i] == start.UtcTicks)
            {
                continue;
            }

            var end = spec.EndOf(start);
            if (IsClosed(end.UtcTicks))
            {
                continue;
            }

            state.SeenWindow[i] = start.UtcTicks;
            if (Get(new WindowKey(i, start.UtcTicks, KpiScope.Farm, string.Empty), end, markDirty: false).Printers!.Add(printer))
            {
                MarkDirty(new WindowKey(i, start.UtcTicks, KpiScope.Farm, string.Empty));
            }

            Get(new WindowKey(i, start.UtcTicks, KpiScope.Printer, printer), end);
        }
    }

    // Adds sign × (the part of [from, to) inside each window) to the printer's and the farm's busy time.
    private void Accrue(string printer, long from, long to, int sign)
    {
        if (to <= from)
        {
            return;
        }

        var fromTime = new DateTimeOffset(from, TimeSpan.Zero);
        for (var i = 0; i < _specs.Length; i++)
        {
            var spec = _specs[i];
            for (var start = spec.StartOf(fromTime); start.UtcTicks < to;)
            {
                var end = spec.EndOf(start);
                if (!IsClosed(end.UtcTicks))
                {
                    var seconds = sign * TimeSpan.FromTicks(Math.Min(to, end.UtcTicks) - Math.Max(from, start.UtcTicks)).TotalSeconds;
                    var farm = Get(new WindowKey(i, start.UtcTicks, KpiScope.Farm, string.Empty), end);
                    farm.Totals.AddBusy(seconds);
                    farm.Printers!.Add(printer);
                    Get(new WindowKey(i, start.UtcTicks, KpiScope.Printer, printer), end).Totals.AddBusy(seconds);
                }

                start = end;
            }
        }
    }

    private Window Get(WindowKey key, DateTimeOffset end, bool markDirty = true)
    {
        if (!_windows.TryGetValue(key, out var w))
        {
            w = new Window(end.UtcTicks, key.Scope == KpiScope.Farm);
            _windows.Add(key, w);
            markDirty = true;
        }

        if (markDirty && !w.Dirty)
        {
            w.Dirty = true;
            _dirty.Add(key);
        }

        return w;
    }

    private void MarkDirty(WindowKey key)
    {
        var w = _windows[key];
        if (!w.Dirty)
        {
            w.Dirty = true;
            _dirty.Add(key);
        }
    }

    private PrinterState GetPrinter(string printer)
    {
        if (!_printers.TryGetValue(printer, out var state))
        {
            state = new PrinterState(_specs.Length);
            _printers.Add(printer, state);
        }

        return state;
    }

    private KpiPoint ToPoint(WindowKey key, Window w)
    {
        var totals = w.Totals;
        totals.PrintersSeen = w.Printers?.Count ?? 1;
        return new(_specs[key.Spec], new DateTimeOffset(key.StartTicks, TimeSpan.Zero), new DateTimeOffset(w.End, TimeSpan.Zero), key.Scope, key.Subject, totals)
        {
            MeasuredUntil = _watermark == long.MinValue ? null : new DateTimeOffset(Math.Max(0, _watermark), TimeSpan.Zero),
        };
    }

    // The size is an index into _specs: hashing and comparing an int is far cheaper than a WindowSpec record.
    private readonly record struct WindowKey(int Spec, long StartTicks, KpiScope Scope, string Subject);

    private sealed class Window(long end, bool isFarm)
    {
        public KpiTotals Totals;
        public bool Dirty;

        // The elapsed end (min of End and the watermark) the window was last written with.
        public long EmittedUntil = long.MinValue;

        public long End { get; } = end;

        // Farm scope only: the printers seen in the window, the denominator of farm utilization.
        public HashSet<string>? Printers { get; } = isFarm ? new HashSet<string>(StringComparer.Ordinal) : null;
    }

    private sealed class SourceClock
    {
        public long MaxEvent = long.MinValue;
        public long LastReceived = long.MinValue;
    }

    private sealed class PrinterState(int windows)
    {
        // Start of the window (per size) the printer was last marked seen in: skips repeat work on every sample.
        public readonly long[] SeenWindow = Enumerable.Repeat(long.MinValue, windows).ToArray();
        public long? OpenSince;
        public long AccruedUntil;
    }
}
