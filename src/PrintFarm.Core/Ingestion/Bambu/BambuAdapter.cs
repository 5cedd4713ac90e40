using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Ingestion.Bambu;

/// <summary>
/// Bambu Lab <c>push_status</c> reports on <c>device/{serial}/report</c>. Job boundaries come from
/// <c>gcode_state</c> transitions, as ha-bambulab detects them. Reports carry no timestamp (event time is the
/// receive time) and no filament figure, so every Bambu job has <see cref="FilamentSource.Unknown"/> filament and is
/// left out of material efficiency.
/// </summary>
public sealed class BambuAdapter : IPrinterAdapter, ICheckpointableAdapter
{
    /// <summary>The <c>source</c> tag.</summary>
    public const string SourceName = "bambu";

    /// <summary><c>print_error</c> a user's cancel reports just before <c>FAILED</c>: Bambu has no cancelled state (ha-bambulab models.py).</summary>
    public const long CancelledPrintError = 50348044;

    private readonly PrinterStates<BambuPrinterState> _printers = new();
    private readonly Dictionary<string, string> _names;

    /// <summary>Creates the adapter.</summary>
    /// <exception cref="ArgumentException">The topic pattern is invalid.</exception>
    public BambuAdapter(BambuAdapterOptions? options = null)
    {
        options ??= new BambuAdapterOptions();
        Topics = options.BuildTopics();
        _names = new Dictionary<string, string>(options.Printers, StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public string Source => SourceName;

    /// <inheritdoc />
    public IReadOnlyList<TopicPattern> Topics { get; }

    /// <inheritdoc />
    public AdapterResult Process(in InboundMessage message, in TopicMatch match, List<PrinterEvent> output)
    {
        if (message.Payload.IsEmpty)
        {
            // A zero-length publish is how MQTT clears a retained message: not a report, not bad data.
            return AdapterResult.Ok;
        }

        var printer = _names.TryGetValue(match.Printer, out var name) ? name : match.Printer;
        var payload = PayloadText.Utf8OrLatin1(message.Payload);
        var r = default(Report);
        var error = Parse(payload.Span, ref r);
        if (error is not null)
        {
            return error.Value;
        }

        if (r.Online is { } online)
        {
            // Cloud broker only: {"event":{"event":"client.connected"|"client.disconnected"}} (ha-bambulab bambu_client.py).
            output.Add(new PrinterEvent { Kind = EventKind.Status, Printer = printer, Source = SourceName, Timestamp = message.ReceivedAt, Online = online });
        }

        if (r.IsPushStatus)
        {
            Apply(printer, message.ReceivedAt, message.Retained, r, output);
        }

        // Other report types (info, system, upgrade, command replies) are valid and carry no job data.
        return AdapterResult.Ok;
    }

    /// <inheritdoc />
    public void Commit() => _printers.Commit();

    /// <inheritdoc />
    public void Discard() => _printers.Discard();

    /// <inheritdoc />
    public JsonNode? SaveState() => _printers.Save();

    /// <inheritdoc />
    public void RestoreState(JsonNode state) => _printers.Restore(state);

    private void Apply(string printer, DateTimeOffset now, bool retained, in Report r, List<PrinterEvent> output)
    {
        var s = _printers.Get(printer);

        // P1/A1 send only changed fields, X1 the whole object: merging handles both.
        if (r.SubtaskName is not null) s.SubtaskName = r.SubtaskName;
        if (r.GcodeFile is not null) s.GcodeFile = r.GcodeFile;
        if (r.TaskId is not null) s.TaskId = r.TaskId;
        if (r.SubtaskId is not null) s.SubtaskId = r.SubtaskId;
        if (r.PrintError is not null) s.PrintError = r.PrintError;
        if (r.GcodeStartTime is not null) s.GcodeStartTime = r.GcodeStartTime;

        var old = s.GcodeState;
        if (r.GcodeState is { } next && IsLifecycle(next) && next != old)
        {
            s.GcodeState = next;
            Transition(printer, now, retained, old, next, s, r, output);
        }

        if (!retained && (r.GcodeState is not null || r.Percent is not null || r.Nozzle is not null || r.NozzleTarget is not null || r.Bed is not null || r.BedTarget is not null))
        {
            output.Add(new PrinterEvent
            {
                Kind = s.Job is null ? EventKind.Status : EventKind.JobProgress,
                Printer = printer,
                Source = SourceName,
                Timestamp = now,
                JobId = s.Job?.JobId,
                State = r.GcodeState,
                ProgressPercent = r.Percent,
                NozzleCelsius = r.Nozzle,
                NozzleTargetCelsius = r.NozzleTarget,
                BedCelsius = r.Bed,
                BedTargetCelsius = r.BedTarget,
            });
        }
    }

    private static void Transition(string printer, DateTimeOffset now, bool retained, string? old, string next, BambuPrinterState s, in Report r, List<PrinterEvent> output)
    {
        if (IsActive(next))
        {
            // A start is IDLE/FINISH/FAILED → PREPARE/RUNNING (PREPARE is the file download). First seeing an active
            // state (worker started mid-print) or idle → PAUSE is a missed start: the job is counted all the same.
            if (s.Job is null && !retained && (old is null || IsIdle(old)))
            {
                if (r.PrintError is null)
                {
                    // A cancel's print_error lingers in the merged state until firmware clears it.
                    s.PrintError = null;
                }

                var start = now;
                if (old is null && s.GcodeStartTime is { } epoch && epoch <= now.ToUnixTimeSeconds() && epoch > now.AddDays(-30).ToUnixTimeSeconds())
                {
                    // Only for a missed start: on a live start the merged gcode_start_time may still be the previous job's.
                    start = DateTimeOffset.FromUnixTimeSeconds(epoch);
                }

                s.Job = new BambuOpenJob { JobId = JobId(s, start), File = File(s), Start = start };
                output.Add(new PrinterEvent
                {
                    Kind = EventKind.JobStarted,
                    Printer = printer,
                    Source = SourceName,
                    Timestamp = start,
                    JobId = s.Job.JobId,
                    File = s.Job.File,
                });
            }

            return;
        }

        JobOutcome outcome;
        switch (next)
        {
            case "FINISH":
                outcome = JobOutcome.Completed;
                break;
            case "FAILED":
                outcome = s.PrintError == CancelledPrintError ? JobOutcome.Cancelled : JobOutcome.Failed;
                break;
            default:
                // Active → IDLE without FINISH or FAILED: the job was abandoned.
                outcome = JobOutcome.Cancelled;
                break;
        }

        var job = s.Job;
        if (job is null && (retained || old is null || IsIdle(old)))
        {
            // Nothing was printing as far as we know: an idle state replayed or reported at start-up.
            return;
        }

        output.Add(new PrinterEvent
        {
            Kind = EventKind.JobFinished,
            Printer = printer,
            Source = SourceName,
            Timestamp = now,
            JobId = job?.JobId ?? JobId(s, now),
            File = job?.File ?? File(s),
            Outcome = outcome,
            FilamentSource = FilamentSource.Unknown,
        });
        s.Job = null;
    }

    // Cloud prints carry task and subtask ids; LAN prints started from the SD card report "0" for both, so the file
    // and start time stand in.
    private static string JobId(BambuPrinterState s, DateTimeOffset start)
    {
        if (s.SubtaskId is { } subtask && subtask != "0")
        {
            return s.TaskId is { } task && task != "0" ? task + "/" + subtask : subtask;
        }

        if (s.TaskId is { } only && only != "0")
        {
            return only;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{File(s)}@{start.ToUnixTimeSeconds()}");
    }

    // subtask_name is the project/plate name the toy rule reads ("dragon_x4" or "dragon_PETG_plate_1").
    private static string? File(BambuPrinterState s) => s.SubtaskName ?? s.GcodeFile;

    private static bool IsActive(string state) => state is "PREPARE" or "RUNNING" or "PAUSE";

    private static bool IsIdle(string? state) => state is "IDLE" or "FINISH" or "FAILED";

    private static bool IsLifecycle(string state) => IsActive(state) || IsIdle(state);

    private static AdapterResult? Parse(ReadOnlySpan<byte> payload, ref Report r) =>
        JsonValues.ReadObject(payload, ref r, ReadTop);

    // {"print": {...}} is a status report; {"event": {...}} a cloud presence change; other report types are skipped.
    private static string? ReadTop(ref Utf8JsonReader reader, ref Report r)
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

    private static string? ReadEvent(ref Utf8JsonReader reader, ref Report r)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            JsonValues.SkipValue(ref reader);
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

    private static string? ReadPrint(ref Utf8JsonReader reader, ref Report r)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            JsonValues.SkipValue(ref reader);
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

    private static string? ReadPrintField(ref Utf8JsonReader reader, ref Report r)
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

        if (reader.ValueTextEquals("subtask_name"u8)) return Text(ref reader, "print.subtask_name", out r.SubtaskName);
        if (reader.ValueTextEquals("gcode_file"u8)) return Text(ref reader, "print.gcode_file", out r.GcodeFile);
        if (reader.ValueTextEquals("task_id"u8)) return Id(ref reader, "print.task_id", out r.TaskId);
        if (reader.ValueTextEquals("subtask_id"u8)) return Id(ref reader, "print.subtask_id", out r.SubtaskId);
        if (reader.ValueTextEquals("print_error"u8))
        {
            if (!JsonValues.TryNumberOrNumericString(ref reader, out var code) || code is < 0 or > uint.MaxValue)
            {
                return "'print.print_error' must be an error code";
            }

            r.PrintError = code is { } c ? (long)c : null;
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

        JsonValues.SkipProperty(ref reader);
        return null;
    }

    private static string? Text(ref Utf8JsonReader reader, string name, out string? value) =>
        JsonValues.TryString(ref reader, out value) && !JsonValues.HasLineBreak(value) ? null : $"'{name}' must be a single-line string";

    private static string? Id(ref Utf8JsonReader reader, string name, out string? value) =>
        JsonValues.TryId(ref reader, out value) && !JsonValues.HasLineBreak(value) ? null : $"'{name}' must be a string or number";

    private static string? Temperature(ref Utf8JsonReader reader, string name, out double? value) =>
        JsonValues.TryNumberOrNumericString(ref reader, out value) && value is null or (>= -300 and <= 2000) ? null : $"'{name}' must be a temperature in °C";

    private struct Report
    {
        public bool IsPushStatus;
        public bool? Online;
        public string? GcodeState;
        public string? SubtaskName;
        public string? GcodeFile;
        public string? TaskId;
        public string? SubtaskId;
        public long? PrintError;
        public long? GcodeStartTime;
        public double? Percent;
        public double? Nozzle;
        public double? NozzleTarget;
        public double? Bed;
        public double? BedTarget;
    }
}
