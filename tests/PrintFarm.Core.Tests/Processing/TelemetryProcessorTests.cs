using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Processing;

public sealed class TelemetryProcessorTests
{
    // Later than every fixture's event time (they are on 2024-06-01 between 05:55 and 07:30 UTC).
    private static readonly DateTimeOffset Received = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ProcessorOutput _output = new();

    [Fact]
    public void Process_PayloadOverTheLimit_IsRejectedAsOversize()
    {
        var options = new TelemetryProcessorOptions { MaxPayloadBytes = 64 };
        var processor = Pipeline.Create(options);
        var payload = Encoding.UTF8.GetBytes($$"""{"type":"status","ts":1717228800,"state":"{{new string('x', 64)}}"}""");

        var result = processor.Process(Pipeline.Message(payload, Received), _output);

        Assert.False(result.Accepted);
        Assert.Equal(RejectReasons.Oversize, result.Reason);
        Assert.Contains(options.MaxPayloadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Detail, StringComparison.Ordinal);
        Assert.Empty(_output.Lines);
        Assert.Null(processor.Kpis.Watermark);
    }

    [Fact]
    public void Process_PayloadExactlyAtTheLimit_IsProcessed()
    {
        var json = """{"type":"status","ts":1717228800,"state":"idle"}""";
        var processor = Pipeline.Create(new TelemetryProcessorOptions { MaxPayloadBytes = Encoding.UTF8.GetByteCount(json) });

        var result = processor.Process(Pipeline.Message(json, Received), _output);

        Assert.True(result.Accepted);
        Assert.Single(_output.Lines);
    }

    [Fact]
    public void Process_OversizeCheck_HappensBeforeTopicRouting()
    {
        var processor = Pipeline.Create(new TelemetryProcessorOptions { MaxPayloadBytes = 1 });

        var result = processor.Process(Pipeline.Message("{}"u8.ToArray(), Received, "nobody/listens/here"), _output);

        Assert.Equal(RejectReasons.Oversize, result.Reason);
    }

    [Theory]
    [InlineData("other/p1/event")]
    [InlineData("printfarm/p1/events")]
    [InlineData("printfarm/p1")]
    [InlineData("printfarm//event")]
    [InlineData("printfarm/p1/event/x")]
    public void Process_UnknownTopic_IsRejectedAsUnknownTopic(string topic)
    {
        var processor = Pipeline.Create();

        var result = processor.Process(Pipeline.Message(NativeFixtures.Bytes(NativeFixtures.Status), Received, topic), _output);

        Assert.False(result.Accepted);
        Assert.Equal(RejectReasons.UnknownTopic, result.Reason);
        Assert.Empty(_output.Lines);
    }

    [Fact]
    public void Process_AdapterRejection_IsPassedThroughAndChangesNothing()
    {
        var processor = Pipeline.Create();

        var result = processor.Process(Pipeline.Message("""{"type":"job_started","ts":1717228800,"quantity":0}""", Received), _output);

        Assert.Equal(RejectReasons.InvalidField, result.Reason);
        Assert.Empty(_output.Lines);
        Assert.Equal(0, processor.Jobs.OpenJobs);
        Assert.Null(processor.Kpis.Watermark);
    }

    [Fact]
    public void Process_TimestampBeyondTheClockSkew_IsRejectedAndChangesNoState()
    {
        var options = new TelemetryProcessorOptions();
        var processor = Pipeline.Create(options);
        var future = Received + options.MaxClockSkew + TimeSpan.FromSeconds(1);

        var result = processor.Process(
            Pipeline.Message($$"""{"type":"job_started","ts":"{{future:O}}","job_id":"A","progress_pct":1}""", Received), _output);

        Assert.False(result.Accepted);
        Assert.Equal(RejectReasons.FutureTimestamp, result.Reason);
        Assert.Empty(_output.Lines);
        Assert.Empty(_output.EndedJobs);
        Assert.Equal(0, processor.Jobs.OpenJobs);
        Assert.Null(processor.Kpis.Watermark);
        processor.Flush(_output);
        Assert.Empty(_output.Lines);
    }

    [Fact]
    public void Process_TimestampExactlyAtTheClockSkew_IsAccepted()
    {
        var options = new TelemetryProcessorOptions { MaxClockSkew = TimeSpan.FromMinutes(2) };
        var processor = Pipeline.Create(options);
        var edge = Received + options.MaxClockSkew;

        var result = processor.Process(Pipeline.Message($$"""{"type":"status","ts":"{{edge:O}}","state":"idle"}""", Received), _output);

        Assert.True(result.Accepted);
        Assert.Equal(edge - new KpiEngineOptions().OutOfOrderness, processor.Kpis.Watermark);
    }

