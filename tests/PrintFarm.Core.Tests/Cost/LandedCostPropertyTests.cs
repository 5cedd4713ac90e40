using PrintFarm.Core.Cost;
using PrintFarm.Core.Events;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Cost;

/// <summary>The landed-cost formula over generated windows of jobs of every outcome, with and without metered energy.</summary>
public sealed class LandedCostPropertyTests
{
    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 25)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Cost_per_toy_times_good_toys_is_everything_the_window_cost_failures_and_idle_draw_included(int seed)
    {
        var (prices, jobs, idleKwh) = Generate(seed);
        var totals = Sum(prices, jobs, idleKwh);

        var everything = jobs.Sum(j => LandedCost.OfJob(j.Job, j.Kwh, prices).Total) + LandedCost.OfIdle(idleKwh, prices);
        var good = jobs.Sum(j => j.Job.ToysCompleted);
        if (good == 0)
        {
            Assert.Null(LandedCost.PerToy(totals));
            return;
        }

        Assert.Equal(everything, LandedCost.PerToy(totals)!.Value * good, 6);
        Assert.Equal(
            LandedCost.PerToy(totals)!.Value,
            LandedCost.PartPerToy(totals.Material, totals)!.Value + LandedCost.PartPerToy(totals.Energy, totals)!.Value
                + LandedCost.PartPerToy(totals.Machine, totals)!.Value + LandedCost.PartPerToy(totals.Labour, totals)!.Value,
            9);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_failed_job_raises_the_cost_per_toy_by_its_own_cost_spread_over_the_good_toys(int seed)
    {
        var (prices, jobs, idleKwh) = Generate(seed);
        var before = Sum(prices, jobs, idleKwh);
        if (before.GoodToys == 0)
        {
            return;
        }

        var failed = Some.Job(Some.At(12), JobOutcome.Failed, printTime: 1234, grams: 17, jobId: "failed") with { MaterialCost = 0.42 };
        var after = Sum(prices, [.. jobs, (failed, 0.3)], idleKwh);

        Assert.Equal(before.GoodToys, after.GoodToys);
        Assert.Equal(
            LandedCost.PerToy(before)!.Value + (LandedCost.OfJob(failed, 0.3, prices).Total / before.GoodToys),
            LandedCost.PerToy(after)!.Value,
            9);
    }

    [Fact]
    public void A_job_costs_its_material_its_energy_its_printing_hours_and_one_plate()
    {
        var prices = new CostPrices(EnergyPerKwh: 0.30, MachinePerPrintingHour: 0.50, LabourPerPlate: 1.00);
        var job = Some.Job(Some.At(10), printTime: 7200, quantity: 4) with { MaterialCost = 2.40 };

        var parts = LandedCost.OfJob(job, kwh: 0.25, prices);

        Assert.Equal(2.40, parts.Material, 12);
        Assert.Equal(0.25 * 0.30, parts.Energy, 12);
        Assert.Equal(2 * 0.50, parts.Machine, 12);
        Assert.Equal(1.00, parts.Labour, 12);
        Assert.Equal(2.40 + 0.075 + 1.00 + 1.00, parts.Total, 12);
    }

    private static CostTotals Sum(CostPrices prices, IEnumerable<(EndedJob Job, double? Kwh)> jobs, double idleKwh)
    {
        var totals = default(CostTotals);
        foreach (var (job, kwh) in jobs)
        {
            LandedCost.AddJob(ref totals, job, LandedCost.OfJob(job, null, prices));
            if (kwh is { } k)
            {
                LandedCost.AddJobEnergy(ref totals, k, prices);
            }
        }

        LandedCost.AddIdle(ref totals, idleKwh, prices);
        return totals;
    }

    private static (CostPrices Prices, List<(EndedJob Job, double? Kwh)> Jobs, double IdleKwh) Generate(int seed)
    {
        var random = new Random(seed);
        var prices = new CostPrices(random.NextDouble(), random.NextDouble() * 2, random.NextDouble() * 3);
        var jobs = new List<(EndedJob, double?)>();
        for (var i = random.Next(0, 12); i > 0; i--)
        {
            var job = Some.Job(Some.At(random.Next(0, 23)), (JobOutcome)random.Next(3), printTime: random.Next(60, 30000), quantity: random.Next(1, 9), jobId: "j" + i)
                with { MaterialCost = random.NextDouble() < 0.8 ? random.NextDouble() * 5 : null };
            jobs.Add((job, random.NextDouble() < 0.7 ? random.NextDouble() * 2 : null));
        }

        return (prices, jobs, random.NextDouble() * 0.5);
    }
}
