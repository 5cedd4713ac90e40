using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Notifications;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Alerts;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.IntegrationTests.Alerts;

/// <summary>
/// The two halves of "never twice": a notification survives the checkpoint's outbox beside alerts (written and read
/// back as itself, with the same key), and the delivered log, on disk, keeps across a restart and a compaction
/// exactly the deliveries a restart from that checkpoint can bring back.
/// </summary>
public sealed class NotificationOutboxTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrintFarmInstrumentation _metrics;
    private readonly IOptions<PrintFarmOptions> _options = Options.Create(new PrintFarmOptions { Farm = "farm-x", DataFolder = ServerProcess.NewFolder("notify-outbox") });

    public NotificationOutboxTests()
    {
        _metrics = new PrintFarmInstrumentation(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
    }

    [Fact]
    public void A_notification_in_the_outbox_is_restored_as_a_notification_with_the_same_key_and_alerts_beside_it_stay_alerts()
    {
        var at = new DateTimeOffset(2026, 3, 2, 9, 50, 0, TimeSpan.Zero);
        var failed = new Notification(NotificationKind.Failed, "mk4-02", at, "Printer mk4-02 failed dragon")
        {
            Source = "moonraker", JobId = "0002A1", Toy = "dragon", Quantity = 1, Material = "PETG", PrintTimeSeconds = 1320, FilamentGrams = 12.4, ProgressPercent = 45, Reason = "the printer reported state 'error'",
        };
        var digest = new Notification(NotificationKind.Finished, string.Empty, at, "3 more jobs finished") { Count = 3, Printers = ["a", "b"] };
        var alert = new AlertTransition(AlertRuleNames.StoppedReporting, KpiScope.Printer, "mk4-02", AlertState.Firing, at, 15, null, 15, "silent");
        var queue = new AlertQueue(_options, _metrics, NullLogger<AlertQueue>.Instance);
        queue.Enqueue([alert]);
        queue.Enqueue([failed, digest]);

        var outbox = JsonNode(queue.CaptureOutbox().ToJsonString());
        var restored = new AlertQueue(_options, _metrics, NullLogger<AlertQueue>.Instance);
        restored.RestoreOutbox(outbox);

        var items = new List<QueuedAlert>();
        while (restored.Reader.TryRead(out var item))
        {
            items.Add(item);
        }

        Assert.Equal(3, items.Count);
        Assert.Equal(alert, items[0].Alert);
        Assert.Equal(failed, items[1].Notification);
        Assert.Equal(NotificationMessages.IdempotencyKey("farm-x", failed), restored.KeyOf(items[1]));
        Assert.Equal((3, true), (items[2].Notification!.Count, items[2].Notification!.IsDigest));
        Assert.Equal(["a", "b"], items[2].Notification!.Printers!);
        Assert.Equal(queue.PendingKeys().Order(), restored.PendingKeys().Order());
    }

    [Fact]
    public void The_delivered_log_survives_a_restart_and_a_checkpoint_keeps_only_what_a_replay_from_it_can_bring_back()
    {
        var folders = new DataFolders(_options);
        using (var log = new DeliveredLog(folders, NullLogger<DeliveredLog>.Instance))
        {
            log.Record("before", "mqtt");
            log.Record("in-outbox", "mqtt");
            var mark = log.Mark(); // the checkpoint's capture
            log.Record("after", "webhook");
            log.Compact(mark, new HashSet<string> { "in-outbox" });
            Assert.False(log.Contains("before", "mqtt"));
            log.Record("later", "mqtt");
        }

        using var reopened = new DeliveredLog(folders, NullLogger<DeliveredLog>.Instance);
        Assert.True(reopened.Contains("in-outbox", "mqtt"));
        Assert.True(reopened.Contains("after", "webhook"));
        Assert.True(reopened.Contains("later", "mqtt"));
        Assert.False(reopened.Contains("after", "mqtt")); // per channel
        Assert.False(reopened.Contains("before", "mqtt"));
        Assert.Equal(3, reopened.Count);
    }

    private static System.Text.Json.Nodes.JsonNode JsonNode(string json) => System.Text.Json.Nodes.JsonNode.Parse(json)!;
}
