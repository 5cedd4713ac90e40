using System.Globalization;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.LineProtocol;

public sealed class PointEncoderTests
{
    private const string Farm = "farm-a";

    private readonly PointEncoder _encoder = new(Farm);

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    [Fact]
    public void Job_CompletedWithMeasuredFilament_MatchesTheDataContract()
    {
        // 120 g of a material priced at 25 per kg: material cost 0.120 × 25 = 3 (the tracker computes it; set here).
        var job = Some.Job(Some.At(9, 30), JobOutcome.Completed, printTime: 5400, quantity: 4, grams: 120, jobId: "A-1",
            file: "dragon_x4.gcode", millimetres: 40000, estimatedTime: 5500) with { MaterialCost = 3.0 };

        var line = _encoder.Job(job);

        // Tags in key order: farm, material, outcome, printer, source, toy. print_time_per_toy_s = print time ÷ quantity;
        // estimate_ratio = print time ÷ estimate = 5400 ÷ 5500.
        Assert.Equal(
            $"job,farm={Farm},material=PLA,outcome=completed,printer={Some.Printer},source={Some.Source},toy=dragon "
            + $"job_id=\"A-1\",file=\"dragon_x4.gcode\",print_time_s={F(5400)},toys=4i,print_time_per_toy_s={F(5400.0 / 4)},"
            + $"filament_g={F(120)},filament_mm={F(40000)},filament_source=\"measured\",estimated_time_s={F(5500)},"
            + $"estimate_ratio={F(5400.0 / 5500)},material_cost={F(3)} {Ms(job.End)}",
            line);
    }

