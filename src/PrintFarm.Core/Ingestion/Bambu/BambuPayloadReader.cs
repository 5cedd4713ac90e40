using System.Text.Json;

namespace PrintFarm.Core.Ingestion.Bambu;

/// <summary>What one Bambu report says: only the fields it carries (P1/A1 send deltas), read and validated.</summary>
internal struct BambuReport
{
    public bool IsPushStatus;
    public bool? Online;
    public string? GcodeState;
    public string? SubtaskName;
    public string? GcodeFile;
    public string? TaskId;
    public string? SubtaskId;
    public long? PrintError;

    /// <summary><c>fail_reason</c>: a string error code; a cancel's FAILED may carry the cancel code here.</summary>
    public long? FailReason;
    public long? GcodeStartTime;
    public double? Percent;
    public double? Nozzle;
    public double? NozzleTarget;
    public double? Bed;
    public double? BedTarget;

    /// <summary><c>ams.tray_now</c>: the tray feeding the nozzle (AMS unit × 4 + slot; 254 the external spool, 255 none).</summary>
    public int? TrayNow;

    /// <summary><c>tray_type</c> of each AMS tray this report lists, by <see cref="TrayNow"/> index.</summary>
    public List<KeyValuePair<int, string>>? Trays;

    /// <summary><c>vt_tray.tray_type</c>: the external spool's material.</summary>
    public string? ExternalTray;

    /// <summary>Dual-nozzle printers (H2D): the active extruder, from <c>device.extruder.state</c>.</summary>
    public int? ActiveExtruder;

    /// <summary>Dual-nozzle printers: each extruder's (current, target) °C from <c>device.extruder.info[]</c>, by id 0 and 1.</summary>
    public double? Extruder0;
    public double? Extruder0Target;
    public double? Extruder1;
    public double? Extruder1Target;
}

/// <summary>Reads Bambu Lab <c>device/{serial}/report</c> payloads into <see cref="BambuReport"/>s. Pure: no state, no clock.</summary>
internal static class BambuPayloadReader
{
    /// <summary><c>tray_now</c> of the external spool (<c>vt_tray</c>).</summary>
    public const int ExternalTrayIndex = 254;

    /// <summary><c>tray_now</c> when no filament is loaded.</summary>
    public const int NoTray = 255;

    /// <summary>Reads the whole payload (already valid UTF-8); returns the rejection, or null.</summary>
    public static AdapterResult? Read(ReadOnlySpan<byte> payload, out BambuReport report)
    {
        report = default;
        return JsonValues.ReadObject(payload, ref report, ReadTop);
    }

    // {"print": {...}} is a status report; {"event": {...}} a cloud presence change; other report types are skipped.
    private static string? ReadTop(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (reader.ValueTextEquals("print"u8))
        {
            return ReadPrint(ref reader, ref r);
        }

        if (reader.ValueTextEquals("event"u8))
        {
            return ReadEvent(ref reader, ref r);
        }

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    private static string? ReadEvent(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present) || !present)
        {
            return null;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("event"u8))
            {
                JsonValues.SkipProperty(ref reader);
                continue;
            }

