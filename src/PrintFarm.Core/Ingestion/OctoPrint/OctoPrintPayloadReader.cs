using System.Globalization;
using System.Text.Json;

namespace PrintFarm.Core.Ingestion.OctoPrint;

/// <summary>Which of the plugin's topics a payload came from: each has its own checks.</summary>
internal enum OctoPrintTopicKind
{
    /// <summary><c>event/{name}</c>.</summary>
    Event,

    /// <summary><c>progress/{printing|slicing}</c>.</summary>
    Progress,

    /// <summary><c>temperature/{heater}</c>.</summary>
    Temperature,
}

/// <summary>The fields of one OctoPrint-MQTT JSON payload the adapter uses, read and validated; the rest is skipped.</summary>
internal struct OctoPrintReport
{
    /// <summary><c>_timestamp</c>: <c>int(time.time())</c> (octoprint_mqtt <c>mqtt_publish_with_timestamp</c>), epoch seconds.</summary>
    public long? Timestamp;
    public string? Path;
    public string? Name;

    /// <summary>Pre-1.3 event payloads: <c>file</c> (the full path on disk) and <c>filename</c> (the name).</summary>
    public string? LegacyFile;
    public string? LegacyFilename;
    public string? Reason;

    /// <summary>PrintFailed(reason=error): <c>error</c>, the error text; PrintCancelled/PrintFailed: <c>user</c>, who took the action.</summary>
    public string? Error;
    public string? User;
    public double? Progress;
    public double? PrintTime;
    public double? Actual;
    public double? Target;
    public double? AnalysisFilamentMm;
    public double? AnalysisSeconds;
    public double? PrinterDataFilamentMm;
    public double? PrinterDataSeconds;

    /// <summary>The file a print event names: <c>path</c>, else <c>name</c>, else the pre-1.3 <c>filename</c>/<c>file</c>.</summary>
    public readonly string? File => Path ?? Name ?? LegacyFilename ?? LegacyFile;
}

/// <summary>Reads OctoPrint-MQTT payloads into <see cref="OctoPrintReport"/>s. Pure: no state, no clock.</summary>
internal static class OctoPrintPayloadReader
{
    /// <summary>Reads the whole payload; returns the rejection, or null when <paramref name="report"/> is valid.</summary>
    public static AdapterResult? Read(ReadOnlySpan<byte> payload, OctoPrintTopicKind kind, out OctoPrintReport report)
    {
        report = default;
        if (JsonValues.ReadObject(payload, ref report, ReadProperty) is { } rejected)
        {
            return rejected;
        }

        switch (kind)
        {
            case OctoPrintTopicKind.Progress when report.Progress is { } pct && pct is < 0 or > 100:
                return AdapterResult.Rejected(RejectReasons.InvalidField, $"'progress' is {pct.ToString(CultureInfo.InvariantCulture)}, outside 0..100");
            case OctoPrintTopicKind.Temperature when report.Actual is < -300 or > 2000 || report.Target is < -300 or > 2000:
                return AdapterResult.Rejected(RejectReasons.InvalidField, "'actual' and 'target' must be temperatures in °C");
            default:
                return null;
        }
    }

