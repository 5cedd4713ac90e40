using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion;

/// <summary>
/// Thousands of random and mutated payloads on every topic pattern of every adapter, through the whole processor:
/// nothing throws, every message is either accepted or rejected with a known reason, and valid traces sent afterwards
/// still end their jobs. The seed is fixed, so a failure reproduces.
/// </summary>
public sealed class AdapterFuzzTests
{
    private const int Seed = 20260105;
    private const int MessagesPerGenerator = 12_000;

    private static readonly HashSet<string> KnownReasons =
    [
        RejectReasons.InvalidJson, RejectReasons.MissingField, RejectReasons.InvalidField, RejectReasons.UnknownType,
        RejectReasons.UnknownTopic, RejectReasons.Oversize, RejectReasons.FutureTimestamp,
    ];

    // Every topic pattern of every adapter, with placeholder values a real printer would use.
    private static readonly string[] Topics =
    [
        "printfarm/fz/event",
        "octoPrint/fz/event/PrintStarted", "octoPrint/fz/event/PrintDone", "octoPrint/fz/event/PrintFailed", "octoPrint/fz/event/PrintCancelled",
        "octoPrint/fz/event/PrintPaused", "octoPrint/fz/event/PrintResumed", "octoPrint/fz/event/MetadataAnalysisFinished", "octoPrint/fz/event/ZChange",
        "octoPrint/fz/progress/printing", "octoPrint/fz/progress/slicing", "octoPrint/fz/temperature/tool0", "octoPrint/fz/temperature/bed", "octoPrint/fz/mqtt",
        "octoPrint/event/PrintStarted", "octoPrint/event/PrintDone", "octoPrint/progress/printing", "octoPrint/temperature/tool0", "octoPrint/mqtt",
        "fz/klipper/status", "fz/moonraker/status", "fz/klipper/state/print_stats/state", "fz/klipper/state/print_stats/filename",
        "fz/klipper/state/print_stats/print_duration", "fz/klipper/state/exclude_object/objects", "fz/klipper/state/extruder/temperature",
        "fz/klipper/state/virtual_sdcard/progress", "fz/klipper/state/webhooks/state",
        "device/FZ01/report",
    ];

    private static readonly string[] Keys =
    [
        "type", "ts", "job_id", "file", "state", "outcome", "progress_pct", "filament_mm",
        "_timestamp", "_event", "path", "name", "origin", "time", "progress", "reason", "actual", "target", "result", "printer_data", "job", "filament", "tool0", "length", "estimatedPrintTime",
        "eventtime", "status", "value", "server", "print_stats", "filename", "total_duration", "print_duration", "filament_used", "virtual_sdcard", "extruder", "heater_bed", "exclude_object", "objects", "temperature",
        "print", "command", "gcode_state", "subtask_name", "gcode_file", "task_id", "subtask_id", "print_error", "gcode_start_time", "mc_percent", "nozzle_temper", "bed_temper", "event",
    ];

    private static readonly string[] Words =
    [
        "printing", "paused", "complete", "cancelled", "error", "standby", "online", "offline", "push_status", "IDLE", "PREPARE", "RUNNING", "PAUSE", "FINISH", "FAILED",
        "job_started", "job_finished", "completed", "failed", "cancelled", "dragon_x4.gcode", "castle_PETG.gcode", "", "connected", "1767600000", "50348044", "client.connected",
        "a\nb", "\u0000", "é", "\\", "\"", "=", ",", " ",
    ];

    [Fact]
    public void Random_and_mutated_payloads_never_escape_an_adapter_and_valid_traces_still_end_their_jobs()
    {
        var random = new Random(Seed);
        var farm = CreateFarm();
        var seeds = Seeds();
        var received = T0;
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);

        for (var i = 0; i < MessagesPerGenerator * 3; i++)
        {
            var topic = Topics[random.Next(Topics.Length)];
            var payload = (i % 3) switch
            {
                0 => RandomBytes(random),
                1 => Mutate(random, seeds[random.Next(seeds.Count)]),
                _ => Encoding.UTF8.GetBytes(RandomJson(random, depth: 0)),
            };
            received = received.AddMilliseconds(random.Next(0, 2000));
            var message = Message(topic, payload, received, retained: random.Next(4) == 0);

            AdapterResult result;
            try
            {
                result = farm.Send(message);
            }
            catch (Exception ex)
            {
                Assert.Fail($"message {i} on {topic} threw {ex.GetType().Name}: {ex.Message}\npayload (base64): {Convert.ToBase64String(payload)}");
                return;
            }

            Assert.True(result.Accepted || (result.Reason is not null && KnownReasons.Contains(result.Reason)), $"message {i} on {topic}: rejected without a known reason ({result.Reason})");
            var key = result.Accepted ? "accepted" : result.Reason!;
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }

        // The fuzz exercised both paths, not just one.
        Assert.True(outcomes["accepted"] > 1000, string.Join(", ", outcomes));
        Assert.True(outcomes[RejectReasons.InvalidJson] > 1000, string.Join(", ", outcomes));
        Assert.True(outcomes.GetValueOrDefault(RejectReasons.InvalidField) > 100, string.Join(", ", outcomes));

