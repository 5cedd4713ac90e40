using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
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
/// The trace fed to the core's processor with the printer timeline on: OEE's job-derived parts (toys started,
/// quality, performance) of every closed hour, for the farm and each printer, are the simulator's ground truth
/// (<see cref="Truth.OeeTruth"/>), for each format's failure reasons.
/// </summary>
public sealed class OeeTruthTests
{
    public static TheoryData<string> Mixes => new() { "octoprint", "moonraker", "bambu", "native", "mixed" };

    [Theory]
    [MemberData(nameof(Mixes))]
    public void Quality_and_performance_of_every_closed_window_equal_the_ground_truth(string mix)
    {
        var window = WindowSpec.Parse("1h");
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 8,
            Mix = FormatMix.Parse(mix),
            Seed = 23,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(10),
            FlapRate = 0.2,
            PauseRate = 0.3,
            FailureRate = 0.2,
            CancelRate = 0.2,
        });
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [window] });
        var timeline = new PrinterTimeline(new PrinterTimelineOptions { Windows = [window] });
        var processor = new TelemetryProcessor(
            [new NativeAdapter(), new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter()],
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
        }

        timeline.Collect(engine.Watermark, points);
        timeline.Collect(engine.Watermark, points);
        var latest = points.GroupBy(p => (p.WindowStart, p.Printer)).ToDictionary(g => g.Key, g => g.Last().Times);
        var closed = simulation.Truth.WindowsWithJobs(window).Where(s => window.EndOf(s) + TimeSpan.FromMinutes(10) <= engine.Watermark).ToList();
        Assert.True(closed.Count >= 4);
        var counted = 0L;
        foreach (var start in closed)
        {
            foreach (var printer in simulation.Printers.Select(p => p.Id).Prepend(string.Empty))
            {
                var expected = simulation.OeeTruth.Counts(window, start, printer);
                var actual = latest.TryGetValue((start, printer), out var t) ? t : default;
                var what = $"{mix} {(printer.Length == 0 ? "farm" : printer)} {start:HH:mm}";
                Assert.True((expected.GoodToys, expected.ToysStarted) == (actual.GoodToys, actual.ToysStarted), $"{what}: toys {(actual.GoodToys, actual.ToysStarted)}, expected {(expected.GoodToys, expected.ToysStarted)}");
                Assert.True(expected.Quality == actual.Quality, $"{what}: quality {actual.Quality}, expected {expected.Quality}");
                Assert.True(expected.Performance is null ? actual.Performance is null : Math.Abs(expected.Performance.Value - actual.Performance!.Value) <= 1e-9, $"{what}: performance {actual.Performance}, expected {expected.Performance}");
                counted += printer.Length == 0 ? expected.ToysStarted : 0;
            }
        }

        Assert.True(counted > 0, "no toy counted for quality");
    }

    [Fact]
    public void Operator_cancels_are_left_out_of_toys_started_and_failures_count()
    {
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 6, Mix = FormatMix.Parse("mixed"), Seed = 5, Duration = TimeSpan.FromHours(12), FailureRate = 0.25, CancelRate = 0.25 });
        foreach (var _ in simulation.Messages())
        {
        }

        var day = WindowSpec.Parse("1d");
        var jobs = simulation.Truth.Jobs;
        Assert.Contains(jobs, j => j.Reported.Outcome == Core.Events.JobOutcome.Cancelled);
        var starts = jobs.Select(j => day.StartOf(j.Reported.End)).Distinct();
        var started = starts.Sum(s => simulation.OeeTruth.Counts(day, s).ToysStarted);
        Assert.Equal(jobs.Where(j => j.Reported.Outcome != Core.Events.JobOutcome.Cancelled).Sum(j => (long)j.Reported.Quantity), started);
    }
}
