using System.Text.Json;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Ingestion.Maintenance;

/// <summary>
/// The operator's maintenance switch on <c>printfarm/maintenance/{printer}</c>: <c>{"maintenance": true, "ts": …}</c>
/// puts a printer into maintenance from <c>ts</c> (ISO 8601 or epoch seconds), <c>false</c> takes it out. Publish it
/// retained, so a restarted worker sees the current switch; applying the same switch again changes nothing.
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
        if (!System.Text.Unicode.Utf8.IsValid(message.Payload.Span))
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, "payload is not valid UTF-8");
        }

        var fields = new Fields();
        if (JsonValues.ReadObject(message.Payload.Span, ref fields, ReadProperty) is { } rejected)
        {
            return rejected;
        }

        if (fields.On is not { } on)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'maintenance' (true or false) is required");
        }

        if (fields.Timestamp is not { } ts)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'ts' is required: maintenance is accounted in event time");
        }

        output.Add(new PrinterEvent { Kind = EventKind.Status, Printer = match.Printer, Source = SourceName, Timestamp = ts, Maintenance = on });
        return AdapterResult.Ok;
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
