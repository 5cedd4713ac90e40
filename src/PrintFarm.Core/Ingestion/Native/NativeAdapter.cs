using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Ingestion.Native;

/// <summary>
/// The project's own schema on <c>printfarm/{printer}/event</c> (see <c>docs/schema/native-event.schema.json</c>).
/// Strict about types — a wrong type is a rejected message, not a guess — and lenient about unknown fields.
/// </summary>
public sealed class NativeAdapter : IPrinterAdapter
{
    /// <summary>Default topic pattern.</summary>
    public const string DefaultTopic = "printfarm/{printer}/event";

    /// <summary>The <c>source</c> tag.</summary>
    public const string SourceName = "native";

    // No print runs for a year; a larger duration is a unit mistake (milliseconds sent as seconds).
    private const double MaxDurationSeconds = 365 * 24 * 3600;

    // The longest property name of the schema ("estimated_time_s").
    private const int MaxPropertyNameBytes = 16;

    /// <summary>Creates the adapter listening on <paramref name="topics"/> (default <see cref="DefaultTopic"/>).</summary>
    public NativeAdapter(IEnumerable<string>? topics = null)
    {
        var list = topics?.ToList();
        Topics = (list is { Count: > 0 } ? list : [DefaultTopic]).Select(t => new TopicPattern(t)).ToArray();
    }

    /// <inheritdoc />
    public string Source => SourceName;

    /// <inheritdoc />
    public IReadOnlyList<TopicPattern> Topics { get; }

    /// <inheritdoc />
    public AdapterResult Process(in InboundMessage message, in TopicMatch match, List<PrinterEvent> output)
    {
        // Utf8JsonReader only checks the strings it is asked to decode; bad bytes in an ignored field would pass.
        if (!System.Text.Unicode.Utf8.IsValid(message.Payload.Span))
        {
            return AdapterResult.Rejected(RejectReasons.InvalidJson, "payload is not valid UTF-8");
        }

        var fields = new Fields();
        if (JsonValues.ReadObject(message.Payload.Span, ref fields, ReadProperty) is { } rejected)
        {
            return rejected;
        }

        return Build(match.Printer, fields, output);
    }

    private static AdapterResult Build(string printer, in Fields f, List<PrinterEvent> output)
    {
        if (f.Type is null)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'type' is required");
        }

        EventKind kind;
        switch (f.Type)
        {
            case "job_started": kind = EventKind.JobStarted; break;
            case "job_progress": kind = EventKind.JobProgress; break;
            case "job_finished": kind = EventKind.JobFinished; break;
            case "status": kind = EventKind.Status; break;
            case "energy": return Energy(printer, f, output);
            default:
                return AdapterResult.Rejected(RejectReasons.UnknownType, $"'type' '{Truncate(f.Type)}' is not job_started, job_progress, job_finished, status or energy");
        }

