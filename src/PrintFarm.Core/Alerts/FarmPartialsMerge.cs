using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Alerts;

/// <summary>
/// What one partition of a clustered farm last said about its progress: its KPI engine's watermark (null before its
/// first timed event) and the position in its logs that the watermark and its partial sums reflect (the next sequence
/// to read in each of its two streams). Sequences count over all partitions of a stream, so they order the
/// partitions' messages against each other.
/// </summary>
/// <param name="Watermark">The partition's watermark, UTC ticks; null before its first timed event.</param>
/// <param name="StreamNext">Next sequence to read in the partition stream.</param>
/// <param name="MqttNext">Next sequence to read in the MQTT listener's stream.</param>
public readonly record struct PartitionReport(long? Watermark, ulong StreamNext, ulong MqttNext);

/// <summary>
/// The farm alert stage's arithmetic, pure: each partition's latest partial sums of the alert window, per farm, toy or
/// material subject and window, added up (<see cref="KpiTotals.Add(in KpiTotals)"/>) into the farm's windows; and the
/// rule that says up to which watermark the farm's windows are closed everywhere (<see cref="Closing"/>).
/// </summary>
/// <remarks>
/// <para>A partition's partial for a window <i>replaces</i> its previous one (a replay after a takeover puts the same
/// values again, never more). Windows the evaluator has judged (ending at or before <see cref="JudgedUntil"/>) are
/// final in its own state: later partials for them are ignored, so a new owner of a partition that replays from an
/// older checkpoint cannot pull a judged window back to an earlier value.</para>
/// </remarks>
public sealed class FarmPartialsMerge
{
    private readonly WindowSpec _spec;
    private readonly int _partitions;
    private readonly Dictionary<(KpiScope Scope, string Subject, long Start), Dictionary<int, KpiTotals>> _partials = [];
    private readonly HashSet<(KpiScope Scope, string Subject, long Start)> _changed = [];
    private readonly Dictionary<int, PartitionReport> _reports = [];
    private long _judgedUntil = long.MinValue;

    /// <summary>A merge of <paramref name="partitions"/> partitions' partials of the windows of <paramref name="spec"/>.</summary>
    public FarmPartialsMerge(WindowSpec spec, int partitions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        _spec = spec;
        _partitions = partitions;
    }

    /// <summary>Windows held, over all subjects.</summary>
    public int Windows => _partials.Count;

    /// <summary>
    /// End (UTC ticks) of the last window the evaluator judged: windows ending at or before it are dropped and their
    /// later partials ignored.
    /// </summary>
    public long JudgedUntil
    {
        get => _judgedUntil;
        set
        {
            _judgedUntil = value;
            var size = _spec.Size.Ticks;
            _partials.Keys.Where(k => k.Start + size <= value).ToList().ForEach(k =>
            {
                _partials.Remove(k);
                _changed.Remove(k);
            });
        }
    }

    /// <summary>Sets <paramref name="partition"/>'s partial of one window; false when ignored (a judged window, or a partition out of range).</summary>
    public bool Put(int partition, KpiScope scope, string subject, long windowStart, in KpiTotals totals)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (partition < 0 || partition >= _partitions || windowStart + _spec.Size.Ticks <= _judgedUntil)
        {
            return false;
        }

        var key = (scope, subject, windowStart);
        if (!_partials.TryGetValue(key, out var byPartition))
        {
            byPartition = [];
            _partials.Add(key, byPartition);
        }

        byPartition[partition] = totals;
        _changed.Add(key);
        return true;
    }

    /// <summary>Sets <paramref name="partition"/>'s latest report.</summary>
    public void Report(int partition, PartitionReport report)
    {
        if (partition >= 0 && partition < _partitions)
        {
            _reports[partition] = report;
        }
    }

    /// <summary>The latest report of every partition that has sent one.</summary>
    public IReadOnlyDictionary<int, PartitionReport> Reports => _reports;

    /// <summary>The farm's sum of every window whose partials changed since the last call, as KPI points of the window size.</summary>
    public List<KpiPoint> TakeChanged()
    {
        var points = new List<KpiPoint>(_changed.Count);
        foreach (var key in _changed.OrderBy(k => k.Start).ThenBy(k => k.Scope).ThenBy(k => k.Subject, StringComparer.Ordinal))
        {
            var sum = default(KpiTotals);
            foreach (var partial in _partials[key].OrderBy(p => p.Key))
            {
                sum.Add(partial.Value);
            }

            var start = new DateTimeOffset(key.Start, TimeSpan.Zero);
            points.Add(new KpiPoint(_spec, start, _spec.EndOf(start), key.Scope, key.Subject, sum));
        }

        _changed.Clear();
        return points;
    }

    /// <summary>
    /// Who has to be asked before the farm's windows can close: the leading watermark (the largest any partition
    /// reports) with the report that carries it, and every partition behind it. Null when a partition has not
    /// reported yet (nothing can close then) or none has a watermark.
    /// </summary>
    public ClosingPlan? Plan()
    {
        if (_reports.Count < _partitions)
        {
            return null;
        }

        var leading = _reports.Values.Max(r => r.Watermark);
        if (leading is not { } m)
        {
            return null;
        }

        var carriers = _reports.Values.Where(r => r.Watermark == m).ToList();
        var lead = new PartitionReport(m, carriers.Max(r => r.StreamNext), carriers.Max(r => r.MqttNext));
        var behind = _reports.Where(r => r.Value.Watermark is not { } w || w < lead.Watermark).OrderBy(r => r.Key)
            .Select(r => (r.Key, r.Value)).ToList();
        return new ClosingPlan(lead, behind);
    }

    /// <summary>
    /// The watermark up to which every partition's windows are final. The leading watermark closes a window for the
    /// whole farm once every partition behind it is <i>clear</i>: it holds no message, in either stream, between its
    /// own position and the leader's — so every message of it that came before the leading one is in its partials
    /// already, exactly what a single worker would have counted before its watermark passed. A partition behind and
    /// not clear holds the farm at its own watermark (or, without one, holds everything).
    /// </summary>
    /// <param name="plan">The plan of <see cref="Plan"/>.</param>
    /// <param name="clear">Whether each partition behind (by index in <see cref="ClosingPlan.Behind"/>) is clear.</param>
    public static long? Closing(ClosingPlan plan, IReadOnlyList<bool> clear)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(clear);
        if (clear.Count != plan.Behind.Count)
        {
            throw new ArgumentException("one answer per partition behind", nameof(clear));
        }

        var closing = plan.Leader.Watermark!.Value;
        for (var i = 0; i < plan.Behind.Count; i++)
        {
            if (!clear[i])
            {
                if (plan.Behind[i].Report.Watermark is not { } w)
                {
                    return null;
                }

                closing = Math.Min(closing, w);
            }
        }

        return closing;
    }

    /// <summary>The raw sums of <paramref name="totals"/> in a fixed order, to carry a partial between workers (<see cref="FromSums"/>).</summary>
    public static double[] Sums(in KpiTotals totals) => totals.ToSums();

    /// <summary>Totals from <see cref="Sums"/>.</summary>
    public static KpiTotals FromSums(IReadOnlyList<double> sums) => KpiTotals.FromSums(sums);
}

/// <summary>The leading report and the partitions behind it (<see cref="FarmPartialsMerge.Plan"/>).</summary>
/// <param name="Leader">The largest watermark, with the furthest position among the reports that carry it.</param>
/// <param name="Behind">Every partition whose watermark is lower or missing, with its report.</param>
public sealed record ClosingPlan(PartitionReport Leader, IReadOnlyList<(int Partition, PartitionReport Report)> Behind);
