using System.Globalization;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Simulator.Formats;

/// <summary>
/// Klipper through Moonraker's <c>[mqtt]</c> with <c>publish_split_status: False</c>: deltas on
/// <c>{printer}/klipper/status</c> at QoS 1 (only changed fields; <c>eventtime</c> is Klipper's monotonic clock) and
/// presence on <c>{printer}/moonraker/status</c>, retained. <c>print_duration</c> excludes heat-up and pauses;
/// <c>filament_used</c> is measured extruder travel in millimetres.
/// </summary>
public sealed class MoonrakerEmitter(string printer, double cadenceFactor, DateTimeOffset bootTime) : FormatEmitter(printer, cadenceFactor)
{
    /// <inheritdoc />
    public override string Source => "moonraker";

    /// <inheritdoc />
    public override PrinterFormat Format => PrinterFormat.Moonraker;

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Hello(DateTimeOffset time)
    {
        yield return Online(time)!.Value;
        yield return Status(time, w =>
        {
            w.WriteStartObject("print_stats");
            w.WriteString("state", "standby");
            w.WriteEndObject();
            Heaters(w, 24.5, 0, 23.8, 0);
        });
    }

    /// <inheritdoc />
    public override SimMessage? Offline(DateTimeOffset time) => new(time, $"{Printer}/moonraker/status", Json.Object(w => w.WriteString("server", "offline")), 1, true);

    /// <inheritdoc />
    public override SimMessage? Online(DateTimeOffset time) => new(time, $"{Printer}/moonraker/status", Json.Object(w => w.WriteString("server", "online")), 1, true);

