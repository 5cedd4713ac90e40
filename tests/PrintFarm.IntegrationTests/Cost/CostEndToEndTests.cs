using System.Globalization;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Cost;

/// <summary>
/// Metered energy and landed cost through a real Mosquitto, the real worker and a real InfluxDB 1.x: a printer on a
/// Tasmota plug, another on a Shelly Gen2 plug whose counter resets in the middle of a job that then fails, and a worker
/// restart between two readings. The failed job's cost and both printers' idle draw are spread over the good toys.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class CostEndToEndTests(ServicesFixture services)
{
    private static readonly DateTimeOffset T = new(2026, 2, 10, 8, 0, 0, TimeSpan.Zero);
    private const double PerKwh = 0.30;
    private const double PerPrintingHour = 0.50;
    private const double PerPlate = 1.00;
    private const double PlaPerKg = 20;

    [Fact]
    public async Task Plugs_meter_each_job_through_a_counter_reset_and_a_restart_and_the_window_cost_per_toy_is_the_truth()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var id = Guid.NewGuid().ToString("N")[..6];
        var (p1, p2, tasmota, shelly) = ("tas" + id, "shl" + id, "plug-" + id, "shellyplugs-" + id);
        settings["PrintFarm:Alerts:Rules:StoppedReportingAfter"] = "00:00:00";
        settings[$"PrintFarm:Energy:Plugs:{tasmota}:Printer"] = p1;
        settings[$"PrintFarm:Energy:Plugs:{tasmota}:Type"] = "Tasmota";
        settings[$"PrintFarm:Energy:Plugs:{shelly}:Printer"] = p2;
        settings[$"PrintFarm:Energy:Plugs:{shelly}:Type"] = "Shelly";
        settings["PrintFarm:Cost:Enabled"] = "true";
        settings["PrintFarm:Cost:EnergyPerKwh"] = Text(PerKwh);
        settings["PrintFarm:Cost:MachinePerPrintingHour"] = Text(PerPrintingHour);
        settings["PrintFarm:Cost:LabourPerPlate"] = Text(PerPlate);
        settings["PrintFarm:Materials:PLA:Density"] = "1.24";
        settings["PrintFarm:Materials:PLA:PricePerKg"] = Text(PlaPerKg);
        var tasmotaTopic = $"tele/{tasmota}/SENSOR";
        var shellyTopic = $"{shelly}/status/switch:0";

        // The truth: p1 draws 600 W printing j1 (08:00–08:40, 3 dragons) and 60 W idle; p2 idles at 60 W, then prints j2
        // (08:05–08:35, failed) at 600 W, and its plug restarts at 08:21: the 60 Wh it drew from 08:15 to then are lost
        // by the plug, which reports 40 Wh at 08:25 — so j2 is metered at 100 + 40 + 100 Wh.
        const double j1Kwh = 0.4, j2Kwh = 0.24, idleKwh = 0.01 + 0.005 + 0.005;
        var steps = new List<(string Topic, object Payload)>
        {
            (tasmotaTopic, Tasmota(0, 100.0)),
            (shellyTopic, Shelly(0, 2000)),
            ($"printfarm/{p1}/event", new { type = "job_started", ts = At(0), job_id = "j1", toy = "dragon", quantity = 3, material = "PLA" }),
            (shellyTopic, Shelly(5, 2005)),
            ($"printfarm/{p2}/event", new { type = "job_started", ts = At(5), job_id = "j2", toy = "cat", material = "PLA" }),
            (tasmotaTopic, Tasmota(10, 100.1)),
            (shellyTopic, Shelly(15, 2105)),
            (tasmotaTopic, Tasmota(20, 100.2)),
            ($"printfarm/{p1}/event", new { type = "job_progress", ts = At(20), job_id = "j1", progress_pct = 50.0 }),
        };
        var afterRestart = new List<(string Topic, object Payload)>
        {
            (shellyTopic, Shelly(25, 40)),
            (tasmotaTopic, Tasmota(30, 100.3)),
            ($"printfarm/{p2}/event", new { type = "job_finished", ts = At(35), job_id = "j2", toy = "cat", outcome = "failed", print_time_s = 1800.0, filament_g = 20.0 }),
            (shellyTopic, Shelly(35, 140)),
            ($"printfarm/{p1}/event", new { type = "job_finished", ts = At(40), job_id = "j1", toy = "dragon", quantity = 3, outcome = "completed", print_time_s = 2400.0, filament_g = 60.0 }),
            (tasmotaTopic, Tasmota(40, 100.4)),
            (shellyTopic, Shelly(45, 145)),
            (tasmotaTopic, Tasmota(50, 100.41)),
            // The printers' next events move the watermark past the readings and close the 08:00 hour.
            ($"printfarm/{p1}/event", new { type = "status", ts = At(90), state = "idle" }),
            ($"printfarm/{p2}/event", new { type = "status", ts = At(90), state = "idle" }),
        };

        await using (var worker = await WorkerHost.StartAsync(settings))
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in steps)
            {
                await publisher.PublishJsonAsync(topic, payload);
            }

            // The last message before the restart has been processed (its printer point is in), so the checkpoint
            // taken at the stop holds the plugs' last readings.
            await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM printer WHERE \"printer\" = '{p1}'"),
                rows => rows.Any(r => r.OptionalNumber("progress_pct") == 50),
                "the progress sample before the restart",
                describe: rows => rows.Format());
        }

        settings["PrintFarm:Mqtt:ClientId"] = "worker-" + Guid.NewGuid().ToString("N");
        await using (var worker = await WorkerHost.StartAsync(settings))
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in afterRestart)
            {
                await publisher.PublishJsonAsync(topic, payload);
            }

            var j1 = await JobWithCostAsync(database, p1);
            var j2 = await JobWithCostAsync(database, p2);
            Assert.Equal(j1Kwh, j1.Number("energy_kwh"), 9);
            Assert.Equal(j2Kwh, j2.Number("energy_kwh"), 9);
            var j1Cost = (0.060 * PlaPerKg) + (j1Kwh * PerKwh) + (2400 / 3600.0 * PerPrintingHour) + PerPlate;
            var j2Cost = (0.020 * PlaPerKg) + (j2Kwh * PerKwh) + (1800 / 3600.0 * PerPrintingHour) + PerPlate;
            Assert.Equal(j1Cost, j1.Number("cost"), 9);
            Assert.Equal(j2Cost, j2.Number("cost"), 9);

            // The farm's hour: everything it cost ÷ its 3 good toys.
            var total = j1Kwh + j2Kwh + idleKwh;
            var kpi = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"scope\" = 'farm' AND \"window\" = '1h' AND time = '{T:yyyy-MM-ddTHH:mm:ssZ}'"),
                rows => rows.Count == 1 && rows[0].OptionalNumber("energy_kwh") is { } e && e >= total - 1e-9 && rows[0].OptionalNumber("toys_completed") is 3,
                "the farm's 08:00 hour with all its energy",
                describe: rows => rows.Format());
            var row = kpi[0];
            Assert.Equal(total, row.Number("energy_kwh"), 9);
            Assert.Equal(idleKwh, row.Number("idle_energy_kwh"), 9);
            Assert.Equal((j1Cost + j2Cost + (idleKwh * PerKwh)) / 3, row.Number("cost_per_toy"), 9);
            Assert.Equal(total / 3, row.Number("energy_per_toy_kwh"), 9);
            Assert.Equal(2 * PerPlate / 3, row.Number("cost_labour_per_toy"), 9);
            Assert.Equal(0.080 * PlaPerKg / 3, row.Number("cost_material_per_toy"), 9);
            Assert.Equal(1, row.Number("jobs_failed"));
            Assert.Equal(0, worker.Counter("printfarm.messages.rejected[reason=invalid_field]"));
        }
    }

    private async Task<Dictionary<string, System.Text.Json.JsonElement>> JobWithCostAsync(string database, string printer)
    {
        var rows = await Eventually.Until(
            () => services.Influx.QueryAsync(database, $"SELECT * FROM job WHERE \"printer\" = '{printer}'"),
            r => r.Count == 1 && r[0].IsWholeJobPoint() && r[0].OptionalNumber("energy_kwh") is not null && r[0].OptionalNumber("cost") is not null,
            $"{printer}'s job point with its energy and cost",
            describe: r => r.Format());
        return rows[0];
    }

    private static string At(int minute) => T.AddMinutes(minute).ToString("O", CultureInfo.InvariantCulture);

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    // Tasmota's SENSOR message; its Time is local to the plug (the farm's zone, UTC here).
    private static object Tasmota(int minute, double totalKwh) => new Dictionary<string, object>
    {
        ["Time"] = T.AddMinutes(minute).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture),
        ["ENERGY"] = new Dictionary<string, object> { ["TotalStartTime"] = "2025-11-20T09:12:44", ["Total"] = totalKwh, ["Power"] = 600 },
    };

    // Shelly Gen2's switch status; aenergy.total in Wh, minute_ts in Unix seconds.
    private static object Shelly(int minute, double totalWh) => new
    {
        id = 0,
        source = "init",
        output = true,
        apower = 600.0,
        aenergy = new { total = totalWh, by_minute = new[] { 0.0, 0.0, 0.0 }, minute_ts = T.AddMinutes(minute).ToUnixTimeSeconds() },
    };
}
