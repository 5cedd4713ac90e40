using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>OctoPrint MQTT-plugin messages through a real Mosquitto and the real worker into a real InfluxDB 1.x.</summary>
[Collection(ServicesCollection.Name)]
public sealed class OctoPrintEndToEndTests(ServicesFixture services)
{
    [Fact]
    public async Task An_OctoPrint_trace_lands_as_exact_job_points_with_estimated_and_prorated_filament()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var printer = "op" + Guid.NewGuid().ToString("N")[..8];
        var p = $"octoPrint/{printer}/";

        // Whole seconds, as the plugin's _timestamp; two hours ago so nothing is in the future.
        var t0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds());
        long S(int minutes) => t0.AddMinutes(minutes).ToUnixTimeSeconds();

        await using (var octoPrint = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            // Retained before the worker subscribes: presence, and the stale progress of an old castle.
            await octoPrint.PublishTextAsync(p + "mqtt", "connected", retain: true);
            await octoPrint.PublishJsonAsync(p + "progress/printing", new { location = "local", path = "castle_PETG.gcode", progress = 37, _timestamp = S(-300) }, retain: true);
        }

        try
        {
            await using var worker = await WorkerHost.StartAsync(settings);
            await using (var octoPrint = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                await octoPrint.PublishJsonAsync(p + "event/MetadataAnalysisFinished", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", result = new { estimatedPrintTime = 3500.0, filament = new { tool0 = new { length = 10_000.0, volume = 24.0 } } }, _timestamp = S(-1) });
                await octoPrint.PublishJsonAsync(p + "event/PrintStarted", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", owner = "alice", user = "alice", _timestamp = S(0) });
                await octoPrint.PublishJsonAsync(p + "temperature/tool0", new { actual = 214.8, target = 215.0, _timestamp = S(1) });
                await octoPrint.PublishJsonAsync(p + "progress/printing", new { location = "local", path = "toys/dragon_x4.gcode", progress = 50, _timestamp = S(30) });
                await octoPrint.PublishTextAsync(p + "event/PrintStarted", "{\"path\": \"toys/dragon_x4.gcode\", \"_timest");
                var done = new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", owner = "alice", time = 3600.0, _timestamp = S(60) };
                await octoPrint.PublishJsonAsync(p + "event/PrintDone", done);
                await octoPrint.PublishJsonAsync(p + "event/PrintDone", done);

                await octoPrint.PublishJsonAsync(p + "event/PrintStarted", new { name = "castle_PETG.gcode", path = "castle_PETG.gcode", origin = "sdcard", _timestamp = S(70) });
                await octoPrint.PublishJsonAsync(p + "progress/printing", new { location = "sdcard", path = "castle_PETG.gcode", progress = 25, printer_data = new { job = new { filament = new { tool0 = new { length = 5_000.0 } } } }, _timestamp = S(75) });
                await octoPrint.PublishTextAsync(p + "temperature/bed", "{\"actual\": \"warm\"}");
                await octoPrint.PublishJsonAsync(p + "event/PrintCancelled", new { name = "castle_PETG.gcode", path = "castle_PETG.gcode", origin = "sdcard", time = 600.0, progress = 25, _timestamp = S(80) });
                await octoPrint.PublishJsonAsync(p + "event/PrintFailed", new { name = "castle_PETG.gcode", path = "castle_PETG.gcode", origin = "sdcard", time = 600.0, progress = 25, reason = "cancelled", _timestamp = S(80) });

                // ship: paused, resumed, then failed on an error (progress as a 0–1 fraction on this path).
                await octoPrint.PublishJsonAsync(p + "event/PrintStarted", new { name = "ship.gcode", path = "ship.gcode", origin = "local", _timestamp = S(82) });
                await octoPrint.PublishJsonAsync(p + "event/PrintPaused", new { name = "ship.gcode", path = "ship.gcode", origin = "local", progress = 10, _timestamp = S(84) });
                await octoPrint.PublishJsonAsync(p + "event/PrintResumed", new { name = "ship.gcode", path = "ship.gcode", origin = "local", progress = 10, _timestamp = S(85) });
                await octoPrint.PublishJsonAsync(p + "event/PrintFailed", new { name = "ship.gcode", path = "ship.gcode", origin = "local", time = 300.0, progress = 0.2, reason = "error", _timestamp = S(88) });

                // An OctoPrint older than 1.3: file (full path on disk) and filename instead of path and name.
                await octoPrint.PublishJsonAsync(p + "event/PrintStarted", new { file = "/home/pi/.octoprint/uploads/boat_x2.gcode", filename = "boat_x2.gcode", origin = "local", _timestamp = S(90) });
                await octoPrint.PublishJsonAsync(p + "event/PrintDone", new { file = "/home/pi/.octoprint/uploads/boat_x2.gcode", filename = "boat_x2.gcode", origin = "local", time = 1200.0, _timestamp = S(110) });
                await octoPrint.PublishTextAsync(p + "mqtt", "disconnected");
            }

            var jobs = await AdapterEndToEnd.JobsAsync(services, database, printer, 4);
            var ship = Assert.Single(jobs, r => r.Text("toy") == "ship");
            Assert.Equal(("failed", 300.0), (ship.Text("outcome"), ship.Number("print_time_s")));
            var boat = Assert.Single(jobs, r => r.Text("toy") == "boat");
            Assert.Equal(("completed", 2.0, 1200.0, $"boat_x2.gcode@{S(90)}"), (boat.Text("outcome"), boat.Number("toys"), boat.Number("print_time_s"), boat.Text("job_id")));
            var dragon = Assert.Single(jobs, r => r.Text("toy") == "dragon");
            Assert.Equal(("completed", "octoprint", "PLA", "test-farm"), (dragon.Text("outcome"), dragon.Text("source"), dragon.Text("material"), dragon.Text("farm")));
            Assert.Equal(t0.AddMinutes(60), dragon.Time());
            Assert.Equal(4, dragon.Number("toys"));
            Assert.Equal(3600, dragon.Number("print_time_s"), 6);
            Assert.Equal(900, dragon.Number("print_time_per_toy_s"), 6);
            Assert.Equal(AdapterEndToEnd.Grams(10_000, 1.24), dragon.Number("filament_g"), 6);
            Assert.Equal("estimated", dragon.Text("filament_source"));
            Assert.Equal($"toys/dragon_x4.gcode@{S(0)}", dragon.Text("job_id"));

            var castle = Assert.Single(jobs, r => r.Text("toy") == "castle");
            Assert.Equal(("cancelled", "octoprint", "PETG"), (castle.Text("outcome"), castle.Text("source"), castle.Text("material")));
            Assert.Equal(1, castle.Number("toys"));
            Assert.Equal(600, castle.Number("print_time_s"), 6);
            Assert.Equal(AdapterEndToEnd.Grams(1_250, 1.27), castle.Number("filament_g"), 6);
            Assert.Equal("prorated", castle.Text("filament_source"));

            var presence = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT \"online\" FROM printer WHERE \"printer\" = '{printer}' AND \"online\" = false"),
                rows => rows.Count == 1,
                "the disconnected presence point");
            Assert.Single(presence);
            var nozzle = await services.Influx.QueryAsync(database, $"SELECT \"nozzle_c\" FROM printer WHERE \"printer\" = '{printer}' AND \"nozzle_c\" > 0");
            Assert.Equal(214.8, Assert.Single(nozzle).Number("nozzle_c"), 6);
            var replayed = await services.Influx.QueryAsync(database, $"SELECT \"progress_pct\" FROM printer WHERE \"printer\" = '{printer}' AND \"progress_pct\" = 37");
            Assert.Empty(replayed);

            await AdapterEndToEnd.AssertDeadLetteredAsync(worker, p + "event/PrintStarted", "invalid_json");
            await AdapterEndToEnd.AssertDeadLetteredAsync(worker, p + "temperature/bed", "invalid_field");
            Assert.Equal(4, worker.Counter("printfarm.jobs.ended"));
        }
        finally
        {
            await AdapterEndToEnd.ClearRetainedAsync(services, p + "mqtt", p + "progress/printing");
        }
    }
}
