using System.Collections.Frozen;
using System.Runtime.InteropServices;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Kpis;

/// <summary>What a printer is doing, for time accounting. Saved by name in checkpoints and written as field names.</summary>
public enum PrinterActivity
{
    /// <summary>Printing a job.</summary>
    Printing,

    /// <summary>A job is paused.</summary>
    Paused,

    /// <summary>Preparing a job: heating, levelling, homing.</summary>
    Preparing,

    /// <summary>A job completed and the plate has not been taken off yet (until the next job starts).</summary>
    AwaitingBedClear,

    /// <summary>Connected and doing nothing.</summary>
    Idle,

    /// <summary>Disconnected (presence or last-will topic), or silent for longer than the offline timeout.</summary>
    Offline,

    /// <summary>Stopped on an error (a failed job, or an error state) until something else is reported.</summary>
    Error,

    /// <summary>Set by an operator over MQTT; overrides every other state while on.</summary>
    Maintenance,
}

/// <summary>Settings of the <see cref="PrinterTimeline"/>.</summary>
public sealed class PrinterTimelineOptions
{
    /// <summary>Window sizes (the KPI engine's).</summary>
    public IReadOnlyList<WindowSpec> Windows { get; init; } = [WindowSpec.Parse("1h"), WindowSpec.Parse("1d")];

