using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// <c>PrintFarm:Mqtt:ProtocolVersion = 3.1.1</c> against a real Mosquitto: the session (clean session off, fixed client
/// id) is kept while the worker is away, and QoS 1 messages queued in it are delivered when it returns.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class MqttProtocolVersionTests(ServicesFixture services)
{
    [Fact]
    public async Task With_MQTT_3_1_1_the_session_is_kept_and_QoS_1_messages_queued_while_away_are_delivered()
    {
        var database = "mqtt311_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Mqtt:ProtocolVersion"] = "3.1.1";
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        var printer = "v311-" + Guid.NewGuid().ToString("N")[..6];
        var end = new DateTimeOffset(2026, 8, 6, 12, 0, 0, TimeSpan.Zero);

        await using (var first = await WorkerHost.StartAsync(settings))
        {
            Assert.Contains(first.Logs.Entries, e => e.Message.Contains("(session present: False)", StringComparison.Ordinal));
        }

        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = end.ToUnixTimeSeconds(), job_id = "v311-1", outcome = "completed", print_time_s = 1800, file = "frog.gcode" });
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = end.AddHours(1).ToUnixTimeSeconds(), job_id = "v311-2", outcome = "failed", print_time_s = 300, file = "frog.gcode" });
        }

        await using var worker = await WorkerHost.StartAsync(settings);
        Assert.Contains(worker.Logs.Entries, e => e.Message.Contains("(session present: True)", StringComparison.Ordinal));
        var jobs = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 2 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "both queued jobs over MQTT 3.1.1", describe: rows => rows.Format());
        Assert.Equal(["v311-1", "v311-2"], jobs.OrderBy(r => r.Time()).Select(r => r.Text("job_id")));
    }
}
