using PrintFarm.Core.Kpis;

namespace PrintFarm.Simulator.Truth;

/// <summary>
/// Exact time in each state of one window, for one printer or the farm, as the simulator knows it; in ticks, summed as
/// the worker sums them, so the seconds are equal, not only close.
/// </summary>
public readonly struct StateTimes
{
    private readonly long[] _onShift;
    private readonly long[] _offShift;

    internal StateTimes(long[] onShift, long[] offShift)
    {
        _onShift = onShift;
        _offShift = offShift;
    }

    /// <summary>Seconds in <paramref name="state"/>, on and off shift.</summary>
    public double Seconds(PrinterActivity state) => TimeSpan.FromTicks(On(state) + Off(state)).TotalSeconds;

    /// <summary>Seconds in any state during declared off-shift time.</summary>
    public double OffShiftSeconds => TimeSpan.FromTicks(_offShift?.Sum() ?? 0).TotalSeconds;

    /// <summary>Seconds accounted in any state (the window's part after the printer's clock started).</summary>
    public double TrackedSeconds => TimeSpan.FromTicks((_onShift?.Sum() ?? 0) + (_offShift?.Sum() ?? 0)).TotalSeconds;

    /// <summary>Planned time: the tracked time minus maintenance and declared off-shift time, seconds.</summary>
    public double PlannedSeconds => TimeSpan.FromTicks((_onShift?.Sum() ?? 0) - On(PrinterActivity.Maintenance)).TotalSeconds;

    /// <summary>Printing time within planned time, seconds.</summary>
    public double PlannedPrintingSeconds => TimeSpan.FromTicks(On(PrinterActivity.Printing)).TotalSeconds;

    /// <summary>Printing ÷ planned time (<see cref="Oee.Availability"/>).</summary>
    public double? Availability => Oee.Availability(PlannedPrintingSeconds, PlannedSeconds);

    private long On(PrinterActivity state) => _onShift?[(int)state] ?? 0;

    private long Off(PrinterActivity state) => _offShift?[(int)state] ?? 0;
}

/// <summary>
/// The simulator's ground truth for printer time accounting: what each simulated printer was doing, from its schedule
/// (hello, each job's phases as its format reports them — <see cref="Formats.FormatEmitter.States"/> —, how each job
/// ended, drops off the broker, an operator's maintenance), and from that the exact time in each state of any window,
/// per printer and for the farm, split at off-shift edges, and OEE availability. Safe to read while the simulation is
/// still running.
/// </summary>
/// <remarks>
/// Rules the worker documents and the truth follows (docs/kpis.md, "OEE"): a printer's time counts from its first
/// message with a time of its own (OctoPrint's presence has none, so an OctoPrint printer counts from its first job); a
/// message without a time happens at its source's newest event time (the simulator notes when it sends OctoPrint's
/// presence); maintenance overrides every other state while on and leaves the printer's own state as it was; a printer
/// silent for longer than the offline timeout is offline until its next message, then back in its own state.
/// </remarks>
public sealed class PrinterTimeTruth
{
    private const int States = 8;
    private readonly object _gate = new();
    private readonly Dictionary<string, List<Change>> _changes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(long From, long To)>> _silences = new(StringComparer.Ordinal);
    private readonly long _stop;
    private long _sequence;

    internal PrinterTimeTruth(IEnumerable<SimPrinter> printers, DateTimeOffset? stop)
    {
        foreach (var p in printers)
        {
            _changes[p.Id] = [];
            _silences[p.Id] = [];
        }

        _stop = stop?.UtcTicks ?? long.MaxValue;
    }

    // One change of a printer: its own state, or the maintenance switch. Untimed: before its clock started.
    private readonly record struct Change(long Ticks, long Sequence, bool Timed, PrinterActivity? State, bool? Maintenance);

    /// <summary>The printer reports <paramref name="state"/> at <paramref name="at"/>; null: a message without a time before any.</summary>
    internal void Device(string printer, DateTimeOffset? at, PrinterActivity state) =>
        Add(printer, new Change(at?.UtcTicks ?? long.MinValue, 0, at is not null, state, null));

    /// <summary>An operator switches maintenance of <paramref name="printer"/> at <paramref name="at"/>.</summary>
    internal void Maintenance(string printer, DateTimeOffset at, bool on) =>
        Add(printer, new Change(at.UtcTicks, 0, true, null, on));

