using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// The worker's MQTT session against a real Mosquitto: QoS 1 messages published while it is away wait at the broker
/// (fixed client id, clean start off, session expiry), and a broker restart is survived by reconnecting and
/// re-subscribing.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class MqttSessionTests(ServicesFixture services)
{
    [Fact]
    public async Task Events_published_while_the_worker_is_stopped_are_delivered_when_it_comes_back()
    {
        var database = "session_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = Settings(services.Mqtt, database);
        var printer = "away-" + Guid.NewGuid().ToString("N")[..6];
        var end = new DateTimeOffset(2026, 8, 3, 15, 0, 0, TimeSpan.Zero);

        // First run: the broker learns the session and its subscriptions.
        await using (await WorkerHost.StartAsync(settings))
        {
        }

        // The worker is down; a printer finishes two jobs.
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = end.ToUnixTimeSeconds(), job_id = "away-1", outcome = "completed", print_time_s = 3600, file = "fox.gcode", filament_g = 30.0 });
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = end.AddHours(2).ToUnixTimeSeconds(), job_id = "away-2", outcome = "failed", print_time_s = 600, file = "fox.gcode", filament_g = 4.0 });
        }

        // Same client id again: the broker hands over what it kept.
        await using var worker = await WorkerHost.StartAsync(settings);
        var jobs = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 2 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "both jobs from the broker's queue", describe: rows => rows.Format());
        Assert.Equal(["completed", "failed"], jobs.OrderBy(r => r.Time()).Select(r => r.Text("outcome")));
    }

    [Fact]
    public async Task The_worker_reconnects_and_resubscribes_after_the_broker_restarts()
    {
        var database = "reconnect_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var broker = await MosquittoServer.StartAsync();
        var port = broker.Port;
        var settings = Settings(broker, database);
        var printer = "bounce-" + Guid.NewGuid().ToString("N")[..6];
        var end = new DateTimeOffset(2026, 8, 4, 9, 0, 0, TimeSpan.Zero);

        await using var worker = await WorkerHost.StartAsync(settings);
        await broker.DisposeAsync();
        await Eventually.Until(() => Task.FromResult(worker.Logs.Entries.Any(e => e.Message.StartsWith("MQTT connection lost", StringComparison.Ordinal))), lost => lost, "the worker to notice the broker is gone");

        // The broker comes back empty (no persistence): only a fresh subscription brings messages in.
        await using var restarted = await MosquittoServer.StartAsync(port);
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.connects[result=ok]")), n => n >= 2, "a second successful connection");
        await using (var publisher = await TestPublisher.ConnectAsync(restarted))
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = end.ToUnixTimeSeconds(), job_id = "bounce-1", outcome = "completed", print_time_s = 1200, file = "owl.gcode" });
        }

        var jobs = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 1 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "the job published after the restart");
        Assert.Equal(printer, jobs[0].Text("printer"));
        Assert.Contains(worker.Logs.AtLeast(LogLevel.Warning), l => l.Contains("MQTT connection lost", StringComparison.Ordinal));
    }

    private Dictionary<string, string?> Settings(MosquittoServer broker, string database)
    {
        var settings = WorkerHost.BaseSettings(broker);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        return settings;
    }
}
