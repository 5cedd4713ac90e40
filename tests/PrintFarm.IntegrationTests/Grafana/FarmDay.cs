using System.Globalization;
using System.Text;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>
/// One day of a small farm, as the worker would write it: three printers, three toys, two materials, jobs ending
/// in every hour from 08:00 to 14:00 and telemetry every ten minutes. The hours are shaped for the benchmark
/// bands and alert thresholds: 08–09 efficient (≥ 95 %), 10–11 typical (60–70 %), 12–13 poor (&lt; 60 %), then a
/// single perfect job at 14:00 and a single failure at 15:00 (an hour without any toy). Points are encoded by the worker's own <see cref="PointEncoder"/> and
/// the KPI points by its <see cref="KpiEngine"/> (re-emitted as each window changes, as the worker does); every
/// expected figure is computed here straight from the job list, independently of both.
/// </summary>
internal sealed class FarmDay
{
    public static readonly DateTimeOffset Day = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    public static readonly IReadOnlyList<string> Printers = ["mk4-01", "mk4-02", "x1c-01"];

    /// <summary>Filament prices (PrintFarm:Materials:*:PricePerKg) the jobs' material cost is computed with.</summary>
    public static readonly IReadOnlyDictionary<string, double> PricePerKg = new Dictionary<string, double> { ["PLA"] = 20, ["PETG"] = 32.5 };

    public FarmDay(string farm)
    {
        Farm = farm;
        Jobs =
        [
            // 08:00 — all completed: efficiency 100 %, success 100 %.
            Job(8, 0, "dragon", 4, "PLA", JobOutcome.Completed, 5400, 120),
            Job(8, 1, "castle", 1, "PETG", JobOutcome.Completed, 9000, 95),
            Job(8, 2, "rocket", 2, "PLA", JobOutcome.Completed, 7200, 60),

            // 09:00 — one short failure and one job without a filament figure: ≈ 95.6 %.
            Job(9, 0, "dragon", 4, "PLA", JobOutcome.Completed, 5400, 118),
            Job(9, 1, "castle", 1, "PETG", JobOutcome.Completed, 9000, 97),
            Job(9, 2, "rocket", 2, "PLA", JobOutcome.Completed, 7000, null),
            Job(9, 0, "dragon", 1, "PLA", JobOutcome.Failed, 600, 10, minute: 50),

            // 10:00 and 11:00 — typical: ≈ 69.5 % and ≈ 63.2 %, together ≈ 66.8 %.
            Job(10, 0, "dragon", 4, "PLA", JobOutcome.Completed, 5400, 120),
            Job(10, 1, "castle", 1, "PETG", JobOutcome.Failed, 5000, 80),
            Job(10, 2, "rocket", 2, "PLA", JobOutcome.Completed, 7200, 62),
            Job(11, 0, "dragon", 4, "PLA", JobOutcome.Completed, 5400, 120),
            Job(11, 1, "castle", 1, "PETG", JobOutcome.Cancelled, 3000, 50),
            Job(11, 2, "rocket", 2, "PLA", JobOutcome.Failed, 2000, 20),

            // 12:00 and 13:00 — poor: ≈ 52.8 % and ≈ 44.4 %, together ≈ 47.8 %.
            Job(12, 0, "dragon", 4, "PLA", JobOutcome.Failed, 3000, 70),
            Job(12, 1, "castle", 1, "PETG", JobOutcome.Completed, 9000, 95),
            Job(12, 2, "rocket", 2, "PLA", JobOutcome.Cancelled, 1200, 15),
            Job(13, 0, "dragon", 4, "PLA", JobOutcome.Completed, 5400, 120),
            Job(13, 1, "castle", 1, "PETG", JobOutcome.Failed, 6000, 110),
            Job(13, 2, "rocket", 2, "PETG", JobOutcome.Failed, 3000, 40),

            // 14:00 — one perfect job; 15:00 — one failure and no toy at all.
            Job(14, 0, "dragon", 4, "PLA", JobOutcome.Completed, 5400, 121, minute: 10),
            Job(15, 1, "castle", 1, "PETG", JobOutcome.Failed, 1800, 25, minute: 5),
        ];
        Telemetry = MakeTelemetry();
    }

    public string Farm { get; }

