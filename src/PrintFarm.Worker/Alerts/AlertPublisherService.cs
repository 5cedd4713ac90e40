using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Polly;
using Polly.Retry;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Notifications;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Alerts;

/// <summary>
/// Delivers alert transitions and notifications from the <see cref="AlertQueue"/>, one at a time in order: a log line,
/// a QoS 1 MQTT message on its own connection (its own client id, so the ingestion session is untouched) — retained
/// for an alert, not for a notification — and the optional webhook POST. A delivery the <see cref="DeliveredLog"/>
/// has already recorded (a journal replay after a crash brought the item back) is skipped, per channel. MQTT and webhook attempts are retried with back-off by a Polly pipeline; what still fails is counted
/// and logged, and the alert stays in InfluxDB and the log. On shutdown what the pipeline's last flush handed over is
/// still delivered, within a bounded time.
/// </summary>
internal sealed class AlertPublisherService : BackgroundService
{
    internal const string WebhookClientName = "printfarm-alerts-webhook";
    private static readonly TimeSpan ShutdownBudget = TimeSpan.FromSeconds(10);

    private readonly AlertQueue _queue;
    private readonly IHttpClientFactory _http;
    private readonly AlertsOptions _options;
    private readonly MqttOptions _mqtt;
    private readonly string _farm;
    private readonly string _clientId;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<AlertPublisherService> _logger;
    private readonly LogThrottle _throttle;
    private readonly ResiliencePipeline _retry;
    private readonly IMqttClient _client;
    private readonly Mqtt.MqttConnectionOptions _connection;
    private readonly DeliveredLog _delivered;
    private readonly string _notificationPrefix;

