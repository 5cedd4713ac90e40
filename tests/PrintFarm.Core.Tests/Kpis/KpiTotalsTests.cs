using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Kpis;

public sealed class KpiTotalsTests
{
    private static KpiTotals Of(params EndedJob[] jobs)
    {
        var totals = new KpiTotals();
        foreach (var job in jobs)
        {
            totals.Add(job);
        }

        return totals;
    }

    [Fact]
    public void New_HasZeroSumsAndNoRatios()
    {
        var t = new KpiTotals();

        Assert.Equal(0, t.JobsEnded);
        Assert.Equal(0, t.ToysCompleted);
        Assert.Equal(0, t.PrintTimeSeconds);
        Assert.Null(t.AvgPrintTimePerToySeconds);
        Assert.Null(t.MaterialEfficiency);
        Assert.Null(t.SuccessRate);
    }

    [Fact]
    public void Add_EachOutcome_CountsInItsOwnCounter()
    {
        var t = Of(
            Some.Job(Some.At(9), JobOutcome.Completed),
            Some.Job(Some.At(9), JobOutcome.Completed),
            Some.Job(Some.At(9), JobOutcome.Failed),
            Some.Job(Some.At(9), JobOutcome.Cancelled));

        Assert.Equal(2, t.JobsCompleted);
        Assert.Equal(1, t.JobsFailed);
        Assert.Equal(1, t.JobsCancelled);
        Assert.Equal(2 + 1 + 1, t.JobsEnded);
    }

    [Fact]
    public void Add_OnlyCompletedJobs_DeliverToys()
    {
        var t = Of(
            Some.Job(Some.At(9), JobOutcome.Completed, quantity: 4),
            Some.Job(Some.At(9), JobOutcome.Failed, quantity: 3),
            Some.Job(Some.At(9), JobOutcome.Cancelled, quantity: 2),
            Some.Job(Some.At(9), JobOutcome.Completed, quantity: 1));

        Assert.Equal(4 + 1, t.ToysCompleted);
    }

    [Fact]
    public void AvgPrintTimePerToy_IsAllPrintTimeIncludingFailuresDividedByToysCompleted()
    {
        var completed = Some.Job(Some.At(9), JobOutcome.Completed, printTime: 5400, quantity: 4);
        var failed = Some.Job(Some.At(9), JobOutcome.Failed, printTime: 1800, quantity: 2);
        var cancelled = Some.Job(Some.At(9), JobOutcome.Cancelled, printTime: 600, quantity: 1);

        var t = Of(completed, failed, cancelled);

        // (5400 + 1800 + 600) s of machine time bought 4 toys: failures make every good toy more expensive.
        Assert.Equal(5400.0 + 1800 + 600, t.PrintTimeSeconds);
        Assert.Equal((5400.0 + 1800 + 600) / 4, t.AvgPrintTimePerToySeconds);
    }

    [Fact]
    public void AvgPrintTimePerToy_NoToyCompleted_IsNull()
    {
        var t = Of(Some.Job(Some.At(9), JobOutcome.Failed, printTime: 1800));

        Assert.Equal(1800, t.PrintTimeSeconds);
        Assert.Null(t.AvgPrintTimePerToySeconds);
    }

    [Fact]
    public void MaterialEfficiency_IsUsedMinusWasteOverUsed()
    {
        var t = Of(
            Some.Job(Some.At(9), JobOutcome.Completed, grams: 120),
            Some.Job(Some.At(9), JobOutcome.Failed, grams: 20),
            Some.Job(Some.At(9), JobOutcome.Cancelled, grams: 10));

        // used = every job's grams; waste = grams of jobs that did not complete.
        Assert.Equal(120.0 + 20 + 10, t.FilamentUsedGrams);
        Assert.Equal(20.0 + 10, t.FilamentWasteGrams);
        Assert.Equal(((120.0 + 20 + 10) - (20 + 10)) / (120 + 20 + 10), t.MaterialEfficiency);
    }

    [Fact]
    public void MaterialEfficiency_OnlyWaste_IsZero()
    {
        var t = Of(Some.Job(Some.At(9), JobOutcome.Failed, grams: 20));

        Assert.Equal(0, t.MaterialEfficiency);
    }