    /// <summary>A printer that sends nothing for this long counts as offline from then on. Default 15 min; zero: never by silence.</summary>
    public TimeSpan OfflineAfter { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long after its end a window still takes changes (the KPI engine's allowed lateness). Default 10 min.</summary>
    public TimeSpan AllowedLateness { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Declared off-shift time. Default none.</summary>
    public OffShiftSchedule OffShift { get; init; } = OffShiftSchedule.None;
}

/// <summary>Time in each state (and its off-shift part) and the OEE inputs of one window, for one printer or the farm.</summary>
public struct TimeInState
{
    internal long[] OnShiftTicks;
    internal long[] OffShiftTicks;

    internal TimeInState(int _)
    {
        OnShiftTicks = new long[StateCount];
        OffShiftTicks = new long[StateCount];
    }

    internal const int StateCount = 8;

    /// <summary>Good toys of jobs that ended in the window.</summary>
    public long GoodToys { get; internal set; }

    /// <summary>Toys started of those jobs (good toys and toys of failed jobs; operator cancels left out).</summary>
    public long ToysStarted { get; internal set; }

    /// <summary>Slicer estimates of completed jobs that carry one, seconds.</summary>
    public double EstimateSeconds { get; internal set; }

    /// <summary>Print time of those same jobs, seconds.</summary>
    public double EstimatedJobsActualSeconds { get; internal set; }

    // The same sums in ticks, as the encoder writes them (each seconds property below is its ticks' TotalSeconds).
    internal readonly long TicksIn(PrinterActivity state) => OnShiftTicks[(int)state] + OffShiftTicks[(int)state];

    internal readonly long OffShiftTotalTicks => Sum(OffShiftTicks);

    internal readonly long TrackedTicks => Sum(OnShiftTicks) + Sum(OffShiftTicks);

    internal readonly long PlannedTicks => Sum(OnShiftTicks) - OnShiftTicks[(int)PrinterActivity.Maintenance];

    internal readonly long PlannedPrintingTicks => OnShiftTicks[(int)PrinterActivity.Printing];

    private static long Sum(long[] ticks)
    {
        var sum = 0L;
        foreach (var t in ticks)
        {
            sum += t;
        }

        return sum;
    }

    /// <summary>Seconds in <paramref name="state"/> (on and off shift).</summary>
    public readonly double Seconds(PrinterActivity state) => TimeSpan.FromTicks(TicksIn(state)).TotalSeconds;

    /// <summary>Seconds in <paramref name="state"/> during declared off-shift time.</summary>
    public readonly double OffShiftSeconds(PrinterActivity state) => TimeSpan.FromTicks(OffShiftTicks[(int)state]).TotalSeconds;

    /// <summary>Seconds accounted in any state (the window's elapsed part for a printer seen since its start).</summary>
    public readonly double TrackedSeconds => TimeSpan.FromTicks(TrackedTicks).TotalSeconds;

    /// <summary>Off-shift seconds in any state.</summary>
    public readonly double OffShiftTotalSeconds => TimeSpan.FromTicks(OffShiftTotalTicks).TotalSeconds;

    /// <summary>Planned time: on-shift time not in maintenance, seconds.</summary>
    public readonly double PlannedSeconds => TimeSpan.FromTicks(PlannedTicks).TotalSeconds;

    /// <summary>Printing time within planned time, seconds (printing off shift is not planned production).</summary>
    public readonly double PlannedPrintingSeconds => TimeSpan.FromTicks(PlannedPrintingTicks).TotalSeconds;

    /// <summary>See <see cref="Oee.Availability"/>.</summary>
    public readonly double? Availability => Oee.Availability(PlannedPrintingSeconds, PlannedSeconds);

    /// <summary>See <see cref="Oee.Performance"/>.</summary>
    public readonly double? Performance => Oee.Performance(EstimateSeconds, EstimatedJobsActualSeconds);

    /// <summary>See <see cref="Oee.Quality"/>.</summary>
    public readonly double? Quality => Oee.Quality(GoodToys, ToysStarted);

    /// <summary>See <see cref="Oee.Value"/>.</summary>
    public readonly double? OeeValue => Oee.Value(Availability, Performance, Quality);

    internal readonly TimeInState Copy()
    {
        var copy = this;
        copy.OnShiftTicks = (long[])OnShiftTicks.Clone();
        copy.OffShiftTicks = (long[])OffShiftTicks.Clone();
        return copy;
    }
}

/// <summary>One window's time accounting for one printer, or the farm (<see cref="Printer"/> empty).</summary>
/// <param name="Window">Window size.</param>
/// <param name="WindowStart">Window start (the point's timestamp).</param>
/// <param name="WindowEnd">Window end, exclusive.</param>
/// <param name="Printer">Printer id; empty for the farm.</param>
/// <param name="Times">Time in each state and OEE inputs so far.</param>
public readonly record struct TimelinePoint(WindowSpec Window, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, string Printer, TimeInState Times);

/// <summary>
/// Per-printer state timeline: each event moves a printer to a <see cref="PrinterActivity"/>, and the time since its
/// previous change is added to that state in every window it overlaps, split at window edges and at off-shift edges.
/// Work per event is constant (the printer's current windows are kept at hand) unless the event crosses a window edge.
/// </summary>
/// <remarks>
/// A pure function of the events in journal order and the farm's watermark after each of them (<see cref="Advance"/>),
/// never of when <see cref="Collect"/> runs, so an imported trace and a live worker fed it agree exactly. A printer's
/// time is accounted (for good) up to its newest timed event, and up to the watermark each time the watermark is about
/// to close a window. What lies between that and the watermark is only added to the points a collect writes (the
/// tail), so an event of a printer behind the watermark still changes its state from its own time. A message without a
/// time of its own (a presence message) happens at its source's newest event time: its receive time is no event time.
/// </remarks>
public sealed class PrinterTimeline
{
    private readonly WindowSpec[] _specs;
    private readonly long _offlineAfter;
    private readonly long _lateness;
    private readonly OffShiftSchedule _offShift;
    private readonly Dictionary<string, Printer> _printers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _sources = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Spec, long Start, string Printer), Slot> _slots = [];
    private readonly List<Slot> _changed = [];
    private long _watermark = long.MinValue;
    private long _collected = long.MinValue;
    private long _nextClose = long.MinValue;
    private int _tailEpoch;
    private long _shiftFrom = long.MaxValue;
    private long _shiftUntil = long.MinValue;
    private bool _shiftOff;

    private static readonly long RewriteStep = TimeSpan.FromMinutes(1).Ticks;

    /// <summary>Creates the timeline.</summary>
    public PrinterTimeline(PrinterTimelineOptions? options = null)
    {
        options ??= new PrinterTimelineOptions();
        _specs = [.. options.Windows];
        _offlineAfter = options.OfflineAfter > TimeSpan.Zero ? options.OfflineAfter.Ticks : long.MaxValue / 4;
        _lateness = options.AllowedLateness.Ticks;
        _offShift = options.OffShift;
    }

    /// <summary>Printers known to the timeline.</summary>
    public int Printers => _printers.Count;

    /// <summary>The state <paramref name="printer"/> was last put in (maintenance and silence included as of its newest event).</summary>
    public PrinterActivity? StateOf(string printer) => _printers.TryGetValue(printer, out var p) ? p.Effective(p.AccruedUntil, _offlineAfter) : null;

    /// <summary>What state a printer is in after <paramref name="e"/>, from <paramref name="current"/> (its device state).</summary>
    public static PrinterActivity Classify(PrinterEvent e, PrinterActivity current)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.Online == false)
        {
            return PrinterActivity.Offline;
        }

        switch (e.Kind)
        {
            case EventKind.JobStarted:
                return FromState(e.State) is PrinterActivity.Preparing ? PrinterActivity.Preparing : PrinterActivity.Printing;
            case EventKind.JobFinished:
                return e.Outcome switch
                {
                    JobOutcome.Completed => PrinterActivity.AwaitingBedClear,
                    JobOutcome.Failed => PrinterActivity.Error,
                    _ => PrinterActivity.Idle,
                };
        }

        var named = FromState(e.State);
        if (named is PrinterActivity.Idle && current is PrinterActivity.AwaitingBedClear)
        {
            // OctoPrint says Operational (and Klipper standby) right after a print: the plate is still on the bed.
            return current;
        }

        if (named is { } n)
        {
            return n;
        }

        if (e.Kind == EventKind.JobProgress)
        {
            // OctoPrint's last progress (100 %) may come just after PrintDone: the plate is done, not printing again.
            return current is PrinterActivity.Paused or PrinterActivity.Preparing || current is PrinterActivity.AwaitingBedClear && e.ProgressPercent >= 100
                ? current
                : PrinterActivity.Printing;
        }

        // Presence back, or telemetry without a state: a printer that was offline is connected again.
        return current == PrinterActivity.Offline ? PrinterActivity.Idle : current;
    }

