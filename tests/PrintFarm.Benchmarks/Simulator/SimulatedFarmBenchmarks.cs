using BenchmarkDotNet.Attributes;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Simulator;

namespace PrintFarm.Benchmarks.Simulator;

/// <summary>
/// The whole core on realistic input: the simulator's trace of a mixed farm (all four formats as their software
/// publishes them, with pauses, failures, flaps and malformed messages), parsed, tracked, windowed and encoded.
/// One operation = the whole trace: 4 simulated hours of 200 printers. See docs/benchmarks.md and docs/simulator.md.
/// </summary>
[MemoryDiagnoser]
public class SimulatedFarmBenchmarks
{
    private InboundMessage[] _messages = [];
    private TelemetryProcessor _processor = null!;
    private ProcessorOutput _output = null!;

    [Params("mixed", "octoprint", "moonraker", "bambu", "native")]
    public string Mix { get; set; } = "mixed";

    [GlobalSetup]
    public void Generate()
    {
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 200,
            Mix = PrintFarm.Simulator.Formats.FormatMix.Parse(Mix),
            Duration = TimeSpan.FromHours(4),
            Seed = 1,
        });
        _messages = simulation.Messages().Select(m => new InboundMessage(m.Topic, m.Payload.ToArray(), false, m.Time)).ToArray();
    }

    [IterationSetup]
    public void Fresh()
    {
        _processor = new TelemetryProcessor(
            [new NativeAdapter(), new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(),
            new PointEncoder("bench"));
        _output = new ProcessorOutput();
    }

    [Benchmark]
    public int Trace()
    {
        var lines = 0;
        for (var i = 0; i < _messages.Length; i++)
        {
            _processor.Process(_messages[i], _output);
            if (i % 5000 == 4999)
            {
                _processor.Flush(_output);
            }

            lines += _output.Lines.Count;
            _output.Clear();
        }

        return lines;
    }
}
