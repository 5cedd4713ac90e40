using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Mqtt;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// A broker that speaks only MQTT 3.1.1 answers an MQTT 5 CONNECT the way the 3.1.1 specification says (section
/// 3.2.2.3): a CONNACK with return code 1, "unacceptable protocol version", then closes. Mosquitto speaks 5, so this
/// test plays such a broker on a loopback socket, byte for byte, as aedes 1.2 does.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class MqttRefusedVersionTests(ServicesFixture services)
{
    [Fact]
    public async Task A_broker_refusing_MQTT_5_is_named_in_the_log_line_with_the_ProtocolVersion_setting()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var broker = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                var stream = client.GetStream();
                var buffer = new byte[1024];
                _ = await stream.ReadAsync(buffer, stop.Token); // the CONNECT
                await stream.WriteAsync(new byte[] { 0x20, 0x02, 0x00, 0x01 }, stop.Token); // CONNACK, unacceptable protocol version
                await stream.FlushAsync(stop.Token);
            }
        });

        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:Bucket"] = "unused";
        settings["PrintFarm:Mqtt:Host"] = "127.0.0.1";
        settings["PrintFarm:Mqtt:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var worker = await WorkerHost.StartAsync(settings, waitForSubscription: false);
        var lines = await Eventually.Until(
            () => Task.FromResult(worker.Logs.Entries.Where(e => e.Category == typeof(MqttIngestionService).FullName && e.Level == LogLevel.Warning).Select(e => e.Message).ToList()),
            l => l.Count >= 2,
            "two refused attempts",
            describe: l => string.Join('\n', l));
        await stop.CancelAsync();
        Assert.All(lines, l => Assert.Contains("PrintFarm:Mqtt:ProtocolVersion", l, StringComparison.Ordinal));
        Assert.All(lines, l => Assert.Contains("UnsupportedProtocolVersion", l, StringComparison.Ordinal));
        _ = broker;
    }
}
