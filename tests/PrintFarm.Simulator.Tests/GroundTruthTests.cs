using PrintFarm.Core.Events;
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
/// The trace fed straight to the core's processor (every adapter, default rules, receive time = simulated time):
/// every ended job, and the KPI totals of every window, are the simulator's ground truth.
/// </summary>
public sealed class GroundTruthTests
{
    public static TheoryData<string> Mixes => new() { "octoprint", "moonraker", "bambu", "native", "mixed" };

    [Theory]
    [MemberData(nameof(Mixes))]
    public void The_core_ends_exactly_the_jobs_of_the_ground_truth(string mix)
    {
        var (simulation, ended, late, rejected) = Run(mix);

        var truth = simulation.Truth.Jobs.Select(j => j.Reported).ToList();
        Assert.True(truth.Count >= 20, $"only {truth.Count} jobs");
        Assert.Empty(late);
        Assert.Equal(truth.Count, ended.Count);
        var byId = ended.ToDictionary(j => (j.Printer, j.JobId));
        foreach (var expected in truth)
        {
            Assert.True(byId.TryGetValue((expected.Printer, expected.JobId), out var actual), $"no job {expected.Printer}/{expected.JobId}");
            Assert.Equal(
                (expected.Outcome, expected.Toy, expected.Quantity, expected.Material, expected.Start, expected.End, expected.FilamentSource),
                (actual.Outcome, actual.Toy, actual.Quantity, actual.Material, actual.Start, actual.End, actual.FilamentSource));
            Assert.Equal(expected.PrintTimeSeconds, actual.PrintTimeSeconds, 9);
            Assert.Equal(expected.FilamentGrams, actual.FilamentGrams, 9);
        }

        // Every malformed message is rejected, and nothing else is.
        Assert.All(rejected, r => Assert.Equal(RejectReasons.InvalidJson, r));
    }

    [Theory]
    [MemberData(nameof(Mixes))]
    public void The_core_kpi_windows_equal_the_ground_truth(string mix)
    {
        var window = WindowSpec.Parse("1h");
        var (simulation, _, _, _, engine) = RunWithEngine(mix, window);
        var points = new List<KpiPoint>();
        engine.Collect(points);
        var latest = points.GroupBy(p => (p.WindowStart, p.Scope, p.Subject)).ToDictionary(g => g.Key, g => g.Last().Totals);

        // Closed windows: the watermark has passed their end plus the allowed lateness (10 min by default).
        var windows = simulation.Truth.WindowsWithJobs(window).Where(s => window.EndOf(s) + TimeSpan.FromMinutes(10) <= engine.Watermark).ToList();
        Assert.True(windows.Count >= 4);
        foreach (var start in windows)
        {
            AssertTotals(simulation.Truth.Totals(window, start), latest[(start, KpiScope.Farm, string.Empty)], $"farm {start:HH:mm}");
            foreach (var toy in simulation.Truth.Jobs.Select(j => j.Reported.Toy).Distinct())
            {
                var expected = simulation.Truth.Totals(window, start, KpiScope.Toy, toy);
                if (expected.JobsEnded > 0)
                {
                    AssertTotals(expected, latest[(start, KpiScope.Toy, toy)], $"toy {toy} {start:HH:mm}");
                }
            }
        }
    }

    internal static void AssertTotals(KpiTotals expected, KpiTotals actual, string what)
    {
        Assert.True(
            (expected.JobsCompleted, expected.JobsFailed, expected.JobsCancelled, expected.ToysCompleted, expected.JobsWithoutFilament)
            == (actual.JobsCompleted, actual.JobsFailed, actual.JobsCancelled, actual.ToysCompleted, actual.JobsWithoutFilament),
            $"{what}: counts {(actual.JobsCompleted, actual.JobsFailed, actual.JobsCancelled, actual.ToysCompleted, actual.JobsWithoutFilament)}, expected {(expected.JobsCompleted, expected.JobsFailed, expected.JobsCancelled, expected.ToysCompleted, expected.JobsWithoutFilament)}");
        Assert.Equal(expected.PrintTimeSeconds, actual.PrintTimeSeconds, 6);
        Assert.Equal(expected.FilamentUsedGrams, actual.FilamentUsedGrams, 6);
        Assert.Equal(expected.FilamentWasteGrams, actual.FilamentWasteGrams, 6);
        Assert.Equal(expected.BusySeconds, actual.BusySeconds, 6);
    }

    private static (FarmSimulation, List<EndedJob>, List<EndedJob>, List<string>) Run(string mix)
    {
        var (simulation, ended, late, rejected, _) = RunWithEngine(mix, WindowSpec.Parse("1h"));
        return (simulation, ended, late, rejected);
    }

    private static (FarmSimulation, List<EndedJob>, List<EndedJob>, List<string>, KpiEngine) RunWithEngine(string mix, WindowSpec window)
    {
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 8,
            Mix = FormatMix.Parse(mix),
            Seed = 11,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(10),
            MalformedRate = 0.2,
            FlapRate = 0.2,
            PauseRate = 0.3,
            FailureRate = 0.15,
            CancelRate = 0.15,
        });
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [window] });
        var processor = new TelemetryProcessor(
            [new NativeAdapter(), new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            engine,
            new PointEncoder("sim"));
        var output = new ProcessorOutput();
        var ended = new List<EndedJob>();
        var late = new List<EndedJob>();
        var rejected = new List<string>();
        foreach (var m in simulation.Messages())
        {
            var result = processor.Process(new InboundMessage(m.Topic, m.Payload.ToArray(), false, m.Time), output);
            if (!result.Accepted)
            {
                rejected.Add(result.Reason!);
            }

            ended.AddRange(output.EndedJobs);
            late.AddRange(output.LateJobs);
            output.Clear();
        }

        Assert.NotEmpty(rejected);
        return (simulation, ended, late, rejected, engine);
    }
}
