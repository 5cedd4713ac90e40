using System.Text;
using System.Text.Json;

namespace PrintFarm.Core.Ingestion.Moonraker;

/// <summary>What one Moonraker message says: only the fields it carries (Klipper sends deltas), read and validated.</summary>
internal struct MoonrakerReport
{
    /// <summary>
    /// <c>eventtime</c>: Klipper's monotonic reactor clock, seconds since the host booted (not epoch). It orders the
    /// messages of one boot and tells two jobs apart when their messages arrive in the same second.
    /// </summary>
    public double? EventTime;
    public string? State;
    public bool HasFilename;
    public string? Filename;
    public double? TotalDuration;
    public double? PrintDuration;
    public double? FilamentUsed;

    /// <summary><c>print_stats.message</c>: Klipper's error text ("" when none).</summary>
    public bool HasMessage;
    public string? Message;
    public double? Progress;
    public double? NozzleCelsius;
    public double? NozzleTargetCelsius;
    public double? BedCelsius;
    public double? BedTargetCelsius;
    public bool HasObjects;
    public int? ObjectCount;
    public bool? ServerOnline;
}

/// <summary>Reads Moonraker <c>[mqtt]</c> payloads into <see cref="MoonrakerReport"/>s. Pure: no state, no clock.</summary>
internal static class MoonrakerPayloadReader
{
    private enum KlipperObject
    {
        Other,
        PrintStats,
        VirtualSdcard,
        DisplayStatus,
        Extruder,
        HeaterBed,
        ExcludeObject,
    }

    /// <summary>Reads a <c>klipper/status</c> or <c>moonraker/status</c> payload; returns the rejection, or null.</summary>
    public static AdapterResult? ReadStatus(ReadOnlySpan<byte> payload, out MoonrakerReport d)
    {
        var read = default(StatusRead);
        var rejected = JsonValues.ReadObject(payload, ref read, ReadStatusProperty);
        d = read.Delta;
        if (rejected is not null)
        {
            return rejected;
        }

        return read.SawStatus || d.ServerOnline is not null
            ? null
            : AdapterResult.Rejected(RejectReasons.MissingField, "expected 'status' (klipper/status) or 'server' (moonraker/status)");
    }

    private static string? ReadStatusProperty(ref Utf8JsonReader reader, ref StatusRead read)
    {
        if (reader.ValueTextEquals("status"u8))
        {
            read.SawStatus = true;
            return ReadStatus(ref reader, ref read.Delta);
        }

        if (reader.ValueTextEquals("server"u8))
        {
            return ReadServer(ref reader, ref read.Delta);
        }

        if (reader.ValueTextEquals("eventtime"u8))
        {
            return EventTime(ref reader, ref read.Delta);
        }

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    /// <summary>Reads a split <c>klipper/state/{object}/{field}</c> payload; returns the rejection, or null.</summary>
    public static AdapterResult? ReadSplit(ReadOnlySpan<byte> payload, string obj, string field, out MoonrakerReport d)
    {
        var read = new SplitRead { Kind = ObjectOf(Encoding.UTF8.GetBytes(obj)), Field = Encoding.UTF8.GetBytes(field) };
        var rejected = JsonValues.ReadObject(payload, ref read, ReadSplitProperty);
        d = read.Delta;
        if (rejected is not null)
        {
            return rejected;
        }

        return read.SawValue ? null : AdapterResult.Rejected(RejectReasons.MissingField, "split status needs 'value'");
    }

    private static string? ReadSplitProperty(ref Utf8JsonReader reader, ref SplitRead read)
    {
        if (reader.ValueTextEquals("value"u8))
        {
            read.SawValue = true;
            return ReadField(ref reader, read.Kind, read.Field, ref read.Delta);
        }

        if (reader.ValueTextEquals("eventtime"u8))
        {
            return EventTime(ref reader, ref read.Delta);
        }

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    private struct StatusRead
    {
        public MoonrakerReport Delta;
        public bool SawStatus;
    }

    private struct SplitRead
    {
        public MoonrakerReport Delta;
        public KlipperObject Kind;
        public byte[] Field;
        public bool SawValue;
    }

    private static string? ReadServer(ref Utf8JsonReader reader, ref MoonrakerReport d)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("online"u8))
        {
            d.ServerOnline = true;
            return null;
        }

        if (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("offline"u8))
        {
            d.ServerOnline = false;
            return null;
        }

        JsonValues.SkipValue(ref reader);
        return "'server' must be online or offline";
    }

