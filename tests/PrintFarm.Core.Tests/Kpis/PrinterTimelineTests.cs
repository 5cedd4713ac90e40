using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Tests.Kpis;

public sealed class PrinterTimelineTests
{
    private static readonly DateTimeOffset Origin = new(2026, 7, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PrinterActivity[] States = Enum.GetValues<PrinterActivity>();

    private static TimeZoneInfo Berlin => TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 10)];

    private static PrinterTimeline CreateSut(string windows = "1h,1d", TimeZoneInfo? zone = null, OffShiftSchedule? offShift = null, TimeSpan? offlineAfter = null) => new(new PrinterTimelineOptions
    {
        Windows = [.. windows.Split(',').Select(w => WindowSpec.Parse(w, zone))],
        OfflineAfter = offlineAfter ?? TimeSpan.FromMinutes(15),
        OffShift = offShift ?? OffShiftSchedule.None,
    });

    private static PrinterEvent Status(string printer, DateTimeOffset at, string? state = null, bool? online = null, EventKind kind = EventKind.Status, JobOutcome? outcome = null) => new()
    {
        Kind = kind,
        Printer = printer,
        Source = "native",
        Timestamp = at,
        State = state,
        Online = online,
        Outcome = outcome,
    };

    private static PrinterEvent Progress(string printer, DateTimeOffset at, double percent) => new()
    {
        Kind = EventKind.JobProgress,
        Printer = printer,
        Source = "octoprint",
        Timestamp = at,
        ProgressPercent = percent,
    };

    // Newest value of each (window, start, printer) over every collect.
    private static Dictionary<(string, DateTimeOffset, string), TimeInState> CollectAll(PrinterTimeline sut, DateTimeOffset watermark, Dictionary<(string, DateTimeOffset, string), TimeInState>? into = null)
    {
        into ??= [];
        var points = new List<TimelinePoint>();
        sut.Collect(watermark, points);
        sut.Collect(watermark, points); // event time stands still: everything changed is written
        foreach (var p in points)
        {
            into[(p.Window.Name, p.WindowStart, p.Printer)] = p.Times;
        }

        return into;
    }

    private static List<(string Printer, DateTimeOffset At, PrinterEvent Event)> Trace(int seed)
    {
        var random = new Random(seed);
        var trace = new List<(string, DateTimeOffset, PrinterEvent)>();
        string[] names = ["printing", "paused", "prepare", "idle", "error", "finish", "weird"];
        foreach (var printer in new[] { "a", "b", "c" })
        {
            var t = Origin;
            trace.Add((printer, t, Status(printer, t, "idle")));
            while (t < Origin.AddDays(2))
            {
                t = t.AddSeconds(random.Next(1, 40 * 60));
                var e = random.Next(10) switch
                {
                    0 => Status(printer, t, online: false),
                    1 => Status(printer, t, online: true),
                    2 => Status(printer, t, kind: EventKind.JobStarted),
                    3 => Status(printer, t, kind: EventKind.JobFinished, outcome: (JobOutcome)random.Next(3)),
                    4 => Status(printer, t, kind: EventKind.JobProgress),
                    _ => Status(printer, t, names[random.Next(names.Length)]),
                };
                trace.Add((printer, t, e));
            }
        }

        return [.. trace.OrderBy(x => x.Item2)];
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Time_in_states_sums_to_the_window_for_every_printer_and_the_farm(int seed)
    {
        var sut = CreateSut(zone: Berlin);
        var random = new Random(seed);
        foreach (var (printer, at, e) in Trace(seed))
        {
            if (random.Next(20) == 0)
            {
                sut.SetMaintenance(printer, at, random.Next(2) == 0);
            }

            sut.Observe(e);
        }

        var end = Origin.AddDays(3);
        var all = CollectAll(sut, end);
        var hours = all.Where(kv => kv.Key.Item1 == "1h" && kv.Key.Item2.AddHours(1) <= Origin.AddDays(2)).ToList();
        Assert.Equal(48 * 4, hours.Count); // three printers and the farm, every hour of two days
        foreach (var ((_, _, printer), times) in hours)
        {
            Assert.Equal(printer.Length == 0 ? 3 * 3600 : 3600, times.TrackedSeconds, 6);
            Assert.Equal(times.TrackedSeconds, States.Sum(times.Seconds), 6);
        }

        // The farm is the sum of its printers in each state.
        foreach (var ((w, start, printer), farm) in all.Where(kv => kv.Key.Item3.Length == 0))
        {
            foreach (var state in States)
            {
                Assert.Equal(farm.Seconds(state), all.Where(kv => kv.Key.Item1 == w && kv.Key.Item2 == start && kv.Key.Item3.Length > 0).Sum(kv => kv.Value.Seconds(state)), 6);
            }
        }
    }

    [Fact]
    public void Printing_across_window_edges_is_split_at_each_edge()
    {
        var sut = CreateSut();
        sut.Observe(Status("p", Origin.AddHours(10).AddMinutes(30), kind: EventKind.JobStarted));
        for (var m = 45; m <= 135; m += 10)
        {
            sut.Observe(Status("p", Origin.AddHours(10).AddMinutes(m), kind: EventKind.JobProgress));
        }

        sut.Observe(Status("p", Origin.AddHours(12).AddMinutes(15), kind: EventKind.JobFinished, outcome: JobOutcome.Completed));
        var all = CollectAll(sut, Origin.AddHours(12).AddMinutes(15));
        Assert.Equal(30 * 60, all[("1h", Origin.AddHours(10), "p")].Seconds(PrinterActivity.Printing), 6);
        Assert.Equal(60 * 60, all[("1h", Origin.AddHours(11), "p")].Seconds(PrinterActivity.Printing), 6);
        Assert.Equal(15 * 60, all[("1h", Origin.AddHours(12), "p")].Seconds(PrinterActivity.Printing), 6);
        Assert.Equal(105 * 60, all[("1d", Origin, "p")].Seconds(PrinterActivity.Printing), 6);
    }

    [Theory]
    [InlineData(2026, 3, 29, 23)]
    [InlineData(2026, 10, 25, 25)]
    [InlineData(2026, 7, 1, 24)]
    public void A_local_day_across_a_DST_change_holds_23_or_25_hours(int year, int month, int day, int hours)
    {
        var sut = CreateSut("1d", Berlin, offlineAfter: TimeSpan.Zero);
        var spec = WindowSpec.Parse("1d", Berlin);
        var midnight = spec.StartOf(new DateTimeOffset(year, month, day, 12, 0, 0, TimeSpan.Zero));
        sut.Observe(Status("p", midnight, "idle"));
        sut.Observe(Status("p", midnight.AddHours(5), kind: EventKind.JobStarted));
        sut.Observe(Status("p", midnight.AddHours(8), kind: EventKind.JobFinished, outcome: JobOutcome.Completed));
        var all = CollectAll(sut, midnight.AddDays(2));
        var times = all[("1d", midnight, "p")];
        Assert.Equal(hours * 3600, times.TrackedSeconds, 6);
        Assert.Equal(3 * 3600, times.Seconds(PrinterActivity.Printing), 6);
        Assert.Equal(5 * 3600, times.Seconds(PrinterActivity.Idle), 6);
        Assert.Equal((hours - 8) * 3600, times.Seconds(PrinterActivity.AwaitingBedClear), 6);
    }

    [Fact]
    public void The_last_progress_just_after_a_completed_print_leaves_the_plate_awaiting_bed_clear()
    {
        // OctoPrint publishes progress 100 a second after PrintDone; a lower progress after it is a print again.
        var sut = CreateSut("1h", offlineAfter: TimeSpan.Zero);
        sut.Observe(Status("p", Origin, kind: EventKind.JobStarted));
        sut.Observe(Status("p", Origin.AddMinutes(20), kind: EventKind.JobFinished, outcome: JobOutcome.Completed));
        sut.Observe(Progress("p", Origin.AddMinutes(20).AddSeconds(1), 100));
        sut.Observe(Progress("p", Origin.AddMinutes(40), 3));
        var times = CollectAll(sut, Origin.AddMinutes(50))[("1h", Origin, "p")];
        Assert.Equal(30 * 60, times.Seconds(PrinterActivity.Printing), 6);
        Assert.Equal(20 * 60, times.Seconds(PrinterActivity.AwaitingBedClear), 6);
    }

    [Fact]
    public void A_failed_state_in_the_same_report_as_a_cancel_is_idle_and_a_later_one_an_error()
    {
        // Bambu reports a cancel as FAILED with the cancel code: the job ends cancelled, the printer is not in error.
        var sut = CreateSut("1h", offlineAfter: TimeSpan.Zero);
        sut.Observe(Status("p", Origin, kind: EventKind.JobStarted));
        sut.Observe(Status("p", Origin.AddMinutes(10), kind: EventKind.JobFinished, outcome: JobOutcome.Cancelled));
        sut.Observe(Status("p", Origin.AddMinutes(10), "FAILED"));
        sut.Observe(Status("p", Origin.AddMinutes(30), "FAILED"));
        var times = CollectAll(sut, Origin.AddMinutes(50))[("1h", Origin, "p")];
        Assert.Equal(20 * 60, times.Seconds(PrinterActivity.Idle), 6);
        Assert.Equal(20 * 60, times.Seconds(PrinterActivity.Error), 6);
    }

    [Fact]
    public void A_printer_silent_longer_than_the_timeout_is_offline_from_the_timeout_on()
    {
        var sut = CreateSut("1h");
        sut.Observe(Status("p", Origin, kind: EventKind.JobStarted));
        sut.Observe(Status("p", Origin.AddMinutes(50), kind: EventKind.JobProgress));
        var times = CollectAll(sut, Origin.AddHours(1))[("1h", Origin, "p")];
        Assert.Equal((15 + 10) * 60, times.Seconds(PrinterActivity.Printing), 6); // back when the next progress came
        Assert.Equal(35 * 60, times.Seconds(PrinterActivity.Offline), 6);
        Assert.Equal(0, times.Seconds(PrinterActivity.Idle), 6);
    }

    [Fact]
    public void Maintenance_overrides_the_printer_state_and_is_not_planned_time()
    {
        var sut = CreateSut("1h");
        sut.Observe(Status("p", Origin, kind: EventKind.JobStarted));
        sut.SetMaintenance("p", Origin.AddMinutes(10), true);
        sut.Observe(Status("p", Origin.AddMinutes(12), kind: EventKind.JobProgress));
        sut.SetMaintenance("p", Origin.AddMinutes(20), false);
        for (var m = 25; m <= 60; m += 5)
        {
            sut.Observe(Status("p", Origin.AddMinutes(m), kind: EventKind.JobProgress));
        }

        var times = CollectAll(sut, Origin.AddHours(1))[("1h", Origin, "p")];
        Assert.Equal(10 * 60, times.Seconds(PrinterActivity.Maintenance), 6);
        Assert.Equal(50 * 60, times.Seconds(PrinterActivity.Printing), 6);
        Assert.Equal(50 * 60, times.PlannedSeconds, 6);
        Assert.Equal(1.0, times.Availability);
    }

    [Fact]
    public void Off_shift_time_is_left_out_of_planned_time_in_the_farms_time_zone()
    {
        Assert.True(OffShiftSchedule.TryParse("Mon-Sun 22:00-06:00", Berlin, out var schedule, out _));
        var sut = CreateSut("1d", Berlin, schedule, TimeSpan.Zero);
        var spec = WindowSpec.Parse("1d", Berlin);
        var midnight = spec.StartOf(new DateTimeOffset(2026, 3, 29, 12, 0, 0, TimeSpan.Zero)); // 23 h day
        sut.Observe(Status("p", midnight, "idle"));
        sut.Observe(Status("p", midnight.AddHours(7), kind: EventKind.JobStarted)); // 09:00 local (after 02:00 → 03:00)
        sut.Observe(Status("p", midnight.AddHours(13), kind: EventKind.JobFinished, outcome: JobOutcome.Failed));
        var times = CollectAll(sut, midnight.AddDays(2))[("1d", midnight, "p")];

        // Off shift: 00:00–06:00 local (5 h on this day) and 22:00–24:00 (2 h).
        Assert.Equal(7 * 3600, times.OffShiftTotalSeconds, 6);
        Assert.Equal(16 * 3600, times.PlannedSeconds, 6);
        Assert.Equal(6.0 / 16, times.Availability!.Value, 9);
    }

    [Theory]
    [InlineData("Mon 25:00-26:00")]
    [InlineData("Xyz 01:00-02:00")]
    [InlineData("Mon 01:00")]
    [InlineData("Mon 01:00-01:00")]
    public void Invalid_off_shift_schedules_are_refused_with_the_grammar(string text)
    {
        Assert.False(OffShiftSchedule.TryParse(text, null, out _, out var problem));
        Assert.Contains(OffShiftSchedule.Grammar, problem, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Checkpoint_and_restore_at_any_point_gives_the_same_times(int seed)
    {
        var trace = Trace(seed);
        var whole = CreateSut(zone: Berlin);
        var wholePoints = new Dictionary<(string, DateTimeOffset, string), TimeInState>();
        var cut = CreateSut(zone: Berlin);
        var cutPoints = new Dictionary<(string, DateTimeOffset, string), TimeInState>();
        var random = new Random(seed);
        for (var i = 0; i < trace.Count; i++)
        {
            whole.Observe(trace[i].Event);
            cut.Observe(trace[i].Event);
            if (i % 25 == 24)
            {
                var watermark = trace[i].At.AddSeconds(-30);
                CollectAll(whole, watermark, wholePoints);
                CollectAll(cut, watermark, cutPoints);
            }

            if (random.Next(40) == 0)
            {
                var json = JsonSerializer.Serialize(cut.SaveState());
                cut = CreateSut(zone: Berlin);
                cut.RestoreState(JsonSerializer.Deserialize<PrinterTimelineState>(json));
            }
        }

        CollectAll(whole, Origin.AddDays(4), wholePoints);
        CollectAll(cut, Origin.AddDays(4), cutPoints);
        Assert.Equal(wholePoints.Keys.Order(), cutPoints.Keys.Order());
        foreach (var (key, times) in wholePoints)
        {
            Assert.All(States, s => Assert.Equal(times.Seconds(s), cutPoints[key].Seconds(s)));
        }
    }

    // A farm as a live worker sees it: printer "c" runs 50 minutes behind the others (so behind the watermark), and
    // presence messages without a time of their own carry a receive time far from event time (a history published fast).
    private static List<(DateTimeOffset Watermark, PrinterEvent Event)> LaggingTrace(int seed)
    {
        var random = new Random(seed + 1000);
        var newest = DateTimeOffset.MinValue;
        var trace = new List<(DateTimeOffset, PrinterEvent)>();
        foreach (var (printer, at, e) in Trace(seed))
        {
            newest = at > newest ? at : newest;
            var lagged = printer == "c" ? Status(printer, at.AddMinutes(-50), e.State, e.Online, e.Kind, e.Outcome) : e;
            trace.Add((newest.AddMinutes(-5), lagged));
            if (random.Next(6) == 0)
            {
                var presence = Status(printer, Origin.AddDays(30), online: random.Next(2) == 0);
                trace.Add((newest.AddMinutes(-5), new PrinterEvent { Kind = presence.Kind, Printer = printer, Source = "native", Timestamp = presence.Timestamp, Online = presence.Online, ReceiveTimeOnly = true }));
            }
        }

        return trace;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void The_times_written_last_do_not_depend_on_when_collects_run(int seed)
    {
        var often = CreateSut(zone: Berlin);
        var rarely = CreateSut(zone: Berlin);
        var oftenPoints = new Dictionary<(string, DateTimeOffset, string), TimeInState>();
        var rarelyPoints = new Dictionary<(string, DateTimeOffset, string), TimeInState>();
        var random = new Random(seed);
        var points = new List<TimelinePoint>();
        var last = DateTimeOffset.MinValue;
        foreach (var (watermark, e) in LaggingTrace(seed))
        {
            foreach (var sut in new[] { often, rarely })
            {
                sut.Observe(e);
                sut.Advance(watermark);
            }

            last = watermark;
            foreach (var (sut, into, every) in new[] { (often, oftenPoints, 3), (rarely, rarelyPoints, 97) })
            {
                if (random.Next(every) == 0)
                {
                    points.Clear();
                    sut.Collect(watermark, points);
                    foreach (var p in points)
                    {
                        into[(p.Window.Name, p.WindowStart, p.Printer)] = p.Times;
                    }
                }
            }
        }

        CollectAll(often, last, oftenPoints);
        CollectAll(rarely, last, rarelyPoints);
        Assert.Equal(rarelyPoints.Keys.Order(), oftenPoints.Keys.Order());
        Assert.True(oftenPoints.Values.Sum(t => t.Seconds(PrinterActivity.Offline)) > 0);
        foreach (var (key, times) in rarelyPoints)
        {
            Assert.All(States, s => Assert.Equal(times.Seconds(s), oftenPoints[key].Seconds(s)));
        }
    }

    [Fact]
    public void A_window_is_first_written_a_minute_of_event_time_after_it_opened_then_at_most_once_a_minute()
    {
        var sut = CreateSut(windows: "1h");
        var points = new List<TimelinePoint>();
        var hour = Origin.AddHours(1);
        var writes = new List<DateTimeOffset>();
        TimelinePoint? last = null;
        for (var now = hour.AddMinutes(-1); now <= hour.AddSeconds(150); now = now.AddSeconds(1))
        {
            // One event a second of event time, collected after each: a backlog drained as fast as it can be.
            sut.Observe(Status("a", now, "printing"));
            sut.Advance(now);
            points.Clear();
            sut.Collect(now, points);
            foreach (var p in points.Where(p => p.Printer == "a" && p.WindowStart == hour))
            {
                writes.Add(now);
                last = p;
            }
        }

        // Not as the hour opened, but a minute of event time later, and again a minute after that.
        Assert.Equal([hour.AddSeconds(60), hour.AddSeconds(120)], writes);
        Assert.Equal(120, last!.Value.Times.Seconds(PrinterActivity.Printing));

        // Event time stands still: the newest time is written, whatever the minute.
        points.Clear();
        sut.Collect(hour.AddSeconds(150), points);
        Assert.Equal(150, Assert.Single(points, p => p.Printer == "a" && p.WindowStart == hour).Times.Seconds(PrinterActivity.Printing));
    }

    [Fact]
    public void A_message_without_a_time_of_its_own_happens_at_its_sources_newest_event_time()
    {
        var sut = CreateSut("1h", offlineAfter: TimeSpan.Zero); // offline by presence only
        var receivedNow = Origin.AddDays(30);

        // Before any timed event of its source it starts no clock (its receive time is no event time).
        sut.Observe(new PrinterEvent { Kind = EventKind.Status, Printer = "p", Source = "native", Timestamp = receivedNow, Online = true, ReceiveTimeOnly = true });
        sut.Observe(Status("p", Origin.AddMinutes(10), "idle"));
        sut.Observe(Status("q", Origin.AddMinutes(40), "idle"));

        // Disconnected, received "now": offline from its source's newest event (q's, at 40 min), not from p's own or now.
        sut.Observe(new PrinterEvent { Kind = EventKind.Status, Printer = "p", Source = "native", Timestamp = receivedNow, Online = false, ReceiveTimeOnly = true });
        var times = CollectAll(sut, Origin.AddHours(1))[("1h", Origin, "p")];
        Assert.Equal(30 * 60, times.Seconds(PrinterActivity.Idle), 6);
        Assert.Equal(20 * 60, times.Seconds(PrinterActivity.Offline), 6);
        Assert.Equal(50 * 60, times.TrackedSeconds, 6);
    }

    [Fact]
    public void Restoring_no_state_starts_empty()
    {
        var sut = CreateSut();
        sut.Observe(Status("p", Origin, "printing"));
        sut.RestoreState(null);
        Assert.Equal(0, sut.Printers);
        Assert.Null(sut.StateOf("p"));
    }

    [Fact]
    public void A_state_name_that_is_not_known_is_refused_on_restore()
    {
        var state = new PrinterTimelineState { Printers = [new() { Printer = "p", Device = "Sleeping" }] };
        Assert.Throws<FormatException>(() => CreateSut().RestoreState(state));
    }

    [Fact]
    public void Failed_jobs_count_against_quality_and_operator_cancels_do_not()
    {
        var sut = CreateSut("1h");
        sut.Observe(Status("p", Origin, "idle"));
        sut.AddJob(Job(JobOutcome.Completed, 4, 3600, 3000));
        sut.AddJob(Job(JobOutcome.Failed, 2, 900, null));
        sut.AddJob(Job(JobOutcome.Cancelled, 5, 900, 1000));
        var times = CollectAll(sut, Origin.AddHours(2))[("1h", Origin, "p")];
        Assert.Equal(4, times.GoodToys);
        Assert.Equal(6, times.ToysStarted);
        Assert.Equal(4.0 / 6, times.Quality!.Value, 12);
        Assert.Equal(3000.0 / 3600, times.Performance!.Value, 12);
    }

    private static EndedJob Job(JobOutcome outcome, int quantity, double printTime, double? estimate) => new()
    {
        Printer = "p",
        Source = "native",
        JobId = Guid.NewGuid().ToString(),
        File = "f.gcode",
        Toy = "t",
        Quantity = quantity,
        Material = "PLA",
        Outcome = outcome,
        Start = Origin.AddMinutes(1),
        End = Origin.AddMinutes(30),
        PrintTimeSeconds = printTime,
        FilamentGrams = 1,
        FilamentSource = FilamentSource.Measured,
        EstimatedTimeSeconds = estimate,
    };
}