    // State names of every format (native, OctoPrint, Moonraker print_stats, Bambu gcode_state), any case. Looked up
    // without lower-casing: most status messages carry a state, and a lower-cased copy was a string per event.
    private static readonly FrozenDictionary<string, PrinterActivity> StateNames = new (string Names, PrinterActivity State)[]
    {
        ("printing running print", PrinterActivity.Printing),
        ("paused pause pausing resuming", PrinterActivity.Paused),
        ("prepare preparing heating starting slicing", PrinterActivity.Preparing),
        ("finish finished complete completed", PrinterActivity.AwaitingBedClear),
        ("error failed", PrinterActivity.Error),
        ("idle operational ready standby cancelled canceled", PrinterActivity.Idle),
        ("offline closed", PrinterActivity.Offline),
    }
        .SelectMany(g => g.Names.Split(' ').Select(name => KeyValuePair.Create(name, g.State)))
        .Append(KeyValuePair.Create("offline after error", PrinterActivity.Error))
        .ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static PrinterActivity? FromState(string? state) =>
        state is not null && StateNames.TryGetValue(state, out var activity) ? activity : null;

    /// <summary>Applies one event of a printer. Receive-time-only events change the state without moving the printer's time.</summary>
    public void Observe(PrinterEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var time = e.Timestamp.UtcTicks;
        if (e.ReceiveTimeOnly)
        {
            // No time of its own, and its receive time is no event time (a history published fast is received "now"):
            // it happens at its source's newest event time, as the KPI engine marks it seen; before any, nowhere.
            time = _sources.TryGetValue(e.Source, out var newest) ? newest : NoClock;
        }
        else
        {
            ref var newest = ref CollectionsMarshal.GetValueRefOrAddDefault(_sources, e.Source, out var known);
            if (!known || time > newest)
            {
                newest = time;
            }
        }

        var p = GetPrinter(e.Printer, time);
        if (time != NoClock)
        {
            AccrueTo(e.Printer, p, time);
        }

        if (!e.ReceiveTimeOnly)
        {
            p.LastSeen = Math.Max(p.LastSeen, time);
        }

        var next = Classify(e, p.Device);
        if (next == PrinterActivity.Error && time != NoClock && p.CancelledAt == time && e.Kind != EventKind.JobFinished)
        {
            // Bambu has no cancelled state: a cancel is reported FAILED, in the same message that ends the job cancelled.
            next = PrinterActivity.Idle;
        }

        p.CancelledAt = e.Kind == EventKind.JobFinished && e.Outcome == JobOutcome.Cancelled && time != NoClock ? time : p.CancelledAt;
        p.Device = next;
        p.Changed = true;
    }

