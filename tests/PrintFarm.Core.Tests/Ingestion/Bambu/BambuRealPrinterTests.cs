using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.Bambu;

/// <summary>What real Bambu printers (P2S, H2S, X2D, H2D, X1C) sent, replayed through the whole pipeline.</summary>
public sealed class BambuRealPrinterTests
{
    private const string Serial = "0N7B2S123456789";
    private const string Report = "device/" + Serial + "/report";

    private static Farm CreateFarm(TimeSpan? grace = null) =>
        new([new BambuAdapter(new BambuAdapterOptions { CancelGracePeriod = grace ?? TimeSpan.FromSeconds(15) })]);

    private static InboundMessage At(string fixture, double seconds) =>
        Message(Report, Fixture("bambu", fixture), T0.AddSeconds(seconds));

    private static InboundMessage Json(string json, double seconds) => Message(Report, json, T0.AddSeconds(seconds));

    private static string Running(string name, long startTime) =>
        $$$"""{"print":{"command":"push_status","gcode_state":"RUNNING","subtask_name":"{{{name}}}","gcode_start_time":"{{{startTime}}}","task_id":"0","subtask_id":"0","print_error":0}}""";

    [Fact]
    public void A_FAILED_without_a_code_then_the_cancel_code_4_6_s_later_is_a_cancel_ended_at_the_first_report()
    {
        var farm = CreateFarm();
        farm.Accept(Json(Running("dragon_x4", 1767599000), 0));

        farm.Accept(At("push_status-p2s-failed-no-code.json", 600));
        Assert.Empty(farm.Ended);
        farm.Accept(At("push_status-p2s-failed-cancel-code.json", 604.6));

        var job = Assert.Single(farm.Ended);
        Assert.Equal((JobOutcome.Cancelled, "dragon"), (job.Outcome, job.Toy));
        Assert.Equal(T0.AddSeconds(600), job.End);
    }

    [Fact]
    public void A_FAILED_without_a_code_is_a_failure_once_a_report_comes_after_the_grace_period()
    {
        var farm = CreateFarm(TimeSpan.FromSeconds(10));
        farm.Accept(Json(Running("dragon_x4", 1767599000), 0));
        farm.Accept(At("push_status-p2s-failed-no-code.json", 600));
        farm.Accept(Json("""{"print":{"command":"push_status","nozzle_temper":180.0}}""", 605));
        Assert.Empty(farm.Ended);

        farm.Accept(Json("""{"print":{"command":"push_status","nozzle_temper":150.0}}""", 611));

        var job = Assert.Single(farm.Ended);
        Assert.Equal((JobOutcome.Failed, T0.AddSeconds(600)), (job.Outcome, job.End));

        // The cancel code arriving after that changes nothing.
        farm.Accept(At("push_status-p2s-failed-cancel-code.json", 615));
        Assert.Single(farm.Ended);
    }

    [Fact]
    public void A_FAILED_without_a_code_is_a_failure_when_the_next_job_starts_within_the_grace_period()
    {
        var farm = CreateFarm();
        farm.Accept(Json(Running("dragon_x4", 1767599000), 0));
        farm.Accept(At("push_status-p2s-failed-no-code.json", 600));

        farm.Accept(Json(Running("castle", 1767600603), 603));

        var job = Assert.Single(farm.Ended);
        Assert.Equal((JobOutcome.Failed, "dragon"), (job.Outcome, job.Toy));
        Assert.Equal("castle", farm.Processor.Jobs.GetOpenJob(Serial)?.File);
    }

