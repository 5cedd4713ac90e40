using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;

namespace PrintFarm.Core.Tests.Kpis;

/// <summary>
/// Stream-processing properties of the whole pure pipeline (native adapter → jobs → KPI windows), over generated farm
/// traces: order within the out-of-orderness bound does not matter, duplicates do not matter, and a checkpoint and
/// restore at any point does not matter. Traces use job ids, as a source must for out-of-order tolerance.
/// </summary>
public sealed class KpiEnginePropertyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset Origin = new(2026, 7, 1, 6, 0, 0, TimeSpan.Zero);

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 12)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Reordering_events_within_the_out_of_orderness_bound_gives_identical_final_KPIs(int seed)
    {
        var trace = Generate(seed);
        var random = new Random(seed * 7919);

        // Each event is delayed by less than the bound, so arrival order changes but no event falls behind the
        // watermark: anything that arrived earlier has an event time ≤ this event's time + its delay.
        var shuffled = trace
            .Select(e => (Event: e, Arrival: e.Time + TimeSpan.FromSeconds(random.NextDouble() * Bound.TotalSeconds * 0.9)))
            .OrderBy(x => x.Arrival)
            .Select(x => x.Event)
            .ToList();

        Assert.NotEqual(trace, shuffled);
        AssertSameKpis(Run(trace), Run(shuffled));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Duplicating_any_events_changes_no_KPI(int seed)
    {
        var trace = Generate(seed);
        var random = new Random(seed * 104729);
        var withDuplicates = new List<TraceEvent>();
        foreach (var e in trace)
        {
            withDuplicates.Add(e);
            if (random.NextDouble() < 0.3)
            {
                withDuplicates.Add(e); // QoS 1 redelivery right behind the original
            }
        }

        // And a few redelivered much later (after a reconnect), within the bound of the newest event.
        foreach (var e in trace.Where((_, i) => i % 9 == 4))
        {
            var at = withDuplicates.FindIndex(x => x.Time > e.Time + Bound / 2);
            withDuplicates.Insert(at < 0 ? withDuplicates.Count : at, e);
        }

        Assert.True(withDuplicates.Count > trace.Count);
        AssertSameKpis(Run(trace), Run(withDuplicates));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Checkpoint_and_restore_at_any_point_gives_the_same_KPIs_as_running_the_trace_whole(int seed)
    {
        var trace = Generate(seed);
        var whole = Run(trace);
        var random = new Random(seed);
        for (var i = 0; i < 5; i++)
        {
            var split = random.Next(1, trace.Count);
            AssertSameKpis(whole, Run(trace, checkpointAfter: split));
        }
    }

    [Fact]
    public void Generated_traces_exercise_every_outcome_and_span_several_windows()
    {
        var kpis = Run(Generate(3));
        var farmHours = kpis.Values.Where(p => p.Scope == KpiScope.Farm && p.Window.Name == "1h").ToList();
        Assert.True(farmHours.Count >= 4);
        Assert.True(farmHours.Sum(p => p.Totals.JobsCompleted) > 0);
        Assert.True(farmHours.Sum(p => p.Totals.JobsFailed) > 0);
        Assert.True(farmHours.Sum(p => p.Totals.JobsCancelled) > 0);
        Assert.Contains(farmHours, p => p.Utilization is > 0 and < 1);
    }

    private sealed record TraceEvent(string Printer, DateTimeOffset Time, string Json);

    // Five printers, each printing jobs with idle gaps longer than the bound (a printer's next start never overtakes
    // its previous finish): random durations (10–150 min), outcomes, quantities and filament, and progress samples
    // seconds after the start and before the end, so that reordering within the bound really swaps events.
    private static List<TraceEvent> Generate(int seed)
    {
        var random = new Random(seed);
        var events = new List<TraceEvent>();
        string[] toys = ["dragon", "castle", "owl", "robot"];
        string[] outcomes = ["completed", "completed", "completed", "failed", "cancelled"];
        for (var p = 0; p < 5; p++)
        {
            var printer = $"p{p}";
            var t = Origin.AddMinutes(random.Next(0, 30)).AddSeconds(random.Next(0, 60));
            for (var j = 0; j < 6; j++)
            {
                var id = $"{printer}-j{j}";
                var minutes = random.Next(10, 150);
                var end = t.AddMinutes(minutes).AddSeconds(random.Next(0, 60));
                var toy = toys[random.Next(toys.Length)];
                var qty = random.Next(1, 6);
                events.Add(new(printer, t, Json(new { type = "job_started", ts = Ms(t), job_id = id, file = $"{toy}_x{qty}.gcode", material = random.Next(2) == 0 ? "PLA" : "PETG" })));
                foreach (var at in new[] { t.AddSeconds(random.Next(1, 25)), t.AddMinutes(minutes / 2.0), end.AddSeconds(-random.Next(1, 25)) })
                {
                    events.Add(new(printer, at, Json(new { type = "job_progress", ts = Ms(at), job_id = id, progress_pct = 50, nozzle_c = 210.5 })));
                }

                events.Add(new(printer, end, Json(new { type = "job_finished", ts = Ms(end), job_id = id, outcome = outcomes[random.Next(outcomes.Length)], filament_mm = random.Next(500, 20000), estimated_time_s = minutes * 60 * 0.9 })));
                t = end.AddMinutes(random.Next(1, 40)).AddSeconds(random.Next(0, 60));
            }
        }

        return events.OrderBy(e => e.Time).ToList();
    }

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    private static string Json(object o) => JsonSerializer.Serialize(o);

    private static TelemetryProcessor CreateProcessor() => new(
        [new NativeAdapter()],
        new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
        new KpiEngine(new KpiEngineOptions { Windows = [WindowSpec.Parse("1h"), WindowSpec.Parse("1d")], OutOfOrderness = Bound, AllowedLateness = TimeSpan.FromMinutes(10) }),
        new PointEncoder("farm"));

    // Runs the events through a processor (received 1 s after the newest event time so far, as live), collecting
    // KPIs every 20 events as the flush timer would, and returns the last value of every series.
    private static Dictionary<string, KpiPoint> Run(IReadOnlyList<TraceEvent> events, int? checkpointAfter = null)
    {
        var processor = CreateProcessor();
        var output = new ProcessorOutput();
        var points = new List<KpiPoint>();
        var last = new Dictionary<string, KpiPoint>(StringComparer.Ordinal);
        var newest = DateTimeOffset.MinValue;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            newest = e.Time > newest ? e.Time : newest;
            var message = new InboundMessage(NativeAdapter.DefaultTopic.Replace("{printer}", e.Printer, StringComparison.Ordinal), System.Text.Encoding.UTF8.GetBytes(e.Json), false, newest.AddSeconds(1));
            var result = processor.Process(message, output);
            Assert.True(result.Accepted, result.Detail);
            Assert.Empty(output.LateJobs);
            output.Clear();
            if (i % 20 == 19)
            {
                Collect(processor, points, last);
            }

            if (checkpointAfter == i + 1)
            {
                Collect(processor, points, last);
                var saved = processor.SaveCheckpoint(newest).ToJsonString();
                processor = CreateProcessor();
                processor.RestoreCheckpoint((JsonObject)JsonNode.Parse(saved)!);
            }
        }

        Collect(processor, points, last);
        return last;
    }

    private static void Collect(TelemetryProcessor processor, List<KpiPoint> points, Dictionary<string, KpiPoint> last)
    {
        points.Clear();
        processor.Kpis.Collect(points);
        foreach (var p in points)
        {
            last[string.Create(CultureInfo.InvariantCulture, $"{p.Window.Name}|{p.WindowStart.UtcTicks}|{p.Scope}|{p.Subject}")] = p;
        }
    }

    private static void AssertSameKpis(Dictionary<string, KpiPoint> expected, Dictionary<string, KpiPoint> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, e) in expected)
        {
            var a = actual[key].Totals;
            var x = e.Totals;
            Assert.True(x.JobsCompleted == a.JobsCompleted && x.JobsFailed == a.JobsFailed && x.JobsCancelled == a.JobsCancelled && x.ToysCompleted == a.ToysCompleted, key);
            Close(x.PrintTimeSeconds, a.PrintTimeSeconds, key);
            Close(x.FilamentUsedGrams, a.FilamentUsedGrams, key);
            Close(x.FilamentWasteGrams, a.FilamentWasteGrams, key);
            Close(x.BusySeconds, a.BusySeconds, key);
            Close(x.EstimatedJobsEstimateSeconds, a.EstimatedJobsEstimateSeconds, key);
            Assert.Equal(e.Totals.PrintersSeen, actual[key].Totals.PrintersSeen);
        }
    }

    // Sums in another order differ in the last bits.
    private static void Close(double expected, double actual, string key) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"{key}: expected {expected}, got {actual}");
}
