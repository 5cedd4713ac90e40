using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Kpis;

public sealed class KpiEngineTests
{
    private static readonly WindowSpec Hour = WindowSpec.Parse("1h");
    private static readonly WindowSpec Day = WindowSpec.Parse("1d");

    // ---- A hand-computed trace ---------------------------------------------------------------------------------
    //
    //   job  printer toy     material outcome    end    print s  qty  grams
    //   J1   p1      dragon  PLA      completed  08:30  5400     4    120
    //   J2   p2      dragon  PLA      completed  08:50  3600     2     60
    //   J3   p1      castle  PETG     failed     09:10  1800     1     20
    //   J4   p2      castle  PLA      cancelled  09:20   900     2      — (unknown)
    //   J5   p1      dragon  PLA      completed  09:45  2700     3     45
    //
    // 1h windows: [08:00, 09:00) holds J1, J2; [09:00, 10:00) holds J3, J4, J5. The 1d window holds all five.
    private static readonly EndedJob J1 = Some.Job(Some.At(8, 30), JobOutcome.Completed, 5400, 4, 120, "p1", "dragon", "PLA", "J1");
    private static readonly EndedJob J2 = Some.Job(Some.At(8, 50), JobOutcome.Completed, 3600, 2, 60, "p2", "dragon", "PLA", "J2");
    private static readonly EndedJob J3 = Some.Job(Some.At(9, 10), JobOutcome.Failed, 1800, 1, 20, "p1", "castle", "PETG", "J3");
    private static readonly EndedJob J4 = Some.Job(Some.At(9, 20), JobOutcome.Cancelled, 900, 2, null, "p2", "castle", "PLA", "J4");
    private static readonly EndedJob J5 = Some.Job(Some.At(9, 45), JobOutcome.Completed, 2700, 3, 45, "p1", "dragon", "PLA", "J5");

    private static Dictionary<(string Window, DateTimeOffset Start, KpiScope Scope, string Subject), KpiTotals> RunTrace(out KpiEngine engine)
    {
        engine = new KpiEngine();
        foreach (var job in new[] { J1, J2, J3, J4, J5 })
        {
            Assert.Equal(0, engine.AddJob(job));
        }

        var points = new List<KpiPoint>();
        engine.Collect(points);
        return points.ToDictionary(p => (p.Window.Name, p.WindowStart, p.Scope, p.Subject), p => p.Totals);
    }

    [Fact]
    public void Collect_Trace_EmitsEverySeriesOnce()
    {
        var series = RunTrace(out _);

        // 1h 08:00: farm, p1, p2, dragon, PLA = 5; 1h 09:00: farm, p1, p2, dragon, castle, PLA, PETG = 7; 1d: the same 7.
        Assert.Equal(5 + 7 + 7, series.Count);
    }

    [Fact]
    public void Collect_Trace_FarmHourWindowsHaveTheHandComputedTotals()
    {
        var series = RunTrace(out _);

        // 08:00–09:00: J1 + J2, both completed with filament.
        var h8 = series[("1h", Some.At(8), KpiScope.Farm, string.Empty)];
        AssertTotals(h8, completed: 2, failed: 0, cancelled: 0, toys: 4 + 2, printTime: 5400 + 3600, used: 120 + 60, waste: 0, withoutFilament: 0);
        Assert.Equal((5400.0 + 3600) / (4 + 2), h8.AvgPrintTimePerToySeconds); // 1500 s per toy
        Assert.Equal(1.0, h8.MaterialEfficiency);
        Assert.Equal(1.0, h8.SuccessRate);

        // 09:00–10:00: J3 failed (20 g wasted), J4 cancelled (filament unknown), J5 completed.
        var h9 = series[("1h", Some.At(9), KpiScope.Farm, string.Empty)];
        AssertTotals(h9, completed: 1, failed: 1, cancelled: 1, toys: 3, printTime: 1800 + 900 + 2700, used: 20 + 45, waste: 20, withoutFilament: 1);
        Assert.Equal((1800.0 + 900 + 2700) / 3, h9.AvgPrintTimePerToySeconds); // 1800 s per toy
        Assert.Equal((65.0 - 20) / 65, h9.MaterialEfficiency);
        Assert.Equal(1.0 / 3, h9.SuccessRate);
    }

