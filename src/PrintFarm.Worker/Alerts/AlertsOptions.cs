using PrintFarm.Core.Alerts;

namespace PrintFarm.Worker.Alerts;

/// <summary>
/// Settings under <c>PrintFarm:Alerts</c>: the built-in rules (<see cref="Rules"/>) and where their transitions go —
/// a retained MQTT message on <c>{TopicPrefix}/{rule}/{scope}/{subject}</c>, a log line, an <c>alert</c> point in
/// InfluxDB, and optionally a webhook.
/// </summary>
public sealed class AlertsOptions
{
    /// <summary>Rules and thresholds (<c>PrintFarm:Alerts:Rules</c>); every default is in <see cref="AlertRuleOptions"/>.</summary>
    public AlertRuleOptions Rules { get; set; } = new();

    /// <summary>First levels of the alert topics. Default <c>printfarm/alerts</c>.</summary>
    public string TopicPrefix { get; set; } = "printfarm/alerts";

    /// <summary>
    /// Client id of the alert publisher's own MQTT connection (the ingestion session is left alone). Default empty:
    /// <c>PrintFarm:Mqtt:ClientId</c> followed by <c>-alerts</c>, so every worker instance has its own.
    /// </summary>
    public string? ClientId { get; set; }

    /// <summary>The client id to use: <see cref="ClientId"/>, or the ingestion client id followed by <c>-alerts</c>.</summary>
    public string EffectiveClientId(string ingestionClientId) => string.IsNullOrWhiteSpace(ClientId) ? ingestionClientId + "-alerts" : ClientId;

    /// <summary>Publish alerts retained, so a dashboard or phone app sees each alert's current state on connect. Default true.</summary>
    public bool Retain { get; set; } = true;

    /// <summary>Transitions buffered between the pipeline and the publisher; past it new ones are dropped, counted and logged. Default 1000.</summary>
    public int QueueCapacity { get; set; } = 1000;

    /// <summary>Attempts after the first for an MQTT publish or a webhook POST (exponential back-off with jitter). Default 5.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>First retry delay, doubled each attempt; a webhook's <c>Retry-After</c> wins. Default 2 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Optional webhook, off while <see cref="WebhookOptions.Url"/> is empty.</summary>
    public WebhookOptions Webhook { get; set; } = new();
}

/// <summary>Settings under <c>PrintFarm:Alerts:Webhook</c>.</summary>
public sealed class WebhookOptions
{
    /// <summary>URL to POST each transition to; empty (the default) means no webhook.</summary>
    public string? Url { get; set; }

    /// <summary>
    /// Body shape: <c>generic</c> (the alert's JSON plus <c>text</c> and <c>content</c>, which Slack and Discord
    /// incoming webhooks read), <c>slack</c> (<c>{"text"}</c>), <c>discord</c> (<c>{"content"}</c>) or <c>ntfy</c>
    /// (ntfy's JSON publish: <c>topic</c>, <c>title</c>, <c>message</c>, <c>tags</c>, <c>priority</c>; POST to the server's
    /// root URL). Default <c>generic</c>.
    /// </summary>
    public string Format { get; set; } = "generic";

    /// <summary>ntfy topic, required with <c>Format = ntfy</c>.</summary>
    public string? NtfyTopic { get; set; }

    /// <summary>Timeout of one POST. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Optional <c>Authorization</c> header value (for example <c>Bearer tk_…</c> for ntfy).</summary>
    public string? Authorization { get; set; }

    /// <summary>True when a URL is set.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Url);
}
