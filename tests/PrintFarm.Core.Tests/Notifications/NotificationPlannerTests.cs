using System.Globalization;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Notifications;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Notifications;

/// <summary>The decisions behind the everyday-event notifications, through the whole pure pipeline (native messages in).</summary>
public sealed class NotificationPlannerTests
{
    private static readonly DateTimeOffset T0 = Some.Day.AddHours(8);

    private readonly ProcessorOutput _output = new();

    [Fact]
    public void A_finished_job_gives_one_finished_notification_with_toy_printer_print_time_and_filament()
    {
        var sut = CreateSut("finished,failed");
        Send(sut, Started("j1", T0, "dragon", 4), T0);
        Send(sut, Finished("j1", "completed", T0.AddMinutes(72), grams: 38.5, seconds: 4320), T0.AddMinutes(72));

        var n = Assert.Single(_output.Notifications);
        Assert.Equal((NotificationKind.Finished, "p1", "dragon", 4, "PLA", "j1"), (n.Kind, n.Printer, n.Toy, n.Quantity, n.Material, n.JobId));
        Assert.Equal(4320, n.PrintTimeSeconds);
        Assert.Equal(38.5, n.FilamentGrams);
        Assert.Equal(T0.AddMinutes(72), n.At);
        Assert.Null(n.Reason);
        Assert.Equal("Printer p1 finished 4 × dragon (PLA) in 1 h 12 min, 38.5 g of filament", n.Message);
    }

    [Fact]
    public void A_failed_job_says_how_far_it_got_and_what_the_printer_reported()
    {
        var sut = CreateSut("failed");
        Send(sut, Started("j1", T0, "vase"), T0);
        Send(sut, $$"""{"type":"job_progress","ts":"{{Ts(T0.AddMinutes(10))}}","job_id":"j1","progress_pct":45.0,"state":"printing"}""", T0.AddMinutes(10));
        Send(sut, $$"""{"type":"job_finished","ts":"{{Ts(T0.AddMinutes(22))}}","job_id":"j1","outcome":"failed","state":"error","print_time_s":1320}""", T0.AddMinutes(22));

        var n = Assert.Single(_output.Notifications);
        Assert.Equal(NotificationKind.Failed, n.Kind);
        Assert.Equal(45.0, n.ProgressPercent);
        Assert.Equal("the printer reported state 'error'", n.Reason);
        Assert.Null(n.FilamentGrams);
        Assert.Equal("Printer p1 failed vase (PLA) after 22 min at 45 %: the printer reported state 'error'; filament unknown", n.Message);
    }

    [Fact]
    public void A_job_replaced_by_a_new_start_is_cancelled_with_that_reason()
    {
        var sut = CreateSut("cancelled");
        Send(sut, Started("j1", T0), T0);
        Send(sut, Started("j2", T0.AddMinutes(30)), T0.AddMinutes(30));

        var n = Assert.Single(_output.Notifications);
        Assert.Equal((NotificationKind.Cancelled, "j1"), (n.Kind, n.JobId));
        Assert.Equal("a new job started before this one's end was reported", n.Reason);
    }

    [Fact]
    public void Kinds_not_configured_are_not_sent()
    {
        var sut = CreateSut("failed");
        Send(sut, Started("j1", T0), T0);
        Send(sut, Finished("j1", "completed", T0.AddMinutes(10)), T0.AddMinutes(10));
        Send(sut, Started("j2", T0.AddMinutes(11)), T0.AddMinutes(11));
        Send(sut, Finished("j2", "cancelled", T0.AddMinutes(12)), T0.AddMinutes(12));

        Assert.Empty(_output.Notifications);
        Assert.Equal(2, _output.EndedJobs.Count);
    }

    [Fact]
    public void A_printer_silent_with_a_job_open_goes_offline_once_and_its_next_message_brings_it_back()
    {
        var sut = CreateSut("offline,online");
        Send(sut, Started("j1", T0), T0);

        // Another printer keeps the receive clock going: p1 has been silent for 15 min at T0 + 15, and stays so.
        for (var m = 1; m <= 30; m++)
        {
            Send(sut, Started("q" + m, T0.AddMinutes(m)), T0.AddMinutes(m), printer: "p2");
        }

        var offline = Assert.Single(_output.Notifications);
        Assert.Equal((NotificationKind.Offline, "p1", T0.AddMinutes(15)), (offline.Kind, offline.Printer, offline.At));
        Assert.Equal(15, offline.SilentMinutes);
        _output.Clear();

        Send(sut, $$"""{"type":"job_progress","ts":"{{Ts(T0.AddMinutes(31))}}","job_id":"j1","progress_pct":80.0}""", T0.AddMinutes(31));
        var online = Assert.Single(_output.Notifications);
        Assert.Equal((NotificationKind.Online, "p1", 31.0), (online.Kind, online.Printer, online.SilentMinutes));
    }

