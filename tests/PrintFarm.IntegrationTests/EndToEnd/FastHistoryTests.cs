using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Processing;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>
/// Issue 19 item 5: hours of history published as fast as the broker takes them, through a real Mosquitto into a
/// worker on the system clock. Its event-time clock follows the history (presence messages, which carry no time, do
/// not drag it to the receive time), no late-job line claims a window was not changed when one was, and
/// <c>/readyz</c> does not turn unhealthy because old history is being processed.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class FastHistoryTests(ServicesFixture services)
{
    [Fact]
    public async Task Six_hours_of_octoprint_history_published_fast_keep_the_watermark_in_the_history_and_count_every_job_on_time()
    {
        var now = DateTimeOffset.UtcNow;
        var start = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero).AddHours(-8);
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 5,
            Mix = FormatMix.Parse("octoprint"),
            Seed = 19,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Start = start,
            Duration = TimeSpan.FromHours(6),
            FlapRate = 0.3,
            MalformedRate = 0,
            PrinterPrefix = "fh" + Guid.NewGuid().ToString("N")[..6] + "-",
        });
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Windows:0"] = "1h";
        settings["PrintFarm:Windows:1"] = "1d";
        settings["PrintFarm:Health:IngestInterval"] = "00:00:00.2";
        settings["PrintFarm:Health:MaxWatermarkStall"] = "00:00:01";
        var topics = new HashSet<string>(StringComparer.Ordinal);
        await using var worker = await WorkerHost.StartAsync(settings);
        var processor = worker.Host.Services.GetRequiredService<TelemetryProcessor>();
        var health = worker.Host.Services.GetRequiredService<HealthCheckService>();
        var unhealthy = new List<string>();
        await using (var publisher = await MqttPublisher.ConnectAsync(services.Mqtt.Host, services.Mqtt.Port))
        {
            var baseline = worker.Counter("printfarm.mqtt.messages.received");
            var runner = new SimulationRunner(simulation, async (m, ct) =>
            {
                if (m.Retain)
                {
                    topics.Add(m.Topic);
                }

                // QoS 1 so nothing published fast is dropped on the way (the plugin's QoS 0 may lose messages).
                await publisher.PublishAsync(m with { Qos = 1 }, ct);
            })
            {
                Speed = 0,
            };
            try
            {
                var playing = runner.RunAsync();
                while (!playing.IsCompleted)
                {
                    await Task.WhenAny(playing, Task.Delay(Eventually.PollInterval));
                    await RecordUnhealthyAsync(health, unhealthy);
                }

                await playing;
                await worker.WaitForCounterAsync("printfarm.mqtt.messages.received", baseline + runner.Published, TimeSpan.FromSeconds(60));
                var jobs = simulation.Truth.Jobs.Count;
                Assert.True(jobs >= 10, $"only {jobs} jobs");
                await Eventually.Until(
                    async () =>
                    {
                        await RecordUnhealthyAsync(health, unhealthy);
                        return worker.Counter("printfarm.jobs.ended");
                    },
                    ended => ended >= jobs,
                    $"{jobs} jobs ended");
            }
            finally
            {
                await publisher.ClearRetainedAsync(topics);
            }
        }

        // The watermark is the history's, not the wall clock's.
        var watermark = processor.Kpis.Watermark;
        Assert.NotNull(watermark);
        Assert.True(watermark <= simulation.Stop, $"watermark {watermark:O} is after the history's end {simulation.Stop:O} (receive-time presence moved it)");
        Assert.True(watermark >= simulation.Stop - TimeSpan.FromHours(1), $"watermark {watermark:O} is far behind the history's end {simulation.Stop:O}");
        Assert.Equal(0, worker.Counter("printfarm.kpi.late_events"));
        Assert.DoesNotContain(worker.Logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Warning), l => l.Contains("window is not changed", StringComparison.Ordinal));
        Assert.True(unhealthy.Count == 0, "readiness turned unhealthy while history was processed: " + string.Join(" | ", unhealthy.Distinct()));
    }

    [Fact]
    public async Task Old_history_behind_a_live_watermark_does_not_make_readiness_unhealthy()
    {
        var (_, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Health:IngestInterval"] = "00:00:00.1";
        settings["PrintFarm:Health:MaxWatermarkStall"] = "00:00:00.5";
        await using var worker = await WorkerHost.StartAsync(settings);
        var health = worker.Host.Services.GetRequiredService<HealthCheckService>();
        var processor = worker.Host.Services.GetRequiredService<TelemetryProcessor>();
        var printer = "oh" + Guid.NewGuid().ToString("N")[..6];
        await using var client = await TestPublisher.ConnectAsync(services.Mqtt);

        // A live sample moves the watermark to now; then a day-old history streams in for three seconds.
        var live = DateTimeOffset.UtcNow;
        await client.PublishAsync($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"status","ts":"{{live:O}}","state":"idle"}"""));
        await Eventually.Until(() => Task.FromResult(processor.Kpis.Watermark), w => w >= live.AddMinutes(-1), "the live watermark");
        var unhealthy = new List<string>();
        var old = live.AddDays(-1);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        var sent = 0;
        var baseline = worker.Counter("printfarm.mqtt.messages.received");
        while (DateTime.UtcNow < until)
        {
            old = old.AddSeconds(10);
            await client.PublishAsync($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"status","ts":"{{old:O}}","state":"idle"}"""));
            sent++;
            await worker.WaitForCounterAsync("printfarm.mqtt.messages.received", baseline + sent, TimeSpan.FromSeconds(10));
            await RecordUnhealthyAsync(health, unhealthy);
        }

        Assert.True(sent > 10);
        Assert.True(unhealthy.Count == 0, "readiness turned unhealthy while old history was processed: " + string.Join(" | ", unhealthy.Distinct()));
    }

    [Fact]
    public async Task A_job_late_for_its_minute_but_not_its_day_is_logged_as_counted_in_the_day_and_the_day_window_has_it()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Windows:0"] = "1m";
        settings["PrintFarm:Windows:1"] = "1d";
        settings["PrintFarm:AllowedLateness"] = "00:00:01";
        settings["PrintFarm:OutOfOrderness"] = "00:00:01";
        settings["PrintFarm:Alerts:Rules:Window"] = "1m";
        await using var worker = await WorkerHost.StartAsync(settings);
        var processor = worker.Host.Services.GetRequiredService<TelemetryProcessor>();
        var printer = "lj" + Guid.NewGuid().ToString("N")[..6];
        await using var client = await TestPublisher.ConnectAsync(services.Mqtt);
        var live = DateTimeOffset.UtcNow;
        var day = new DateTimeOffset(live.UtcDateTime.Date, TimeSpan.Zero);
        var end = live.AddMinutes(-3) > day.AddSeconds(61) ? live.AddMinutes(-3) : day.AddSeconds(61); // in today, minutes before now
        await client.PublishAsync($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"status","ts":"{{live:O}}","state":"idle"}"""));
        await Eventually.Until(() => Task.FromResult(processor.Kpis.Watermark), w => w >= live.AddSeconds(-2), "the live watermark");

        await client.PublishAsync($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"job_started","ts":"{{end.AddSeconds(-60):O}}","job_id":"late-1","file":"late_cube.gcode"}"""));
        await client.PublishAsync($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"job_finished","ts":"{{end:O}}","job_id":"late-1","file":"late_cube.gcode","outcome":"completed","filament_g":5}"""));
        await worker.WaitForCounterAsync("printfarm.kpi.late_events", 1, TimeSpan.FromSeconds(30));

        // The counter moves just before the line is logged.
        var lines = await Eventually.Until(
            () => Task.FromResult(worker.Logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Warning).Where(l => l.Contains("Late job late-1", StringComparison.Ordinal)).ToList()),
            l => l.Count > 0,
            "the late job's log line");
        var line = Assert.Single(lines);
        Assert.Contains("not counted in the 1m window, counted in: 1d", line, StringComparison.Ordinal);
        Assert.DoesNotContain("window is not changed", line, StringComparison.Ordinal);
        var rows = await Eventually.Until(
            () => services.Influx.QueryAsync(database, $"SELECT jobs_completed FROM kpi WHERE \"window\" = '1d' AND \"printer\" = '{printer}'"),
            r => r.Count == 1 && r[0].OptionalNumber("jobs_completed") == 1,
            "the day window of the printer counting the late job");
        Assert.Equal(day, rows[0].Time());
    }

    // The pipeline's readiness only: the broker and database checks answer for other things.
    private static async Task RecordUnhealthyAsync(HealthCheckService health, List<string> unhealthy)
    {
        var report = await health.CheckHealthAsync(r => r.Name == "pipeline");
        if (report.Status != HealthStatus.Healthy)
        {
            unhealthy.Add(string.Join("; ", report.Entries.Select(e => $"{e.Key}: {e.Value.Description}")));
        }
    }
}