    /// <summary>
    /// The farm's watermark after an event (the KPI engine's). When it is about to close a window, every printer's time
    /// is accounted up to it first, so the window holds it; otherwise only the watermark moves. Call it after each
    /// event: where windows close must not depend on how often <see cref="Collect"/> runs.
    /// </summary>
    public void Advance(DateTimeOffset? watermark)
    {
        if (watermark is not { } w || w.UtcTicks <= _watermark)
        {
            return;
        }

        var ticks = w.UtcTicks;
        if (ticks >= _nextClose)
        {
            // Accounted before the watermark moves: the window it closes is still open for this time.
            foreach (var (name, p) in _printers)
            {
                if (p.AccruedUntil != NoClock && p.AccruedUntil < ticks)
                {
                    AccrueTo(name, p, ticks);
                }
            }

            _nextClose = NextClose(ticks);
        }

        _watermark = ticks;
    }

    // The first moment after `watermark` at which some window closes (the KPI engine's rule).
    private long NextClose(long watermark)
    {
        var open = new DateTimeOffset(Math.Max(0, watermark - _lateness), TimeSpan.Zero);
        var next = long.MaxValue;
        foreach (var spec in _specs)
        {
            next = Math.Min(next, spec.EndOf(spec.StartOf(open)).UtcTicks + _lateness);
        }

        return next;
    }

    /// <summary>An operator put <paramref name="printer"/> into maintenance (or took it out) at <paramref name="at"/>.</summary>
    public void SetMaintenance(string printer, DateTimeOffset at, bool on)
    {
        ArgumentNullException.ThrowIfNull(printer);
        var p = GetPrinter(printer, at.UtcTicks);
        AccrueTo(printer, p, at.UtcTicks);
        p.Maintenance = on;
        p.Changed = true;
    }

    /// <summary>Adds an ended job's quality and performance inputs to the windows of its end.</summary>
    public void AddJob(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var good = job.ToysCompleted;
        var started = good + (Oee.CountsAgainstQuality(job) ? job.Quantity : 0);
        var estimated = job.Outcome == JobOutcome.Completed && job.EstimatedTimeSeconds is > 0;
        if (started == 0 && !estimated)
        {
            return;
        }

        for (var i = 0; i < _specs.Length; i++)
        {
            var start = _specs[i].StartOf(job.End);
            var end = _specs[i].EndOf(start).UtcTicks;
            if (IsClosed(end))
            {
                continue;
            }

            foreach (var subject in (string[])[job.Printer, string.Empty])
            {
                var slot = GetSlot(i, start.UtcTicks, end, subject);
                slot.Times.GoodToys += good;
                slot.Times.ToysStarted += started;
                if (estimated)
                {
                    slot.Times.EstimateSeconds += job.EstimatedTimeSeconds!.Value;
                    slot.Times.EstimatedJobsActualSeconds += job.PrintTimeSeconds;
                }
            }
        }
    }

