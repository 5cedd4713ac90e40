using System.Globalization;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Simulator.Formats;

/// <summary>
/// The project's native schema (<c>docs/schema</c>) on <c>printfarm/{printer}/event</c> at QoS 1: job_started,
/// job_progress, job_finished with measured grams and the printing time, and status samples.
/// </summary>
public sealed class NativeEmitter(string printer, double cadenceFactor) : FormatEmitter(printer, cadenceFactor)
{
    /// <inheritdoc />
    public override string Source => "native";

    /// <inheritdoc />
    public override PrinterFormat Format => PrinterFormat.Native;

    private string Topic => $"printfarm/{Printer}/event";

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Hello(DateTimeOffset time)
    {
        yield return Event(time, "status", w =>
        {
            w.WriteString("state", "idle");
            w.WriteNumber("nozzle_c", 24.2);
            w.WriteNumber("nozzle_target_c", 0);
            w.WriteNumber("bed_c", 23.6);
            w.WriteNumber("bed_target_c", 0);
        });
    }

    /// <inheritdoc />
    public override SimMessage? Offline(DateTimeOffset time) => null;

    /// <inheritdoc />
    public override SimMessage? Online(DateTimeOffset time) => null;

    /// <inheritdoc />
    public override SimMessage Malformed(DateTimeOffset time) =>
        new(time, Topic, Json.Truncated(Event(time, "status", w => w.WriteString("state", "idle")).Payload.ToArray()), 1, false);

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Job(PlannedJob job)
    {
        var id = JobId(job);
        var m = new List<SimMessage>
        {
            Event(job.Start, "job_started", w =>
            {
                w.WriteString("job_id", id);
                JobFields(w, job);
                w.WriteNumber("estimated_time_s", job.PlateSeconds);
            }),
        };
        foreach (var t in Samples(job, 60))
        {
            var (phase, percent) = job.At(t);
            var heat = HeatFraction(job, t);
            var wobble = (int)(t.ToUnixTimeSeconds() % 79);
            m.Add(Event(t, "job_progress", w =>
            {
                w.WriteString("job_id", id);
                w.WriteNumber("progress_pct", percent);
                w.WriteString("state", phase switch { JobPhase.HeatingUp => "heating", JobPhase.Paused => "paused", _ => "printing" });
                w.WriteNumber("nozzle_c", PlannedJob.Nozzle(phase, heat, wobble));
                w.WriteNumber("nozzle_target_c", PlannedJob.NozzleTarget);
                w.WriteNumber("bed_c", PlannedJob.Bed(phase, heat, wobble));
                w.WriteNumber("bed_target_c", PlannedJob.BedTarget);
            }));
        }

        m.Add(Event(job.End, "job_finished", w =>
        {
            w.WriteString("job_id", id);
            w.WriteString("outcome", job.Outcome switch { JobOutcome.Completed => "completed", JobOutcome.Failed => "failed", _ => "cancelled" });
            JobFields(w, job);
            w.WriteNumber("print_time_s", job.PrintedSeconds);
            w.WriteNumber("filament_g", Grams(job));
            if (Truth.SimReasons.Native(job.Reason) is { } reason)
            {
                w.WriteString("reason", reason);
            }
        }));
        return InOrder(m);
    }

    /// <inheritdoc />
    /// <remarks>job_started carries no state (printing); each sample then says heating, printing or paused.</remarks>
    public override IEnumerable<(DateTimeOffset At, PrinterActivity State)> States(PlannedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        yield return (job.Start, PrinterActivity.Printing);
        foreach (var t in Samples(job, 60))
        {
            yield return (t, job.At(t).Phase switch { JobPhase.HeatingUp => PrinterActivity.Preparing, JobPhase.Paused => PrinterActivity.Paused, _ => PrinterActivity.Printing });
        }

        yield return (job.End, EndState(job.Outcome));
    }

    /// <inheritdoc />
    public override EndedJob Report(PlannedJob job, MaterialCatalog materials)
    {
        ArgumentNullException.ThrowIfNull(job);
        return Base(job, JobId(job), job.PrintedSeconds, job.Toy.PerPlate, Grams(job), null, FilamentSource.Measured, job.PlateSeconds) with
        {
            Toy = job.Toy.Name,
            File = "/sd/plates/" + job.File,
        };
    }

    // Measured grams of 1.75 mm PLA (1.24 g/cm³), to the hundredth as a scale would give them.
    private static double Grams(PlannedJob job) => Math.Round(MaterialCatalog.Default.GramsFromMillimetres(job.UsedFilamentMm, "PLA"), 2);

    private string JobId(PlannedJob job) => string.Create(CultureInfo.InvariantCulture, $"{Printer}-{job.Number:D5}");

    private static void JobFields(Utf8JsonWriter w, PlannedJob job)
    {
        w.WriteString("file", "/sd/plates/" + job.File);
        w.WriteString("toy", job.Toy.Name);
        w.WriteNumber("quantity", job.Toy.PerPlate);
        w.WriteString("material", "PLA");
    }

    private SimMessage Event(DateTimeOffset time, string type, Action<Utf8JsonWriter> fields) =>
        new(time, Topic, Json.Object(w =>
        {
            w.WriteString("type", type);
            w.WriteString("ts", Json.Iso(time));
            fields(w);
        }), 1, false);
}
