using System.Text;
using BenchmarkDotNet.Attributes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;

namespace PrintFarm.Benchmarks.Ingestion;

/// <summary>
/// One representative payload per format through its adapter's <c>Process</c> (parse + state update + events), as
/// the pipeline calls it. The events list is reused, as the processor reuses it. See docs/benchmarks.md.
/// </summary>
[MemoryDiagnoser]
public class AdapterBenchmarks
{
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeSeconds(1767600000);

    private readonly List<PrinterEvent> _events = new(4);
    private Case _native = null!;
    private Case _octoPrintProgress = null!;
    private Case _octoPrintEvent = null!;
    private Case _moonraker = null!;
    private Case _bambu = null!;

    [GlobalSetup]
    public void Setup()
    {
        _native = new Case(new NativeAdapter(), "printfarm/p1/event",
            """{"type":"job_progress","ts":"2026-01-05T08:05:00Z","job_id":"A-17","progress_pct":10.5,"state":"printing","nozzle_c":210.2,"nozzle_target_c":210.0,"bed_c":59.8,"bed_target_c":60.0}""");
        _octoPrintProgress = new Case(new OctoPrintAdapter(), "octoPrint/op1/progress/printing",
            """{"_timestamp": 1767600900, "progress": 23, "location": "local", "path": "toys/dragon_x4.gcode"}""");

        // PrintPaused: a job event that goes through parsing, state lookup and an emitted event, and can be repeated.
        _octoPrintEvent = new Case(new OctoPrintAdapter(), "octoPrint/op1/event/PrintPaused",
            """{"name": "dragon_x4.gcode", "path": "toys/dragon_x4.gcode", "origin": "local", "size": 1468987, "owner": "alice", "user": "alice", "position": {"x": 95.1, "y": 102.4, "z": 12.6, "e": 1022.7, "t": 0, "f": 1800}, "fileposition": 701234, "progress": 48, "_event": "PrintPaused", "_timestamp": 1767601800}""");
        _moonraker = new Case(new MoonrakerAdapter(), "k1/klipper/status",
            """{"eventtime": 3052866.20977, "status": {"print_stats": {"total_duration": 700.79, "print_duration": 612.31, "filament_used": 2012.74}, "virtual_sdcard": {"file_position": 120034, "progress": 0.21}, "extruder": {"temperature": 239.87}, "heater_bed": {"temperature": 80.02}}}""");
        _bambu = new Case(new BambuAdapter(), "device/01S00C123456789/report",
            """{"print": {"bed_target_temper": 55.0, "bed_temper": 54.9, "big_fan1_speed": "0", "chamber_temper": 29.0, "command": "push_status", "fail_reason": "0", "gcode_file": "/data/Metadata/plate_1.gcode", "gcode_start_time": "1767600000", "gcode_state": "RUNNING", "layer_num": 12, "mc_percent": 18, "mc_print_stage": "2", "mc_remaining_time": 74, "msg": 0, "nozzle_target_temper": 220.0, "nozzle_temper": 219.8, "print_error": 0, "print_type": "cloud", "sequence_id": "2021", "spd_lvl": 2, "stg_cur": 0, "subtask_id": "690732217", "subtask_name": "dragon_x4_plate_1", "task_id": "690732215", "total_layer_num": 96, "wifi_signal": "-44dBm"}}""");
    }

    [Benchmark(Baseline = true)]
    public int NativeAdapter() => Run(_native);

    [Benchmark]
    public int OctoPrintAdapterProgress() => Run(_octoPrintProgress);

    [Benchmark]
    public int OctoPrintAdapterEvent() => Run(_octoPrintEvent);

    [Benchmark]
    public int MoonrakerAdapterStatusDelta() => Run(_moonraker);

    [Benchmark]
    public int BambuAdapterPushStatus() => Run(_bambu);

    private int Run(Case c)
    {
        _events.Clear();
        var result = c.Adapter.Process(c.Message, c.Match, _events);
        if (!result.Accepted)
        {
            return -1;
        }

        c.Adapter.Commit();
        return _events.Count;
    }

    private sealed class Case
    {
        public Case(IPrinterAdapter adapter, string topic, string payload)
        {
            Adapter = adapter;
            Message = new InboundMessage(topic, Encoding.UTF8.GetBytes(payload), false, At);
            var matched = false;
            foreach (var pattern in adapter.Topics)
            {
                if (pattern.TryMatch(topic, out var match))
                {
                    Match = match;
                    matched = true;
                    break;
                }
            }

            if (!matched)
            {
                throw new InvalidOperationException($"{topic} matches no pattern of {adapter.Source}");
            }

            var events = new List<PrinterEvent>();
            if (!adapter.Process(Message, Match, events).Accepted || events.Count == 0)
            {
                throw new InvalidOperationException($"the {adapter.Source} benchmark payload produces no event");
            }

            adapter.Commit();
        }

        public IPrinterAdapter Adapter { get; }

        public InboundMessage Message { get; }

        public TopicMatch Match { get; }
    }
}
