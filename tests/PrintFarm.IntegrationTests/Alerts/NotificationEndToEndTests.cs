using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Alerts;

/// <summary>
/// Issue 19: notifications for the everyday events, end to end through the real worker process, a real Mosquitto and
/// a real HTTP endpoint. A finished and a failed job each give exactly one notification on MQTT (not retained, on
/// <c>{prefix}/{printer}/{kind}</c>) and one webhook POST, with the same idempotency key; after a SIGKILL the restarted
/// worker replays the journal (no checkpoint was taken), which brings both notifications back, and sends neither again.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class NotificationEndToEndTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_finished_and_a_failed_job_notify_once_each_on_MQTT_and_webhook_and_a_replay_after_SIGKILL_does_not_notify_again()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..8];
        var database = "notify_" + id;
        await services.Influx.CreateDatabaseAsync(database);
        var prefix = "notify-" + id;
        await using var webhook = WebhookReceiver.Start();

        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "notify-" + id);
        settings["PrintFarm__Notifications__Events"] = "finished,failed";
        settings["PrintFarm__Notifications__TopicPrefix"] = prefix;
        settings["PrintFarm__Alerts__TopicPrefix"] = prefix + "-alerts";
        settings["PrintFarm__Alerts__RetryDelay"] = "00:00:00.2";
        settings["PrintFarm__Alerts__Webhook__Url"] = webhook.Url;
        settings["PrintFarm__Adapters__OctoPrint__Enabled"] = "false";
        settings["PrintFarm__Adapters__Moonraker__Enabled"] = "false";
        settings["PrintFarm__Adapters__Bambu__Enabled"] = "false";

        // No checkpoint before the kill: the restart replays every message from the journal, notifications included.
        settings["PrintFarm__CheckpointInterval"] = "01:00:00";

        await using var phone = await TestSubscriber.SubscribeAsync(broker, prefix + "/#");
        await using var worker = await WorkerProcess.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(broker))
        {
            await Job(printers, "p1", "j1", "completed", 41.5, 3000);
            await Job(printers, "p2", "j2", "failed", 12.0, 900);
        }

        var mqtt = await Eventually.Until(
            () => Task.FromResult(phone.Messages),
            m => m.Count >= 2,
            "two notifications over MQTT",
            describe: m => string.Join("\n", m.Select(x => $"{x.Topic} {x.Payload}")) + "\n" + worker.Output);
        var posts = await Eventually.Until(
            () => Task.FromResult(webhook.Requests),
            r => r.Count >= 2,
            "two notifications to the webhook",
            describe: r => string.Join("\n", r.Select(x => x.Body)) + "\n" + worker.Output);

        Assert.Equal([$"{prefix}/p1/finished", $"{prefix}/p2/failed"], mqtt.Select(m => m.Topic).Order());
        Assert.All(mqtt, m => Assert.False(m.Retained));
        using (var finished = JsonDocument.Parse(mqtt.Single(m => m.Topic.EndsWith("/finished", StringComparison.Ordinal)).Payload))
        {
            var root = finished.RootElement;
            Assert.Equal(("finished", "p1", "dragon", "PLA", "j1"), (Text(root, "kind"), Text(root, "printer"), Text(root, "toy"), Text(root, "material"), Text(root, "job_id")));
            Assert.Equal(3000, root.GetProperty("print_time_s").GetDouble());
            Assert.Equal(41.5, root.GetProperty("filament_g").GetDouble());
            Assert.Equal(Start.AddMinutes(50), root.GetProperty("at").GetDateTimeOffset());
            Assert.Equal("test-farm", Text(root, "farm"));
        }

        Assert.Equal(["failed", "finished"], posts.Select(p => Kind(p.Body)).Order());
        Assert.All(posts, p => Assert.Equal(200, p.Status));
        Assert.Equal(mqtt.Select(m => Key(m.Payload)).Order(), posts.Select(p => Key(p.Body)).Order());
        using (var failed = JsonDocument.Parse(posts.Single(p => Kind(p.Body) == "failed").Body))
        {
            Assert.Contains("Printer p2 failed dragon", Text(failed.RootElement, "text"), StringComparison.Ordinal);
            Assert.Equal(50.0, failed.RootElement.GetProperty("progress_pct").GetDouble());
        }

        Assert.Single(worker.LinesContaining("Notification finished for p1"));
        Assert.Single(worker.LinesContaining("Notification failed for p2"));

        await worker.KillAsync();
        await worker.StartAgainAsync();

        // A third job after the restart: its notification is queued behind whatever the replay brought back, so once
        // it is delivered the replayed ones have been handled.
        await using (var printers = await TestPublisher.ConnectAsync(broker))
        {
            await Job(printers, "p3", "j3", "completed", 20, 600, offset: TimeSpan.FromMinutes(30));
        }

        await Eventually.Until(
            () => Task.FromResult(webhook.Requests),
            r => r.Any(x => Text(x.Body, "printer") == "p3"),
            "the notification of the job after the restart",
            describe: r => string.Join("\n", r.Select(x => x.Body)) + "\n" + worker.Output);
        await Eventually.Until(() => Task.FromResult(phone.Messages), m => m.Any(x => x.Topic == $"{prefix}/p3/finished"), "the MQTT notification of the job after the restart");

        // The replay did bring the first two back (the worker says so), and neither went out again.
        Assert.NotEmpty(worker.LinesContaining("was already delivered"));
        Assert.Equal(3, webhook.Requests.Count);
        Assert.Equal(3, phone.Messages.Count);
        Assert.Equal(3, webhook.Requests.Select(r => Key(r.Body)).Distinct().Count());
    }

    // A job of 50 minutes (or as given) on a printer: start, progress at half, end.
    private static async Task Job(TestPublisher printers, string printer, string job, string outcome, double grams, double seconds, TimeSpan offset = default)
    {
        var start = Start + offset;
        var topic = $"printfarm/{printer}/event";
        await printers.PublishJsonAsync(topic, new { type = "job_started", ts = start.ToString("O"), job_id = job, file = "dragon.gcode", toy = "dragon", material = "PLA" });
        await printers.PublishJsonAsync(topic, new { type = "job_progress", ts = start.AddMinutes(25).ToString("O"), job_id = job, progress_pct = 50.0, state = "printing" });
        await printers.PublishJsonAsync(topic, new { type = "job_finished", ts = start.AddMinutes(50).ToString("O"), job_id = job, outcome, filament_g = grams, print_time_s = seconds });
    }

    private static string? Text(JsonElement root, string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string? Text(string json, string name)
    {
        using var doc = JsonDocument.Parse(json);
        return Text(doc.RootElement, name);
    }

    private static string Kind(string json) => Text(json, "kind")!;

    private static string Key(string json) => Text(json, "idempotency_key")!;
}