    /// <inheritdoc />
    public override SimMessage Malformed(DateTimeOffset time) =>
        new(time, $"{Printer}/klipper/status", Json.Truncated(Status(time, w => Heaters(w, 24.1, 0, 23.9, 0)).Payload.ToArray()), 1, false);

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Job(PlannedJob job)
    {
        var m = new List<SimMessage>
        {
            Status(job.Start, w =>
            {
                w.WriteStartObject("print_stats");
                w.WriteString("filename", job.File);
                w.WriteString("state", "printing");
                w.WriteNumber("total_duration", 0);
                w.WriteNumber("print_duration", 0);
                w.WriteNumber("filament_used", 0);
                w.WriteEndObject();
                w.WriteStartObject("virtual_sdcard");
                w.WriteBoolean("is_active", true);
                w.WriteNumber("progress", 0.0);
                w.WriteEndObject();
                w.WriteStartObject("exclude_object");
                w.WriteStartArray("objects");
                for (var i = 0; i < job.Toy.PerPlate; i++)
                {
                    w.WriteStartObject();
                    w.WriteString("name", string.Create(CultureInfo.InvariantCulture, $"{job.Toy.Name.ToUpperInvariant()}_ID_0_COPY_{i}"));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
                Heaters(w, 25.0, PlannedJob.NozzleTarget, 24.0, PlannedJob.BedTarget);
            }),
        };

        foreach (var t in Samples(job, 15))
        {
            var (phase, percent) = job.At(t);
            if (phase == JobPhase.Paused)
            {
                continue;
            }

            var heat = HeatFraction(job, t);
            var wobble = (int)(t.ToUnixTimeSeconds() % 89);
            m.Add(Status(t, w =>
            {
                w.WriteStartObject("print_stats");
                w.WriteNumber("total_duration", (long)(t - job.Start).TotalSeconds);
                w.WriteNumber("print_duration", job.SecondsAt(percent));
                w.WriteNumber("filament_used", Mm(job.PlateFilamentMm * percent / 100.0));
                w.WriteEndObject();
                w.WriteStartObject("virtual_sdcard");
                w.WriteNumber("progress", percent / 100.0);
                w.WriteEndObject();
                w.WriteStartObject("extruder");
                w.WriteNumber("temperature", PlannedJob.Nozzle(phase, heat, wobble));
                w.WriteEndObject();
                w.WriteStartObject("heater_bed");
                w.WriteNumber("temperature", PlannedJob.Bed(phase, heat, wobble));
                w.WriteEndObject();
            }));
        }

        if (job.PausedFrom is { } pausedFrom)
        {
            m.Add(State(pausedFrom, "paused", (long)(pausedFrom - job.Start).TotalSeconds));
            m.Add(State(job.ResumedAt!.Value, "printing", (long)(job.ResumedAt!.Value - job.Start).TotalSeconds));
        }

        var end = job.Outcome switch { JobOutcome.Completed => "complete", JobOutcome.Failed => "error", _ => "cancelled" };
        m.Add(Status(job.End, w =>
        {
            w.WriteStartObject("print_stats");
            w.WriteString("state", end);
            if (job.Outcome == JobOutcome.Failed)
            {
                w.WriteString("message", Truth.SimReasons.Text(job.Reason, PrinterFormat.Moonraker));
            }

            w.WriteNumber("total_duration", job.ElapsedSeconds);
            w.WriteNumber("print_duration", job.PrintedSeconds);
            w.WriteNumber("filament_used", Mm(job.UsedFilamentMm));
            w.WriteEndObject();
            w.WriteStartObject("virtual_sdcard");
            w.WriteBoolean("is_active", false);
            w.WriteNumber("progress", job.StopPercent / 100.0);
            w.WriteEndObject();
        }));
        m.Add(Status(job.End.AddSeconds(1), w => Heaters(w, PlannedJob.NozzleTarget - 1, 0, PlannedJob.BedTarget - 0.5, 0)));
        return InOrder(m);
    }

    /// <inheritdoc />
    /// <remarks>Klipper's print_stats has no heating state: a print is printing from its start, heat-up included.</remarks>
    public override IEnumerable<(DateTimeOffset At, PrinterActivity State)> States(PlannedJob job) => Phases(job, PrinterActivity.Printing);

    /// <inheritdoc />
    public override EndedJob Report(PlannedJob job, MaterialCatalog materials)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(materials);
        var mm = Mm(job.UsedFilamentMm);
        // The adapter's job id: the file, the receive second and Klipper's eventtime of the start (as Status writes it).
        var id = string.Create(CultureInfo.InvariantCulture, $"{job.File}@{job.Start.ToUnixTimeSeconds()}+{EventTime(job.Start):0.###}");
        return Base(job, id, job.PrintedSeconds, job.Toy.PerPlate, materials.GramsFromMillimetres(mm, "PLA"), mm, FilamentSource.Measured, null);
    }

    // Klipper's monotonic clock: seconds since the host booted, not epoch.
    private double EventTime(DateTimeOffset time) => Math.Round(1000.25 + (time - bootTime).TotalSeconds, 3);

    // Klipper reports filament_used with many decimals; two are plenty and keep the payload short.
    private static double Mm(double millimetres) => Math.Round(millimetres, 2);

    private SimMessage State(DateTimeOffset time, string state, long totalDuration) => Status(time, w =>
    {
        w.WriteStartObject("print_stats");
        w.WriteString("state", state);
        w.WriteNumber("total_duration", totalDuration);
        w.WriteEndObject();
    });

    private SimMessage Status(DateTimeOffset time, Action<Utf8JsonWriter> status) =>
        new(time, $"{Printer}/klipper/status", Json.Object(w =>
        {
            // Klipper's monotonic clock: seconds since the host booted, not epoch.
            w.WriteNumber("eventtime", EventTime(time));
            w.WriteStartObject("status");
            status(w);
            w.WriteEndObject();
        }), 1, false);

    private static void Heaters(Utf8JsonWriter w, double nozzle, double nozzleTarget, double bed, double bedTarget)
    {
        w.WriteStartObject("extruder");
        w.WriteNumber("temperature", nozzle);
        w.WriteNumber("target", nozzleTarget);
        w.WriteEndObject();
        w.WriteStartObject("heater_bed");
        w.WriteNumber("temperature", bed);
        w.WriteNumber("target", bedTarget);
        w.WriteEndObject();
    }
}