            reader.Read();
            if (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("client.connected"u8))
            {
                r.Online = true;
            }
            else if (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("client.disconnected"u8))
            {
                r.Online = false;
            }
            else
            {
                JsonValues.SkipValue(ref reader);
            }
        }

        return null;
    }

    private static string? ReadPrint(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present) || !present)
        {
            return "'print' must be an object";
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var bad = ReadPrintField(ref reader, ref r);
            if (bad is not null)
            {
                return bad;
            }
        }

        return null;
    }

    private static string? ReadPrintField(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (reader.ValueTextEquals("command"u8))
        {
            reader.Read();
            r.IsPushStatus = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("push_status"u8);
            JsonValues.SkipValue(ref reader);
            return null;
        }

        if (reader.ValueTextEquals("gcode_state"u8))
        {
            if (!JsonValues.TryString(ref reader, out var state))
            {
                return "'print.gcode_state' must be a string";
            }

            if (state is not null && (state.Length > 32 || JsonValues.HasLineBreak(state)))
            {
                return "'print.gcode_state' is not a state name";
            }

            r.GcodeState = state?.ToUpperInvariant();
            return null;
        }

        if (reader.ValueTextEquals("subtask_name"u8)) return Name(ref reader, "print.subtask_name", out r.SubtaskName);
        if (reader.ValueTextEquals("gcode_file"u8)) return Name(ref reader, "print.gcode_file", out r.GcodeFile);
        if (reader.ValueTextEquals("task_id"u8)) return Id(ref reader, "print.task_id", out r.TaskId);
        if (reader.ValueTextEquals("subtask_id"u8)) return Id(ref reader, "print.subtask_id", out r.SubtaskId);
        if (reader.ValueTextEquals("print_error"u8)) return ErrorCode(ref reader, "print.print_error", out r.PrintError);
        if (reader.ValueTextEquals("fail_reason"u8))
        {
            // Informational only: a value that is not a code is ignored rather than costing the report.
            r.FailReason = JsonValues.TryNumberOrNumericString(ref reader, out var reason) && reason is >= 0 and <= uint.MaxValue ? (long)reason.Value : null;
            return null;
        }

        if (reader.ValueTextEquals("gcode_start_time"u8))
        {
            // A string of epoch seconds ("1681479206") on current firmware.
            if (!JsonValues.TryNumberOrNumericString(ref reader, out var epoch) || epoch is < 0 or > 253402300799)
            {
                return "'print.gcode_start_time' must be epoch seconds";
            }

            r.GcodeStartTime = epoch is { } e ? (long)e : null;
            return null;
        }

        if (reader.ValueTextEquals("mc_percent"u8))
        {
            if (!JsonValues.TryNumberOrNumericString(ref reader, out r.Percent) || r.Percent is < 0 or > 100)
            {
                return "'print.mc_percent' must be a percentage 0–100";
            }

            return null;
        }

        if (reader.ValueTextEquals("nozzle_temper"u8)) return Temperature(ref reader, "print.nozzle_temper", out r.Nozzle);
        if (reader.ValueTextEquals("nozzle_target_temper"u8)) return Temperature(ref reader, "print.nozzle_target_temper", out r.NozzleTarget);
        if (reader.ValueTextEquals("bed_temper"u8)) return Temperature(ref reader, "print.bed_temper", out r.Bed);
        if (reader.ValueTextEquals("bed_target_temper"u8)) return Temperature(ref reader, "print.bed_target_temper", out r.BedTarget);
        if (reader.ValueTextEquals("ams"u8)) return ReadAms(ref reader, ref r);
        if (reader.ValueTextEquals("vt_tray"u8)) return ReadExternalTray(ref reader, ref r);
        if (reader.ValueTextEquals("device"u8)) return ReadDevice(ref reader, ref r);

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    // "ams": {"ams": [{"id": "0", "tray": [{"id": "0", "tray_type": "PLA", …}, …]}, …], "tray_now": "0", …}
    private static string? ReadAms(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present))
        {
            return "'print.ams' must be an object";
        }

        while (present && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("tray_now"u8))
            {
                if (!JsonValues.TryNumberOrNumericString(ref reader, out var now) || now is < 0 or > 65535)
                {
                    return "'print.ams.tray_now' must be a tray number";
                }

                r.TrayNow = now is { } n ? (int)n : null;
            }
            else if (reader.ValueTextEquals("ams"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    JsonValues.SkipValue(ref reader);
                    return "'print.ams.ams' must be an array";
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var bad = ReadAmsUnit(ref reader, ref r);
                    if (bad is not null)
                    {
                        return bad;
                    }
                }
            }
            else
            {
                JsonValues.SkipProperty(ref reader);
            }
        }

        return null;
    }

    // The reader is on the unit's first token. Units 0–3 hold four trays (index unit × 4 + slot); AMS HT units
    // (id 128 and up) hold one, indexed by the unit id.
    private static string? ReadAmsUnit(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            JsonValues.SkipValue(ref reader);
            return "'print.ams.ams' units must be objects";
        }

        int? unit = null;
        List<KeyValuePair<int, string>>? trays = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                if (!JsonValues.TryNumberOrNumericString(ref reader, out var id) || id is < 0 or > 255)
                {
                    return "'print.ams.ams[].id' must be a unit number";
                }

                unit = id is { } u ? (int)u : null;
            }
            else if (reader.ValueTextEquals("tray"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    JsonValues.SkipValue(ref reader);
                    return "'print.ams.ams[].tray' must be an array";
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var bad = ReadTray(ref reader, out var slot, out var type);
                    if (bad is not null)
                    {
                        return bad;
                    }

                    if (slot is { } s && type is not null)
                    {
                        (trays ??= []).Add(new(s, type));
                    }
                }
            }
            else
            {
                JsonValues.SkipProperty(ref reader);
            }
        }

        if (unit is { } number && trays is not null)
        {
            foreach (var (slot, type) in trays)
            {
                var index = number >= 128 ? number : (number * 4) + slot;
                (r.Trays ??= []).Add(new(index, type));
            }
        }

        return null;
    }

    // The reader is on the tray's first token: {"id": "0", "tray_type": "PLA", …}.
    private static string? ReadTray(ref Utf8JsonReader reader, out int? slot, out string? type)
    {
        slot = null;
        type = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            JsonValues.SkipValue(ref reader);
            return "'print.ams' trays must be objects";
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                if (!JsonValues.TryNumberOrNumericString(ref reader, out var id) || id is < 0 or > 255)
                {
                    return "'print.ams' tray 'id' must be a slot number";
                }

                slot = id is { } i ? (int)i : null;
            }
            else if (reader.ValueTextEquals("tray_type"u8))
            {
                if (!JsonValues.TryName(ref reader, out type, Normalization.TagValue.MaxNameLength))
                {
                    return "'print.ams' tray 'tray_type' must be a string";
                }
            }
            else
            {
                JsonValues.SkipProperty(ref reader);
            }
        }

        return null;
    }

    private static string? ReadExternalTray(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present))
        {
            return "'print.vt_tray' must be an object";
        }

        while (present && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("tray_type"u8))
            {
                if (!JsonValues.TryName(ref reader, out r.ExternalTray, Normalization.TagValue.MaxNameLength))
                {
                    return "'print.vt_tray.tray_type' must be a string";
                }
            }
            else
            {
                JsonValues.SkipProperty(ref reader);
            }
        }

        return null;
    }

    // "device": {"extruder": {"state": 16, "info": [{"id": 0, "temp": (target << 16) | current}, {"id": 1, …}]}, …}
    // on dual-nozzle printers (H2D); the active extruder is bits 4–7 of the state.
    private static string? ReadDevice(ref Utf8JsonReader reader, ref BambuReport r)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present))
        {
            return "'print.device' must be an object";
        }

        while (present && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("extruder"u8))
            {
                JsonValues.SkipProperty(ref reader);
                continue;
            }

            if (!JsonValues.TryStartObject(ref reader, out var extruder))
            {
                return "'print.device.extruder' must be an object";
            }

            while (extruder && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("state"u8))
                {
                    if (!JsonValues.TryNumberOrNumericString(ref reader, out var state) || state is < 0 or > int.MaxValue)
                    {
                        return "'print.device.extruder.state' must be a number";
                    }

                    r.ActiveExtruder = state is { } st ? ((int)st >> 4) & 0xF : null;
                }
                else if (reader.ValueTextEquals("info"u8))
                {
                    var bad = ReadExtruders(ref reader, ref r);
                    if (bad is not null)
                    {
                        return bad;
                    }
                }
                else
                {
                    JsonValues.SkipProperty(ref reader);
                }
            }
        }

        return null;
    }

    private static string? ReadExtruders(ref Utf8JsonReader reader, ref BambuReport r)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            JsonValues.SkipValue(ref reader);
            return "'print.device.extruder.info' must be an array";
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                JsonValues.SkipValue(ref reader);
                return "'print.device.extruder.info' entries must be objects";
            }

            double? id = null;
            double? packed = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    if (!JsonValues.TryNumberOrNumericString(ref reader, out id))
                    {
                        return "'print.device.extruder.info[].id' must be a number";
                    }
                }
                else if (reader.ValueTextEquals("temp"u8))
                {
                    if (!JsonValues.TryNumberOrNumericString(ref reader, out packed) || packed is < 0 or > uint.MaxValue)
                    {
                        return "'print.device.extruder.info[].temp' must be a packed temperature";
                    }
                }
                else
                {
                    JsonValues.SkipProperty(ref reader);
                }
            }

            if (packed is not { } p)
            {
                continue;
            }

            var word = (uint)p;
            double current = word & 0xFFFF;
            double target = word >> 16;
            switch (id)
            {
                case 0:
                    (r.Extruder0, r.Extruder0Target) = (current, target);
                    break;
                case 1:
                    (r.Extruder1, r.Extruder1Target) = (current, target);
                    break;
            }
        }

        return null;
    }

    // Names are sanitized, never a reason to reject a report.
    private static string? Name(ref Utf8JsonReader reader, string name, out string? value) =>
        JsonValues.TryName(ref reader, out value) ? null : $"'{name}' must be a string";

    private static string? Id(ref Utf8JsonReader reader, string name, out string? value)
    {
        if (!JsonValues.TryId(ref reader, out value))
        {
            return $"'{name}' must be a string or number";
        }

        value = Normalization.TagValue.CleanFile(value);
        return null;
    }

    private static string? ErrorCode(ref Utf8JsonReader reader, string name, out long? value)
    {
        value = null;
        if (!JsonValues.TryNumberOrNumericString(ref reader, out var code) || code is < 0 or > uint.MaxValue)
        {
            return $"'{name}' must be an error code";
        }

        value = code is { } c ? (long)c : null;
        return null;
    }

    private static string? Temperature(ref Utf8JsonReader reader, string name, out double? value) =>
        JsonValues.TryNumberOrNumericString(ref reader, out value) && value is null or (>= -300 and <= 2000) ? null : $"'{name}' must be a temperature in °C";
}