    /// <summary>
    /// The printer sent a message with an event time at <paramref name="at"/>, its previous one at
    /// <paramref name="previous"/>: a silence of more than <see cref="MinimumSilence"/> between them is kept.
    /// </summary>
    internal void Heard(string printer, DateTimeOffset? previous, DateTimeOffset at)
    {
        if (previous is { } p && at - p > MinimumSilence)
        {
            lock (_gate)
            {
                _silences[printer].Add((p.UtcTicks, at.UtcTicks));
            }
        }
    }

    /// <summary>The shortest offline timeout <see cref="Times"/> can apply: silences up to this long are not kept.</summary>
    public static TimeSpan MinimumSilence { get; } = TimeSpan.FromMinutes(1);

    private void Add(string printer, Change change)
    {
        lock (_gate)
        {
            _changes[printer].Add(change with { Sequence = _sequence++ });
        }
    }

    /// <summary>
    /// Time in each state of the window of <paramref name="window"/> starting at <paramref name="start"/>, for
    /// <paramref name="printer"/> or (empty) the farm, with <paramref name="offShift"/> as the declared off-shift time.
    /// With <paramref name="offlineAfter"/> (the worker's <c>StoppedReportingAfter</c>, at least
    /// <see cref="MinimumSilence"/>), a printer silent for longer is offline from then until its next message, unless in
    /// maintenance; without it, offline only when its host says so. Exact for windows that end before the trace does.
    /// </summary>
    public StateTimes Times(WindowSpec window, DateTimeOffset start, string printer = "", OffShiftSchedule? offShift = null, TimeSpan? offlineAfter = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(printer);
        if (offlineAfter is { } limit && limit < MinimumSilence)
        {
            throw new ArgumentOutOfRangeException(nameof(offlineAfter), limit, $"at least {MinimumSilence}: shorter silences are not kept");
        }

        offShift ??= OffShiftSchedule.None;
        var from = start.UtcTicks;
        var to = Math.Min(window.EndOf(start).UtcTicks, _stop);
        var on = new long[States];
        var off = new long[States];
        List<(List<Change> Log, List<(long, long)> Silences)> printers;
        lock (_gate)
        {
            printers = [.. _changes.Where(kv => printer.Length == 0 || kv.Key == printer).Select(kv => (kv.Value.ToList(), _silences[kv.Key].ToList()))];
        }

        foreach (var (log, silences) in printers)
        {
            // Offline by silence: from the timeout after a message until the next one.
            var offline = offlineAfter is { } after
                ? silences.Where(g => g.Item2 - g.Item1 > after.Ticks).Select(g => (From: g.Item1 + after.Ticks, To: g.Item2)).ToList()
                : [];
            foreach (var (a, b, state) in Segments(log))
            {
                var cursor = a;
                foreach (var (x, y) in state == PrinterActivity.Maintenance ? [] : offline.Where(o => o.To > a && o.From < b))
                {
                    Credit(Math.Max(cursor, from), Math.Min(Math.Max(x, cursor), to), state, offShift, on, off);
                    Credit(Math.Max(Math.Max(x, cursor), from), Math.Min(Math.Min(y, b), to), PrinterActivity.Offline, offShift, on, off);
                    cursor = Math.Max(cursor, Math.Min(y, b));
                }

                Credit(Math.Max(cursor, from), Math.Min(b, to), state, offShift, on, off);
            }
        }

        return new StateTimes(on, off);
    }

    // A printer's states in time order, from its clock's start (its first timed change) to the end of the trace.
    private IEnumerable<(long From, long To, PrinterActivity State)> Segments(List<Change> log)
    {
        var ordered = log.OrderBy(c => c.Ticks).ThenBy(c => c.Sequence).ToList();
        var device = PrinterActivity.Idle;
        var maintenance = false;
        long? cursor = null;
        foreach (var c in ordered)
        {
            if (c.Timed)
            {
                if (cursor is { } at && c.Ticks > at)
                {
                    yield return (at, c.Ticks, maintenance ? PrinterActivity.Maintenance : device);
                }

                cursor = cursor is { } previous ? Math.Max(previous, c.Ticks) : c.Ticks;
            }

            device = c.State ?? device;
            maintenance = c.Maintenance ?? maintenance;
        }

        if (cursor is { } last && last < _stop)
        {
            yield return (last, _stop, maintenance ? PrinterActivity.Maintenance : device);
        }
    }

    private static void Credit(long from, long to, PrinterActivity state, OffShiftSchedule offShift, long[] on, long[] off)
    {
        while (from < to)
        {
            var isOff = offShift.IsOffShift(from, out var until);
            var end = Math.Min(to, until);
            (isOff ? off : on)[(int)state] += end - from;
            from = end;
        }
    }
}
