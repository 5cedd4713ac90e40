using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.Moonraker;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.Moonraker;

/// <summary>A day of one Klipper printer through Moonraker, message by message through the whole pipeline.</summary>
public sealed class MoonrakerLifecycleTests
{
    private const string Status = "k1/klipper/status";

    /// <summary>The trace in arrival order: topic, payload, minutes after 08:00 it is received, retained.</summary>
    public static IEnumerable<(string Topic, byte[] Payload, int Minute, bool Retained)> Trace()
    {
        static (string, byte[], int, bool) Ps(int minute, object printStats, object? more = null) =>
            (Status, Json(new { eventtime = 3_052_000.0 + minute * 60, status = Merge(printStats, more) }), minute, false);

        // On subscribe: presence, and the split topics' retained replay of an old completed job.
        yield return ("k1/moonraker/status", Json(new { server = "online" }), 0, true);
        yield return ("k1/klipper/state/print_stats/filename", Json(new { eventtime = 3_000_000.0, value = "old.gcode" }), 0, true);
        yield return ("k1/klipper/state/print_stats/state", Json(new { eventtime = 3_000_000.0, value = "complete" }), 0, true);

        // 1. dragon, three objects on the plate, completed; the final update is redelivered (QoS 1).
        yield return Ps(1, new { filename = "dragon_x4.gcode", state = "printing", total_duration = 0.01 });
        yield return ("k1/klipper/status", Json(new { eventtime = 1.0, status = new { exclude_object = new { objects = new[] { new { name = "A" }, new { name = "B" }, new { name = "C" } } } } }), 2, false);
        yield return Ps(30, new { print_duration = 1500.0, total_duration = 1740.0, filament_used = 4000.0 }, new { extruder = new { temperature = 215.2, target = 215.0 } });
        var complete = Ps(61, new { state = "complete", print_duration = 3400.0, total_duration = 3600.0, filament_used = 9000.0 });
        yield return complete;
        yield return complete;
        yield return Ps(62, new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 });

        // 2. castle in ABS, cancelled by printing → standby (the reset zeroes the figures in the same update).
        yield return Ps(70, new { filename = "castle_ABS.gcode", state = "printing", total_duration = 0.01 });
        yield return Ps(76, new { print_duration = 300.0, total_duration = 360.0, filament_used = 800.0 });
        yield return Ps(77, new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 });

        // 3. boat: paused, resumed (same file, total grew), then a heater error.
        yield return Ps(80, new { filename = "boat.gcode", state = "printing", total_duration = 0.01 });
        yield return Ps(88, new { state = "paused", total_duration = 500.0, print_duration = 450.0 });
        yield return Ps(92, new { state = "printing", total_duration = 700.0 });
        yield return Ps(100, new { state = "error", print_duration = 900.0, total_duration = 1200.0, filament_used = 2000.0 });

        // 4. whale: cancelled state, then the file reset, which must not end anything again.
        yield return Ps(110, new { filename = "whale.gcode", state = "printing", total_duration = 0.01 });
        yield return Ps(120, new { state = "cancelled", print_duration = 500.0, total_duration = 600.0, filament_used = 1000.0 });
        yield return Ps(121, new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 });

        // 5. A missed start: standby straight to paused (the printing update was lost), then complete.
        yield return Ps(130, new { filename = "ship.gcode", state = "paused", total_duration = 100.0, print_duration = 90.0 });
        yield return Ps(131, new { state = "printing", total_duration = 160.0 });
        yield return Ps(150, new { state = "complete", print_duration = 1200.0, total_duration = 1300.0, filament_used = 3000.0 });
        yield return Ps(151, new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 });

        // 6. vase paused, then a different file printing: the vase was abandoned, the cup is a new job.
        yield return Ps(160, new { filename = "vase.gcode", state = "printing", total_duration = 0.01 });
        yield return Ps(170, new { state = "paused", total_duration = 600.0, print_duration = 500.0, filament_used = 700.0 });
        yield return Ps(180, new { state = "printing", filename = "cup.gcode", total_duration = 0.01, print_duration = 0.0, filament_used = 0.0 });

        // Moonraker goes away; the cup stays open.
        yield return ("k1/moonraker/status", Json(new { server = "offline" }), 190, false);
    }

    [Fact]
    public void The_trace_ends_exactly_the_expected_jobs()
    {
        var farm = new Farm([new MoonrakerAdapter()]);
        foreach (var (topic, payload, minute, retained) in Trace())
        {
            farm.Accept(Message(topic, payload, T0.AddMinutes(minute), retained));
        }

        Assert.Collection(
            farm.Ended,
            dragon =>
            {
                Assert.Equal((JobOutcome.Completed, "dragon", 3, "PLA"), (dragon.Outcome, dragon.Toy, dragon.Quantity, dragon.Material));
                Assert.Equal((T0.AddMinutes(1), T0.AddMinutes(61)), (dragon.Start, dragon.End));
                Assert.Equal((3400.0, 9000.0, FilamentSource.Measured), (dragon.PrintTimeSeconds, dragon.FilamentMillimetres, dragon.FilamentSource));
                Assert.Equal("moonraker", dragon.Source);
            },
            castle =>
            {
                Assert.Equal((JobOutcome.Cancelled, "castle", "ABS"), (castle.Outcome, castle.Toy, castle.Material));
                Assert.Equal((300.0, 800.0), (castle.PrintTimeSeconds, castle.FilamentMillimetres));
                Assert.Equal(T0.AddMinutes(77), castle.End);
            },
            boat => Assert.Equal((JobOutcome.Failed, "boat", 900.0, 2000.0), (boat.Outcome, boat.Toy, boat.PrintTimeSeconds, boat.FilamentMillimetres)),
            whale => Assert.Equal((JobOutcome.Cancelled, "whale", 500.0, 1000.0), (whale.Outcome, whale.Toy, whale.PrintTimeSeconds, whale.FilamentMillimetres)),
            ship =>
            {
                Assert.Equal((JobOutcome.Completed, "ship", 1200.0, 3000.0), (ship.Outcome, ship.Toy, ship.PrintTimeSeconds, ship.FilamentMillimetres));
                Assert.Equal(T0.AddMinutes(130), ship.Start);
                Assert.Equal(1, ship.Quantity);
            },
            vase =>
            {
                Assert.Equal((JobOutcome.Cancelled, "vase", 500.0, 700.0), (vase.Outcome, vase.Toy, vase.PrintTimeSeconds, vase.FilamentMillimetres));
                Assert.Equal(T0.AddMinutes(180), vase.End);
            });
        Assert.Equal("cup.gcode", farm.Processor.Jobs.GetOpenJob("k1")?.File);
        Assert.Contains(farm.PrinterLines, l => l.Contains("online=false", StringComparison.Ordinal));
        Assert.Contains(farm.PrinterLines, l => l.Contains("nozzle_c=215.2", StringComparison.Ordinal));
    }

    private static Dictionary<string, object> Merge(object printStats, object? more)
    {
        var status = new Dictionary<string, object> { ["print_stats"] = printStats };
        if (more is not null)
        {
            foreach (var p in more.GetType().GetProperties())
            {
                status[p.Name] = p.GetValue(more)!;
            }
        }

        return status;
    }
}
