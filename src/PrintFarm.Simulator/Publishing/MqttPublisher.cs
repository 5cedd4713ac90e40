using MQTTnet;
using MQTTnet.Protocol;

namespace PrintFarm.Simulator.Publishing;

/// <summary>Publishes simulated messages to an MQTT broker with their own QoS and retain flag.</summary>
public sealed class MqttPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client;

    private MqttPublisher(IMqttClient client) => _client = client;

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static async Task<MqttPublisher> ConnectAsync(string host, int port, string? username = null, string? password = null, CancellationToken cancellationToken = default)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId("printfarm-sim-" + Guid.NewGuid().ToString("N")[..8])
            .WithCleanSession()
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (!string.IsNullOrEmpty(username))
        {
            options.WithCredentials(username, password);
        }

        try
        {
            await client.ConnectAsync(options.Build(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return new MqttPublisher(client);
    }

    /// <summary>Publishes one message; QoS 1 waits for the broker's acknowledgement.</summary>
    public async Task PublishAsync(SimMessage message, CancellationToken cancellationToken = default)
    {
        var m = new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(message.Payload.ToArray())
            .WithQualityOfServiceLevel(message.Qos == 1 ? MqttQualityOfServiceLevel.AtLeastOnce : MqttQualityOfServiceLevel.AtMostOnce)
            .WithRetainFlag(message.Retain)
            .Build();
        await _client.PublishAsync(m, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Clears the retained messages the simulated printers left (an empty retained publish per topic).</summary>
    public async Task ClearRetainedAsync(IEnumerable<string> topics, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topics);
        foreach (var topic in topics)
        {
            // QoS 1: the broker has each clear before this returns, even if the caller disconnects right after (a QoS 0
            // clear still in the socket would be lost, and the stale retained value would reach the next subscriber).
            await _client.PublishAsync(
                new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Array.Empty<byte>()).WithRetainFlag()
                    .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build(),
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _client.Dispose();
        }
    }
}
