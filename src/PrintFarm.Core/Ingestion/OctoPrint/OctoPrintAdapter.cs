using System.Globalization;
using System.Text.Json.Nodes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;

namespace PrintFarm.Core.Ingestion.OctoPrint;

/// <summary>
/// OctoPrint with the MQTT plugin (OctoPrint/OctoPrint-MQTT): print events, progress, temperatures and presence.
/// Job boundaries come from the events only; progress messages (always retained by the plugin) never open a job.
/// Filament is the G-code analysis estimate, pro-rated by progress for jobs that did not complete, since no OctoPrint
/// event reports the filament actually used.
/// </summary>
public sealed class OctoPrintAdapter : IPrinterAdapter, ICheckpointableAdapter
{
    /// <summary>The <c>source</c> tag.</summary>
    public const string SourceName = "octoprint";

    // A cancel is PrintCancelled then PrintFailed(reason=cancelled), fired from another thread (OctoPrint
    // printer/standard.py); both carry whole-second _timestamps. An end event for the same file within this many
    // seconds of the last end is that pair's second half or a redelivery, never a new job.
    private const long SameEndToleranceSeconds = 60;

    private readonly PrinterStates<OctoPrintPrinterState> _printers = new(s => s.Estimates ??= []);

    /// <summary>Creates the adapter.</summary>
    /// <exception cref="ArgumentException">A topic pattern is invalid.</exception>
    public OctoPrintAdapter(OctoPrintAdapterOptions? options = null)
    {
        Topics = (options ?? new OctoPrintAdapterOptions()).BuildTopics();
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

        if (match["event"] is { } eventName)
        {
            return OnEvent(message, match.Printer, eventName, output);
        }

        if (match["progress"] is { } progressKind)
        {
            return OnProgress(message, match.Printer, progressKind, output);
        }

        if (match["heater"] is { } heater)
        {
            return OnTemperature(message, match.Printer, heater, output);
        }

        return OnPresence(message, match.Printer, output);
    }

    /// <inheritdoc />
    public void Commit() => _printers.Commit();

    /// <inheritdoc />
    public void Discard() => _printers.Discard();

    /// <inheritdoc />
    public JsonNode? SaveState() => _printers.Save();

    /// <inheritdoc />
    public void RestoreState(JsonNode state) => _printers.Restore(state);

    private AdapterResult OnEvent(in InboundMessage message, string printer, string eventName, List<PrinterEvent> output)
    {
        var error = OctoPrintPayloadReader.Read(message.Payload.Span, OctoPrintTopicKind.Event, out var f);
        if (error is not null)
        {
            return error.Value;
        }

        var ts = f.Timestamp ?? message.ReceivedAt.ToUnixTimeSeconds();
        switch (eventName)
        {
            case "PrintStarted":
                return OnStarted(message.Retained, printer, ts, f, output);
            case "PrintDone":
                return OnEnded(message.Retained, printer, ts, JobOutcome.Completed, f, output);
            case "PrintCancelled":
                // The payload may already carry reason=cancelled (the dict is shared with the PrintFailed that
                // follows); the event name is what counts.
                return OnEnded(message.Retained, printer, ts, JobOutcome.Cancelled, f, output);
            case "PrintFailed":
                return OnEnded(message.Retained, printer, ts, f.Reason == "cancelled" ? JobOutcome.Cancelled : JobOutcome.Failed, f, output);
            case "PrintPaused":
                return OnPauseResume(printer, ts, "paused", f, output);
            case "PrintResumed":
                return OnPauseResume(printer, ts, "printing", f, output);
            case "MetadataAnalysisFinished":
                if (f.Path is { } analysed && (f.AnalysisFilamentMm is not null || f.AnalysisSeconds is not null))
                {
                    GetState(printer).RememberEstimate(analysed, f.AnalysisFilamentMm, f.AnalysisSeconds);
                }

                return AdapterResult.Ok;
            default:
                // OctoPrint has dozens of events (ClientOpened, ZChange, FileAdded, …); they are valid and carry no job data.
                return AdapterResult.Ok;
        }
    }

