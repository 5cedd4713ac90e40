using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// InfluxDB answers: refusals, API detection, Retry-After (issue 18 items 9-10, issue 19 item 4). EventIds 600-649.
internal static partial class Log
{
    [LoggerMessage(600, LogLevel.Error, "InfluxDB refuses the writes, not the data ({Status}): {Error}; {Hint}. {Batches} batches are kept in the spool and retried, next in {Delay}; /readyz fails until a write goes through")]
    public static partial void InfluxRefused(ILogger logger, string status, string error, string hint, int batches, TimeSpan delay);

    [LoggerMessage(601, LogLevel.Information, "InfluxDB at {Server} is version {Version} (build {Build}): writing through {Endpoint} ({Setting})")]
    public static partial void InfluxApiChosen(ILogger logger, string server, string version, string build, string endpoint, string setting);

    [LoggerMessage(602, LogLevel.Error, "InfluxDB {Version} at {Server} has no /api/v2/write (it came with 1.8), and PrintFarm:Influx:ApiVersion is v2: nothing can be written. Set PrintFarm:Influx:ApiVersion to v1 (or auto) and PrintFarm:Influx:Database; the data is kept in the spool meanwhile")]
    public static partial void InfluxApiMismatch(ILogger logger, string version, string server);

    [LoggerMessage(603, LogLevel.Warning, "InfluxDB asks to wait {RetryAfter} ({Status}): the batch of {Lines} lines goes to the spool, which is retried after that wait; the pipeline goes on")]
    public static partial void InfluxBackOff(ILogger logger, string status, TimeSpan retryAfter, int lines);
}
