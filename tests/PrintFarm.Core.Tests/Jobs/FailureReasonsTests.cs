using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Tests.Ingestion;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Jobs;

/// <summary>The failure-reason mapping (docs/kpis.md, "Why prints fail") and each adapter's use of it.</summary>
public sealed class FailureReasonsTests
{
    [Theory]
    [InlineData(50348044L, FailureReason.OperatorCancel, "0300400C")]
    [InlineData(0x0500400EL, FailureReason.OperatorCancel, "0500400E")]
    [InlineData(0x03004006L, FailureReason.Clog, "03004006")]
    [InlineData(0x03008016L, FailureReason.Clog, "03008016")]
    [InlineData(0x03008003L, FailureReason.Spaghetti, "03008003")]
    [InlineData(0x03008007L, FailureReason.PowerLoss, "03008007")]
    [InlineData(0x07008011L, FailureReason.FilamentRunout, "07008011")]
    [InlineData(0x07018011L, FailureReason.FilamentRunout, "07018011")]
    [InlineData(0x05004037L, FailureReason.UserError, "05004037")]
    [InlineData(117473284L, FailureReason.Unknown, "07008004")]
    public void Bambu_codes_map_to_their_documented_reason_and_keep_the_code(long code, FailureReason expected, string hex)
    {
        var report = FailureReasons.FromBambu(code, null);
        Assert.Equal(expected, report.Reason);
        Assert.Equal("bambu print_error " + hex, report.Detail);
    }

    [Fact]
    public void Bambu_fail_reason_is_used_when_print_error_is_zero_or_absent()
    {
        Assert.Equal(FailureReason.OperatorCancel, FailureReasons.FromBambu(0, 50348044).Reason);
        Assert.Equal(FailureReason.Clog, FailureReasons.FromBambu(null, 0x03004006).Reason);
        Assert.Equal(new ReasonReport(FailureReason.Unknown, null), FailureReasons.FromBambu(0, 0));
    }

    [Theory]
    [InlineData("Filament runout detected on T0", FailureReason.FilamentRunout)]
    [InlineData("ERROR: nozzle CLOGGED, extruder skipping", FailureReason.Clog)]
    [InlineData("Obico: spaghetti detected", FailureReason.Spaghetti)]
    [InlineData("Resumed after power loss failed", FailureReason.PowerLoss)]
    [InlineData("first layer did not stick", FailureReason.Adhesion)]
    [InlineData("Heater extruder not heating at expected rate", FailureReason.Unknown)]
    public void Free_text_is_read_by_keywords_and_kept_as_the_detail(string text, FailureReason expected)
    {
        var report = FailureReasons.FromText(text);
        Assert.Equal(expected, report.Reason);
        Assert.Equal(text, report.Detail);
    }

    [Fact]
    public void Every_name_parses_back_to_its_reason_and_native_reason_accepts_names()
    {
        Assert.Equal(8, FailureReasons.All.Count);
        foreach (var reason in FailureReasons.All)
        {
            var name = FailureReasons.Name(reason);
            Assert.True(FailureReasons.TryParse(name, out var parsed));
            Assert.Equal(reason, parsed);
            Assert.True(FailureReasons.TryParse(name.ToUpperInvariant().Replace('_', '-'), out parsed));
            Assert.Equal(reason, parsed);
            Assert.Equal(new ReasonReport(reason, null), FailureReasons.FromNative(name));
        }

        Assert.False(FailureReasons.TryParse("bad luck", out _));
        Assert.Equal(new ReasonReport(FailureReason.Unknown, "bad luck"), FailureReasons.FromNative("bad luck"));
    }

    [Fact]
    public void Any_text_gives_a_reason_and_a_short_clean_detail()
    {
        var random = new Random(21);
        for (var i = 0; i < 2000; i++)
        {
            var chars = new char[random.Next(0, 600)];
            for (var c = 0; c < chars.Length; c++)
            {
                chars[c] = (char)random.Next(0, 0x3000);
            }

            var text = new string(chars);
            var report = FailureReasons.FromText(text);
            Assert.True(Enum.IsDefined(report.Reason));
            if (report.Detail is { } detail)
            {
                Assert.True(detail.Length <= FailureReasons.MaxDetailLength);
                Assert.DoesNotContain(detail, char.IsControl);
            }
            else
            {
                Assert.True(string.IsNullOrWhiteSpace(text));
            }
        }
    }

    [Fact]
    public void Completed_jobs_carry_no_reason_and_others_at_least_unknown()
    {
        Assert.Null(FailureReasons.ForOutcome(JobOutcome.Completed, FailureReason.Clog));
        Assert.Equal(FailureReason.Unknown, FailureReasons.ForOutcome(JobOutcome.Failed, null));
        Assert.Equal(FailureReason.Clog, FailureReasons.ForOutcome(JobOutcome.Cancelled, FailureReason.Clog));
    }