    public IReadOnlyList<EndedJob> Jobs { get; }

    public IReadOnlyList<PrinterEvent> Telemetry { get; }

    /// <summary>The dashboard's time range for the day.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Range => (Day, Day.AddDays(1).AddMilliseconds(-1));

    /// <summary>
    /// Hours that have a <c>kpi</c> window: a printer was seen in it (telemetry), a job ended in it, or a job was
    /// printing in it and the window was still open when the job's end arrived (its start is not in this trace, so
    /// printing time goes only into windows the watermark — the end time minus 30 s — has not closed, 10 min after
    /// their end).
    /// </summary>
    public IReadOnlyList<int> WindowHours() => Enumerable.Range(0, 24)
        .Where(h => Telemetry.Any(t => t.Timestamp >= Hour(h) && t.Timestamp < Hour(h + 1))
            || Jobs.Any(j => j.Start < Hour(h + 1) && j.End >= Hour(h) && Hour(h + 1).AddMinutes(10) > j.End.AddSeconds(-30)))
        .ToList();

    /// <summary>Start of the hourly window <paramref name="hour"/>.</summary>
    public static DateTimeOffset Hour(int hour) => Day.AddHours(hour);

    /// <summary>The built-in alert transitions the worker's evaluator made of this day (window rules, default settings).</summary>
    public IReadOnlyList<AlertTransition> Alerts => WorkerOutput(Farm, Jobs, Telemetry).Alerts;

    /// <summary>Every line the worker would have written, in the order it would have written them.</summary>
    public string LineProtocol() => WorkerOutput(Farm, Jobs, Telemetry).Lines;

    /// <summary>
    /// The worker's lines for jobs and telemetry samples: its encoder, its KPI engine (windows re-emitted as they
    /// change) and its alert evaluator fed with every emitted window, as the processor's flush does.
    /// </summary>
    /// <remarks>
    /// With <paramref name="partition"/>, the lines of one clustered-mode partition holding these printers: its farm,
    /// toy and material points tagged with the partition, and built-in alerts for printers only, as the worker does.
    /// </remarks>
    public static (string Lines, List<AlertTransition> Alerts) WorkerOutput(string farm, IEnumerable<EndedJob> jobs, IEnumerable<PrinterEvent> telemetry, int? partition = null)
    {
        var encoder = new PointEncoder(farm) { Partition = partition };
        var engine = new KpiEngine();
        var evaluator = new AlertEvaluator(new AlertRuleOptions(), new KpiEngineOptions().AllowedLateness, printersOnly: partition is not null);
        var timeline = new PrinterTimeline();
        var times = new List<TimelinePoint>();
        var alerts = new List<AlertTransition>();
        var lines = new List<string>();
        var kpis = new List<KpiPoint>();
        var reasons = new PrintFarm.Core.Jobs.ReasonTracker(engine.Windows);
        var reasonPoints = new List<ReasonPoint>();

        // Landed cost as the processor does it (issue 21, part 4); the Bambu printer reports its own energy counter.
        var costs = new Core.Cost.CostLedger(engine.Windows, new Core.Cost.CostPrices(0.30, 0.50, 1.00));
        var jobCosts = new List<Core.Cost.JobCost>();
        var costPoints = new List<Core.Cost.CostPoint>();
        var events = jobs.Select(j => (j.End, Job: (EndedJob?)j, Sample: (PrinterEvent?)null))
            .Concat(telemetry.Select(t => (End: t.Timestamp, Job: (EndedJob?)null, Sample: (PrinterEvent?)t)))
            .OrderBy(e => e.End);
        foreach (var (time, job, sample) in events)
        {
            if (job is not null)
            {
                Assert.Equal(0, engine.AddJob(job));
                lines.Add(encoder.Job(job));
                timeline.AddJob(job);
                reasons.AddJob(job, engine.IsWindowClosed);
                costs.JobEnded(job, jobCosts);
            }
            else
            {
                var observed = sample!;
                timeline.Observe(observed);
                engine.Observe(observed.Source, observed.Printer, time, time);
                lines.Add(encoder.Printer(observed) ?? throw new InvalidOperationException("a sample without telemetry"));
                if (observed.Printer == Printers[2])
                {
                    costs.ReadNative(observed.Printer, time, (time - Day).TotalHours * 0.12);
                }
            }

            // Time in each state and OEE, as the processor's flush writes them (printer_time, OEE fields on kpi).
            timeline.Advance(engine.Watermark);
            times.Clear();
            timeline.Collect(engine.Watermark, times);
            foreach (var point in times)
            {
                lines.Add(encoder.TimeInState(point));
                lines.Add(encoder.Oee(point));
            }

            costs.Advance(engine.Watermark, jobCosts);
            lines.AddRange(jobCosts.Select(c => encoder.JobCost(c)));
            jobCosts.Clear();
            costPoints.Clear();
            costs.Collect(engine.Watermark, costPoints);
            lines.AddRange(costPoints.Select(c => encoder.CostKpi(c)));

            kpis.Clear();
            engine.Collect(kpis);
            lines.AddRange(kpis.Select(k => encoder.Kpi(k)));
            reasonPoints.Clear();
            reasons.Collect(engine.Watermark, reasonPoints);
            lines.AddRange(reasonPoints.Select(r => encoder.KpiReason(r)));
            var before = alerts.Count;
            evaluator.Evaluate(kpis, engine.Watermark, alerts);
            lines.AddRange(alerts.Skip(before).Select(encoder.Alert));
        }

        return (string.Join('\n', lines), alerts);
    }