    /// <summary>
    /// Advances to <paramref name="watermark"/>, appends the windows that changed with each printer's time up to the
    /// watermark (a running window at most once a minute of event time, the first time a minute after it opened, and
    /// always once event time stands still or the window closes), and releases windows the watermark has passed by
    /// more than the allowed lateness.
    /// </summary>
    public void Collect(DateTimeOffset? watermark, List<TimelinePoint> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Advance(watermark);
        var settled = _watermark == _collected;
        _collected = _watermark;

        // Each printer's tail, from its accounted time to the watermark, in the state it is in now: written, never
        // kept (a later event of the printer accounts that time for good, from its own time). A tail marks its windows
        // changed only when it differs from the last collect's: the watermark moved or the printer changed.
        _tailEpoch++;
        foreach (var (name, p) in _printers)
        {
            if (p.AccruedUntil != NoClock && p.AccruedUntil < _watermark)
            {
                AccrueTo(name, p, _watermark, tail: true, mark: !settled || p.Changed);
            }

            p.Changed = false;
        }


        var kept = 0;
        for (var k = 0; k < _changed.Count; k++)
        {
            var slot = _changed[k];
            var key = slot.Key;
            var closing = IsClosed(slot.End) || _watermark >= slot.End;
            if (settled || closing || slot.EmittedAt == long.MinValue || _watermark - slot.EmittedAt >= Math.Min(RewriteStep, (slot.End - key.Start) / 60))
            {
                slot.Changed = false;
                slot.EmittedAt = _watermark;
                output.Add(new TimelinePoint(_specs[key.Spec], new DateTimeOffset(key.Start, TimeSpan.Zero), new DateTimeOffset(slot.End, TimeSpan.Zero), key.Printer, slot.WithTail(_tailEpoch)));
            }
            else
            {
                _changed[kept++] = slot;
            }
        }

        _changed.RemoveRange(kept, _changed.Count - kept);
        if (_watermark == long.MinValue)
        {
            return;
        }

        List<(int, long, string)>? closed = null;
        foreach (var (key, slot) in _slots)
        {
            if (IsClosed(slot.End) && !slot.Changed)
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
            _slots.Remove(key);
        }

        foreach (var p in _printers.Values)
        {
            p.ForgetClosed(this);
        }
    }

    /// <summary>Everything needed to carry on after a restart, by name.</summary>
    public PrinterTimelineState SaveState() => new()
    {
        Watermark = _watermark,
        Collected = _collected,
        Sources = new Dictionary<string, long>(_sources, StringComparer.Ordinal),
        Printers = [.. _printers.Select(kv => new PrinterTimelineState.PrinterState
        {
            Printer = kv.Key,
            Device = kv.Value.Device.ToString(),
            Maintenance = kv.Value.Maintenance,
            LastSeen = kv.Value.LastSeen,
            AccruedUntil = kv.Value.AccruedUntil,
            Changed = kv.Value.Changed,
        })],
        Windows = [.. _slots.Select(kv => new PrinterTimelineState.WindowState
        {
            Window = _specs[kv.Key.Spec].Name,
            Start = kv.Key.Start,
            End = kv.Value.End,
            Printer = kv.Key.Printer,
            OnShift = ByName(kv.Value.Times.OnShiftTicks),
            OffShift = ByName(kv.Value.Times.OffShiftTicks),
            GoodToys = kv.Value.Times.GoodToys,
            ToysStarted = kv.Value.Times.ToysStarted,
            EstimateSeconds = kv.Value.Times.EstimateSeconds,
            EstimatedJobsActualSeconds = kv.Value.Times.EstimatedJobsActualSeconds,
            Changed = kv.Value.Changed,
            EmittedAt = kv.Value.EmittedAt,
        })],
    };