    public AlertPublisherService(
        AlertQueue queue,
        IHttpClientFactory http,
        IOptions<PrintFarmOptions> options,
        PrintFarmInstrumentation metrics,
        TimeProvider time,
        ILogger<AlertPublisherService> logger,
        DeliveredLog delivered)
    {
        _delivered = delivered;
        _notificationPrefix = options.Value.Notifications.TopicPrefix;
        _queue = queue;
        _http = http;
        _options = options.Value.Alerts;
        _mqtt = options.Value.Mqtt;
        _farm = options.Value.Farm;
        _clientId = _options.EffectiveClientId(_mqtt.ClientId);
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
        _client = new MqttClientFactory().CreateMqttClient();
        _connection = Mqtt.MqttConnectionOptions.ForPublisher(_mqtt, _clientId, logger);
        _retry = _options.MaxRetries == 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder { TimeProvider = time }
                .AddRetry(new RetryStrategyOptions
                {
                    // Network errors, timeouts, 429 and 5xx can succeed later; a 4xx (bad URL, bad token) cannot.
                    ShouldHandle = new PredicateBuilder()
                        .Handle<TransientDeliveryException>()
                        .Handle<HttpRequestException>()
                        .Handle<MQTTnet.Exceptions.MqttCommunicationException>()
                        .Handle<TimeoutException>()
                        .Handle<TaskCanceledException>(ex => ex.InnerException is TimeoutException),
                    MaxRetryAttempts = _options.MaxRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = _options.RetryDelay,
                    MaxDelay = TimeSpan.FromMinutes(5),
                    DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is TransientDeliveryException { RetryAfter: { } after } ? after : (TimeSpan?)null),
                })
                .Build();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var alert))
                {
                    await DeliverAsync(alert, stoppingToken).ConfigureAwait(false);
                    _queue.Done(alert);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: drain below.
        }

        using var budget = new CancellationTokenSource(ShutdownBudget, _time);
        while (reader.TryRead(out var alert))
        {
            await DeliverAsync(alert, budget.Token).ConfigureAwait(false);
            if (!budget.IsCancellationRequested)
            {
                _queue.Done(alert);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
            {
                // Going away anyway.
            }
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    private Task DeliverAsync(QueuedAlert item, CancellationToken cancellationToken) =>
        item.Alert is { } alert ? DeliverAsync(alert, cancellationToken) : DeliverAsync(item.Notification!, cancellationToken);

    private async Task DeliverAsync(Notification n, CancellationToken cancellationToken)
    {
        var key = NotificationMessages.IdempotencyKey(_farm, n);
        var printer = n.IsDigest ? NotificationMessages.DigestLevel : n.Printer;
        if (n.Kind is NotificationKind.Failed or NotificationKind.Offline)
        {
            Log.NotificationWarning(_logger, n.KindName, printer, n.Message, key);
        }
        else
        {
            Log.Notification(_logger, n.KindName, printer, n.Message, key);
        }

        await OnceAsync("mqtt", key, n.KindName, printer, ct => PublishAsync(NotificationMessages.Topic(_notificationPrefix, n), NotificationMessages.Payload(_farm, n), key, retain: false, ct), _metrics.NotificationDeliveries, cancellationToken).ConfigureAwait(false);
        if (_options.Webhook.Enabled)
        {
            await OnceAsync("webhook", key, n.KindName, printer, ct => PostAsync(NotificationMessages.WebhookBody(_options.Webhook, _farm, n), key, ct), _metrics.NotificationDeliveries, cancellationToken).ConfigureAwait(false);
        }
    }

    // One channel of one item, unless the delivered log says it already went out (a replay brought it back).
    private async Task OnceAsync(string channel, string key, string what, string subject, Func<CancellationToken, ValueTask> deliver, System.Diagnostics.Metrics.Counter<long> counter, CancellationToken cancellationToken)
    {
        if (_delivered.Contains(key, channel))
        {
            counter.Add(1, new("channel", channel), new("result", "already_delivered"));
            if (_throttle.ShouldLog("duplicate", out var skipped))
            {
                Log.AlreadyDelivered(_logger, what, subject, channel, key, skipped);
            }

            return;
        }

        try
        {
            await _retry.ExecuteAsync(deliver, cancellationToken).ConfigureAwait(false);
            _delivered.Record(key, channel);
            counter.Add(1, new("channel", channel), new("result", "ok"));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            // Supervised: a delivery that fails for good is counted and logged, and the loop goes on.
            counter.Add(1, new("channel", channel), new("result", "failed"));
            if (_throttle.ShouldLog(channel, out var suppressed))
            {
                Log.DeliveryFailed(_logger, what, subject, channel, ex.GetType().Name + ": " + ex.Message, suppressed);
            }
        }
    }

    private async Task DeliverAsync(AlertTransition alert, CancellationToken cancellationToken)
    {
        var scope = PointEncoder.ScopeName(alert.Scope);

        // A farm-scope alert has no subject of its own: the log names the farm ("for farm demo", not "for farm ").
        var subject = alert.Scope == Core.Kpis.KpiScope.Farm && alert.Subject.Length == 0 ? _farm : alert.Subject;
        if (alert.State == AlertState.Firing)
        {
            Log.AlertFiring(_logger, alert.Rule, scope, subject, alert.Message);
        }
        else
        {
            Log.AlertResolved(_logger, alert.Rule, scope, subject, alert.Message);
        }

        var key = AlertMessages.IdempotencyKey(_farm, alert);
        await TryAsync("mqtt", alert, key, ct => PublishAsync(AlertMessages.Topic(_options.TopicPrefix, _farm, alert), AlertMessages.Payload(_farm, alert), key, _options.Retain, ct), cancellationToken).ConfigureAwait(false);
        if (_options.Webhook.Enabled)
        {
            await TryAsync("webhook", alert, key, ct => PostAsync(AlertMessages.WebhookBody(_options.Webhook, _farm, alert), key, ct), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task TryAsync(string channel, AlertTransition alert, string key, Func<CancellationToken, ValueTask> deliver, CancellationToken cancellationToken)
    {
        if (_delivered.Contains(key, channel))
        {
            _metrics.AlertDeliveries.Add(1, new("channel", channel), new("result", "already_delivered"));
            if (_throttle.ShouldLog("duplicate", out var skipped))
            {
                Log.AlreadyDelivered(_logger, "alert " + alert.Rule, alert.Subject, channel, key, skipped);
            }

            return;
        }

        try
        {
            await _retry.ExecuteAsync(deliver, cancellationToken).ConfigureAwait(false);
            _delivered.Record(key, channel);
            _metrics.AlertDeliveries.Add(1, new("channel", channel), new("result", "ok"));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            // Supervised: a delivery that fails for good is counted and logged, and the loop goes on.
            _metrics.AlertDeliveries.Add(1, new("channel", channel), new("result", "failed"));
            if (_throttle.ShouldLog(channel, out var suppressed))
            {
                Log.AlertDeliveryFailed(_logger, channel, alert.Rule, PointEncoder.ScopeName(alert.Scope), alert.Subject, ex.GetType().Name + ": " + ex.Message, suppressed);
            }
        }
    }

    private async ValueTask PublishAsync(string topic, byte[] payload, string key, bool retain, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected)
        {
            await ConnectAsync(cancellationToken).ConfigureAwait(false);
        }

        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain);
        if (!_mqtt.IsV311)
        {
            // MQTT 5 only (3.1.1 has no properties): the key is in the JSON payload either way.
            builder.WithContentType("application/json")
                .WithUserProperty(AlertMessages.IdempotencyKeyHeader, new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(key)));
        }

        var message = builder.Build();
        var result = await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            throw new TransientDeliveryException($"the broker answered {result.ReasonCode} {result.ReasonString}", null);
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        // A plain session under its own client id, with the ingestion client's TLS, credentials and protocol version.
        MqttClientConnectResult result;
        try
        {
            result = await _client.ConnectAsync(_connection.Build(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Retried by the delivery pipeline; the message names the setting to look at (CaFile, client certificate …).
            throw new MQTTnet.Exceptions.MqttCommunicationException(_connection.Describe(ex), ex);
        }

        _connection.ThrowIfRefused(result);
        Log.AlertPublisherConnected(_logger, _mqtt.Host, _mqtt.Port, _clientId, _options.TopicPrefix);
    }

    private async ValueTask PostAsync(string body, string key, CancellationToken cancellationToken)
    {
        var webhook = _options.Webhook;
        using var http = _http.CreateClient(WebhookClientName);
        http.Timeout = webhook.Timeout;
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        // The same key on every attempt and after a replay: the receiver drops duplicates by it (docs/operations.md).
        request.Headers.Add(AlertMessages.IdempotencyKeyHeader, key);
        if (!string.IsNullOrWhiteSpace(webhook.Authorization))
        {
            request.Headers.Authorization = AuthenticationHeaderValue.Parse(webhook.Authorization);
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var detail = $"the webhook answered {status} {response.ReasonPhrase}";
        if (response.StatusCode == HttpStatusCode.TooManyRequests || status >= 500)
        {
            var retryAfter = response.Headers.RetryAfter is { } ra
                ? ra.Delta ?? (ra.Date is { } date ? date - _time.GetUtcNow() : null)
                : null;
            throw new TransientDeliveryException(detail, retryAfter is { } d && d > TimeSpan.Zero ? d : null);
        }

        throw new InvalidOperationException(detail + ": not retried (fix the URL, token or body format)");
    }
}

/// <summary>A delivery that may succeed later (broker refusal, 429, 5xx), with the server's wait when it gave one.</summary>
internal sealed class TransientDeliveryException(string message, TimeSpan? retryAfter) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
