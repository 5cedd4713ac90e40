using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Tests.Alerts;

public sealed class FarmPartialsMergeTests
{
    private static readonly WindowSpec Hourly = WindowSpec.Parse("1h");
    private static readonly DateTimeOffset Day = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);
    private static readonly long Hour = TimeSpan.FromHours(1).Ticks;

    [Fact]
    public void Put_APartitionsNewerPartial_ReplacesItsOlderOne_AndPartitionsAddUp()
    {
        var sut = new FarmPartialsMerge(Hourly, 4);
        var start = Day.UtcTicks;
        sut.Put(0, KpiScope.Farm, "", start, Totals(completed: 1, used: 40));
        sut.Put(0, KpiScope.Farm, "", start, Totals(completed: 2, used: 80)); // the same partition again: replaces
        sut.Put(3, KpiScope.Farm, "", start, Totals(completed: 1, failed: 1, used: 50, waste: 10));

        var point = Assert.Single(sut.TakeChanged());
        Assert.Equal((KpiScope.Farm, "", Day, Day.AddHours(1)), (point.Scope, point.Subject, point.WindowStart, point.WindowEnd));
        Assert.Equal((3L, 1L), (point.Totals.JobsCompleted, point.Totals.JobsFailed));
        Assert.Equal(130, point.Totals.FilamentUsedGrams, 12);
        Assert.Equal(120.0 / 130.0, point.Totals.MaterialEfficiency!.Value, 12);
        Assert.Empty(sut.TakeChanged()); // nothing changed since
    }

    [Fact]
    public void Put_ForAJudgedWindow_IsIgnored_SoAReplayCannotPullItBack()
    {
        var sut = new FarmPartialsMerge(Hourly, 2);
        sut.Put(0, KpiScope.Toy, "dragon", Day.UtcTicks, Totals(completed: 4, used: 160));
        sut.Put(0, KpiScope.Toy, "dragon", Day.UtcTicks + Hour, Totals(completed: 4, used: 160));
        _ = sut.TakeChanged();

        sut.JudgedUntil = Day.UtcTicks + Hour; // the 00:00 window is judged and final in the evaluator
        Assert.Equal(1, sut.Windows);

        // A new owner of partition 0 replays from an older checkpoint: its first flush has less in the 00:00 window.
        Assert.False(sut.Put(0, KpiScope.Toy, "dragon", Day.UtcTicks, Totals(completed: 1, used: 40)));
        Assert.True(sut.Put(1, KpiScope.Toy, "dragon", Day.UtcTicks + Hour, Totals(completed: 1, used: 40)));
        var point = Assert.Single(sut.TakeChanged());
        Assert.Equal((Day.AddHours(1), 5L), (point.WindowStart, point.Totals.JobsCompleted));
    }

    [Fact]
    public void Plan_WaitsForEveryPartitionsReport_AndForAWatermark()
    {
        var sut = new FarmPartialsMerge(Hourly, 3);
        sut.Report(0, new PartitionReport(Day.AddHours(2).UtcTicks, 10, 10));
        sut.Report(1, new PartitionReport(null, 1, 1));
        Assert.Null(sut.Plan()); // partition 2 never said anything

        sut.Report(2, new PartitionReport(null, 1, 1));
        var plan = sut.Plan()!;
        Assert.Equal(Day.AddHours(2).UtcTicks, plan.Leader.Watermark);
        Assert.Equal([1, 2], plan.Behind.Select(b => b.Partition));

        var none = new FarmPartialsMerge(Hourly, 1);
        none.Report(0, new PartitionReport(null, 1, 1));
        Assert.Null(none.Plan()); // no watermark anywhere: nothing is closed
    }

    [Fact]
    public void Plan_LeaderPosition_IsTheFurthestOfTheReportsThatCarryTheLeadingWatermark()
    {
        var sut = new FarmPartialsMerge(Hourly, 3);
        var w = Day.AddHours(5).UtcTicks;
        sut.Report(0, new PartitionReport(w, 40, 7));
        sut.Report(1, new PartitionReport(w, 12, 30));
        sut.Report(2, new PartitionReport(w - Hour, 50, 50));

        var plan = sut.Plan()!;
        Assert.Equal(new PartitionReport(w, 40, 30), plan.Leader);
        Assert.Equal(2, Assert.Single(plan.Behind).Partition);
    }

    [Fact]
    public void Closing_IsTheLeadingWatermark_WhenEveryPartitionBehindIsClear_ElseTheLowestOfThoseThatAreNot()
    {
        var leader = new PartitionReport(Day.AddHours(6).UtcTicks, 100, 100);
        var plan = new ClosingPlan(leader, [(1, new PartitionReport(Day.AddHours(4).UtcTicks, 80, 80)), (2, new PartitionReport(Day.AddHours(5).UtcTicks, 90, 90)), (3, new PartitionReport(null, 1, 1))]);

        Assert.Equal(leader.Watermark, FarmPartialsMerge.Closing(plan, [true, true, true]));
        Assert.Equal(Day.AddHours(5).UtcTicks, FarmPartialsMerge.Closing(plan, [true, false, true]));
        Assert.Equal(Day.AddHours(4).UtcTicks, FarmPartialsMerge.Closing(plan, [false, false, true]));
        Assert.Null(FarmPartialsMerge.Closing(plan, [true, true, false])); // behind, unread messages, and no watermark: nothing closes
        Assert.Throws<ArgumentException>(() => FarmPartialsMerge.Closing(plan, [true]));
    }

    [Fact]
    public void Sums_RoundTripEveryRawSum()
    {
        var totals = Totals(completed: 3, failed: 2, used: 123.25, waste: 7.5);
        var back = FarmPartialsMerge.FromSums(FarmPartialsMerge.Sums(totals));
        Assert.Equal(FarmPartialsMerge.Sums(totals), FarmPartialsMerge.Sums(back));
    }

    /// <summary>
    /// The property the stage stands on: random farms of jobs split over partitions, each partition putting growing
    /// partials of its windows (with replays of older ones before judged windows close), give the evaluator exactly the
    /// transitions it gives when fed the whole farm's windows directly.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void MergedPartials_GiveTheSameTransitionsAsTheWholeFarm(int seed)
    {
        var random = new Random(seed);
        const int Partitions = 5;
        const int Hours = 30;
        var rules = new AlertRuleOptions { BaselineRange = TimeSpan.FromHours(12), DropScopes = [KpiScope.Farm, KpiScope.Toy] };
        var lateness = TimeSpan.FromMinutes(10);
        var single = new AlertEvaluator(rules, lateness, farmWideOnly: true);
        var staged = new AlertEvaluator(rules, lateness, farmWideOnly: true);
        var merge = new FarmPartialsMerge(Hourly, Partitions);
        List<AlertTransition> expected = [];
        List<AlertTransition> actual = [];

        // Per hour, per partition, per subject: a few jobs whose waste rises in a random stretch.
        var bad = random.Next(8, 20);
        var perPartition = new Dictionary<(int Partition, KpiScope Scope, string Subject, long Start), KpiTotals>();
        var history = new List<(int Partition, KpiScope Scope, string Subject, long Start, KpiTotals Totals)>();
        for (var hour = 0; hour < Hours; hour++)
        {
            var start = Day.AddHours(hour).UtcTicks;
            var farm = default(KpiTotals);
            var toy = default(KpiTotals);
            for (var p = 0; p < Partitions; p++)
            {
                var jobs = random.Next(0, 4);
                for (var j = 0; j < jobs; j++)
                {
                    var failed = random.Next(4) == 0;
                    var used = 20 + random.Next(30);
                    var waste = failed ? (hour >= bad && hour < bad + 4 ? used * 0.8 : used * 0.1) : 0;
                    var job = Totals(completed: failed ? 0 : 1, failed: failed ? 1 : 0, used: used, waste: waste);
                    farm.Add(job);
                    toy.Add(job);
                    foreach (var (scope, subject) in new[] { (KpiScope.Farm, ""), (KpiScope.Toy, "dragon") })
                    {
                        var key = (p, scope, subject, start);
                        var grown = perPartition.GetValueOrDefault(key);
                        grown.Add(job);
                        perPartition[key] = grown;
                        history.Add((p, scope, subject, start, grown));
                    }
                }
            }

            // The whole farm, as a single worker's engine would emit it when the hour closes.
            var closedAt = new DateTimeOffset(start + Hour, TimeSpan.Zero) + lateness;
            List<KpiPoint> points = [];
            if (farm.JobsEnded > 0)
            {
                points.Add(new KpiPoint(Hourly, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + Hour, TimeSpan.Zero), KpiScope.Farm, "", farm));
                points.Add(new KpiPoint(Hourly, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + Hour, TimeSpan.Zero), KpiScope.Toy, "dragon", toy));
            }

            single.Evaluate(points, closedAt, expected);

            // The partitions' puts of the hour, the partitions in a random order, each one's partials growing as it
            // flushes; now and then a replay puts an older, smaller partial of an already judged window again.
            var order = Enumerable.Range(0, Partitions).Select(_ => random.Next()).ToArray();
            foreach (var put in history.Select((h, i) => (h, i)).OrderBy(x => order[x.h.Partition]).ThenBy(x => x.i).Select(x => x.h))
            {
                merge.Put(put.Partition, put.Scope, put.Subject, put.Start, put.Totals);
            }

            foreach (var old in perPartition.Where(kv => kv.Key.Start < start && random.Next(3) == 0).ToList())
            {
                merge.Put(old.Key.Partition, old.Key.Scope, old.Key.Subject, old.Key.Start, Totals(completed: 1, used: 1));
            }

            history.Clear();
            staged.Evaluate(merge.TakeChanged(), closedAt, actual);
            merge.JudgedUntil = staged.EvaluatedUntil;
        }

        Assert.NotEmpty(expected);
        Assert.Equal(expected.Select(Describe), actual.Select(Describe));
    }

    // Rule, scope, subject, state, time and the values to 1e-9 (partials add the same numbers in another order).
    private static string Describe(AlertTransition t) =>
        FormattableString.Invariant($"{t.Rule} {t.Scope} {t.Subject} {t.State} {t.At:O} {t.Value:G9} {t.Baseline:G9}");

    private static KpiTotals Totals(long completed = 0, long failed = 0, double used = 0, double waste = 0) =>
        FarmPartialsMerge.FromSums([completed, failed, 0, completed, 600 * (completed + failed), used, waste]);
}
