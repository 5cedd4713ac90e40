using System.Text.Json.Nodes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Moonraker;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.Moonraker;

public sealed class MoonrakerAdapterTests
{
    private const string Status = "k1/klipper/status";
    private const string Server = "k1/moonraker/status";

    private static MoonrakerAdapter CreateSut() => new();

    private static InboundMessage Fixture(string topic, string file, int minute = 0, bool retained = false) =>
        Message(topic, AdapterTestKit.Fixture("moonraker", file), T0.AddMinutes(minute), retained);

    private static InboundMessage Status_(string json, int minute) => Message(Status, json, T0.AddMinutes(minute));

    [Fact]
    public void Printing_from_an_unknown_state_opens_a_job_stamped_with_the_receive_time()
    {
        var events = Accept(CreateSut(), Fixture(Status, "klipper-status-print-start.json"));

        var start = events[0];
        Assert.Equal(EventKind.JobStarted, start.Kind);
        Assert.Equal(("k1", "moonraker", "dragon_x4_PETG.gcode"), (start.Printer, start.Source, start.File));
        Assert.Equal("dragon_x4_PETG.gcode@1767600000+3052165.419", start.JobId);
        Assert.Equal(T0, start.Timestamp);
        var sample = events[1];
        Assert.Equal(("printing", 0.0), (sample.State, sample.ProgressPercent));
    }

    [Fact]
    public void A_cancel_after_a_failed_print_is_an_operator_cancel_not_the_previous_jobs_error()
    {
        var sut = CreateSut();
        Accept(sut, Status_("""{"eventtime":10.0,"status":{"print_stats":{"state":"printing","filename":"a.gcode"}}}""", 0));
        var failed = Accept(sut, Status_("""{"eventtime":20.0,"status":{"print_stats":{"state":"error","message":"Filament runout detected on extruder"}}}""", 1))
            .Single(e => e.Kind == EventKind.JobFinished);
        Accept(sut, Status_("""{"eventtime":30.0,"status":{"print_stats":{"state":"printing","filename":"b.gcode"}}}""", 2));

        var cancelled = Accept(sut, Status_("""{"eventtime":40.0,"status":{"print_stats":{"state":"cancelled"}}}""", 3))
            .Single(e => e.Kind == EventKind.JobFinished);

        Assert.Equal(PrintFarm.Core.Jobs.FailureReason.FilamentRunout, failed.Reason);
        Assert.Equal(("b.gcode", JobOutcome.Cancelled, PrintFarm.Core.Jobs.FailureReason.OperatorCancel), (cancelled.File, cancelled.Outcome, cancelled.Reason));
    }

