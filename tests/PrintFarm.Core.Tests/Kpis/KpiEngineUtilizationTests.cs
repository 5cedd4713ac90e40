using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Kpis;

/// <summary>
/// Hand-computed tests of printing time and utilization, per-source watermarks, late jobs, estimate ratio and
/// material cost, and checkpoints of a running job. Default options unless stated: windows 1h and 1d (UTC),
/// out-of-orderness 30 s (the watermark trails the newest event time by 30 s), allowed lateness 10 min (a window
/// closes once the watermark reaches its end + 10 min), source idle timeout 5 min.
/// </summary>
public sealed class KpiEngineUtilizationTests
{
    private static readonly WindowSpec Hour = WindowSpec.Parse("1h");
    private static readonly WindowSpec Day = WindowSpec.Parse("1d");

    // Far enough to close every window of Some.Day: the 1d window ends at the next midnight and closes 10 min later.
    private static readonly DateTimeOffset AfterEverythingClosed = Some.Day.AddDays(1).AddMinutes(10).AddSeconds(30);

    // ---- A 3-hour job: 08:20–11:20 on p1 ------------------------------------------------------------------------
    //
    //   hour   printing inside it     utilization (÷ 3600 s)
    //   08:00  08:20–09:00 = 2400 s   2/3
    //   09:00  09:00–10:00 = 3600 s   1
    //   10:00  10:00–11:00 = 3600 s   1
    //   11:00  11:00–11:20 = 1200 s   1/3
    //   day    08:20–11:20 = 10800 s  10800 ÷ 86400 = 3/24 = 0.125
    //
    // One printer is seen, so the farm scope has the same utilization as p1.
    private static readonly EndedJob ThreeHourJob = Some.Job(Some.At(11, 20), printTime: 3 * 3600, printer: "p1");

    [Fact]
    public void Collect_AsTheWatermarkAdvancesThroughARunningJob_FillsEachWindowWithItsShareOfPrintingTime()
    {
        var engine = new KpiEngine();
        var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();
        engine.ObserveEventTime(Some.At(8, 20));
        engine.JobOpened("p1", Some.At(8, 20));
        Assert.Equal(Some.At(8, 20), ThreeHourJob.Start);

        // Watermark 09:00: the job has printed 08:20–09:00 = 2400 s, all in the 08:00 hour (still open until 09:10).
        engine.ObserveEventTime(Some.At(9, 0, 30));
        var points = Collect(engine, latest);
        Assert.Equal(4, points.Count); // 08:00 hour and day, farm and p1
        var p1h8 = Assert.Single(points, p => p.Window == Hour && p.Scope == KpiScope.Printer);
        Assert.Equal(Some.At(8), p1h8.WindowStart);
        Assert.Equal(Some.At(9), p1h8.WindowEnd);
        Assert.Equal(2400.0, p1h8.Totals.BusySeconds);
        Assert.Equal(2.0 / 3, p1h8.Utilization);
        Assert.Equal(2400.0, Assert.Single(points, p => p.Window == Day && p.Scope == KpiScope.Printer).Totals.BusySeconds);

        // Watermark 09:30: 09:00–09:30 = 1800 s more, all in the 09:00 hour. The 08:00 hour did not change, so it is
        // not written again; it closed (09:10 ≤ 09:30) and is released.
        engine.ObserveEventTime(Some.At(9, 30, 30));
        points = Collect(engine, latest);
        Assert.DoesNotContain(points, p => p.WindowStart == Some.At(8));
        Assert.Equal(1800.0, Assert.Single(points, p => p.Window == Hour && p.Scope == KpiScope.Printer).Totals.BusySeconds);
        Assert.Equal(2400.0 + 1800, Assert.Single(points, p => p.Window == Day && p.Scope == KpiScope.Printer).Totals.BusySeconds);
        Assert.Equal(4, engine.OpenSeries); // 09:00 hour and day, farm and p1

        foreach (var t in new[] { Some.At(10, 0, 30), Some.At(10, 30, 30), Some.At(11, 0, 30) })
        {
            engine.ObserveEventTime(t);
            Collect(engine, latest);
        }

        Assert.Equal(0, engine.AddJob(ThreeHourJob));
        Collect(engine, latest);
        engine.ObserveEventTime(AfterEverythingClosed);
        Collect(engine, latest);

        AssertThreeHourJobTotals(latest);
        Assert.Equal(0, engine.OpenSeries);
    }

