using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>A real MQTT client standing in for the printers: publishes QoS 1 messages to the test broker.</summary>
public sealed class TestPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client;

    private TestPublisher(IMqttClient client) => _client = client;

    public static Task<TestPublisher> ConnectAsync(MosquittoServer broker) => ConnectAsync(broker.Host, broker.Port);

    /// <summary>Connects to a plain listener, with credentials when the broker wants them.</summary>
    public static async Task<TestPublisher> ConnectAsync(string host, int port, string? username = null, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId("printer-sim-" + Guid.NewGuid().ToString("N"));
        if (username is not null)
        {
            builder.WithCredentials(username, password);
        }

        var result = await client.ConnectAsync(builder.Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            throw new InvalidOperationException($"test publisher refused: {result.ResultCode}");
        }

        return new TestPublisher(client);
    }

    public Task PublishJsonAsync(string topic, object payload, bool retain = false) =>
        PublishAsync(topic, JsonSerializer.SerializeToUtf8Bytes(payload), retain);

    /// <summary>Publishes at QoS 0, as OctoPrint-MQTT, Moonraker and Bambu do by default: no acknowledgement, no retry.</summary>
    public Task PublishJsonAtMostOnceAsync(string topic, object payload) =>
        PublishAsync(topic, JsonSerializer.SerializeToUtf8Bytes(payload), retain: false, MqttQualityOfServiceLevel.AtMostOnce);

    public Task PublishTextAsync(string topic, string payload, bool retain = false) =>
        PublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain);

    public async Task PublishAsync(string topic, byte[] payload, bool retain = false, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain)
            .Build();
        var result = await _client.PublishAsync(message);
        if (!result.IsSuccess)
        {
            throw new InvalidOperationException($"publish to {topic} failed: {result.ReasonCode} {result.ReasonString}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }
}