    [Fact]
    public void Process_FixtureTrace_WritesPrinterAndJobLinesAndKpiLinesOnFlush()
    {
        var processor = Pipeline.Create();
        var results = new List<AdapterResult>();

        // Event-time order: status 05:55, started 06:00, progress 06:30, finished 07:30.
        foreach (var name in new[] { NativeFixtures.Status, NativeFixtures.JobStarted, NativeFixtures.JobProgress, NativeFixtures.JobFinished })
        {
            results.Add(processor.Process(Pipeline.Message(NativeFixtures.Bytes(name), Received, "printfarm/mk4-03/event"), _output));
        }

        Assert.All(results, r => Assert.True(r.Accepted));

        // Status and progress carry telemetry, the start does not; the finish writes the printer's ended state.
        var printerLines = _output.Lines.Where(l => l.StartsWith("printer,", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, printerLines.Count);
        Assert.Contains("state=\"finished\"", printerLines[^1], StringComparison.Ordinal);
        Assert.All(printerLines, l => Assert.StartsWith($"printer,farm={Pipeline.Farm},printer=mk4-03,source=native ", l, StringComparison.Ordinal));

        var job = Assert.Single(_output.EndedJobs);
        var jobLine = Assert.Single(_output.Lines, l => l.StartsWith("job,", StringComparison.Ordinal));
        Assert.Equal(new PointEncoder(Pipeline.Farm).Job(job), jobLine);
        Assert.StartsWith($"job,farm={Pipeline.Farm},material=PETG,outcome=completed,printer=mk4-03,source=native,toy=dragon ", jobLine, StringComparison.Ordinal);
        Assert.Contains(",toys=4i,", jobLine, StringComparison.Ordinal);
        Assert.Empty(_output.LateJobs);
        Assert.DoesNotContain(_output.Lines, l => l.StartsWith("kpi,", StringComparison.Ordinal));

        _output.Clear();
        processor.Flush(_output);

        // The printer is seen at 05:55 (idle), starts at 06:00:00.250 and ends at 07:30:00.750 (print time 5400.5 s).
        //   1h 05:00  farm, printer          seen by the status sample: printing 0 s
        //   1h 06:00  farm, printer          printing 06:00:00.250–07:00 = 3599.75 s, no job ended
        //   1h 07:00  farm, printer, toy, material: the job; printing 07:00–07:30:00.750 = 1800.75 s
        //   1d        farm, printer, toy, material: the job; printing 5400.5 s
        // So 2 + 2 + 4 + 4 = 12 series, each written once (ToDictionary would throw on a repeat).
        var series = _output.Lines.ToDictionary(SeriesOf, StringComparer.Ordinal);
        const string Farm = "scope=farm", Printer = "printer=mk4-03,scope=printer", Toy = "scope=toy,toy=dragon", Material = "material=PETG,scope=material";
        string[] expected =
        [
            Kpi(Farm, "1h", 5), Kpi(Printer, "1h", 5),
            Kpi(Farm, "1h", 6), Kpi(Printer, "1h", 6),
            Kpi(Farm, "1h", 7), Kpi(Printer, "1h", 7), Kpi(Toy, "1h", 7), Kpi(Material, "1h", 7),
            Kpi(Farm, "1d", 0), Kpi(Printer, "1d", 0), Kpi(Toy, "1d", 0), Kpi(Material, "1d", 0),
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), series.Keys.Order(StringComparer.Ordinal));

        Assert.Contains("jobs_completed=0i,", series[Kpi(Printer, "1h", 5)], StringComparison.Ordinal);
        Assert.Contains(",printing_s=0,utilization=0 ", series[Kpi(Printer, "1h", 5)], StringComparison.Ordinal);
        Assert.Contains(",printing_s=0,utilization=0,printers_seen=1i ", series[Kpi(Farm, "1h", 5)], StringComparison.Ordinal);
        Assert.Contains("jobs_completed=0i,", series[Kpi(Printer, "1h", 6)], StringComparison.Ordinal);
        Assert.Contains($",printing_s={F(3599.75)},utilization={F(3599.75 / 3600)} ", series[Kpi(Printer, "1h", 6)], StringComparison.Ordinal);
        Assert.Contains($",printing_s={F(3599.75)},utilization={F(3599.75 / 3600)},printers_seen=1i ", series[Kpi(Farm, "1h", 6)], StringComparison.Ordinal);
        Assert.Contains("jobs_completed=1i,", series[Kpi(Printer, "1h", 7)], StringComparison.Ordinal);
        // 07:00 and the day are still running (watermark 07:29:30.750): utilization over their elapsed part. The hour's
        // 1800.75 s (to the job's end) ÷ 1770.75 s elapsed is capped at 1; the day's is 5400.5 ÷ 26970.75 s.
        Assert.Contains($",printing_s={F(1800.75)},utilization=1 ", series[Kpi(Printer, "1h", 7)], StringComparison.Ordinal);
        Assert.Contains("jobs_completed=1i,", series[Kpi(Toy, "1h", 7)], StringComparison.Ordinal);
        Assert.Contains($",printing_s={F(5400.5)},utilization={F(5400.5 / 26970.75)} ", series[Kpi(Printer, "1d", 0)], StringComparison.Ordinal);
        Assert.Contains("jobs_completed=1i,", series[Kpi(Material, "1d", 0)], StringComparison.Ordinal);

        // Nothing changed since: the next flush writes nothing.
        _output.Clear();
        processor.Flush(_output);
        Assert.Empty(_output.Lines);
    }

