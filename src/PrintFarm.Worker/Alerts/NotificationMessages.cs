using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PrintFarm.Core.Notifications;

namespace PrintFarm.Worker.Alerts;

/// <summary>What a notification looks like on the wire: its MQTT topic, its JSON, and the webhook bodies.</summary>
internal static class NotificationMessages
{
    /// <summary>The printer level of a digest's topic (a digest stands for several printers).</summary>
    public const string DigestLevel = "_digest";

    /// <summary><c>{prefix}/{printer}/{kind}</c>, or <c>{prefix}/_digest/{kind}</c> for a digest; MQTT's <c>/</c>, <c>+</c>, <c>#</c> in a printer id become <c>_</c>.</summary>
    public static string Topic(string prefix, Notification n) => $"{prefix}/{(n.IsDigest ? DigestLevel : AlertMessages.Level(n.Printer))}/{n.KindName}";

    /// <summary>
    /// 32 hex digits of SHA-256 over farm, kind, printer, job id, event time and count: nothing that depends on when or
    /// how often it is delivered, so a retry and a replay after a crash carry the same key. Never equal to an alert's
    /// key (the identity starts with <c>notification</c>).
    /// </summary>
    public static string IdempotencyKey(string farm, Notification n)
    {
        var identity = string.Join('\n', "notification", farm, n.KindName, n.Printer, n.JobId ?? string.Empty, n.At.UtcTicks.ToString(CultureInfo.InvariantCulture), n.Count.ToString(CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(identity)), 0, 16);
    }

    /// <summary>The notification as JSON (docs/data-model.md, "Notifications"); fields that do not apply are null.</summary>
    public static JsonObject Json(string farm, Notification n) => new()
    {
        ["idempotency_key"] = IdempotencyKey(farm, n),
        ["kind"] = n.KindName,
        ["farm"] = farm,
        ["printer"] = n.IsDigest ? null : n.Printer,
        ["at"] = n.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        ["source"] = n.Source,
        ["job_id"] = n.JobId,
        ["toy"] = n.Toy,
        ["quantity"] = n.Quantity,
        ["material"] = n.Material,
        ["print_time_s"] = n.PrintTimeSeconds,
        ["filament_g"] = n.FilamentGrams,
        ["progress_pct"] = n.ProgressPercent,
        ["reason"] = n.Reason,
        ["silent_min"] = n.SilentMinutes,
        ["count"] = n.Count,
        ["printers"] = n.Printers is { } printers ? new JsonArray([.. printers.Select(p => (JsonNode?)p)]) : null,
        ["message"] = n.Message,
    };

    public static byte[] Payload(string farm, Notification n) => Encoding.UTF8.GetBytes(Json(farm, n).ToJsonString());

    /// <summary>One line for chat.</summary>
    public static string Text(string farm, Notification n) => $"[{farm}] {Title(n)}: {n.Message}";

    /// <summary>The webhook body in the configured format (see <see cref="WebhookOptions.Format"/>).</summary>
    public static string WebhookBody(WebhookOptions options, string farm, Notification n) =>
        AlertMessages.FormatWebhook(options, Text(farm, n), $"[{farm}] {Title(n)}", n.Message, Tag(n.Kind), Priority(n.Kind), () => Json(farm, n));

    /// <summary>
    /// ntfy priority (1 min … 5 max): a failure or a printer gone offline needs someone (4, high); a cancel is worth a
    /// look (3, default); a finished job or a printer back is news (2, low: no sound on most phones).
    /// </summary>
    public static int Priority(NotificationKind kind) => kind switch
    {
        NotificationKind.Failed or NotificationKind.Offline => 4,
        NotificationKind.Cancelled => 3,
        _ => 2,
    };

    // ntfy turns tags that are emoji short codes into emoji.
    private static string Tag(NotificationKind kind) => kind switch
    {
        NotificationKind.Finished => "white_check_mark",
        NotificationKind.Failed => "x",
        NotificationKind.Cancelled => "no_entry_sign",
        NotificationKind.Offline => "electric_plug",
        _ => "green_circle",
    };

    private static string Title(Notification n) => n.IsDigest
        ? $"{n.Count} more {n.KindName}"
        : n.Kind switch
        {
            NotificationKind.Finished or NotificationKind.Failed or NotificationKind.Cancelled => $"{n.Printer} {n.KindName} {n.Toy}",
            _ => $"{n.Printer} {n.KindName}",
        };
}
