using System.Text.Json;
using PrintFarm.IntegrationTests.Alerts;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18 item 8: alerts across a SIGKILL. The worker (a real process, real Mosquitto and InfluxDB) fires and
/// resolves an alert while the webhook answers 503, so both transitions wait in delivery; a checkpoint records them
/// in its outbox; SIGKILL; the restarted worker delivers them from the outbox. Nothing is lost, and every copy of a
/// transition (the MQTT message before the kill and after it, each webhook attempt) carries the same idempotency key.
/// Before: the transitions waited in memory outside the checkpoint, and the restart never delivered them.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class AlertReplayTests(ServicesFixture services)
{
    [Fact]
    public async Task Alerts_waiting_for_delivery_survive_a_SIGKILL_and_are_delivered_after_it_with_the_same_keys()
    {
        await using var broker = await MosquittoServer.StartAsync(); // its own: no retained message of another test holds the watermark back
        var id = Guid.NewGuid().ToString("N")[..8];
        var database = "alertkill_" + id;
        await services.Influx.CreateDatabaseAsync(database);
        var prefix = "kill-alerts-" + id;
        var trace = new AlertEndToEndTests.FallingPrinterTrace(prefix);
        await using var webhook = WebhookReceiver.Start();
        for (var i = 0; i < 1000; i++)
        {
            webhook.Statuses.Enqueue(503); // before the kill, the webhook never takes an alert
        }

        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "alert-kill-" + id);
        settings["PrintFarm__Alerts__TopicPrefix"] = prefix;
        settings["PrintFarm__Alerts__RetryDelay"] = "00:00:05";
        settings["PrintFarm__Alerts__Webhook__Url"] = webhook.Url;
        settings["PrintFarm__Adapters__OctoPrint__Enabled"] = "false";
        settings["PrintFarm__Adapters__Moonraker__Enabled"] = "false";
        settings["PrintFarm__Adapters__Bambu__Enabled"] = "false";
        var state = Path.Combine(settings["PrintFarm__DataFolder"], "checkpoint", "state.json");

        await using var dashboard = await TestSubscriber.SubscribeAsync(broker, prefix + "/#");
        await using var worker = await WorkerProcess.StartAsync(settings);
        var (before, after) = trace.Split(hours: 3);
        await using (var printers = await TestPublisher.ConnectAsync(broker))
        {
            foreach (var (topic, payload) in before)
            {
                await printers.PublishJsonAsync(topic, payload);
            }

            // A fresh worker judges only the newest closed window at its first evaluation: let it happen before the drop.
            await Eventually.Until(() => Task.FromResult(AlertEndToEndTests.FallingPrinterTrace.HasEvaluated(state)), e => e, "the worker's first alert evaluation");
            foreach (var (topic, payload) in after)
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        // Both transitions are in a checkpoint's outbox (the webhook has refused them so far).
        await Eventually.Until(
            () => Task.FromResult(Outbox(state)),
            o => o.Contains("Firing") && o.Contains("Resolved"),
            "a checkpoint whose alert outbox holds the firing and the resolved transition",
            timeout: TimeSpan.FromSeconds(90),
            describe: o => string.Join(", ", o) + "\n" + worker.Output);
        Assert.DoesNotContain(webhook.Requests, r => r.Status == 200);

        await worker.KillAsync();
        webhook.Statuses.Clear(); // from now on the webhook answers 200
        await worker.StartAgainAsync();

        var delivered = await Eventually.Until(
            () => Task.FromResult(webhook.Requests.Where(r => r.Status == 200).ToList()),
            r => r.Select(x => State(x.Body)).Distinct().Count() == 2,
            "the firing and the resolved transition delivered to the webhook after the restart",
            timeout: TimeSpan.FromSeconds(90),
            describe: r => string.Join("\n", r.Select(x => x.Body)) + "\n" + worker.Output);

        // None lost; every copy of one transition has one key, and the two transitions have two keys.
        var webhookKeys = webhook.Requests.GroupBy(r => State(r.Body)).ToDictionary(g => g.Key, g => g.Select(r => Key(r.Body)).Distinct().ToList());
        Assert.Equal(["firing", "resolved"], webhookKeys.Keys.Order());
        Assert.All(webhookKeys.Values, keys => Assert.Single(keys));
        Assert.NotEqual(webhookKeys["firing"][0], webhookKeys["resolved"][0]);

        var mqtt = dashboard.Messages.Where(m => !m.Retained).ToList();
        Assert.True(mqtt.Count >= 2, "both transitions over MQTT");
        Assert.All(mqtt, m => Assert.Equal(webhookKeys[State(m.Payload)][0], Key(m.Payload)));
    }

    private static List<string> Outbox(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.TryGetProperty("alert_outbox", out var outbox)
                ? outbox.EnumerateArray().Select(a => a.GetProperty("State").GetString()!).ToList()
                : [];
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return [];
        }
    }

    private static string State(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("state").GetString()!;
    }

    private static string Key(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("idempotency_key").GetString()!;
    }
}