    [Fact]
    public void Collect_Trace_FarmDayWindowHasTheHandComputedTotals()
    {
        var series = RunTrace(out _);

        var d = series[("1d", Some.Day, KpiScope.Farm, string.Empty)];
        // Toys: 4 + 2 + 3 (J1, J2, J5); print time: all five; used: all known grams; waste: J3's 20 g.
        AssertTotals(d, completed: 3, failed: 1, cancelled: 1, toys: 4 + 2 + 3, printTime: 5400 + 3600 + 1800 + 900 + 2700, used: 120 + 60 + 20 + 45, waste: 20, withoutFilament: 1);
        Assert.Equal(14400.0 / 9, d.AvgPrintTimePerToySeconds); // 1600 s per toy
        Assert.Equal((245.0 - 20) / 245, d.MaterialEfficiency);
        Assert.Equal(3.0 / 5, d.SuccessRate);
    }

    [Fact]
    public void Collect_Trace_PrinterSeriesHaveTheHandComputedTotals()
    {
        var series = RunTrace(out _);

        // p1 over the day: J1, J3, J5.
        var p1 = series[("1d", Some.Day, KpiScope.Printer, "p1")];
        AssertTotals(p1, completed: 2, failed: 1, cancelled: 0, toys: 4 + 3, printTime: 5400 + 1800 + 2700, used: 120 + 20 + 45, waste: 20, withoutFilament: 0);
        Assert.Equal(9900.0 / 7, p1.AvgPrintTimePerToySeconds);
        Assert.Equal((185.0 - 20) / 185, p1.MaterialEfficiency);
        Assert.Equal(2.0 / 3, p1.SuccessRate);

        // p2 over the day: J2, J4.
        var p2 = series[("1d", Some.Day, KpiScope.Printer, "p2")];
        AssertTotals(p2, completed: 1, failed: 0, cancelled: 1, toys: 2, printTime: 3600 + 900, used: 60, waste: 0, withoutFilament: 1);
        Assert.Equal(4500.0 / 2, p2.AvgPrintTimePerToySeconds);
        Assert.Equal(1.0, p2.MaterialEfficiency);
        Assert.Equal(1.0 / 2, p2.SuccessRate);

        // p1 in the 09:00 hour: J3, J5.
        var p1h9 = series[("1h", Some.At(9), KpiScope.Printer, "p1")];
        AssertTotals(p1h9, completed: 1, failed: 1, cancelled: 0, toys: 3, printTime: 1800 + 2700, used: 20 + 45, waste: 20, withoutFilament: 0);

        // p2 in the 08:00 hour: J2 only.
        var p2h8 = series[("1h", Some.At(8), KpiScope.Printer, "p2")];
        AssertTotals(p2h8, completed: 1, failed: 0, cancelled: 0, toys: 2, printTime: 3600, used: 60, waste: 0, withoutFilament: 0);
    }

    [Fact]
    public void Collect_Trace_ToySeriesHaveTheHandComputedTotals()
    {
        var series = RunTrace(out _);

        // dragon: J1, J2, J5, all completed.
        var dragon = series[("1d", Some.Day, KpiScope.Toy, "dragon")];
        AssertTotals(dragon, completed: 3, failed: 0, cancelled: 0, toys: 4 + 2 + 3, printTime: 5400 + 3600 + 2700, used: 120 + 60 + 45, waste: 0, withoutFilament: 0);
        Assert.Equal(11700.0 / 9, dragon.AvgPrintTimePerToySeconds); // 1300 s per toy

        // castle: J3 failed, J4 cancelled: no toy, so no average; all known filament wasted.
        var castle = series[("1d", Some.Day, KpiScope.Toy, "castle")];
        AssertTotals(castle, completed: 0, failed: 1, cancelled: 1, toys: 0, printTime: 1800 + 900, used: 20, waste: 20, withoutFilament: 1);
        Assert.Null(castle.AvgPrintTimePerToySeconds);
        Assert.Equal(0.0, castle.MaterialEfficiency);
        Assert.Equal(0.0, castle.SuccessRate);

        Assert.False(series.ContainsKey(("1h", Some.At(8), KpiScope.Toy, "castle")));
    }