    /// <summary>
    /// Restores <see cref="SaveState"/>'s result into fresh state, swapped in only once all of it was read; none (an
    /// older checkpoint) starts empty. Windows of sizes no longer configured are dropped.
    /// </summary>
    /// <exception cref="FormatException">A state name is not known.</exception>
    public void RestoreState(PrinterTimelineState? state)
    {
        var printers = new Dictionary<string, Printer>(StringComparer.Ordinal);
        var slots = new Dictionary<(int, long, string), Slot>();
        var changed = new List<Slot>();
        foreach (var p in state?.Printers ?? [])
        {
            printers[p.Printer] = new Printer(_specs.Length)
            {
                Device = Parse(p.Device),
                Maintenance = p.Maintenance,
                LastSeen = p.LastSeen,
                AccruedUntil = p.AccruedUntil,
                Changed = p.Changed,
            };
        }

        foreach (var w in state?.Windows ?? [])
        {
            var spec = Array.FindIndex(_specs, s => s.Name == w.Window);
            if (spec < 0)
            {
                continue;
            }

            var slot = new Slot(w.End) { Key = (spec, w.Start, w.Printer), Changed = w.Changed, EmittedAt = w.EmittedAt };
            slot.Times.GoodToys = w.GoodToys;
            slot.Times.ToysStarted = w.ToysStarted;
            slot.Times.EstimateSeconds = w.EstimateSeconds;
            slot.Times.EstimatedJobsActualSeconds = w.EstimatedJobsActualSeconds;
            FromName(w.OnShift, slot.Times.OnShiftTicks);
            FromName(w.OffShift, slot.Times.OffShiftTicks);
            slots[(spec, w.Start, w.Printer)] = slot;
            if (w.Changed)
            {
                changed.Add(slot);
            }
        }

        _printers.Clear();
        foreach (var kv in printers)
        {
            _printers.Add(kv.Key, kv.Value);
        }

        _slots.Clear();
        foreach (var kv in slots)
        {
            _slots.Add(kv.Key, kv.Value);
        }

        _changed.Clear();
        _changed.AddRange(changed);
        _sources.Clear();
        foreach (var (source, newest) in state?.Sources ?? [])
        {
            _sources[source] = newest;
        }

        _watermark = state?.Watermark ?? long.MinValue;
        _collected = state?.Collected ?? long.MinValue;
        _nextClose = _watermark == long.MinValue ? long.MinValue : NextClose(_watermark);
        _shiftFrom = long.MaxValue;
        _shiftUntil = long.MinValue;
    }

    private static Dictionary<string, long> ByName(long[] ticks)
    {
        var named = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < ticks.Length; i++)
        {
            if (ticks[i] != 0)
            {
                named[((PrinterActivity)i).ToString()] = ticks[i];
            }
        }

