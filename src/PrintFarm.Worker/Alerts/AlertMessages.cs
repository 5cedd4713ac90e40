using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;

namespace PrintFarm.Worker.Alerts;

/// <summary>What an alert transition looks like on the wire: its MQTT topic, its JSON, and the webhook bodies.</summary>
internal static class AlertMessages
{
    /// <summary>
    /// <c>{prefix}/{rule}/{scope}/{subject}</c>; the farm's subject is the farm name. Characters MQTT gives a meaning
    /// in topics (<c>/</c>, <c>+</c>, <c>#</c>) are replaced by <c>_</c>, so one subject stays one level.
    /// </summary>
    public static string Topic(string prefix, string farm, AlertTransition alert) =>
        $"{prefix}/{alert.Rule}/{PointEncoder.ScopeName(alert.Scope)}/{Level(alert.Scope == KpiScope.Farm ? farm : alert.Subject)}";

    /// <summary>The MQTT 5 user property and HTTP header that carry <see cref="IdempotencyKey"/>.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>
    /// The transition's idempotency key: 32 hex digits of SHA-256 over farm, rule, scope, subject, state and the event
    /// time of the window judged. Nothing in it depends on when or how often it is delivered, so a retry and a replay
    /// after a crash carry the same key, and a receiver can drop duplicates by it.
    /// </summary>
    public static string IdempotencyKey(string farm, AlertTransition alert)
    {
        var identity = string.Join('\n', farm, alert.Rule, PointEncoder.ScopeName(alert.Scope), alert.Subject, alert.StateName, alert.At.UtcTicks.ToString(CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(identity)), 0, 16);
    }

    /// <summary>The alert as JSON: idempotency_key, rule, scope, subject, farm, state, at (ISO 8601 UTC), value, baseline, threshold, message.</summary>
    public static JsonObject Json(string farm, AlertTransition alert) => new()
    {
        ["idempotency_key"] = IdempotencyKey(farm, alert),
        ["rule"] = alert.Rule,
        ["scope"] = PointEncoder.ScopeName(alert.Scope),
        ["subject"] = alert.Scope == KpiScope.Farm ? farm : alert.Subject,
        ["farm"] = farm,
        ["state"] = alert.StateName,
        ["at"] = alert.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        ["value"] = alert.Value,
        ["baseline"] = alert.Baseline,
        ["threshold"] = alert.Threshold,
        ["message"] = alert.Message,
    };

    public static byte[] Payload(string farm, AlertTransition alert) => Encoding.UTF8.GetBytes(Json(farm, alert).ToJsonString());

    /// <summary>One line for chat: state, rule and the message.</summary>
    public static string Text(string farm, AlertTransition alert) =>
        $"[{farm}] {(alert.State == AlertState.Firing ? "FIRING" : "resolved")} {alert.Rule}: {alert.Message}";

    /// <summary>The webhook body in the configured format (see <see cref="WebhookOptions.Format"/>).</summary>
    public static string WebhookBody(WebhookOptions options, string farm, AlertTransition alert) => FormatWebhook(
        options,
        Text(farm, alert),
        $"{(alert.State == AlertState.Firing ? "FIRING" : "resolved")}: {alert.Rule} ({PointEncoder.ScopeName(alert.Scope)} {(alert.Scope == KpiScope.Farm ? farm : alert.Subject)})",
        alert.Message,
        alert.State == AlertState.Firing ? "warning" : "white_check_mark",
        alert.State == AlertState.Firing ? 4 : 3,
        () => Json(farm, alert));

    /// <summary>
    /// One webhook body for alerts and notifications alike: Slack's <c>text</c>, Discord's <c>content</c>, an ntfy JSON
    /// publish (title, message, an emoji tag, priority 1–5), or the generic payload with both chat fields added.
    /// </summary>
    internal static string FormatWebhook(WebhookOptions options, string text, string ntfyTitle, string message, string ntfyTag, int ntfyPriority, Func<JsonObject> generic)
    {
        JsonObject body;
        switch (options.Format.ToLowerInvariant())
        {
            case "slack":
                body = new JsonObject { ["text"] = text };
                break;
            case "discord":
                body = new JsonObject { ["content"] = text };
                break;
            case "ntfy":
                body = new JsonObject
                {
                    ["topic"] = options.NtfyTopic,
                    ["title"] = ntfyTitle,
                    ["message"] = message,
                    ["tags"] = new JsonArray(ntfyTag, "printfarm"),
                    ["priority"] = ntfyPriority,
                };
                break;
            default:
                body = generic();
                body["text"] = text;
                body["content"] = text;
                break;
        }

        return body.ToJsonString();
    }

    internal static string Level(string subject)
    {
        if (string.IsNullOrEmpty(subject))
        {
            return "_";
        }

        var chars = subject.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (chars[i] is '/' or '+' or '#' or '\0')
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }
}
