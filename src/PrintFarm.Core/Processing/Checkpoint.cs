using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Notifications;
using PrintFarm.Core.Orders;

namespace PrintFarm.Core.Processing;

/// <summary>
/// The processor's state as one JSON document: open jobs and recently ended keys, KPI windows and watermarks, each
/// stateful adapter's state and the alert evaluator's windows and firing alerts. The host writes it to disk; restoring it after a restart carries every open job and
/// window on. Times inside are UTC ticks.
/// </summary>
public static class Checkpoint
{
    /// <summary>Format version; a checkpoint of another version is refused rather than misread.</summary>
    public const int Version = 1;

    internal static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    internal static JsonObject Create(DateTimeOffset savedAt, JobTrackerState jobs, KpiEngineState kpis, JsonObject adapters, AlertEvaluatorState? alerts = null, CardinalityGuardState? guard = null, NotificationPlannerState? notifications = null, PrinterTimelineState? timeline = null, OrderBookState? orders = null) => new()
    {
        // Optional: a checkpoint without it (timeline off, or an older build) restores the timeline empty.
        ["timeline"] = timeline is null ? null : JsonSerializer.SerializeToNode(timeline, Json),
        // Optional: a checkpoint without it (orders off, or an older build) restores the order book empty.
        ["orders"] = orders is null ? null : JsonSerializer.SerializeToNode(orders, Json),
        // Optional: a checkpoint without it (notifications off, or an older build) restores the planner empty.
        ["notifications"] = notifications is null ? null : JsonSerializer.SerializeToNode(notifications, Json),
        // Optional: a checkpoint without it (no guard, or written before the guard was checkpointed) restores it empty.
        ["guard"] = guard is null ? null : JsonSerializer.SerializeToNode(guard, Json),
        // Optional: a checkpoint without it (alerts off, or written before alerts existed) restores with no alert state.
        ["alerts"] = alerts is null ? null : JsonSerializer.SerializeToNode(alerts, Json),
        ["version"] = Version,
        ["saved_at"] = savedAt.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        ["jobs"] = JsonSerializer.SerializeToNode(jobs, Json),
        ["kpis"] = JsonSerializer.SerializeToNode(kpis, Json),
        ["adapters"] = adapters,
    };