    [Fact]
    public void Collect_Trace_MaterialSeriesHaveTheHandComputedTotals()
    {
        var series = RunTrace(out _);

        // PLA: J1, J2, J4, J5.
        var pla = series[("1d", Some.Day, KpiScope.Material, "PLA")];
        AssertTotals(pla, completed: 3, failed: 0, cancelled: 1, toys: 4 + 2 + 3, printTime: 5400 + 3600 + 900 + 2700, used: 120 + 60 + 45, waste: 0, withoutFilament: 1);
        Assert.Equal(12600.0 / 9, pla.AvgPrintTimePerToySeconds); // 1400 s per toy
        Assert.Equal(3.0 / 4, pla.SuccessRate);

        // PETG: J3 only.
        var petg = series[("1h", Some.At(9), KpiScope.Material, "PETG")];
        AssertTotals(petg, completed: 0, failed: 1, cancelled: 0, toys: 0, printTime: 1800, used: 20, waste: 20, withoutFilament: 0);
        Assert.Equal(0.0, petg.MaterialEfficiency);
    }

    [Fact]
    public void Collect_Trace_ReleasesTheHourWindowThatClosed()
    {
        var series = RunTrace(out var engine);

        // The watermark is 09:45 − 30 s = 09:44:30, past 09:00 + 10 min, so the five 08:00 series were emitted and then
        // released; the 09:00 hour (7 series) and the day (7 series) stay open.
        Assert.Equal(Some.At(9, 45) - TimeSpan.FromSeconds(30), engine.Watermark);
        Assert.Equal(series.Count - 5, engine.OpenSeries);
    }

    private static void AssertTotals(KpiTotals t, long completed, long failed, long cancelled, long toys, double printTime, double used, double waste, long withoutFilament)
    {
        Assert.Equal(completed, t.JobsCompleted);
        Assert.Equal(failed, t.JobsFailed);
        Assert.Equal(cancelled, t.JobsCancelled);
        Assert.Equal(toys, t.ToysCompleted);
        Assert.Equal(printTime, t.PrintTimeSeconds);
        Assert.Equal(used, t.FilamentUsedGrams);
        Assert.Equal(waste, t.FilamentWasteGrams);
        Assert.Equal(withoutFilament, t.JobsWithoutFilament);
    }

    // ---- Watermark ---------------------------------------------------------------------------------------------

    [Fact]
    public void Watermark_BeforeAnyEvent_IsNull()
    {
        Assert.Null(new KpiEngine().Watermark);
    }

    [Fact]
    public void Watermark_IsTheNewestEventTimeMinusTheOutOfOrdernessBound()
    {
        var options = new KpiEngineOptions { OutOfOrderness = TimeSpan.FromSeconds(45) };
        var engine = new KpiEngine(options);

        engine.ObserveEventTime(Some.At(9));
        engine.ObserveEventTime(Some.At(10));
        engine.ObserveEventTime(Some.At(9, 30)); // older: does not move it back

        Assert.Equal(Some.At(10) - options.OutOfOrderness, engine.Watermark);
    }

    [Fact]
    public void Watermark_DefaultBound_IsThirtySeconds()
    {
        var engine = new KpiEngine();

        engine.ObserveEventTime(Some.At(10));

        Assert.Equal(Some.At(10).AddSeconds(-30), engine.Watermark);
    }

    [Fact]
    public void Watermark_OffsetTimes_CompareAsUtc()
    {
        var engine = new KpiEngine();

        engine.ObserveEventTime(new DateTimeOffset(2024, 6, 1, 11, 0, 0, TimeSpan.FromHours(2))); // 09:00 UTC
        engine.ObserveEventTime(Some.At(10));

        Assert.Equal(Some.At(10).AddSeconds(-30), engine.Watermark);
        Assert.Equal(TimeSpan.Zero, engine.Watermark!.Value.Offset);
    }

    [Fact]
    public void AddJob_MovesTheWatermarkToo()
    {
        var engine = new KpiEngine();

        engine.AddJob(Some.Job(Some.At(10)));

        Assert.Equal(Some.At(10).AddSeconds(-30), engine.Watermark);
    }

    // ---- Late jobs ---------------------------------------------------------------------------------------------

