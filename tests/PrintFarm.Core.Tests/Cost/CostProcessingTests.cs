using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PrintFarm.Core.Cost;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Energy;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;

namespace PrintFarm.Core.Tests.Cost;

/// <summary>Energy and landed cost through the whole pure pipeline: plug topics, native events, job and kpi fields, checkpoints.</summary>
public sealed class CostProcessingTests
{
    private static readonly DateTimeOffset T = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
    private static readonly CostPrices Prices = new(EnergyPerKwh: 0.30, MachinePerPrintingHour: 0.50, LabourPerPlate: 1.00);
    private const double PlaPerKg = 20;

    [Fact]
    public void Jobs_get_their_metered_energy_and_cost_and_the_window_its_cost_per_toy_with_a_failure_and_idle_draw_spread_over_good_toys()
    {
        var lines = Run(Messages(), checkpointAt: null);

        // p1 (Tasmota, 600 W printing): j1 08:00–08:40, 0.4 kWh. p2 (Shelly): j2 08:10–08:30 failed, 0.1 kWh.
        var j1 = JobFields(lines, "j1");
        var j2 = JobFields(lines, "j2");
        Assert.Equal(0.4, j1["energy_kwh"], 9);
        Assert.Equal(0.1, j2["energy_kwh"], 9);
        var j1Cost = (0.050 * PlaPerKg) + (0.4 * Prices.EnergyPerKwh) + (2400 / 3600.0 * Prices.MachinePerPrintingHour) + Prices.LabourPerPlate;
        var j2Cost = (0.010 * PlaPerKg) + (0.1 * Prices.EnergyPerKwh) + (1200 / 3600.0 * Prices.MachinePerPrintingHour) + Prices.LabourPerPlate;
        Assert.Equal(j1Cost, j1["cost"], 9);
        Assert.Equal(j2Cost, j2["cost"], 9);

        // Idle: p1 08:40–08:50 0.05 kWh; p2 08:00–08:10 0.01 and 08:30–08:50 0.02 kWh. Two good toys (j1).
        var farm = KpiFields(lines, "scope=farm", "window=1h");
        var idle = 0.05 + 0.01 + 0.02;
        Assert.Equal(idle, farm["idle_energy_kwh"], 9);
        Assert.Equal(0.5 + idle, farm["energy_kwh"], 9);
        Assert.Equal((j1Cost + j2Cost + (idle * Prices.EnergyPerKwh)) / 2, farm["cost_per_toy"], 9);
        Assert.Equal((0.4 + 0.1 + idle) / 2, farm["energy_per_toy_kwh"], 9);
        Assert.Equal((0.060 * PlaPerKg) / 2, farm["cost_material_per_toy"], 9);
        Assert.Equal(2 * Prices.LabourPerPlate / 2, farm["cost_labour_per_toy"], 9);

        // The toy scope carries its own jobs' cost, without idle draw (it belongs to no toy).
        var dragon = KpiFields(lines, "scope=toy", "toy=dragon", "window=1h");
        Assert.Equal(j1Cost / 2, dragon["cost_per_toy"], 9);
        Assert.DoesNotContain("idle_energy_kwh", dragon.Keys);
    }

    [Fact]
    public void A_checkpoint_and_restore_between_any_two_messages_neither_loses_nor_doubles_energy_or_cost()
    {
        var messages = Messages();
        var straight = Summary(Run(messages, checkpointAt: null));
        Assert.Contains("cost_per_toy=", straight, StringComparison.Ordinal);
        for (var k = 1; k < messages.Count; k++)
        {
            Assert.Equal(straight, Summary(Run(messages, checkpointAt: k)));
        }
    }

    [Fact]
    public void A_checkpoint_without_cost_state_from_an_older_build_restores_with_an_empty_meter()
    {
        var messages = Messages();
        var processor = Create();
        var output = new ProcessorOutput();
        foreach (var m in messages.Take(5))
        {
            processor.Process(m, output);
        }

        var checkpoint = processor.SaveCheckpoint(T);
        Assert.NotNull(checkpoint["cost"]);
        checkpoint.Remove("cost");

        var restored = Create();
        restored.RestoreCheckpoint(JsonNode.Parse(checkpoint.ToJsonString())!.AsObject());

        Assert.Equal(0, restored.Costs!.Meter.MeteredKwh);
        Assert.Empty(restored.Costs.Meter.SaveState().Printers);
    }