    internal static void Write(Utf8JsonWriter writer, DateTimeOffset savedAt, JobTrackerState jobs, KpiEngineState kpis, JsonObject adapters, AlertEvaluatorState? alerts, CardinalityGuardState? guard, NotificationPlannerState? notifications, PrinterTimelineState? timeline = null, OrderBookState? orders = null)
    {
        if (timeline is not null)
        {
            writer.WritePropertyName("timeline");
            JsonSerializer.Serialize(writer, timeline, Json);
        }

        if (orders is not null)
        {
            writer.WritePropertyName("orders");
            JsonSerializer.Serialize(writer, orders, Json);
        }

        if (notifications is not null)
        {
            writer.WritePropertyName("notifications");
            JsonSerializer.Serialize(writer, notifications, Json);
        }

        if (guard is not null)
        {
            writer.WritePropertyName("guard");
            JsonSerializer.Serialize(writer, guard, Json);
        }

        if (alerts is not null)
        {
            writer.WritePropertyName("alerts");
            JsonSerializer.Serialize(writer, alerts, Json);
        }

        writer.WriteNumber("version", Version);
        writer.WriteString("saved_at", savedAt.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        writer.WritePropertyName("jobs");
        JsonSerializer.Serialize(writer, jobs, Json);
        writer.WritePropertyName("kpis");
        JsonSerializer.Serialize(writer, kpis, Json);
        writer.WritePropertyName("adapters");
        adapters.WriteTo(writer);
    }

    internal static (JobTrackerState Jobs, KpiEngineState Kpis, JsonObject? Adapters, AlertEvaluatorState? Alerts, CardinalityGuardState? Guard, NotificationPlannerState? Notifications) Read(JsonObject checkpoint)
    {
        var version = checkpoint["version"]?.GetValue<int>();
        if (version != Version)
        {
            throw new CheckpointException($"checkpoint version {version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)"} is not {Version}");
        }

        try
        {
            var jobs = checkpoint["jobs"].Deserialize<JobTrackerState>(Json) ?? throw new CheckpointException("checkpoint has no 'jobs'");
            var kpis = checkpoint["kpis"].Deserialize<KpiEngineState>(Json) ?? throw new CheckpointException("checkpoint has no 'kpis'");
            var alerts = checkpoint["alerts"] is { } a ? a.Deserialize<AlertEvaluatorState>(Json) : null;
            var guard = checkpoint["guard"] is { } g ? g.Deserialize<CardinalityGuardState>(Json) : null;
            var notifications = checkpoint["notifications"] is { } n ? n.Deserialize<NotificationPlannerState>(Json) : null;
            return (jobs, kpis, checkpoint["adapters"] as JsonObject, alerts, guard, notifications);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException("checkpoint content is invalid: " + ex.Message, ex);
        }
    }

    // Its own reader, so the tuple of Read stays as it is for the other parts' merges.
    internal static PrinterTimelineState? ReadTimeline(JsonObject checkpoint)
    {
        try
        {
            return checkpoint["timeline"] is { } t ? t.Deserialize<PrinterTimelineState>(Json) : null;
        }
        catch (JsonException ex)
        {
            throw new CheckpointException("checkpoint content is invalid: " + ex.Message, ex);
        }
    }
}

/// <summary>The order book's part of a checkpoint (its own <c>orders</c> property).</summary>
internal static class OrdersCheckpoint
{
    /// <summary>The order book's state, or null when the checkpoint has none (orders off, or an older build).</summary>
    /// <exception cref="CheckpointException">The property is not a valid order book.</exception>
    public static OrderBookState? Read(JsonObject checkpoint)
    {
        try
        {
            return checkpoint["orders"] is { } o ? o.Deserialize<OrderBookState>(Checkpoint.Json) : null;
        }
        catch (JsonException ex)
        {
            throw new CheckpointException("checkpoint 'orders' is invalid: " + ex.Message, ex);
        }
    }
}

/// <summary>The reason tracker's part of a checkpoint (its own <c>reasons</c> property: labellable jobs and the breakdown).</summary>
internal static class ReasonsCheckpoint
{
    /// <summary>Adds the property to a checkpoint document (nothing when reasons are off).</summary>
    public static JsonObject Add(JsonObject checkpoint, ReasonTrackerState? state)
    {
        if (state is not null)
        {
            checkpoint["reasons"] = JsonSerializer.SerializeToNode(state, Checkpoint.Json);
        }

        return checkpoint;
    }

    /// <summary>Writes the property (nothing when reasons are off).</summary>
    public static void Write(Utf8JsonWriter writer, ReasonTrackerState? state)
    {
        if (state is not null)
        {
            writer.WritePropertyName("reasons");
            JsonSerializer.Serialize(writer, state, Checkpoint.Json);
        }
    }

    /// <summary>The saved state, or null when the checkpoint has none (an older build).</summary>
    /// <exception cref="CheckpointException">The property is not valid.</exception>
    public static ReasonTrackerState? Read(JsonObject checkpoint)
    {
        try
        {
            return checkpoint["reasons"] is { } r ? r.Deserialize<ReasonTrackerState>(Checkpoint.Json) : null;
        }
        catch (JsonException ex)
        {
            throw new CheckpointException("checkpoint 'reasons' is invalid: " + ex.Message, ex);
        }
    }
}

/// <summary>
/// The processor's state captured for a checkpoint: plain copies of the job tracker's and the KPI engine's state, and
/// the adapters' state as JSON. Capturing is the cheap part, done while the processor is not running; writing the
/// document (<see cref="WriteTo"/>) is the expensive part and can run beside it, since nothing in a snapshot is shared
/// with the live state but an open job's last progress, which only ever moves forward.
/// </summary>
public sealed class CheckpointSnapshot
{
    private readonly DateTimeOffset _savedAt;
    private readonly JobTrackerState _jobs;
    private readonly KpiEngineState _kpis;
    private readonly JsonObject _adapters;
    private readonly AlertEvaluatorState? _alerts;
    private readonly CardinalityGuardState? _guard;
    private readonly NotificationPlannerState? _notifications;
    private readonly PrinterTimelineState? _timeline;

