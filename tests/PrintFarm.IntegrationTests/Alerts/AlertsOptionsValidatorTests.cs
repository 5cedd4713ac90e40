using PrintFarm.Worker.Configuration;

namespace PrintFarm.IntegrationTests.Alerts;

public sealed class AlertsOptionsValidatorTests
{
    private static List<string> Validate(Action<PrintFarmOptions> change)
    {
        var options = new PrintFarmOptions { Influx = { Bucket = "b" } };
        change(options);
        var result = new PrintFarmOptionsValidator().Validate(null, options);
        return result.Failed ? result.Failures.ToList() : [];
    }

    [Fact]
    public void The_defaults_are_valid_with_and_without_a_webhook()
    {
        Assert.Empty(Validate(_ => { }));
        Assert.Empty(Validate(o => o.Alerts.Webhook.Url = "https://hooks.example.com/T000/B000"));
        Assert.Empty(Validate(o => (o.Alerts.Webhook.Url, o.Alerts.Webhook.Format, o.Alerts.Webhook.NtfyTopic) = ("http://ntfy.local", "ntfy", "farm")));
    }

    [Fact]
    public void Notification_settings_are_checked_at_start_with_the_full_key_and_the_allowed_kinds()
    {
        Assert.Empty(Validate(o => o.Notifications.Events = "finished, failed,offline"));
        var errors = Validate(o =>
        {
            o.Notifications.Events = "finished,done";
            o.Notifications.MaxPerInterval = 0;
            o.Notifications.TopicPrefix = o.Alerts.TopicPrefix;
        });

        Assert.Contains("PrintFarm:Notifications:Events is 'finished,done': 'done' is not a kind; allowed: finished, failed, cancelled, offline, online or all, comma-separated (empty for none)", errors);
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Notifications:MaxPerInterval is '0'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Notifications:TopicPrefix is 'printfarm/alerts': must differ from PrintFarm:Alerts:TopicPrefix", StringComparison.Ordinal));
    }

    [Fact]
    public void Bad_rule_settings_are_named_with_their_full_key()
    {
        var errors = Validate(o =>
        {
            o.Alerts.Rules.EfficiencyDropPoints = 0;
            o.Alerts.Rules.RecentRange = TimeSpan.FromMinutes(90);
            o.Alerts.Rules.StoppedReportingAfter = TimeSpan.FromMinutes(-1);
        });

        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:Rules:EfficiencyDropPoints is '0': must be between 0 and 100", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:Rules:RecentRange is '01:30:00': must be a whole number of windows", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:Rules:StoppedReportingAfter", StringComparison.Ordinal));
    }

    [Fact]
    public void The_rules_need_their_window_among_the_configured_windows_unless_alerts_are_off()
    {
        Assert.Contains(Validate(o => o.Windows.AddRange(["15m", "1d"])), e => e.StartsWith("PrintFarm:Alerts:Rules:Window is '1h'", StringComparison.Ordinal));
        Assert.Empty(Validate(o =>
        {
            o.Windows.AddRange(["15m", "1d"]);
            o.Alerts.Rules.Enabled = false;
        }));
        Assert.Empty(Validate(o =>
        {
            o.Windows.AddRange(["15m", "1d"]);
            o.Alerts.Rules.Window = "15m";
        }));
    }

    [Fact]
    public void Bad_delivery_settings_are_refused()
    {
        var errors = Validate(o =>
        {
            o.Alerts.TopicPrefix = "printfarm/#";
            o.Alerts.ClientId = o.Mqtt.ClientId;
            o.Alerts.Webhook.Url = "ftp://example.com";
            o.Alerts.Webhook.Format = "teams";
        });

        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:TopicPrefix is 'printfarm/#'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:ClientId", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:Webhook:Url is 'ftp://example.com'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Alerts:Webhook:Format is 'teams': must be one of generic, slack, discord, ntfy", StringComparison.Ordinal));
        Assert.Contains(Validate(o => (o.Alerts.Webhook.Url, o.Alerts.Webhook.Format) = ("http://ntfy.local", "ntfy")), e => e.StartsWith("PrintFarm:Alerts:Webhook:NtfyTopic", StringComparison.Ordinal));
    }
}
