using System.Buffers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Mqtt;

/// <summary>
/// Keeps one MQTT session with the broker: a fixed client id, clean start off and a session expiry, so QoS 1
/// messages published while the worker is away wait at the broker. Reconnects with exponential back-off and
/// re-subscribes. Over TCP the connection's <see cref="JournalingMqttAdapter"/> hands every PUBLISH straight to
/// <see cref="Publish"/>, which encodes it into the journal's next group; the journal acknowledges a QoS 1 message
/// once it is on disk, and the broker sends at most <see cref="MqttOptions.ReceiveMaximum"/> unacknowledged ones.
/// While the journal's group is full the adapter stops reading the socket, so the broker holds the backlog, QoS 0
/// included. Other transports (WebSocket) go through MQTTnet's receive handler, <see cref="OnMessageAsync"/>.
/// </summary>
internal sealed class MqttIngestionService : BackgroundService, IPublishSink
{
    private readonly MqttOptions _options;
    private readonly IReadOnlyList<string> _filters;
    private readonly MessageJournal _journal;
    private readonly LogThrottle _throttle;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<MqttIngestionService> _logger;
    private readonly IMqttClient _client;
    private readonly SemaphoreSlim _disconnected = new(0, 1);
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MqttConnectionOptions? _connection;
    private volatile bool _stopping;

    public MqttIngestionService(
        IOptions<PrintFarmOptions> options,
        TelemetryProcessor processor,
        MessageJournal journal,
        PrintFarmInstrumentation metrics,
        TimeProvider time,
        ILogger<MqttIngestionService> logger)
    {
        _options = options.Value.Mqtt;
        MaxPayloadBytes = options.Value.MaxPayloadBytes;
        _filters = processor.SubscriptionFilters;
        _journal = journal;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _client = new MqttClientFactory().CreateMqttClient(new JournalingMqttAdapterFactory(this));
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>True while connected.</summary>
    public bool IsConnected => _client.IsConnected;

    /// <summary>Completes when the first subscription is in place (tests and health checks wait on it).</summary>
    public Task Subscribed => _subscribed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = _options.ReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                try
                {
                    await ConnectAsync(stoppingToken).ConfigureAwait(false);
                    _metrics.MqttConnects.Add(1, new KeyValuePair<string, object?>("result", "ok"));
                    delay = _options.ReconnectDelay;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // Any failure to connect is worth another try: the broker may be restarting or unreachable.
                    _metrics.MqttConnects.Add(1, new KeyValuePair<string, object?>("result", "failed"));
                    Log.MqttConnectFailed(_logger, _options.Host, _options.Port, _connection?.Describe(ex) ?? ex.Message, delay);
                    await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
                    continue;
                }
            }

            // Wake on a disconnect, or check the connection every keep-alive period.
            try
            {
                await _disconnected.WaitAsync(_options.KeepAlive, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // From here a disconnect is ours (or the embedded broker's, stopping after us): not a lost connection.
        _stopping = true;
        try
        {
            await base.StopAsync(cancellationToken).ConfigureAwait(false);
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // Nothing more will arrive: make what is queued durable (and acknowledge what the connection still allows),
            // so the pipeline can read the journal to its end and stop.
            await _journal.CompleteAsync().ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        _disconnected.Dispose();
        base.Dispose();
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _connection ??= new MqttConnectionOptions(_options, _logger);
        var result = await _client.ConnectAsync(_connection.Build(), cancellationToken).ConfigureAwait(false);
        _connection.ThrowIfRefused(result);

        // Subscribe on every connect: cheap, and correct whether or not the broker kept the session.
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in _filters)
        {
            subscribe.WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        }

        var subscribed = await _client.SubscribeAsync(subscribe.Build(), cancellationToken).ConfigureAwait(false);
        foreach (var item in subscribed.Items)
        {
            if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
            {
                throw new InvalidOperationException($"the broker refused the subscription to '{item.TopicFilter.Topic}': {item.ResultCode}");
            }
        }

        Log.MqttConnected(_logger, _options.Host, _options.Port, _options.ClientId, result.IsSessionPresent, string.Join(", ", _filters));
        _subscribed.TrySetResult();
    }

    DateTimeOffset IPublishSink.Now => _time.GetUtcNow();

    /// <summary>Payloads above this are skipped on the socket and journaled as metadata only (<c>PrintFarm:MaxPayloadBytes</c>).</summary>
    public int MaxPayloadBytes { get; }

    /// <summary>
    /// An oversize PUBLISH the adapter skipped on the socket: its metadata into the journal's next group (acknowledged,
    /// for QoS 1, once that is on disk), where the pipeline dead-letters it as <c>oversize</c>.
    /// </summary>
    public bool PublishOversize(ReadOnlySpan<byte> topic, long payloadBytes, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, IJournalAcknowledger connection)
    {
        var result = _journal.TryAppend(topic, default, retained, qos, receivedAt, qos > 0 ? new JournalAck(connection, packetId, null) : default, payloadBytes);
        if (result == AppendResult.Full)
        {
            _journal.NotifyWriter();
            return false;
        }

        _metrics.MqttOversizeSkippedBytes.Add(payloadBytes);
        if (result == AppendResult.Closed)
        {
            Stopped(topic, qos);
        }

        return true;
    }

    /// <summary>One PUBLISH read off the socket (<see cref="JournalingMqttAdapter"/>): into the journal's next group.</summary>
    public bool Publish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, IJournalAcknowledger connection)
    {
        if (qos == 0 && _journal.IsFull)
        {
            DropQos0(topic);
            return true;
        }

        var result = _journal.TryAppend(topic, payload, retained, qos, receivedAt, qos > 0 ? new JournalAck(connection, packetId, null) : default);
        if (result == AppendResult.Full)
        {
            _journal.NotifyWriter();
            return false;
        }

        if (result == AppendResult.Closed)
        {
            // Stopping: QoS 1 is not acknowledged (the broker sends it again to the next session); QoS 0 is lost.
            Stopped(topic, qos);
        }

        return true;
    }

