using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;

namespace PrintFarm.Core.Ingestion.Moonraker;

/// <summary>
/// Klipper through Moonraker's <c>[mqtt]</c> component. Status messages carry only the fields that changed, so the
/// adapter merges them into per-printer <c>print_stats</c> state and derives job boundaries from its
/// <c>state</c> transitions, the way Moonraker's own history does (<c>components/job_state.py</c>, <c>history.py</c>).
/// Event time is the receive time: <c>eventtime</c> is Klipper's monotonic clock, not epoch. That clock still orders
/// the messages of one host boot (an older one delivered again changes nothing) and is part of the job id, so two
/// prints of one file whose messages arrive in the same second stay two jobs. A job needs a file name, and a state
/// seen only in a retained replay opens no job until a live message confirms it.
/// </summary>
public sealed class MoonrakerAdapter : IPrinterAdapter, ICheckpointableAdapter
{
    /// <summary>The <c>source</c> tag.</summary>
    public const string SourceName = "moonraker";

    // Split topics of one status batch may interleave by this much eventtime without being redeliveries.
    private const double ReorderToleranceSeconds = 1.0;

    private readonly PrinterStates<MoonrakerPrinterState> _printers = new();

    /// <summary>Creates the adapter.</summary>
    /// <exception cref="ArgumentException">A topic pattern is invalid.</exception>
    public MoonrakerAdapter(MoonrakerAdapterOptions? options = null)
    {
        Topics = (options ?? new MoonrakerAdapterOptions()).BuildTopics();
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

        var error = match["object"] is { } obj && match["field"] is { } field
            ? MoonrakerPayloadReader.ReadSplit(message.Payload.Span, obj, field, out var delta)
            : MoonrakerPayloadReader.ReadStatus(message.Payload.Span, out delta);
        if (error is not null)
        {
            return error.Value;
        }

        if (delta.ServerOnline is { } online)
        {
            // Retained and the last will: the copy replayed on subscribe is the current presence. An open job stays
            // open while Moonraker is offline; the printer may well still be printing.
            output.Add(new PrinterEvent { Kind = EventKind.Status, Printer = match.Printer, Source = SourceName, Timestamp = message.ReceivedAt, Online = online });
            return AdapterResult.Ok;
        }

        Apply(match.Printer, message.ReceivedAt, message.Retained, delta, output);
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

    private void Apply(string printer, DateTimeOffset now, bool retained, in MoonrakerReport d, List<PrinterEvent> output)
    {
        var s = _printers.Get(printer);
        if (IsStale(s, now, retained, d))
        {
            // Already applied: an older message of this boot delivered again (QoS 1 redelivery, broker backlog).
            return;
        }

        // Klipper resets print_stats (and exclude_object) in the same update that reports standby after
        // SDCARD_RESET_FILE, so a job ended by →standby is described by the values from before this message.
        var before = new Figures(s);
        if (d.HasFilename) s.Filename = d.Filename;
        if (d.TotalDuration is { } total) s.TotalDuration = total;
        if (d.PrintDuration is { } print) s.PrintDuration = print;
        if (d.FilamentUsed is { } filament) s.FilamentUsed = filament;
        if (d.HasObjects) s.ObjectCount = d.ObjectCount;
        if (d.HasMessage) s.Message = string.IsNullOrWhiteSpace(d.Message) ? null : d.Message;
        if (s.Job is { } running && s.Filename is { } name && running.Filename != name && d.State is null)
        {
            // Split status publishes one field per message; a filename arriving just after the state belongs to the job.
            running.Filename = name;
        }

        var old = s.State;
        if (d.State is { } newState && newState != old)
        {
            s.State = newState;
            s.StateFromRetained = retained;
            Transition(printer, now, retained, old, newState, before, s, d, output);
        }
        else if (!retained && s.Job is null && s.StateFromRetained && IsActive(s.State) && s.Filename is not null
            && (d.State is not null || d.PrintDuration is not null || d.TotalDuration is not null))
        {
            // printing/paused seen only in a retained replay, now confirmed by a live print_stats report: the print
            // started before the worker came up (a missed start), so it began total_duration ago.
            s.StateFromRetained = false;
            Start(printer, now - TimeSpan.FromSeconds(s.TotalDuration ?? 0), d.EventTime, s, d, output);
        }

        if (s.Job is null && s.PendingStart is { } pendingAt && s.Filename is not null && IsActive(s.State))
        {
            // The start waited for its file name (split status publishes the state and the file separately).
            Start(printer, pendingAt, s.PendingStartEventTime, s, d, output);
        }

        // Split values replayed on subscribe are old samples: merged above, but not written as telemetry.
        if (!retained && (d.State is not null || d.Progress is not null || d.NozzleCelsius is not null || d.NozzleTargetCelsius is not null || d.BedCelsius is not null || d.BedTargetCelsius is not null))
        {
            output.Add(new PrinterEvent
            {
                Kind = s.Job is null ? EventKind.Status : EventKind.JobProgress,
                Printer = printer,
                Source = SourceName,
                Timestamp = now,
                JobId = s.Job?.JobId,
                State = d.State,
                ProgressPercent = d.Progress * 100,
                NozzleCelsius = d.NozzleCelsius,
                NozzleTargetCelsius = d.NozzleTargetCelsius,
                BedCelsius = d.BedCelsius,
                BedTargetCelsius = d.BedTargetCelsius,
            });
        }
    }

    private static void Transition(string printer, DateTimeOffset now, bool retained, string? old, string next, in Figures before, MoonrakerPrinterState s, in MoonrakerReport d, List<PrinterEvent> output)
    {
        var fromIdle = IsIdle(old);
        switch (next)
        {
            case "printing":
                if (old == "paused" && s.Job is { } paused)
                {
                    // paused → printing is a resume only with the same file and a total_duration that did not go
                    // back (Moonraker job_state.py). With deltas an unchanged total is simply not resent, so only a
                    // decrease (a fresh print_stats) or another file means a new job.
                    var sameFile = s.Filename is null || paused.Filename is null || s.Filename == paused.Filename;
                    var notReset = s.TotalDuration is null || paused.PausedTotalDuration is null || s.TotalDuration >= paused.PausedTotalDuration;
                    if (sameFile && notReset)
                    {
                        paused.PausedTotalDuration = null;
                        return;
                    }

                    End(printer, now, JobOutcome.Cancelled, before, s, output);
                    Start(printer, now, d.EventTime, s, d, output);
                    return;
                }

                if ((fromIdle || old is null || old == "paused") && !retained)
                {
                    Start(printer, now, d.EventTime, s, d, output);
                }

                return;

            case "paused":
                if (s.Job is null && (fromIdle || old is null) && !retained)
                {
                    // Idle → paused: the printing state was missed; the job started all the same.
                    Start(printer, now, d.EventTime, s, d, output);
                }

                if (s.Job is { } job)
                {
                    job.PausedTotalDuration = s.TotalDuration;
                }

                return;

            case "complete":
            case "cancelled":
            case "error":
                s.PendingStart = null;
                var outcome = next switch { "complete" => JobOutcome.Completed, "error" => JobOutcome.Failed, _ => JobOutcome.Cancelled };
                if (s.Job is not null)
                {
                    End(printer, now, outcome, new Figures(s), s, output);
                }
                else if (!retained && old is not null)
                {
                    // The start was missed: printing/paused seen only as a retained replay (the worker came up
                    // mid-print), or idle → ended with the printing state never reaching us. The job still ended.
                    // From an unknown state nothing is known (it may be an old job), so nothing is counted.
                    End(printer, now, outcome, new Figures(s), s, output);
                }

                return;

            case "standby":
                s.PendingStart = null;

                // printing/paused → standby is a cancel (CLEAR_PAUSE / SDCARD_RESET_FILE, as Moonraker's history
                // treats it). complete/cancelled/error → standby is the file reset after a job already counted.
                if (s.Job is not null)
                {
                    End(printer, now, JobOutcome.Cancelled, before, s, output);
                }

                return;
        }
    }

    private static void Start(string printer, DateTimeOffset now, double? eventTime, MoonrakerPrinterState s, in MoonrakerReport d, List<PrinterEvent> output)
    {
        if (s.Filename is null)
        {
            // A job needs a file name: a bare "printing" (a stale split value, or the state before its filename
            // message) waits for one, and a state change before it arrives ends nothing.
            s.PendingStart = now;
            s.PendingStartEventTime = eventTime;
            return;
        }

        s.PendingStart = null;
        s.PendingStartEventTime = null;
        if (!d.HasObjects)
        {
            // exclude_object from the previous file may linger until the new file defines its objects.
            s.ObjectCount = null;
        }

        if (!d.HasMessage)
        {
            // Klipper clears print_stats.message when a print starts; an update that does not say so must not let the
            // previous job's error text become this job's failure reason.
            s.Message = null;
        }

        s.Job = new MoonrakerOpenJob
        {
            JobId = JobId(s.Filename, now, eventTime),
            Filename = s.Filename,
            Start = now,
        };
        output.Add(new PrinterEvent
        {
            Kind = EventKind.JobStarted,
            Printer = printer,
            Source = SourceName,
            Timestamp = now,
            JobId = s.Job.JobId,
            File = s.Filename,
        });
    }

    // The file and the receive second, plus Klipper's eventtime of the message that made the transition when it has
    // one: receive times collide in a burst, eventtimes of two distinct transitions do not.
    private static string JobId(string? file, DateTimeOffset at, double? eventTime) => eventTime is { } et
        ? string.Create(CultureInfo.InvariantCulture, $"{file}@{at.ToUnixTimeSeconds()}+{et:0.###}")
        : string.Create(CultureInfo.InvariantCulture, $"{file}@{at.ToUnixTimeSeconds()}");

    // Klipper's eventtime is monotonic within one host boot: a live message more than a second older than the last one
    // applied is a redelivery (the split topics of one status batch may interleave, hence the second), unless the host rebooted (the clock restarted), which shows as a boot time implied by the message
    // (receive time − eventtime) later than the last message's arrival. Retained replays are old by nature: they are
    // dropped when older than what was applied, and never advance the clock.
    private static bool IsStale(MoonrakerPrinterState s, DateTimeOffset now, bool retained, in MoonrakerReport d)
    {
        if (d.EventTime is not { } et)
        {
            return false;
        }

        if (s.LastEventTime is { } last && et < last - ReorderToleranceSeconds
            && (retained || s.LastReceivedAt is not { } lastAt || now - TimeSpan.FromSeconds(et) <= lastAt))
        {
            return true;
        }

        if (!retained && (s.LastEventTime is not { } newest || et > newest || et < newest - ReorderToleranceSeconds))
        {
            s.LastEventTime = et;
            s.LastReceivedAt = now;
        }

        return false;
    }

    private static bool IsActive(string? state) => state is "printing" or "paused";

    // Ends the open job (or, with none open, a job whose start was missed) using the figures in `values`.
    private static void End(string printer, DateTimeOffset now, JobOutcome outcome, in Figures values, MoonrakerPrinterState s, List<PrinterEvent> output)
    {
        var job = s.Job;
        var file = job?.Filename ?? values.Filename;
        if (job is null && file is null)
        {
            // A job needs a file name: without one this is not a print we can tell apart (a stale or partial state).
            return;
        }

        var jobId = job?.JobId ?? JobId(file, now - TimeSpan.FromSeconds(values.TotalDuration ?? 0), null);

        // Klipper's message says why an error happened; a cancel (state cancelled, or →standby) is somebody's
        // CANCEL_PRINT / SDCARD_RESET_FILE, so an operator cancel unless the message names another reason.
        ReasonReport? reason = outcome switch
        {
            JobOutcome.Failed => FailureReasons.FromText(values.Message),
            JobOutcome.Cancelled when FailureReasons.FromText(values.Message) is { Reason: not FailureReason.Unknown } named => named,
            JobOutcome.Cancelled => new ReasonReport(FailureReason.OperatorCancel, values.Message is { } m ? FailureReasons.Detail(m) : null),
            _ => null,
        };
        output.Add(new PrinterEvent
        {
            Kind = EventKind.JobFinished,
            Printer = printer,
            Source = SourceName,
            Timestamp = now,
            JobId = jobId,
            File = file,
            Outcome = outcome,
            Reason = reason?.Reason,
            ReasonDetail = reason?.Detail,
            Quantity = values.ObjectCount is > 0 ? values.ObjectCount : null,
            PrintTimeSeconds = values.PrintDuration,
            FilamentMillimetres = values.FilamentUsed,
            FilamentSource = values.FilamentUsed is null ? FilamentSource.Unknown : FilamentSource.Measured,
        });
        s.Job = null;
    }

    private static bool IsIdle(string? state) => state is "standby" or "complete" or "cancelled" or "error";

    // The print_stats figures that describe a job at its end.
    private readonly struct Figures(MoonrakerPrinterState s)
    {
        public string? Filename { get; } = s.Filename;

        public double? TotalDuration { get; } = s.TotalDuration;

        public double? PrintDuration { get; } = s.PrintDuration;

        public double? FilamentUsed { get; } = s.FilamentUsed;

        public int? ObjectCount { get; } = s.ObjectCount;

        public string? Message { get; } = s.Message;
    }
}
