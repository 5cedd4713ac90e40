using System.Text.Json.Serialization;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;

namespace PrintFarm.Core.Kpis;

/// <summary>What the failed and cancelled jobs of one reason add up to in one window. Raw sums, so a relabel is a subtraction and an addition.</summary>
public struct ReasonTotals
{
    /// <summary>Failed and cancelled jobs with this reason.</summary>
    [JsonInclude]
    public long Jobs { readonly get; private set; }

    /// <summary>Their filament, grams (jobs with unknown filament add none, as in <c>kpi</c>'s <c>filament_waste_g</c>).</summary>
    [JsonInclude]
    public double WasteGrams { readonly get; private set; }

    /// <summary>Their toys: the plates that did not deliver.</summary>
    [JsonInclude]
    public long ToysLost { readonly get; private set; }

    /// <summary>Adds (<paramref name="sign"/> +1) or takes back (−1) one failed or cancelled job.</summary>
    public void Add(EndedJob job, int sign)
    {
        ArgumentNullException.ThrowIfNull(job);
        Jobs += sign;
        ToysLost += sign * (long)job.Quantity;
        if (job.HasFilament)
        {
            // Rounded back to 0 when every job is taken out, so a relabel leaves no -0.0000001 behind.
            WasteGrams = Jobs == 0 ? 0 : WasteGrams + (sign * job.FilamentGrams);
        }
    }
}

/// <summary>One <c>kpi_reason</c> value: a window of one size and one reason, for the whole farm.</summary>
/// <param name="Window">Window size.</param>
/// <param name="WindowStart">Window start (the point's timestamp).</param>
/// <param name="WindowEnd">Window end, exclusive.</param>
/// <param name="Reason">The reason.</param>
/// <param name="Totals">The reason's jobs, waste and toys lost.</param>
/// <param name="WindowWasteGrams">Waste of every failed or cancelled job in the window, grams: <c>kpi</c>'s <c>filament_waste_g</c>.</param>
/// <param name="WindowToys">Toys of every job that ended in the window (completed or not).</param>
public readonly record struct ReasonPoint(WindowSpec Window, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, FailureReason Reason, ReasonTotals Totals, double WindowWasteGrams, long WindowToys)
{
    /// <summary>This reason's waste ÷ the window's waste, 0–1 (<see cref="ReasonBreakdown.Share"/>).</summary>
    public double? WasteShare => ReasonBreakdown.Share(Totals.WasteGrams, WindowWasteGrams);

    /// <summary>This reason's toys lost ÷ the toys of every job ended in the window, 0–1: its part of the quality loss.</summary>
    public double? QualityLoss => ReasonBreakdown.Share(Totals.ToysLost, WindowToys);
}

/// <summary>
/// Material efficiency and quality broken down by failure reason, per window (the one place the breakdown's formula
/// lives; <c>docs/kpis.md</c>, "Breakdown by reason"). Per window of each size it keeps the toys of every ended job
/// and, per reason, the failed and cancelled jobs, their filament (the waste) and their toys (the toys lost):
/// <list type="bullet">
/// <item><c>waste_share</c> = the reason's waste ÷ the window's waste, so the shares of a window add up to 1 and the
/// reasons' waste to <c>kpi</c>'s <c>filament_waste_g</c>;</item>
/// <item><c>quality_loss</c> = the reason's toys lost ÷ the toys of every job ended in the window, so
/// 1 − Σ quality_loss = toys completed ÷ toys ended.</item>
/// </list>
/// A job counts in the windows the KPI engine counted it in (the caller says which were closed), so the sums match
/// <c>kpi</c> exactly. A window is kept after it closed for as long as labels may still move its jobs between reasons.
/// </summary>
public sealed class ReasonBreakdown
{
    private static readonly int ReasonCount = FailureReasons.All.Count;
    private readonly WindowSpec[] _specs;
    private readonly Dictionary<(int Spec, long Start), WindowReasons> _windows = [];
    private readonly List<(int Spec, long Start)> _dirty = [];

    /// <summary>Creates an empty breakdown over <paramref name="windows"/> (the KPI engine's sizes).</summary>
    public ReasonBreakdown(IReadOnlyList<WindowSpec> windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        _specs = [.. windows];
    }

    /// <summary>The window sizes.</summary>
    public IReadOnlyList<WindowSpec> Windows => _specs;

    /// <summary>Windows held.</summary>
    public int Count => _windows.Count;

    /// <summary><paramref name="part"/> ÷ <paramref name="whole"/>; null while the whole is 0.</summary>
    public static double? Share(double part, double whole) => whole > 0 ? part / whole : null;

    /// <summary>
    /// Adds an ended job to the windows of each size whose bit is set in <paramref name="countedIn"/> (bit i: size i);
    /// a completed job adds only its toys to the window's toys.
    /// </summary>
    public void Add(EndedJob job, int countedIn)
    {
        ArgumentNullException.ThrowIfNull(job);
        for (var i = 0; i < _specs.Length; i++)
        {
            if ((countedIn & (1 << i)) == 0)
            {
                continue;
            }

            var w = Get(i, job.End);
            w.Toys += job.Quantity;
            if (job.Outcome != JobOutcome.Completed)
            {
                var reason = (int)(job.Reason ?? FailureReason.Unknown);
                w.Reasons[reason].Add(job, +1);
                w.Seen[reason] = true;
            }
        }
    }