    /// <summary>The messages of one socket read are in the journal's group: count them and wake the journal's writer.</summary>
    public void EndOfRead(int messages)
    {
        _metrics.MessagesReceived.Add(messages);
        _journal.NotifyWriter();
    }

    Task IPublishSink.WaitForRoomAsync(CancellationToken cancellationToken) => _journal.WaitForRoomAsync(cancellationToken);

    // MQTTnet's path, for transports other than TCP.
    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        // Stamped before it is counted: whoever watches the counter (tests on a simulated clock) may move the clock on.
        var receivedAt = _time.GetUtcNow();
        var message = e.ApplicationMessage;
        _metrics.MessagesReceived.Add(1);
        var qos = (byte)message.QualityOfServiceLevel;
        if (qos == 0 && _journal.IsFull)
        {
            DropQos0(System.Text.Encoding.UTF8.GetBytes(message.Topic));
            return;
        }

        Func<CancellationToken, Task>? acknowledge = null;
        if (qos > 0)
        {
            // Acknowledged by the journal once the message is on disk, not when this handler returns.
            e.AutoAcknowledge = false;
            acknowledge = e.AcknowledgeAsync;
        }

        // MQTTnet reuses its buffers once the handler returns: copy. An oversize payload (MQTTnet has read it whole on
        // this path) is not copied or journaled: only its size.
        var oversize = message.Payload.Length > MaxPayloadBytes ? message.Payload.Length : 0;
        var payload = message.Payload.IsEmpty || oversize > 0 ? [] : message.Payload.ToArray();
        if (oversize > 0)
        {
            _metrics.MqttOversizeSkippedBytes.Add(oversize);
        }

        try
        {
            await _journal.AppendAsync(new JournalEntry(message.Topic, payload, message.Retain, qos, receivedAt, acknowledge, oversize)).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            Stopped(System.Text.Encoding.UTF8.GetBytes(message.Topic), qos);
        }
    }

    // The broker cannot be asked to hold QoS 0 messages: count and say what is lost.
    private void DropQos0(ReadOnlySpan<byte> topic)
    {
        _metrics.MessagesDroppedJournalFull.Add(1);
        if (_throttle.ShouldLog("qos0-dropped", out var suppressed))
        {
            Log.JournalDroppedQos0(_logger, System.Text.Encoding.UTF8.GetString(topic), suppressed);
        }
    }

    private void Stopped(ReadOnlySpan<byte> topic, byte qos)
    {
        if (_throttle.ShouldLog("stopped", out var suppressed))
        {
            Log.MessageAfterStop(_logger, System.Text.Encoding.UTF8.GetString(topic), qos, suppressed);
        }
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        if (e.ClientWasConnected && _stopping)
        {
            Log.MqttDisconnectedOnStop(_logger, _options.Host, _options.Port);
        }
        else if (e.ClientWasConnected)
        {
            Log.MqttDisconnected(_logger, e.ReasonString ?? e.Reason.ToString());
        }

        if (_disconnected.CurrentCount == 0)
        {
            try
            {
                _disconnected.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }

        return Task.CompletedTask;
    }
}
