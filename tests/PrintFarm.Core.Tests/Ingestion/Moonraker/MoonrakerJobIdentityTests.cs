using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Moonraker;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.Moonraker;

/// <summary>Retained replays, bare states and bursts: every real print counted once, nothing else counted.</summary>
public sealed class MoonrakerJobIdentityTests
{
    private const string Status = "k1/klipper/status";
    private const string SplitState = "k1/klipper/state/print_stats/state";
    private const string SplitFile = "k1/klipper/state/print_stats/filename";

    private static Farm CreateFarm() => new([new MoonrakerAdapter()]);

    private static InboundMessage Ps(double eventtime, object printStats, double seconds) =>
        Message(Status, Json(new { eventtime, status = new { print_stats = printStats } }), T0.AddSeconds(seconds));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_stale_printing_split_value_then_standby_counts_no_job(bool retainedFlagKept)
    {
        // Replayed on subscribe; a bridge or a persistent-session queue may deliver it without the retain flag.
        var farm = CreateFarm();
        farm.Accept(Message(SplitState, Fixture("moonraker", "klipper-state-print_stats-state-stale-printing.json"), T0, retainedFlagKept));

        farm.Accept(Ps(3_052_000.0, new { state = "standby", filename = "" }, 0.008));

        Assert.Empty(farm.Ended);
        Assert.Empty(farm.JobLines);
        Assert.Null(farm.Processor.Jobs.GetOpenJob("k1"));
    }

    [Fact]
    public void A_bare_printing_waits_for_its_file_name_and_the_job_starts_when_the_state_did()
    {
        var farm = CreateFarm();
        farm.Accept(Ps(3_052_000.0, new { state = "standby" }, 0));

        farm.Accept(Message(SplitState, Json(new { eventtime = 3_052_100.0, value = "printing" }), T0.AddSeconds(100)));
        Assert.Null(farm.Processor.Jobs.GetOpenJob("k1"));
        farm.Accept(Message(SplitFile, Json(new { eventtime = 3_052_100.0, value = "boat.gcode" }), T0.AddSeconds(100.2)));
        farm.Accept(Ps(3_053_000.0, new { state = "complete", print_duration = 850.0, total_duration = 900.0, filament_used = 1200.0 }, 1000));

        var job = Assert.Single(farm.Ended);
        Assert.Equal(("boat", JobOutcome.Completed, T0.AddSeconds(100)), (job.Toy, job.Outcome, job.Start));
    }

    [Fact]
    public void A_retained_printing_confirmed_by_a_live_report_is_a_missed_start()
    {
        var farm = CreateFarm();
        farm.Accept(Message(SplitFile, Json(new { eventtime = 3_050_000.0, value = "ship.gcode" }), T0, retained: true));
        farm.Accept(Message(SplitState, Json(new { eventtime = 3_050_000.0, value = "printing" }), T0, retained: true));
        Assert.Null(farm.Processor.Jobs.GetOpenJob("k1"));

        farm.Accept(Ps(3_052_000.0, new { print_duration = 1900.0, total_duration = 2000.0 }, 10));

        Assert.Equal(T0.AddSeconds(10 - 2000), farm.Processor.Jobs.GetOpenJob("k1")?.Start);
        farm.Accept(Ps(3_053_000.0, new { state = "complete", print_duration = 2900.0, total_duration = 3000.0, filament_used = 5000.0 }, 1010));
        var job = Assert.Single(farm.Ended);
        Assert.Equal(("ship", JobOutcome.Completed, 2900.0), (job.Toy, job.Outcome, job.PrintTimeSeconds));
    }

    [Fact]
    public void Two_prints_of_one_file_arriving_in_the_same_second_are_two_jobs_and_a_redelivered_burst_is_counted_once()
    {
        var farm = CreateFarm();
        (double EventTime, object PrintStats)[] burst =
        [
            (3_052_000.0, new { state = "standby", filename = "" }),
            (3_052_100.0, new { state = "printing", filename = "clip_x4.gcode", total_duration = 0.01 }),
            (3_052_700.0, new { state = "complete", print_duration = 580.0, total_duration = 600.0, filament_used = 900.0 }),
            (3_052_701.0, new { state = "standby", filename = "", print_duration = 0.0, total_duration = 0.0, filament_used = 0.0 }),
            (3_052_800.0, new { state = "printing", filename = "clip_x4.gcode", total_duration = 0.01 }),
            (3_053_400.0, new { state = "complete", print_duration = 590.0, total_duration = 600.0, filament_used = 910.0 }),
        ];

        // The broker delivers a backlog after an outage: every message within milliseconds.
        for (var i = 0; i < burst.Length; i++)
        {
            farm.Accept(Ps(burst[i].EventTime, burst[i].PrintStats, 0.001 * i));
        }

        // Then the same backlog again, after a reconnect (QoS 1 is at-least-once), and one message twice in a row.
        for (var i = 0; i < burst.Length; i++)
        {
            farm.Accept(Ps(burst[i].EventTime, burst[i].PrintStats, 1 + (0.001 * i)));
        }

        farm.Accept(Ps(burst[^1].EventTime, burst[^1].PrintStats, 2));

        Assert.Equal([580.0, 590.0], farm.Ended.Select(j => j.PrintTimeSeconds));
        Assert.All(farm.Ended, j => Assert.Equal((JobOutcome.Completed, "clip", 4), (j.Outcome, j.Toy, j.Quantity)));
        Assert.NotEqual(farm.Ended[0].JobId, farm.Ended[1].JobId);
    }

    [Fact]
    public void After_a_host_reboot_the_restarted_clock_is_not_taken_for_redeliveries()
    {
        var farm = CreateFarm();
        farm.Accept(Ps(3_052_000.0, new { state = "standby" }, 0));

        // The host rebooted an hour later: eventtime restarts near zero.
        farm.Accept(Ps(40.0, new { state = "printing", filename = "cup.gcode", total_duration = 0.01 }, 3600));
        farm.Accept(Ps(640.0, new { state = "complete", print_duration = 590.0, total_duration = 600.0, filament_used = 910.0 }, 4200));

        Assert.Equal("cup", Assert.Single(farm.Ended).Toy);
    }

    [Fact]
    public void After_a_restart_from_a_checkpoint_a_replay_older_than_what_was_applied_changes_nothing()
    {
        var before = new MoonrakerAdapter();
        Accept(before, Ps(3_052_100.0, new { state = "printing", filename = "clip_x4.gcode", total_duration = 0.01 }, 0));
        Accept(before, Ps(3_052_700.0, new { state = "complete", print_duration = 580.0, total_duration = 600.0, filament_used = 900.0 }, 600));

        var after = new MoonrakerAdapter();
        after.RestoreState(System.Text.Json.Nodes.JsonNode.Parse(before.SaveState()!.ToJsonString())!);

        // On subscribe the broker replays the split state from the middle of that job, retained or not.
        Assert.Empty(Accept(after, Message(SplitState, Json(new { eventtime = 3_052_100.0, value = "printing" }), T0.AddSeconds(900), retained: true)));
        Assert.Empty(Accept(after, Message(SplitState, Json(new { eventtime = 3_052_100.0, value = "printing" }), T0.AddSeconds(901))));
        Assert.DoesNotContain(Accept(after, Ps(3_052_800.0, new { state = "standby", filename = "" }, 1000)), e => e.Kind is EventKind.JobStarted or EventKind.JobFinished);
    }
}
