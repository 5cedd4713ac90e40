using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Alerts;

/// <summary>Checks <c>PrintFarm:Alerts</c>; called by <see cref="PrintFarmOptionsValidator"/>.</summary>
internal static class AlertsOptionsValidator
{
    private const string P = PrintFarmOptions.SectionName + ":Alerts";

    public static readonly string[] Formats = ["generic", "slack", "discord", "ntfy"];

    public static void Validate(PrintFarmOptions o, List<string> errors)
    {
        var a = o.Alerts;
        void Check(bool ok, string key, string allowed, object? value)
        {
            if (!ok)
            {
                errors.Add($"{P}:{key} is '{SecretMasking.Value(key, value)}': {allowed}");
            }
        }

        if (a.Rules.Enabled)
        {
            var windows = o.Windows.Count > 0 ? o.Windows : ["1h", "1d"];
            errors.AddRange(a.Rules.Validate(windows).Select(e => $"{P}:Rules:{e}"));
        }

        Check(IsTopic(a.TopicPrefix), "TopicPrefix", "must be an MQTT topic without '+', '#', a leading or trailing '/' or line breaks", a.TopicPrefix);
        Check(a.EffectiveClientId(o.Mqtt.ClientId) != o.Mqtt.ClientId, "ClientId", "must differ from PrintFarm:Mqtt:ClientId (leave it empty for '<Mqtt:ClientId>-alerts')", a.ClientId);
        Check(a.QueueCapacity is >= 1 and <= 1_000_000, "QueueCapacity", "must be between 1 and 1000000", a.QueueCapacity);
        Check(a.MaxRetries is >= 0 and <= 100, "MaxRetries", "must be between 0 and 100", a.MaxRetries);
        Check(a.RetryDelay > TimeSpan.Zero && a.RetryDelay <= TimeSpan.FromMinutes(10), "RetryDelay", "must be between 00:00:00 (exclusive) and 00:10:00", a.RetryDelay);
        const string N = PrintFarmOptions.SectionName + ":Notifications";
        errors.AddRange(o.Notifications.Validate().Select(e => $"{N}:{e}"));
        if (string.Equals(o.Notifications.TopicPrefix, a.TopicPrefix, StringComparison.Ordinal))
        {
            errors.Add($"{N}:TopicPrefix is '{o.Notifications.TopicPrefix}': must differ from {P}:TopicPrefix (alerts are retained, notifications are not)");
        }

        var w = a.Webhook;
        if (w.Enabled)
        {
            Check(Uri.TryCreate(w.Url, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps), "Webhook:Url", "must be an absolute http:// or https:// URL, or empty for no webhook", w.Url);
            Check(Formats.Contains(w.Format, StringComparer.OrdinalIgnoreCase), "Webhook:Format", "must be one of " + string.Join(", ", Formats), w.Format);
            Check(!string.Equals(w.Format, "ntfy", StringComparison.OrdinalIgnoreCase) || !string.IsNullOrWhiteSpace(w.NtfyTopic), "Webhook:NtfyTopic", "is required with Webhook:Format ntfy", w.NtfyTopic);
            Check(w.Timeout > TimeSpan.Zero && w.Timeout <= TimeSpan.FromMinutes(5), "Webhook:Timeout", "must be between 00:00:00 (exclusive) and 00:05:00", w.Timeout);
        }
    }

    private static bool IsTopic(string? topic) =>
        !string.IsNullOrWhiteSpace(topic) && topic.AsSpan().IndexOfAny("+#\r\n") < 0 && !topic.StartsWith('/') && !topic.EndsWith('/');
}