    [Fact]
    public void MaterialEfficiency_NoFilamentKnown_IsNull()
    {
        var t = Of(Some.Job(Some.At(9), JobOutcome.Completed, grams: null), Some.Job(Some.At(9), JobOutcome.Failed, grams: null));

        Assert.Null(t.MaterialEfficiency);
        Assert.Equal(0, t.FilamentUsedGrams);
    }

    [Fact]
    public void Add_JobsWithoutFilament_AreCountedButLeftOutOfUsedAndWaste()
    {
        var t = Of(
            Some.Job(Some.At(9), JobOutcome.Completed, printTime: 3600, quantity: 2, grams: 50),
            Some.Job(Some.At(9), JobOutcome.Failed, printTime: 1200, grams: null),
            Some.Job(Some.At(9), JobOutcome.Completed, printTime: 600, quantity: 1, grams: null));

        Assert.Equal(2, t.JobsWithoutFilament);
        Assert.Equal(50, t.FilamentUsedGrams);
        Assert.Equal(0, t.FilamentWasteGrams);
        Assert.Equal((50.0 - 0) / 50, t.MaterialEfficiency);
        // They still count as jobs, toys and machine time.
        Assert.Equal(3, t.JobsEnded);
        Assert.Equal(2 + 1, t.ToysCompleted);
        Assert.Equal(3600.0 + 1200 + 600, t.PrintTimeSeconds);
    }

    [Fact]
    public void Add_UnknownFilamentSourceWithGrams_IsLeftOutOfUsed()
    {
        var t = Of(Some.Job(Some.At(9), grams: 30, filamentSource: FilamentSource.Unknown));

        Assert.Equal(1, t.JobsWithoutFilament);
        Assert.Equal(0, t.FilamentUsedGrams);
    }

    [Theory]
    [InlineData(FilamentSource.Measured)]
    [InlineData(FilamentSource.Estimated)]
    [InlineData(FilamentSource.Prorated)]
    public void Add_AnyKnownFilamentSource_CountsTowardsUsed(FilamentSource source)
    {
        var t = Of(Some.Job(Some.At(9), grams: 30, filamentSource: source));

        Assert.Equal(0, t.JobsWithoutFilament);
        Assert.Equal(30, t.FilamentUsedGrams);
    }

    [Fact]
    public void SuccessRate_IsCompletedOverEnded()
    {
        var t = Of(
            Some.Job(Some.At(9), JobOutcome.Completed),
            Some.Job(Some.At(9), JobOutcome.Completed),
            Some.Job(Some.At(9), JobOutcome.Completed),
            Some.Job(Some.At(9), JobOutcome.Failed),
            Some.Job(Some.At(9), JobOutcome.Cancelled));

        Assert.Equal(3.0 / (3 + 1 + 1), t.SuccessRate);
    }

    [Fact]
    public void Add_Totals_SumsEveryComponentSoRatiosAreWeighted()
    {
        var big = default(KpiTotals);
        big.Add(Some.Job(Some.At(8), JobOutcome.Completed, printTime: 3600, quantity: 4, grams: 300, estimatedTime: 3000));
        big.AddBusy(1800);
        var small = default(KpiTotals);
        small.Add(Some.Job(Some.At(9), JobOutcome.Failed, printTime: 600, grams: 100));

        var sum = default(KpiTotals);
        sum.Add(big);
        sum.Add(small);

        Assert.Equal((1, 1, 0, 4, 4200.0, 400.0, 100.0, 1800.0), (sum.JobsCompleted, sum.JobsFailed, sum.JobsCancelled, sum.ToysCompleted, sum.PrintTimeSeconds, sum.FilamentUsedGrams, sum.FilamentWasteGrams, sum.BusySeconds));
        Assert.Equal(300.0 / 400, sum.MaterialEfficiency);
        Assert.Equal(3600.0 / 3000, sum.EstimateRatio);
    }

    [Fact]
    public void ToSums_FromSums_RoundTripEveryComponent()
    {
        var t = default(KpiTotals);
        t.Add(Some.Job(Some.At(8), JobOutcome.Completed, printTime: 3600, quantity: 4, grams: 300, estimatedTime: 3000) with { MaterialCost = 7.5 });
        t.Add(Some.Job(Some.At(9), JobOutcome.Cancelled, grams: null));
        t.AddBusy(1234.5);

        var back = KpiTotals.FromSums(t.ToSums());

        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(t), System.Text.Json.JsonSerializer.Serialize(back));
        Assert.Equal(12, t.ToSums().Length);
    }
}