    [Fact]
    public void AddJob_AfterItsHourWindowClosed_IsReportedLateAndNotCountedThere()
    {
        var options = new KpiEngineOptions();
        var engine = new KpiEngine(options);
        // The 08:00 hour closes when the watermark reaches 09:00 + allowed lateness; the watermark trails by the bound.
        engine.ObserveEventTime(Some.At(9) + options.AllowedLateness + options.OutOfOrderness);

        var late = engine.AddJob(Some.Job(Some.At(8, 59)));

        Assert.Equal(1, late); // the 1h window; the 1d window is still open
        var points = new List<KpiPoint>();
        engine.Collect(points);
        Assert.DoesNotContain(points, p => p.Window == Hour);
        var farmDay = Assert.Single(points, p => p.Window == Day && p.Scope == KpiScope.Farm);
        Assert.Equal(1, farmDay.Totals.JobsEnded);
    }

    [Fact]
    public void AddJob_OneTickBeforeTheWindowCloses_IsOnTime()
    {
        var options = new KpiEngineOptions();
        var engine = new KpiEngine(options);
        engine.ObserveEventTime(Some.At(9) + options.AllowedLateness + options.OutOfOrderness - TimeSpan.FromTicks(1));

        var late = engine.AddJob(Some.Job(Some.At(8, 59)));

        Assert.Equal(0, late);
        var points = new List<KpiPoint>();
        engine.Collect(points);
        Assert.Equal(1, Assert.Single(points, p => p.Window == Hour && p.Scope == KpiScope.Farm).Totals.JobsEnded);
    }

    [Fact]
    public void AddJob_LateForEveryWindow_IsNotCountedAnywhere()
    {
        var options = new KpiEngineOptions { Windows = [Hour], AllowedLateness = TimeSpan.Zero, OutOfOrderness = TimeSpan.FromSeconds(10) };
        var engine = new KpiEngine(options);
        engine.ObserveEventTime(Some.At(10, 0, 10)); // watermark 10:00:00 = end of the 09:00 hour

        var late = engine.AddJob(Some.Job(Some.At(9, 30)));

        Assert.Equal(1, late);
        var points = new List<KpiPoint>();
        engine.Collect(points);
        Assert.Empty(points);
        Assert.Equal(0, engine.OpenSeries);
    }

    [Fact]
    public void AddJob_LateForBothWindows_ReturnsTwo()
    {
        var options = new KpiEngineOptions();
        var engine = new KpiEngine(options);
        engine.ObserveEventTime(Some.Day.AddDays(1) + options.AllowedLateness + options.OutOfOrderness);

        Assert.Equal(2, engine.AddJob(Some.Job(Some.At(23))));
    }

    [Fact]
    public void AddJob_OutOfOrderWithinTheBound_IsOnTime()
    {
        var options = new KpiEngineOptions { Windows = [Hour], AllowedLateness = TimeSpan.Zero, OutOfOrderness = TimeSpan.FromSeconds(30) };
        var engine = new KpiEngine(options);

        Assert.Equal(0, engine.AddJob(Some.Job(Some.At(9, 0, 29), jobId: "later")));
        Assert.Equal(0, engine.AddJob(Some.Job(Some.At(8, 59, 59), jobId: "earlier")));

        var points = new List<KpiPoint>();
        engine.Collect(points);
        Assert.Equal(1, Assert.Single(points, p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Farm).Totals.JobsEnded);
    }

    // ---- Collect -----------------------------------------------------------------------------------------------

    [Fact]
    public void Collect_NothingAdded_EmitsNothing()
    {
        var engine = new KpiEngine();
        var points = new List<KpiPoint>();

        engine.Collect(points);
        engine.ObserveEventTime(Some.At(10));
        engine.Collect(points);

        Assert.Empty(points);
    }

