using System.Text;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>Bambu Lab reports through a real Mosquitto and the real worker into a real InfluxDB 1.x.</summary>
[Collection(ServicesCollection.Name)]
public sealed class BambuEndToEndTests(ServicesFixture services)
{
    [Fact]
    public async Task A_Bambu_trace_lands_as_exact_job_points_without_filament()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var serial = "01P00A" + Guid.NewGuid().ToString("N")[..9].ToUpperInvariant();
        var printer = "bambu-" + serial[^4..];
        settings[$"PrintFarm:Adapters:Bambu:Printers:{serial}"] = printer;
        var report = $"device/{serial}/report";
        var h2d = "0948AD" + Guid.NewGuid().ToString("N")[..9].ToUpperInvariant();
        var h2dReport = $"device/{h2d}/report";
        var sequence = 0;
        object Print(object fields) => new Dictionary<string, object> { ["print"] = fields };

        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var bambu = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 0, sequence_id = $"{++sequence}", gcode_state = "IDLE", print_error = 0, task_id = "0", subtask_id = "0" }));

            // 1. A cloud print of four dragons, completed; FINISH redelivered.
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "PREPARE", task_id = "700000001", subtask_id = "700000002", subtask_name = "dragon_x4" }));
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "RUNNING", mc_percent = 3, nozzle_temper = 220.1, nozzle_target_temper = 220 }));

            // Paused and resumed, with a repeated full push in between: still one job.
            var full = Print(new { command = "push_status", msg = 0, sequence_id = $"{++sequence}", gcode_state = "PAUSE", task_id = "700000001", subtask_id = "700000002", subtask_name = "dragon_x4", mc_percent = 40 });
            await bambu.PublishJsonAsync(report, full);
            await bambu.PublishJsonAsync(report, full);
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "RUNNING" }));
            await bambu.PublishTextAsync(report, "{\"print\": {\"command\": \"push_status\", \"mc_perc");
            var finish = Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "FINISH", mc_percent = 100 });
            await bambu.PublishJsonAsync(report, finish);
            await bambu.PublishJsonAsync(report, finish);

            // 2. A LAN print with a Latin-1 name, cancelled: print_error 50348044, then FAILED.
            await bambu.PublishAsync(report, Encoding.Latin1.GetBytes("{\"print\": {\"command\": \"push_status\", \"gcode_state\": \"PREPARE\", \"task_id\": \"0\", \"subtask_id\": \"0\", \"subtask_name\": \"Bär_PETG\"}}"));
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "RUNNING" }));
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", print_error = 50348044 }));
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "FAILED", fail_reason = "50348044" }));
            await bambu.PublishJsonAsync(report, new { info = new { command = "get_version", sequence_id = "0", module = Array.Empty<object>() } });

            // 3. A P2S LAN print from the ABS tray of the AMS, cancelled by the user: FAILED with print_error 0 first, the
            //    cancel code only on a repeated FAILED report.
            var ams = new { ams = new[] { new { id = "0", tray = new[] { new { id = "0", tray_type = "PLA" }, new { id = "1", tray_type = "ABS" } } } }, tray_now = "1" };
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 0, sequence_id = $"{++sequence}", gcode_state = "RUNNING", task_id = "0", subtask_id = "0", subtask_name = "gear_x2", gcode_start_time = "1767600000", print_error = 0, ams }));
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "FAILED", print_error = 0 }));
            await bambu.PublishJsonAsync(report, Print(new { command = "push_status", msg = 1, sequence_id = $"{++sequence}", gcode_state = "FAILED", print_error = 50348044 }));

            // 4. A backlog burst: two LAN prints of one file within milliseconds, told apart by gcode_start_time; then
            //    the same backlog delivered again, counted once.
            object[] burst =
            [
                Print(new { command = "push_status", msg = 1, gcode_state = "IDLE" }),
                Print(new { command = "push_status", msg = 1, gcode_state = "RUNNING", subtask_name = "clip_x8", gcode_start_time = "1767601000", task_id = "0", subtask_id = "0" }),
                Print(new { command = "push_status", msg = 1, gcode_state = "FINISH" }),
                Print(new { command = "push_status", msg = 1, gcode_state = "IDLE" }),
                Print(new { command = "push_status", msg = 1, gcode_state = "RUNNING", subtask_name = "clip_x8", gcode_start_time = "1767602000", task_id = "0", subtask_id = "0" }),
                Print(new { command = "push_status", msg = 1, gcode_state = "FINISH" }),
            ];
            foreach (var message in burst.Concat(burst))
            {
                await bambu.PublishJsonAsync(report, message);
            }

            // 5. A dual-nozzle H2D: the top-level nozzle_temper is the idle nozzle, the active one is in device.extruder.
            await bambu.PublishJsonAsync(h2dReport, Print(new { command = "push_status", msg = 0, gcode_state = "IDLE", nozzle_temper = 40.0, device = new { extruder = new { state = 17, info = new[] { new { id = 0, temp = 40 }, new { id = 1, temp = (264 << 16) | 264 } } } } }));
        }

        var jobs = await AdapterEndToEnd.JobsAsync(services, database, printer, 5);
        var dragon = Assert.Single(jobs, r => r.Text("toy") == "dragon");
        Assert.Equal(("completed", "bambu", "PLA"), (dragon.Text("outcome"), dragon.Text("source"), dragon.Text("material")));
        Assert.Equal("700000001/700000002", dragon.Text("job_id"));
        Assert.Equal(4, dragon.Number("toys"));
        Assert.InRange(dragon.Number("print_time_s"), 0, 600);
        Assert.Null(dragon.OptionalNumber("filament_g"));
        Assert.Equal("unknown", dragon.Text("filament_source"));

        var bear = Assert.Single(jobs, r => r.Text("toy") == "Bär");
        Assert.Equal(("cancelled", "bambu", "PETG"), (bear.Text("outcome"), bear.Text("source"), bear.Text("material")));
        Assert.Equal(1, bear.Number("toys"));
        Assert.Null(bear.OptionalNumber("filament_g"));
        Assert.Equal("unknown", bear.Text("filament_source"));

        var nozzle = await services.Influx.QueryAsync(database, $"SELECT \"nozzle_c\", \"state\" FROM printer WHERE \"printer\" = '{printer}' AND \"nozzle_c\" > 0");
        Assert.Equal(220.1, Assert.Single(nozzle).Number("nozzle_c"), 6);

        var gear = Assert.Single(jobs, r => r.Text("toy") == "gear");
        Assert.Equal(("cancelled", "ABS", "gear_x2@1767600000"), (gear.Text("outcome"), gear.Text("material"), gear.Text("job_id")));

        var clips = jobs.Where(r => r.Text("toy") == "clip").ToList();
        Assert.Equal(["clip_x8@1767601000", "clip_x8@1767602000"], clips.Select(r => r.Text("job_id")).Order(StringComparer.Ordinal));
        Assert.All(clips, r => Assert.Equal(("completed", 8.0), (r.Text("outcome"), r.Number("toys"))));

        var dual = await Eventually.Until(
            () => services.Influx.QueryAsync(database, $"SELECT \"nozzle_c\", \"nozzle_0_c\", \"nozzle_1_c\" FROM printer WHERE \"printer\" = '{h2d}'"),
            rows => rows.Count == 1,
            "the H2D's printer point",
            describe: rows => rows.Format());
        Assert.Equal((264.0, 40.0, 264.0), (dual[0].Number("nozzle_c"), dual[0].Number("nozzle_0_c"), dual[0].Number("nozzle_1_c")));

        await AdapterEndToEnd.AssertDeadLetteredAsync(worker, report, "invalid_json");
        Assert.Equal(5, worker.Counter("printfarm.jobs.ended"));
    }
}
