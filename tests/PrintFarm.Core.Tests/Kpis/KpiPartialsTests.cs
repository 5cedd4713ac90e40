using System.Globalization;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Kpis;

public sealed class KpiPartialsTests
{
    private static readonly WindowSpec Hourly = WindowSpec.Parse("1h");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    public void Merge_OfRandomJobsSplitOverPartitions_IsWhatOneEngineWritesForAllOfThem(int seed)
    {
        var random = new Random(seed);
        var jobs = Enumerable.Range(0, 40).Select(i => Some.Job(Some.At(9, random.Next(0, 60)), (JobOutcome)random.Next(0, 3),
            printTime: random.Next(60, 3600), quantity: random.Next(1, 5), grams: random.NextDouble() < 0.2 ? null : Math.Round(random.NextDouble() * 80, 2),
            estimatedTime: random.NextDouble() < 0.3 ? null : random.Next(60, 3600)) with { MaterialCost = random.NextDouble() < 0.5 ? null : random.NextDouble() * 3 }).ToList();
        var partitions = random.Next(2, 5);
        // Partition p has p + 1 printers; one engine sees them all.
        var whole = Point(jobs, Enumerable.Range(1, partitions).Sum());
        var partials = Enumerable.Range(0, partitions).Select(p => Point(jobs.Where((_, i) => i % partitions == p), p + 1)).ToList();

        var merged = KpiPartials.Merge(partials.Select(Fields));
        var expected = Fields(whole);

        Assert.Equal(expected.Keys.Order(), merged.Keys.Order());
        foreach (var (field, value) in expected)
        {
            // Counts exactly; sums of floats in another order, so to the last bits only.
            Assert.True(Math.Abs(value - merged[field]) <= 1e-12 * Math.Abs(value), $"{field}: {value} vs {merged[field]}");
        }
    }

    [Fact]
    public void Merge_OfOnePoint_GivesItsOwnRatiosBackBitForBit()
    {
        var point = Point([Some.Job(Some.At(9), JobOutcome.Completed, printTime: 3000, quantity: 3, grams: 70.3, estimatedTime: 2800), Some.Job(Some.At(9), JobOutcome.Failed, printTime: 700, grams: 9.9)], 2);

        Assert.Equal(Fields(point), KpiPartials.Merge([Fields(point)]));
    }

    [Fact]
    public void Merge_LeavesOutARatioWithoutDenominator()
    {
        var merged = KpiPartials.Merge([new Dictionary<string, double> { ["jobs_failed"] = 1, ["print_time_s"] = 60 }, new Dictionary<string, double> { ["jobs_cancelled"] = 1 }]);

        Assert.Equal(0, merged["success_rate"]);
        Assert.False(merged.ContainsKey("avg_print_time_per_toy_s"));
        Assert.False(merged.ContainsKey("material_efficiency"));
        Assert.False(merged.ContainsKey("utilization"));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(11)]
    public void Merge_OfCostLinesSplitOverPartitions_GivesTheWholeFarmsCostPerToyAndItsParts(int seed)
    {
        var random = new Random(seed);
        var parts = Enumerable.Range(0, random.Next(2, 5)).Select(_ => new PrintFarm.Core.Cost.CostTotals
        {
            GoodToys = random.Next(0, 6), Plates = random.Next(1, 4), Material = random.NextDouble() * 9, Machine = random.NextDouble() * 2,
            Labour = random.Next(1, 4) * 0.5, JobKwh = random.NextDouble(), IdleKwh = random.NextDouble() / 10, Energy = random.NextDouble() * 0.3,
        }).ToList();
        var whole = parts.Aggregate(default(PrintFarm.Core.Cost.CostTotals), (sum, t) => new PrintFarm.Core.Cost.CostTotals
        {
            GoodToys = sum.GoodToys + t.GoodToys, Plates = sum.Plates + t.Plates, Material = sum.Material + t.Material, Machine = sum.Machine + t.Machine,
            Labour = sum.Labour + t.Labour, JobKwh = sum.JobKwh + t.JobKwh, IdleKwh = sum.IdleKwh + t.IdleKwh, Energy = sum.Energy + t.Energy,
        });
        Assert.True(whole.GoodToys > 0, "the seed gives the farm good toys");

        // The partition's cost line and its kpi line are one point in InfluxDB; the kpi line brings toys_completed.
        Dictionary<string, double> PointOf(PrintFarm.Core.Cost.CostTotals t, int? partition) => new(Fields(new PointEncoder("f") { Partition = partition }.CostKpi(new PrintFarm.Core.Cost.CostPoint(Hourly, Some.At(9), KpiScope.Farm, string.Empty, t))))
        {
            ["toys_completed"] = t.GoodToys,
        };

        var merged = KpiPartials.Merge(parts.Select((t, i) => PointOf(t, i)));
        var expected = PointOf(whole, null);

        foreach (var field in (string[])["cost_total", "energy_kwh", "idle_energy_kwh", "cost_per_toy", "energy_per_toy_kwh", "cost_material_per_toy", "cost_energy_per_toy", "cost_machine_per_toy", "cost_labour_per_toy"])
        {
            Assert.True(Math.Abs(expected[field] - merged[field]) <= 1e-12 * Math.Abs(expected[field]), $"{field}: {expected[field]} vs {merged[field]}");
        }
    }

    // A farm-scope point of a closed hour (each partition has its own printers; a printer is busy at most its hour).
    private static KpiPoint Point(IEnumerable<EndedJob> jobs, int printers)
    {
        var totals = default(KpiTotals);
        foreach (var job in jobs)
        {
            totals.Add(job);
            totals.AddBusy(job.PrintTimeSeconds / 100);
        }

        totals.PrintersSeen = printers;
        return new KpiPoint(Hourly, Some.At(9), Some.At(10), KpiScope.Farm, string.Empty, totals);
    }

    // The point's numeric fields as the encoder writes them.
    private static Dictionary<string, double> Fields(KpiPoint point) => Fields(new PointEncoder("f").Kpi(point));

    private static Dictionary<string, double> Fields(string line)
    {
        var fields = line.Split(' ')[1];
        return fields.Split(',').Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => double.Parse(kv[1].TrimEnd('i'), CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }
}
