using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>Moonraker <c>[mqtt]</c> messages through a real Mosquitto and the real worker into a real InfluxDB 1.x.</summary>
[Collection(ServicesCollection.Name)]
public sealed class MoonrakerEndToEndTests(ServicesFixture services)
{
    [Fact]
    public async Task A_Moonraker_trace_lands_as_exact_job_points_with_measured_filament()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var printer = "k" + Guid.NewGuid().ToString("N")[..8];
        var status = $"{printer}/klipper/status";
        var eventtime = 3_052_000.0;
        object Ps(object printStats) => new { eventtime = eventtime += 10, status = new { print_stats = printStats } };

        await using (var moonraker = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            // Retained before the worker subscribes: presence and the split status of an old, completed job.
            await moonraker.PublishJsonAsync($"{printer}/moonraker/status", new { server = "online" }, retain: true);
            await moonraker.PublishJsonAsync($"{printer}/klipper/state/print_stats/filename", new { eventtime = 3_000_000.0, value = "old.gcode" }, retain: true);
            await moonraker.PublishJsonAsync($"{printer}/klipper/state/print_stats/state", new { eventtime = 3_000_000.0, value = "printing" }, retain: true);
        }

        try
        {
            await using var worker = await WorkerHost.StartAsync(settings);
            await using (var moonraker = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                // The retained "printing" left the old job unopened, so its standby ends nothing.
                await moonraker.PublishJsonAsync(status, Ps(new { state = "standby", filename = "" }));

                // 1. dragon, three objects on the plate, completed; the completing update redelivered.
                await moonraker.PublishJsonAsync(status, Ps(new { state = "printing", filename = "dragon_x4.gcode", total_duration = 0.01 }));
                await moonraker.PublishJsonAsync(status, new { eventtime = eventtime += 1, status = new { exclude_object = new { objects = new[] { new { name = "A" }, new { name = "B" }, new { name = "C" } } }, extruder = new { temperature = 215.2, target = 215.0 } } });
                await moonraker.PublishTextAsync(status, "{\"eventtime\": 1.0, \"status\": {\"print_stats\": {\"state\": \"melted\"}}}");
                await moonraker.PublishJsonAsync(status, Ps(new { print_duration = 1500.0, total_duration = 1740.0, filament_used = 4000.0 }));
                var complete = Ps(new { state = "complete", print_duration = 3400.0, total_duration = 3600.0, filament_used = 9000.0 });
                await moonraker.PublishJsonAsync(status, complete);
                await moonraker.PublishJsonAsync(status, complete);
                await moonraker.PublishJsonAsync(status, Ps(new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 }));

                // 2. castle in ABS, cancelled by printing → standby.
                await moonraker.PublishJsonAsync(status, Ps(new { state = "printing", filename = "castle_ABS.gcode", total_duration = 0.01 }));
                await moonraker.PublishTextAsync(status, "not json at all");
                await moonraker.PublishJsonAsync(status, Ps(new { print_duration = 300.0, total_duration = 360.0, filament_used = 800.0 }));
                await moonraker.PublishJsonAsync(status, Ps(new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 }));

                // 5. boat: paused, resumed (same file, total grew), then a heater error.
                await moonraker.PublishJsonAsync(status, Ps(new { state = "printing", filename = "boat.gcode", total_duration = 0.01 }));
                await moonraker.PublishJsonAsync(status, Ps(new { state = "paused", total_duration = 500.0, print_duration = 450.0 }));
                await moonraker.PublishJsonAsync(status, Ps(new { state = "printing", total_duration = 700.0 }));
                await moonraker.PublishJsonAsync(status, Ps(new { state = "error", print_duration = 900.0, total_duration = 1200.0, filament_used = 2000.0 }));
                await moonraker.PublishJsonAsync(status, Ps(new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 }));

                // 3. A bare "printing" with no file name (as a stale split value delivered without its retain flag),
                //    then standby: no job.
                await moonraker.PublishJsonAsync($"{printer}/klipper/state/print_stats/state", new { eventtime = eventtime += 1, value = "printing" });
                await moonraker.PublishJsonAsync(status, Ps(new { state = "standby", filename = "" }));

                // 4. A backlog burst: two prints of one file within milliseconds, told apart by eventtime; then the
                //    same backlog delivered again, counted once.
                object[] burst =
                [
                    Ps(new { state = "printing", filename = "clip_x4.gcode", total_duration = 0.01 }),
                    Ps(new { state = "complete", print_duration = 580.0, total_duration = 600.0, filament_used = 900.0 }),
                    Ps(new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 }),
                    Ps(new { state = "printing", filename = "clip_x4.gcode", total_duration = 0.01 }),
                    Ps(new { state = "complete", print_duration = 590.0, total_duration = 600.0, filament_used = 910.0 }),
                ];
                foreach (var message in burst.Concat(burst))
                {
                    await moonraker.PublishJsonAsync(status, message);
                }

                await moonraker.PublishJsonAsync($"{printer}/moonraker/status", new { server = "offline" });
            }

            var jobs = await AdapterEndToEnd.JobsAsync(services, database, printer, 5);
            var boat = Assert.Single(jobs, r => r.Text("toy") == "boat");
            Assert.Equal(("failed", 900.0, "measured"), (boat.Text("outcome"), boat.Number("print_time_s"), boat.Text("filament_source")));
            var clips = jobs.Where(r => r.Text("toy") == "clip").ToList();
            Assert.Equal([580.0, 590.0], clips.Select(r => r.Number("print_time_s")).Order());
            Assert.All(clips, r => Assert.Equal(("completed", 4.0), (r.Text("outcome"), r.Number("toys"))));
            var dragon = Assert.Single(jobs, r => r.Text("toy") == "dragon");
            Assert.Equal(("completed", "moonraker", "PLA"), (dragon.Text("outcome"), dragon.Text("source"), dragon.Text("material")));
            Assert.Equal(3, dragon.Number("toys"));
            Assert.Equal(3400, dragon.Number("print_time_s"), 6);
            Assert.Equal(9000, dragon.Number("filament_mm"), 6);
            Assert.Equal(AdapterEndToEnd.Grams(9000, 1.24), dragon.Number("filament_g"), 6);
            Assert.Equal("measured", dragon.Text("filament_source"));

            var castle = Assert.Single(jobs, r => r.Text("toy") == "castle");
            Assert.Equal(("cancelled", "moonraker", "ABS"), (castle.Text("outcome"), castle.Text("source"), castle.Text("material")));
            Assert.Equal(300, castle.Number("print_time_s"), 6);
            Assert.Equal(AdapterEndToEnd.Grams(800, 1.04), castle.Number("filament_g"), 6);
            Assert.Equal("measured", castle.Text("filament_source"));

            var online = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT \"online\" FROM printer WHERE \"printer\" = '{printer}' AND \"online\" = false"),
                rows => rows.Count == 1,
                "the offline presence point");
            Assert.Single(online);

            await AdapterEndToEnd.AssertDeadLetteredAsync(worker, status, "invalid_field");
            await AdapterEndToEnd.AssertDeadLetteredAsync(worker, status, "invalid_json");
            Assert.Equal(5, worker.Counter("printfarm.jobs.ended"));
        }
        finally
        {
            await AdapterEndToEnd.ClearRetainedAsync(services, $"{printer}/moonraker/status", $"{printer}/klipper/state/print_stats/filename", $"{printer}/klipper/state/print_stats/state");
        }
    }
}