    [Fact]
    public void A_delta_is_a_telemetry_sample_with_progress_as_percent()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));

        var e = Assert.Single(Accept(sut, Fixture(Status, "klipper-status-delta.json", 12)));

        Assert.Equal(EventKind.JobProgress, e.Kind);
        Assert.Equal(21.0, e.ProgressPercent!.Value, 9);
        Assert.Equal((239.87, 80.02), (e.NozzleCelsius, e.BedCelsius));
        Assert.Null(e.State);
        Assert.Equal(T0.AddMinutes(12), e.Timestamp);
    }

    [Fact]
    public void Complete_ends_the_job_with_print_duration_measured_filament_and_the_object_count()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));
        Accept(sut, Fixture(Status, "klipper-status-exclude-object.json", 1));
        Accept(sut, Fixture(Status, "klipper-status-delta.json", 12));

        var end = Accept(sut, Fixture(Status, "klipper-status-complete.json", 64))[0];

        Assert.Equal(EventKind.JobFinished, end.Kind);
        Assert.Equal(JobOutcome.Completed, end.Outcome);
        Assert.Equal("dragon_x4_PETG.gcode@1767600000+3052165.419", end.JobId);
        Assert.Equal((3500.25, 10234.5, FilamentSource.Measured), (end.PrintTimeSeconds, end.FilamentMillimetres, end.FilamentSource));
        Assert.Equal(3, end.Quantity);
        Assert.Equal("dragon_x4_PETG.gcode", end.File);
    }

    [Fact]
    public void Standby_after_complete_is_a_file_reset_and_ends_nothing()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));
        Accept(sut, Fixture(Status, "klipper-status-complete.json", 64));

        var events = Accept(sut, Fixture(Status, "klipper-status-standby-reset.json", 70));

        Assert.DoesNotContain(events, e => e.Kind is EventKind.JobStarted or EventKind.JobFinished);
        Assert.Equal("standby", Assert.Single(events).State);
    }

    [Fact]
    public void Printing_to_standby_is_a_cancel_described_by_the_values_from_before_the_reset()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));
        Accept(sut, Fixture(Status, "klipper-status-exclude-object.json", 1));
        Accept(sut, Fixture(Status, "klipper-status-delta.json", 12));

        var end = Accept(sut, Fixture(Status, "klipper-status-standby-reset.json", 13))[0];

        Assert.Equal(JobOutcome.Cancelled, end.Outcome);
        Assert.Equal((612.31, 2012.74, 3), (end.PrintTimeSeconds, end.FilamentMillimetres, end.Quantity));
        Assert.Equal("dragon_x4_PETG.gcode", end.File);
    }

    [Theory]
    [InlineData("klipper-status-cancelled.json", JobOutcome.Cancelled)]
    [InlineData("klipper-status-error.json", JobOutcome.Failed)]
    public void Cancelled_and_error_states_end_the_job(string file, JobOutcome outcome)
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));

        var end = Accept(sut, Fixture(Status, file, 20))[0];

        Assert.Equal((outcome, 1100.0, 3500.0), (end.Outcome!.Value, end.PrintTimeSeconds, end.FilamentMillimetres));
    }

    [Fact]
    public void Paused_then_printing_with_the_same_file_and_a_growing_total_is_a_resume()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));
        Accept(sut, Fixture(Status, "klipper-status-paused.json", 14));

        var events = Accept(sut, Fixture(Status, "klipper-status-resumed.json", 19));

        Assert.DoesNotContain(events, e => e.Kind is EventKind.JobStarted or EventKind.JobFinished);
        Assert.Equal("printing", Assert.Single(events).State);
    }

    [Fact]
    public void Paused_then_printing_another_file_ends_the_old_job_as_cancelled_and_starts_a_new_one()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));
        Accept(sut, Fixture(Status, "klipper-status-paused.json", 14));

        var events = Accept(sut, Status_("""{"eventtime":3.0,"status":{"print_stats":{"state":"printing","filename":"cup.gcode","total_duration":0.01}}}""", 30));

        Assert.Equal((EventKind.JobFinished, JobOutcome.Cancelled), (events[0].Kind, events[0].Outcome!.Value));
        Assert.Equal("dragon_x4_PETG.gcode", events[0].File);
        Assert.Equal((EventKind.JobStarted, "cup.gcode"), (events[1].Kind, events[1].File));
    }

    [Fact]
    public void Retained_split_values_replayed_on_subscribe_never_open_a_job_nor_write_telemetry()
    {
        var sut = CreateSut();

        var state = Accept(sut, Fixture("k1/klipper/state/print_stats/state", "klipper-state-print_stats-state.json", retained: true));
        var bed = Accept(sut, Fixture("k1/klipper/state/heater_bed/temperature", "klipper-state-heater_bed-temperature.json", retained: true));

        Assert.Empty(state);
        Assert.Empty(bed);
    }

    [Fact]
    public void Live_split_values_are_merged_one_field_at_a_time()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("k1/klipper/state/print_stats/state", "klipper-state-print_stats-state.json", retained: true));
        Accept(sut, Message("k1/klipper/state/print_stats/state", """{"eventtime":1.0,"value":"standby"}""", T0));
        Accept(sut, Fixture("k1/klipper/state/print_stats/filename", "klipper-state-print_stats-filename.json", 1));
        Assert.Empty(Accept(sut, Fixture("k1/klipper/state/print_stats/info", "klipper-state-print_stats-info.json", 1)));

        var start = Accept(sut, Fixture("k1/klipper/state/print_stats/state", "klipper-state-print_stats-state.json", 1))[0];
        var bed = Assert.Single(Accept(sut, Fixture("k1/klipper/state/heater_bed/temperature", "klipper-state-heater_bed-temperature.json", 2)));

        Assert.Equal((EventKind.JobStarted, "dragon_x4_PETG.gcode"), (start.Kind, start.File));
        Assert.Equal(24.0, bed.BedCelsius);
    }

    [Theory]
    [InlineData("moonraker-status-online.json", true)]
    [InlineData("moonraker-status-offline.json", false)]
    public void The_server_topic_is_presence(string file, bool online)
    {
        var e = Assert.Single(Accept(CreateSut(), Fixture(Server, file, retained: true)));

        Assert.Equal(online, e.Online);
    }

    [Fact]
    public void Going_offline_keeps_the_job_open_and_it_completes_later()
    {
        var sut = CreateSut();
        Accept(sut, Fixture(Status, "klipper-status-print-start.json"));
        Accept(sut, Fixture(Server, "moonraker-status-offline.json", 10));
        Accept(sut, Fixture(Server, "moonraker-status-online.json", 20));

        var end = Accept(sut, Fixture(Status, "klipper-status-complete.json", 64))[0];

        Assert.Equal(("dragon_x4_PETG.gcode@1767600000+3052165.419", JobOutcome.Completed), (end.JobId, end.Outcome!.Value));
    }

    [Theory]
    [InlineData(Status, """{"eventtime":1.0,"status":{"print_stats":{"state":"exploded"}}}""", RejectReasons.InvalidField)]
    [InlineData(Status, """{"eventtime":1.0,"status":{"print_stats":{"state":7}}}""", RejectReasons.InvalidField)]
    [InlineData(Status, """{"eventtime":1.0,"status":[]}""", RejectReasons.InvalidField)]
    [InlineData(Status, """{"eventtime":"soon","status":{}}""", RejectReasons.InvalidField)]
    [InlineData(Status, """{"eventtime":1.0}""", RejectReasons.MissingField)]
    [InlineData(Status, """{"eventtime":1.0,"status":{"virtual_sdcard":{"progress":3.5}}}""", RejectReasons.InvalidField)]
    [InlineData(Status, """{"eventtime":1.0,"status":{"print_stats":{"filament_used":-2}}}""", RejectReasons.InvalidField)]
    [InlineData(Status, "{\"eventtime\":1.0,\"status\":{", RejectReasons.InvalidJson)]
    [InlineData(Status, """{"eventtime":1.0,"status":{"print_stats":{"state":"cancelled","total_duration":1e308}}}""", RejectReasons.InvalidField)]
    [InlineData(Server, """{"server":"sleeping"}""", RejectReasons.InvalidField)]
    [InlineData("k1/klipper/state/print_stats/state", """{"eventtime":1.0}""", RejectReasons.MissingField)]
    [InlineData("k1/klipper/state/extruder/temperature", """{"eventtime":1.0,"value":"warm"}""", RejectReasons.InvalidField)]
    public void Bad_payloads_are_rejected_with_a_reason_and_change_nothing(string topic, string payload, string reason)
    {
        var sut = CreateSut();
        var result = Process(sut, Message(topic, payload, T0), []);

        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
        Assert.Null(sut.SaveState());
    }

    [Fact]
    public void A_checkpoint_in_the_middle_of_a_job_still_ends_it_with_the_merged_figures()
    {
        var before = CreateSut();
        var started = Accept(before, Fixture(Status, "klipper-status-print-start.json"))[0];
        Accept(before, Fixture(Status, "klipper-status-exclude-object.json", 1));
        Accept(before, Fixture(Status, "klipper-status-delta.json", 12));
        Accept(before, Fixture(Status, "klipper-status-paused.json", 14));

        var after = CreateSut();
        after.RestoreState(JsonNode.Parse(before.SaveState()!.ToJsonString())!);
        Assert.DoesNotContain(Accept(after, Fixture(Status, "klipper-status-resumed.json", 19)), e => e.Kind is EventKind.JobStarted or EventKind.JobFinished);
        var end = Accept(after, Fixture(Status, "klipper-status-standby-reset.json", 20))[0];

        Assert.Equal(started.JobId, end.JobId);
        Assert.Equal((JobOutcome.Cancelled, 612.31, 2012.74, 3), (end.Outcome!.Value, end.PrintTimeSeconds, end.FilamentMillimetres, end.Quantity));
    }
}