    internal CheckpointSnapshot(DateTimeOffset savedAt, JobTrackerState jobs, KpiEngineState kpis, JsonObject adapters, AlertEvaluatorState? alerts, CardinalityGuardState? guard = null, NotificationPlannerState? notifications = null, PrinterTimelineState? timeline = null)
    {
        _timeline = timeline;
        _notifications = notifications;
        _guard = guard;
        _savedAt = savedAt;
        _jobs = jobs;
        _kpis = kpis;
        _adapters = adapters;
        _alerts = alerts;
    }

    /// <summary>The order book's state, when orders are on.</summary>
    internal OrderBookState? Orders { get; init; }

    /// <summary>The reason tracker's state, when it is on.</summary>
    internal ReasonTrackerState? Reasons { get; init; }

    /// <summary>The cost ledger's state (energy meter and cost windows), when costing is on.</summary>
    internal Cost.CostLedgerState? Cost { get; init; }

    /// <summary>
    /// Writes the checkpoint document — the same one <see cref="TelemetryProcessor.SaveCheckpoint"/> returns — as one
    /// JSON object; <paramref name="extra"/> may add the host's own properties (such as the journal position).
    /// </summary>
    public void WriteTo(Utf8JsonWriter writer, Action<Utf8JsonWriter>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        Checkpoint.Write(writer, _savedAt, _jobs, _kpis, _adapters, _alerts, _guard, _notifications, _timeline, Orders);
        ReasonsCheckpoint.Write(writer, Reasons);
        CostCheckpoint.Write(writer, Cost);
        extra?.Invoke(writer);
        writer.WriteEndObject();
    }
}

/// <summary>A checkpoint that cannot be used: wrong version or invalid content.</summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CheckpointException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CheckpointException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The cost ledger's part of a checkpoint (its own <c>cost</c> property): the energy meter's last reading per printer,
/// its unattributed intervals and unsettled jobs, and the open cost windows. A restart carries on from the last
/// reading, so it neither loses nor counts twice the energy of the readings that follow.
/// </summary>
internal static class CostCheckpoint
{
    public const string Property = "cost";

    /// <summary>Adds the property to <paramref name="checkpoint"/> when there is a state; returns the document.</summary>
    public static JsonObject Add(JsonObject checkpoint, Cost.CostLedgerState? state)
    {
        if (state is not null)
        {
            checkpoint[Property] = JsonSerializer.SerializeToNode(state, Checkpoint.Json);
        }

        return checkpoint;
    }

    /// <summary>Writes the property when there is a state.</summary>
    public static void Write(Utf8JsonWriter writer, Cost.CostLedgerState? state)
    {
        if (state is not null)
        {
            writer.WritePropertyName(Property);
            JsonSerializer.Serialize(writer, state, Checkpoint.Json);
        }
    }

    /// <summary>The ledger's state, or null when the checkpoint has none (costing off, or an older build).</summary>
    /// <exception cref="CheckpointException">The property is not a valid cost state.</exception>
    public static Cost.CostLedgerState? Read(JsonObject checkpoint)
    {
        try
        {
            return checkpoint[Property] is { } c ? c.Deserialize<Cost.CostLedgerState>(Checkpoint.Json) : null;
        }
        catch (JsonException ex)
        {
            throw new CheckpointException("checkpoint 'cost' is invalid: " + ex.Message, ex);
        }
    }
}
