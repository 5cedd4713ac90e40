using System.Globalization;
using System.Text.Json.Nodes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Ingestion.Bambu;

/// <summary>
/// Bambu Lab <c>push_status</c> reports on <c>device/{serial}/report</c>. Job boundaries come from
/// <c>gcode_state</c> transitions, as ha-bambulab detects them. Reports carry no timestamp (event time is the
/// receive time) and no filament figure, so every Bambu job has <see cref="FilamentSource.Unknown"/> filament and is
/// left out of material efficiency. The material is the active spool's (<c>ams.tray_now</c> with the trays'
/// <c>tray_type</c>, or <c>vt_tray</c> for the external spool) when the printer reports it.
/// </summary>
public sealed class BambuAdapter : IPrinterAdapter, ICheckpointableAdapter
{
    /// <summary>The <c>source</c> tag.</summary>
    public const string SourceName = "bambu";

    /// <summary><c>print_error</c> a user's cancel reports around <c>FAILED</c>: Bambu has no cancelled state (ha-bambulab models.py).</summary>
    public const long CancelledPrintError = 50348044;

    private readonly PrinterStates<BambuPrinterState> _printers = new();
    private readonly Dictionary<string, string> _names;
    private readonly TimeSpan _cancelGrace;

    /// <summary>Creates the adapter.</summary>
    /// <exception cref="ArgumentException">The topic pattern is invalid.</exception>
    public BambuAdapter(BambuAdapterOptions? options = null)
    {
        options ??= new BambuAdapterOptions();
        Topics = options.BuildTopics();
        _names = new Dictionary<string, string>(options.Printers, StringComparer.Ordinal);
        _cancelGrace = options.CancelGracePeriod < TimeSpan.Zero ? TimeSpan.Zero : options.CancelGracePeriod;
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

        var printer = _names.TryGetValue(match.Printer, out var name) ? TagValue.Clean(name, match.Printer) : match.Printer;
        var payload = PayloadText.Utf8OrLatin1(message.Payload);
        var error = BambuPayloadReader.Read(payload.Span, out var r);
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

    private void Apply(string printer, DateTimeOffset now, bool retained, in BambuReport r, List<PrinterEvent> output)
    {
        var s = _printers.Get(printer);

        // P1/A1 send only changed fields, X1 the whole object: merging handles both.
        if (r.SubtaskName is not null) s.SubtaskName = r.SubtaskName;
        if (r.GcodeFile is not null) s.GcodeFile = r.GcodeFile;
        if (r.TaskId is not null) s.TaskId = r.TaskId;
        if (r.SubtaskId is not null) s.SubtaskId = r.SubtaskId;
        if (r.PrintError is not null) s.PrintError = r.PrintError;
        if (r.GcodeStartTime is not null) s.GcodeStartTime = r.GcodeStartTime;
        MergeSpools(s, r);
        if (r.ActiveExtruder is not null) s.ActiveExtruder = r.ActiveExtruder;

        if (s.PendingEnd is { } pending && !retained)
        {
            SettlePendingEnd(printer, now, s, pending, r, output);
        }

        var old = s.GcodeState;
        if (r.GcodeState is { } next && IsLifecycle(next) && next != old)
        {
            s.GcodeState = next;
            Transition(printer, now, retained, old, next, s, r, output);
        }

        var (nozzle, nozzleTarget) = ActiveNozzle(s, r);
        if (!retained && (r.GcodeState is not null || r.Percent is not null || nozzle is not null || nozzleTarget is not null || r.Bed is not null || r.BedTarget is not null))
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
                NozzleCelsius = nozzle,
                NozzleTargetCelsius = nozzleTarget,
                Nozzle0Celsius = r.Extruder0,
                Nozzle1Celsius = r.Extruder1,
                BedCelsius = r.Bed,
                BedTargetCelsius = r.BedTarget,
            });
        }
    }

    // H2D: the top-level nozzle_temper is one nozzle (seen at 40 °C idle while the other printed at 264 °C); the
    // active extruder's own reading in device.extruder.info[] is the one that matters.
    private static (double? Current, double? Target) ActiveNozzle(BambuPrinterState s, in BambuReport r)
    {
        switch (s.ActiveExtruder)
        {
            case 0 when r.Extruder0 is not null:
                return (r.Extruder0, r.Extruder0Target);
            case 1 when r.Extruder1 is not null:
                return (r.Extruder1, r.Extruder1Target);
            default:
                return (r.Nozzle, r.NozzleTarget);
        }
    }

    private static void MergeSpools(BambuPrinterState s, in BambuReport r)
    {
        if (r.TrayNow is not null) s.TrayNow = r.TrayNow;
        if (r.ExternalTray is not null) s.ExternalTray = r.ExternalTray;
        if (r.Trays is null)
        {
            return;
        }

        s.Trays ??= [];
        foreach (var (index, type) in r.Trays)
        {
            // Bounded: at most four AMS units of four trays and a few single-tray AMS HT units.
            if (s.Trays.Count < 32 || s.Trays.ContainsKey(index))
            {
                s.Trays[index] = type;
            }
        }
    }

    // The active spool's material: the AMS tray in tray_now, or the external spool (254); null when unknown or none
    // loaded (255), so the file name and the printer's configured material remain the fallbacks.
    private static string? ActiveMaterial(BambuPrinterState s) => s.TrayNow switch
    {
        null or BambuPayloadReader.NoTray => null,
        BambuPayloadReader.ExternalTrayIndex => s.ExternalTray,
        { } tray => s.Trays is not null && s.Trays.TryGetValue(tray, out var type) ? type : null,
    };

    // A P2S reported FAILED with print_error 0 and the cancel code only 4.6 s later, on a repeated FAILED report. A
    // FAILED without a code is held for the grace period: the cancel code within it makes the job cancelled, any
    // report after it (or a new job) makes it failed. Its end time is the FAILED report's either way.
    private void SettlePendingEnd(string printer, DateTimeOffset now, BambuPrinterState s, BambuPendingEnd pending, in BambuReport r, List<PrinterEvent> output)
    {
        var cancelled = r.PrintError == CancelledPrintError || r.FailReason == CancelledPrintError;
        var startsAnother = r.GcodeState is { } next && IsActive(next);
        if (cancelled && now - pending.At <= _cancelGrace)
        {
            Finish(printer, s, pending, JobOutcome.Cancelled, FailureReasons.FromBambu(r.PrintError, r.FailReason), output);
        }
        else if (startsAnother || now - pending.At > _cancelGrace)
        {
            // A code that came late (on this report, or merged from an earlier one) still says why.
            Finish(printer, s, pending, JobOutcome.Failed, FailureReasons.FromBambu(r.PrintError ?? s.PrintError, r.FailReason), output);
        }
    }

    private static void Finish(string printer, BambuPrinterState s, BambuPendingEnd pending, JobOutcome outcome, ReasonReport reason, List<PrinterEvent> output)
    {
        output.Add(EndEvent(printer, pending.At, pending.JobId, pending.File, pending.Material, outcome, reason));
        s.PendingEnd = null;
    }

    private static void Transition(string printer, DateTimeOffset now, bool retained, string? old, string next, BambuPrinterState s, in BambuReport r, List<PrinterEvent> output)
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
                string startId;
                if (old is null)
                {
                    // A missed start: the merged report is all there is.
                    if (s.GcodeStartTime is { } epoch && epoch <= now.ToUnixTimeSeconds() && epoch > now.AddDays(-30).ToUnixTimeSeconds())
                    {
                        start = DateTimeOffset.FromUnixTimeSeconds(epoch);
                    }

                    startId = JobId(s.TaskId, s.SubtaskId, File(s), s.GcodeStartTime, start);
                }
                else
                {
                    // A live start: ids and gcode_start_time count only when this report carries them, since the
                    // merged ones may be the previous job's (a LAN print after a cloud print reports no task ids).
                    startId = JobId(r.TaskId, r.SubtaskId, File(s), r.GcodeStartTime, start);
                }

                s.Job = new BambuOpenJob { JobId = startId, File = File(s), Start = start, Material = ActiveMaterial(s) };
                output.Add(new PrinterEvent
                {
                    Kind = EventKind.JobStarted,
                    Printer = printer,
                    Source = SourceName,
                    Timestamp = start,
                    JobId = s.Job.JobId,
                    File = s.Job.File,
                    Material = s.Job.Material,
                });
            }

            return;
        }

        JobOutcome? outcome;
        var reason = new ReasonReport(FailureReason.Unknown, null);
        switch (next)
        {
            case "FINISH":
                outcome = JobOutcome.Completed;
                break;
            case "FAILED":
                var code = r.PrintError ?? s.PrintError;
                outcome = code == CancelledPrintError || r.FailReason == CancelledPrintError ? JobOutcome.Cancelled
                    : code is > 0 ? JobOutcome.Failed
                    : null;
                reason = FailureReasons.FromBambu(code, r.FailReason);
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

        var jobId = job?.JobId ?? JobId(s.TaskId, s.SubtaskId, File(s), s.GcodeStartTime, now);
        var file = job?.File ?? File(s);
        var material = ActiveMaterial(s) ?? job?.Material;
        s.Job = null;

        // The next job's ids must come from its own reports.
        s.TaskId = null;
        s.SubtaskId = null;
        s.GcodeStartTime = null;

        if (outcome is { } known)
        {
            output.Add(EndEvent(printer, now, jobId, file, material, known, reason));
        }
        else
        {
            s.PendingEnd = new BambuPendingEnd { JobId = jobId, File = file, Material = material, At = now };
        }
    }

    private static PrinterEvent EndEvent(string printer, DateTimeOffset at, string jobId, string? file, string? material, JobOutcome outcome, ReasonReport reason) => new()
    {
        Kind = EventKind.JobFinished,
        Printer = printer,
        Source = SourceName,
        Timestamp = at,
        JobId = jobId,
        File = file,
        Material = material,
        Outcome = outcome,
        Reason = outcome == JobOutcome.Completed ? null : reason.Reason,
        ReasonDetail = outcome == JobOutcome.Completed ? null : reason.Detail,
        FilamentSource = FilamentSource.Unknown,
    };

    // Cloud prints carry task and subtask ids; LAN prints started from the SD card report "0" for both, so the file
    // and the printer's own gcode_start_time stand in (two prints of one file never share it, even when their
    // reports reach the worker in the same second), else the receive time.
    private static string JobId(string? taskId, string? subtaskId, string? file, long? gcodeStartTime, DateTimeOffset start)
    {
        if (subtaskId is { } subtask && subtask != "0")
        {
            return taskId is { } task && task != "0" ? task + "/" + subtask : subtask;
        }

        if (taskId is { } only && only != "0")
        {
            return only;
        }

        return gcodeStartTime is { } epoch and > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{file}@{epoch}")
            : string.Create(CultureInfo.InvariantCulture, $"{file}@{start.ToUnixTimeSeconds()}");
    }

    // subtask_name is the project/plate name the toy rule reads ("dragon_x4" or "dragon_PETG_plate_1").
    private static string? File(BambuPrinterState s) => s.SubtaskName ?? s.GcodeFile;

    private static bool IsActive(string state) => state is "PREPARE" or "RUNNING" or "PAUSE";

    private static bool IsIdle(string? state) => state is "IDLE" or "FINISH" or "FAILED";

    private static bool IsLifecycle(string state) => IsActive(state) || IsIdle(state);
}
