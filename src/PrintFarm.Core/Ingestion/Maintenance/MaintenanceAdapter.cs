using System.Text.Json;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Ingestion.Maintenance;

/// <summary>
/// The operator's maintenance switch on <c>printfarm/maintenance/{printer}</c>: <c>{"maintenance": true, "ts": …}</c>
/// puts a printer into maintenance from <c>ts</c> (ISO 8601 or epoch seconds), <c>false</c> takes it out. Publish it
/// retained, so a restarted worker sees the current switch; applying the same switch again changes nothing. The
/// worker's <c>POST /maintenance/{printer}</c> journals the same body on this topic (<see cref="TryRead"/> checks it).
/// </summary>
public sealed class MaintenanceAdapter : IPrinterAdapter
{
    /// <summary>Default topic pattern.</summary>
    public const string DefaultTopic = "printfarm/maintenance/{printer}";

    /// <summary>The adapter's source name.</summary>
    public const string SourceName = "maintenance";

    /// <summary>Creates the adapter on <paramref name="topic"/> (default <see cref="DefaultTopic"/>).</summary>
    public MaintenanceAdapter(string? topic = null) => Topics = [new TopicPattern(string.IsNullOrWhiteSpace(topic) ? DefaultTopic : topic)];

    /// <inheritdoc />
    public string Source => SourceName;

    /// <inheritdoc />
    public IReadOnlyList<TopicPattern> Topics { get; }

    /// <inheritdoc />
    public AdapterResult Process(in InboundMessage message, in TopicMatch match, List<PrinterEvent> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (TryRead(message.Payload.Span, out var on, out var at) is { } rejected)
        {
            return rejected;
        }

        if (at is not { } ts)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'ts' is required: maintenance is accounted in event time");
        }

        output.Add(new PrinterEvent { Kind = EventKind.Status, Printer = match.Printer, Source = SourceName, Timestamp = ts, Maintenance = on });
        return AdapterResult.Ok;
    }

    /// <summary>
    /// Reads a switch body: <paramref name="on"/> from <c>maintenance</c> (required) and <paramref name="at"/> from
    /// <c>ts</c> (null when absent). Returns the rejection when the body is not a valid switch, else null.
    /// </summary>
    public static AdapterResult? TryRead(ReadOnlySpan<byte> payload, out bool on, out DateTimeOffset? at)
    {
        on = false;
        at = null;
        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, "payload is not valid UTF-8");
        }

        var fields = new Fields();
        if (JsonValues.ReadObject(payload, ref fields, ReadProperty) is { } rejected)
        {
            return rejected;
        }

        if (fields.On is not { } value)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'maintenance' (true or false) is required");
        }

        on = value;
        at = fields.Timestamp;
        return null;
    }

    private static string? ReadProperty(ref Utf8JsonReader reader, ref Fields f)
    {
        if (reader.ValueTextEquals("maintenance"u8))
        {
            reader.Read();
            if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
            {
                return "'maintenance' must be true or false";
            }

            f.On = reader.TokenType == JsonTokenType.True;
            return null;
        }

        if (reader.ValueTextEquals("ts"u8))
        {
            reader.Read();
            switch (reader.TokenType)
            {
                case JsonTokenType.Number when reader.TryGetDouble(out var epoch) && EventTime.TryFromEpoch(epoch, out var fromEpoch):
                    f.Timestamp = fromEpoch;
                    return null;
                case JsonTokenType.String when EventTime.TryFromIso(reader.GetString(), out var fromIso):
                    f.Timestamp = fromIso;
                    return null;
                default:
                    return "'ts' must be an ISO 8601 time with offset or epoch seconds";
            }
        }

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    private struct Fields
    {
        public bool? On;
        public DateTimeOffset? Timestamp;
    }
}
