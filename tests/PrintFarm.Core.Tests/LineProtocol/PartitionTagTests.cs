using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.LineProtocol;

/// <summary>
/// Clustered mode: a partition's farm-, toy- and material-scope points carry its partition number, so the partitions'
/// partial points of one window never overwrite each other; printer scope and single-machine mode carry none.
/// </summary>
public sealed class PartitionTagTests
{
    private const string Farm = "farm-a";
    private static readonly WindowSpec Hourly = WindowSpec.Parse("1h");

    [Theory]
    [InlineData(KpiScope.Farm, "", "kpi,farm=farm-a,partition=7,scope=farm,window=1h ")]
    [InlineData(KpiScope.Toy, "dragon", "kpi,farm=farm-a,partition=7,scope=toy,toy=dragon,window=1h ")]
    [InlineData(KpiScope.Material, "PLA", "kpi,farm=farm-a,material=PLA,partition=7,scope=material,window=1h ")]
    [InlineData(KpiScope.Printer, "p7", "kpi,farm=farm-a,printer=p7,scope=printer,window=1h ")]
    public void Kpi_OfAPartition_TagsEveryScopeButPrinterWithThePartitionInKeyOrder(KpiScope scope, string subject, string expectedStart)
    {
        var line = new PointEncoder(Farm) { Partition = 7 }.Kpi(Point(scope, subject));

        Assert.StartsWith(expectedStart, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(KpiScope.Farm, "")]
    [InlineData(KpiScope.Toy, "dragon")]
    [InlineData(KpiScope.Material, "PLA")]
    [InlineData(KpiScope.Printer, "p7")]
    public void Kpi_InSingleMachineMode_HasNoPartitionTag(KpiScope scope, string subject)
    {
        var line = new PointEncoder(Farm).Kpi(Point(scope, subject));

        Assert.DoesNotContain("partition", line, StringComparison.Ordinal);
        // Besides the tag, a partition's point is the same bytes: the fields are the partition's own sums.
        Assert.Equal(line, new PointEncoder(Farm) { Partition = 2 }.Kpi(Point(scope, subject)).Replace(",partition=2", string.Empty, StringComparison.Ordinal));
    }

    [Fact]
    public void TimeInStateAndOee_OfThePartitionsFarm_AreTaggedAndOfAPrinter_AreNot()
    {
        var encoder = new PointEncoder(Farm) { Partition = 0 };
        var farm = new TimelinePoint(Hourly, Some.At(9), Some.At(10), string.Empty, new TimeInState(0));
        var printer = farm with { Printer = "p7" };

        Assert.StartsWith("printer_time,farm=farm-a,partition=0,scope=farm,window=1h ", encoder.TimeInState(farm), StringComparison.Ordinal);
        Assert.StartsWith("kpi,farm=farm-a,partition=0,scope=farm,window=1h ", encoder.Oee(farm), StringComparison.Ordinal);
        Assert.StartsWith("printer_time,farm=farm-a,printer=p7,scope=printer,window=1h ", encoder.TimeInState(printer), StringComparison.Ordinal);
        Assert.StartsWith("kpi,farm=farm-a,printer=p7,scope=printer,window=1h ", encoder.Oee(printer), StringComparison.Ordinal);
        Assert.DoesNotContain("partition", new PointEncoder(Farm).Oee(farm), StringComparison.Ordinal);
    }

    [Fact]
    public void Oee_WritesTheRawSumsItsRatiosAreMadeOf()
    {
        var times = new TimeInState(0) { GoodToys = 9, ToysStarted = 10, EstimateSeconds = 5400, EstimatedJobsActualSeconds = 6000 };
        times.OnShiftTicks[(int)PrinterActivity.Printing] = TimeSpan.FromHours(6).Ticks;
        times.OnShiftTicks[(int)PrinterActivity.Idle] = TimeSpan.FromHours(2).Ticks;
        var line = new PointEncoder(Farm).Oee(new TimelinePoint(Hourly, Some.At(9), Some.At(10), string.Empty, times));

        // availability = oee_printing_s ÷ oee_planned_s, performance = oee_estimate_s ÷ oee_actual_s (each at most 1),
        // quality = good_toys ÷ toys_started.
        Assert.Contains(",toys_started=10i,good_toys=9i,oee_planned_s=28800,oee_printing_s=21600,oee_estimate_s=5400,oee_actual_s=6000 ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_FarmCapacity_IsTheElapsedPrinterTimeButNeverBelowThePrintingTime()
    {
        var totals = default(KpiTotals);
        totals.AddBusy(1500);
        totals.PrintersSeen = 2;
        var running = new KpiPoint(Hourly, Some.At(9), Some.At(10), KpiScope.Farm, string.Empty, totals) { MeasuredUntil = Some.At(9, 10) };
        var closed = running with { MeasuredUntil = null };

        // 10 min elapsed × 2 printers = 1200 s, but a job's known interval ran ahead of the watermark: 1500 s printed,
        // utilization capped at 1, and printing_s ÷ capacity_s says the same. Once closed: 1500 ÷ 7200.
        Assert.Contains(",capacity_s=1500,printing_s=1500,utilization=1,", new PointEncoder(Farm).Kpi(running), StringComparison.Ordinal);
        Assert.Contains($",capacity_s=7200,printing_s=1500,utilization={(1500.0 / 7200).ToString("R", System.Globalization.CultureInfo.InvariantCulture)},", new PointEncoder(Farm).Kpi(closed), StringComparison.Ordinal);
    }

    private static KpiPoint Point(KpiScope scope, string subject)
    {
        var totals = default(KpiTotals);
        totals.Add(Some.Job(Some.At(9, 30), JobOutcome.Completed, printTime: 3600, quantity: 2, grams: 50, estimatedTime: 3000));
        totals.AddBusy(1800);
        totals.PrintersSeen = scope == KpiScope.Farm ? 3 : 0;
        return new KpiPoint(Hourly, Some.At(9), Some.At(10), scope, subject, totals);
    }
}