    [Fact]
    public void Collect_OneJob_EmitsFourScopesPerWindow()
    {
        var engine = new KpiEngine();
        var job = Some.Job(Some.At(8, 30), printer: "p1", toy: "dragon", material: "PLA");
        engine.AddJob(job);

        var points = new List<KpiPoint>();
        engine.Collect(points);

        (string, DateTimeOffset, KpiScope, string)[] expected =
        [
            ("1h", Some.At(8), KpiScope.Farm, ""), ("1h", Some.At(8), KpiScope.Printer, "p1"),
            ("1h", Some.At(8), KpiScope.Toy, "dragon"), ("1h", Some.At(8), KpiScope.Material, "PLA"),
            ("1d", Some.Day, KpiScope.Farm, ""), ("1d", Some.Day, KpiScope.Printer, "p1"),
            ("1d", Some.Day, KpiScope.Toy, "dragon"), ("1d", Some.Day, KpiScope.Material, "PLA"),
        ];
        Assert.Equal(expected.Order(), points.Select(p => (p.Window.Name, p.WindowStart, p.Scope, p.Subject)).Order());
        Assert.All(points, p => Assert.Equal(1, p.Totals.JobsCompleted));
        Assert.Equal(8, engine.OpenSeries);
    }

    [Fact]
    public void Collect_Twice_EmitsOnlySeriesThatChangedSince()
    {
        var engine = new KpiEngine();
        engine.AddJob(Some.Job(Some.At(8, 30), printer: "p1", toy: "dragon", material: "PLA"));
        var first = new List<KpiPoint>();
        engine.Collect(first);

        var unchanged = new List<KpiPoint>();
        engine.Collect(unchanged);
        Assert.Empty(unchanged);

        // A second job on p2, same toy and material: farm, p2, dragon and PLA change in both windows. p1's totals do
        // not, but its end moved the watermark 10 min on: p1's running windows are written again with their
        // utilization over the longer elapsed part (the toy and material series have none and are not).
        engine.AddJob(Some.Job(Some.At(8, 40), printer: "p2", toy: "dragon", material: "PLA", jobId: "job-2"));
        var second = new List<KpiPoint>();
        engine.Collect(second);

        Assert.Equal((4 * 2) + 2, second.Count);
        var p1 = second.Where(p => p.Subject == "p1").ToList();
        Assert.Equal(2, p1.Count);
        Assert.All(p1, p => Assert.True(p.Utilization < first.Single(f => f.Subject == "p1" && f.Window == p.Window).Utilization));
        Assert.All(second.Where(p => p.Scope is KpiScope.Farm or KpiScope.Toy or KpiScope.Material), p => Assert.Equal(2, p.Totals.JobsEnded));
        Assert.All(second.Where(p => p.Scope is KpiScope.Printer), p => Assert.Equal(1, p.Totals.JobsEnded));
    }

    [Fact]
    public void Collect_SeveralJobsInOneSeries_EmitsItOnceWithTheSum()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        engine.AddJob(Some.Job(Some.At(8, 10), printTime: 100));
        engine.AddJob(Some.Job(Some.At(8, 20), printTime: 200));
        engine.AddJob(Some.Job(Some.At(8, 30), printTime: 300));

        var points = new List<KpiPoint>();
        engine.Collect(points);

