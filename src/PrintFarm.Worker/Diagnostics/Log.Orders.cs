using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// Orders and on-time delivery (issue 21, part 3). EventIds 940–959.
internal static partial class Log
{
    [LoggerMessage(940, LogLevel.Information, "Order {Id} received over HTTP ({Method}) and journaled as {Topic}")]
    public static partial void OrderHttpAccepted(ILogger logger, string id, string method, string topic);

    [LoggerMessage(941, LogLevel.Warning, "Order {Id} received over HTTP ({Method}) is rejected ({Reason}: {Detail}); it is journaled as {Topic} and kept as a dead letter ({Suppressed} similar lines held back)")]
    public static partial void OrderHttpRejected(ILogger logger, string id, string method, string topic, string reason, string detail, long suppressed);

    [LoggerMessage(942, LogLevel.Warning, "Order {Id} received over HTTP ({Method}) was not journaled ({Reason}); the caller is told to send it again")]
    public static partial void OrderHttpNotJournaled(ILogger logger, string id, string method, string reason);
}
