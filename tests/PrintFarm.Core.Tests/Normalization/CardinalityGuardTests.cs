using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Normalization;

public sealed class CardinalityGuardTests
{
    private static readonly DateTimeOffset Received = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ProcessorOutput _output = new();

    [Fact]
    public void Fold_KeepsTheFirstValuesUpToTheCap_ThenFoldsNewOnesIntoOther_AndCountsThem()
    {
        var cap = new CardinalityGuard(new CardinalityLimits { MaxToys = 2 }).Toys;

        Assert.Equal("dragon", cap.Fold("dragon"));
        Assert.Equal("fox", cap.Fold("fox"));
        Assert.Equal(CardinalityGuard.Other, cap.Fold("owl"));
        Assert.Equal(CardinalityGuard.Other, cap.Fold("bee"));
        Assert.Equal("dragon", cap.Fold("dragon")); // kept values stay kept
        Assert.Equal(2, cap.Folded);
        Assert.Equal("owl", cap.FirstFolded);
        Assert.Equal(2, cap.Count);
    }

    [Fact]
    public void Fold_BelowTheCap_NeverFolds()
    {
        var cap = new CardinalityGuard(new CardinalityLimits()).Materials;

        Assert.Equal("PETG", cap.Fold("PETG"));
        Assert.Equal(0, cap.Folded);
        Assert.Null(cap.FirstFolded);
    }

    [Fact]
    public void Defaults_AreSizedForAThousandPrinterFarm()
    {
        var guard = new CardinalityGuard(new CardinalityLimits());

        Assert.True(guard.Printers.Max >= 1000);
        Assert.True(guard.Toys.Max >= 1000);
        Assert.True(guard.Materials.Max >= 20);
    }

    [Fact]
    public void Process_PrintersPastTheCap_AreWrittenAsOther()
    {
        var processor = CreateSut(new CardinalityLimits { MaxPrinters = 2 });

        foreach (var printer in new[] { "p1", "p2", "p3", "p4" })
        {
            Assert.True(processor.Process(Pipeline.Message(Status, Received, printer), _output).Accepted);
        }

        var printers = _output.Lines.Select(l => Tag(l, "printer")).ToList();
        Assert.Equal(["p1", "p2", CardinalityGuard.Other, CardinalityGuard.Other], printers);
        Assert.Equal(2, processor.Guard!.Printers.Folded);
    }

    [Fact]
    public void Process_ToysAndMaterialsPastTheirCaps_FoldIntoOther_OnJobPoints()
    {
        var processor = CreateSut(new CardinalityLimits { MaxToys = 1, MaxMaterials = 1 });

        processor.Process(Pipeline.Message(Finished("j1", "dragon.gcode", "PLA"), Received), _output);
        processor.Process(Pipeline.Message(Finished("j2", "fox.gcode", "PETG"), Received), _output);

        Assert.Equal(2, _output.EndedJobs.Count);
        Assert.Equal("dragon", _output.EndedJobs[0].Toy);
        Assert.Equal("PLA", _output.EndedJobs[0].Material);
        Assert.Equal(CardinalityGuard.Other, _output.EndedJobs[1].Toy);
        Assert.Equal(CardinalityGuard.Other, _output.EndedJobs[1].Material);
        var jobLines = _output.Lines.Where(l => l.StartsWith("job,", StringComparison.Ordinal)).ToList();
        Assert.Equal(CardinalityGuard.Other, Tag(jobLines[1], "toy"));
        Assert.Equal(CardinalityGuard.Other, Tag(jobLines[1], "material"));
    }