    [Fact]
    public void Bambu_trace_jobs_carry_the_reason_of_their_codes()
    {
        var farm = new Farm([new BambuAdapter(new BambuAdapterOptions { Printers = new() { ["01P00A391800001"] = "bambu-1" } })]);
        foreach (var (payload, minute) in Ingestion.Bambu.BambuLifecycleTests.Trace())
        {
            farm.Accept(Message("device/01P00A391800001/report", payload, T0.AddMinutes(minute)));
        }

        Assert.Equal(
            [(null, null), (FailureReason.OperatorCancel, "bambu print_error 0300400C"), (FailureReason.Unknown, "bambu print_error 07008004"), (null, null), (FailureReason.Unknown, null)],
            farm.Ended.Select(j => (j.Reason, j.ReasonDetail)).ToArray());
        var jobLines = farm.JobLines.ToArray();
        Assert.DoesNotContain("reason=", jobLines[0], StringComparison.Ordinal);
        Assert.Contains("reason=\"operator_cancel\",reason_detail=\"bambu print_error 0300400C\",reason_source=\"printer\"", jobLines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Moonraker_errors_are_read_from_the_klipper_message_and_cancels_are_the_operators()
    {
        var farm = new Farm([new MoonrakerAdapter()]);
        var minute = 0;
        void Status(object printStats) => farm.Accept(Message("k1/klipper/status", Json(new { eventtime = 3_052_000.0 + (++minute * 60), status = new { print_stats = printStats } }), T0.AddMinutes(minute)));

        Status(new { filename = "dragon.gcode", state = "printing", total_duration = 0.01, message = "" });
        Status(new { state = "error", print_duration = 600.0, total_duration = 700.0, filament_used = 900.0, message = "Filament runout on extruder" });
        Status(new { state = "standby", filename = "", message = "" });
        Status(new { filename = "boat.gcode", state = "printing", total_duration = 0.01 });
        Status(new { state = "cancelled", print_duration = 60.0, total_duration = 70.0 });
        Status(new { state = "standby", filename = "" });
        Status(new { filename = "cup.gcode", state = "printing", total_duration = 0.01 });
        Status(new { state = "error", message = "MCU 'mcu' shutdown: Timer too close" });

        Assert.Equal(
            [(JobOutcome.Failed, FailureReason.FilamentRunout, "Filament runout on extruder"), (JobOutcome.Cancelled, FailureReason.OperatorCancel, null), (JobOutcome.Failed, FailureReason.Unknown, "MCU 'mcu' shutdown: Timer too close")],
            farm.Ended.Select(j => (j.Outcome, j.Reason!.Value, j.ReasonDetail)).ToArray());
    }

    [Fact]
    public void OctoPrint_cancels_name_who_cancelled_and_errors_are_read_from_their_text()
    {
        var farm = new Farm([new OctoPrintAdapter()]);
        void Event(string name, object payload) => farm.Accept(Message("octoPrint/op1/event/" + name, Json(payload), T0));
        var s = T0.ToUnixTimeSeconds();

        Event("PrintStarted", new { name = "castle.gcode", path = "castle.gcode", origin = "local", user = "alice", _timestamp = s });
        Event("PrintCancelled", new { name = "castle.gcode", path = "castle.gcode", origin = "local", user = "bob", time = 60.0, progress = 10, _timestamp = s + 60 });
        Event("PrintFailed", new { name = "castle.gcode", path = "castle.gcode", origin = "local", user = "bob", time = 60.0, reason = "cancelled", _timestamp = s + 60 });
        Event("PrintStarted", new { name = "boat.gcode", path = "boat.gcode", origin = "local", _timestamp = s + 100 });
        Event("PrintFailed", new { name = "boat.gcode", path = "boat.gcode", origin = "local", time = 50.0, reason = "error", error = "Nozzle clog suspected: extruder skipping", progress = 0.2, _timestamp = s + 150 });

        Assert.Equal(
            [(JobOutcome.Cancelled, FailureReason.OperatorCancel, "cancelled by bob"), (JobOutcome.Failed, FailureReason.Clog, "Nozzle clog suspected: extruder skipping")],
            farm.Ended.Select(j => (j.Outcome, j.Reason!.Value, j.ReasonDetail)).ToArray());
    }

    [Fact]
    public void Native_reason_is_a_taxonomy_name_or_free_text_and_a_completed_job_ignores_it()
    {
        var farm = new Farm([new NativeAdapter()]);
        void Send(string json) => farm.Accept(new("printfarm/p1/event", Encoding.UTF8.GetBytes(json), false, T0.AddHours(1)));

        Send("""{"type":"job_finished","ts":"2026-01-05T08:10:00Z","job_id":"a","file":"cat.gcode","outcome":"failed","reason":"spaghetti"}""");
        Send("""{"type":"job_finished","ts":"2026-01-05T08:20:00Z","job_id":"b","file":"cat.gcode","outcome":"cancelled","reason":"bed was dirty"}""");
        Send("""{"type":"job_finished","ts":"2026-01-05T08:30:00Z","job_id":"c","file":"cat.gcode","outcome":"completed","reason":"clog"}""");

        Assert.Equal(
            [(FailureReason.Spaghetti, null), (FailureReason.Unknown, "bed was dirty"), ((FailureReason?)null, (string?)null)],
            farm.Ended.Select(j => (j.Reason, j.ReasonDetail)).ToArray());
    }
}