        return named;
    }

    private static void FromName(Dictionary<string, long>? named, long[] ticks)
    {
        foreach (var (name, value) in named ?? [])
        {
            ticks[(int)Parse(name)] = value;
        }
    }

    private static PrinterActivity Parse(string name) =>
        Enum.TryParse<PrinterActivity>(name, ignoreCase: false, out var a) && Enum.IsDefined(a) && !int.TryParse(name, out _)
            ? a
            : throw new FormatException($"'{name}' is not a printer state");

    private bool IsClosed(long end) => _watermark != long.MinValue && end + _lateness <= _watermark;

    // A printer known only from messages without a time of their own: its time is accounted from its first timed event.
    private const long NoClock = long.MinValue;

    private Printer GetPrinter(string name, long time)
    {
        if (!_printers.TryGetValue(name, out var p))
        {
            p = new Printer(_specs.Length) { AccruedUntil = time, LastSeen = time };
            _printers.Add(name, p);
        }

        return p;
    }

    // Accounts [AccruedUntil, to) in the printer's state, offline from the moment its silence passed the timeout; as
    // the printer's tail (see Collect) instead, when asked: written with the windows, not kept.
    private void AccrueTo(string name, Printer p, long to, bool tail = false, bool mark = true)
    {
        var from = p.AccruedUntil;
        if (from == NoClock)
        {
            // Its first timed event starts its clock.
            p.AccruedUntil = to;
            p.LastSeen = to;
            return;
        }

        if (to <= from)
        {
            return;
        }

        _crediting = tail ? (mark ? Crediting.MarkedTail : Crediting.QuietTail) : Crediting.Kept;

        var silentFrom = p.LastSeen > long.MaxValue - _offlineAfter ? long.MaxValue : p.LastSeen + _offlineAfter;
        var state = p.Effective(from, _offlineAfter);
        if (silentFrom > from && silentFrom < to)
        {
            Add(name, p, state, from, silentFrom);
            Add(name, p, p.Effective(silentFrom, _offlineAfter), silentFrom, to);
        }
        else
        {
            Add(name, p, state, from, to);
        }

        _crediting = Crediting.Kept;
        if (!tail)
        {
            p.AccruedUntil = to;
            p.Changed = true;
        }
    }

    private enum Crediting
    {
        Kept,
        MarkedTail,
        QuietTail,
    }

    private Crediting _crediting;

    // Adds [from, to) in one state to each window of the printer and the farm, split at window and off-shift edges.
    private void Add(string name, Printer p, PrinterActivity state, long from, long to)
    {
        while (from < to)
        {
            if (from < _shiftFrom || from >= _shiftUntil)
            {
                _shiftOff = _offShift.IsOffShift(from, out _shiftUntil);
                _shiftFrom = from;
            }

            var pieceEnd = Math.Min(to, _shiftUntil);
            for (var i = 0; i < _specs.Length; i++)
            {
                for (var start = from; start < pieceEnd;)
                {
                    var slots = p.Current(this, i, name, start);
                    var end = Math.Min(pieceEnd, slots.End);
                    if (slots.Own is not null)
                    {
                        Credit(slots.Own, state, end - start);
                        Credit(slots.Farm!, state, end - start);
                    }

                    start = end;
                }
            }

            from = pieceEnd;
        }
    }

    private void Credit(Slot slot, PrinterActivity state, long ticks)
    {
        if (_crediting == Crediting.Kept)
        {
            (_shiftOff ? slot.Times.OffShiftTicks : slot.Times.OnShiftTicks)[(int)state] += ticks;
        }
        else
        {
            slot.AddTail(_tailEpoch, _shiftOff, state, ticks);
            if (_crediting == Crediting.QuietTail)
            {
                return;
            }
        }

        if (!slot.Changed)
        {
            slot.Changed = true;
            _changed.Add(slot);
        }
    }

    private Slot GetSlot(int spec, long start, long end, string subject)
    {
        var key = (spec, start, subject);
        if (!_slots.TryGetValue(key, out var slot))
        {
            // Counted as written when it opens: its first write, like every later one, waits a rewrite step of event
            // time (or for event time to stand still, or the window to close). A backlog drained fast writes each
            // window once instead of twice, and a farm's hour boundary does not rewrite every printer at once.
            slot = new Slot(end) { Key = key, EmittedAt = _watermark };
            _slots.Add(key, slot);
        }

        if (!slot.Changed && _crediting != Crediting.QuietTail)
        {
            slot.Changed = true;
            _changed.Add(slot);
        }

        return slot;
    }

    private sealed class Slot(long end)
    {
        public TimeInState Times = new(0);
        public long End { get; } = end;
        public (int Spec, long Start, string Printer) Key;
        public bool Changed;
        public long EmittedAt = long.MinValue;

        // The tail of the collect of epoch _tailEpoch (on and off shift per state), allocated on first use.
        private long[]? _tail;
        private int _tailEpoch;

        public void AddTail(int epoch, bool offShift, PrinterActivity state, long ticks)
        {
            _tail ??= new long[2 * TimeInState.StateCount];
            if (_tailEpoch != epoch)
            {
                Array.Clear(_tail);
                _tailEpoch = epoch;
            }

            _tail[(offShift ? TimeInState.StateCount : 0) + (int)state] += ticks;
        }

        // The kept times plus the tail of this collect.
        public TimeInState WithTail(int epoch)
        {
            var times = Times.Copy();
            if (_tail is not null && _tailEpoch == epoch)
            {
                for (var i = 0; i < TimeInState.StateCount; i++)
                {
                    times.OnShiftTicks[i] += _tail[i];
                    times.OffShiftTicks[i] += _tail[TimeInState.StateCount + i];
                }
            }

            return times;
        }
    }

    private sealed class Printer(int windows)
    {
        // Per window size: the window at hand and its two slots, side by side (one array: an event touches all of it).
        private readonly AtHand[] _at = Enumerable.Repeat(new AtHand { Start = long.MaxValue }, windows).ToArray();

        public PrinterActivity Device = PrinterActivity.Idle;
        public bool Maintenance;
        public bool Changed;
        public long LastSeen;
        public long AccruedUntil;

        // When its newest cancelled job ended (not checkpointed: it matters only within the message that ended it).
        public long CancelledAt = NoClock;

        public PrinterActivity Effective(long at, long offlineAfter) =>
            Maintenance ? PrinterActivity.Maintenance
            : at >= LastSeen + offlineAfter && LastSeen <= long.MaxValue - offlineAfter ? PrinterActivity.Offline
            : Device;

        // The printer's and the farm's slot of window size i at time t (none when that window has closed), and its end.
        public (Slot? Own, Slot? Farm, long End) Current(PrinterTimeline timeline, int i, string name, long t)
        {
            ref var at = ref _at[i];
            if (t < at.Start || t >= at.End)
            {
                var spec = timeline._specs[i];
                at.Start = spec.StartOf(new DateTimeOffset(t, TimeSpan.Zero)).UtcTicks;
                at.End = spec.EndOf(new DateTimeOffset(at.Start, TimeSpan.Zero)).UtcTicks;
                if (timeline.IsClosed(at.End))
                {
                    at.Own = at.Farm = null;
                }
                else
                {
                    at.Own = timeline.GetSlot(i, at.Start, at.End, name);
                    at.Farm = timeline.GetSlot(i, at.Start, at.End, string.Empty);
                }
            }

            // A window closes while a printer is in it: the same answer whether or not the slot was at hand.
            return at.Own is not null && timeline.IsClosed(at.End) ? (null, null, at.End) : (at.Own, at.Farm, at.End);
        }

        public void ForgetClosed(PrinterTimeline timeline)
        {
            for (var i = 0; i < _at.Length; i++)
            {
                if (_at[i].Own is { } o && !timeline._slots.ContainsKey(o.Key))
                {
                    _at[i] = new AtHand { Start = long.MaxValue };
                }
            }
        }

        private struct AtHand
        {
            public long Start;
            public long End;
            public Slot? Own;
            public Slot? Farm;
        }
    }
}

