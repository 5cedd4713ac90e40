using PrintFarm.Core.Events;

namespace PrintFarm.Core.Ingestion;

/// <summary>An MQTT message as received, before any parsing.</summary>
/// <param name="Topic">Topic it was published on.</param>
/// <param name="Payload">Raw payload bytes.</param>
/// <param name="Retained">Whether the broker delivered it as a retained message (a replay of an old state).</param>
/// <param name="ReceivedAt">When the worker received it (processing time).</param>
public readonly record struct InboundMessage(string Topic, ReadOnlyMemory<byte> Payload, bool Retained, DateTimeOffset ReceivedAt);

/// <summary>
/// Turns one printer family's native MQTT payloads into canonical <see cref="PrinterEvent"/>s. An adapter may keep
/// per-printer state (Moonraker sends deltas) but must never throw for bad input: it returns
/// <see cref="AdapterResult.Rejected"/> instead, and the message is dead-lettered.
/// </summary>
/// <remarks>
/// A stateful adapter first reads the whole payload into a validated report (no state touched), then runs its
/// lifecycle on a staged copy of the printer's state. The staged changes take effect on <see cref="Commit"/>, which
/// the caller makes only once the message is accepted whole (the processor also checks the event times);
/// <see cref="Discard"/> drops them. So a rejected message changes no state.
/// </remarks>
public interface IPrinterAdapter
{
    /// <summary>The <c>source</c> tag of every event this adapter produces.</summary>
    string Source { get; }

    /// <summary>Topic patterns this adapter listens on.</summary>
    IReadOnlyList<TopicPattern> Topics { get; }

    /// <summary>Parses <paramref name="message"/>, appending zero or more events to <paramref name="output"/>.</summary>
    AdapterResult Process(in InboundMessage message, in TopicMatch match, List<PrinterEvent> output);

    /// <summary>Makes the state changes staged by the last <see cref="Process"/> call take effect.</summary>
    void Commit()
    {
    }

    /// <summary>Drops the state changes staged by the last <see cref="Process"/> call.</summary>
    void Discard()
    {
    }
}

/// <summary>What an adapter made of a message.</summary>
public readonly record struct AdapterResult
{
    private AdapterResult(bool accepted, string? reason, string? detail)
    {
        Accepted = accepted;
        Reason = reason;
        Detail = detail;
    }

    /// <summary>The message was understood (it may still have produced no event, for example a duplicate).</summary>
    public bool Accepted { get; }

    /// <summary>A short, stable, low-cardinality reason code when rejected (see <see cref="RejectReasons"/>).</summary>
    public string? Reason { get; }

    /// <summary>Human-readable detail: which field, what was wrong.</summary>
    public string? Detail { get; }

    /// <summary>The message was understood.</summary>
    public static AdapterResult Ok { get; } = new(true, null, null);

    /// <summary>The message cannot be used and goes to the dead-letter store.</summary>
    public static AdapterResult Rejected(string reason, string detail) => new(false, reason, detail);
}

/// <summary>Reason codes for rejected messages; they tag the dead-letter counter, so the set stays small.</summary>
public static class RejectReasons
{
    /// <summary>Not valid JSON (or not valid UTF-8).</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>A required field is missing.</summary>
    public const string MissingField = "missing_field";

    /// <summary>A field has the wrong JSON type or an out-of-range value.</summary>
    public const string InvalidField = "invalid_field";

    /// <summary>The <c>type</c> (or event name) is not one the adapter knows.</summary>
    public const string UnknownType = "unknown_type";

    /// <summary>No configured topic pattern matches the topic.</summary>
    public const string UnknownTopic = "unknown_topic";

    /// <summary>The payload is larger than the configured limit.</summary>
    public const string Oversize = "oversize";

    /// <summary>The event time is further in the future than the allowed clock skew.</summary>
    public const string FutureTimestamp = "future_timestamp";

    /// <summary>An unexpected exception while processing; a bug, but ingestion goes on.</summary>
    public const string ProcessingError = "processing_error";
}

/// <summary>
/// An adapter that keeps per-printer state needed to finish a job (Moonraker's merged <c>print_stats</c>, Bambu's
/// last <c>gcode_state</c>, OctoPrint's filament estimates). The worker checkpoints that state with the open jobs and
/// KPI windows, so a restart does not lose a job in progress.
/// </summary>
public interface ICheckpointableAdapter
{
    /// <summary>The adapter's state as JSON; <see langword="null"/> when it holds none.</summary>
    System.Text.Json.Nodes.JsonNode? SaveState();

    /// <summary>Replaces the adapter's state with one saved by <see cref="SaveState"/> (possibly by an older build: tolerate missing members).</summary>
    void RestoreState(System.Text.Json.Nodes.JsonNode state);
}
