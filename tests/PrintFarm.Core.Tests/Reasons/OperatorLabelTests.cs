using System.Text;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Reasons;

/// <summary>Operator labels through the whole pure pipeline: the job's point again with new reason fields, and kpi_reason corrected.</summary>
public sealed class OperatorLabelTests
{
    private static readonly DateTimeOffset T0 = new(2024, 6, 1, 8, 0, 0, TimeSpan.Zero);

    private static TelemetryProcessor CreateSut()
    {
        var kpis = new KpiEngine();
        return new TelemetryProcessor(
            [new NativeAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            kpis,
            new PointEncoder(Pipeline.Farm))
        {
            Reasons = new ReasonTracker(kpis.Windows),
        };
    }

    private static ProcessorOutput FailJob(TelemetryProcessor sut, string jobId = "A-1", string reason = "ran out of filament")
    {
        var output = new ProcessorOutput();
        Ok(sut.Process(Pipeline.Message($$"""{"type":"job_started","ts":"{{T0:O}}","job_id":"{{jobId}}","toy":"dragon","quantity":2,"material":"pla"}""", T0), output));
        Ok(sut.Process(Pipeline.Message($$"""{"type":"job_finished","ts":"{{T0.AddMinutes(30):O}}","job_id":"{{jobId}}","outcome":"failed","toy":"dragon","quantity":2,"material":"pla","print_time_s":1800,"filament_g":40,"reason":"{{reason}}"}""", T0.AddMinutes(30)), output));
        return output;
    }

    private static AdapterResult Label(TelemetryProcessor sut, ProcessorOutput output, string body, string topic = "printfarm/labels/p1/A-1") =>
        sut.Process(new InboundMessage(topic, Encoding.UTF8.GetBytes(body), Retained: false, T0.AddHours(2)), output);

    private static void Ok(AdapterResult result) => Assert.True(result.Accepted, $"{result.Reason}: {result.Detail}");

    [Fact]
    public void A_label_writes_the_job_point_again_with_the_same_series_and_time_and_operator_as_source()
    {
        var sut = CreateSut();
        var ended = FailJob(sut);
        var original = Assert.Single(ended.Lines, l => l.StartsWith("job,", StringComparison.Ordinal));
        Assert.Contains("reason=\"filament_runout\"", original, StringComparison.Ordinal);
        Assert.Contains("printfarm/labels/#", sut.SubscriptionFilters);

        var output = new ProcessorOutput();
        Ok(Label(sut, output, """{"reason":"clog","note":"hotend jammed"}"""));
        var line = Assert.Single(output.Lines);

        // Same measurement, tags and timestamp: InfluxDB replaces the fields of that point.
        Assert.Equal(original[..original.IndexOf(' ', StringComparison.Ordinal)], line[..line.IndexOf(' ', StringComparison.Ordinal)]);
        Assert.Equal(original[original.LastIndexOf(' ')..], line[line.LastIndexOf(' ')..]);
        Assert.Contains("reason=\"clog\"", line, StringComparison.Ordinal);
        Assert.Contains("reason_detail=\"hotend jammed\"", line, StringComparison.Ordinal);
        Assert.Contains("reason_source=\"operator\"", line, StringComparison.Ordinal);
        Assert.Contains("job_id=\"A-1\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_moves_the_job_between_reasons_in_kpi_reason_and_a_replay_changes_nothing()
    {
        var sut = CreateSut();
        FailJob(sut);
        var output = new ProcessorOutput();
        sut.Flush(output);
        Assert.Contains(output.Lines, l => l.StartsWith("kpi_reason,farm=farm-a,reason=filament_runout,window=1h jobs=1i,filament_waste_g=40,toys_lost=2i,waste_share=1,quality_loss=1 ", StringComparison.Ordinal));

        output.Clear();
        Ok(Label(sut, output, """{"reason":"adhesion"}"""));
        var relabelled = Assert.Single(output.Lines);
        sut.Flush(output);
        var hour = output.Lines.Where(l => l.StartsWith("kpi_reason,", StringComparison.Ordinal) && l.Contains("window=1h", StringComparison.Ordinal)).ToList();
        Assert.Contains(hour, l => l.StartsWith("kpi_reason,farm=farm-a,reason=adhesion,window=1h jobs=1i,filament_waste_g=40,toys_lost=2i,waste_share=1,", StringComparison.Ordinal));
        Assert.Contains(hour, l => l.StartsWith("kpi_reason,farm=farm-a,reason=filament_runout,window=1h jobs=0i,filament_waste_g=0,toys_lost=0i,waste_share=0,", StringComparison.Ordinal));

        // The same label again (a replay after a restart, a QoS 1 redelivery): the same job point, no breakdown change.
        output.Clear();
        Ok(Label(sut, output, """{"reason":"adhesion"}"""));
        Assert.Equal(relabelled, Assert.Single(output.Lines));
        output.Clear();
        sut.Flush(output);
        Assert.DoesNotContain(output.Lines, l => l.StartsWith("kpi_reason,", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("printfarm/labels/p1/nope", """{"reason":"clog"}""", ReasonTracker.UnknownJob)]
    [InlineData("printfarm/labels/p9/A-1", """{"reason":"clog"}""", ReasonTracker.UnknownJob)]
    [InlineData("printfarm/labels/p1/A-1", """{"reason":"gremlins"}""", RejectReasons.InvalidField)]
    [InlineData("printfarm/labels/p1/A-1", """{"note":"x"}""", RejectReasons.MissingField)]
    [InlineData("printfarm/labels/p1/A-1", """{"reason":"clog","note":5}""", RejectReasons.InvalidField)]
    [InlineData("printfarm/labels/p1/A-1", "not json", RejectReasons.InvalidJson)]
    [InlineData("printfarm/labels/p1/A-1", "[1]", RejectReasons.InvalidJson)]
    [InlineData("printfarm/labels/p1", """{"reason":"clog"}""", RejectReasons.UnknownTopic)]
    public void A_bad_label_is_rejected_with_a_reason_and_changes_nothing(string topic, string body, string reason)
    {
        var sut = CreateSut();
        FailJob(sut);
        var before = sut.SaveCheckpoint(T0).ToJsonString();
        var output = new ProcessorOutput();
        var result = Label(sut, output, body, topic);
        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
        Assert.False(string.IsNullOrEmpty(result.Detail));
        Assert.Empty(output.Lines);
        Assert.Equal(before, sut.SaveCheckpoint(T0).ToJsonString());
    }

    [Fact]
    public void The_body_job_id_names_a_job_whose_id_cannot_be_a_topic_level()
    {
        var sut = CreateSut();
        FailJob(sut, jobId: "plate.gcode@1717228800+1800.5");
        var output = new ProcessorOutput();
        Ok(Label(sut, output, """{"reason":"clog","job_id":"plate.gcode@1717228800+1800.5"}""", "printfarm/labels/p1/by-body"));
        Assert.Contains("job_id=\"plate.gcode@1717228800+1800.5\"", Assert.Single(output.Lines), StringComparison.Ordinal);
        Assert.Equal(RejectReasons.InvalidField, Label(sut, output, """{"reason":"clog","job_id":7}""", "printfarm/labels/p1/by-body").Reason);
    }

    [Fact]
    public void A_completed_job_cannot_be_labelled()
    {
        var sut = CreateSut();
        var output = new ProcessorOutput();
        Ok(sut.Process(Pipeline.Message($$"""{"type":"job_finished","ts":"{{T0:O}}","job_id":"C-1","outcome":"completed","toy":"dragon","print_time_s":60,"filament_g":4}""", T0), output));
        Assert.Equal(ReasonTracker.UnknownJob, Label(sut, output, """{"reason":"clog"}""", "printfarm/labels/p1/C-1").Reason);
    }

    [Fact]
    public void Labels_survive_a_checkpoint_and_an_older_checkpoint_without_reasons_still_restores()
    {
        var sut = CreateSut();
        FailJob(sut);
        var output = new ProcessorOutput();
        Ok(Label(sut, output, """{"reason":"spaghetti"}"""));
        var checkpoint = sut.SaveCheckpoint(T0.AddHours(3));
        Assert.NotNull(checkpoint["reasons"]);

        var restored = CreateSut();
        restored.RestoreCheckpoint(System.Text.Json.Nodes.JsonNode.Parse(checkpoint.ToJsonString())!.AsObject());
        Assert.Equal(sut.SaveCheckpoint(T0).ToJsonString(), restored.SaveCheckpoint(T0).ToJsonString());
        output.Clear();
        restored.Flush(output);
        Assert.Contains(output.Lines, l => l.StartsWith("kpi_reason,farm=farm-a,reason=spaghetti,window=1h jobs=1i,", StringComparison.Ordinal));

        // A label after the restore still finds the job; one written before the restore is kept.
        output.Clear();
        Ok(Label(restored, output, """{"reason":"clog"}"""));
        Assert.Contains("reason=\"clog\"", Assert.Single(output.Lines), StringComparison.Ordinal);

        checkpoint.Remove("reasons");
        var older = CreateSut();
        older.RestoreCheckpoint(checkpoint);
        Assert.Equal(ReasonTracker.UnknownJob, Label(older, new ProcessorOutput(), """{"reason":"clog"}""").Reason);
    }

    [Fact]
    public void Jobs_older_than_the_label_horizon_are_forgotten()
    {
        var kpis = new KpiEngine();
        var sut = new TelemetryProcessor([new NativeAdapter()], new JobTracker(ToyNameRules.Default, MaterialCatalog.Default), kpis, new PointEncoder(Pipeline.Farm))
        {
            Reasons = new ReasonTracker(kpis.Windows, new ReasonTrackerOptions { LabelFor = TimeSpan.FromHours(1) }),
        };
        FailJob(sut);
        var output = new ProcessorOutput();
        var later = T0.AddHours(3);
        Ok(sut.Process(Pipeline.Message($$"""{"type":"status","ts":"{{later:O}}","state":"idle"}""", later), output));
        sut.Flush(output);
        Assert.Equal(0, sut.Reasons!.Jobs);
        Assert.Equal(ReasonTracker.UnknownJob, Label(sut, output, """{"reason":"clog"}""").Reason);
    }
}
