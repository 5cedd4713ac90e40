using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Reasons;

/// <summary>
/// Properties of the breakdown by reason over generated jobs: the shares of a window add up to 1, the reasons' waste
/// adds up to the KPI engine's filament_waste_g of the same window, and 1 − Σ quality_loss is toys completed ÷ toys ended;
/// labels move jobs between reasons without changing any of those sums.
/// </summary>
public sealed class ReasonBreakdownTests
{
    private static readonly WindowSpec[] Windows = [WindowSpec.Parse("1h"), WindowSpec.Parse("1d")];

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 20)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Shares_sum_to_one_and_waste_by_reason_sums_to_the_kpi_waste(int seed)
    {
        var (jobs, _) = Generate(seed);
        var (points, kpis) = Run(jobs, labels: []);
        AssertConsistent(points, kpis);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Labels_move_waste_between_reasons_and_keep_every_sum(int seed)
    {
        var (jobs, random) = Generate(seed);
        var failed = jobs.Where(j => j.Outcome != JobOutcome.Completed).ToList();
        var labels = failed.Where(_ => random.NextDouble() < 0.4).Select(j => (j, FailureReasons.All[random.Next(FailureReasons.All.Count)])).ToList();
        Assert.NotEmpty(labels);

        var (points, kpis) = Run(jobs, labels);
        AssertConsistent(points, kpis);

        // Each reason's waste is exactly that of the jobs whose reason, after the labels, is that reason.
        var final = jobs.ToDictionary(j => j.JobId, j => j.Reason);
        foreach (var (job, reason) in labels)
        {
            final[job.JobId] = reason;
        }

        foreach (var p in points.Values.Where(p => p.Window.Name == "1d"))
        {
            var expected = jobs.Where(j => j.Outcome != JobOutcome.Completed && Windows[1].StartOf(j.End) == p.WindowStart && final[j.JobId] == p.Reason).ToList();
            Assert.Equal(expected.Count, p.Totals.Jobs);
            Assert.Equal(expected.Sum(j => j.HasFilament ? j.FilamentGrams : 0), p.Totals.WasteGrams, 6);
            Assert.Equal(expected.Sum(j => (long)j.Quantity), p.Totals.ToysLost);
        }
    }

    [Fact]
    public void A_label_that_empties_a_reason_writes_it_again_with_zeros()
    {
        var breakdown = new ReasonBreakdown(Windows);
        var job = Some.Job(Some.At(10), JobOutcome.Failed, grams: 12) with { Reason = FailureReason.Unknown };
        breakdown.Add(job, 0b11);
        var output = new List<ReasonPoint>();
        breakdown.Collect(output, null);
        Assert.Equal(2, output.Count);

        output.Clear();
        breakdown.Move(job, 0b11, FailureReason.Unknown, FailureReason.Clog);
        breakdown.Collect(output, null);
        var hour = output.Where(p => p.Window.Name == "1h").ToDictionary(p => p.Reason);
        Assert.Equal(0, hour[FailureReason.Unknown].Totals.Jobs);
        Assert.Equal(0, hour[FailureReason.Unknown].Totals.WasteGrams);
        Assert.Equal(0, hour[FailureReason.Unknown].WasteShare);
        Assert.Equal(12, hour[FailureReason.Clog].Totals.WasteGrams);
        Assert.Equal(1, hour[FailureReason.Clog].WasteShare);
    }

    [Fact]
    public void A_job_counts_only_in_the_sizes_the_engine_counted_it_in()
    {
        var breakdown = new ReasonBreakdown(Windows);
        breakdown.Add(Some.Job(Some.At(10), JobOutcome.Failed, grams: 5) with { Reason = FailureReason.Clog }, countedIn: 0b10);
        var output = new List<ReasonPoint>();
        breakdown.Collect(output, null);
        Assert.Equal("1d", Assert.Single(output).Window.Name);
    }

    [Fact]
    public void Saved_state_restores_the_same_points()
    {
        var (jobs, _) = Generate(3);
        var breakdown = new ReasonBreakdown(Windows);
        jobs.ForEach(j => breakdown.Add(j, 0b11));
        var before = new List<ReasonPoint>();
        breakdown.Collect(before, null);

        var restored = new ReasonBreakdown(Windows);
        var json = System.Text.Json.JsonSerializer.Serialize(breakdown.SaveState());
        restored.RestoreState(System.Text.Json.JsonSerializer.Deserialize<List<ReasonBreakdownState>>(json));
        var after = new List<ReasonPoint>();
        restored.Collect(after, null);
        Assert.Equal(before.OrderBy(Key).ToList(), after.OrderBy(Key).ToList());

        static string Key(ReasonPoint p) => $"{p.Window.Name} {p.WindowStart:O} {p.Reason}";
    }

    // Feeds the jobs to the breakdown and to a KPI engine (farm scope), applies the labels, and returns the last
    // value of every kpi_reason series and of every farm kpi window.
    private static (Dictionary<(string, DateTimeOffset, FailureReason), ReasonPoint> Points, Dictionary<(string, DateTimeOffset), KpiTotals> Kpis) Run(List<EndedJob> jobs, List<(EndedJob Job, FailureReason Reason)> labels)
    {
        var engine = new KpiEngine(new KpiEngineOptions { Windows = Windows });
        var tracker = new ReasonTracker(Windows);
        var points = new Dictionary<(string, DateTimeOffset, FailureReason), ReasonPoint>();
        var kpis = new Dictionary<(string, DateTimeOffset), KpiTotals>();
        var reasonOut = new List<ReasonPoint>();
        var kpiOut = new List<KpiPoint>();
        void Collect()
        {
            reasonOut.Clear();
            kpiOut.Clear();
            tracker.Collect(engine.Watermark, reasonOut);
            engine.Collect(kpiOut);
            reasonOut.ForEach(p => points[(p.Window.Name, p.WindowStart, p.Reason)] = p);
            kpiOut.Where(p => p.Scope == KpiScope.Farm).ToList().ForEach(p => kpis[(p.Window.Name, p.WindowStart)] = p.Totals);
        }

        foreach (var job in jobs)
        {
            engine.AddJob(job);
            tracker.AddJob(job, engine.IsWindowClosed);
            if (job.End.Minute % 7 == 0)
            {
                Collect();
            }
        }

        foreach (var (job, reason) in labels)
        {
            var body = System.Text.Encoding.UTF8.GetBytes($$"""{"reason":"{{FailureReasons.Name(reason)}}"}""");
            Assert.True(tracker.Label($"{job.Printer}/{job.JobId}", body, out _).Accepted);
        }

        Collect();
        return (points, kpis);
    }

    private static void AssertConsistent(Dictionary<(string, DateTimeOffset, FailureReason), ReasonPoint> points, Dictionary<(string, DateTimeOffset), KpiTotals> kpis)
    {
        var windows = points.Values.GroupBy(p => (p.Window.Name, p.WindowStart)).ToList();
        Assert.NotEmpty(windows);
        foreach (var window in windows)
        {
            var kpi = kpis[window.Key];
            Assert.Equal(kpi.FilamentWasteGrams, window.Sum(p => p.Totals.WasteGrams), 6);
            Assert.Equal(kpi.JobsFailed + kpi.JobsCancelled, window.Sum(p => p.Totals.Jobs));
            if (kpi.FilamentWasteGrams > 0)
            {
                Assert.Equal(1, window.Sum(p => p.WasteShare!.Value), 9);
            }
            else
            {
                Assert.All(window, p => Assert.Null(p.WasteShare));
            }

            var toysEnded = kpi.ToysCompleted + window.Sum(p => p.Totals.ToysLost);
            Assert.Equal(1 - ((double)kpi.ToysCompleted / toysEnded), window.Sum(p => p.QualityLoss!.Value), 9);
        }
    }

    private static (List<EndedJob> Jobs, Random Random) Generate(int seed)
    {
        var random = new Random(seed);
        var jobs = new List<EndedJob>();
        var t = Some.At(0);
        for (var i = 0; i < 60 + random.Next(0, 120); i++)
        {
            t = t.AddMinutes(random.Next(1, 40));
            var roll = random.NextDouble();
            var outcome = roll < 0.25 ? JobOutcome.Failed : roll < 0.4 ? JobOutcome.Cancelled : JobOutcome.Completed;
            var grams = random.NextDouble() < 0.1 ? (double?)null : Math.Round(random.NextDouble() * 200, 2);
            var job = Some.Job(t, outcome, grams: grams, quantity: random.Next(1, 6), printer: "p" + random.Next(0, 4), jobId: "j" + i) with
            {
                Reason = outcome == JobOutcome.Completed ? null : FailureReasons.All[random.Next(FailureReasons.All.Count)],
                ReasonSource = outcome == JobOutcome.Completed ? null : FailureReasons.FromPrinter,
            };
            jobs.Add(job);
        }

        return (jobs, random);
    }
}
