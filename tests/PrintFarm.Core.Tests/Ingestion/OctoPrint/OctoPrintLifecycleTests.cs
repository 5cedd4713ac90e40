using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.OctoPrint;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.OctoPrint;

/// <summary>A day of one OctoPrint printer, message by message through the whole pipeline, with the jobs it must end.</summary>
public sealed class OctoPrintLifecycleTests
{
    private const string P = "octoPrint/op1/";

    private static long S(int minutes) => T0.AddMinutes(minutes).ToUnixTimeSeconds();

    private static (string Topic, byte[] Payload, bool Retained) Event(string name, object payload) => (P + "event/" + name, Json(payload), false);

    private static (string Topic, byte[] Payload, bool Retained) Progress(string path, int progress, int minute, bool retained = false) =>
        (P + "progress/printing", Json(new { location = "local", path, progress, _timestamp = S(minute) }), retained);

    /// <summary>The trace, in arrival order.</summary>
    public static IEnumerable<(string Topic, byte[] Payload, bool Retained)> Trace()
    {
        // On subscribe: presence and the stale retained progress of an earlier cancelled castle, then the plugin's reset.
        yield return (P + "mqtt", "connected"u8.ToArray(), true);
        yield return Progress("castle_PETG.gcode", 37, -600, retained: true);
        yield return (P + "progress/printing", """{"location":"","path":"","progress":0}"""u8.ToArray(), true);
        yield return Event("MetadataAnalysisFinished", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", result = new { estimatedPrintTime = 3500.0, filament = new { tool0 = new { length = 10_000.0, volume = 24.0 } } }, _timestamp = S(-5) });

        // 1. dragon × 4, completed; PrintDone arrives before the final progress 100, and is redelivered.
        yield return Event("PrintStarted", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", owner = "alice", user = "alice", _timestamp = S(0) });
        yield return (P + "temperature/tool0", Json(new { actual = 214.8, target = 215.0, _timestamp = S(1) }), false);
        yield return Progress("toys/dragon_x4.gcode", 50, 30);
        var done = Event("PrintDone", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", owner = "alice", time = 3600.0, _timestamp = S(60) });
        yield return done;
        yield return Progress("toys/dragon_x4.gcode", 100, 60);
        yield return done;

        // 2. castle in PETG, cancelled at 25 %: PrintCancelled then PrintFailed(reason=cancelled), same second.
        yield return Event("PrintStarted", new { name = "castle_PETG.gcode", path = "castle_PETG.gcode", origin = "sdcard", _timestamp = S(70) });
        yield return (P + "progress/printing", Json(new
        {
            location = "sdcard",
            path = "castle_PETG.gcode",
            progress = 25,
            printer_data = new { job = new { estimatedPrintTime = 2400.0, filament = new { tool0 = new { length = 5_000.0, volume = 12.0 } } } },
            _timestamp = S(75),
        }), false);
        yield return Event("PrintCancelled", new { name = "castle_PETG.gcode", path = "castle_PETG.gcode", origin = "sdcard", time = 600.0, progress = 25, _timestamp = S(80) });
        yield return Event("PrintFailed", new { name = "castle_PETG.gcode", path = "castle_PETG.gcode", origin = "sdcard", time = 600.0, progress = 25, reason = "cancelled", _timestamp = S(80) });

        // 3. dragon again: paused, resumed, then failed on an error at 60 % (a 0–1 fraction on this path).
        yield return Event("PrintStarted", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", _timestamp = S(90) });
        yield return Event("PrintPaused", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", progress = 30, _timestamp = S(100) });
        yield return Event("PrintResumed", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", _timestamp = S(105) });
        yield return Event("PrintFailed", new { name = "dragon_x4.gcode", path = "toys/dragon_x4.gcode", origin = "local", time = 2000.0, reason = "error", error = "Thermal Runaway", progress = 0.6, _timestamp = S(130) });

        // 4. A missed start: only the end of a whale print arrives (worker restarted mid-print).
        yield return Event("PrintDone", new { name = "whale.gcode", path = "whale.gcode", origin = "local", time = 1200.0, _timestamp = S(200) });

        // 5. boat started (and its start redelivered), then replaced by a ship without any end event.
        var boat = Event("PrintStarted", new { name = "boat.gcode", path = "boat.gcode", origin = "local", _timestamp = S(210) });
        yield return boat;
        yield return boat;
        yield return Event("PrintStarted", new { name = "ship.gcode", path = "ship.gcode", origin = "local", _timestamp = S(220) });
        yield return (P + "mqtt", "disconnected"u8.ToArray(), false);
    }

    [Fact]
    public void The_trace_ends_exactly_the_expected_jobs()
    {
        var farm = new Farm([new OctoPrintAdapter()]);
        foreach (var (topic, payload, retained) in Trace())
        {
            farm.Accept(Message(topic, payload, T0.AddMinutes(230), retained));
        }

        Assert.Collection(
            farm.Ended,
            dragon =>
            {
                Assert.Equal(("toys/dragon_x4.gcode@1767600000", JobOutcome.Completed, "dragon", 4, "PLA"), (dragon.JobId, dragon.Outcome, dragon.Toy, dragon.Quantity, dragon.Material));
                Assert.Equal((T0, T0.AddMinutes(60), 3600.0), (dragon.Start, dragon.End, dragon.PrintTimeSeconds));
                Assert.Equal((10_000.0, FilamentSource.Estimated), (dragon.FilamentMillimetres, dragon.FilamentSource));
                Assert.Equal(Grams(10_000, 1.24), dragon.FilamentGrams, 9);
                Assert.Equal("octoprint", dragon.Source);
            },
            castle =>
            {
                Assert.Equal((JobOutcome.Cancelled, "castle", 1, "PETG"), (castle.Outcome, castle.Toy, castle.Quantity, castle.Material));
                Assert.Equal((600.0, 1250.0, FilamentSource.Prorated), (castle.PrintTimeSeconds, castle.FilamentMillimetres, castle.FilamentSource));
                Assert.Equal(Grams(1250, 1.27), castle.FilamentGrams, 9);
            },
            failed =>
            {
                Assert.Equal((JobOutcome.Failed, "dragon", 4), (failed.Outcome, failed.Toy, failed.Quantity));
                Assert.Equal((2000.0, FilamentSource.Prorated), (failed.PrintTimeSeconds, failed.FilamentSource));
                Assert.Equal(6000.0, failed.FilamentMillimetres!.Value, 9);
            },
            whale =>
            {
                Assert.Equal((JobOutcome.Completed, "whale", 1200.0), (whale.Outcome, whale.Toy, whale.PrintTimeSeconds));
                Assert.Equal((T0.AddMinutes(180), T0.AddMinutes(200)), (whale.Start, whale.End));
                Assert.Equal(FilamentSource.Unknown, whale.FilamentSource);
                Assert.False(whale.HasFilament);
            },
            boat =>
            {
                Assert.Equal((JobOutcome.Cancelled, "boat", 600.0), (boat.Outcome, boat.Toy, boat.PrintTimeSeconds));
                Assert.Equal(T0.AddMinutes(220), boat.End);
            });
        Assert.Equal(1, farm.Processor.Jobs.OpenJobs);
        Assert.Equal(["octoprint"], farm.JobLines.Select(l => l.Split(',').Single(t => t.StartsWith("source=", StringComparison.Ordinal))[7..]).Distinct());
    }

    [Fact]
    public void Telemetry_of_the_trace_lands_as_printer_points_but_replays_do_not()
    {
        var farm = new Farm([new OctoPrintAdapter()]);
        foreach (var (topic, payload, retained) in Trace())
        {
            farm.Accept(Message(topic, payload, T0.AddMinutes(230), retained));
        }

        var lines = farm.PrinterLines.ToList();
        Assert.Contains(lines, l => l.Contains("nozzle_c=214.8", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("online=true", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("online=false", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("state=\"paused\"", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("progress_pct=37", StringComparison.Ordinal));
    }

    [Fact]
    public void A_job_with_no_material_anywhere_takes_the_printers_configured_material()
    {
        var farm = new Farm([new OctoPrintAdapter()], new Dictionary<string, string> { ["op1"] = "asa" });
        farm.Accept(Message(P + "event/PrintStarted", Json(new { path = "gear.gcode", _timestamp = S(0) }), T0));
        farm.Accept(Message(P + "event/PrintDone", Json(new { path = "gear.gcode", time = 60.0, _timestamp = S(1) }), T0));

        Assert.Equal("ASA", Assert.Single(farm.Ended).Material);
    }

    private static double Grams(double millimetres, double density) => millimetres * Math.PI * 0.875 * 0.875 / 1000.0 * density;
}