    [Fact]
    public void A_plug_payload_that_cannot_be_read_is_rejected_and_one_stamped_in_the_future_too()
    {
        var processor = Create();
        var output = new ProcessorOutput();

        var bad = processor.Process(Plug("tele/plug1/SENSOR", """{"Time":"2026-03-02T08:00:00","ENERGY":{}}""", T), output);
        var future = processor.Process(Plug("tele/plug1/SENSOR", """{"Time":"2026-03-02T09:00:00","ENERGY":{"Total":1}}""", T), output);

        Assert.Equal(RejectReasons.MissingField, bad.Reason);
        Assert.Equal(RejectReasons.FutureTimestamp, future.Reason);
        Assert.Empty(processor.Costs!.Meter.SaveState().Printers);
        Assert.Contains("tele/plug1/SENSOR", processor.SubscriptionFilters);
        Assert.Contains("shelly-p2/status/switch:0", processor.SubscriptionFilters);
    }

    [Fact]
    public void A_native_energy_event_meters_a_printer_without_a_plug()
    {
        var processor = Create();
        var output = new ProcessorOutput();
        var topic = "printfarm/p3/event";
        processor.Process(Native(topic, new { type = "energy", ts = T.ToString("O"), energy_kwh = 1.0 }), output);
        processor.Process(Native(topic, new { type = "job_started", ts = T.ToString("O"), job_id = "j3", toy = "cat" }), output);
        processor.Process(Native(topic, new { type = "energy", ts = T.AddMinutes(30).ToString("O"), energy_kwh = 1.2 }), output);
        processor.Process(Native(topic, new { type = "job_finished", ts = T.AddMinutes(30).ToString("O"), job_id = "j3", toy = "cat", outcome = "completed", print_time_s = 1800 }), output);
        processor.Process(Native(topic, new { type = "status", ts = T.AddHours(1).ToString("O"), state = "idle" }), output);

        Assert.Equal(0.2, JobFields(output.Lines, "j3", printer: "p3")["energy_kwh"], 9);
        Assert.False(processor.Process(Native(topic, new { type = "energy", ts = T.AddHours(1).ToString("O") }), output).Accepted);
    }

    [Fact]
    public void A_job_on_a_printer_without_any_meter_gets_its_cost_at_once_without_energy()
    {
        var processor = Create();
        var output = new ProcessorOutput();
        var topic = "printfarm/p9/event";
        processor.Process(Native(topic, new { type = "job_started", ts = T.ToString("O"), job_id = "j9", toy = "cat" }), output);
        processor.Process(Native(topic, new { type = "job_finished", ts = T.AddHours(1).ToString("O"), job_id = "j9", toy = "cat", outcome = "completed", print_time_s = 3600, filament_g = 25 }), output);

        var fields = JobFields(output.Lines, "j9", printer: "p9");
        Assert.DoesNotContain("energy_kwh", fields.Keys);
        Assert.Equal((0.025 * PlaPerKg) + Prices.MachinePerPrintingHour + Prices.LabourPerPlate, fields["cost"], 9);
    }

    internal static TelemetryProcessor Create()
    {
        var kpis = new KpiEngine(new KpiEngineOptions());
        var energy = new EnergyOptions
        {
            Plugs =
            {
                ["plug1"] = new PlugOptions { Printer = "p1", Type = PlugType.Tasmota },
                ["shelly-p2"] = new PlugOptions { Printer = "p2", Type = PlugType.Shelly },
            },
        };
        var materials = new MaterialCatalog(new Dictionary<string, MaterialInfo> { ["PLA"] = new(1.24, PlaPerKg) });
        return new TelemetryProcessor([new NativeAdapter()], new JobTracker(ToyNameRules.Default, materials), kpis, new PointEncoder("farm-a"))
        {
            Costs = new CostLedger(kpis.Windows, Prices, energy, TimeZoneInfo.Utc, TimeSpan.FromMinutes(10)),
        };
    }