    /// <summary>
    /// The same day as a clustered farm of two partitions writes it: printers 0 and 2 in partition 0, printer 1 in
    /// partition 1, each partition with its own KPI engine (its own windows and watermark) and tagged points.
    /// </summary>
    public string PartitionedLineProtocol()
    {
        var lines = new List<string>();
        foreach (var partition in new[] { 0, 1 })
        {
            bool Mine(string printer) => (Printers.ToList().IndexOf(printer) == 1 ? 1 : 0) == partition;
            lines.Add(WorkerOutput(Farm, Jobs.Where(j => Mine(j.Printer)), Telemetry.Where(t => Mine(t.Printer)), partition).Lines);
        }

        return string.Join('\n', lines);
    }

    /// <summary>Writes <see cref="LineProtocol"/> to a database through the v1 write API, millisecond precision.</summary>
    public Task WriteAsync(string influxUrl, string database) => WriteLinesAsync(influxUrl, database, LineProtocol());

    /// <summary>Writes lines through the v1 write API, millisecond precision.</summary>
    public static async Task WriteLinesAsync(string influxUrl, string database, string lineProtocol)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var body = new StringContent(lineProtocol, Encoding.UTF8, "text/plain");
        var uri = new Uri($"{influxUrl}/write?db={Uri.EscapeDataString(database)}&precision={LineBuilder.Precision}");
        using var response = await http.PostAsync(uri, body);
        Assert.True(response.IsSuccessStatusCode, $"write failed with {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>KPI totals of a set of jobs, computed from the contract's definitions.</summary>
    public static Totals Expect(IEnumerable<EndedJob> jobs) => new(jobs.ToList());

    public Totals ExpectHours(int fromHour, int toHourInclusive) =>
        Expect(Jobs.Where(j => j.End >= Hour(fromHour) && j.End < Hour(toHourInclusive + 1)));

    private static EndedJob Job(int hour, int printer, string toy, int quantity, string material, JobOutcome outcome, double printTime, double? grams, int? minute = null)
    {
        // Printers finish a few minutes apart inside each hour.
        var end = Hour(hour).AddMinutes(minute ?? 15 + (12 * printer));
        var id = string.Create(CultureInfo.InvariantCulture, $"{Printers[printer]}-{end:HHmm}");
        return new EndedJob
        {
            Printer = Printers[printer],
            Source = printer == 2 ? "bambu" : "moonraker",
            JobId = id,
            File = quantity > 1 ? $"{toy}_x{quantity}.gcode" : $"{toy}.gcode",
            Toy = toy,
            Quantity = quantity,
            Material = material,
            Outcome = outcome,
            Start = end.AddSeconds(-printTime),
            End = end,
            PrintTimeSeconds = printTime,
            FilamentGrams = grams ?? 0,
            FilamentMillimetres = grams is { } g ? Math.Round(g / 1.24 / (Math.PI * 0.875 * 0.875) * 1000, 1) : null,
            FilamentSource = grams is null ? FilamentSource.Unknown : outcome == JobOutcome.Completed ? FilamentSource.Measured : FilamentSource.Prorated,
            // Slicer estimates: the first printer prints faster than sliced, the second slower, the Bambu reports none.
            EstimatedTimeSeconds = printer switch { 0 => Math.Round(printTime * 1.05), 1 => Math.Round(printTime / 1.2), _ => null },
            MaterialCost = grams is { } known ? known / 1000 * PricePerKg[material] : null,
        };
    }

    private List<PrinterEvent> MakeTelemetry()
    {
        var samples = new List<PrinterEvent>();
        for (var p = 0; p < Printers.Count; p++)
        {
            var printer = Printers[p];
            for (var t = Hour(7); t <= Hour(14).AddMinutes(50); t = t.AddMinutes(10))
            {
                var running = Jobs.FirstOrDefault(j => j.Printer == printer && j.Start <= t && t < j.End);
                // The Bambu printer drops off the network after its last job.
                var offline = p == 2 && t >= Hour(14).AddMinutes(30);
                var hot = running is not null;
                var petg = running?.Material == "PETG";
                samples.Add(new PrinterEvent
                {
                    Kind = EventKind.Status,
                    Printer = printer,
                    Source = p == 2 ? "bambu" : "moonraker",
                    Timestamp = t,
                    State = offline ? "offline" : hot ? "printing" : "idle",
                    Online = !offline,
                    ProgressPercent = running is null ? 0 : Math.Round((t - running.Start) / (running.End - running.Start) * 100, 1),
                    NozzleCelsius = hot ? (petg ? 239.5 : 214.5) : 28 + p,
                    NozzleTargetCelsius = hot ? (petg ? 240 : 215) : 0,
                    BedCelsius = hot ? (petg ? 79.5 : 59.5) : 26 + p,
                    BedTargetCelsius = hot ? (petg ? 80 : 60) : 0,
                });
            }
        }

        return samples;
    }
}

/// <summary>Expected KPI figures of a set of ended jobs, from the data contract's definitions.</summary>
internal sealed class Totals(List<EndedJob> jobs)
{
    public int Completed => jobs.Count(j => j.Outcome == JobOutcome.Completed);