    [Fact]
    public void A_presence_message_saying_disconnected_sends_offline_and_silence_afterwards_does_not_send_it_again()
    {
        var planner = new NotificationPlanner(new NotificationOptions { Events = "offline,online" });
        var output = new List<Notification>();
        var disconnected = new PrinterEvent { Kind = EventKind.Status, Printer = "op1", Source = "octoprint", Timestamp = T0, Online = false };
        planner.Apply(disconnected, T0, null, [], 0, [], 0, output);
        planner.Apply(disconnected, T0.AddSeconds(5), null, [], 0, [], 0, output); // a retained copy on reconnect
        var silence = new AlertTransition(AlertRuleNames.StoppedReporting, KpiScope.Printer, "op1", AlertState.Firing, T0.AddMinutes(15), 15, null, 15, "silent");
        planner.Apply(new PrinterEvent { Kind = EventKind.Status, Printer = "op2", Source = "octoprint", Timestamp = T0.AddMinutes(15), Online = true }, T0.AddMinutes(15), null, [], 0, [silence], 0, output);

        var offline = Assert.Single(output);
        Assert.Equal((NotificationKind.Offline, "op1", "presence message: disconnected"), (offline.Kind, offline.Printer, offline.Reason));

        planner.Apply(new PrinterEvent { Kind = EventKind.Status, Printer = "op1", Source = "octoprint", Timestamp = T0.AddMinutes(20), Online = true }, T0.AddMinutes(20), null, [], 0, [], 0, output);
        Assert.Equal([NotificationKind.Offline, NotificationKind.Online], output.Select(n => n.Kind));
        Assert.Equal(0, planner.OfflinePrinters);
    }

    [Fact]
    public void Over_the_limit_the_rest_of_an_interval_goes_out_as_one_digest_and_failures_are_counted_apart()
    {
        var sut = CreateSut("finished,failed", maxPerInterval: 3);
        var at = T0.AddSeconds(1);
        for (var i = 1; i <= 5; i++)
        {
            Send(sut, Started("j" + i, at), at, printer: "p" + i);
        }

        for (var i = 1; i <= 5; i++)
        {
            Send(sut, Finished("j" + i, "completed", at.AddSeconds(10 + i)), at.AddSeconds(10 + i), printer: "p" + i);
        }

        Send(sut, Started("f1", at.AddSeconds(20)), at.AddSeconds(20), printer: "p9");
        Send(sut, Finished("f1", "failed", at.AddSeconds(21)), at.AddSeconds(21), printer: "p9");
        Assert.Equal(["finished p1", "finished p2", "finished p3", "failed p9"], _output.Notifications.Select(n => n.KindName + " " + n.Printer));
        _output.Notifications.Clear();

        // The first message of the next minute sends the digest of the one before.
        Send(sut, Started("x", T0.AddMinutes(1).AddSeconds(2)), T0.AddMinutes(1).AddSeconds(2), printer: "p7");
        var digest = Assert.Single(_output.Notifications);
        Assert.True(digest.IsDigest);
        Assert.Equal((NotificationKind.Finished, 2, T0.AddMinutes(1)), (digest.Kind, digest.Count, digest.At));
        Assert.Equal(["p4", "p5"], digest.Printers);
        Assert.Equal("2 more jobs finished between 08:00:00 and 08:01:00 UTC than the 3 sent one by one: p4, p5", digest.Message);
    }

