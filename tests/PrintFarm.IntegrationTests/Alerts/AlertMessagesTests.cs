using System.Text.Json;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.Worker.Alerts;

namespace PrintFarm.IntegrationTests.Alerts;

public sealed class AlertMessagesTests
{
    private static readonly AlertTransition Firing = new(
        AlertRuleNames.EfficiencyDrop, KpiScope.Toy, "dragon/large #2", AlertState.Firing, new DateTimeOffset(2026, 1, 12, 8, 0, 0, TimeSpan.Zero), 0.62, 0.95, 0.8, "Material efficiency of toy dragon/large #2 fell");

    [Fact]
    public void The_topic_has_one_level_per_part_and_names_the_farm_for_the_farm_scope()
    {
        Assert.Equal("printfarm/alerts/efficiency_drop/toy/dragon_large _2", AlertMessages.Topic("printfarm/alerts", "main", Firing));
        Assert.Equal("a/b/efficiency_drop/farm/main", AlertMessages.Topic("a/b", "main", Firing with { Scope = KpiScope.Farm, Subject = string.Empty }));
    }

    [Fact]
    public void The_json_carries_every_field_and_omits_nothing_for_a_missing_baseline()
    {
        using var doc = JsonDocument.Parse(AlertMessages.Payload("main", Firing with { Baseline = null }));
        var root = doc.RootElement;
        Assert.Equal(("efficiency_drop", "toy", "dragon/large #2", "main", "firing"), (root.GetProperty("rule").GetString(), root.GetProperty("scope").GetString(), root.GetProperty("subject").GetString(), root.GetProperty("farm").GetString(), root.GetProperty("state").GetString()));
        Assert.Equal(Firing.At, root.GetProperty("at").GetDateTimeOffset());
        Assert.Equal(0.62, root.GetProperty("value").GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("baseline").ValueKind);
        Assert.Equal(0.8, root.GetProperty("threshold").GetDouble());
        Assert.Equal(Firing.Message, root.GetProperty("message").GetString());
    }

    [Fact]
    public void The_idempotency_key_is_the_same_for_the_same_transition_and_differs_by_state_window_subject_and_farm()
    {
        var key = AlertMessages.IdempotencyKey("main", Firing);

        // A replay rebuilds the transition from the same messages: equal record, equal key (message text aside).
        Assert.Equal(key, AlertMessages.IdempotencyKey("main", Firing with { Message = "reworded", Value = 0.61 }));
        Assert.Matches("^[0-9a-f]{32}$", key);
        Assert.NotEqual(key, AlertMessages.IdempotencyKey("main", Firing with { State = AlertState.Resolved }));
        Assert.NotEqual(key, AlertMessages.IdempotencyKey("main", Firing with { At = Firing.At.AddHours(1) }));
        Assert.NotEqual(key, AlertMessages.IdempotencyKey("main", Firing with { Subject = "fox" }));
        Assert.NotEqual(key, AlertMessages.IdempotencyKey("other", Firing));
        using var doc = JsonDocument.Parse(AlertMessages.Payload("main", Firing));
        Assert.Equal(key, doc.RootElement.GetProperty("idempotency_key").GetString());
        using var body = JsonDocument.Parse(AlertMessages.WebhookBody(new WebhookOptions { Url = "http://hook" }, "main", Firing));
        Assert.Equal(key, body.RootElement.GetProperty("idempotency_key").GetString());
    }

    [Theory]
    [InlineData("generic", "text,content,rule,state,message")]
    [InlineData("slack", "text")]
    [InlineData("discord", "content")]
    [InlineData("ntfy", "topic,title,message,tags,priority")]
    public void The_webhook_body_has_the_fields_its_service_reads(string format, string fields)
    {
        var options = new WebhookOptions { Url = "http://hook", Format = format, NtfyTopic = "farm-alerts" };
        using var doc = JsonDocument.Parse(AlertMessages.WebhookBody(options, "main", Firing));
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.All(fields.Split(','), f => Assert.Contains(f, names));
        var text = doc.RootElement.TryGetProperty("text", out var t) ? t.GetString()
            : doc.RootElement.TryGetProperty("content", out var c) ? c.GetString()
            : doc.RootElement.GetProperty("message").GetString();
        Assert.Contains("dragon/large #2", text, StringComparison.Ordinal);
        if (format == "ntfy")
        {
            Assert.Equal("farm-alerts", doc.RootElement.GetProperty("topic").GetString());
            Assert.Equal(4, doc.RootElement.GetProperty("priority").GetInt32());
        }
    }
}
