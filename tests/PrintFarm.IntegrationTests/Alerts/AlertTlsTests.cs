using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Alerts;

/// <summary>
/// Issue 18 item 14: the alert publisher connects with the ingestion client's settings (one builder): TLS with the
/// farm CA, a client certificate, the server name and the password, against a real Mosquitto that requires all of
/// them, in both protocol versions. Before, ingestion connected and every alert failed with "remote certificate was
/// rejected".
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class AlertTlsTests(ServicesFixture services)
{
    [Theory]
    [InlineData("5")]
    [InlineData("3.1.1")]
    public async Task With_UseTls_and_CaFile_the_alert_publisher_connects_like_ingestion_and_delivers_the_alerts(string protocol)
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: true);
        var database = "alerttls_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var prefix = "tls-alerts-" + Guid.NewGuid().ToString("N")[..8];
        var trace = new AlertEndToEndTests.FallingPrinterTrace(prefix);

        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Mqtt:Host"] = "localhost";
        settings["PrintFarm:Mqtt:Port"] = broker.TlsPort.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm:Mqtt:UseTls"] = "true";
        settings["PrintFarm:Mqtt:CaFile"] = broker.Pki.CaFile;
        settings["PrintFarm:Mqtt:ClientCertificateFile"] = broker.Pki.ClientCertificateFile;
        settings["PrintFarm:Mqtt:ClientKeyFile"] = broker.Pki.ClientKeyFile;
        settings["PrintFarm:Mqtt:Username"] = TlsBroker.Username;
        settings["PrintFarm:Mqtt:Password"] = broker.Password;
        settings["PrintFarm:Mqtt:ProtocolVersion"] = protocol;
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Alerts:TopicPrefix"] = prefix;
        settings["PrintFarm:Alerts:RetryDelay"] = "00:00:00.1";
        settings["PrintFarm:Adapters:OctoPrint:Enabled"] = "false";
        settings["PrintFarm:Adapters:Moonraker:Enabled"] = "false";
        settings["PrintFarm:Adapters:Bambu:Enabled"] = "false";

        var received = new ConcurrentQueue<string>();
        var keys = new ConcurrentQueue<(string? Header, string? Payload)>();
        using var dashboard = new MqttClientFactory().CreateMqttClient();
        dashboard.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            using var json = System.Text.Json.JsonDocument.Parse(Encoding.UTF8.GetString(m.Payload));
            keys.Enqueue((m.UserProperties?.FirstOrDefault(p => p.Name == "Idempotency-Key")?.ReadValueAsString(), json.RootElement.GetProperty("idempotency_key").GetString()));
            received.Enqueue(m.Topic);
            return Task.CompletedTask;
        };
        await dashboard.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", broker.PlainPort)
            .WithCredentials(TlsBroker.Username, broker.Password)
            .WithClientId("dashboard-" + Guid.NewGuid().ToString("N"))
            .Build());
        await dashboard.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(prefix + "/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build());

        settings["PrintFarm:CheckpointInterval"] = "00:00:00.5";
        await using var worker = await WorkerHost.StartAsync(settings);
        var (before, after) = trace.Split(hours: 3);
        await using (var printers = await broker.PublisherAsync())
        {
            foreach (var (topic, payload) in before)
            {
                await printers.PublishJsonAsync(topic, payload);
            }

            // A fresh worker judges only the newest closed window at its first evaluation: let it happen before the drop.
            var state = Path.Combine(worker.DataFolder, "checkpoint", "state.json");
            await Eventually.Until(() => Task.FromResult(AlertEndToEndTests.FallingPrinterTrace.HasEvaluated(state)), e => e, "the worker's first alert evaluation");
            foreach (var (topic, payload) in after)
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        var topics = await Eventually.Until(
            () => Task.FromResult(received.ToArray()),
            t => t.Length >= 2,
            "the firing and resolved alerts over TLS",
            describe: t => string.Join("\n", t) + "\n" + string.Join("\n", worker.Logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Warning)));
        Assert.All(topics, t => Assert.Equal($"{prefix}/efficiency_drop/printer/{trace.Falling}", t));
        // Item 8: every message carries its key in the payload, and over MQTT 5 as a user property too.
        Assert.All(keys, k => Assert.Matches("^[0-9a-f]{32}$", k.Payload));
        Assert.All(keys, k => Assert.Equal(protocol == "5" ? k.Payload : null, k.Header));
        Assert.Equal(0, worker.Counter("printfarm.alerts.deliveries[result=failed]"));
        Assert.DoesNotContain(worker.Logs.Entries, e => e.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase) && e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        await dashboard.DisconnectAsync();
    }
}