    [Fact]
    public void Collect_AfterABacklogBurstPastSeveralWindowClosesWhileAJobRuns_EmitsTheClosedWindowsWithTheirPrintingTime()
    {
        var engine = new KpiEngine();
        var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();
        engine.ObserveEventTime(Some.At(8, 20));
        engine.JobOpened("p1", Some.At(8, 20));
        Assert.Empty(Collect(engine, latest)); // watermark 08:19:30, before the start: nothing printed yet

        // One event from a backlog moves the watermark from 08:19:30 to 10:59:30, past the closes of the 08:00 hour
        // (09:10) and the 09:00 hour (10:10) at once. Their printing time must be in before they close:
        //   08:00: 08:20–09:00 = 2400 s; 09:00: 3600 s; 10:00 (open until 11:10): 10:00–10:59:30 = 3570 s;
        //   day: 08:20–10:59:30 = 9570 s.
        engine.ObserveEventTime(Some.At(11));
        Assert.Equal(Some.At(10, 59, 30), engine.Watermark);
        var points = Collect(engine, latest);

        Assert.Equal(8, points.Count); // 3 hours + day, farm and p1
        var p1 = points.Where(p => p.Scope == KpiScope.Printer).ToDictionary(p => (p.Window.Name, p.WindowStart));
        Assert.Equal(2400.0, p1[("1h", Some.At(8))].Totals.BusySeconds);
        Assert.Equal(2.0 / 3, p1[("1h", Some.At(8))].Utilization);
        Assert.Equal(3600.0, p1[("1h", Some.At(9))].Totals.BusySeconds);
        Assert.Equal(1.0, p1[("1h", Some.At(9))].Utilization);
        Assert.Equal(3570.0, p1[("1h", Some.At(10))].Totals.BusySeconds);
        Assert.Equal(9570.0, p1[("1d", Some.Day)].Totals.BusySeconds);
        Assert.Equal(2400.0, Assert.Single(points, p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Farm).Totals.BusySeconds);
        Assert.Equal(4, engine.OpenSeries); // the 08:00 and 09:00 hours were released; 10:00 and the day stay

        // The job ends at 11:20. Its end moves the watermark to 11:19:30, past the 10:00 hour's close (11:10): the
        // remaining 30 s of that hour go in first, so it closes with the full 3600 s. The rest is as computed above.
        Assert.Equal(0, engine.AddJob(ThreeHourJob));
        points = Collect(engine, latest);
        Assert.Equal(3600.0, Assert.Single(points, p => p.WindowStart == Some.At(10) && p.Scope == KpiScope.Printer).Totals.BusySeconds);
        engine.ObserveEventTime(AfterEverythingClosed);
        Collect(engine, latest);

        AssertThreeHourJobTotals(latest);
        Assert.Equal(0, engine.OpenSeries);
    }

    private static void AssertThreeHourJobTotals(Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint> latest)
    {
        foreach (var (scope, subject) in new[] { (KpiScope.Printer, "p1"), (KpiScope.Farm, string.Empty) })
        {
            Assert.Equal(
                [Some.At(8), Some.At(9), Some.At(10), Some.At(11)],
                latest.Values.Where(p => p.Window == Hour && p.Scope == scope).Select(p => p.WindowStart).Order());

            var h8 = latest[("1h", Some.At(8), scope, subject)];
            var h9 = latest[("1h", Some.At(9), scope, subject)];
            var h10 = latest[("1h", Some.At(10), scope, subject)];
            var h11 = latest[("1h", Some.At(11), scope, subject)];
            var day = latest[("1d", Some.Day, scope, subject)];
            Assert.Equal(2400.0, h8.Totals.BusySeconds);
            Assert.Equal(3600.0, h9.Totals.BusySeconds);
            Assert.Equal(3600.0, h10.Totals.BusySeconds);
            Assert.Equal(1200.0, h11.Totals.BusySeconds);
            Assert.Equal(10800.0, day.Totals.BusySeconds);
            Assert.Equal(2.0 / 3, h8.Utilization);
            Assert.Equal(1.0, h9.Utilization);
            Assert.Equal(1.0, h10.Utilization);
            Assert.Equal(1.0 / 3, h11.Utilization);
            Assert.Equal(3.0 / 24, day.Utilization);

            // The job counts once, in the hour of its end.
            Assert.Equal([0L, 0L, 0L, 1L], new[] { h8, h9, h10, h11 }.Select(p => p.Totals.JobsCompleted));
            Assert.Equal(1, day.Totals.JobsCompleted);
        }
    }

    // ---- A running window: utilization over its elapsed part (issue 19 item 8) ---------------------------------