    private AdapterResult OnStarted(bool retained, string printer, long ts, in OctoPrintReport f, List<PrinterEvent> output)
    {
        var path = f.File;
        if (path is null)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "PrintStarted needs 'path' or 'name' (or, before OctoPrint 1.3, 'filename' or 'file')");
        }

        if (retained)
        {
            // A replayed start is old news: the job it announced may be long over.
            return AdapterResult.Ok;
        }

        var state = GetState(printer);
        var jobId = JobId(path, ts);
        if (state.Job?.JobId == jobId || state.LastEnded?.JobId == jobId)
        {
            return AdapterResult.Ok;
        }

        var time = Time(ts);
        if (state.Job is { } previous)
        {
            // A start while a job is open: the previous one never reported its end, so it was abandoned.
            output.Add(Finish(printer, time, previous.JobId, previous.Path, JobOutcome.Cancelled, ts - previous.Start, previous.ProgressPercent, state));
            Remember(state, previous.JobId, previous.Path, ts, JobOutcome.Cancelled);
        }

        state.Job = new OctoPrintOpenJob { JobId = jobId, Path = path, Start = ts };
        output.Add(new PrinterEvent
        {
            Kind = EventKind.JobStarted,
            Printer = printer,
            Source = SourceName,
            Timestamp = time,
            JobId = jobId,
            File = path,
            EstimatedTimeSeconds = state.FindEstimate(path)?.PrintTimeSeconds,
            State = "printing",
        });
        return AdapterResult.Ok;
    }

    private AdapterResult OnEnded(bool retained, string printer, long ts, JobOutcome outcome, in OctoPrintReport f, List<PrinterEvent> output)
    {
        var path = f.File;
        if (path is null)
        {
            return AdapterResult.Rejected(RejectReasons.MissingField, "a print end event needs 'path' or 'name' (or, before OctoPrint 1.3, 'filename' or 'file')");
        }

        // PrintFailed(reason=error) reports progress as a 0–1 fraction (1.11: getPrintProgress(), −1 when unknown;
        // 2.0: job_progress.progress); PrintCancelled and PrintPaused report int(p*100).
        double? progress = f.Progress;
        if (progress is { } p && outcome == JobOutcome.Failed)
        {
            progress = p is >= 0 and <= 1 ? p * 100 : p is > 1 and <= 100 ? p : null;
        }
        else if (progress is < 0 or > 100)
        {
            progress = null;
        }

        // A cancel is an operator's (the payload's 'user' names who); an error is read from its 'error' text.
        ReasonReport? reason = outcome == JobOutcome.Completed ? null : FailureReasons.FromOctoPrint(outcome, f.Error, f.User);
        var state = GetState(printer);
        var time = Time(ts);
        if (state.Job is { } open && open.Path == path)
        {
            var printTime = f.PrintTime ?? Math.Max(0, ts - open.Start);
            output.Add(Finish(printer, time, open.JobId, path, outcome, printTime, progress ?? open.ProgressPercent, state, reason));
            Remember(state, open.JobId, path, ts, outcome);
            state.Job = null;
            return AdapterResult.Ok;
        }

        if (state.LastEnded is { } last && last.Path == path && ts - last.End is >= -SameEndToleranceSeconds and <= SameEndToleranceSeconds)
        {
            // The cancel pair's PrintFailed, or a redelivery: already counted.
            return AdapterResult.Ok;
        }

        if (retained)
        {
            return AdapterResult.Ok;
        }

        // The start was never seen (the worker came up mid-print): still a job. Its id is derived from the end so a
        // redelivery of this same event maps to the same job.
        var seconds = f.PrintTime ?? 0;
        var jobId = JobId(path, ts - (long)Math.Round(seconds));
        output.Add(Finish(printer, time, jobId, path, outcome, f.PrintTime, progress, state, reason));
        Remember(state, jobId, path, ts, outcome);
        return AdapterResult.Ok;
    }

    private AdapterResult OnPauseResume(string printer, long ts, string newState, in OctoPrintReport f, List<PrinterEvent> output)
    {
        var state = GetState(printer);
        double? progress = f.Progress is >= 0 and <= 100 ? f.Progress : null;
        if (state.Job is { } open && progress is not null && f.File == open.Path)
        {
            open.ProgressPercent = progress;
        }

        output.Add(new PrinterEvent
        {
            Kind = EventKind.Status,
            Printer = printer,
            Source = SourceName,
            Timestamp = Time(ts),
            State = newState,
            ProgressPercent = progress,
        });
        return AdapterResult.Ok;
    }

    private AdapterResult OnProgress(in InboundMessage message, string printer, string kind, List<PrinterEvent> output)
    {
        var error = OctoPrintPayloadReader.Read(message.Payload.Span, OctoPrintTopicKind.Progress, out var f);
        if (error is not null)
        {
            return error.Value;
        }

        if (kind != "printing")
        {
            // progress/slicing: slicer progress, nothing about printing.
            return AdapterResult.Ok;
        }

        if (f.Path is not { } path)
        {
            // The plugin's start-up reset {"location":"","path":"","progress":0}: no file, no job, nothing to record.
            return AdapterResult.Ok;
        }

        var state = GetState(printer);
        if (f.PrinterDataFilamentMm is not null || f.PrinterDataSeconds is not null)
        {
            // printer_data.job: the same analysis estimate, present when the plugin's "printer data" option is on.
            state.RememberEstimate(path, f.PrinterDataFilamentMm, f.PrinterDataSeconds);
        }

        if (state.Job is { } open && open.Path == path && f.Progress is { } progress)
        {
            open.ProgressPercent = progress;
        }

        if (message.Retained || f.Progress is null)
        {
            // Progress is always published retained: the copy replayed on subscribe is a stale sample.
            return AdapterResult.Ok;
        }

        output.Add(new PrinterEvent
        {
            Kind = EventKind.JobProgress,
            Printer = printer,
            Source = SourceName,
            Timestamp = Time(f.Timestamp ?? message.ReceivedAt.ToUnixTimeSeconds()),
            JobId = state.Job is { } job && job.Path == path ? job.JobId : null,
            File = path,
            ProgressPercent = f.Progress,
        });
        return AdapterResult.Ok;
    }

    private static AdapterResult OnTemperature(in InboundMessage message, string printer, string heater, List<PrinterEvent> output)
    {
        var error = OctoPrintPayloadReader.Read(message.Payload.Span, OctoPrintTopicKind.Temperature, out var f);
        if (error is not null)
        {
            return error.Value;
        }

        var isNozzle = heater == "tool0";
        var isBed = heater == "bed";

        // Only the first hot end and the bed have a place in the printer point; retained copies are replays.
        if ((!isNozzle && !isBed) || message.Retained || (f.Actual is null && f.Target is null))
        {
            return AdapterResult.Ok;
        }

        output.Add(new PrinterEvent
        {
            Kind = EventKind.Status,
            Printer = printer,
            Source = SourceName,
            Timestamp = Time(f.Timestamp ?? message.ReceivedAt.ToUnixTimeSeconds()),
            NozzleCelsius = isNozzle ? f.Actual : null,
            NozzleTargetCelsius = isNozzle ? f.Target : null,
            BedCelsius = isBed ? f.Actual : null,
            BedTargetCelsius = isBed ? f.Target : null,
        });
        return AdapterResult.Ok;
    }

    private static AdapterResult OnPresence(in InboundMessage message, string printer, List<PrinterEvent> output)
    {
        // Plain text, also the plugin's last will; retained, so the replay on subscribe is the current presence.
        var text = message.Payload.Span.Trim(" \t\r\n"u8);
        bool online;
        if (text.SequenceEqual("connected"u8))
        {
            online = true;
        }
        else if (text.SequenceEqual("disconnected"u8))
        {
            online = false;
        }
        else
        {
            return AdapterResult.Rejected(RejectReasons.InvalidField, "presence payload must be 'connected' or 'disconnected'");
        }

        output.Add(new PrinterEvent
        {
            Kind = EventKind.Status,
            Printer = printer,
            Source = SourceName,
            Timestamp = message.ReceivedAt,
            ReceiveTimeOnly = true, // a plain-text payload has no _timestamp
            Online = online,
        });
        return AdapterResult.Ok;
    }

    private static PrinterEvent Finish(string printer, DateTimeOffset time, string jobId, string path, JobOutcome outcome, double? printTime, double? progress, OctoPrintPrinterState state, ReasonReport? reason = null)
    {
        var estimate = state.FindEstimate(path);
        double? millimetres = null;
        var source = FilamentSource.Unknown;
        if (estimate?.FilamentMillimetres is { } mm)
        {
            if (outcome == JobOutcome.Completed)
            {
                millimetres = mm;
                source = FilamentSource.Estimated;
            }
            else if (progress is { } pct)
            {
                millimetres = mm * pct / 100.0;
                source = FilamentSource.Prorated;
            }
        }

        return new PrinterEvent
        {
            Kind = EventKind.JobFinished,
            Reason = reason?.Reason,
            ReasonDetail = reason?.Detail,
            Printer = printer,
            Source = SourceName,
            Timestamp = time,
            JobId = jobId,
            File = path,
            Outcome = outcome,
            PrintTimeSeconds = printTime,
            FilamentMillimetres = millimetres,
            FilamentSource = source,
            EstimatedTimeSeconds = estimate?.PrintTimeSeconds,
        };
    }

    private static void Remember(OctoPrintPrinterState state, string jobId, string path, long end, JobOutcome outcome) =>
        state.LastEnded = new OctoPrintEndedJob { JobId = jobId, Path = path, End = end, Outcome = outcome };

    private static string JobId(string path, long startSeconds) => string.Create(CultureInfo.InvariantCulture, $"{path}@{startSeconds}");

    // _timestamp is int(time.time()) (octoprint_mqtt mqtt_publish_with_timestamp): whole epoch seconds.
    private static DateTimeOffset Time(long epochSeconds) => DateTimeOffset.FromUnixTimeSeconds(epochSeconds);

    private OctoPrintPrinterState GetState(string printer) => _printers.Get(printer);
}