    [Fact]
    public void A_FAILED_with_an_error_code_is_a_failure_at_once()
    {
        var farm = CreateFarm();
        farm.Accept(Json(Running("dragon_x4", 1767599000), 0));

        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"FAILED","print_error":117473286}}""", 600));

        Assert.Equal(JobOutcome.Failed, Assert.Single(farm.Ended).Outcome);
    }

    [Fact]
    public void The_material_is_the_active_AMS_trays_type()
    {
        var farm = CreateFarm();
        farm.Accept(At("push_status-h2s-ams-abs.json", 0));
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"FINISH"}}""", 3600));

        var job = Assert.Single(farm.Ended);
        Assert.Equal(("ABS", JobOutcome.Completed), (job.Material, job.Outcome));
    }

    [Fact]
    public void The_material_is_the_external_spools_type_when_tray_now_is_254()
    {
        var farm = CreateFarm();
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"IDLE"}}""", 0));
        farm.Accept(At("push_status-x2d-external-spool-petg.json", 60));
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"FINISH"}}""", 3600));

        var job = Assert.Single(farm.Ended);
        Assert.Equal(("PETG", "cable_clip", 8), (job.Material, job.Toy, job.Quantity));
    }

    [Fact]
    public void Without_a_spool_report_the_file_name_and_the_default_remain_the_fallbacks()
    {
        var farm = CreateFarm();
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"IDLE"}}""", 0));
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"RUNNING","subtask_name":"vase_TPU","ams":{"tray_now":"255"}}}""", 60));
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"FINISH"}}""", 3600));

        Assert.Equal("TPU", Assert.Single(farm.Ended).Material);
    }

    [Fact]
    public void A_dual_nozzle_H2D_records_the_active_nozzle_and_both()
    {
        var farm = CreateFarm();

        farm.Accept(At("push_status-h2d-dual-nozzle.json", 0));

        var line = Assert.Single(farm.PrinterLines);
        Assert.Contains("nozzle_c=264", line, StringComparison.Ordinal);
        Assert.Contains("nozzle_target_c=264", line, StringComparison.Ordinal);
        Assert.Contains("nozzle_0_c=40", line, StringComparison.Ordinal);
        Assert.Contains("nozzle_1_c=264", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_LAN_print_never_inherits_the_last_cloud_jobs_ids()
    {
        var farm = CreateFarm();
        farm.Accept(At("push_status-x1-full-running.json", 0));
        farm.Accept(At("push_status-finish.json", 3600));
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"IDLE"}}""", 3700));

        farm.Accept(At("push_status-lan-start-no-ids.json", 3900));
        farm.Accept(Json("""{"print":{"command":"push_status","gcode_state":"FINISH"}}""", 7000));

        Assert.Collection(
            farm.Ended,
            cloud => Assert.Equal("690732215/690732217", cloud.JobId),
            lan =>
            {
                Assert.Equal("whistle_x6@1767603600", lan.JobId);
                Assert.Equal(("whistle", 6), (lan.Toy, lan.Quantity));
            });
    }

    [Fact]
    public void Two_LAN_prints_of_one_file_arriving_in_the_same_second_are_two_jobs_and_a_redelivered_burst_is_counted_once()
    {
        var farm = CreateFarm();
        string[] burst =
        [
            """{"print":{"command":"push_status","gcode_state":"IDLE"}}""",
            Running("clip_x4", 1767590000),
            """{"print":{"command":"push_status","gcode_state":"FINISH"}}""",
            """{"print":{"command":"push_status","gcode_state":"IDLE"}}""",
            Running("clip_x4", 1767594000),
            """{"print":{"command":"push_status","gcode_state":"FINISH"}}""",
        ];

        // The broker delivers the backlog after an outage: every message within milliseconds.
        for (var i = 0; i < burst.Length; i++)
        {
            farm.Accept(Json(burst[i], 0.001 * i));
        }

        // ... and, after a reconnect, the same backlog again (QoS 1 is at-least-once).
        for (var i = 0; i < burst.Length; i++)
        {
            farm.Accept(Json(burst[i], 1 + (0.001 * i)));
        }

        Assert.Equal(["clip_x4@1767590000", "clip_x4@1767594000"], farm.Ended.Select(j => j.JobId));
        Assert.All(farm.Ended, j => Assert.Equal((JobOutcome.Completed, 4), (j.Outcome, j.Quantity)));
    }

    [Fact]
    public void A_FAILED_waiting_for_its_code_survives_a_checkpoint()
    {
        var before = new BambuAdapter();
        Accept(before, Json(Running("dragon_x4", 1767599000), 0));
        Assert.DoesNotContain(Accept(before, At("push_status-p2s-failed-no-code.json", 600)), e => e.Kind == EventKind.JobFinished);

        var after = new BambuAdapter();
        after.RestoreState(System.Text.Json.Nodes.JsonNode.Parse(before.SaveState()!.ToJsonString())!);
        var end = Assert.Single(Accept(after, At("push_status-p2s-failed-cancel-code.json", 604.6)), e => e.Kind == EventKind.JobFinished);

        Assert.Equal((JobOutcome.Cancelled, T0.AddSeconds(600), "dragon_x4@1767599000"), (end.Outcome!.Value, end.Timestamp, end.JobId));
    }
}
