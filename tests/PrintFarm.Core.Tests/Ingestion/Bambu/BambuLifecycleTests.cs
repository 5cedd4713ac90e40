using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Processing;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.Bambu;

/// <summary>A day of one Bambu Lab P1 (delta reports) through the whole pipeline, with the jobs it must end.</summary>
public sealed class BambuLifecycleTests
{
    private const string Serial = "01P00A391800001";

    /// <summary>The trace in arrival order: payload and minutes after 08:00 it is received.</summary>
    public static IEnumerable<(byte[] Payload, int Minute)> Trace()
    {
        static (byte[], int) P(int minute, object print) => (Json(new Dictionary<string, object> { ["print"] = print }), minute);

        yield return P(0, new { command = "push_status", msg = 0, sequence_id = "1", gcode_state = "IDLE", print_error = 0, task_id = "0", subtask_id = "0", mc_percent = 0 });

        // 1. A cloud print of dragons: PREPARE (download), RUNNING, FINISH; the FINISH report is redelivered.
        yield return P(10, new { command = "push_status", msg = 1, sequence_id = "2", gcode_state = "PREPARE", task_id = "700000001", subtask_id = "700000002", subtask_name = "dragon_x4", gcode_file = "/data/Metadata/plate_1.gcode", gcode_start_time = "1767600600" });
        yield return P(12, new { command = "push_status", msg = 1, sequence_id = "3", gcode_state = "RUNNING", mc_percent = 1, nozzle_temper = 220.1, nozzle_target_temper = 220 });
        yield return P(40, new { command = "push_status", msg = 1, sequence_id = "4", mc_percent = 50, mc_remaining_time = 30 });
        var finish = P(70, new { command = "push_status", msg = 1, sequence_id = "5", gcode_state = "FINISH", mc_percent = 100, mc_remaining_time = 0 });
        yield return finish;
        yield return finish;
        yield return P(75, new { command = "push_status", msg = 1, sequence_id = "6", gcode_state = "IDLE" });

        // 2. A LAN print from the SD card (task ids 0) in PETG, cancelled by the user: print_error 50348044 then FAILED.
        yield return P(80, new { command = "push_status", msg = 1, sequence_id = "7", gcode_state = "PREPARE", task_id = "0", subtask_id = "0", subtask_name = "castle_PETG" });
        yield return P(82, new { command = "push_status", msg = 1, sequence_id = "8", gcode_state = "RUNNING" });
        yield return P(95, new { command = "push_status", msg = 1, sequence_id = "9", print_error = 50348044 });
        yield return P(95, new { command = "push_status", msg = 1, sequence_id = "10", gcode_state = "FAILED", fail_reason = "50348044" });

        // 3. From FAILED straight to RUNNING (a new start), paused and resumed, then a real failure.
        yield return P(100, new { command = "push_status", msg = 1, sequence_id = "11", gcode_state = "RUNNING", task_id = "700000010", subtask_id = "700000011", subtask_name = "boat", print_error = 0 });
        yield return P(110, new { command = "push_status", msg = 1, sequence_id = "12", gcode_state = "PAUSE" });
        yield return P(115, new { command = "push_status", msg = 1, sequence_id = "13", gcode_state = "RUNNING" });
        yield return P(130, new { command = "push_status", msg = 1, sequence_id = "14", gcode_state = "FAILED", print_error = 117473284 });

        // 4. A missed start: FAILED straight to PAUSE (the RUNNING report was lost), then it finishes.
        yield return P(140, new { command = "push_status", msg = 1, sequence_id = "15", gcode_state = "PAUSE", task_id = "700000020", subtask_id = "700000021", subtask_name = "whale", print_error = 0 });
        yield return P(145, new { command = "push_status", msg = 1, sequence_id = "16", gcode_state = "RUNNING" });
        yield return P(160, new { command = "push_status", msg = 1, sequence_id = "17", gcode_state = "FINISH" });

        // 5. Running, then IDLE with no end state: abandoned, so cancelled.
        yield return P(170, new { command = "push_status", msg = 1, sequence_id = "18", gcode_state = "PREPARE", task_id = "700000030", subtask_id = "700000031", subtask_name = "ship" });
        yield return P(172, new { command = "push_status", msg = 1, sequence_id = "19", gcode_state = "RUNNING" });
        yield return P(180, new { command = "push_status", msg = 1, sequence_id = "20", gcode_state = "IDLE" });
    }

    [Fact]
    public void The_trace_ends_exactly_the_expected_jobs_all_without_filament()
    {
        var farm = new Farm([new BambuAdapter(new BambuAdapterOptions { Printers = new() { [Serial] = "bambu-1" } })]);
        foreach (var (payload, minute) in Trace())
        {
            farm.Accept(Message($"device/{Serial}/report", payload, T0.AddMinutes(minute)));
        }

        Assert.Collection(
            farm.Ended,
            dragon =>
            {
                Assert.Equal(("700000001/700000002", JobOutcome.Completed, "dragon", 4), (dragon.JobId, dragon.Outcome, dragon.Toy, dragon.Quantity));
                Assert.Equal((T0.AddMinutes(10), T0.AddMinutes(70), 3600.0), (dragon.Start, dragon.End, dragon.PrintTimeSeconds));
                Assert.Equal(("bambu-1", "bambu"), (dragon.Printer, dragon.Source));
            },
            castle =>
            {
                Assert.Equal((JobOutcome.Cancelled, "castle", "PETG"), (castle.Outcome, castle.Toy, castle.Material));
                Assert.Equal("castle_PETG@1767604800", castle.JobId);
                Assert.Equal(900.0, castle.PrintTimeSeconds);
            },
            boat => Assert.Equal((JobOutcome.Failed, "boat", 1800.0), (boat.Outcome, boat.Toy, boat.PrintTimeSeconds)),
            whale => Assert.Equal((JobOutcome.Completed, "whale", T0.AddMinutes(140)), (whale.Outcome, whale.Toy, whale.Start)),
            ship => Assert.Equal((JobOutcome.Cancelled, "ship"), (ship.Outcome, ship.Toy)));
        Assert.All(farm.Ended, j => Assert.Equal(FilamentSource.Unknown, j.FilamentSource));
        Assert.All(farm.JobLines, l => Assert.Contains("filament_source=\"unknown\"", l, StringComparison.Ordinal));
        Assert.Equal(0, farm.Processor.Jobs.OpenJobs);

        var kpis = new ProcessorOutput();
        farm.Processor.Flush(kpis);
        Assert.Contains(kpis.Lines, l => l.Contains("scope=farm", StringComparison.Ordinal) && l.Contains("window=1d", StringComparison.Ordinal) && l.Contains("jobs_without_filament=5i", StringComparison.Ordinal));
    }
}
