using System.Text.Json;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Orders;

/// <summary>One line of an order: so many toys of one name, optionally of one material.</summary>
/// <param name="Toy">Toy name, spelled as the <c>toy</c> tag of jobs (matched without regard to case).</param>
/// <param name="Quantity">Toys ordered, at least 1.</param>
/// <param name="Material">Material the toys must be printed in (upper case), or null for any.</param>
public sealed record OrderLine(string Toy, int Quantity, string? Material);

/// <summary>A validated order message (docs/schema/order.schema.json), before it touches the order book.</summary>
/// <param name="Id">Order id, from the topic.</param>
/// <param name="Due">When the order must be complete (event time).</param>
/// <param name="Placed">When it was placed: the payload's <c>placed</c>, or the receive time when absent.</param>
/// <param name="Lines">Its lines; toys of the same name and material are merged into one line.</param>
/// <param name="Withdrawn">True for <c>"status": "cancelled"</c> or an empty payload (the retained message was cleared).</param>
public sealed record OrderReport(string Id, DateTimeOffset Due, DateTimeOffset Placed, IReadOnlyList<OrderLine> Lines, bool Withdrawn);

/// <summary>
/// Reads an order payload into an <see cref="OrderReport"/>, or says why it cannot be used. No state is read or
/// changed here: the order book applies a report only once it is valid whole.
/// </summary>
internal static class OrderReader
{
    /// <summary>Most lines one order may have.</summary>
    public const int MaxLines = 256;

    /// <summary>Largest quantity of one line.</summary>
    public const int MaxQuantity = 1_000_000;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = JsonValues.MaxDepth };

    /// <summary>Reads <paramref name="payload"/> for order <paramref name="id"/> received at <paramref name="receivedAt"/>.</summary>
    public static AdapterResult Read(string id, ReadOnlyMemory<byte> payload, DateTimeOffset receivedAt, out OrderReport? report)
    {
        report = null;
        if (payload.Span.Trim(" \t\r\n"u8).Length == 0)
        {
            // An empty retained message is how MQTT clears the retained order: the order is withdrawn.
            report = new OrderReport(id, default, receivedAt, [], Withdrawn: true);
            return AdapterResult.Ok;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(payload, Options);
        }
        catch (JsonException ex)
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, ex.Message);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return AdapterResult.Rejected(RejectReasons.InvalidJson, "an order is a JSON object");
            }

            if (root.TryGetProperty("status", out var status) && status.ValueKind != JsonValueKind.Null)
            {
                var text = status.ValueKind == JsonValueKind.String ? status.GetString() : null;
                if (text is not ("open" or "cancelled"))
                {
                    return AdapterResult.Rejected(RejectReasons.InvalidField, "'status' is \"open\" or \"cancelled\"");
                }

                if (text == "cancelled")
                {
                    report = new OrderReport(id, default, receivedAt, [], Withdrawn: true);
                    return AdapterResult.Ok;
                }
            }

            if (!root.TryGetProperty("due", out var dueValue) || dueValue.ValueKind == JsonValueKind.Null)
            {
                return AdapterResult.Rejected(RejectReasons.MissingField, "'due' is required");
            }

            if (!TryTime(dueValue, out var due))
            {
                return AdapterResult.Rejected(RejectReasons.InvalidField, "'due' is an ISO-8601 date-time or an epoch number");
            }

            var placed = receivedAt;
            if (root.TryGetProperty("placed", out var placedValue) && placedValue.ValueKind != JsonValueKind.Null && !TryTime(placedValue, out placed))
            {
                return AdapterResult.Rejected(RejectReasons.InvalidField, "'placed' is an ISO-8601 date-time or an epoch number");
            }

            if (!root.TryGetProperty("lines", out var lines) || lines.ValueKind == JsonValueKind.Null)
            {
                return AdapterResult.Rejected(RejectReasons.MissingField, "'lines' is required");
            }

            if (lines.ValueKind != JsonValueKind.Array || lines.GetArrayLength() is 0 or > MaxLines)
            {
                return AdapterResult.Rejected(RejectReasons.InvalidField, $"'lines' is an array of 1 to {MaxLines} lines");
            }

            var merged = new List<OrderLine>();
            var index = 0;
            foreach (var line in lines.EnumerateArray())
            {
                if (ReadLine(line, index++, out var read) is { } problem)
                {
                    return AdapterResult.Rejected(RejectReasons.InvalidField, problem);
                }

                var same = merged.FindIndex(l => string.Equals(l.Toy, read!.Toy, StringComparison.OrdinalIgnoreCase) && l.Material == read.Material);
                if (same < 0)
                {
                    merged.Add(read!);
                }
                else
                {
                    merged[same] = merged[same] with { Quantity = (int)Math.Min(MaxQuantity, (long)merged[same].Quantity + read!.Quantity) };
                }
            }

            report = new OrderReport(id, due, placed, merged, Withdrawn: false);
            return AdapterResult.Ok;
        }
    }

    private static string? ReadLine(JsonElement line, int index, out OrderLine? read)
    {
        read = null;
        if (line.ValueKind != JsonValueKind.Object)
        {
            return $"lines[{index}] is an object";
        }

        var toy = line.TryGetProperty("toy", out var t) && t.ValueKind == JsonValueKind.String ? TagValue.Clean(t.GetString(), string.Empty) : string.Empty;
        if (toy.Length == 0)
        {
            return $"lines[{index}].toy is a non-empty string";
        }

        if (!line.TryGetProperty("quantity", out var q) || q.ValueKind != JsonValueKind.Number || !q.TryGetInt32(out var quantity) || quantity is < 1 or > MaxQuantity)
        {
            return $"lines[{index}].quantity is a whole number from 1 to {MaxQuantity}";
        }

        string? material = null;
        if (line.TryGetProperty("material", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.String)
            {
                return $"lines[{index}].material is a string";
            }

            var cleaned = TagValue.Clean(m.GetString(), string.Empty);
            material = cleaned.Length == 0 ? null : cleaned.ToUpperInvariant();
        }

        read = new OrderLine(toy, quantity, material);
        return null;
    }

    private static bool TryTime(JsonElement value, out DateTimeOffset time)
    {
        time = default;
        return value.ValueKind switch
        {
            JsonValueKind.String => EventTime.TryFromIso(value.GetString(), out time),
            JsonValueKind.Number => value.TryGetDouble(out var n) && EventTime.TryFromEpoch(n, out time),
            _ => false,
        };
    }
}
