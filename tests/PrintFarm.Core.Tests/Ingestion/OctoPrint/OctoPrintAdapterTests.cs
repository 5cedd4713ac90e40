using System.Text.Json.Nodes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.OctoPrint;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion.OctoPrint;

public sealed class OctoPrintAdapterTests
{
    private const string Base = "octoPrint/op1/";
    private const string Path = "toys/dragon_x4.gcode";

    private static OctoPrintAdapter CreateSut(OctoPrintAdapterOptions? options = null) => new(options);

    private static InboundMessage Fixture(string topic, string file, bool retained = false) =>
        Message(Base + topic, AdapterTestKit.Fixture("octoprint", file), T0.AddHours(2), retained);

    [Fact]
    public void PrintStarted_opens_a_job_keyed_by_path_and_start_timestamp()
    {
        var e = Assert.Single(Accept(CreateSut(), Fixture("event/PrintStarted", "event-PrintStarted.json")));

        Assert.Equal(EventKind.JobStarted, e.Kind);
        Assert.Equal("op1", e.Printer);
        Assert.Equal("octoprint", e.Source);
        Assert.Equal(Path + "@1767600000", e.JobId);
        Assert.Equal(Path, e.File);
        Assert.Equal(T0, e.Timestamp);
    }

    [Fact]
    public void A_legacy_PrintStarted_with_file_and_filename_opens_the_job_and_its_PrintDone_ends_it()
    {
        // OctoPrint before 1.3 sent {file: full path on disk, filename: name, origin} instead of {path, name}.
        var sut = CreateSut();
        var start = Assert.Single(Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted-legacy.json")));

        var end = Assert.Single(Accept(sut, Fixture("event/PrintDone", "event-PrintDone-legacy.json")));

        Assert.Equal((EventKind.JobStarted, "dragon_x4.gcode", "dragon_x4.gcode@1767600000"), (start.Kind, start.File, start.JobId));
        Assert.Equal((EventKind.JobFinished, JobOutcome.Completed, start.JobId, 3540.2), (end.Kind, end.Outcome!.Value, end.JobId, end.PrintTimeSeconds!.Value));
    }

    [Fact]
    public void A_file_name_with_a_line_break_is_kept_sanitized()
    {
        var sut = CreateSut();

        var e = Assert.Single(Accept(sut, Message(Base + "event/PrintStarted", """{"path":"toys/dragon\nx4.gcode","name":"dragon\nx4.gcode","origin":"local","_timestamp":1767600000}""", T0)));

        Assert.Equal("toys/dragon x4.gcode", e.File);
    }

    [Fact]
    public void PrintDone_completes_the_job_with_its_print_time_and_the_analysis_estimate_over_all_tools()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/MetadataAnalysisFinished", "event-MetadataAnalysisFinished.json"));
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));

        var e = Assert.Single(Accept(sut, Fixture("event/PrintDone", "event-PrintDone.json")));

        Assert.Equal(EventKind.JobFinished, e.Kind);
        Assert.Equal(JobOutcome.Completed, e.Outcome);
        Assert.Equal(Path + "@1767600000", e.JobId);
        Assert.Equal(3725.41, e.PrintTimeSeconds);
        Assert.Equal(10_000.0, e.FilamentMillimetres);
        Assert.Equal(FilamentSource.Estimated, e.FilamentSource);
        Assert.Equal(3600.5, e.EstimatedTimeSeconds);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1767603726), e.Timestamp);
    }

    [Fact]
    public void A_cancel_pair_is_one_cancelled_job_with_the_estimate_prorated_by_its_progress()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/MetadataAnalysisFinished", "event-MetadataAnalysisFinished.json"));
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));

        var cancelled = Assert.Single(Accept(sut, Fixture("event/PrintCancelled", "event-PrintCancelled.json")));
        var failed = Accept(sut, Fixture("event/PrintFailed", "event-PrintFailed-cancelled.json"));

        Assert.Empty(failed);
        Assert.Equal(JobOutcome.Cancelled, cancelled.Outcome);
        Assert.Equal(812.3, cancelled.PrintTimeSeconds);
        Assert.Equal(2300.0, cancelled.FilamentMillimetres!.Value, 6);
        Assert.Equal(FilamentSource.Prorated, cancelled.FilamentSource);
    }

    [Fact]
    public void A_PrintFailed_with_reason_cancelled_alone_still_cancels_the_open_job()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));

        var e = Assert.Single(Accept(sut, Fixture("event/PrintFailed", "event-PrintFailed-cancelled.json")));

        Assert.Equal(JobOutcome.Cancelled, e.Outcome);
        Assert.Empty(Accept(sut, Fixture("event/PrintCancelled", "event-PrintCancelled.json")));
    }

    [Fact]
    public void PrintFailed_with_reason_error_fails_the_job_reading_its_progress_as_a_fraction()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/MetadataAnalysisFinished", "event-MetadataAnalysisFinished.json"));
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));

        var e = Assert.Single(Accept(sut, Fixture("event/PrintFailed", "event-PrintFailed-error.json")));

        Assert.Equal(JobOutcome.Failed, e.Outcome);
        Assert.Equal(1500.0, e.PrintTimeSeconds);
        Assert.Equal(4000.0, e.FilamentMillimetres!.Value, 6);
        Assert.Equal(FilamentSource.Prorated, e.FilamentSource);
    }

    [Fact]
    public void A_failed_job_without_any_known_progress_has_unknown_filament()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/MetadataAnalysisFinished", "event-MetadataAnalysisFinished.json"));
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));

        var e = Assert.Single(Accept(sut, Message(Base + "event/PrintFailed", """{"path":"toys/dragon_x4.gcode","reason":"error","progress":-1,"time":null,"_timestamp":1767601000}""", T0.AddHours(1))));

        Assert.Equal(FilamentSource.Unknown, e.FilamentSource);
        Assert.Null(e.FilamentMillimetres);
        Assert.Equal(1000.0, e.PrintTimeSeconds);
    }

    [Fact]
    public void PrintPaused_and_PrintResumed_are_state_samples_not_job_boundaries()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));

        var paused = Assert.Single(Accept(sut, Fixture("event/PrintPaused", "event-PrintPaused.json")));
        var resumed = Assert.Single(Accept(sut, Fixture("event/PrintResumed", "event-PrintResumed.json")));

        Assert.Equal((EventKind.Status, "paused", 48.0), (paused.Kind, paused.State, paused.ProgressPercent));
        Assert.Equal((EventKind.Status, "printing"), (resumed.Kind, resumed.State));
    }

    [Fact]
    public void Progress_is_a_progress_sample_and_never_opens_a_job()
    {
        var e = Assert.Single(Accept(CreateSut(), Fixture("progress/printing", "progress-printing.json")));

        Assert.Equal(EventKind.JobProgress, e.Kind);
        Assert.Equal(23.0, e.ProgressPercent);
        Assert.Null(e.JobId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1767600900), e.Timestamp);
    }

    [Theory]
    [InlineData("progress-printing.json", true)]
    [InlineData("progress-reset.json", true)]
    [InlineData("progress-reset.json", false)]
    public void Retained_progress_and_the_startup_reset_produce_nothing(string file, bool retained)
    {
        Assert.Empty(Accept(CreateSut(), Fixture("progress/printing", file, retained)));
    }

    [Fact]
    public void Slicing_progress_is_accepted_and_ignored()
    {
        Assert.Empty(Accept(CreateSut(), Fixture("progress/slicing", "progress-slicing.json")));
    }

    [Fact]
    public void Printer_data_in_progress_messages_supplies_the_filament_estimate()
    {
        var sut = CreateSut();
        Accept(sut, Fixture("event/PrintStarted", "event-PrintStarted.json"));
        Accept(sut, Fixture("progress/printing", "progress-printing-printer-data.json"));

        var e = Assert.Single(Accept(sut, Fixture("event/PrintDone", "event-PrintDone.json")));

        Assert.Equal(10_000.0, e.FilamentMillimetres);
        Assert.Equal(FilamentSource.Estimated, e.FilamentSource);
    }

    [Fact]
    public void Temperatures_of_tool0_and_bed_become_nozzle_and_bed_samples()
    {
        var sut = CreateSut();

        var nozzle = Assert.Single(Accept(sut, Fixture("temperature/tool0", "temperature-tool0.json")));
        var bed = Assert.Single(Accept(sut, Fixture("temperature/bed", "temperature-bed.json")));

        Assert.Equal((214.8, 215.0), (nozzle.NozzleCelsius, nozzle.NozzleTargetCelsius));
        Assert.Null(nozzle.BedCelsius);
        Assert.Equal((59.6, 60.0), (bed.BedCelsius, bed.BedTargetCelsius));
        Assert.Empty(Accept(sut, Fixture("temperature/chamber", "temperature-chamber-null-target.json")));
    }

    [Theory]
    [InlineData("mqtt-connected.txt", true)]
    [InlineData("mqtt-disconnected.txt", false)]
    public void The_last_will_topic_is_presence_even_when_retained(string file, bool online)
    {
        var e = Assert.Single(Accept(CreateSut(), Fixture("mqtt", file, retained: true)));

        Assert.Equal(online, e.Online);
        Assert.Equal(T0.AddHours(2), e.Timestamp);
    }

    [Fact]
    public void Other_events_are_accepted_without_producing_anything()
    {
        Assert.Empty(Accept(CreateSut(), Fixture("event/ClientOpened", "event-ClientOpened.json")));
    }

    [Fact]
    public void A_single_printer_on_the_plugin_default_base_topic_maps_to_the_configured_printer()
    {
        var sut = CreateSut(new OctoPrintAdapterOptions { DefaultPrinter = "lonely" });

        var e = Assert.Single(Accept(sut, Message("octoPrint/event/PrintStarted", AdapterTestKit.Fixture("octoprint", "event-PrintStarted.json"), T0)));
        var presence = Assert.Single(Accept(sut, Message("octoPrint/mqtt", "connected", T0)));

        Assert.Equal("lonely", e.Printer);
        Assert.Equal("lonely", presence.Printer);
        Assert.Contains(sut.Topics, t => t.SubscriptionFilter == "octoPrint/event/+");
        Assert.Contains(sut.Topics, t => t.SubscriptionFilter == "octoPrint/+/event/+");
    }

    [Theory]
    [InlineData("event/PrintStarted", "not json", RejectReasons.InvalidJson)]
    [InlineData("event/PrintStarted", "[1,2]", RejectReasons.InvalidJson)]
    [InlineData("event/PrintStarted", """{"path":"a.gcode","_timestamp":"yesterday"}""", RejectReasons.InvalidField)]
    [InlineData("event/PrintStarted", """{"_timestamp":1767600000}""", RejectReasons.MissingField)]
    [InlineData("event/PrintDone", """{"path":"a.gcode","time":"long","_timestamp":1767600000}""", RejectReasons.InvalidField)]
    [InlineData("progress/printing", """{"path":"a.gcode","progress":140,"_timestamp":1767600000}""", RejectReasons.InvalidField)]
    [InlineData("temperature/tool0", """{"actual":"hot","_timestamp":1767600000}""", RejectReasons.InvalidField)]
    [InlineData("mqtt", "maybe", RejectReasons.InvalidField)]
    [InlineData("event/PrintDone", """{"path":"a.gcode","time":1e308,"_timestamp":1767600000}""", RejectReasons.InvalidField)]
    [InlineData("event/PrintStarted", """{"path":"a.gcode"} {}""", RejectReasons.InvalidJson)]
    public void Bad_payloads_are_rejected_with_a_reason(string topic, string payload, string reason)
    {
        var result = Process(CreateSut(), Message(Base + topic, payload, T0), []);

        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
    }

    [Theory]
    [InlineData("octoPrint/{printer}/event", "must contain the level {event}")]
    [InlineData("octoPrint/{printer}/event/{heater}", "must contain the level {event}")]
    public void A_pattern_without_its_type_placeholder_is_refused(string eventTopic, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => CreateSut(new OctoPrintAdapterOptions { EventTopic = eventTopic }));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_in_the_middle_of_a_job_restores_its_id_progress_and_estimate()
    {
        var before = CreateSut();
        Accept(before, Fixture("event/MetadataAnalysisFinished", "event-MetadataAnalysisFinished.json"));
        var started = Assert.Single(Accept(before, Fixture("event/PrintStarted", "event-PrintStarted.json")));
        Accept(before, Fixture("progress/printing", "progress-printing.json"));

        var saved = before.SaveState()!.ToJsonString();
        var after = CreateSut();
        after.RestoreState(JsonNode.Parse(saved)!);
        var ended = Assert.Single(Accept(after, Message(Base + "event/PrintCancelled", """{"path":"toys/dragon_x4.gcode","time":900.0,"_timestamp":1767600900}""", T0.AddHours(1))));

        Assert.Equal(started.JobId, ended.JobId);
        Assert.Equal(JobOutcome.Cancelled, ended.Outcome);
        Assert.Equal(2300.0, ended.FilamentMillimetres!.Value, 6);
        Assert.Equal(FilamentSource.Prorated, ended.FilamentSource);
    }

    [Fact]
    public void An_adapter_with_nothing_seen_saves_no_state()
    {
        Assert.Null(CreateSut().SaveState());
    }
}
