using System.Globalization;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Simulator.Formats;

/// <summary>
/// A Bambu Lab P1 in LAN mode, bridged into the farm broker: <c>push_status</c> deltas on
/// <c>device/{serial}/report</c> at QoS 0. Reports carry no timestamp and no filament figure; a cancel is
/// <c>print_error</c> 50348044 followed by <c>FAILED</c>. LAN prints report task and subtask ids <c>"0"</c>.
/// </summary>
public sealed class BambuEmitter(string printer, double cadenceFactor) : FormatEmitter(printer, cadenceFactor)
{
    private const long CancelledError = 50348044;
    private long _sequence;

    /// <inheritdoc />
    public override string Source => "bambu";

    /// <inheritdoc />
    public override PrinterFormat Format => PrinterFormat.Bambu;

    private string Topic => $"device/{Printer}/report";

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Hello(DateTimeOffset time)
    {
        yield return Report(time, w =>
        {
            w.WriteString("gcode_state", "IDLE");
            w.WriteNumber("print_error", 0);
            w.WriteString("task_id", "0");
            w.WriteString("subtask_id", "0");
            w.WriteNumber("nozzle_temper", 24.0);
            w.WriteNumber("nozzle_target_temper", 0);
            w.WriteNumber("bed_temper", 23.5);
            w.WriteNumber("bed_target_temper", 0);
        });
    }

    /// <inheritdoc />
    public override SimMessage? Offline(DateTimeOffset time) => null;

    /// <inheritdoc />
    public override SimMessage? Online(DateTimeOffset time) => null;

    /// <inheritdoc />
    public override SimMessage Malformed(DateTimeOffset time) =>
        new(time, Topic, Json.Truncated(Report(time, w => w.WriteNumber("mc_percent", 0)).Payload.ToArray()), 0, false);

    /// <inheritdoc />
    public override IEnumerable<SimMessage> Job(PlannedJob job)
    {
        var m = new List<SimMessage>
        {
            // PREPARE is the file download; the print starts on RUNNING.
            Report(job.Start, w =>
            {
                w.WriteString("gcode_state", "PREPARE");
                w.WriteString("task_id", "0");
                w.WriteString("subtask_id", "0");
                w.WriteString("subtask_name", Path.GetFileNameWithoutExtension(job.File));
                w.WriteString("gcode_file", "/data/Metadata/plate_1.gcode");
                w.WriteNumber("mc_percent", 0);
                w.WriteNumber("print_error", 0);
                w.WriteNumber("nozzle_target_temper", PlannedJob.NozzleTarget);
                w.WriteNumber("bed_target_temper", PlannedJob.BedTarget);
            }),
        };
        var running = Running(job);
        if (running < job.End)
        {
            m.Add(Report(running, w => w.WriteString("gcode_state", "RUNNING")));
        }

        foreach (var t in Samples(job, 20))
        {
            var (phase, percent) = job.At(t);
            var heat = HeatFraction(job, t);
            var wobble = (int)(t.ToUnixTimeSeconds() % 83);
            m.Add(Report(t, w =>
            {
                w.WriteNumber("mc_percent", percent);
                w.WriteNumber("mc_remaining_time", Math.Max(0, (job.PlateSeconds - job.SecondsAt(percent)) / 60));
                w.WriteNumber("nozzle_temper", PlannedJob.Nozzle(phase, heat, wobble));
                w.WriteNumber("bed_temper", PlannedJob.Bed(phase, heat, wobble));
            }));
        }

        if (job.PausedFrom is { } pausedFrom)
        {
            m.Add(Report(pausedFrom, w => w.WriteString("gcode_state", "PAUSE")));
            m.Add(Report(job.ResumedAt!.Value, w => w.WriteString("gcode_state", "RUNNING")));
        }

        switch (job.Outcome)
        {
            case JobOutcome.Completed:
                m.Add(Report(job.End, w =>
                {
                    w.WriteString("gcode_state", "FINISH");
                    w.WriteNumber("mc_percent", 100);
                    w.WriteNumber("nozzle_target_temper", 0);
                    w.WriteNumber("bed_target_temper", 0);
                }));
                break;
            default:
                var error = job.Outcome == JobOutcome.Cancelled ? CancelledError : Truth.SimReasons.BambuCode(job.Reason);
                m.Add(Report(job.End, w => w.WriteNumber("print_error", error)));
                m.Add(Report(job.End, w =>
                {
                    w.WriteString("gcode_state", "FAILED");
                    w.WriteString("fail_reason", error.ToString(CultureInfo.InvariantCulture));
                    w.WriteNumber("nozzle_target_temper", 0);
                    w.WriteNumber("bed_target_temper", 0);
                }));
                break;
        }

        return InOrder(m);
    }

    /// <inheritdoc />
    /// <remarks>PREPARE (the file download) until RUNNING.</remarks>
    public override IEnumerable<(DateTimeOffset At, PrinterActivity State)> States(PlannedJob job) => Phases(job, PrinterActivity.Preparing, Running(job));

    /// <inheritdoc />
    public override EndedJob Report(PlannedJob job, MaterialCatalog materials)
    {
        ArgumentNullException.ThrowIfNull(job);
        var name = Path.GetFileNameWithoutExtension(job.File);
        var id = string.Create(CultureInfo.InvariantCulture, $"{name}@{job.Start.ToUnixTimeSeconds()}");

        // Print time is the wall clock from PREPARE to the end: download, heat-up and pauses included.
        return Base(job, id, job.ElapsedSeconds, FromFile(job.File).Quantity, 0, null, FilamentSource.Unknown, null) with { File = name };
    }

    // RUNNING comes once the file is down, within half a minute.
    private static DateTimeOffset Running(PlannedJob job) => job.Start.AddSeconds(Math.Min(30, Math.Max(1, job.HeatUpSeconds / 4)));

    private SimMessage Report(DateTimeOffset time, Action<Utf8JsonWriter> fields) =>
        new(time, Topic, Json.Object(w =>
        {
            w.WriteStartObject("print");
            w.WriteString("command", "push_status");
            w.WriteNumber("msg", 1);
            w.WriteString("sequence_id", (++_sequence).ToString(CultureInfo.InvariantCulture));
            fields(w);
            w.WriteEndObject();
        }), 0, false);
}
