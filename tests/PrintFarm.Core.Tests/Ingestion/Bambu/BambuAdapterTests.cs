using System.Text.Json.Nodes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.Bambu;

public sealed class BambuAdapterTests
{
    private const string Serial = "01S00C123456789";
    private const string Report = "device/" + Serial + "/report";

    private static BambuAdapter CreateSut(Dictionary<string, string>? names = null) =>
        new(new BambuAdapterOptions { Printers = names ?? [] });

    private static InboundMessage Fixture(string file, int minute = 0) =>
        Message(Report, AdapterTestKit.Fixture("bambu", file), T0.AddMinutes(minute));

    private static InboundMessage Print(string json, int minute) => Message(Report, json, T0.AddMinutes(minute));

    [Fact]
    public void A_full_report_seen_first_while_running_is_a_missed_start_dated_by_gcode_start_time()
    {
        var events = Accept(CreateSut(), Fixture("push_status-x1-full-running.json", 20));

        var start = events[0];
        Assert.Equal(EventKind.JobStarted, start.Kind);
        Assert.Equal((Serial, "bambu"), (start.Printer, start.Source));
        Assert.Equal("690732215/690732217", start.JobId);
        Assert.Equal("dragon_x4_plate_1", start.File);
        Assert.Equal(T0, start.Timestamp);
        var sample = events[1];
        Assert.Equal(("RUNNING", 18.0, 219.8, 220.0, 54.9, 55.0), (sample.State, sample.ProgressPercent, sample.NozzleCelsius, sample.NozzleTargetCelsius, sample.BedCelsius, sample.BedTargetCelsius));
        Assert.Equal(T0.AddMinutes(20), sample.Timestamp);
    }

    [Fact]
    public void A_P1_delta_is_merged_into_a_progress_sample()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("push_status-x1-full-running.json", 20));

        var e = Assert.Single(Accept(sut, Fixture("push_status-p1-delta.json", 30)));

        Assert.Equal((EventKind.JobProgress, 37.0, 219.9), (e.Kind, e.ProgressPercent, e.NozzleCelsius));
        Assert.Null(e.State);
    }

    [Fact]
    public void Finish_completes_the_job_with_unknown_filament()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("push_status-x1-full-running.json", 20));

        var end = Accept(sut, Fixture("push_status-finish.json", 80))[0];

        Assert.Equal((EventKind.JobFinished, JobOutcome.Completed), (end.Kind, end.Outcome!.Value));
        Assert.Equal(("690732215/690732217", "dragon_x4_plate_1"), (end.JobId, end.File));
        Assert.Equal(FilamentSource.Unknown, end.FilamentSource);
        Assert.Null(end.FilamentMillimetres);
    }

    [Fact]
    public void Failed_after_print_error_50348044_is_a_cancel()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("push_status-x1-full-running.json", 20));
        Assert.Empty(Accept(sut, Fixture("push_status-cancel-error.json", 40)));

        var end = Accept(sut, Fixture("push_status-failed.json", 40))[0];

        Assert.Equal(JobOutcome.Cancelled, end.Outcome);
    }

    [Fact]
    public void Failed_with_any_other_error_is_a_failure()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("push_status-x1-full-running.json", 20));

        var end = Accept(sut, Print("""{"print":{"command":"push_status","gcode_state":"FAILED","print_error":117473284}}""", 40))[0];

        Assert.Equal(JobOutcome.Failed, end.Outcome);
    }

    [Fact]
    public void Idle_at_start_up_and_idle_after_finish_end_nothing()
    {
        var sut = CreateSut();

        Assert.DoesNotContain(Accept(sut, Fixture("push_status-idle.json")), e => e.Kind == EventKind.JobFinished);
        Accept(sut, Fixture("push_status-x1-full-running.json", 20));
        Accept(sut, Fixture("push_status-finish.json", 80));
        Assert.DoesNotContain(Accept(sut, Fixture("push_status-idle.json", 90)), e => e.Kind == EventKind.JobFinished);
    }

    [Fact]
    public void A_payload_that_is_not_UTF8_is_read_as_Latin1()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("push_status-idle.json"));

        var start = Accept(sut, Fixture("push_status-latin1-subtask.bin", 1))[0];

        Assert.Equal(EventKind.JobStarted, start.Kind);
        Assert.Equal("Drachenbär_x2", start.File);
        Assert.Equal("Drachenbär_x2@1767600060", start.JobId);
    }

    [Theory]
    [InlineData("info-get_version.json")]
    [InlineData("print-command-reply.json")]
    public void Other_report_types_are_accepted_and_ignored(string file)
    {
        var sut = CreateSut();

        Assert.Empty(Accept(sut, Fixture(file)));
        Assert.Null(sut.SaveState());
    }

    [Fact]
    public void A_serial_can_be_given_a_printer_name()
    {
        var e = Accept(CreateSut(new() { [Serial] = "bambu-3" }), Fixture("push_status-x1-full-running.json"))[0];

        Assert.Equal("bambu-3", e.Printer);
    }

    [Fact]
    public void Cloud_presence_events_mark_the_printer_online_or_offline()
    {
        var sut = CreateSut();

        var on = Assert.Single(Accept(sut, Print("""{"event":{"event":"client.connected","disconnect_reason":""}}""", 0)));
        var off = Assert.Single(Accept(sut, Print("""{"event":{"event":"client.disconnected"}}""", 1)));

        Assert.Equal((true, false), (on.Online, off.Online));
    }

    [Theory]
    [InlineData("""{"print":{"command":"push_status","gcode_state":5}}""", RejectReasons.InvalidField)]
    [InlineData("""{"print":{"command":"push_status","mc_percent":250}}""", RejectReasons.InvalidField)]
    [InlineData("""{"print":{"command":"push_status","gcode_start_time":"yesterday"}}""", RejectReasons.InvalidField)]
    [InlineData("""{"print":{"command":"push_status","nozzle_temper":"hot"}}""", RejectReasons.InvalidField)]
    [InlineData("""{"print":"RUNNING"}""", RejectReasons.InvalidField)]
    [InlineData("""{"print":{"command":"push_status",""", RejectReasons.InvalidJson)]
    [InlineData("RUNNING", RejectReasons.InvalidJson)]
    public void Bad_payloads_are_rejected_with_a_reason_and_change_nothing(string payload, string reason)
    {
        var sut = CreateSut();

        var result = Process(sut, Print(payload, 0), []);

        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
        Assert.Null(sut.SaveState());
    }

    [Fact]
    public void A_checkpoint_in_the_middle_of_a_job_still_ends_it_as_the_same_job()
    {
        var before = CreateSut();
        var started = Accept(before, Fixture("push_status-x1-full-running.json", 20))[0];
        Accept(before, Fixture("push_status-cancel-error.json", 40));

        var after = CreateSut();
        after.RestoreState(JsonNode.Parse(before.SaveState()!.ToJsonString())!);
        var end = Accept(after, Fixture("push_status-failed.json", 41))[0];

        Assert.Equal((started.JobId, JobOutcome.Cancelled), (end.JobId, end.Outcome!.Value));
    }
}
