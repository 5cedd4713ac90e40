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
}

/// <summary>One KPI series value: a window of one size, for one scope and subject.</summary>
/// <param name="Window">Window size.</param>
/// <param name="WindowStart">Window start (the point's timestamp).</param>
/// <param name="Scope">Scope.</param>
/// <param name="Subject">Printer, toy or material; empty for <see cref="KpiScope.Farm"/>.</param>
/// <param name="Totals">Aggregates so far.</param>
public readonly record struct KpiPoint(WindowSpec Window, DateTimeOffset WindowStart, KpiScope Scope, string Subject, KpiTotals Totals);

/// <summary>Settings of the <see cref="KpiEngine"/>.</summary>
public sealed class KpiEngineOptions
{
    /// <summary>Window sizes; default <c>1h</c> and <c>1d</c>.</summary>
    public IReadOnlyList<WindowSpec> Windows { get; init; } = [WindowSpec.Parse("1h"), WindowSpec.Parse("1d")];

    /// <summary>Bound on out-of-orderness: the watermark trails the newest event time by this much. Default 30 s.</summary>
    public TimeSpan OutOfOrderness { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long after its end (by watermark) a window still accepts late jobs. Default 10 min.</summary>
    public TimeSpan AllowedLateness { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// Tumbling event-time windows over ended jobs, for every configured size and every scope. A job counts in the
/// window that contains its end time. The watermark (newest event time minus the out-of-orderness bound) closes a
/// window once it passes the window's end plus the allowed lateness; a job for a closed window is late: it is not
/// folded into a wrong window, it is reported to the caller to count. Open windows report their totals on each
/// <see cref="Collect"/> after they change, so dashboards see them live; closed windows are released, so memory
/// stays bounded.
/// </summary>
public sealed class KpiEngine
{
    private readonly Dictionary<WindowKey, Window> _windows = [];
    private readonly List<WindowKey> _dirty = [];
    private readonly WindowSpec[] _specs;
    private readonly KpiEngineOptions _options;
    private long _maxEventTicks = long.MinValue;

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

    /// <summary>Newest event time minus the out-of-orderness bound; <see langword="null"/> before any event.</summary>
    public DateTimeOffset? Watermark =>
        _maxEventTicks == long.MinValue ? null : new DateTimeOffset(Math.Max(0, _maxEventTicks - _options.OutOfOrderness.Ticks), TimeSpan.Zero);

    /// <summary>Window × scope × subject series held in memory.</summary>
    public int OpenSeries => _windows.Count;

    /// <summary>Moves the watermark with the time of any event (job or telemetry).</summary>
    public void ObserveEventTime(DateTimeOffset time)
    {
        if (time.UtcTicks > _maxEventTicks)
        {
            _maxEventTicks = time.UtcTicks;
        }
    }

    /// <summary>Adds an ended job to its windows. Returns how many window sizes had already closed for it (0: on time).</summary>
    public int AddJob(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        ObserveEventTime(job.End);
        var watermark = Watermark!.Value;
        var late = 0;
        foreach (var spec in _specs)
        {
            var start = spec.StartOf(job.End);
            if (start + spec.Size + _options.AllowedLateness <= watermark)
            {
                late++;
                continue;
            }

            Add(new WindowKey(spec, start.UtcTicks, KpiScope.Farm, string.Empty), job);
            Add(new WindowKey(spec, start.UtcTicks, KpiScope.Printer, job.Printer), job);
            Add(new WindowKey(spec, start.UtcTicks, KpiScope.Toy, job.Toy), job);
            Add(new WindowKey(spec, start.UtcTicks, KpiScope.Material, job.Material), job);
        }

        return late;
    }

    /// <summary>
    /// Appends every series that changed since the last call, then releases every window the watermark has passed by
    /// more than the allowed lateness (its last change was emitted just before).
    /// </summary>
    public void Collect(List<KpiPoint> output)
    {
        foreach (var key in _dirty)
        {
            var w = _windows[key];
            w.Dirty = false;
            output.Add(ToPoint(key, w));
        }

        _dirty.Clear();
        if (Watermark is not { } watermark)
        {
            return;
        }

        List<WindowKey>? closed = null;
        foreach (var key in _windows.Keys)
        {
            if (new DateTimeOffset(key.StartTicks, TimeSpan.Zero) + key.Spec.Size + _options.AllowedLateness <= watermark)
            {
                (closed ??= []).Add(key);
            }
        }

        if (closed is null)
        {
            return;
        }

        foreach (var key in closed)
        {
            _windows.Remove(key);
        }
    }

    private void Add(WindowKey key, EndedJob job)
    {
        if (!_windows.TryGetValue(key, out var w))
        {
            w = new Window();
            _windows.Add(key, w);
        }

        w.Totals.Add(job);
        if (!w.Dirty)
        {
            w.Dirty = true;
            _dirty.Add(key);
        }
    }

    private static KpiPoint ToPoint(WindowKey key, Window w) =>
        new(key.Spec, new DateTimeOffset(key.StartTicks, TimeSpan.Zero), key.Scope, key.Subject, w.Totals);

    private readonly record struct WindowKey(WindowSpec Spec, long StartTicks, KpiScope Scope, string Subject);

    private sealed class Window
    {
        public KpiTotals Totals;
        public bool Dirty;
    }
}
