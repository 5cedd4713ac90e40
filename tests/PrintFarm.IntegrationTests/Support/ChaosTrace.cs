using System.Globalization;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A generated farm day for the chaos tests: <c>printers</c> printers each running <c>jobsPerPrinter</c> jobs one after
/// another (completed, failed and cancelled), with progress messages and some finishes sent twice (a QoS 1
/// redelivery, or a plugin repeating itself). Everything comes from the seeded <see cref="Random"/> given, so a seed
/// reproduces the trace. Event times lie on a day two days ago: never in the future, whatever the machine's date.
/// Each job's expected figures are plain data beside it.
/// </summary>
public sealed class ChaosTrace
{
    private static readonly (string Toy, int Quantity)[] Toys = [("dragon", 4), ("castle", 1), ("rocket", 2), ("owl", 3)];

    public ChaosTrace(string prefix, Random random, int printers, int jobsPerPrinter)
    {
        ArgumentNullException.ThrowIfNull(random);
        Prefix = prefix;
        Day = new DateTimeOffset(DateTimeOffset.UtcNow.UtcDateTime.Date.AddDays(-2), TimeSpan.Zero);
        var jobs = new List<ChaosJob>();
        for (var p = 0; p < printers; p++)
        {
            var printer = $"{prefix}-p{p:D2}";
            for (var k = 0; k < jobsPerPrinter; k++)
            {
                var (toy, quantity) = Toys[random.Next(Toys.Length)];
                var roll = random.NextDouble();
                var outcome = roll < 0.7 ? "completed" : roll < 0.85 ? "failed" : "cancelled";
                // Slots of 50 min per printer from 06:00, staggered by printer: a job never overlaps the next one.
                var start = Day.AddHours(6).AddMinutes(50 * k + 2 * p).AddSeconds(random.Next(0, 300));
                var minutes = outcome == "completed" ? random.Next(20, 40) : random.Next(3, 15);
                var end = start.AddMinutes(minutes).AddSeconds(random.Next(0, 60));
                var printTime = Math.Round((end - start).TotalSeconds - random.Next(0, 90));
                var grams = Math.Round(quantity * 5 + random.NextDouble() * 30, 2);
                jobs.Add(new ChaosJob(printer, $"J-{printer}-{k}", $"{toy}_x{quantity}.gcode", toy, quantity, outcome, start, end, printTime, grams, Twice: random.NextDouble() < 0.1));
            }
        }

        Jobs = jobs;
    }

    public string Prefix { get; }

    public DateTimeOffset Day { get; }

    public IReadOnlyList<ChaosJob> Jobs { get; }

    /// <summary>The trace in the native schema, in event-time order (as printers send it).</summary>
    public IReadOnlyList<ChaosMessage> NativeMessages()
    {
        var messages = new List<(DateTimeOffset At, ChaosMessage Message)>();
        foreach (var job in Jobs)
        {
            var topic = $"printfarm/{job.Printer}/event";
            messages.Add((job.Start, new(topic, new Dictionary<string, object?>
            {
                ["type"] = "job_started", ["ts"] = job.Start.ToString("O", CultureInfo.InvariantCulture), ["job_id"] = job.JobId, ["file"] = job.File, ["material"] = "PLA",
            }, null)));
            foreach (var fraction in (double[])[0.3, 0.6])
            {
                var at = job.Start + (job.End - job.Start) * fraction;
                messages.Add((at, new(topic, new Dictionary<string, object?>
                {
                    ["type"] = "job_progress", ["ts"] = at.ToUnixTimeSeconds(), ["job_id"] = job.JobId, ["progress_pct"] = fraction * 100, ["state"] = "printing", ["nozzle_c"] = 210.5, ["bed_c"] = 60.1,
                }, null)));
            }

            var finished = new ChaosMessage(topic, new Dictionary<string, object?>
            {
                ["type"] = "job_finished", ["ts"] = job.End.ToUnixTimeMilliseconds(), ["job_id"] = job.JobId, ["outcome"] = job.Outcome, ["file"] = job.File,
                ["print_time_s"] = job.PrintTime, ["filament_g"] = job.Grams,
            }, job);
            messages.Add((job.End, finished));
            if (job.Twice)
            {
                messages.Add((job.End.AddSeconds(1), finished with { Ends = null }));
            }
        }

        return messages.OrderBy(m => m.At).Select(m => m.Message).ToList();
    }

