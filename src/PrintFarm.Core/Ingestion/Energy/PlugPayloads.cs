using System.Globalization;
using System.Text.Json;

namespace PrintFarm.Core.Ingestion.Energy;

/// <summary>One reading of a plug's cumulative energy counter.</summary>
/// <param name="Time">When the counter had this value (event time, UTC).</param>
/// <param name="CounterKwh">The counter, kWh. It only grows, except when the plug resets it (a restart, a reset command).</param>
public readonly record struct EnergyReading(DateTimeOffset Time, double CounterKwh);

/// <summary>
/// Reads smart-plug payloads into <see cref="EnergyReading"/>s. No state: a payload is read whole or refused.
/// Sources: Tasmota's <c>tele/&lt;topic&gt;/SENSOR</c> (tasmota.github.io/docs, "JSON Status Responses": the
/// <c>ENERGY</c> object, <c>Total</c> in kWh; <c>Time</c> is the device's local time without an offset, sent every
/// <c>TelePeriod</c>, 300 s by default) and Shelly Gen2's <c>&lt;prefix&gt;/status/switch:0</c>
/// (shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch, status: <c>aenergy.total</c> in Wh,
/// <c>aenergy.minute_ts</c> the Unix time, UTC, of the first second of the last minute).
/// </summary>
public static class PlugPayloads
{
    // No plug's lifetime counter comes near a billion kWh; a larger value is garbage, not energy.
    private const double MaxCounterKwh = 1e9;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 16 };

    /// <summary>
    /// A Tasmota <c>SENSOR</c> payload. <c>Time</c> (local to the plug) is read in <paramref name="zone"/>, the farm's
    /// zone; without it the receive time stands in. A payload without <c>ENERGY.Total</c> is refused.
    /// </summary>
    public static AdapterResult ReadTasmota(ReadOnlySpan<byte> payload, TimeZoneInfo zone, DateTimeOffset receivedAt, out EnergyReading reading)
    {
        ArgumentNullException.ThrowIfNull(zone);
        reading = default;
        if (Parse(payload, out var doc) is { } bad)
        {
            return bad;
        }

        using (doc)
        {
            var root = doc!.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return AdapterResult.Rejected(RejectReasons.InvalidField, "the payload must be a JSON object");
            }

            if (!root.TryGetProperty("ENERGY", out var energy) || energy.ValueKind != JsonValueKind.Object || !energy.TryGetProperty("Total", out var total))
            {
                return AdapterResult.Rejected(RejectReasons.MissingField, "'ENERGY.Total' is required (the plug has no energy monitoring, or this is not its SENSOR message)");
            }

            if (Counter(total, 1.0, "ENERGY.Total") is { } badTotal)
            {
                return badTotal;
            }

            var time = receivedAt;
            if (root.TryGetProperty("Time", out var t))
            {
                if (t.ValueKind != JsonValueKind.String || !TryLocalTime(t.GetString()!, zone, out time))
                {
                    return AdapterResult.Rejected(RejectReasons.InvalidField, "'Time' must be a local date-time such as 2026-01-05T08:00:00");
                }
            }

            reading = new EnergyReading(time, total.GetDouble());
            return AdapterResult.Ok;
        }
    }

    /// <summary>
    /// A Shelly Gen2 <c>status/switch:0</c> payload. <c>aenergy.minute_ts</c> is the reading's time (so it is up to a
    /// minute early); without it the receive time stands in. A payload without <c>aenergy.total</c> is refused.
    /// </summary>
    public static AdapterResult ReadShelly(ReadOnlySpan<byte> payload, DateTimeOffset receivedAt, out EnergyReading reading)
    {
        reading = default;
        if (Parse(payload, out var doc) is { } bad)
        {
            return bad;
        }

        using (doc)
        {
            var root = doc!.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return AdapterResult.Rejected(RejectReasons.InvalidField, "the payload must be a JSON object");
            }

            if (!root.TryGetProperty("aenergy", out var energy) || energy.ValueKind != JsonValueKind.Object || !energy.TryGetProperty("total", out var total))
            {
                return AdapterResult.Rejected(RejectReasons.MissingField, "'aenergy.total' is required (the switch has no power metering, or this is not its status)");
            }

            if (Counter(total, 1000.0, "aenergy.total") is { } badTotal)
            {
                return badTotal;
            }

            var time = receivedAt;
            if (energy.TryGetProperty("minute_ts", out var ts) && ts.ValueKind != JsonValueKind.Null)
            {
                if (ts.ValueKind != JsonValueKind.Number || !EventTime.TryFromEpoch(ts.GetDouble(), out time))
                {
                    return AdapterResult.Rejected(RejectReasons.InvalidField, "'aenergy.minute_ts' must be a Unix time in seconds");
                }
            }

            reading = new EnergyReading(time, total.GetDouble() / 1000.0);
            return AdapterResult.Ok;
        }
    }

    private static AdapterResult? Parse(ReadOnlySpan<byte> payload, out JsonDocument? doc)
    {
        doc = null;

        // JsonDocument checks only the strings it is asked to decode; bad bytes in an ignored field would pass.
        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, "payload is not valid UTF-8");
        }

        try
        {
            doc = JsonDocument.Parse(payload.ToArray(), Options);
            return null;
        }
        catch (JsonException ex)
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, ex.Message);
        }
        catch (ArgumentException ex)
        {
            // Invalid UTF-8 surfaces as an ArgumentException from the decoder.
            return AdapterResult.Rejected(RejectReasons.InvalidJson, ex.Message);
        }
    }

    private static AdapterResult? Counter(JsonElement total, double perKwh, string name)
    {
        if (total.ValueKind != JsonValueKind.Number || !total.TryGetDouble(out var value) || !double.IsFinite(value) || value < 0 || value / perKwh > MaxCounterKwh)
        {
            return AdapterResult.Rejected(RejectReasons.InvalidField, $"'{name}' must be a non-negative number (the cumulative counter)");
        }

        return null;
    }

    // Tasmota writes its local time without an offset. In the hour a daylight-saving change repeats, the standard-time
    // reading is taken (TimeZoneInfo's choice); a skipped local time is not a real reading and is refused.
    private static bool TryLocalTime(string text, TimeZoneInfo zone, out DateTimeOffset time)
    {
        time = default;
        if (!DateTime.TryParseExact(text.Trim(), ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)
            || zone.IsInvalidTime(local))
        {
            return false;
        }

        time = new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), zone), TimeSpan.Zero);
        return true;
    }
}
