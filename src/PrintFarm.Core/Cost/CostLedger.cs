using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Energy;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Cost;

/// <summary>The landed cost of one window × scope × subject, written as fields of its <c>kpi</c> point.</summary>
/// <param name="Window">Window size.</param>
/// <param name="WindowStart">Window start (the point's time).</param>
/// <param name="Scope">Farm, printer, toy or material.</param>
/// <param name="Subject">Printer, toy or material; empty for the farm.</param>
/// <param name="Totals">The window's sums.</param>
public readonly record struct CostPoint(WindowSpec Window, DateTimeOffset WindowStart, KpiScope Scope, string Subject, CostTotals Totals);

/// <summary>An ended job's energy and cost, once its energy is settled (written as fields of its <c>job</c> point).</summary>
/// <param name="Job">The job.</param>
/// <param name="Kwh">Metered energy, kWh; null when its printer is not metered.</param>
/// <param name="Parts">Its cost.</param>
public readonly record struct JobCost(EndedJob Job, double? Kwh, CostParts Parts);

/// <summary>
/// Energy and landed cost for the processor: reads the plugs' topics, feeds the <see cref="EnergyMeter"/>, prices jobs
/// with <see cref="LandedCost"/> and sums them in the KPI engine's windows (the window of a job's end; idle draw in the
/// windows it fell in). Idle draw counts in the farm and printer scopes only: it belongs to no toy or material.
/// </summary>
public sealed class CostLedger
{
    private readonly WindowSpec[] _windows;
    private readonly CostPrices _prices;
    private readonly Dictionary<string, (string Plug, PlugType Type)> _topics = new(StringComparer.Ordinal);
    private readonly TimeZoneInfo _zone;
    private readonly Dictionary<Key, Entry> _totals = [];
    private readonly List<Key> _dirty = [];
    private readonly List<IdleEnergy> _idle = [];
    private readonly List<SettledJob> _settled = [];
    private readonly long _lateness;

    // The watermark of the last collect: a window closed by then has been written for the last time and released, so
    // what comes for it later is late. Until then a window takes whatever arrives, so energy settled by the same message
    // that moved the watermark past a window's close still counts in it.
    private long _collectedAt = long.MinValue;

