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
/// re-subscribes. The receive handler only copies the message into the journal's queue; the journal acknowledges a
/// QoS 1 message once it is on disk (manual acknowledgement), and the broker sends at most
/// <see cref="MqttOptions.ReceiveMaximum"/> unacknowledged messages. QoS 0 messages have no such limit in MQTT: the
/// socket is read through a <see cref="BufferedMqttChannel"/>, which stops reading while as many messages wait inside
/// MQTTnet for this handler, so the broker holds the backlog and MQTTnet's own receive queue stays bounded either way.
/// </summary>
internal sealed class MqttIngestionService : BackgroundService
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

    public MqttIngestionService(
        IOptions<PrintFarmOptions> options,
        TelemetryProcessor processor,
        MessageJournal journal,
        PrintFarmInstrumentation metrics,
        TimeProvider time,
        ILogger<MqttIngestionService> logger)
    {
        _options = options.Value.Mqtt;
        _filters = processor.SubscriptionFilters;
        _journal = journal;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Flow = new ReceiveFlowControl(_options.ReceiveMaximum);
        _client = new MqttClientFactory().CreateMqttClient(new BufferedMqttClientAdapterFactory(Flow));
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>Messages read from the socket and not handled yet; the socket is paused above the limit.</summary>
    public ReceiveFlowControl Flow { get; }

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

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        try
        {
            // Stamped before it is counted: whoever watches the counter (tests on a simulated clock) may move the clock on.
            var receivedAt = _time.GetUtcNow();
            var message = e.ApplicationMessage;
            _metrics.MessagesReceived.Add(1);
            var qos = (byte)message.QualityOfServiceLevel;
            if (qos == 0 && _journal.IsFull)
            {
                // The broker cannot be asked to hold QoS 0 messages: count and say what is lost.
                _metrics.MessagesDroppedJournalFull.Add(1);
                if (_throttle.ShouldLog("qos0-dropped", out var suppressed))
                {
                    Log.JournalDroppedQos0(_logger, message.Topic, suppressed);
                }

                return;
            }

            Func<CancellationToken, Task>? acknowledge = null;
            if (qos > 0)
            {
                // Acknowledged by the journal once the message is on disk, not when this handler returns.
                e.AutoAcknowledge = false;
                acknowledge = e.AcknowledgeAsync;
            }

            // MQTTnet reuses its buffers once the handler returns: copy.
            var payload = message.Payload.IsEmpty ? [] : message.Payload.ToArray();
            await _journal.AppendAsync(new JournalEntry(message.Topic, payload, message.Retain, qos, receivedAt, acknowledge)).ConfigureAwait(false);
        }
        finally
        {
            // Kept or dropped, this message no longer waits inside MQTTnet (the socket reader's flow control).
            Flow.Handled();
        }
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        if (e.ClientWasConnected)
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
