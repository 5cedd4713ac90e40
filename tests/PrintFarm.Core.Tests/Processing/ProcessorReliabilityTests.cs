using System.Text.Json.Nodes;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Processing;

/// <summary>Guarantees the at-least-once pipeline relies on: restores are all or nothing, event time never moves processing time.</summary>
public sealed class ProcessorReliabilityTests
{
    private static readonly DateTimeOffset T0 = new(2024, 6, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void RestoreCheckpoint_FailingPartWay_LeavesAnEmptyConsistentProcessor()
    {
        var source = WithOctoPrint();
        var output = new ProcessorOutput();
        Assert.True(source.Process(Pipeline.Message("""{"type":"job_started","ts":"2024-06-01T08:00:00Z","job_id":"j1","file":"dragon_x4.gcode"}""", T0), output).Accepted);
        Assert.True(source.Process(Pipeline.Message("""{"type":"job_started","ts":"2024-06-01T08:00:00Z","job_id":"j2","file":"castle.gcode"}""", T0, "p2"), output).Accepted);
        var checkpoint = source.SaveCheckpoint(T0);

        // Jobs and windows are readable; the adapter state after them is not (a damaged file, a changed schema).
        checkpoint["adapters"] = new JsonObject { [OctoPrintAdapter.SourceName] = new JsonArray(1, 2, 3) };
        var target = WithOctoPrint();
        Assert.ThrowsAny<Exception>(() => target.RestoreCheckpoint(checkpoint));

        Assert.Equal(0, target.Jobs.OpenJobs);
        Assert.Equal(0, target.Kpis.OpenSeries);
        Assert.Null(target.Kpis.Watermark);
    }

    private static TelemetryProcessor WithOctoPrint() => new(
        [new NativeAdapter(), new OctoPrintAdapter()],
        new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
        new KpiEngine(),
        new PointEncoder(Pipeline.Farm));

    [Fact]
    public void RestoreCheckpoint_Valid_RestoresEverything()
    {
        var source = Pipeline.Create();
        var output = new ProcessorOutput();
        Assert.True(source.Process(Pipeline.Message("""{"type":"job_started","ts":"2024-06-01T08:00:00Z","job_id":"j1","file":"dragon_x4.gcode"}""", T0), output).Accepted);
        var target = Pipeline.Create();

        target.RestoreCheckpoint(source.SaveCheckpoint(T0));

        Assert.Equal(source.Jobs.OpenJobs, target.Jobs.OpenJobs);
        Assert.Equal(1, target.Jobs.OpenJobs);
    }

    [Fact]
    public void JobEnd_StampedAheadOfReceiveTime_DoesNotMoveProcessingTime()
    {
        var processor = Pipeline.Create();
        var output = new ProcessorOutput();
        var received = T0.AddHours(1);
        Assert.True(processor.Process(Pipeline.Message("""{"type":"job_started","ts":"2024-06-01T08:30:00Z","job_id":"j1","file":"dragon_x4.gcode"}""", received), output).Accepted);

        // The printer's clock runs 4 minutes ahead: within MaxClockSkew (5 min), so the finish is accepted.
        var finished = received.AddSeconds(1);
        var json = $$"""{"type":"job_finished","ts":"{{finished.AddMinutes(4):O}}","job_id":"j1","file":"dragon_x4.gcode","outcome":"completed","filament_g":20}""";
        Assert.True(processor.Process(Pipeline.Message(json, finished), output).Accepted);
        Assert.Single(output.EndedJobs);

        var state = processor.Kpis.SaveState();
        Assert.Equal(finished.UtcTicks, state.LatestReceived);
        Assert.All(state.Sources, s => Assert.Equal(finished.UtcTicks, s.LastReceived));
    }
}
