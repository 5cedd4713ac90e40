using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Maintenance;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Tests;

/// <summary>
/// The trace fed to the core's processor with the printer timeline on: time in each state, off-shift time, planned
/// time and availability of every closed hour, for the farm and each printer, equal the simulator's ground truth
/// (<see cref="Truth.PrinterTimeTruth"/>), which is built from the printers' schedules, not from the messages.
/// </summary>
public sealed class PrinterTimeTruthTests
{
    // Each format alone and mixed; offline only when the host says so (0), or also after 4 minutes of silence.
    public static TheoryData<string, int> Cases => new()
    {
        { "octoprint", 0 }, { "moonraker", 0 }, { "bambu", 0 }, { "native", 0 }, { "mixed", 0 },
        { "octoprint", 4 }, { "moonraker", 4 }, { "bambu", 4 }, { "native", 4 }, { "mixed", 4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Time_in_each_state_and_availability_of_every_closed_window_equal_the_ground_truth(string mix, int offlineMinutes) =>
        AssertEqualsTruth(mix, offlineMinutes > 0 ? TimeSpan.FromMinutes(offlineMinutes) : null, WindowSpec.Parse("1h"), TimeZoneInfo.Utc, new DateTimeOffset(2026, 1, 5, 6, 0, 0, TimeSpan.Zero), TimeSpan.FromHours(8), minimumClosed: 6);

    [Fact]
    public void The_25_hour_day_that_ends_daylight_saving_time_in_the_farms_zone_equals_the_ground_truth()
    {
        // Local midnight of 2026-10-25 in Berlin is 2026-10-24T22:00Z; that day ends at 2026-10-25T23:00Z.
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var window = WindowSpec.Parse("1d", berlin);
        var start = new DateTimeOffset(2026, 10, 24, 21, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromHours(25), window.EndOf(window.StartOf(start.AddHours(2))) - window.StartOf(start.AddHours(2)));
        AssertEqualsTruth("mixed", TimeSpan.FromMinutes(4), window, berlin, start, TimeSpan.FromHours(27), minimumClosed: 1);
    }

    private static void AssertEqualsTruth(string mix, TimeSpan? offlineAfter, WindowSpec window, TimeZoneInfo zone, DateTimeOffset from, TimeSpan duration, int minimumClosed)
    {
        Assert.True(OffShiftSchedule.TryParse("Mon-Sun 09:30-10:15", zone, out var offShift, out var problem), problem);
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Start = from,
            Printers = 8,
            Mix = FormatMix.Parse(mix),
            Seed = 29,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = duration,
            FlapRate = 0.3,
            PauseRate = 0.3,
            FailureRate = 0.2,
            CancelRate = 0.2,
            MalformedRate = 0.2,
            MaintenanceRate = 0.15,
        });
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [window] });
        var timeline = new PrinterTimeline(new PrinterTimelineOptions { Windows = [window], OfflineAfter = offlineAfter ?? TimeSpan.Zero, OffShift = offShift! });
        var processor = new TelemetryProcessor(
            [new NativeAdapter(), new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter(), new MaintenanceAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            engine,
            new PointEncoder("sim"))
        { Timeline = timeline };
        var output = new ProcessorOutput();
        var points = new List<TimelinePoint>();
        foreach (var m in simulation.Messages())
        {
            processor.Process(new InboundMessage(m.Topic, m.Payload.ToArray(), false, m.Time), output);
            output.Clear();
            timeline.Collect(engine.Watermark, points);
        }

        var latest = points.GroupBy(p => (p.WindowStart, p.Printer)).ToDictionary(g => g.Key, g => g.Last().Times);
        var closed = Enumerable.Range(0, (int)duration.TotalHours).Select(h => window.StartOf(from.AddHours(h))).Distinct()
            .Where(s => s >= from && window.EndOf(s) + TimeSpan.FromMinutes(10) <= engine.Watermark).ToList();
        Assert.True(closed.Count >= minimumClosed, $"{closed.Count} closed windows");
        var seen = new double[8];
        foreach (var start in closed)
        {
            foreach (var printer in simulation.Printers.Select(p => p.Id).Append(string.Empty))
            {
                var expected = simulation.Times.Times(window, start, printer, offShift, offlineAfter);
                var has = latest.TryGetValue((start, printer), out var actual);
                var what = $"{mix} {offlineAfter} {(printer.Length == 0 ? "farm" : printer)} {start:HH:mm}";
                foreach (var state in Enum.GetValues<PrinterActivity>())
                {
                    var got = has ? actual.Seconds(state) : 0;
                    Assert.True(expected.Seconds(state) == got, $"{what}: {state} {got} s, expected {expected.Seconds(state)} s");
                    seen[(int)state] += printer.Length == 0 ? got : 0;
                }

                if (has)
                {
                    Assert.True(expected.OffShiftSeconds == actual.OffShiftTotalSeconds, $"{what}: off shift {actual.OffShiftTotalSeconds}, expected {expected.OffShiftSeconds}");
                    Assert.True(expected.PlannedSeconds == actual.PlannedSeconds, $"{what}: planned {actual.PlannedSeconds}, expected {expected.PlannedSeconds}");
                    Assert.True(expected.Availability == actual.Availability, $"{what}: availability {actual.Availability}, expected {expected.Availability}");
                }
                else
                {
                    Assert.True(expected.TrackedSeconds == 0, $"{what}: no point, expected {expected.TrackedSeconds} s tracked");
                }
            }
        }

        // The trace puts the farm in every state the formats can report.
        var expectedStates = Enum.GetValues<PrinterActivity>().Where(s => s switch
        {
            PrinterActivity.Preparing => mix is "bambu" or "native" or "mixed",
            PrinterActivity.Offline => mix is "octoprint" or "moonraker" or "mixed" || offlineAfter is not null,
            _ => true,
        });
        Assert.All(expectedStates, s => Assert.True(seen[(int)s] > 0, $"{mix}: no time in {s}"));
    }
}
