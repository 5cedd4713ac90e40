using System.Collections.Concurrent;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>A real MQTT client standing in for a dashboard or phone app: subscribes and keeps every message it gets.</summary>
public sealed class TestSubscriber : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly ConcurrentQueue<(string Topic, string Payload, bool Retained)> _messages = new();

    private TestSubscriber(IMqttClient client)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            _messages.Enqueue((m.Topic, Encoding.UTF8.GetString(m.Payload), m.Retain));
            return Task.CompletedTask;
        };
    }

    /// <summary>Messages in arrival order; retained ones sent on subscribe have <c>Retained</c> set.</summary>
    public IReadOnlyList<(string Topic, string Payload, bool Retained)> Messages => _messages.ToArray();

    public static async Task<TestSubscriber> SubscribeAsync(MosquittoServer broker, string filter)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var subscriber = new TestSubscriber(client);
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithClientId("dashboard-sim-" + Guid.NewGuid().ToString("N"))
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .Build());
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build());
        return subscriber;
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
