using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Influx;

/// <summary>InfluxDB down: batches are spooled to disk, logged and counted, and replayed when it is back — across a worker restart too.</summary>
[Collection(ServicesCollection.Name)]
public sealed class InfluxOutageTests(ServicesFixture services)
{
    [Fact]
    public async Task Points_written_while_InfluxDB_is_down_are_spooled_and_replayed_after_a_restart_when_it_returns()
    {
        var port = ServerProcess.FreePort();
        var dataFolder = ServerProcess.NewFolder("worker-outage");
        var settings = WorkerHost.BaseSettings(services.Mqtt, dataFolder);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = $"http://127.0.0.1:{port}";
        settings["PrintFarm:Influx:Database"] = "outage";
        settings["PrintFarm:Influx:Timeout"] = "00:00:02";
        var printer = "outage-" + Guid.NewGuid().ToString("N")[..8];
        var start = new DateTimeOffset(2026, 4, 1, 9, 0, 0, TimeSpan.Zero);

        // 1. Nothing listens on the port: the job's points go to the spool.
        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                await printers.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_started", ts = start.ToUnixTimeSeconds(), job_id = "o-1", file = "robot_x2.gcode" });
                await printers.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = start.AddHours(3).ToUnixTimeSeconds(), job_id = "o-1", outcome = "completed", filament_g = 80.0 });
            }

            await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.influx.points.spooled")), n => n > 0, "points to be spooled");
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(dataFolder, "spool"), "*.lp"));
            Assert.Contains(worker.Logs.AtLeast(LogLevel.Warning), l => l.Contains("kept in the spool", StringComparison.Ordinal));
        }

        // Stopped with the database still down: the spool stays on disk.
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(dataFolder, "spool"), "*.lp"));

        // 2. The database comes back on that port, and the worker restarts: the spool is replayed.
        await using var influx = await InfluxDbServer.StartAsync(port);
        await influx.CreateDatabaseAsync("outage");
        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            var jobs = await Eventually.Until(
                () => influx.QueryAsync("outage", "SELECT * FROM job"),
                rows => rows.Count == 1 && rows.All(InfluxRowExtensions.IsWholeJobPoint),
                "the spooled job point to be replayed",
                describe: rows => rows.Format());
            Assert.Equal("robot", jobs[0].Text("toy"));
            Assert.Equal(printer, jobs[0].Text("printer"));

            var kpi = await Eventually.Until(
                () => influx.QueryAsync("outage", "SELECT * FROM kpi WHERE \"scope\" = 'farm' AND \"window\" = '1d'"),
                rows => rows.Count == 1 && rows[0].TryGetValue("toys_completed", out var toys) && toys.ValueKind == System.Text.Json.JsonValueKind.Number,
                "the spooled kpi point to be replayed");
            Assert.Equal(2, kpi[0].Number("toys_completed"));
            await Eventually.Until(() => Task.FromResult(Directory.GetFiles(Path.Combine(dataFolder, "spool"), "*.lp").Length), n => n == 0, "the spool to empty");
        }
    }
}