    [Fact]
    public void Process_PrinterNotOnTheAllowList_IsRejectedAsUnknownPrinter_AndChangesNothing()
    {
        var processor = CreateSut(new CardinalityLimits { AllowedPrinters = ["p1"] });

        var rejected = processor.Process(Pipeline.Message(Status, Received, "intruder"), _output);
        var accepted = processor.Process(Pipeline.Message(Status, Received, "p1"), _output);

        Assert.False(rejected.Accepted);
        Assert.Equal(CardinalityGuard.UnknownPrinter, rejected.Reason);
        Assert.Contains("PrintFarm:Guards:AllowedPrinters", rejected.Detail, StringComparison.Ordinal);
        Assert.True(accepted.Accepted);
        Assert.Equal("p1", Tag(Assert.Single(_output.Lines), "printer"));
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"type":"status"}""")]
    [InlineData("""{"type":"teleport","ts":1717228800}""")]
    [InlineData("""{"type":"status","ts":1917228800,"state":"printing","progress":10}""")] // far in the future
    public void Process_RejectedMessage_AdmitsNothing_SoJunkCannotTakeASlot(string junk)
    {
        var processor = CreateSut(new CardinalityLimits { MaxPrinters = 1 });

        for (var i = 0; i < 50; i++)
        {
            Assert.False(processor.Process(Pipeline.Message(junk, Received, $"junk{i}"), _output).Accepted);
        }

        Assert.Equal(0, processor.Guard!.Printers.Count);
        Assert.Equal(0, processor.Guard.Printers.Folded);
        Assert.True(processor.Process(Pipeline.Message(Status, Received, "real"), _output).Accepted);
        Assert.Equal("real", Tag(Assert.Single(_output.Lines), "printer"));
    }

    [Fact]
    public void Checkpoint_CarriesTheKeptSets_SoAReplayFoldsAsTheFirstRunDid()
    {
        var first = CreateSut(new CardinalityLimits { MaxPrinters = 1, MaxToys = 1, MaxMaterials = 1 });
        first.Process(Pipeline.Message(Finished("a1", "dragon.gcode", "PLA"), Received, "pA"), _output);
        var checkpoint = first.SaveCheckpoint(Received);

        // The restart replays pB's job first: without the guard's state pB would take the only slot.
        var restarted = CreateSut(new CardinalityLimits { MaxPrinters = 1, MaxToys = 1, MaxMaterials = 1 });
        restarted.RestoreCheckpoint(checkpoint);
        _output.Clear();
        restarted.Process(Pipeline.Message(Finished("b1", "fox.gcode", "PETG"), Received, "pB"), _output);
        restarted.Process(Pipeline.Message(Status, Received, "pA"), _output);

        var job = Assert.Single(_output.EndedJobs);
        Assert.Equal(CardinalityGuard.Other, job.Printer);
        Assert.Equal(CardinalityGuard.Other, job.Toy);
        Assert.Equal(CardinalityGuard.Other, job.Material);
        Assert.Equal("pA", Tag(_output.Lines.Last(l => l.StartsWith("printer", StringComparison.Ordinal)), "printer"));
    }

    [Fact]
    public void Checkpoint_WithoutGuardState_FromAnOlderBuild_RestoresTheGuardEmpty()
    {
        var first = CreateSut(new CardinalityLimits { MaxPrinters = 1 });
        first.Process(Pipeline.Message(Status, Received, "pA"), _output);
        var checkpoint = first.SaveCheckpoint(Received);
        Assert.NotNull(checkpoint["guard"]);
        checkpoint.Remove("guard");

        var restarted = CreateSut(new CardinalityLimits { MaxPrinters = 1 });
        restarted.RestoreCheckpoint(checkpoint);

        Assert.Equal(0, restarted.Guard!.Printers.Count);
    }

    private const string Status = """{"type":"status","ts":1717228800,"state":"printing","progress":10}""";

    private static string Finished(string job, string file, string material) =>
        $$"""{"type":"job_finished","ts":1717228800,"job_id":"{{job}}","outcome":"completed","print_time_s":600,"file":"{{file}}","material":"{{material}}","filament_g":5}""";

    private static string? Tag(string line, string key)
    {
        var head = line[..line.IndexOf(' ', StringComparison.Ordinal)];
        return head.Split(',').Skip(1).Select(t => t.Split('=', 2)).Where(kv => kv[0] == key).Select(kv => kv[1]).FirstOrDefault();
    }

    private static TelemetryProcessor CreateSut(CardinalityLimits limits) =>
        new(
            [new NativeAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(),
            new PointEncoder(Pipeline.Farm))
        {
            Guard = new CardinalityGuard(limits),
        };
}
