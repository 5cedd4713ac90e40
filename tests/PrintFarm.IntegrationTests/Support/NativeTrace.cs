namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A hand-made farm trace in the native schema (<c>printfarm/{printer}/event</c>): two printers, two toys, a completed,
/// failed and cancelled job, a redelivered finish and a few status samples. Each job's expected figures are plain
/// data beside it so the tests compute the expected KPIs from the trace instead of hard-coding them.
/// </summary>
public sealed class NativeTrace
{
    // 1.75 mm filament: cross-section π × 0.875² mm²; grams = mm × area ÷ 1000 (cm³) × density (g/cm³).
    public static double Grams(double millimetres, double density) => millimetres * Math.PI * 0.875 * 0.875 / 1000.0 * density;

    public NativeTrace(string prefix, DateTimeOffset day)
    {
        Prefix = prefix;
        Day = day;
        var p1 = prefix + "-p1";
        var p2 = prefix + "-p2";
        var t = (int hours, int minutes) => day.AddHours(hours).AddMinutes(minutes);
        Jobs =
        [
            // p1: dragon plate of 4, 90 min, 120 g PLA, completed.
            new(p1, "A-" + prefix, "dragon_x4.gcode", "dragon", 4, "PLA", "completed", t(8, 0), t(9, 30), PrintTime: 5400, Grams: 120, Millimetres: null),
            // p1: castle, failed after 30 min, 3000 mm PETG (grams from density 1.27).
            new(p1, "B-" + prefix, "castle.gcode", "castle", 1, "PETG", "failed", t(9, 40), t(10, 10), PrintTime: 1800, Grams: null, Millimetres: 3000),
            // p2: dragons, quantity given explicitly; no print_time_s, so end − start = 90 min.
            new(p2, null, "dragon.gcode", "dragon", 2, "PLA", "completed", t(8, 15), t(9, 45), PrintTime: null, Grams: 60, Millimetres: null),
            // p2: castle plate of 2, cancelled after 15 min, 10 g.
            new(p2, "D-" + prefix, "castle_x2.gcode", "castle", 2, "PLA", "cancelled", t(9, 50), t(10, 5), PrintTime: 900, Grams: 10, Millimetres: null),
        ];
    }

    public string Prefix { get; }

    public DateTimeOffset Day { get; }

    public IReadOnlyList<TraceJob> Jobs { get; }

    /// <summary>The messages in publish order (event-time order, as printers would send them): topic and payload.</summary>
    public IEnumerable<(string Topic, object Payload)> Messages()
    {
        var messages = new List<(DateTimeOffset At, string Topic, object Payload)>();
        foreach (var job in Jobs)
        {
            var started = new Dictionary<string, object?> { ["type"] = "job_started", ["ts"] = job.Start.ToString("O"), ["file"] = job.File, ["material"] = job.Material };
            var finished = new Dictionary<string, object?> { ["type"] = "job_finished", ["ts"] = job.End.ToUnixTimeMilliseconds(), ["outcome"] = job.Outcome, ["file"] = job.File };
            if (job.JobId is not null)
            {
                started["job_id"] = job.JobId;
                finished["job_id"] = job.JobId;
            }

            if (job.File == "dragon.gcode")
            {
                // No marker in the file name: the quantity comes in the payload.
                started["quantity"] = job.Quantity;
                finished["quantity"] = job.Quantity;
            }

            if (job.PrintTime is not null) finished["print_time_s"] = job.PrintTime;
            if (job.Grams is not null) finished["filament_g"] = job.Grams;
            if (job.Millimetres is not null) finished["filament_mm"] = job.Millimetres;

            messages.Add((job.Start, Topic(job.Printer), started));
            messages.Add((job.Start.AddMinutes(5), Topic(job.Printer), new Dictionary<string, object?>
            {
                ["type"] = "job_progress", ["ts"] = job.Start.AddMinutes(5).ToUnixTimeSeconds(), ["job_id"] = job.JobId,
                ["progress_pct"] = 10.5, ["state"] = "printing", ["nozzle_c"] = 210.2, ["nozzle_target_c"] = 210.0, ["bed_c"] = 59.8, ["bed_target_c"] = 60.0,
            }));
            messages.Add((job.End, Topic(job.Printer), finished));

            // QoS 1 redelivery of the first job's finish: must not count twice.
            if (job == Jobs[0])
            {
                messages.Add((job.End.AddSeconds(1), Topic(job.Printer), finished));
            }
        }

        return messages.OrderBy(m => m.At).Select(m => (m.Topic, m.Payload));
    }

    public static string Topic(string printer) => $"printfarm/{printer}/event";

    /// <summary>Expected totals of a set of jobs, by the definitions in docs/kpis.md.</summary>
    public static ExpectedKpis Expect(IEnumerable<TraceJob> jobs)
    {
        var list = jobs.ToList();
        var completed = list.Where(j => j.Outcome == "completed").ToList();
        var printTime = list.Sum(j => j.ActualPrintTime);
        var toys = completed.Sum(j => j.Quantity);
        var used = list.Sum(j => j.ActualGrams);
        var waste = list.Where(j => j.Outcome != "completed").Sum(j => j.ActualGrams);
        return new ExpectedKpis(
            completed.Count,
            list.Count(j => j.Outcome == "failed"),
            list.Count(j => j.Outcome == "cancelled"),
            toys,
            printTime,
            printTime / toys,
            used,
            waste,
            (used - waste) / used,
            (double)completed.Count / list.Count);
    }
}

public sealed record TraceJob(string Printer, string? JobId, string File, string Toy, int Quantity, string Material, string Outcome, DateTimeOffset Start, DateTimeOffset End, double? PrintTime, double? Grams, double? Millimetres)
{
    private static readonly Dictionary<string, double> Densities = new() { ["PLA"] = 1.24, ["PETG"] = 1.27 };

    public double ActualPrintTime => PrintTime ?? (End - Start).TotalSeconds;

    public double ActualGrams => Grams ?? NativeTrace.Grams(Millimetres!.Value, Densities[Material]);
}

public sealed record ExpectedKpis(int JobsCompleted, int JobsFailed, int JobsCancelled, int ToysCompleted, double PrintTime, double AvgPrintTimePerToy, double FilamentUsed, double FilamentWaste, double MaterialEfficiency, double SuccessRate);
