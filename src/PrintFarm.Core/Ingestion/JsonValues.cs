using System.Buffers.Text;
using System.Text.Json;

namespace PrintFarm.Core.Ingestion;

/// <summary>
/// Small readers over <see cref="Utf8JsonReader"/> shared by the printer adapters. Each is called with the reader on a
/// property name, reads (or skips) the value and reports whether it had the expected type. A JSON <c>null</c> is
/// always accepted as "absent". Nothing here allocates except the strings callers ask for.
/// </summary>
internal static class JsonValues
{
    /// <summary>Reads one top-level property (the reader is on its name); returns an error text, or null.</summary>
    public delegate string? PropertyReader<TState>(ref Utf8JsonReader reader, ref TState state)
        where TState : struct;

    /// <summary>Maximum nesting the adapters accept; printer payloads are at most four or five levels deep.</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Longest duration accepted, seconds (ten years). Anything longer is corrupt, and would overflow the
    /// date arithmetic that derives a start from an end and a print time.
    /// </summary>
    public const double MaxDurationSeconds = 10 * 366 * 86400.0;

    public static JsonReaderOptions ReaderOptions => new() { MaxDepth = MaxDepth };

    /// <summary>
    /// Reads a payload that must be exactly one JSON object, handing each top-level property to
    /// <paramref name="readProperty"/>. Returns null when it was read, or the rejection: <c>invalid_json</c> for
    /// anything malformed (including invalid UTF-8 in a string), <c>invalid_field</c> with the reader's error text.
    /// </summary>
    public static AdapterResult? ReadObject<TState>(ReadOnlySpan<byte> payload, ref TState state, PropertyReader<TState> readProperty)
        where TState : struct
    {
        try
        {
            var reader = new Utf8JsonReader(payload, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return AdapterResult.Rejected(RejectReasons.InvalidJson, "payload is not a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var bad = readProperty(ref reader, ref state);
                if (bad is not null)
                {
                    return AdapterResult.Rejected(RejectReasons.InvalidField, bad);
                }
            }

            // Anything after the root object (or a truncated one) is malformed.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return AdapterResult.Rejected(RejectReasons.InvalidJson, "payload is not a single JSON object");
            }
        }
        catch (JsonException ex)
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader reports invalid UTF-8 inside strings this way.
            return AdapterResult.Rejected(RejectReasons.InvalidJson, ex.Message);
        }

        return null;
    }

    /// <summary>Reads a finite number.</summary>
    public static bool TryNumber(ref Utf8JsonReader reader, out double? value)
    {
        reader.Read();
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetDouble(out var d) && double.IsFinite(d):
                value = d;
                return true;
            default:
                SkipValue(ref reader);
                return false;
        }
    }

    /// <summary>
    /// Reads a number, or a string holding one. Bambu firmware sends some numbers as strings
    /// (<c>gcode_start_time</c>, <c>fail_reason</c>) and the type has changed between firmware versions.
    /// </summary>
    public static bool TryNumberOrNumericString(ref Utf8JsonReader reader, out double? value)
    {
        reader.Read();
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetDouble(out var d) && double.IsFinite(d):
                value = d;
                return true;
            case JsonTokenType.String when !reader.ValueIsEscaped && !reader.HasValueSequence:
                var span = reader.ValueSpan;
                if (span.IsEmpty)
                {
                    return true;
                }

                if (Utf8Parser.TryParse(span, out double parsed, out var consumed) && consumed == span.Length && double.IsFinite(parsed))
                {
                    value = parsed;
                    return true;
                }

                return false;
            default:
                SkipValue(ref reader);
                return false;
        }
    }

    /// <summary>Reads a string; an empty string counts as absent.</summary>
    public static bool TryString(ref Utf8JsonReader reader, out string? value)
    {
        reader.Read();
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                var s = reader.GetString();
                value = string.IsNullOrEmpty(s) ? null : s;
                return true;
            default:
                SkipValue(ref reader);
                return false;
        }
    }

    /// <summary>Reads a string or a number as text (ids that firmware sends either way).</summary>
    public static bool TryId(ref Utf8JsonReader reader, out string? value)
    {
        reader.Read();
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                var s = reader.GetString();
                value = string.IsNullOrWhiteSpace(s) ? null : s.Trim();
                return true;
            case JsonTokenType.Number:
                value = System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
                return true;
            default:
                SkipValue(ref reader);
                return false;
        }
    }

    /// <summary>
    /// Reads a name (file, toy, material, task): a string, sanitized by <see cref="Normalization.TagValue"/> rather
    /// than rejected, so an odd name never costs a message. Null when absent or nothing is left.
    /// </summary>
    public static bool TryName(ref Utf8JsonReader reader, out string? value, int maxLength = Normalization.TagValue.MaxFileLength)
    {
        if (!TryString(ref reader, out var raw))
        {
            value = null;
            return false;
        }

        value = raw is null ? null : Normalization.TagValue.Clean(raw, string.Empty, maxLength) is { Length: > 0 } clean ? clean : null;
        return true;
    }

    /// <summary>
    /// Reads the value of the current property, which must be an object or <c>null</c>: true with
    /// <paramref name="present"/> set when the reader is now on the object's start, true with it unset for null,
    /// false (the value skipped) for anything else.
    /// </summary>
    public static bool TryStartObject(ref Utf8JsonReader reader, out bool present)
    {
        reader.Read();
        present = reader.TokenType == JsonTokenType.StartObject;
        if (present || reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        SkipValue(ref reader);
        return false;
    }

    /// <summary>Skips the value of the current property, whatever its shape.</summary>
    public static void SkipProperty(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
    }

    /// <summary>After reading a value token: skips it if it opened an object or array.</summary>
    public static void SkipValue(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }
    }

    /// <summary>True when a string would break a line-protocol field or a log line.</summary>
    public static bool HasLineBreak(string? s) => s is not null && s.AsSpan().IndexOfAny('\n', '\r') >= 0;
}