    [Fact]
    public void Replaying_from_a_checkpoint_gives_the_same_notifications_as_the_run_that_was_not_interrupted()
    {
        var messages = new List<(string Json, DateTimeOffset At, string Printer)>();
        for (var i = 0; i < 8; i++)
        {
            var printer = "p" + (i % 3);
            var start = T0.AddSeconds(20 * i);
            messages.Add((Started("j" + i, start), start, printer));
            messages.Add((Finished("j" + i, i % 4 == 3 ? "failed" : "completed", start.AddSeconds(15)), start.AddSeconds(15), printer));
        }

        var whole = CreateSut("all", maxPerInterval: 2);
        foreach (var (json, at, printer) in messages)
        {
            Send(whole, json, at, printer);
        }

        Send(whole, Started("last", T0.AddMinutes(5)), T0.AddMinutes(5), "p1");
        var expected = _output.Notifications.ToList();
        _output.Clear();

        // Stopped after 7 messages, mid-interval with notifications held for the digest, and restarted from a checkpoint.
        var first = CreateSut("all", maxPerInterval: 2);
        foreach (var (json, at, printer) in messages.Take(7))
        {
            Send(first, json, at, printer);
        }

        var checkpoint = first.SaveCheckpoint(T0);
        Assert.NotNull(checkpoint["notifications"]);
        var before = _output.Notifications.ToList();
        _output.Clear();
        var restarted = CreateSut("all", maxPerInterval: 2);
        restarted.RestoreCheckpoint(System.Text.Json.Nodes.JsonNode.Parse(checkpoint.ToJsonString())!.AsObject());
        foreach (var (json, at, printer) in messages.Skip(7))
        {
            Send(restarted, json, at, printer);
        }

        Send(restarted, Started("last", T0.AddMinutes(5)), T0.AddMinutes(5), "p1");
        Assert.Equal(expected, [.. before, .. _output.Notifications], new NotificationComparer());
        Assert.Contains(expected, n => n.IsDigest);
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("finished", true)]
    [InlineData(" Finished , FAILED ", true)]
    [InlineData("all", true)]
    public void Events_names_kinds_case_insensitively_and_empty_means_off(string events, bool enabled)
    {
        var options = new NotificationOptions { Events = events };
        Assert.Empty(options.Validate());
        Assert.Equal(enabled, options.Enabled);
    }

    [Fact]
    public void An_unknown_kind_is_refused_with_the_allowed_ones()
    {
        var error = Assert.Single(new NotificationOptions { Events = "finished,finshed,offlin" }.Validate());
        Assert.Equal("Events is 'finished,finshed,offlin': 'finshed', 'offlin' are not kinds; allowed: finished, failed, cancelled, offline, online or all, comma-separated (empty for none)", error);
        Assert.Throws<ArgumentException>(() => new NotificationPlanner(new NotificationOptions { Events = "done" }));
    }

    [Fact]
    public void All_turns_on_every_kind()
    {
        Assert.Equal(NotificationKinds.All.ToHashSet(), new NotificationOptions { Events = "all" }.EnabledKinds());
    }

    private static TelemetryProcessor CreateSut(string events, int maxPerInterval = 10) =>
        new(
            [new NativeAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(),
            new PointEncoder(Pipeline.Farm),
            alerts: new AlertEvaluator(new AlertRuleOptions(), TimeSpan.FromMinutes(10)))
        {
            Notifications = new NotificationPlanner(new NotificationOptions { Events = events, MaxPerInterval = maxPerInterval }),
        };

    private void Send(TelemetryProcessor sut, string json, DateTimeOffset receivedAt, string printer = Some.Printer)
    {
        var result = sut.Process(Pipeline.Message(json, receivedAt, printer), _output);
        Assert.True(result.Accepted, result.Detail);
    }

    private static string Started(string job, DateTimeOffset at, string toy = "cube", int quantity = 1) =>
        $$"""{"type":"job_started","ts":"{{Ts(at)}}","job_id":"{{job}}","file":"{{toy}}.gcode","toy":"{{toy}}","quantity":{{quantity}},"material":"PLA"}""";

    private static string Finished(string job, string outcome, DateTimeOffset at, double grams = 20, double seconds = 600) =>
        $$"""{"type":"job_finished","ts":"{{Ts(at)}}","job_id":"{{job}}","outcome":"{{outcome}}","filament_g":{{grams.ToString(CultureInfo.InvariantCulture)}},"print_time_s":{{seconds.ToString(CultureInfo.InvariantCulture)}}}""";

    private static string Ts(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);

    private sealed class NotificationComparer : IEqualityComparer<Notification>
    {
        public bool Equals(Notification? x, Notification? y) => x is not null && y is not null
            && (x.Kind, x.Printer, x.At, x.Message, x.JobId, x.Count) == (y.Kind, y.Printer, y.At, y.Message, y.JobId, y.Count);

        public int GetHashCode(Notification obj) => HashCode.Combine(obj.Kind, obj.Printer, obj.At);
    }
}
