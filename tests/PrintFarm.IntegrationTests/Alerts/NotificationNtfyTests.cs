using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Alerts;

/// <summary>
/// Notifications to an ntfy server (a real HTTP endpoint standing in for it), through the in-process worker and the
/// shared Mosquitto: a failure is sent at a higher priority than a finish, each once, with ntfy's JSON shape; the
/// counters count them.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class NotificationNtfyTests(ServicesFixture services)
{
    [Fact]
    public async Task A_failure_goes_to_ntfy_at_a_higher_priority_than_a_finish()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        await using var ntfy = WebhookReceiver.Start();
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Database"] = "ntfy_" + id;
        settings["PrintFarm:Notifications:Events"] = "all";
        settings["PrintFarm:Notifications:TopicPrefix"] = "ntfy-notify-" + id;
        settings["PrintFarm:Alerts:TopicPrefix"] = "ntfy-alerts-" + id;
        settings["PrintFarm:Alerts:Webhook:Url"] = ntfy.Url;
        settings["PrintFarm:Alerts:Webhook:Format"] = "ntfy";
        settings["PrintFarm:Alerts:Webhook:NtfyTopic"] = "farm-" + id;
        settings["PrintFarm:Adapters:OctoPrint:Enabled"] = "false";
        settings["PrintFarm:Adapters:Moonraker:Enabled"] = "false";
        settings["PrintFarm:Adapters:Bambu:Enabled"] = "false";
        await using var worker = await WorkerHost.StartAsync(settings);

        var ok = "ok-" + id;
        var bad = "bad-" + id;
        var start = new DateTimeOffset(2026, 3, 3, 9, 0, 0, TimeSpan.Zero);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (printer, outcome) in new[] { (ok, "completed"), (bad, "failed") })
            {
                await printers.PublishJsonAsync($"printfarm/{printer}/event", new { type = "job_started", ts = start.ToString("O"), job_id = printer, file = "frog.gcode", material = "PLA" });
                await printers.PublishJsonAsync($"printfarm/{printer}/event", new { type = "job_finished", ts = start.AddMinutes(40).ToString("O"), job_id = printer, outcome, filament_g = 30.0, print_time_s = 2400 });
            }
        }

        var posts = await Eventually.Until(() => Task.FromResult(ntfy.Requests.Where(r => r.Body.Contains(id, StringComparison.Ordinal)).ToList()), r => r.Count >= 2, "two ntfy publishes");
        var bodies = posts.Select(p => JsonDocument.Parse(p.Body).RootElement).ToList();
        Assert.All(bodies, b => Assert.Equal("farm-" + id, b.GetProperty("topic").GetString()));
        var finished = Assert.Single(bodies, b => b.GetProperty("title").GetString()!.Contains($"{ok} finished frog", StringComparison.Ordinal));
        var failed = Assert.Single(bodies, b => b.GetProperty("title").GetString()!.Contains($"{bad} failed frog", StringComparison.Ordinal));
        Assert.True(failed.GetProperty("priority").GetInt32() > finished.GetProperty("priority").GetInt32());
        Assert.Contains("failed frog (PLA) after 40 min", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("x", failed.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));

        // Counted: handed to delivery, and delivered by MQTT and webhook (the shared broker may carry other tests'
        // printers too, so at least ours; each of ours exactly once).
        await worker.WaitForCounterAsync("printfarm.notifications.deliveries[channel=webhook]", 2, TimeSpan.FromSeconds(10));
        await worker.WaitForCounterAsync("printfarm.notifications.deliveries[channel=mqtt]", 2, TimeSpan.FromSeconds(10));
        Assert.True(worker.Counter("printfarm.notifications[kind=failed]") >= 1);
        Assert.Equal(2, ntfy.Requests.Count(r => r.Body.Contains(id, StringComparison.Ordinal)));
    }
}
