using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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

namespace PrintFarm.Benchmarks.Processing;

/// <summary>
/// The checkpoint at farm scale: a quarter of the printers in each format, each with a running job (and, for native
/// printers, two ended ones, so there are printer, toy and material windows), fed from the test fixtures as the worker
/// receives them. <c>Capture</c> is what the pipeline does while processing waits (plain copies of the state);
/// <c>WriteCaptured</c> is what the checkpoint store then does beside processing (the document as UTF-8 bytes,
/// without the fsync). <c>TreeSnapshot</c> + <c>SerializeTree</c> are the earlier way, the whole document built as a
/// JSON tree while processing waited, kept for comparison. The document's size is printed at set-up. See
/// docs/benchmarks.md.
/// </summary>
[MemoryDiagnoser]
public class CheckpointBenchmarks
{
    private static readonly DateTimeOffset Day = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private TelemetryProcessor _processor = null!;
    private JsonObject _snapshot = null!;
    private CheckpointSnapshot _captured = null!;

    [Params(1_000, 10_000)]
    public int Printers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _processor = new TelemetryProcessor(
            [new NativeAdapter(), new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(),
            new PointEncoder("bench"));
        var output = new ProcessorOutput();
        var octoStarted = Fixture("octoprint/event-PrintStarted.json");
        var octoProgress = Fixture("octoprint/progress-printing.json");
        var moonraker = Fixture("moonraker/klipper-status-print-start.json");
        var bambu = Fixture("bambu/push_status-x1-full-running.json");
        for (var p = 0; p < Printers; p++)
        {
            var name = $"printer-{p:D5}";
            var at = Day.AddHours(9).AddSeconds(p % 3600);
            switch (p % 4)
            {
                case 0:
                    for (var j = 0; j < 2; j++)
                    {
                        var start = at.AddHours(-4 + 2 * j);
                        Process($"printfarm/{name}/event", $$"""{"type":"job_started","ts":"{{start:O}}","job_id":"{{name}}-{{j}}","file":"dragon_x4_PETG.gcode"}""", start);
                        Process($"printfarm/{name}/event", $$"""{"type":"job_finished","ts":"{{start.AddMinutes(90):O}}","job_id":"{{name}}-{{j}}","file":"dragon_x4_PETG.gcode","outcome":"{{(j == 0 ? "completed" : "failed")}}","filament_g":42.5}""", start.AddMinutes(90));
                    }

                    Process($"printfarm/{name}/event", $$"""{"type":"job_started","ts":"{{at:O}}","job_id":"{{name}}-open","file":"castle.gcode"}""", at);
                    break;
                case 1:
                    Process($"octoPrint/{name}/event/PrintStarted", octoStarted, at);
                    Process($"octoPrint/{name}/progress/printing", octoProgress, at.AddMinutes(1));
                    break;
                case 2:
                    Process($"{name}/klipper/status", moonraker, at);
                    break;
                default:
                    Process($"device/{name}/report", bambu, at);
                    break;
            }
        }

        _processor.Flush(output);
        _snapshot = TreeSnapshot();
        _captured = Capture();
        Console.WriteLine($"// checkpoint at {Printers} printers: {WriteCaptured()} bytes (tree: {SerializeTree()}), {_processor.Jobs.OpenJobs} open jobs, {_processor.Kpis.OpenSeries} KPI series");

        void Process(string topic, string payload, DateTimeOffset receivedAt)
        {
            var result = _processor.Process(new InboundMessage(topic, Encoding.UTF8.GetBytes(payload), false, receivedAt), output);
            if (!result.Accepted)
            {
                throw new InvalidOperationException($"{topic}: {result.Reason} {result.Detail}");
            }

            output.Clear();
        }
    }

    [Benchmark(Baseline = true)]
    public JsonObject TreeSnapshot() => _processor.SaveCheckpoint(Day);

    [Benchmark]
    public long SerializeTree()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            _snapshot.WriteTo(writer);
        }

        return stream.Length;
    }

    [Benchmark]
    public CheckpointSnapshot Capture() => _processor.CaptureCheckpoint(Day);

    [Benchmark]
    public long WriteCaptured()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            _captured.WriteTo(writer);
        }

        return stream.Length;
    }

    private static string Fixture(string name)
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var path = Path.Combine(folder.FullName, "tests", "PrintFarm.Core.Tests", "Fixtures", name);
            if (File.Exists(path))
            {
                return File.ReadAllText(path);
            }
        }

        throw new FileNotFoundException("fixture not found above " + AppContext.BaseDirectory, name);
    }
}