/// <summary>A checkpoint of the <see cref="PrinterTimeline"/>: plain data, states by name. Times are UTC ticks.</summary>
public sealed class PrinterTimelineState
{
    /// <summary>The newest watermark the timeline was collected at.</summary>
    public long Watermark { get; set; } = long.MinValue;

    /// <summary>The watermark of the last collect.</summary>
    public long Collected { get; set; } = long.MinValue;

    /// <summary>Each source's newest event time (absent in older checkpoints: none known).</summary>
    public Dictionary<string, long>? Sources { get; set; }

    /// <summary>Each printer's state.</summary>
    public List<PrinterState> Printers { get; set; } = [];

    /// <summary>Open windows.</summary>
    public List<WindowState> Windows { get; set; } = [];

    /// <summary>A printer's state.</summary>
    public sealed class PrinterState
    {
        /// <summary>Printer id.</summary>
        public string Printer { get; set; } = string.Empty;

        /// <summary>The state its events put it in (a <see cref="PrinterActivity"/> name).</summary>
        public string Device { get; set; } = nameof(PrinterActivity.Idle);

        /// <summary>Whether an operator has it in maintenance.</summary>
        public bool Maintenance { get; set; }

        /// <summary>Newest event time.</summary>
        public long LastSeen { get; set; }

        /// <summary>Time accounted up to; <see cref="long.MinValue"/> before its first timed event.</summary>
        public long AccruedUntil { get; set; }

        /// <summary>Changed since the last collect (absent in older checkpoints: false).</summary>
        public bool Changed { get; set; }
    }

    /// <summary>One window of one printer (or the farm: empty printer).</summary>
    public sealed class WindowState
    {
        /// <summary>Window size name.</summary>
        public string Window { get; set; } = string.Empty;

        /// <summary>Window start.</summary>
        public long Start { get; set; }

        /// <summary>Window end.</summary>
        public long End { get; set; }

        /// <summary>Printer id; empty for the farm.</summary>
        public string Printer { get; set; } = string.Empty;

        /// <summary>On-shift ticks by state name.</summary>
        public Dictionary<string, long>? OnShift { get; set; }

        /// <summary>Off-shift ticks by state name.</summary>
        public Dictionary<string, long>? OffShift { get; set; }

        /// <summary>Good toys.</summary>
        public long GoodToys { get; set; }

        /// <summary>Toys started.</summary>
        public long ToysStarted { get; set; }

        /// <summary>Slicer estimates, seconds.</summary>
        public double EstimateSeconds { get; set; }

        /// <summary>Actual print time of estimated jobs, seconds.</summary>
        public double EstimatedJobsActualSeconds { get; set; }

        /// <summary>Changed since last written.</summary>
        public bool Changed { get; set; }

        /// <summary>Watermark it was last written at.</summary>
        public long EmittedAt { get; set; }
    }
}