    /// <summary>Creates the ledger over <paramref name="windows"/> with <paramref name="prices"/> and the plugs of <paramref name="energy"/>.</summary>
    /// <param name="windows">The KPI engine's window sizes.</param>
    /// <param name="prices">Prices.</param>
    /// <param name="energy">The plugs (validated); none when null.</param>
    /// <param name="zone">The farm's time zone, in which Tasmota's local <c>Time</c> is read; UTC when null.</param>
    /// <param name="allowedLateness">How long after its end (by watermark) a window still changes, as the KPI engine's.</param>
    public CostLedger(IReadOnlyList<WindowSpec> windows, CostPrices prices, EnergyOptions? energy = null, TimeZoneInfo? zone = null, TimeSpan? allowedLateness = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        _lateness = (allowedLateness ?? TimeSpan.FromMinutes(10)).Ticks;
        _windows = windows.ToArray();
        _prices = prices;
        _zone = zone ?? TimeZoneInfo.Utc;
        var plugs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, plug) in energy?.Plugs ?? [])
        {
            _topics[plug.TopicFor(name)] = (name, plug.Type);
            plugs[name] = plug.Printer;
        }

        Meter = new EnergyMeter(plugs);
    }

    /// <summary>The meter.</summary>
    public EnergyMeter Meter { get; }

    /// <summary>The plugs' exact topics, to subscribe to.</summary>
    public IEnumerable<string> SubscriptionFilters => _topics.Keys;

    /// <summary>Energy that came after its window had closed (idle draw or a job's energy), kWh; the job points still carry it.</summary>
    public double LateKwh { get; private set; }

    /// <summary>Whether <paramref name="topic"/> is a configured plug's.</summary>
    public bool IsPlugTopic(string topic) => _topics.ContainsKey(topic);

    /// <summary>
    /// Reads a plug's payload. A payload that cannot be read, or is stamped more than <paramref name="maxClockSkew"/>
    /// after its receive time, is rejected and changes nothing.
    /// </summary>
    public AdapterResult Receive(string topic, ReadOnlySpan<byte> payload, DateTimeOffset receivedAt, TimeSpan maxClockSkew)
    {
        if (!_topics.TryGetValue(topic, out var plug))
        {
            return AdapterResult.Rejected(RejectReasons.UnknownTopic, "not a configured plug's topic");
        }

        var result = plug.Type == PlugType.Shelly
            ? PlugPayloads.ReadShelly(payload, receivedAt, out var reading)
            : PlugPayloads.ReadTasmota(payload, _zone, receivedAt, out reading);
        if (!result.Accepted)
        {
            return result;
        }

        if (reading.Time > receivedAt + maxClockSkew)
        {
            return AdapterResult.Rejected(RejectReasons.FutureTimestamp, $"reading time {reading.Time:O} is more than {maxClockSkew} after the receive time {receivedAt:O}");
        }

        Meter.TryGetPrinter(plug.Plug, out var printer);
        Meter.Read(printer, reading.Time, reading.CounterKwh);
        return AdapterResult.Ok;
    }

    /// <summary>A printer's own <c>energy</c> event (ignored for a printer with a configured plug).</summary>
    public void ReadNative(string printer, DateTimeOffset time, double counterKwh) => Meter.Read(printer, time, counterKwh, native: true);

    /// <summary>A job started.</summary>
    public void JobOpened(string printer, DateTimeOffset start) => Meter.JobOpened(printer, start);

    /// <summary>A job ended: its material, machine and labour go into its windows now, its energy once settled.</summary>
    public void JobEnded(EndedJob job, List<JobCost> output)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(output);
        var parts = LandedCost.OfJob(job, null, _prices);
        ForJobWindows(job, (ref CostTotals t) => LandedCost.AddJob(ref t, job, parts));
        if (Meter.JobEnded(job) is { } settled)
        {
            Settled(settled, output);
        }
    }

    /// <summary>Attributes the readings the watermark has passed; appends the jobs whose energy is now settled.</summary>
    public void Advance(DateTimeOffset? watermark, List<JobCost> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _idle.Clear();
        _settled.Clear();
        Meter.Advance(watermark, _idle, _settled);
        foreach (var idle in _idle)
        {
            AddIdle(idle);
        }

        foreach (var settled in _settled)
        {
            Settled(settled, output);
        }
    }

    /// <summary>Appends every window that changed since the last call, then releases the ones <paramref name="watermark"/> has closed.</summary>
    public void Collect(DateTimeOffset? watermark, List<CostPoint> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var key in _dirty)
        {
            var e = _totals[key];
            e.Dirty = false;
            output.Add(new CostPoint(_windows[key.Spec], new DateTimeOffset(key.Start, TimeSpan.Zero), key.Scope, key.Subject, e.Totals));
        }

        _dirty.Clear();
        if (watermark is not { } wm)
        {
            return;
        }

        _collectedAt = Math.Max(_collectedAt, wm.UtcTicks);
        List<Key>? closed = null;
        foreach (var key in _totals.Keys)
        {
            if (IsReleased(key.Spec, new DateTimeOffset(key.Start, TimeSpan.Zero)))
            {
                (closed ??= []).Add(key);
            }
        }

        foreach (var key in closed ?? [])
        {
            _totals.Remove(key);
        }
    }

    // Closed as of the last collect: written for the last time and released.
    private bool IsReleased(int spec, DateTimeOffset time) =>
        _collectedAt != long.MinValue && _windows[spec].EndOf(_windows[spec].StartOf(time)).UtcTicks + _lateness <= _collectedAt;

    private void Settled(SettledJob settled, List<JobCost> output)
    {
        var job = settled.Job;
        if (settled.Kwh is { } kwh)
        {
            if (!ForJobWindows(job, (ref CostTotals t) => LandedCost.AddJobEnergy(ref t, kwh, _prices)))
            {
                LateKwh += kwh;
            }
        }

        output.Add(new JobCost(job, settled.Kwh, LandedCost.OfJob(job, settled.Kwh, _prices)));
    }

    private delegate void Change(ref CostTotals totals);

    // The job's end's window of each size, in all four scopes; false when every one had closed.
    private bool ForJobWindows(EndedJob job, Change change)
    {
        var any = false;
        for (var i = 0; i < _windows.Length; i++)
        {
            if (IsReleased(i, job.End))
            {
                continue;
            }

            any = true;
            var start = _windows[i].StartOf(job.End).UtcTicks;
            Apply(new Key(i, start, KpiScope.Farm, string.Empty), change);
            Apply(new Key(i, start, KpiScope.Printer, job.Printer), change);
            Apply(new Key(i, start, KpiScope.Toy, job.Toy), change);
            Apply(new Key(i, start, KpiScope.Material, job.Material), change);
        }

        return any;
    }

    // Idle draw spread by time over the windows it fell in (a zero-length stretch: the window of its instant).
    private void AddIdle(IdleEnergy idle)
    {
        var length = (idle.To - idle.From).Ticks;
        for (var i = 0; i < _windows.Length; i++)
        {
            var spec = _windows[i];
            var left = idle.Kwh;
            for (var start = spec.StartOf(idle.From); ;)
            {
                var end = spec.EndOf(start);
                var last = end >= idle.To;
                var kwh = last ? left : idle.Kwh * ((end - (start > idle.From ? start : idle.From)).Ticks / (double)length);
                left -= kwh;
                if (IsReleased(i, start))
                {
                    LateKwh += i == 0 ? kwh : 0;
                }
                else
                {
                    Apply(new Key(i, start.UtcTicks, KpiScope.Farm, string.Empty), (ref CostTotals t) => LandedCost.AddIdle(ref t, kwh, _prices));
                    Apply(new Key(i, start.UtcTicks, KpiScope.Printer, idle.Printer), (ref CostTotals t) => LandedCost.AddIdle(ref t, kwh, _prices));
                }

                if (last)
                {
                    break;
                }

                start = end;
            }
        }
    }

    private void Apply(Key key, Change change)
    {
        if (!_totals.TryGetValue(key, out var e))
        {
            e = new Entry();
            _totals.Add(key, e);
        }

        change(ref e.Totals);
        if (!e.Dirty)
        {
            e.Dirty = true;
            _dirty.Add(key);
        }
    }

    /// <summary>The ledger's state for a checkpoint (its own <c>cost</c> property): the meter and the open windows.</summary>
    public CostLedgerState SaveState() => new()
    {
        Meter = Meter.SaveState(),
        LateKwh = LateKwh,
        CollectedAt = _collectedAt,
        Windows = _totals.Select(kv => new CostLedgerState.WindowState
        {
            Window = _windows[kv.Key.Spec].Name,
            Start = kv.Key.Start,
            Scope = kv.Key.Scope,
            Subject = kv.Key.Subject,
            Totals = kv.Value.Totals,
        }).ToList(),
    };

    /// <summary>Replaces the state with a saved one; null (an older checkpoint, or costing was off) starts empty. Restored windows are rewritten on the next collect.</summary>
    public void RestoreState(CostLedgerState? state)
    {
        _totals.Clear();
        _dirty.Clear();
        Meter.RestoreState(state?.Meter);
        LateKwh = state?.LateKwh ?? 0;
        _collectedAt = state?.CollectedAt ?? long.MinValue;
        foreach (var w in state?.Windows ?? [])
        {
            var spec = Array.FindIndex(_windows, s => s.Name == w.Window);
            if (spec >= 0)
            {
                var totals = w.Totals;
                Apply(new Key(spec, w.Start, w.Scope, w.Subject), (ref CostTotals t) => t = totals);
            }
        }
    }

    private readonly record struct Key(int Spec, long Start, KpiScope Scope, string Subject);

    private sealed class Entry
    {
        public CostTotals Totals;
        public bool Dirty;
    }
}

/// <summary>A checkpoint of the <see cref="CostLedger"/>.</summary>
public sealed class CostLedgerState
{
    /// <summary>The meter: the last reading per printer (so a restart neither loses nor doubles energy), unsettled jobs.</summary>
    public EnergyMeterState? Meter { get; set; }

    /// <summary>Late energy so far, kWh.</summary>
    public double LateKwh { get; set; }

    /// <summary>The watermark of the last collect (UTC ticks): windows closed by then are released.</summary>
    public long CollectedAt { get; set; } = long.MinValue;

    /// <summary>Open windows.</summary>
    public List<WindowState> Windows { get; set; } = [];

    /// <summary>One window × scope × subject.</summary>
    public sealed class WindowState
    {
        /// <summary>Window size name.</summary>
        public string Window { get; set; } = string.Empty;

        /// <summary>Start, UTC ticks.</summary>
        public long Start { get; set; }

        /// <summary>Scope.</summary>
        public KpiScope Scope { get; set; }

        /// <summary>Subject.</summary>
        public string Subject { get; set; } = string.Empty;

        /// <summary>Sums.</summary>
        public CostTotals Totals { get; set; }
    }
}
