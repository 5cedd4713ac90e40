using System.Globalization;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Simulator.Formats;

/// <summary>
/// OctoPrint with the MQTT plugin, base topic <c>octoPrint/{printer}/</c>: events, progress with printer data,
/// temperatures, presence. Like the plugin's defaults, everything is retained and sent at QoS 0; <c>_timestamp</c> is
/// whole epoch seconds; a cancel is <c>PrintCancelled</c> followed by <c>PrintFailed</c> with reason cancelled.
/// </summary>
public sealed class OctoPrintEmitter(string printer, double cadenceFactor) : FormatEmitter(printer, cadenceFactor)
{
    private readonly HashSet<string> _analysed = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public override string Source => "octoprint";

    /// <inheritdoc />
    public override PrinterFormat Format => PrinterFormat.OctoPrint;

    private string Root => $"octoPrint/{Printer}/";

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Hello(DateTimeOffset time)
    {
        yield return Online(time)!.Value;
    }

    /// <inheritdoc />
    public override SimMessage? Offline(DateTimeOffset time) => new(time, Root + "mqtt", "disconnected"u8.ToArray(), 0, true);

    /// <inheritdoc />
    public override SimMessage? Online(DateTimeOffset time) => new(time, Root + "mqtt", "connected"u8.ToArray(), 0, true);

    /// <inheritdoc />
    public override SimMessage Malformed(DateTimeOffset time) =>
        new(time, Root + "temperature/tool0", Json.Truncated(Temperature(time, 24.3, 0)), 0, true);

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Job(PlannedJob job)
    {
        var m = new List<SimMessage>();
        var path = "toys/" + job.File;
        if (_analysed.Add(path))
        {
            // Uploading a file runs OctoPrint's G-code analysis: the filament estimate every later job of it uses.
            m.Add(Event(job.Start, "MetadataAnalysisFinished", w =>
            {
                FileFields(w, job);
                w.WriteStartObject("result");
                w.WriteNumber("estimatedPrintTime", job.PlateSeconds);
                Filament(w, job.PlateFilamentMm);
                w.WriteEndObject();
            }));
        }

        m.Add(Event(job.Start, "PrintStarted", w =>
        {
            FileFields(w, job);
            w.WriteString("user", "farm");
        }));
        m.Add(Progress(job.Start, job, 0));

        // The plugin publishes progress on every whole-percent change.
        var step = Math.Max(1, (int)Math.Round(CadenceFactor));
        for (var p = step; p < job.StopPercent; p += step)
        {
            var t = job.PrintingFrom.AddSeconds(job.SecondsAt(p));
            if (job.PauseAtPercent is { } pause && p > pause)
            {
                t = t.AddSeconds(job.PauseSeconds);
            }

            m.Add(Progress(t, job, p));
        }

        foreach (var t in Samples(job, 30))
        {
            var (phase, _) = job.At(t);
            var heat = HeatFraction(job, t);
            var wobble = (int)(t.ToUnixTimeSeconds() % 97);
            m.Add(new SimMessage(t, Root + "temperature/tool0", Temperature(t, PlannedJob.Nozzle(phase, heat, wobble), PlannedJob.NozzleTarget), 0, true));
            m.Add(new SimMessage(t, Root + "temperature/bed", Temperature(t, PlannedJob.Bed(phase, heat, wobble), PlannedJob.BedTarget), 0, true));
        }

        if (job.PausedFrom is { } pausedFrom)
        {
            m.Add(Event(pausedFrom, "PrintPaused", w =>
            {
                FileFields(w, job);
                w.WriteNumber("progress", job.PauseAtPercent!.Value);
            }));
            m.Add(Event(job.ResumedAt!.Value, "PrintResumed", w =>
            {
                FileFields(w, job);
                w.WriteNumber("progress", job.PauseAtPercent!.Value);
            }));
        }

        switch (job.Outcome)
        {
            case JobOutcome.Completed:
                m.Add(Event(job.End, "PrintDone", w =>
                {
                    FileFields(w, job);
                    w.WriteNumber("time", job.ElapsedSeconds);
                }));

                // The final progress 100 may come just after PrintDone.
                m.Add(Progress(job.End.AddSeconds(1), job, 100));
                break;
            case JobOutcome.Failed:
                m.Add(Event(job.End, "PrintFailed", w =>
                {
                    FileFields(w, job);
                    w.WriteNumber("time", job.ElapsedSeconds);
                    w.WriteString("reason", "error");
                    w.WriteString("error", Truth.SimReasons.Text(job.Reason, PrinterFormat.OctoPrint));

                    // On this path progress is a 0–1 fraction.
                    w.WriteNumber("progress", job.StopPercent / 100.0);
                }));
                break;
            default:
                m.Add(Event(job.End, "PrintCancelled", w =>
                {
                    FileFields(w, job);
                    w.WriteString("user", "farm");
                    w.WriteNumber("time", job.ElapsedSeconds);
                    w.WriteNumber("progress", job.StopPercent);
                }));
                m.Add(Event(job.End.AddSeconds(1), "PrintFailed", w =>
                {
                    FileFields(w, job);
                    w.WriteString("user", "farm");
                    w.WriteNumber("time", job.ElapsedSeconds);
                    w.WriteNumber("progress", job.StopPercent);
                    w.WriteString("reason", "cancelled");
                }));
                break;
        }

        return InOrder(m);
    }