    private static List<InboundMessage> Messages()
    {
        var list = new List<InboundMessage>();
        void Tasmota(int minute, double kwh) => list.Add(Plug("tele/plug1/SENSOR", $$$"""{"Time":"{{{T.AddMinutes(minute):yyyy-MM-ddTHH:mm:ss}}}","ENERGY":{"Total":{{{kwh.ToString(CultureInfo.InvariantCulture)}}},"Power":600}}""", T.AddMinutes(minute).AddSeconds(1)));
        void Shelly(int minute, double wh) => list.Add(Plug("shelly-p2/status/switch:0", $$$"""{"id":0,"output":true,"aenergy":{"total":{{{wh.ToString(CultureInfo.InvariantCulture)}}},"minute_ts":{{{T.AddMinutes(minute).ToUnixTimeSeconds()}}}}}""", T.AddMinutes(minute).AddSeconds(2)));
        void Event(string printer, int minute, object payload) => list.Add(Native($"printfarm/{printer}/event", payload, T.AddMinutes(minute).AddSeconds(3)));
        string At(int minute) => T.AddMinutes(minute).ToString("O");

        Tasmota(0, 10.0);
        Shelly(0, 5000);
        Event("p1", 0, new { type = "job_started", ts = At(0), job_id = "j1", toy = "dragon", quantity = 2, material = "PLA" });
        Shelly(10, 5010);
        Tasmota(10, 10.1);
        Event("p2", 10, new { type = "job_started", ts = At(10), job_id = "j2", toy = "cat", material = "PLA" });
        Tasmota(20, 10.2);
        Shelly(20, 5060);
        Event("p1", 25, new { type = "job_progress", ts = At(25), job_id = "j1", progress_pct = 60 });
        Tasmota(30, 10.3);
        Event("p2", 30, new { type = "job_finished", ts = At(30), job_id = "j2", toy = "cat", outcome = "failed", print_time_s = 1200, filament_g = 10 });
        Shelly(30, 5110);
        Event("p1", 40, new { type = "job_finished", ts = At(40), job_id = "j1", toy = "dragon", quantity = 2, outcome = "completed", print_time_s = 2400, filament_g = 50 });
        Tasmota(40, 10.4);
        Shelly(40, 5120);
        Tasmota(50, 10.45);
        Shelly(50, 5130);
        Event("p1", 90, new { type = "status", ts = At(90), state = "idle" });
        Event("p2", 90, new { type = "status", ts = At(90), state = "idle" });
        return list;
    }

    private static InboundMessage Plug(string topic, string json, DateTimeOffset received) => new(topic, Encoding.UTF8.GetBytes(json), false, received);

    private static InboundMessage Native(string topic, object payload, DateTimeOffset? received = null) =>
        new(topic, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(payload), false, received ?? T.AddHours(2));

    private static List<string> Run(List<InboundMessage> messages, int? checkpointAt)
    {
        var processor = Create();
        var output = new ProcessorOutput();
        var lines = new List<string>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (i == checkpointAt)
            {
                var json = processor.SaveCheckpoint(T).ToJsonString();
                processor = Create();
                processor.RestoreCheckpoint(JsonNode.Parse(json)!.AsObject());
            }

            output.Clear();
            var result = processor.Process(messages[i], output);
            Assert.True(result.Accepted, result.Detail);
            lines.AddRange(output.Lines);
        }

        output.Clear();
        processor.Flush(output);
        lines.AddRange(output.Lines);
        return lines;
    }

    // The last value of each cost field, by series: what InfluxDB would hold.
    private static string Summary(List<string> lines)
    {
        var last = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Where(l => l.Contains("energy_kwh=", StringComparison.Ordinal) || l.Contains("cost=", StringComparison.Ordinal) || l.Contains("cost_total=", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ');
            last[parts[0] + " " + parts[^1]] = string.Join(' ', parts[1..^1]);
        }

        return string.Join('\n', last.Select(kv => kv.Key + " " + kv.Value));
    }

    internal static Dictionary<string, double> JobFields(IEnumerable<string> lines, string jobId, string? printer = null)
    {
        // The job point's own line names the job id; its cost line has the same series and time.
        var jobLine = lines.Single(l => l.StartsWith("job,", StringComparison.Ordinal) && l.Contains($"job_id=\"{jobId}\"", StringComparison.Ordinal));
        var series = jobLine.Split(' ')[0];
        var time = jobLine.Split(' ')[^1];
        var cost = lines.Last(l => l.StartsWith(series + " ", StringComparison.Ordinal) && l.EndsWith(" " + time, StringComparison.Ordinal) && l.Contains(" cost=", StringComparison.Ordinal) | l.Contains(",cost=", StringComparison.Ordinal));
        Assert.True(printer is null || series.Contains($"printer={printer}", StringComparison.Ordinal));
        return Fields(cost);
    }

    internal static Dictionary<string, double> KpiFields(IEnumerable<string> lines, params string[] tags) =>
        Fields(lines.Last(l => l.StartsWith("kpi,", StringComparison.Ordinal) && l.Contains("cost_total=", StringComparison.Ordinal) && tags.All(t => l.Split(' ')[0].Split(',').Contains(t))));

    private static Dictionary<string, double> Fields(string line) => line.Split(' ')[1].Split(',')
        .Select(f => f.Split('='))
        .Where(kv => !kv[1].StartsWith('"'))
        .ToDictionary(kv => kv[0], kv => double.Parse(kv[1].TrimEnd('i'), CultureInfo.InvariantCulture));
}