        if (f.Timestamp is not { } ts)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'ts' is required");
        }

        if (kind == EventKind.JobFinished && f.Outcome is null)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'outcome' is required on job_finished");
        }

        // 'reason' on a failed or cancelled job_finished: a taxonomy name, or free text (kept as the detail).
        ReasonReport? reason = kind == EventKind.JobFinished && f.Outcome != JobOutcome.Completed && f.Reason is not null
            ? FailureReasons.FromNative(f.Reason)
            : null;
        output.Add(new PrinterEvent
        {
            Kind = kind,
            Printer = printer,
            Source = SourceName,
            Timestamp = ts,
            JobId = f.JobId,
            File = f.File,
            Toy = f.Toy,
            Quantity = f.Quantity,
            Material = f.Material,
            Outcome = kind == EventKind.JobFinished ? f.Outcome : null,
            Reason = reason?.Reason,
            ReasonDetail = reason?.Detail,
            PrintTimeSeconds = f.PrintTime,
            FilamentGrams = f.FilamentG,
            FilamentMillimetres = f.FilamentMm,
            FilamentSource = f.FilamentG is not null || f.FilamentMm is not null ? FilamentSource.Measured : FilamentSource.Unknown,
            EstimatedTimeSeconds = f.EstimatedTime,
            ProgressPercent = f.Progress,
            State = f.State,
            NozzleCelsius = f.Nozzle,
            NozzleTargetCelsius = f.NozzleTarget,
            BedCelsius = f.Bed,
            BedTargetCelsius = f.BedTarget,
        });
        return AdapterResult.Ok;
    }

    // The printer's own cumulative energy counter: a reading for the energy meter and nothing else.
    private static AdapterResult Energy(string printer, in Fields f, List<PrinterEvent> output)
    {
        if (f.Timestamp is not { } ts)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'ts' is required");
        }

        if (f.EnergyKwh is not { } kwh)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "'energy_kwh' is required on energy");
        }

        output.Add(new PrinterEvent { Kind = EventKind.Status, Printer = printer, Source = SourceName, Timestamp = ts, EnergyKwh = kwh });
        return AdapterResult.Ok;
    }

    // Returns an error text, or null when the property was read (or skipped as unknown). The name's length picks the
    // one to three names it can be, so each property is compared with those only.
    private static string? ReadProperty(ref Utf8JsonReader reader, ref Fields f)
    {
        // A name written with JSON escapes is compared unescaped (never longer than escaped, and an escape is at most six
        // bytes per character); one longer than any known name is unknown.
        Span<byte> unescaped = stackalloc byte[6 * MaxPropertyNameBytes];
        var name = !reader.ValueIsEscaped ? reader.ValueSpan
            : reader.ValueSpan.Length <= unescaped.Length && reader.CopyString(unescaped) is var n and <= MaxPropertyNameBytes ? unescaped[..n]
            : default;
        switch (name.Length)
        {
            case 2:
                if (name.SequenceEqual("ts"u8)) return ReadTimestamp(ref reader, ref f);
                break;
            case 3:
                if (name.SequenceEqual("toy"u8)) return ReadName(ref reader, "toy", TagValue.MaxNameLength, out f.Toy);
                break;
            case 4:
                if (name.SequenceEqual("type"u8)) return ReadString(ref reader, "type", out f.Type);
                if (name.SequenceEqual("file"u8)) return ReadName(ref reader, "file", TagValue.MaxFileLength, out f.File);
                break;
            case 5:
                if (name.SequenceEqual("state"u8)) return ReadName(ref reader, "state", TagValue.MaxNameLength, out f.State);
                if (name.SequenceEqual("bed_c"u8)) return ReadNumber(ref reader, "bed_c", -300, out f.Bed);
                break;
            case 6:
                if (name.SequenceEqual("reason"u8)) return ReadString(ref reader, "reason", out f.Reason);
                // Names are labels: sanitized (docs/data-model.md, "Names"), never a reason to lose the event.
                if (name.SequenceEqual("job_id"u8)) return ReadName(ref reader, "job_id", TagValue.MaxFileLength, out f.JobId);
                break;
            case 7:
                if (name.SequenceEqual("outcome"u8)) return ReadOutcome(ref reader, ref f);
                break;
            case 8:
                if (name.SequenceEqual("nozzle_c"u8)) return ReadNumber(ref reader, "nozzle_c", -300, out f.Nozzle);
                if (name.SequenceEqual("material"u8)) return ReadName(ref reader, "material", TagValue.MaxNameLength, out f.Material);
                if (name.SequenceEqual("quantity"u8)) return ReadQuantity(ref reader, ref f);
                break;
            case 10:
                if (name.SequenceEqual("filament_g"u8)) return ReadNumber(ref reader, "filament_g", 0, out f.FilamentG);
                if (name.SequenceEqual("energy_kwh"u8)) return ReadNumber(ref reader, "energy_kwh", 0, out f.EnergyKwh, max: 1e9);
                break;
            case 11:
                if (name.SequenceEqual("filament_mm"u8)) return ReadNumber(ref reader, "filament_mm", 0, out f.FilamentMm);
                break;
            case 12:
                if (name.SequenceEqual("progress_pct"u8)) return ReadNumber(ref reader, "progress_pct", 0, out f.Progress, max: 100);
                if (name.SequenceEqual("bed_target_c"u8)) return ReadNumber(ref reader, "bed_target_c", -300, out f.BedTarget);
                if (name.SequenceEqual("print_time_s"u8)) return ReadNumber(ref reader, "print_time_s", 0, out f.PrintTime, max: MaxDurationSeconds);
                break;
            case 15:
                if (name.SequenceEqual("nozzle_target_c"u8)) return ReadNumber(ref reader, "nozzle_target_c", -300, out f.NozzleTarget);
                break;
            case 16:
                if (name.SequenceEqual("estimated_time_s"u8)) return ReadNumber(ref reader, "estimated_time_s", 0, out f.EstimatedTime, max: MaxDurationSeconds);
                break;
        }

        // Unknown fields are ignored, whatever their shape.
        reader.Read();
        reader.Skip();
        return null;
    }

    private static string? ReadString(ref Utf8JsonReader reader, string name, out string? value)
    {
        reader.Read();
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            SkipValue(ref reader);
            return $"'{name}' must be a string";
        }

        value = reader.GetString();
        if (value is not null && value.AsSpan().IndexOfAny('\n', '\r') >= 0)
        {
            return $"'{name}' must not contain line breaks";
        }

        if (value is { Length: 0 })
        {
            value = null;
        }

        return null;
    }

    private static string? ReadName(ref Utf8JsonReader reader, string name, int maxLength, out string? value) =>
        JsonValues.TryName(ref reader, out value, maxLength) ? null : $"'{name}' must be a string";

    private static string? ReadNumber(ref Utf8JsonReader reader, string name, double min, out double? value, double max = double.MaxValue)
    {
        reader.Read();
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var d) || !double.IsFinite(d))
        {
            SkipValue(ref reader);
            return $"'{name}' must be a number";
        }

        if (d < min || d > max)
        {
            return $"'{name}' is {d}, outside {min}..{max}";
        }

        value = d;
        return null;
    }

    private static string? ReadQuantity(ref Utf8JsonReader reader, ref Fields f)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var q) || q < 1)
        {
            SkipValue(ref reader);
            return "'quantity' must be an integer ≥ 1";
        }

        f.Quantity = q;
        return null;
    }

    private static string? ReadOutcome(ref Utf8JsonReader reader, ref Fields f)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            SkipValue(ref reader);
            return "'outcome' must be completed, failed or cancelled";
        }

        if (reader.ValueTextEquals("completed"u8)) f.Outcome = JobOutcome.Completed;
        else if (reader.ValueTextEquals("failed"u8)) f.Outcome = JobOutcome.Failed;
        else if (reader.ValueTextEquals("cancelled"u8) || reader.ValueTextEquals("canceled"u8)) f.Outcome = JobOutcome.Cancelled;
        else return "'outcome' must be completed, failed or cancelled";
        return null;
    }

    private static string? ReadTimestamp(ref Utf8JsonReader reader, ref Fields f)
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
                SkipValue(ref reader);
                return "'ts' must be an ISO-8601 string or epoch seconds/milliseconds";
        }
    }

    private static void SkipValue(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : string.Concat(s.AsSpan(0, 40), "…");

    private struct Fields
    {
        public string? Type;
        public DateTimeOffset? Timestamp;
        public string? JobId;
        public string? File;
        public string? Toy;
        public int? Quantity;
        public string? Material;
        public JobOutcome? Outcome;
        public string? Reason;
        public double? PrintTime;
        public double? FilamentG;
        public double? FilamentMm;
        public double? EstimatedTime;
        public double? Progress;
        public string? State;
        public double? Nozzle;
        public double? NozzleTarget;
        public double? Bed;
        public double? BedTarget;
        public double? EnergyKwh;
    }
}