    [Fact]
    public void Process_RedeliveredFinish_WritesOneJobLine()
    {
        var processor = Pipeline.Create();
        var finish = NativeFixtures.Bytes(NativeFixtures.JobFinished);

        processor.Process(Pipeline.Message(NativeFixtures.Bytes(NativeFixtures.JobStarted), Received), _output);
        processor.Process(Pipeline.Message(finish, Received), _output);
        var again = processor.Process(Pipeline.Message(finish, Received), _output);

        Assert.True(again.Accepted);
        Assert.Single(_output.EndedJobs);
        Assert.Single(_output.Lines, l => l.StartsWith("job,", StringComparison.Ordinal));
        Assert.Equal(1, processor.Jobs.Duplicates);
    }

    [Fact]
    public void Process_JobEndingAfterItsWindowClosed_IsListedLateButItsJobLineIsWritten()
    {
        var processor = Pipeline.Create();
        var kpi = new KpiEngineOptions();
        // A status sample moves the watermark past the close of the 06:00 hour (07:00 + lateness).
        var now = new DateTimeOffset(2024, 6, 1, 7, 0, 0, TimeSpan.Zero) + kpi.AllowedLateness + kpi.OutOfOrderness;
        processor.Process(Pipeline.Message($$"""{"type":"status","ts":"{{now:O}}","state":"idle"}""", Received), _output);

        processor.Process(Pipeline.Message("""{"type":"job_finished","ts":"2024-06-01T06:50:00Z","outcome":"completed","file":"a_x2.gcode","filament_g":4}""", Received), _output);

        var late = Assert.Single(_output.LateJobs);
        Assert.Same(Assert.Single(_output.EndedJobs), late);
        Assert.Single(_output.Lines, l => l.StartsWith("job,", StringComparison.Ordinal));
        _output.Clear();
        processor.Flush(_output);

        // The job (06:50, no print time, so no printing time either) is in no 1h window: the closed 06:00 hour writes
        // nothing. The only 1h series are the 07:00 farm and p1 ones the status sample (07:10:30) marked p1 seen in:
        // no job, no printing time.
        var hourLines = _output.Lines.Where(l => l.Contains("window=1h", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, hourLines.Count);
        Assert.All(hourLines, l => Assert.EndsWith($" {new DateTimeOffset(2024, 6, 1, 7, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()}", l, StringComparison.Ordinal));
        Assert.All(hourLines, l => Assert.Contains("jobs_completed=0i,jobs_failed=0i,jobs_cancelled=0i,", l, StringComparison.Ordinal));
        Assert.All(hourLines, l => Assert.Contains(",printing_s=0,", l, StringComparison.Ordinal));

        // The 1d window is still open: the job counts there in all four scopes.
        var dayLines = _output.Lines.Where(l => l.Contains("window=1d", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, dayLines.Count);
        Assert.All(dayLines, l => Assert.Contains("jobs_completed=1i,", l, StringComparison.Ordinal));
        Assert.Equal(2 + 4, _output.Lines.Count);
    }

    [Fact]
    public void SubscriptionFilters_AreTheAdaptersFiltersWithoutDuplicates()
    {
        var processor = new TelemetryProcessor(
            [new NativeAdapter(), new NativeAdapter([NativeAdapter.DefaultTopic, "legacy/{printer}"])],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(),
            new PointEncoder(Pipeline.Farm));

        Assert.Equal(["printfarm/+/event", "legacy/+"], processor.SubscriptionFilters);
    }

    [Fact]
    public void ProcessorOutput_Clear_EmptiesEveryList()
    {
        _output.Lines.Add("x");
        _output.EndedJobs.Add(Some.Job(Some.At(1)));
        _output.LateJobs.Add(Some.Job(Some.At(1)));

        _output.Clear();

        Assert.Empty(_output.Lines);
        Assert.Empty(_output.EndedJobs);
        Assert.Empty(_output.LateJobs);
    }

    private static string F(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    // A kpi line's series: measurement and tags, and the timestamp (the window start), without the fields.
    private static string SeriesOf(string line) => line[..line.IndexOf(' ', StringComparison.Ordinal)] + line[line.LastIndexOf(' ')..];

    private static string Kpi(string tags, string window, int startHour) =>
        $"kpi,farm={Pipeline.Farm},{tags},window={window} {new DateTimeOffset(2024, 6, 1, startHour, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()}";

    // ---- Bad input that gets past the adapter must still not throw ----------------------------------------------

    [Fact]
    public void Process_OrphanFinishWithHugePrintTime_DoesNotThrow()
    {
        var processor = Pipeline.Create();

        var result = processor.Process(
            Pipeline.Message("""{"type":"job_finished","ts":1717228800,"outcome":"completed","print_time_s":1e12}""", Received), _output);

        Assert.True(result.Accepted || Pipeline.ReasonCodes.Contains(result.Reason!));
    }

    [Theory]
    [InlineData("toy")]
    [InlineData("material")]
    public void Process_TagValueEndingInBackslash_DoesNotThrow(string field)
    {
        var processor = Pipeline.Create();

        var result = processor.Process(
            Pipeline.Message($$"""{"type":"job_finished","ts":1717228800,"outcome":"completed","{{field}}":"dragon\\"}""", Received), _output);
        processor.Flush(_output);

        Assert.True(result.Accepted || Pipeline.ReasonCodes.Contains(result.Reason!));
    }

    [Theory]
    [InlineData("printfarm/p1\\/event")]
    [InlineData("printfarm/p\n1/event")]
    public void Process_PrinterIdThatCannotBeATag_DoesNotThrow(string topic)
    {
        var processor = Pipeline.Create();

        var result = processor.Process(Pipeline.Message(NativeFixtures.Bytes(NativeFixtures.Status), Received, topic), _output);

        Assert.True(result.Accepted || Pipeline.ReasonCodes.Contains(result.Reason!));
    }

    [Theory]
    [InlineData("shelf 2,row=3", "shelf 2,row=3")]
    [InlineData(" padded ", "padded")]
    [InlineData("tab\there", "tab here")]
    [InlineData("ends\\", "ends")]
    public void Process_PrinterIdFromTheTopic_IsSanitizedNotRejected(string id, string expected)
    {
        var processor = Pipeline.Create();

        var result = processor.Process(Pipeline.Message("""{"type":"status","ts":1717228800,"state":"idle"}"""u8.ToArray(), Received, $"printfarm/{id}/event"), _output);

        Assert.True(result.Accepted, result.Detail);
        var line = Assert.Single(_output.Lines);
        Assert.Contains(",printer=" + expected.Replace(" ", "\\ ", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal).Replace("=", "\\=", StringComparison.Ordinal) + ",", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_PrinterIdOfOnlyControlCharacters_IsRejectedAsUnknownTopic()
    {
        var processor = Pipeline.Create();

        var result = processor.Process(Pipeline.Message("""{"type":"status","ts":1717228800,"state":"idle"}"""u8.ToArray(), Received, "printfarm/\t/event"), _output);

        Assert.Equal(RejectReasons.UnknownTopic, result.Reason);
    }

    [Fact]
    public void Process_MessageRejectedForItsEventTime_LeavesTheAdapterStateUnchanged()
    {
        // OctoPrint stamps events with its host clock: a start 10 minutes ahead of the receive time is rejected by the
        // processor's clock-skew check, which runs after the adapter has read the message.
        var octoPrint = new PrintFarm.Core.Ingestion.OctoPrint.OctoPrintAdapter();
        var processor = new TelemetryProcessor([octoPrint], new JobTracker(ToyNameRules.Default, MaterialCatalog.Default), new KpiEngine(), new PointEncoder(Pipeline.Farm));
        var now = Received.ToUnixTimeSeconds();
        InboundMessage Event(string name, string path, long ts) =>
            new($"octoPrint/op1/event/{name}", Encoding.UTF8.GetBytes($$"""{"path":"{{path}}","name":"{{path}}","origin":"local","_event":"{{name}}","_timestamp":{{ts}}}"""), false, Received);

        var rejected = processor.Process(Event("PrintStarted", "dragon.gcode", now + 600), _output);

        Assert.False(rejected.Accepted);
        Assert.Equal(RejectReasons.FutureTimestamp, rejected.Reason);
        Assert.Null(octoPrint.SaveState());

        // Had the rejected start opened a job, this start would end it as abandoned (cancelled).
        Assert.True(processor.Process(Event("PrintStarted", "castle.gcode", now), _output).Accepted);
        Assert.True(processor.Process(Event("PrintDone", "castle.gcode", now + 60), _output).Accepted);

        var job = Assert.Single(_output.EndedJobs);
        Assert.Equal(("castle", JobOutcome.Completed), (job.Toy, job.Outcome));
    }
}