        // Valid traces of every format, on printers the fuzz never touched, still end exactly their jobs.
        var before = farm.Ended.Count;
        var later = received.AddHours(1);
        foreach (var (topic, payload) in ValidTraces(later))
        {
            farm.Accept(Message(topic, payload, later));
        }

        var ended = farm.Ended.Skip(before).ToList();
        Assert.Equal(
            [("native", "after-n", JobOutcome.Completed), ("octoprint", "after-o", JobOutcome.Cancelled), ("moonraker", "after-m", JobOutcome.Completed), ("bambu", "after-b", JobOutcome.Failed)],
            ended.Select(j => (j.Source, j.Printer, j.Outcome)));
    }

    private static Farm CreateFarm() => new([
        new NativeAdapter(),
        new OctoPrintAdapter(new OctoPrintAdapterOptions { DefaultPrinter = "fz-default" }),
        new MoonrakerAdapter(),
        new BambuAdapter(),
    ]);

    private static IEnumerable<(string Topic, byte[] Payload)> ValidTraces(DateTimeOffset at)
    {
        var s = at.ToUnixTimeSeconds();
        yield return ("printfarm/after-n/event", Json(new { type = "job_started", ts = s - 100, job_id = "n1", file = "cube.gcode" }));
        yield return ("printfarm/after-n/event", Json(new { type = "job_finished", ts = s - 10, job_id = "n1", outcome = "completed", filament_g = 3.0 }));
        yield return ("octoPrint/after-o/event/PrintStarted", Json(new { path = "cube.gcode", _timestamp = s - 100 }));
        yield return ("octoPrint/after-o/event/PrintCancelled", Json(new { path = "cube.gcode", time = 80.0, progress = 50, _timestamp = s - 10 }));
        yield return ("octoPrint/after-o/event/PrintFailed", Json(new { path = "cube.gcode", time = 80.0, progress = 50, reason = "cancelled", _timestamp = s - 10 }));
        yield return ("after-m/klipper/status", Json(new { eventtime = 1.0, status = new { print_stats = new { state = "printing", filename = "cube.gcode" } } }));
        yield return ("after-m/klipper/status", Json(new { eventtime = 2.0, status = new { print_stats = new { state = "complete", print_duration = 90.0, filament_used = 100.0 } } }));
        yield return ("device/after-b/report", Json(new { print = new { command = "push_status", gcode_state = "IDLE" } }));
        yield return ("device/after-b/report", Json(new { print = new { command = "push_status", gcode_state = "RUNNING", subtask_name = "cube", task_id = "9", subtask_id = "10" } }));
        yield return ("device/after-b/report", Json(new { print = new { command = "push_status", gcode_state = "FAILED", print_error = 1 } }));
    }

    private static List<byte[]> Seeds()
    {
        var seeds = new List<byte[]>();
        foreach (var format in new[] { "octoprint", "moonraker", "bambu" })
        {
            seeds.AddRange(FixtureNames(format).Select(name => Fixture(format, name)));
        }

        seeds.Add("""{"type":"job_finished","ts":"2026-01-05T09:30:00Z","job_id":"A","outcome":"completed","file":"dragon_x4.gcode","filament_g":120}"""u8.ToArray());
        return seeds;
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 200)];
        random.NextBytes(bytes);
        if (bytes.Length > 0 && random.Next(2) == 0)
        {
            bytes[0] = (byte)'{';
        }

        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        var bytes = new List<byte>(seed);
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits && bytes.Count > 0; e++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] = (byte)random.Next(256); break;
                case 1: bytes.RemoveRange(at, bytes.Count - at); break;
                case 2: bytes.InsertRange(at, Encoding.UTF8.GetBytes(RandomJson(random, 2))); break;
                case 3: bytes.RemoveAt(at); break;
                case 4: bytes.InsertRange(at, Encoding.UTF8.GetBytes(Words[random.Next(Words.Length)])); break;
                default:
                    // Swap a digit for another, or a quote for nothing: a number becomes another number or a string.
                    bytes[at] = bytes[at] is >= (byte)'0' and <= (byte)'9' ? (byte)('0' + random.Next(10)) : (byte)'"';
                    break;
            }
        }

        return [.. bytes];
    }

    // Random JSON biased towards the adapters' own field names, so the semantic paths are exercised, not only the tokenizer.
    private static string RandomJson(Random random, int depth)
    {
        var kind = depth > 4 ? random.Next(4) : random.Next(7);
        switch (kind)
        {
            case 0: return random.Next(2) == 0 ? "null" : random.Next(2) == 0 ? "true" : "false";
            case 1:
                return random.Next(5) switch
                {
                    0 => random.Next(-5, 105).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    1 => (random.NextDouble() * 4e9 - 1e9).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                    2 => "1e308",
                    3 => (1767600000 + random.Next(-100000, 100000)).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => random.NextDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                };
            case 2:
            case 3:
                return System.Text.Json.JsonSerializer.Serialize(Words[random.Next(Words.Length)]);
            case 4:
                var items = Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomJson(random, depth + 1));
                return "[" + string.Join(",", items) + "]";
            default:
                var props = Enumerable.Range(0, random.Next(0, 8)).Select(_ => $"\"{Keys[random.Next(Keys.Length)]}\":{RandomJson(random, depth + 1)}");
                return "{" + string.Join(",", props) + "}";
        }
    }
}