    [Fact]
    public void Collect_AtFourMinutesPastWithEveryPrinterBusy_TheRunningHourIsFullyUtilizedNotASliverOfTheWholeHour()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        foreach (var printer in new[] { "p1", "p2", "p3" })
        {
            engine.Observe(Some.Source, printer, Some.At(7, 30), Some.At(7, 30));
            engine.JobOpened(printer, Some.At(7, 30));
        }

        // 08:04:30: the watermark is 08:04:00, so 240 s of the 08:00 hour have elapsed and every printer printed them.
        engine.Observe(Some.Source, "p1", Some.At(8, 4, 30), Some.At(8, 4, 30));
        var points = new List<KpiPoint>();
        engine.Collect(points);

        var farm = Assert.Single(points, p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Farm);
        Assert.Equal(3 * 240.0, farm.Totals.BusySeconds);
        Assert.Equal(TimeSpan.FromSeconds(240), farm.Elapsed);
        Assert.Equal(1.0, farm.Utilization); // not 720 ÷ (3 × 3600) = 6.7 %
        Assert.All(points.Where(p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Printer), p => Assert.Equal(1.0, p.Utilization));
        Assert.EndsWith($",printing_s=720,utilization=1,printers_seen=3i {Some.At(8).ToUnixTimeMilliseconds()}", new PointEncoder("farm-a").Kpi(farm), StringComparison.Ordinal);
    }

    [Fact]
    public void Collect_AnIdlePrintersRunningWindow_IsWrittenAgainAsTheHourGoesOnAndLastOverTheWholeHour()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();

        // p1 prints 08:00–08:10, then only sends idle samples.
        Assert.Equal(0, engine.AddJob(Some.Job(Some.At(8, 10), printTime: 600, printer: "p1")));
        engine.Observe(Some.Source, "p1", Some.At(8, 20, 30), Some.At(8, 20, 30)); // watermark 08:20
        Collect(engine, latest);
        Assert.Equal(600.0 / 1200, latest[("1h", Some.At(8), KpiScope.Printer, "p1")].Utilization);

        // Nothing printed since, but 40 min more elapsed: the window is written again, 600 s ÷ 3600 s elapsed.
        engine.Observe(Some.Source, "p1", Some.At(9, 0, 30), Some.At(9, 0, 30)); // watermark 09:00
        var points = Collect(engine, latest);
        Assert.Contains(points, p => p.WindowStart == Some.At(8) && p.Subject == "p1");
        Assert.Equal(600.0 / 3600, latest[("1h", Some.At(8), KpiScope.Printer, "p1")].Utilization);
        Assert.Equal(600.0 / 3600, latest[("1h", Some.At(8), KpiScope.Farm, string.Empty)].Utilization);

        // The watermark stays past its end: nothing more to write for that hour.
        engine.Observe(Some.Source, "p1", Some.At(9, 5), Some.At(9, 5));
        Assert.DoesNotContain(Collect(engine, latest), p => p.WindowStart == Some.At(8));
    }

    [Fact]
    public void Collect_AnIdlePrintersRunningWindow_IsRewrittenOncePerMinuteOfEventTime_AndBroughtUpToTheWatermarkWhenEventTimeStandsStill()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();
        Assert.Equal(0, engine.AddJob(Some.Job(Some.At(8, 10), printTime: 600, printer: "p1")));
        engine.Observe(Some.Source, "p1", Some.At(8, 20, 30), Some.At(8, 20, 30)); // watermark 08:20
        Collect(engine, latest);

        // 5 s flushes with the watermark moving 5 s each: nothing new to say of an idle hour until a minute has passed.
        engine.Observe(Some.Source, "p1", Some.At(8, 20, 35), Some.At(8, 20, 35));
        Assert.DoesNotContain(Collect(engine, latest), p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Printer);
        engine.Observe(Some.Source, "p1", Some.At(8, 21, 30), Some.At(8, 21, 30)); // watermark 08:21: a minute more
        Assert.Contains(Collect(engine, latest), p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Printer);
        Assert.Equal(600.0 / 1260, latest[("1h", Some.At(8), KpiScope.Printer, "p1")].Utilization);

        // Half a minute more, then event time stands still for a flush: the window is brought up to the watermark.
        engine.Observe(Some.Source, "p1", Some.At(8, 22), Some.At(8, 22));
        Assert.DoesNotContain(Collect(engine, latest), p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Printer);
        Assert.Contains(Collect(engine, latest), p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Printer);
        Assert.Equal(600.0 / 1290, latest[("1h", Some.At(8), KpiScope.Printer, "p1")].Utilization);
        Assert.Empty(Collect(engine, latest)); // and not again while nothing moves
    }

    [Fact]
    public void Collect_APrinterThatPrintedNothingInARunningWindow_IsWrittenOnce_ItsZeroDoesNotChangeAsTheWindowGoesOn()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();
        engine.Observe(Some.Source, "p1", Some.At(8, 1), Some.At(8, 1)); // watermark 08:00:30
        Assert.Contains(Collect(engine, latest), p => p.Scope == KpiScope.Printer && p.Utilization == 0);

        // Five minutes later, and then with event time standing still: 0 s printed is 0 % of any elapsed part.
        engine.Observe(Some.Source, "p1", Some.At(8, 5, 30), Some.At(8, 5, 30));
        Assert.DoesNotContain(Collect(engine, latest), p => p.Scope == KpiScope.Printer);
        Assert.DoesNotContain(Collect(engine, latest), p => p.Scope == KpiScope.Printer);

        // Its last write, once the hour has passed, would say the same: none.
        engine.Observe(Some.Source, "p1", Some.At(9, 11), Some.At(9, 11));
        Assert.DoesNotContain(Collect(engine, latest), p => p.Scope == KpiScope.Printer && p.WindowStart == Some.At(8));
        Assert.Equal(0, latest[("1h", Some.At(8), KpiScope.Printer, "p1")].Utilization);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(50)]
    public void Collect_TheLastValuesWritten_DoNotDependOnHowTheEventsWereCutIntoFlushes(int eventsPerFlush)
    {
        // Three printers, one busy and two idle after a job each, events every 5 s for 40 min; flushed after every
        // event in the reference, every n events in the other; then one flush with event time standing still.
        static Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint> Run(int perFlush)
        {
            var engine = new KpiEngine();
            var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();
            engine.AddJob(Some.Job(Some.At(8, 5), printTime: 300, printer: "p2"));
            engine.AddJob(Some.Job(Some.At(8, 7), printTime: 400, printer: "p3"));
            engine.JobOpened("p1", Some.At(8, 10));
            var n = 0;
            for (var t = Some.At(8, 10); t < Some.At(8, 50); t = t.AddSeconds(5))
            {
                engine.Observe(Some.Source, "p" + ((n % 3) + 1), t, t);
                if (++n % perFlush == 0)
                {
                    Collect(engine, latest);
                }
            }

            Collect(engine, latest);
            Collect(engine, latest);
            return latest;
        }

        var reference = Run(1);
        var other = Run(eventsPerFlush);
        Assert.Equal(reference.Count, other.Count);
        foreach (var (key, point) in reference)
        {
            Assert.Equal(point.Utilization, other[key].Utilization);
            Assert.Equal(point.Totals, other[key].Totals);
        }
    }

    [Fact]
    public void Utilization_OfAPointWithoutAWatermark_IsOverTheWholeWindow_AndNoneBeforeTheWindowStarted()
    {
        var totals = new KpiTotals();
        totals.AddBusy(900);
        Assert.Equal(0.25, new KpiPoint(Hour, Some.At(8), Some.At(9), KpiScope.Printer, "x", totals).Utilization);
        Assert.Equal(0.5, new KpiPoint(Hour, Some.At(8), Some.At(9), KpiScope.Printer, "x", totals) { MeasuredUntil = Some.At(8, 30) }.Utilization);
        Assert.Null(new KpiPoint(Hour, Some.At(8), Some.At(9), KpiScope.Printer, "x", totals) { MeasuredUntil = Some.At(7, 59) }.Utilization);
    }

    // ---- Farm utilization: the mean over printers seen ----------------------------------------------------------

    [Fact]
    public void Collect_TwoPrintersSeenOneBusyHalfTheHour_FarmUtilizationIsAQuarter()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });

        // p2 sends an idle sample at 08:05; p1 prints 08:15–08:45 (1800 s). p3 is seen only in the next hour.
        engine.Observe(Some.Source, "p2", Some.At(8, 5), Some.At(8, 5));
        Assert.Equal(0, engine.AddJob(Some.Job(Some.At(8, 45), printTime: 1800, printer: "p1")));
        engine.Observe(Some.Source, "p3", Some.At(9, 5), Some.At(9, 5)); // watermark 09:04:30: the 08:00 hour is open
        var points = new List<KpiPoint>();
        engine.Collect(points);

        // 08:00 farm: busy 1800 s over 2 printers × 3600 s = 1800 ÷ 7200 = 0.25.
        var farm = Assert.Single(points, p => p.WindowStart == Some.At(8) && p.Scope == KpiScope.Farm);
        Assert.Equal(1800.0, farm.Totals.BusySeconds);
        Assert.Equal(2, farm.Totals.PrintersSeen);
        Assert.Equal(0.25, farm.Utilization);

        // Per printer: p1 1800 ÷ 3600 = 0.5; p2 was seen, printed nothing: 0.
        Assert.Equal(0.5, Assert.Single(points, p => p.WindowStart == Some.At(8) && p.Subject == "p1").Utilization);
        Assert.Equal(0.0, Assert.Single(points, p => p.WindowStart == Some.At(8) && p.Subject == "p2").Utilization);

        // The line written for the 08:00 farm series carries the same figures.
        var line = new PointEncoder("farm-a").Kpi(farm);
        Assert.EndsWith($",printing_s=1800,utilization=0.25,printers_seen=2i {Some.At(8).ToUnixTimeMilliseconds()}", line, StringComparison.Ordinal);

        // 09:00 farm: only p3, idle: 0 over 1 printer.
        var nextHour = Assert.Single(points, p => p.WindowStart == Some.At(9) && p.Scope == KpiScope.Farm);
        Assert.Equal(1, nextHour.Totals.PrintersSeen);
        Assert.Equal(0.0, nextHour.Utilization);

        // Series: 08:00 farm, p1, p2, dragon, PLA; 09:00 farm, p3.
        Assert.Equal(5 + 2, points.Count);
    }

    [Fact]
    public void Utilization_NoPrinterSeen_IsNull()
    {
        var point = new KpiPoint(Hour, Some.At(8), Some.At(9), KpiScope.Farm, string.Empty, default);

        Assert.Null(point.Utilization);
    }

    [Theory]
    [InlineData(KpiScope.Toy)]
    [InlineData(KpiScope.Material)]
    public void Utilization_ToyAndMaterialScopes_IsNullEvenWithPrintingTime(KpiScope scope)
    {
        var totals = new KpiTotals();
        totals.AddBusy(1800);
        totals.PrintersSeen = 1;

        Assert.Null(new KpiPoint(Hour, Some.At(8), Some.At(9), scope, "x", totals).Utilization);
        Assert.Equal(0.5, new KpiPoint(Hour, Some.At(8), Some.At(9), KpiScope.Printer, "x", totals).Utilization);
    }

    // ---- Late jobs ---------------------------------------------------------------------------------------------

    [Fact]
    public void AddJob_EndingInAWindowClosedBeyondTheAllowedLateness_IsLateAndLeavesThatWindowAsItClosed()
    {
        var engine = new KpiEngine();
        Assert.Equal(0, engine.AddJob(Some.Job(Some.At(8, 30), printTime: 600, printer: "p1", jobId: "on-time"))); // 08:20–08:30

        // Watermark 09:10:00 = the 08:00 hour's end + 10 min: it closes, and Collect writes it one last time.
        engine.ObserveEventTime(Some.At(9, 10, 30));
        var first = new List<KpiPoint>();
        engine.Collect(first);
        var closedFarm = Assert.Single(first, p => p.Window == Hour && p.Scope == KpiScope.Farm);
        Assert.Equal(1, closedFarm.Totals.JobsEnded);
        Assert.Equal(600.0, closedFarm.Totals.BusySeconds);

        // p2's job 08:40–08:50 arrives now: its end's hour has closed (late for 1 of 2 sizes); the day is still open.
        var late = engine.AddJob(Some.Job(Some.At(8, 50), printTime: 600, printer: "p2", jobId: "late"));

        Assert.Equal(1, late);
        Assert.Equal(1, engine.LateJobs);
        var second = new List<KpiPoint>();
        engine.Collect(second);

        // Nothing for any hour: neither its end nor its printing time reopens the 08:00 hour.
        Assert.DoesNotContain(second, p => p.Window == Hour);
        Assert.DoesNotContain(engine.SaveState().Windows, w => w.Window == "1h");

        // The day counts both: 2 jobs, 600 + 600 s printing by 2 printers. The day is running: 09:10 of it has
        // elapsed by the watermark, so 1200 ÷ (33000 × 2).
        var day = Assert.Single(second, p => p.Scope == KpiScope.Farm);
        Assert.Equal(2, day.Totals.JobsEnded);
        Assert.Equal(1200.0, day.Totals.BusySeconds);
        Assert.Equal(1200.0 / (33000 * 2), day.Utilization);

        // Written: day farm, p2, dragon, PLA (p1's day series did not change). Open: those and p1's.
        Assert.Equal(4, second.Count);
        Assert.Equal(5, engine.OpenSeries);
    }

    // ---- Per-source watermark ----------------------------------------------------------------------------------

    [Fact]
    public void Watermark_TwoSources_IsTheLowerUntilOneIsIdleAndNeverGoesBack()
    {
        var options = new KpiEngineOptions();
        var engine = new KpiEngine(options);
        Assert.Equal(TimeSpan.FromMinutes(5), options.SourceIdleTimeout);

        // B lags 10 min behind A in event time; both are received at 09:00. The watermark follows the lower: B.
        engine.Observe("B", null, Some.At(8, 50), Some.At(9, 0));
        engine.Observe("A", null, Some.At(9, 0), Some.At(9, 0));
        Assert.Equal(Some.At(8, 49, 30), engine.Watermark); // 08:50 − 30 s

        engine.Observe("A", null, Some.At(9, 2), Some.At(9, 2));
        Assert.Equal(Some.At(8, 49, 30), engine.Watermark); // B still holds it back

        engine.Observe("B", null, Some.At(8, 55), Some.At(9, 3));
        Assert.Equal(Some.At(8, 54, 30), engine.Watermark); // min(09:02, 08:55) − 30 s

        // Received at 09:08, B's last message (09:03) is exactly 5 min old: not idle yet (idle is judged by receive
        // time; B's event time being 13 min behind A's does not make it idle).
        engine.Observe("A", null, Some.At(9, 8), Some.At(9, 8));
        Assert.Equal(Some.At(8, 54, 30), engine.Watermark);

        // One second later B has been silent longer than the timeout: A alone drives the watermark.
        engine.Observe("A", null, Some.At(9, 8, 1), Some.At(9, 8, 1));
        Assert.Equal(Some.At(9, 7, 31), engine.Watermark); // 09:08:01 − 30 s

        // B comes back with older event times: it holds the watermark again, but the watermark does not go back.
        engine.Observe("B", null, Some.At(8, 56), Some.At(9, 9));
        Assert.Equal(Some.At(9, 7, 31), engine.Watermark);
        engine.Observe("A", null, Some.At(9, 12), Some.At(9, 12));
        Assert.Equal(Some.At(9, 7, 31), engine.Watermark); // min(09:12, 08:56) − 30 s = 08:55:30 < 09:07:31

        // Once B catches up past it, the watermark moves on: min(09:12, 09:10) − 30 s.
        engine.Observe("B", null, Some.At(9, 10), Some.At(9, 12));
        Assert.Equal(Some.At(9, 9, 30), engine.Watermark);
    }

    // ---- Estimate ratio and material cost ----------------------------------------------------------------------
    //
    //   job  printer outcome    print s  estimate s  qty  cost
    //   a    p1      completed  3600     3000        4    2.5
    //   b    p1      completed  1800     2000        2    1.25
    //   c    p2      completed   900     —           3    — (material without a price)
    //   d    p2      failed      600      500        1    0.75
    //   e    p2      completed   300       0         3    —
    //
    // Estimate ratio: completed jobs with an estimate (> 0): a, b: (3600 + 1800) ÷ (3000 + 2000) = 5400 ÷ 5000 = 1.08.
    // Material cost: 2.5 + 1.25 + 0.75 = 4.5 (a failed job's filament costs too). Toys completed: 4 + 2 + 3 + 3 = 12.
    // Cost per toy: 4.5 ÷ 12 = 0.375.
    private static readonly EndedJob[] CostJobs =
    [
        Some.Job(Some.At(9, 10), JobOutcome.Completed, 3600, 4, printer: "p1", jobId: "a", estimatedTime: 3000) with { MaterialCost = 2.5 },
        Some.Job(Some.At(9, 20), JobOutcome.Completed, 1800, 2, printer: "p1", jobId: "b", estimatedTime: 2000) with { MaterialCost = 1.25 },
        Some.Job(Some.At(9, 30), JobOutcome.Completed, 900, 3, printer: "p2", jobId: "c"),
        Some.Job(Some.At(9, 40), JobOutcome.Failed, 600, 1, printer: "p2", jobId: "d", estimatedTime: 500) with { MaterialCost = 0.75 },
        Some.Job(Some.At(9, 50), JobOutcome.Completed, 300, 3, printer: "p2", jobId: "e", estimatedTime: 0),
    ];

    [Fact]
    public void Add_CompletedJobsWithEstimatesAndPricedMaterial_GiveEstimateRatioAndMaterialCost()
    {
        var t = new KpiTotals();
        foreach (var job in CostJobs)
        {
            t.Add(job);
        }

        Assert.Equal(3600.0 + 1800, t.EstimatedJobsActualSeconds);
        Assert.Equal(3000.0 + 2000, t.EstimatedJobsEstimateSeconds);
        Assert.Equal(5400.0 / 5000, t.EstimateRatio);
        Assert.Equal(2.5 + 1.25 + 0.75, t.MaterialCost);
        Assert.Equal(12, t.ToysCompleted);
        Assert.Equal(4.5 / 12, t.MaterialCostPerToy);
    }

    [Fact]
    public void Collect_JobsWithEstimatesAndCosts_EachScopeHasItsOwnRatioAndCost()
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [Hour] });
        foreach (var job in CostJobs)
        {
            Assert.Equal(0, engine.AddJob(job));
        }

        var points = new List<KpiPoint>();
        engine.Collect(points);
        var totals = points.Where(p => p.WindowStart == Some.At(9)).ToDictionary(p => (p.Scope, p.Subject), p => p.Totals);

        var farm = totals[(KpiScope.Farm, string.Empty)];
        Assert.Equal(1.08, farm.EstimateRatio);
        Assert.Equal(4.5, farm.MaterialCost);
        Assert.Equal(0.375, farm.MaterialCostPerToy);

        // p1: a, b: ratio 5400 ÷ 5000; cost 2.5 + 1.25 = 3.75 over 4 + 2 toys = 0.625.
        var p1 = totals[(KpiScope.Printer, "p1")];
        Assert.Equal(5400.0 / 5000, p1.EstimateRatio);
        Assert.Equal(3.75, p1.MaterialCost);
        Assert.Equal(3.75 / 6, p1.MaterialCostPerToy);

        // p2: c has no estimate, d failed, e's estimate is 0: no ratio. Cost 0.75 (d) over 3 + 3 toys = 0.125.
        var p2 = totals[(KpiScope.Printer, "p2")];
        Assert.Null(p2.EstimateRatio);
        Assert.Equal(0.75, p2.MaterialCost);
        Assert.Equal(0.75 / 6, p2.MaterialCostPerToy);
    }

    [Fact]
    public void MaterialCostPerToy_WithoutToysOrWithoutCost_IsNull()
    {
        var onlyFailed = new KpiTotals();
        onlyFailed.Add(Some.Job(Some.At(9), JobOutcome.Failed) with { MaterialCost = 0.5 });
        var unpriced = new KpiTotals();
        unpriced.Add(Some.Job(Some.At(9), JobOutcome.Completed, quantity: 2));

        Assert.Equal(0.5, onlyFailed.MaterialCost);
        Assert.Null(onlyFailed.MaterialCostPerToy);
        Assert.Equal(0.0, unpriced.MaterialCost);
        Assert.Null(unpriced.MaterialCostPerToy);
    }

    // ---- Checkpoint of a running job ---------------------------------------------------------------------------

    [Fact]
    public void RestoreState_MidJobIntoAFreshEngine_ThenFinishingTheJob_GivesTheSameTotalsAsWithoutTheRoundTrip()
    {
        var whole = RunThreeHourJobWithIdlePrinter(roundTrip: false);
        var restored = RunThreeHourJobWithIdlePrinter(roundTrip: true);

        Assert.Equal(whole.Latest.Keys.Order(), restored.Latest.Keys.Order());
        foreach (var (key, point) in whole.Latest)
        {
            Assert.Equal(point.Totals, restored.Latest[key].Totals);
            Assert.Equal(point.Utilization, restored.Latest[key].Utilization);
        }

        Assert.Equal(whole.Watermark, restored.Watermark);
        Assert.Equal(0, restored.OpenSeries);

        // And both match the hand computation: p1's hours as in the table above; p2 idle in the 08:00 hour, so the
        // farm's 08:00 utilization is 2400 ÷ (3600 × 2) = 1/3 and its day 10800 ÷ (86400 × 2) = 0.0625.
        AssertThreeHourJobTotalsForPrinter(restored.Latest);
        Assert.Equal(1.0 / 3, restored.Latest[("1h", Some.At(8), KpiScope.Farm, string.Empty)].Utilization);
        Assert.Equal(0.0625, restored.Latest[("1d", Some.Day, KpiScope.Farm, string.Empty)].Utilization);
        Assert.Equal(2, restored.Latest[("1d", Some.Day, KpiScope.Farm, string.Empty)].Totals.PrintersSeen);
    }

    private static (Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint> Latest, DateTimeOffset? Watermark, int OpenSeries) RunThreeHourJobWithIdlePrinter(bool roundTrip)
    {
        var engine = new KpiEngine();
        var latest = new Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint>();
        engine.Observe(Some.Source, "p2", Some.At(8, 5), Some.At(8, 5));
        engine.ObserveEventTime(Some.At(8, 20));
        engine.JobOpened("p1", Some.At(8, 20));
        engine.ObserveEventTime(Some.At(9, 30)); // watermark 09:29:30: printed 08:20–09:29:30 so far; the 08:00 hour closed
        Collect(engine, latest);

        if (roundTrip)
        {
            // Through JSON, as the host stores it.
            var json = JsonSerializer.Serialize(engine.SaveState(), Checkpoint.Json);
            var state = JsonSerializer.Deserialize<KpiEngineState>(json, Checkpoint.Json)!;
            engine = new KpiEngine();
            Assert.Equal(0, engine.RestoreState(state));
            Assert.Equal(Some.At(9, 29, 30), engine.Watermark);
        }

        engine.ObserveEventTime(Some.At(10, 30));
        Collect(engine, latest);
        Assert.Equal(0, engine.AddJob(ThreeHourJob));
        Collect(engine, latest);
        engine.ObserveEventTime(AfterEverythingClosed);
        Collect(engine, latest);
        Assert.Equal(0, engine.LateJobs);
        return (latest, engine.Watermark, engine.OpenSeries);
    }

    private static void AssertThreeHourJobTotalsForPrinter(Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint> latest)
    {
        Assert.Equal(2400.0, latest[("1h", Some.At(8), KpiScope.Printer, "p1")].Totals.BusySeconds);
        Assert.Equal(3600.0, latest[("1h", Some.At(9), KpiScope.Printer, "p1")].Totals.BusySeconds);
        Assert.Equal(3600.0, latest[("1h", Some.At(10), KpiScope.Printer, "p1")].Totals.BusySeconds);
        Assert.Equal(1200.0, latest[("1h", Some.At(11), KpiScope.Printer, "p1")].Totals.BusySeconds);
        Assert.Equal(10800.0, latest[("1d", Some.Day, KpiScope.Printer, "p1")].Totals.BusySeconds);
        Assert.Equal(1, latest[("1h", Some.At(11), KpiScope.Printer, "p1")].Totals.JobsCompleted);
    }

    // ---- Local days --------------------------------------------------------------------------------------------

    [Fact]
    public void Utilization_LocalDayOfTheSpringChange_IsOverTwentyThreeHours()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [WindowSpec.Parse("1d", berlin)] });

        // 2026-03-29 08:00–10:18 UTC: 2 h 18 min = 8280 s, in the Berlin day 2026-03-28 23:00 UTC – 03-29 22:00 UTC
        // (clocks go forward at 02:00 local): 23 h = 82800 s. Utilization 8280 ÷ 82800 = 0.1.
        engine.AddJob(Some.Job(new DateTimeOffset(2026, 3, 29, 10, 18, 0, TimeSpan.Zero), printTime: 8280));
        engine.Collect([]);

        // Once the watermark passes the day's end the day is written over all of it (before, over its elapsed part).
        engine.ObserveEventTime(new DateTimeOffset(2026, 3, 29, 22, 0, 30, TimeSpan.Zero));
        var points = new List<KpiPoint>();
        engine.Collect(points);

        var p1 = Assert.Single(points, p => p.Scope == KpiScope.Printer);
        Assert.Equal(new DateTimeOffset(2026, 3, 28, 23, 0, 0, TimeSpan.Zero), p1.WindowStart);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 22, 0, 0, TimeSpan.Zero), p1.WindowEnd);
        Assert.Equal(8280.0, p1.Totals.BusySeconds);
        Assert.Equal(0.1, p1.Utilization);
    }

    // Collects, returns this call's points, and keeps the newest value of every series in `latest`.
    private static List<KpiPoint> Collect(KpiEngine engine, Dictionary<(string, DateTimeOffset, KpiScope, string), KpiPoint> latest)
    {
        var points = new List<KpiPoint>();
        engine.Collect(points);
        foreach (var p in points)
        {
            latest[(p.Window.Name, p.WindowStart, p.Scope, p.Subject)] = p;
        }

        return points;
    }
}