    /// <summary>Moves a failed or cancelled job from one reason to another in the windows it counted in (a label).</summary>
    public void Move(EndedJob job, int countedIn, FailureReason from, FailureReason to)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (from == to || job.Outcome == JobOutcome.Completed)
        {
            return;
        }

        for (var i = 0; i < _specs.Length; i++)
        {
            if ((countedIn & (1 << i)) == 0 || !_windows.ContainsKey((i, _specs[i].StartOf(job.End).UtcTicks)))
            {
                continue;
            }

            var w = Get(i, job.End);
            w.Reasons[(int)from].Add(job, -1);
            w.Reasons[(int)to].Add(job, +1);
            w.Seen[(int)to] = true;
        }
    }

    /// <summary>
    /// Appends a point for every reason seen in every window that changed since the last call (a reason a label emptied
    /// is written with zeros, so the stored value is replaced), then releases windows that ended before
    /// <paramref name="releaseBefore"/>.
    /// </summary>
    public void Collect(List<ReasonPoint> output, DateTimeOffset? releaseBefore)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var key in _dirty)
        {
            if (!_windows.TryGetValue(key, out var w))
            {
                continue;
            }

            w.Dirty = false;
            var waste = 0.0;
            for (var r = 0; r < ReasonCount; r++)
            {
                waste += w.Reasons[r].WasteGrams;
            }

            var start = new DateTimeOffset(key.Start, TimeSpan.Zero);
            for (var r = 0; r < ReasonCount; r++)
            {
                if (w.Seen[r])
                {
                    output.Add(new ReasonPoint(_specs[key.Spec], start, new DateTimeOffset(w.End, TimeSpan.Zero), (FailureReason)r, w.Reasons[r], waste, w.Toys));
                }
            }
        }

        _dirty.Clear();
        if (releaseBefore is { } before)
        {
            List<(int, long)>? old = null;
            foreach (var (key, w) in _windows)
            {
                if (w.End < before.UtcTicks)
                {
                    (old ??= []).Add(key);
                }
            }

            old?.ForEach(k => _windows.Remove(k));
        }
    }

    /// <summary>The windows as plain data, for a checkpoint.</summary>
    public List<ReasonBreakdownState> SaveState() => _windows.Select(kv => new ReasonBreakdownState
    {
        Window = _specs[kv.Key.Spec].Name,
        Start = kv.Key.Start,
        End = kv.Value.End,
        Toys = kv.Value.Toys,
        Reasons = Enumerable.Range(0, ReasonCount).Where(r => kv.Value.Seen[r]).ToDictionary(r => FailureReasons.Name((FailureReason)r), r => kv.Value.Reasons[r]),
    }).ToList();

    /// <summary>Replaces the windows with saved ones (none: empty); sizes no longer configured are dropped. Restored windows are written again.</summary>
    public void RestoreState(IReadOnlyList<ReasonBreakdownState>? state)
    {
        _windows.Clear();
        _dirty.Clear();
        foreach (var s in state ?? [])
        {
            var spec = Array.FindIndex(_specs, x => x.Name == s.Window);
            if (spec < 0)
            {
                continue;
            }

            var w = new WindowReasons(s.End) { Toys = s.Toys, Dirty = true };
            foreach (var (name, totals) in s.Reasons)
            {
                if (FailureReasons.TryParse(name, out var reason))
                {
                    w.Reasons[(int)reason] = totals;
                    w.Seen[(int)reason] = true;
                }
            }

            _windows[(spec, s.Start)] = w;
            _dirty.Add((spec, s.Start));
        }
    }

    private WindowReasons Get(int spec, DateTimeOffset time)
    {
        var start = _specs[spec].StartOf(time);
        var key = (spec, start.UtcTicks);
        if (!_windows.TryGetValue(key, out var w))
        {
            w = new WindowReasons(_specs[spec].EndOf(start).UtcTicks);
            _windows.Add(key, w);
        }

        if (!w.Dirty)
        {
            w.Dirty = true;
            _dirty.Add(key);
        }

        return w;
    }

    private sealed class WindowReasons(long end)
    {
        public readonly ReasonTotals[] Reasons = new ReasonTotals[ReasonCount];
        public readonly bool[] Seen = new bool[ReasonCount];
        public long End { get; } = end;
        public long Toys;
        public bool Dirty;
    }
}

/// <summary>One window of the breakdown in a checkpoint.</summary>
public sealed class ReasonBreakdownState
{
    /// <summary>Window size name.</summary>
    public required string Window { get; init; }

    /// <summary>Window start, UTC ticks.</summary>
    public required long Start { get; init; }

    /// <summary>Window end, UTC ticks.</summary>
    public required long End { get; init; }

    /// <summary>Toys of every job ended in the window.</summary>
    public long Toys { get; init; }

    /// <summary>Per reason name, the reason's totals.</summary>
    public Dictionary<string, ReasonTotals> Reasons { get; init; } = [];
}