    /// <summary>The trace as the OctoPrint MQTT plugin publishes it (<c>octoPrint/{printer}/…</c>), in event-time order.</summary>
    public IReadOnlyList<ChaosMessage> OctoPrintMessages()
    {
        var messages = new List<(DateTimeOffset At, ChaosMessage Message)>();
        foreach (var job in Jobs)
        {
            var p = $"octoPrint/{job.Printer}/";
            var start = job.Start.ToUnixTimeSeconds();
            messages.Add((job.Start, new(p + "event/PrintStarted", new { name = job.File, path = job.File, origin = "local", _timestamp = start }, null)));
            foreach (var fraction in (double[])[0.3, 0.6])
            {
                var at = job.Start + (job.End - job.Start) * fraction;
                messages.Add((at, new(p + "progress/printing", new { location = "local", path = job.File, progress = (int)(fraction * 100), _timestamp = at.ToUnixTimeSeconds() }, null)));
            }

            var end = job.End.ToUnixTimeSeconds();
            ChaosMessage last = job.Outcome switch
            {
                "completed" => new(p + "event/PrintDone", new { name = job.File, path = job.File, origin = "local", time = job.PrintTime, _timestamp = end }, job),
                "failed" => new(p + "event/PrintFailed", new { name = job.File, path = job.File, origin = "local", time = job.PrintTime, progress = 40, reason = "error", _timestamp = end }, job),
                _ => new(p + "event/PrintCancelled", new { name = job.File, path = job.File, origin = "local", time = job.PrintTime, progress = 40, _timestamp = end }, job),
            };
            messages.Add((job.End, last));
            if (job.Outcome == "cancelled")
            {
                // OctoPrint follows a cancellation with PrintFailed (reason "cancelled"): still one cancelled job.
                messages.Add((job.End, new(p + "event/PrintFailed", new { name = job.File, path = job.File, origin = "local", time = job.PrintTime, progress = 40, reason = "cancelled", _timestamp = end }, null)));
            }

            if (job.Twice)
            {
                messages.Add((job.End.AddSeconds(1), last with { Ends = null }));
            }
        }

        return messages.OrderBy(m => m.At).Select(m => m.Message).ToList();
    }

    /// <summary>The OctoPrint job id: the file's path and the start's <c>_timestamp</c>.</summary>
    public static string OctoPrintJobId(ChaosJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return $"{job.File}@{job.Start.ToUnixTimeSeconds()}";
    }

    /// <summary>The day's farm totals of the whole trace (docs/kpis.md): what the <c>kpi</c> point of the 1d farm window must say.</summary>
    public (int Completed, int Failed, int Cancelled, int Toys, double PrintTime) FarmDay() =>
        (Jobs.Count(j => j.Outcome == "completed"),
         Jobs.Count(j => j.Outcome == "failed"),
         Jobs.Count(j => j.Outcome == "cancelled"),
         Jobs.Where(j => j.Outcome == "completed").Sum(j => j.Quantity),
         Jobs.Sum(j => j.PrintTime));

    /// <summary>
    /// <paramref name="count"/> distinct message indices in the middle 80 % of a stream of <paramref name="length"/>,
    /// at least <c>length / (4 × count)</c> apart, ascending: the random moments of a fault.
    /// </summary>
    public static IReadOnlyList<int> Moments(Random random, int count, int length)
    {
        ArgumentNullException.ThrowIfNull(random);
        var gap = length / (4 * count);
        while (true)
        {
            var picks = Enumerable.Range(0, count).Select(_ => random.Next(length / 10, length * 9 / 10)).Order().ToList();
            if (picks.Zip(picks.Skip(1), (a, b) => b - a).All(d => d >= gap))
            {
                return picks;
            }
        }
    }
}

/// <summary>One job of a <see cref="ChaosTrace"/>, with the figures its <c>job</c> point must carry.</summary>
public sealed record ChaosJob(string Printer, string JobId, string File, string Toy, int Quantity, string Outcome, DateTimeOffset Start, DateTimeOffset End, double PrintTime, double Grams, bool Twice);

/// <summary>One message of a trace; <see cref="Ends"/> is the job whose first end message this is.</summary>
public sealed record ChaosMessage(string Topic, object Payload, ChaosJob? Ends);
