using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Maintenance;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Kpis;

/// <summary>The timeline inside the processor: events and the maintenance topic in, <c>printer_time</c> and OEE fields out, checkpoints.</summary>
public sealed class TimelineProcessingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 7, 1, 8, 0, 0, TimeSpan.Zero);

    private static TelemetryProcessor CreateSut() => new(
        [new MaintenanceAdapter(), new NativeAdapter()],
        new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
        new KpiEngine(new KpiEngineOptions { Windows = [WindowSpec.Parse("1h")] }),
        new PointEncoder(Pipeline.Farm))
    {
        Timeline = new PrinterTimeline(new PrinterTimelineOptions { Windows = [WindowSpec.Parse("1h")] }),
    };

    private static string Ts(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);

    // One hour of p1: 10 min idle, 5 min maintenance, 40 min printing a 4-toy plate estimated at 36 min, 5 min awaiting bed clear.
    private static List<InboundMessage> Hour()
    {
        var m = new List<InboundMessage>();
        void Native(DateTimeOffset at, string json) => m.Add(new("printfarm/p1/event", Encoding.UTF8.GetBytes(json), false, at));
        Native(T0, $$"""{"type":"status","ts":"{{Ts(T0)}}","state":"idle"}""");
        m.Add(new("printfarm/maintenance/p1", Encoding.UTF8.GetBytes($$"""{"maintenance":true,"ts":"{{Ts(T0.AddMinutes(10))}}"}"""), true, T0.AddMinutes(10)));
        m.Add(new("printfarm/maintenance/p1", Encoding.UTF8.GetBytes($$"""{"maintenance":false,"ts":"{{Ts(T0.AddMinutes(15))}}"}"""), true, T0.AddMinutes(15)));
        Native(T0.AddMinutes(15), $$"""{"type":"job_started","ts":"{{Ts(T0.AddMinutes(15))}}","job_id":"j1","toy":"dragon","quantity":4,"estimated_time_s":2160}""");
        for (var i = 1; i < 4; i++)
        {
            Native(T0.AddMinutes(15 + (i * 10)), $$"""{"type":"job_progress","ts":"{{Ts(T0.AddMinutes(15 + (i * 10)))}}","job_id":"j1","progress":{{i * 25}}}""");
        }

        Native(T0.AddMinutes(55), $$"""{"type":"job_finished","ts":"{{Ts(T0.AddMinutes(55))}}","job_id":"j1","outcome":"completed","toy":"dragon","quantity":4,"print_time_s":2400,"estimated_time_s":2160}""");
        Native(T0.AddMinutes(70), $$"""{"type":"status","ts":"{{Ts(T0.AddMinutes(70))}}","state":"idle"}""");
        return m;
    }

    private static List<string> Run(TelemetryProcessor sut, IEnumerable<InboundMessage> messages)
    {
        var output = new ProcessorOutput();
        foreach (var message in messages)
        {
            Assert.True(sut.Process(message, output).Accepted);
        }

        sut.Flush(output);
        sut.Flush(output);
        return [.. output.Lines];
    }

    private static string Last(List<string> lines, string prefix, string? field = null) => lines.Last(l =>
        l.StartsWith(prefix, StringComparison.Ordinal)
        && l.Contains(T0.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        && (field is null || l.Contains(field, StringComparison.Ordinal)));

    private const string P1HourKpi = "kpi,farm=farm-a,printer=p1,scope=printer,window=1h ";

    [Fact]
    public void An_hour_of_a_printer_becomes_time_in_each_state_and_OEE_fields_on_its_kpi_series()
    {
        var lines = Run(CreateSut(), Hour());

        var time = Last(lines, "printer_time,farm=farm-a,printer=p1,scope=printer,window=1h ");
        Assert.Contains("printing_s=2400,", time, StringComparison.Ordinal);
        Assert.Contains("maintenance_s=300,", time, StringComparison.Ordinal);
        Assert.Contains("idle_s=600,", time, StringComparison.Ordinal);
        Assert.Contains("awaiting_bed_clear_s=300,", time, StringComparison.Ordinal);
        Assert.Contains("tracked_s=3600 ", time, StringComparison.Ordinal);

        // Availability 2400 / 3300, performance 2160 / 2400, quality 4 / 4.
        var oee = Last(lines, P1HourKpi, "availability=");
        Assert.Contains(FormattableString.Invariant($"oee={2400.0 / 3300 * 0.9 * 1.0:R}"), oee, StringComparison.Ordinal);
        Assert.Contains("quality=1,", oee, StringComparison.Ordinal);
        Assert.Contains("performance=0.9,", oee, StringComparison.Ordinal);
        Assert.Contains("printer_time,farm=farm-a,scope=farm,window=1h ", string.Join('\n', lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Each_flush_writes_the_OEE_fields_once_per_series_on_the_kpi_line_when_that_line_is_written_too()
    {
        var sut = CreateSut();
        var output = new ProcessorOutput();
        var merged = 0;
        foreach (var message in Hour())
        {
            Assert.True(sut.Process(message, output).Accepted);
            sut.Flush(output);

            // Per flush: at most one kpi line per series and time carries the OEE fields, and no series has its kpi
            // fields and its OEE fields on two lines.
            var kpiLines = output.Lines.Where(l => l.StartsWith("kpi,", StringComparison.Ordinal)).ToList();
            foreach (var series in kpiLines.GroupBy(l => l[..l.IndexOf(' ', StringComparison.Ordinal)] + l[l.LastIndexOf(' ')..]))
            {
                Assert.True(series.Count() == 1, string.Join('\n', series));
                if (series.Single().Contains("availability=", StringComparison.Ordinal) && series.Single().Contains("utilization=", StringComparison.Ordinal))
                {
                    merged++;
                }
            }

            output.Clear();
        }

        Assert.True(merged > 0, "no flush put the OEE fields on a kpi line");
    }

    [Fact]
    public void Checkpoint_and_restore_mid_hour_gives_the_same_lines_and_an_older_checkpoint_restores_empty()
    {
        var messages = Hour();
        var whole = Run(CreateSut(), messages);

        var first = CreateSut();
        Run(first, messages.Take(4));
        var checkpoint = first.SaveCheckpoint(T0);
        Assert.NotNull(checkpoint["timeline"]);
        var second = CreateSut();
        second.RestoreCheckpoint(JsonNode.Parse(checkpoint.ToJsonString())!.AsObject());
        var resumed = Run(second, messages.Skip(4));
        Assert.Equal(Last(whole, "printer_time,farm=farm-a,printer=p1,"), Last(resumed, "printer_time,farm=farm-a,printer=p1,"));
        Assert.Equal(Last(whole, P1HourKpi, "availability="), Last(resumed, P1HourKpi, "availability="));

        // Written before the timeline existed: no "timeline" property.
        var older = first.SaveCheckpoint(T0);
        older.Remove("timeline");
        var third = CreateSut();
        Run(third, messages.Take(2));
        third.RestoreCheckpoint(older);
        Assert.Equal(0, third.Timeline!.Printers);
    }

    [Theory]
    [InlineData("""{"maintenance":"yes","ts":"2026-07-01T08:00:00Z"}""", RejectReasons.InvalidField)]
    [InlineData("""{"maintenance":true}""", RejectReasons.MissingField)]
    [InlineData("""{"ts":"2026-07-01T08:00:00Z"}""", RejectReasons.MissingField)]
    [InlineData("on", RejectReasons.InvalidJson)]
    public void A_bad_maintenance_message_is_rejected_and_changes_nothing(string payload, string reason)
    {
        var sut = CreateSut();
        var result = sut.Process(new InboundMessage("printfarm/maintenance/p1", Encoding.UTF8.GetBytes(payload), false, T0), new ProcessorOutput());
        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
        Assert.Equal(0, sut.Timeline!.Printers);
    }
}