    /// <inheritdoc />
    /// <remarks>OctoPrint has no heating state: a print is printing from PrintStarted, heat-up included.</remarks>
    public override IEnumerable<(DateTimeOffset At, PrinterActivity State)> States(PlannedJob job) => Phases(job, PrinterActivity.Printing);

    /// <summary>
    /// Whether the worker takes an event time from <paramref name="message"/> (a well-formed one of this format): not
    /// from the presence (it has none), the file analysis or the PrintFailed that follows a cancel (no event).
    /// </summary>
    internal static bool GivesEventTime(SimMessage message) =>
        !message.Topic.EndsWith("/mqtt", StringComparison.Ordinal)
        && !message.Topic.EndsWith("/event/MetadataAnalysisFinished", StringComparison.Ordinal)
        && !(message.Topic.EndsWith("/event/PrintFailed", StringComparison.Ordinal) && message.Payload.Span.IndexOf("\"reason\":\"cancelled\""u8) >= 0);

    /// <inheritdoc />
    public override EndedJob Report(PlannedJob job, MaterialCatalog materials)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(materials);

        // Filament is the analysis estimate, pro-rated by the end event's progress for jobs that did not complete
        // (the same arithmetic as the adapter: a failure's fraction is turned back into percent first).
        var (mm, source) = job.Outcome switch
        {
            JobOutcome.Completed => (job.PlateFilamentMm, FilamentSource.Estimated),
            JobOutcome.Failed => (job.PlateFilamentMm * (job.StopPercent / 100.0 * 100) / 100.0, FilamentSource.Prorated),
            _ => (job.PlateFilamentMm * (double)job.StopPercent / 100.0, FilamentSource.Prorated),
        };
        var id = string.Create(CultureInfo.InvariantCulture, $"toys/{job.File}@{job.Start.ToUnixTimeSeconds()}");
        return Base(job, id, job.ElapsedSeconds, FromFile(job.File).Quantity, materials.GramsFromMillimetres(mm, "PLA"), mm, source, job.PlateSeconds);
    }

    private SimMessage Event(DateTimeOffset time, string name, Action<Utf8JsonWriter> fields) =>
        new(time, Root + "event/" + name, Json.Object(w =>
        {
            fields(w);
            w.WriteString("_event", name);
            w.WriteNumber("_timestamp", time.ToUnixTimeSeconds());
        }), 0, true);

    private SimMessage Progress(DateTimeOffset time, PlannedJob job, int percent) =>
        new(time, Root + "progress/printing", Json.Object(w =>
        {
            w.WriteString("location", "local");
            w.WriteString("path", "toys/" + job.File);
            w.WriteNumber("progress", percent);
            w.WriteStartObject("printer_data");
            w.WriteStartObject("job");
            w.WriteStartObject("file");
            w.WriteString("name", job.File);
            w.WriteString("path", "toys/" + job.File);
            w.WriteString("origin", "local");
            w.WriteEndObject();
            w.WriteNumber("estimatedPrintTime", job.PlateSeconds);
            Filament(w, job.PlateFilamentMm);
            w.WriteEndObject();
            w.WriteStartObject("progress");
            w.WriteNumber("completion", percent);
            w.WriteNumber("printTime", Math.Max(0, (long)(time - job.Start).TotalSeconds));
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteNumber("_timestamp", time.ToUnixTimeSeconds());
        }), 0, true);

    private static byte[] Temperature(DateTimeOffset time, double actual, double target) => Json.Object(w =>
    {
        w.WriteNumber("_timestamp", time.ToUnixTimeSeconds());
        w.WriteNumber("actual", actual);
        w.WriteNumber("target", target);
    });

    private static void FileFields(Utf8JsonWriter w, PlannedJob job)
    {
        w.WriteString("name", job.File);
        w.WriteString("path", "toys/" + job.File);
        w.WriteString("origin", "local");
        w.WriteNumber("size", 1000 + (job.PlateSeconds * 37L));
        w.WriteString("owner", "farm");
    }

    private static void Filament(Utf8JsonWriter w, double millimetres)
    {
        w.WriteStartObject("filament");
        w.WriteStartObject("tool0");
        w.WriteNumber("length", millimetres);
        w.WriteNumber("volume", Math.Round(millimetres * Math.PI * 0.875 * 0.875 / 1000, 2));
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