    [Theory]
    [InlineData(JobOutcome.Failed)]
    [InlineData(JobOutcome.Cancelled)]
    public void Job_NotCompletedWithAnEstimate_HasNoEstimateRatio(JobOutcome outcome)
    {
        var job = Some.Job(Some.At(10), outcome, printTime: 1800, estimatedTime: 3600);

        var line = _encoder.Job(job);

        // The estimate is written, but a job that stopped early says nothing about the estimate's accuracy.
        Assert.Contains($",estimated_time_s={F(3600)}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("estimate_ratio", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_CompletedWithoutEstimateOrPrice_HasNoEstimateRatioOrMaterialCost()
    {
        var job = Some.Job(Some.At(10), JobOutcome.Completed, printTime: 1800, estimatedTime: null);

        var line = _encoder.Job(job);

        Assert.DoesNotContain("estimate", line, StringComparison.Ordinal);
        Assert.DoesNotContain("material_cost", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(JobOutcome.Failed, "failed")]
    [InlineData(JobOutcome.Cancelled, "cancelled")]
    public void Job_NotCompleted_HasOutcomeTagAndNoPrintTimePerToy(JobOutcome outcome, string tag)
    {
        var job = Some.Job(Some.At(10), outcome, printTime: 1800, quantity: 2, grams: 15.5, jobId: "B-2", file: "castle_x2.gcode", toy: "castle");

        var line = _encoder.Job(job);

        Assert.Equal(
            $"job,farm={Farm},material=PLA,outcome={tag},printer={Some.Printer},source={Some.Source},toy=castle "
            + $"job_id=\"B-2\",file=\"castle_x2.gcode\",print_time_s={F(1800)},toys=2i,"
            + $"filament_g={F(15.5)},filament_source=\"measured\" {Ms(job.End)}",
            line);
        Assert.DoesNotContain("print_time_per_toy_s", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_UnknownFilament_HasNoFilamentGramsAndSourceUnknown()
    {
        var job = Some.Job(Some.At(10), grams: null);

        var line = _encoder.Job(job);

        Assert.DoesNotContain("filament_g=", line, StringComparison.Ordinal);
        Assert.DoesNotContain("filament_mm=", line, StringComparison.Ordinal);
        Assert.Contains("filament_source=\"unknown\"", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FilamentSource.Measured, "measured")]
    [InlineData(FilamentSource.Estimated, "estimated")]
    [InlineData(FilamentSource.Prorated, "prorated")]
    [InlineData(FilamentSource.Unknown, "unknown")]
    public void Job_FilamentSource_IsAStringField(FilamentSource source, string written)
    {
        var job = Some.Job(Some.At(10), grams: 5, filamentSource: source);

        var line = _encoder.Job(job);

        Assert.Contains($",filament_source=\"{written}\"", line, StringComparison.Ordinal);
        Assert.Equal(written, PointEncoder.FilamentSourceName(source));
    }

    [Fact]
    public void Job_NamesWithSpecialCharacters_AreEscaped()
    {
        var job = Some.Job(Some.At(10), toy: "big dragon,v2", file: @"C:\plates\say ""hi"".gcode");

        var line = _encoder.Job(job);

        Assert.Contains(@",toy=big\ dragon\,v2 ", line, StringComparison.Ordinal);
        Assert.Contains(@"file=""C:\\plates\\say \""hi\"".gcode""", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_FarmScope_HasFarmScopeAndWindowTagsAndAllFields()
    {
        var totals = new KpiTotals();
        totals.Add(Some.Job(Some.At(9), JobOutcome.Completed, printTime: 3600, quantity: 4, grams: 100, estimatedTime: 4000) with { MaterialCost = 2.5 });
        totals.Add(Some.Job(Some.At(9), JobOutcome.Failed, printTime: 600, quantity: 2, grams: 20, estimatedTime: 500) with { MaterialCost = 0.5 });
        totals.Add(Some.Job(Some.At(9), JobOutcome.Cancelled, printTime: 300, grams: null));
        totals.AddBusy(5400);
        totals.PrintersSeen = 2;
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.At(9), Some.At(9) + WindowSpec.Parse("1h").Size, KpiScope.Farm, string.Empty, totals);

        var line = _encoder.Kpi(point);

        // Sums: 1 completed, 1 failed, 1 cancelled; 4 toys; 1 job without filament; 3600+600+300 s;
        // used 100+20 g, waste 20 g (the failed job's); ratios derived as in KpiTotals.
        // estimate_ratio: completed jobs with an estimate only: 3600 ÷ 4000 (the failed job's 500 s estimate is left out).
        // material_cost: 2.5 + 0.5 = 3 (failed jobs cost too); per toy: 3 ÷ 4 toys = 0.75.
        // printing_s 5400 over 2 printers seen in a 3600 s window: capacity 3600 × 2, utilization 5400 ÷ 7200 = 0.75.
        // The raw sums behind estimate_ratio and utilization are written too, for adding partitions' points up.
        Assert.Equal(
            $"kpi,farm={Farm},scope=farm,window=1h "
            + "jobs_completed=1i,jobs_failed=1i,jobs_cancelled=1i,toys_completed=4i,jobs_without_filament=1i,"
            + $"print_time_s={F(3600 + 600 + 300)},avg_print_time_per_toy_s={F((3600.0 + 600 + 300) / 4)},"
            + $"filament_used_g={F(100 + 20)},filament_waste_g={F(20)},material_efficiency={F((120.0 - 20) / 120)},"
            + $"success_rate={F(1.0 / 3)},estimate_ratio={F(3600.0 / 4000)},material_cost={F(2.5 + 0.5)},material_cost_per_toy={F(3.0 / 4)},"
            + $"estimated_jobs_actual_s={F(3600)},estimated_jobs_estimate_s={F(4000)},capacity_s={F(3600 * 2)},"
            + $"printing_s={F(5400)},utilization={F(5400.0 / (3600 * 2))},printers_seen=2i {Ms(Some.At(9))}",
            line);
    }

    [Fact]
    public void Kpi_PrinterScope_UtilizationIsBusyOverTheWindowAndHasNoPrintersSeen()
    {
        var totals = new KpiTotals();
        totals.AddBusy(1800);
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.At(9), Some.At(10), KpiScope.Printer, "p7", totals);

        var line = _encoder.Kpi(point);

        // One printer: 1800 s busy in a 3600 s window = 0.5. printers_seen is a farm-scope field.
        Assert.EndsWith($",printing_s={F(1800)},utilization={F(0.5)} {Ms(Some.At(9))}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("printers_seen", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(KpiScope.Toy, "dragon")]
    [InlineData(KpiScope.Material, "PLA")]
    public void Kpi_ToyAndMaterialScopes_HaveNoPrintingTimeUtilizationOrPrintersSeen(KpiScope scope, string subject)
    {
        var totals = new KpiTotals();
        totals.Add(Some.Job(Some.At(9, 30)));
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.At(9), Some.At(10), scope, subject, totals);

        var line = _encoder.Kpi(point);

        Assert.DoesNotContain("printing_s", line, StringComparison.Ordinal);
        Assert.DoesNotContain("utilization", line, StringComparison.Ordinal);
        Assert.DoesNotContain("printers_seen", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_PrinterScope_HasPrinterTagBeforeScope()
    {
        var point = new KpiPoint(WindowSpec.Parse("1d"), Some.Day, Some.Day + WindowSpec.Parse("1d").Size, KpiScope.Printer, "p7", Totals());

        var line = _encoder.Kpi(point);

        Assert.StartsWith($"kpi,farm={Farm},printer=p7,scope=printer,window=1d ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_MaterialScope_HasMaterialTagBeforeScope()
    {
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.Day, Some.Day + WindowSpec.Parse("1h").Size, KpiScope.Material, "PETG", Totals());

        var line = _encoder.Kpi(point);

        Assert.StartsWith($"kpi,farm={Farm},material=PETG,scope=material,window=1h ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_ToyScope_HasToyTagBetweenScopeAndWindow()
    {
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.Day, Some.Day + WindowSpec.Parse("1h").Size, KpiScope.Toy, "dragon", Totals());

        var line = _encoder.Kpi(point);

        Assert.StartsWith($"kpi,farm={Farm},scope=toy,toy=dragon,window=1h ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_RatiosWithoutDenominator_AreOmittedButCountsAreAlwaysWritten()
    {
        var totals = new KpiTotals();
        totals.Add(Some.Job(Some.At(9), JobOutcome.Failed, printTime: 600, grams: null));
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.At(9), Some.At(9) + WindowSpec.Parse("1h").Size, KpiScope.Farm, string.Empty, totals);

        var line = _encoder.Kpi(point);

        // No toy completed and no filament known: avg per toy and material efficiency are undefined. No completed job
        // with an estimate: no estimate ratio. No priced material: no cost, so no cost per toy. No printer seen:
        // farm utilization is undefined.
        Assert.DoesNotContain("avg_print_time_per_toy_s", line, StringComparison.Ordinal);
        Assert.DoesNotContain("material_efficiency", line, StringComparison.Ordinal);
        Assert.DoesNotContain("estimate_ratio", line, StringComparison.Ordinal);
        Assert.DoesNotContain("material_cost", line, StringComparison.Ordinal);
        Assert.DoesNotContain("utilization", line, StringComparison.Ordinal);
        Assert.Contains("jobs_completed=0i,jobs_failed=1i,jobs_cancelled=0i,toys_completed=0i,jobs_without_filament=1i,", line, StringComparison.Ordinal);

        // Sums and counts are still written, printing time and printers seen included.
        Assert.Contains($"filament_used_g=0,filament_waste_g=0,success_rate=0,printing_s=0,printers_seen=0i ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Kpi_Timestamp_IsTheWindowStart()
    {
        var point = new KpiPoint(WindowSpec.Parse("1h"), Some.At(14), Some.At(14) + WindowSpec.Parse("1h").Size, KpiScope.Farm, string.Empty, Totals());

        var line = _encoder.Kpi(point);

        Assert.EndsWith($" {Ms(Some.At(14))}", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Printer_FullTelemetry_MatchesTheDataContract()
    {
        var e = new PrinterEvent
        {
            Kind = EventKind.JobProgress,
            Printer = "p2",
            Source = "native",
            Timestamp = Some.At(8, 5),
            State = "printing",
            ProgressPercent = 10.5,
            NozzleCelsius = 210.2,
            NozzleTargetCelsius = 210,
            BedCelsius = 59.8,
            BedTargetCelsius = 60,
            Online = true,
        };

        var line = _encoder.Printer(e);

        Assert.Equal(
            $"printer,farm={Farm},printer=p2,source=native state=\"printing\",progress_pct={F(10.5)},nozzle_c={F(210.2)},"
            + $"nozzle_target_c={F(210)},bed_c={F(59.8)},bed_target_c={F(60)},online=true {Ms(e.Timestamp)}",
            line);
    }

    [Fact]
    public void Printer_OnlyPresence_WritesOnlineField()
    {
        var e = new PrinterEvent { Kind = EventKind.Status, Printer = "p2", Source = "native", Timestamp = Some.At(8), Online = false };

        var line = _encoder.Printer(e);

        Assert.Equal($"printer,farm={Farm},printer=p2,source=native online=false {Ms(e.Timestamp)}", line);
    }

    [Fact]
    public void Printer_EventWithoutTelemetry_GivesNoLine()
    {
        var e = Some.Started(Some.At(9));

        Assert.Null(_encoder.Printer(e));
    }

    // Issue 19: the status table showed "printing" after a job ended, since the end event wrote no printer point.
    [Theory]
    [InlineData(JobOutcome.Completed, "finished")]
    [InlineData(JobOutcome.Failed, "failed")]
    [InlineData(JobOutcome.Cancelled, "cancelled")]
    public void Printer_JobEndNamingNoState_WritesTheEndedState(JobOutcome outcome, string state)
    {
        var e = Some.Finished(Some.At(9), outcome, grams: 10);

        Assert.Equal($"printer,farm={Farm},printer={e.Printer},source={e.Source} state=\"{state}\" {Ms(e.Timestamp)}", _encoder.Printer(e));
    }

    [Fact]
    public void Printer_JobEndNamingItsState_KeepsIt()
    {
        var finished = Some.Finished(Some.At(9), grams: 10);
        var e = new PrinterEvent { Kind = finished.Kind, Outcome = finished.Outcome, Printer = finished.Printer, Source = finished.Source, Timestamp = finished.Timestamp, State = "FINISH" };

        Assert.Contains("state=\"FINISH\"", _encoder.Printer(e), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void Constructor_BlankFarm_Throws(string farm)
    {
        Assert.ThrowsAny<ArgumentException>(() => new PointEncoder(farm));
    }

    [Theory]
    [InlineData(KpiScope.Farm, "farm")]
    [InlineData(KpiScope.Printer, "printer")]
    [InlineData(KpiScope.Toy, "toy")]
    [InlineData(KpiScope.Material, "material")]
    public void ScopeName_EachScope_IsItsTagValue(KpiScope scope, string name)
    {
        Assert.Equal(name, PointEncoder.ScopeName(scope));
    }

    private static KpiTotals Totals()
    {
        var totals = new KpiTotals();
        totals.Add(Some.Job(Some.At(9)));
        return totals;
    }
}