    public int Failed => jobs.Count(j => j.Outcome == JobOutcome.Failed);

    public int Cancelled => jobs.Count(j => j.Outcome == JobOutcome.Cancelled);

    public int Ended => jobs.Count;

    public int Toys => jobs.Where(j => j.Outcome == JobOutcome.Completed).Sum(j => j.Quantity);

    public double PrintTimeSeconds => jobs.Sum(j => j.PrintTimeSeconds);

    public int WithoutFilament => jobs.Count(j => j.FilamentSource == FilamentSource.Unknown);

    public double FilamentUsed => jobs.Where(j => j.FilamentSource != FilamentSource.Unknown).Sum(j => j.FilamentGrams);

    public double FilamentWasted => jobs.Where(j => j.FilamentSource != FilamentSource.Unknown && j.Outcome != JobOutcome.Completed).Sum(j => j.FilamentGrams);

    /// <summary>(used − waste) ÷ used.</summary>
    public double Efficiency => (FilamentUsed - FilamentWasted) / FilamentUsed;

    /// <summary>All print time ÷ toys completed, in hours.</summary>
    public double HoursPerToy => PrintTimeSeconds / Toys / 3600;

    public double SuccessRate => (double)Completed / Ended;

    /// <summary>Σ grams ÷ 1000 × price, over the jobs whose filament is known.</summary>
    public double MaterialCost => jobs.Where(j => j.FilamentSource != FilamentSource.Unknown).Sum(j => j.FilamentGrams / 1000 * FarmDay.PricePerKg[j.Material]);

    /// <summary>Σ actual ÷ Σ estimated print time over completed jobs with an estimate; null without any.</summary>
    public double? EstimateRatio
    {
        get
        {
            var estimated = jobs.Where(j => j.Outcome == JobOutcome.Completed && j.EstimatedTimeSeconds is > 0).ToList();
            return estimated.Count == 0 ? null : estimated.Sum(j => j.PrintTimeSeconds) / estimated.Sum(j => j.EstimatedTimeSeconds!.Value);
        }
    }
}
