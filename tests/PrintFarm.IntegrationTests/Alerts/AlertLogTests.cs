using Microsoft.Extensions.DependencyInjection;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Alerts;

namespace PrintFarm.IntegrationTests.Alerts;

/// <summary>Issue 19 item 3: a farm-scope alert's log line names the farm (the demo's said "for farm :").</summary>
[Collection(ServicesCollection.Name)]
public sealed class AlertLogTests(ServicesFixture services)
{
    [Fact]
    public async Task A_farm_scope_alert_is_logged_with_the_farm_s_name()
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Farm"] = "north-hall";
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = "alertlog_" + Guid.NewGuid().ToString("N");
        settings["PrintFarm:Alerts:TopicPrefix"] = "alert-log-" + Guid.NewGuid().ToString("N")[..8];
        await using var worker = await WorkerHost.StartAsync(settings);
        var at = new DateTimeOffset(2026, 3, 2, 7, 0, 0, TimeSpan.Zero);

        worker.Host.Services.GetRequiredService<AlertQueue>().Enqueue(
        [
            new AlertTransition(AlertRuleNames.EfficiencyWarning, KpiScope.Farm, string.Empty, AlertState.Firing, at, 0.62, null, 0.7, "Material efficiency of the farm over the last 1 h is 62.0 %, below 70 %"),
        ]);

        var line = await Eventually.Until(
            () => Task.FromResult(worker.Logs.Entries.FirstOrDefault(e => e.Message.StartsWith("Alert efficiency_below_warning", StringComparison.Ordinal)).Message),
            m => m is not null,
            "the alert's log line");
        Assert.Contains("FIRING for farm north-hall:", line, StringComparison.Ordinal);
    }
}