    // {"print_stats": {...}, "extruder": {...}, …}: one object per Klipper object, only changed fields inside.
    private static string? ReadStatus(ref Utf8JsonReader reader, ref MoonrakerReport d)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present) || !present)
        {
            return "'status' must be an object";
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var kind = ObjectOf(reader.HasValueSequence || reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan);
            if (!JsonValues.TryStartObject(ref reader, out var isObject))
            {
                return "each Klipper object in 'status' must be an object";
            }

            if (!isObject)
            {
                continue;
            }

            if (kind == KlipperObject.Other)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.HasValueSequence || reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
                var bad = ReadField(ref reader, kind, name, ref d);
                if (bad is not null)
                {
                    return bad;
                }
            }
        }

        return null;
    }

    // The reader is on the property whose value is the field's value. Unknown fields are skipped.
    private static string? ReadField(ref Utf8JsonReader reader, KlipperObject kind, scoped ReadOnlySpan<byte> field, ref MoonrakerReport d)
    {
        switch (kind)
        {
            case KlipperObject.PrintStats when field.SequenceEqual("state"u8):
                if (!JsonValues.TryString(ref reader, out var state) || state is null)
                {
                    return "'print_stats.state' must be a string";
                }

                if (state is not ("standby" or "printing" or "paused" or "complete" or "cancelled" or "error"))
                {
                    return $"'print_stats.state' '{PayloadText.Excerpt(state)}' is not standby, printing, paused, complete, cancelled or error";
                }

                d.State = state;
                return null;
            case KlipperObject.PrintStats when field.SequenceEqual("filename"u8):
                if (!JsonValues.TryName(ref reader, out d.Filename))
                {
                    return "'print_stats.filename' must be a string";
                }

                d.HasFilename = true;
                return null;
            case KlipperObject.PrintStats when field.SequenceEqual("message"u8):
                if (!JsonValues.TryString(ref reader, out d.Message))
                {
                    return "'print_stats.message' must be a string";
                }

                d.HasMessage = true;
                return null;
            case KlipperObject.PrintStats when field.SequenceEqual("total_duration"u8):
                return Duration(ref reader, "print_stats.total_duration", out d.TotalDuration);
            case KlipperObject.PrintStats when field.SequenceEqual("print_duration"u8):
                return Duration(ref reader, "print_stats.print_duration", out d.PrintDuration);
            case KlipperObject.PrintStats when field.SequenceEqual("filament_used"u8):
                return NonNegative(ref reader, "print_stats.filament_used", out d.FilamentUsed);
            case KlipperObject.VirtualSdcard or KlipperObject.DisplayStatus when field.SequenceEqual("progress"u8):
                // A 0–1 fraction in both objects.
                if (!JsonValues.TryNumber(ref reader, out var progress) || progress is < 0 or > 1)
                {
                    return "'progress' must be a fraction between 0 and 1";
                }

                d.Progress ??= progress;
                return null;
            case KlipperObject.Extruder when field.SequenceEqual("temperature"u8):
                return Temperature(ref reader, "extruder.temperature", out d.NozzleCelsius);
            case KlipperObject.Extruder when field.SequenceEqual("target"u8):
                return Temperature(ref reader, "extruder.target", out d.NozzleTargetCelsius);
            case KlipperObject.HeaterBed when field.SequenceEqual("temperature"u8):
                return Temperature(ref reader, "heater_bed.temperature", out d.BedCelsius);
            case KlipperObject.HeaterBed when field.SequenceEqual("target"u8):
                return Temperature(ref reader, "heater_bed.target", out d.BedTargetCelsius);
            case KlipperObject.ExcludeObject when field.SequenceEqual("objects"u8):
                return ReadObjects(ref reader, ref d);
            default:
                JsonValues.SkipProperty(ref reader);
                return null;
        }
    }

    private static string? ReadObjects(ref Utf8JsonReader reader, ref MoonrakerReport d)
    {
        reader.Read();
        d.HasObjects = true;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            JsonValues.SkipValue(ref reader);
            return "'exclude_object.objects' must be an array";
        }

        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            count++;
            JsonValues.SkipValue(ref reader);
        }

        d.ObjectCount = count > 0 ? count : null;
        return null;
    }

    private static string? NonNegative(ref Utf8JsonReader reader, string name, out double? value) =>
        JsonValues.TryNumber(ref reader, out value) && value is null or >= 0 ? null : $"'{name}' must be a non-negative number";

    private static string? Duration(ref Utf8JsonReader reader, string name, out double? value) =>
        JsonValues.TryNumber(ref reader, out value) && value is null or (>= 0 and <= JsonValues.MaxDurationSeconds) ? null : $"'{name}' must be a duration in seconds";

    private static string? Temperature(ref Utf8JsonReader reader, string name, out double? value) =>
        JsonValues.TryNumber(ref reader, out value) && value is null or (>= -300 and <= 2000) ? null : $"'{name}' must be a temperature in °C";

    private static KlipperObject ObjectOf(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual("print_stats"u8)) return KlipperObject.PrintStats;
        if (name.SequenceEqual("virtual_sdcard"u8)) return KlipperObject.VirtualSdcard;
        if (name.SequenceEqual("display_status"u8)) return KlipperObject.DisplayStatus;
        if (name.SequenceEqual("extruder"u8)) return KlipperObject.Extruder;
        if (name.SequenceEqual("heater_bed"u8)) return KlipperObject.HeaterBed;
        if (name.SequenceEqual("exclude_object"u8)) return KlipperObject.ExcludeObject;
        return KlipperObject.Other;
    }

    private static string? EventTime(ref Utf8JsonReader reader, ref MoonrakerReport d) =>
        JsonValues.TryNumber(ref reader, out d.EventTime) && d.EventTime is null or (>= 0 and <= JsonValues.MaxDurationSeconds)
            ? null
            : "'eventtime' must be a non-negative number of seconds";
}
