using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

/// <summary>Log lines of the embedded broker's access control (issue 18 item 12); EventIds 500–549.</summary>
internal static partial class Log
{
    [LoggerMessage(500, LogLevel.Warning, "Embedded MQTT broker refused client '{ClientId}' (user '{User}') from {Remote}: {Reason} ({Suppressed} similar lines suppressed)")]
    public static partial void EmbeddedBrokerRefusedClient(ILogger logger, string clientId, string user, string remote, string reason, long suppressed);

    [LoggerMessage(501, LogLevel.Warning, "Embedded MQTT broker refused a publish by '{ClientId}' (user '{User}') on {Topic}: not under its own topics (docs/operations.md, Security) ({Suppressed} similar lines suppressed)")]
    public static partial void EmbeddedBrokerRefusedPublish(ILogger logger, string clientId, string user, string topic, long suppressed);

    [LoggerMessage(502, LogLevel.Warning, "Embedded MQTT broker refused a subscription of '{ClientId}' (user '{User}') to {Filter}: it reads topics that are not the client's own (docs/operations.md, Security) ({Suppressed} similar lines suppressed)")]
    public static partial void EmbeddedBrokerRefusedSubscribe(ILogger logger, string clientId, string user, string filter, long suppressed);
}
