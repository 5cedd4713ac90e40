using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Notifications;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Alerts;

/// <summary>
/// One alert transition or one notification waiting for delivery (exactly one of the two is set);
/// <see cref="Sequence"/> orders the outbox.
/// </summary>
internal readonly record struct QueuedAlert(long Sequence, AlertTransition? Alert, Notification? Notification = null);

/// <summary>
/// Bounded queue from the pipeline to the <see cref="AlertPublisherService"/> — alert transitions and everyday-event
/// notifications, in the order the pipeline produced them — and the outbox of what is not yet delivered. The pipeline never waits on it: a transition that does not fit is counted and logged (it is still in
/// InfluxDB as an <c>alert</c> point). Each checkpoint carries the outbox (<see cref="WriteOutbox"/>): a kill after the
/// checkpoint loses no transition, and the restart re-delivers them with the same idempotency key (at-least-once).
/// </summary>
internal sealed class AlertQueue
{
    /// <summary>The checkpoint property that holds the outbox.</summary>
    public const string OutboxProperty = "alert_outbox";

    /// <summary>The property that marks a notification in the outbox.</summary>
    public const string NotificationProperty = "notification";

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    private readonly Channel<QueuedAlert> _channel;
    private readonly ConcurrentDictionary<long, QueuedAlert> _pending = new();
    private readonly int _capacity;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger<AlertQueue> _logger;
    private readonly string _farm;
    private long _sequence;

    public AlertQueue(IOptions<PrintFarmOptions> options, PrintFarmInstrumentation metrics, ILogger<AlertQueue> logger)
    {
        _capacity = options.Value.Alerts.QueueCapacity;
        _farm = options.Value.Farm;
        _metrics = metrics;
        _logger = logger;
        _channel = Channel.CreateBounded<QueuedAlert>(new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public ChannelReader<QueuedAlert> Reader => _channel.Reader;

    /// <summary>Transitions handed over and not yet delivered (or given up), oldest first.</summary>
    public int Pending => _pending.Count;

    /// <summary>Hands the pipeline's transitions over; returns at once.</summary>
    public void Enqueue(IReadOnlyList<AlertTransition> alerts)
    {
        foreach (var alert in alerts)
        {
            _metrics.AlertTransitions.Add(1, new("rule", alert.Rule), new("state", alert.StateName));
            Add(new QueuedAlert(Interlocked.Increment(ref _sequence), alert));
        }
    }

    /// <summary>Hands the pipeline's notifications over; returns at once.</summary>
    public void Enqueue(IReadOnlyList<Notification> notifications)
    {
        foreach (var n in notifications)
        {
            _metrics.Notifications.Add(1, new("kind", n.KindName), new("digest", n.IsDigest));
            Add(new QueuedAlert(Interlocked.Increment(ref _sequence), null, n));
        }
    }

    /// <summary>The idempotency key of a queued item (alert or notification).</summary>
    public string KeyOf(in QueuedAlert item) =>
        item.Alert is { } alert ? AlertMessages.IdempotencyKey(_farm, alert) : NotificationMessages.IdempotencyKey(_farm, item.Notification!);

    /// <summary>Idempotency keys of everything not yet delivered; capture with <see cref="CaptureOutbox"/>.</summary>
    public IReadOnlySet<string> PendingKeys() => _pending.Values.Select(p => KeyOf(p)).ToHashSet(StringComparer.Ordinal);

    /// <summary>The publisher is done with <paramref name="alert"/> (delivered, or failed for good and logged).</summary>
    public void Done(in QueuedAlert alert) => _pending.TryRemove(alert.Sequence, out _);

    /// <summary>
    /// Writes the outbox as <see cref="OutboxProperty"/> into a checkpoint. Call it where the state is captured (inside
    /// the pipeline's gate, after the hand-over), so the outbox holds exactly the transitions of that state not yet delivered.
    /// </summary>
    public JsonArray CaptureOutbox()
    {
        var outbox = new JsonArray();
        foreach (var (_, item) in _pending.OrderBy(p => p.Key))
        {
            // An alert as itself (as before notifications existed); a notification wrapped, so a restore tells them apart.
            outbox.Add(item.Alert is { } alert
                ? JsonSerializer.SerializeToNode(alert, Json)
                : new JsonObject { [NotificationProperty] = JsonSerializer.SerializeToNode(item.Notification, Json) });
        }

        return outbox;
    }

    /// <summary>Writes a captured outbox into the checkpoint document.</summary>
    public static void WriteOutbox(Utf8JsonWriter writer, JsonArray outbox)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WritePropertyName(OutboxProperty);
        outbox.WriteTo(writer);
    }

    /// <summary>Queues a restored checkpoint's outbox again, before anything new (a checkpoint without one has none).</summary>
    public void RestoreOutbox(JsonNode? outbox)
    {
        if (outbox is not JsonArray items)
        {
            return;
        }

        var restored = 0;
        foreach (var item in items)
        {
            try
            {
                if (item is JsonObject o && o[NotificationProperty] is { } wrapped)
                {
                    if (wrapped.Deserialize<Notification>(Json) is { } n)
                    {
                        Add(new QueuedAlert(Interlocked.Increment(ref _sequence), null, n));
                        restored++;
                    }
                }
                else if (item.Deserialize<AlertTransition>(Json) is { } alert)
                {
                    Add(new QueuedAlert(Interlocked.Increment(ref _sequence), alert));
                    restored++;
                }
            }
            catch (JsonException ex)
            {
                // One unreadable entry costs that alert only (it is still in InfluxDB), never the start.
                _metrics.AlertsDropped.Add(1);
                Log.AlertOutboxEntryInvalid(_logger, ex.Message);
            }
        }

        if (restored > 0)
        {
            Log.AlertOutboxRestored(_logger, restored);
        }
    }

    private void Add(QueuedAlert queued)
    {
        _pending[queued.Sequence] = queued;
        if (!_channel.Writer.TryWrite(queued))
        {
            _pending.TryRemove(queued.Sequence, out _);
            _metrics.AlertsDropped.Add(1);
            if (queued.Alert is { } alert)
            {
                Log.AlertDropped(_logger, _capacity, alert.StateName, alert.Rule, PointEncoder.ScopeName(alert.Scope), alert.Subject);
            }
            else
            {
                var n = queued.Notification!;
                Log.NotificationDropped(_logger, _capacity, n.KindName, n.IsDigest ? NotificationMessages.DigestLevel : n.Printer, n.Message);
            }
        }
    }
}