    private static string? ReadProperty(ref Utf8JsonReader reader, ref OctoPrintReport f)
    {
        if (reader.ValueTextEquals("_timestamp"u8))
        {
            if (!JsonValues.TryNumber(ref reader, out var ts))
            {
                return "'_timestamp' must be a number (epoch seconds)";
            }

            if (ts is { } t)
            {
                if (t is < 0 or > 253402300799)
                {
                    return "'_timestamp' is not a plausible epoch second";
                }

                f.Timestamp = (long)Math.Floor(t);
            }

            return null;
        }

        if (reader.ValueTextEquals("path"u8)) return Name(ref reader, "path", out f.Path);
        if (reader.ValueTextEquals("name"u8)) return Name(ref reader, "name", out f.Name);
        if (reader.ValueTextEquals("file"u8)) return Name(ref reader, "file", out f.LegacyFile);
        if (reader.ValueTextEquals("filename"u8)) return Name(ref reader, "filename", out f.LegacyFilename);
        if (reader.ValueTextEquals("reason"u8)) return JsonValues.TryString(ref reader, out f.Reason) ? null : "'reason' must be a string";

        // Informational only: a value of another type is ignored, never a reason to lose the end of a job.
        if (reader.ValueTextEquals("error"u8)) { f.Error = JsonValues.TryString(ref reader, out var error) ? error : null; return null; }
        if (reader.ValueTextEquals("user"u8)) { f.User = JsonValues.TryString(ref reader, out var user) ? user : null; return null; }
        if (reader.ValueTextEquals("progress"u8)) return JsonValues.TryNumber(ref reader, out f.Progress) ? null : "'progress' must be a number";
        if (reader.ValueTextEquals("time"u8))
        {
            // OctoPrint 1.11 may send null (getPrintTime() before the job had a start time).
            if (!JsonValues.TryNumber(ref reader, out f.PrintTime) || f.PrintTime is < 0 or > JsonValues.MaxDurationSeconds)
            {
                return "'time' must be a non-negative number of seconds";
            }

            return null;
        }

        if (reader.ValueTextEquals("actual"u8)) return JsonValues.TryNumber(ref reader, out f.Actual) ? null : "'actual' must be a number";
        if (reader.ValueTextEquals("target"u8)) return JsonValues.TryNumber(ref reader, out f.Target) ? null : "'target' must be a number";
        if (reader.ValueTextEquals("result"u8)) return ReadAnalysis(ref reader, "result", out f.AnalysisFilamentMm, out f.AnalysisSeconds);
        if (reader.ValueTextEquals("printer_data"u8)) return ReadPrinterData(ref reader, ref f);

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    // File names are sanitized, never a reason to reject: the print happened whatever its file is called.
    private static string? Name(ref Utf8JsonReader reader, string name, out string? value) =>
        JsonValues.TryName(ref reader, out value) ? null : $"'{name}' must be a string";

    // printer_data is OctoPrint's current data: {state, job:{file, estimatedPrintTime, filament:{tool0:{length, volume}}}, progress, …}.
    private static string? ReadPrinterData(ref Utf8JsonReader reader, ref OctoPrintReport f)
    {
        if (!JsonValues.TryStartObject(ref reader, out var present))
        {
            return "'printer_data' must be an object";
        }

        while (present && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("job"u8))
            {
                var bad = ReadAnalysis(ref reader, "printer_data.job", out f.PrinterDataFilamentMm, out f.PrinterDataSeconds);
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

        return null;
    }

    // Reads {estimatedPrintTime, filament:{toolN:{length mm, volume cm³}}}: the shape of both the analysis result
    // (filemanager/analysis.py) and the job data (api/datamodel.rst). Lengths are summed over tools.
    private static string? ReadAnalysis(ref Utf8JsonReader reader, string name, out double? filamentMm, out double? seconds)
    {
        filamentMm = null;
        seconds = null;
        if (!JsonValues.TryStartObject(ref reader, out var present))
        {
            return $"'{name}' must be an object";
        }

        while (present && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("estimatedPrintTime"u8))
            {
                if (!JsonValues.TryNumber(ref reader, out seconds) || seconds is < 0 or > JsonValues.MaxDurationSeconds)
                {
                    return $"'{name}.estimatedPrintTime' must be a non-negative number";
                }
            }
            else if (reader.ValueTextEquals("filament"u8))
            {
                var bad = ReadFilament(ref reader, name, out filamentMm);
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

        return null;
    }

    private static string? ReadFilament(ref Utf8JsonReader reader, string name, out double? millimetres)
    {
        millimetres = null;
        if (!JsonValues.TryStartObject(ref reader, out var present))
        {
            return $"'{name}.filament' must be an object";
        }

        while (present && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // tool0, tool1, …: each {length, volume} or null.
            if (!JsonValues.TryStartObject(ref reader, out var tool))
            {
                return $"'{name}.filament' tools must be objects";
            }

            while (tool && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("length"u8))
                {
                    if (!JsonValues.TryNumber(ref reader, out var length) || length is < 0)
                    {
                        return $"'{name}.filament' length must be a non-negative number (mm)";
                    }

                    if (length is { } l)
                    {
                        millimetres = (millimetres ?? 0) + l;
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
}