        var farm = Assert.Single(points, p => p.Scope == KpiScope.Farm);
        Assert.Equal(100.0 + 200 + 300, farm.Totals.PrintTimeSeconds);
        Assert.Equal(4, points.Count);
    }

    [Fact]
    public void Collect_AfterTheWatermarkPassesAWindow_WritesItsUtilizationOverTheWholeWindowOnceThenReleasesIt()
    {
        var options = new KpiEngineOptions();
        var engine = new KpiEngine(options);
        engine.AddJob(Some.Job(Some.At(8, 30)));
        engine.Collect([]);
        Assert.Equal(8, engine.OpenSeries);

        engine.ObserveEventTime(Some.At(9) + options.AllowedLateness + options.OutOfOrderness);
        var points = new List<KpiPoint>();
        engine.Collect(points);

        // No job changed them, but the watermark passed the hour's end: its farm and printer series are written a
        // last time, utilization over the whole hour; the day's over its longer elapsed part. Toy and material: none.
        Assert.Equal(4, points.Count);
        Assert.All(points, p => Assert.True(p.Scope is KpiScope.Farm or KpiScope.Printer));
        Assert.All(points.Where(p => p.Window == Hour), p => Assert.Equal(TimeSpan.FromHours(1), p.Elapsed));
        Assert.Equal(4, engine.OpenSeries); // the 1d series remain

        points.Clear();
        engine.ObserveEventTime(Some.Day.AddDays(1) + options.AllowedLateness + options.OutOfOrderness);
        engine.Collect(points);
        Assert.Equal(2, points.Count);
        Assert.All(points, p => Assert.Equal(TimeSpan.FromDays(1), p.Elapsed));
        Assert.Equal(0, engine.OpenSeries);

        points.Clear();
        engine.ObserveEventTime(Some.Day.AddDays(2));
        engine.Collect(points);
        Assert.Empty(points);
    }

    [Fact]
    public void Collect_WindowChangedAndClosedSinceTheLastCall_EmitsItsLastValueThenReleasesIt()
    {
        var options = new KpiEngineOptions { Windows = [Hour] };
        var engine = new KpiEngine(options);
        engine.AddJob(Some.Job(Some.At(8, 30)));
        engine.ObserveEventTime(Some.At(9) + options.AllowedLateness + options.OutOfOrderness);

        var points = new List<KpiPoint>();
        engine.Collect(points);

        Assert.Equal(4, points.Count);
        Assert.Equal(0, engine.OpenSeries);
    }

    [Fact]
    public void Collect_AppendsToTheOutputList()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        engine.AddJob(Some.Job(Some.At(8, 30)));
        var sentinel = new KpiPoint(Day, Some.Day, Some.Day + Day.Size, KpiScope.Farm, "", default);
        var points = new List<KpiPoint> { sentinel };

        engine.Collect(points);

        Assert.Equal(1 + 4, points.Count);
        Assert.Equal(sentinel, points[0]);
    }

    // ---- Order independence ------------------------------------------------------------------------------------

    [Fact]
    public void AddJob_AnyOrderWithinTheOutOfOrdernessBound_GivesIdenticalTotals()
    {
        // Six jobs ending within 25 s of each other, across the 09:00 boundary; the bound is 30 s and no lateness is
        // allowed, so only the bound keeps them on time. Gram figures are exact binary fractions, so sums do not
        // depend on the order of addition either.
        var jobs = new[]
        {
            Some.Job(Some.At(8, 59, 50), JobOutcome.Completed, 600, 2, 12.5, "p1", "dragon", "PLA", "a"),
            Some.Job(Some.At(8, 59, 55), JobOutcome.Failed, 300, 1, 3.25, "p2", "castle", "PETG", "b"),
            Some.Job(Some.At(8, 59, 59), JobOutcome.Cancelled, 120, 1, null, "p3", "dragon", "PLA", "c"),
            Some.Job(Some.At(9, 0, 0), JobOutcome.Completed, 900, 4, 20.75, "p1", "castle", "PLA", "d"),
            Some.Job(Some.At(9, 0, 5), JobOutcome.Completed, 450, 1, 7, "p2", "dragon", "PETG", "e"),
            Some.Job(Some.At(9, 0, 15), JobOutcome.Failed, 60, 3, 1.5, "p3", "ship", "ABS", "f"),
        };
        var options = new KpiEngineOptions { Windows = [Hour, Day], OutOfOrderness = TimeSpan.FromSeconds(30), AllowedLateness = TimeSpan.Zero };
        var expected = Totals(jobs, options);

        foreach (var order in Permutations(jobs.Length))
        {
            Assert.Equal(expected, Totals(order.Select(i => jobs[i]), options));
        }
    }

    [Fact]
    public void AddJob_OutOfOrderBeyondTheBoundAndLateness_ChangesTheTotals()
    {
        // The counterpart: the same two jobs reversed, 40 s apart with a 30 s bound and no lateness, lose one.
        var early = Some.Job(Some.At(8, 59, 50), jobId: "early");
        var late = Some.Job(Some.At(9, 0, 30), jobId: "late");
        var options = new KpiEngineOptions { Windows = [Hour], OutOfOrderness = TimeSpan.FromSeconds(30), AllowedLateness = TimeSpan.Zero };

        var inOrder = Totals([early, late], options);
        var reversed = Totals([late, early], options);

        Assert.NotEqual(inOrder, reversed);
        Assert.Equal(2, inOrder.Values.Where(kv => kv.Scope == KpiScope.Farm).Sum(kv => kv.Totals.JobsEnded));
        Assert.Equal(1, reversed.Values.Where(kv => kv.Scope == KpiScope.Farm).Sum(kv => kv.Totals.JobsEnded));
    }

    [Fact]
    public void Constructor_NoWindows_Throws()
    {
        Assert.Throws<ArgumentException>(() => new KpiEngine(new KpiEngineOptions { Windows = [] }));
    }

    [Fact]
    public void Constructor_RepeatedWindow_IsUsedOnce()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour, WindowSpec.Parse("1H")] });

        engine.AddJob(Some.Job(Some.At(8)));

        // The job prints 07:00–08:00 (3600 s) and ends at 08:00 exactly. Its end counts in the 08:00 hour: farm, p1,
        // dragon, PLA = 4 series. Its printing time all falls in the 07:00 hour, still open (it closes at a watermark of
        // 08:10, and the watermark is 07:59:30): busy-time series farm and p1 = 2 more. Were "1H" a second size, both
        // would double to 12.
        Assert.Equal(4 + 2, engine.OpenSeries);
        var points = new List<KpiPoint>();
        engine.Collect(points);
        Assert.Equal(3600.0, Assert.Single(points, p => p.WindowStart == Some.At(7) && p.Scope == KpiScope.Printer).Totals.BusySeconds);
    }

    [Fact]
    public void AddJob_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => new KpiEngine().AddJob(null!));
    }

    // Final totals per series after adding the jobs in the given order and collecting once.
    private static SortedDictionary<string, (KpiScope Scope, KpiTotals Totals)> Totals(IEnumerable<EndedJob> jobs, KpiEngineOptions options)
    {
        var engine = new KpiEngine(options);
        foreach (var job in jobs)
        {
            engine.AddJob(job);
        }

        var points = new List<KpiPoint>();
        engine.Collect(points);
        return new SortedDictionary<string, (KpiScope, KpiTotals)>(
            points.ToDictionary(p => $"{p.Window.Name}|{p.WindowStart:O}|{p.Scope}|{p.Subject}", p => (p.Scope, p.Totals)),
            StringComparer.Ordinal);
    }

    private static IEnumerable<int[]> Permutations(int n)
    {
        var a = Enumerable.Range(0, n).ToArray();
        yield return (int[])a.Clone();
        while (true)
        {
            // Next lexicographic permutation.
            var i = n - 2;
            while (i >= 0 && a[i] >= a[i + 1]) i--;
            if (i < 0) yield break;
            var j = n - 1;
            while (a[j] <= a[i]) j--;
            (a[i], a[j]) = (a[j], a[i]);
            Array.Reverse(a, i + 1, n - i - 1);
            yield return (int[])a.Clone();
        }
    }

    [Fact]
    public void ObserveReceipt_AnUntimedMessageReceivedHoursLater_LeavesTheWatermarkAtTheHistorysTime()
    {
        var engine = new KpiEngine();
        engine.Observe("octoprint", "p1", Some.At(8, 0), Some.At(8, 0));
        var before = engine.Watermark;
        engine.ObserveReceipt("octoprint", "p1", Some.At(8, 0).AddHours(6));
        Assert.Equal(before, engine.Watermark);
        Assert.Equal(Some.At(8, 0), engine.LatestEvent);
    }

    [Fact]
    public void ObserveReceipt_ASourceWithOnlyUntimedMessages_HoldsNothingBackAndSetsNoWatermark()
    {
        var engine = new KpiEngine();
        engine.ObserveReceipt("octoprint", "p1", Some.At(8, 0));
        Assert.Null(engine.Watermark);
        engine.Observe("native", "p2", Some.At(9, 0), Some.At(9, 0));
        Assert.Equal(Some.At(9, 0) - TimeSpan.FromSeconds(30), engine.Watermark);
    }

    [Fact]
    public void IsWindowClosed_AJobLateForItsHour_IsStillOpenForItsDay()
    {
        var engine = new KpiEngine();
        engine.Observe("native", "p1", Some.At(11, 0), Some.At(11, 0));
        Assert.True(engine.IsWindowClosed(Hour, Some.At(9, 10)));
        Assert.False(engine.IsWindowClosed(Day, Some.At(9, 10)));
        Assert.Equal(1, engine.AddJob(J3));
    }
}
