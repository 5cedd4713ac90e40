using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

/// <summary>Source-generated log messages of the worker, one place to read every line it can print.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Connected to MQTT broker {Host}:{Port} as {ClientId} (session present: {SessionPresent}); subscribed to {Filters}")]
    public static partial void MqttConnected(ILogger logger, string host, int port, string clientId, bool sessionPresent, string filters);

    [LoggerMessage(2, LogLevel.Warning, "MQTT connection to {Host}:{Port} failed ({Reason}); retrying in {Delay}")]
    public static partial void MqttConnectFailed(ILogger logger, string host, int port, string reason, TimeSpan delay);

    [LoggerMessage(3, LogLevel.Warning, "MQTT connection lost ({Reason}); reconnecting")]
    public static partial void MqttDisconnected(ILogger logger, string reason);

    [LoggerMessage(10, LogLevel.Warning, "Rejected message on {Topic}: {Reason}: {Detail} (kept in the dead-letter store; {Suppressed} similar lines suppressed)")]
    public static partial void MessageRejected(ILogger logger, string topic, string reason, string detail, long suppressed);

    [LoggerMessage(11, LogLevel.Error, "Processing a message on {Topic} failed unexpectedly (kept in the dead-letter store; {Suppressed} similar lines suppressed)")]
    public static partial void ProcessingFailed(ILogger logger, Exception exception, string topic, long suppressed);

    [LoggerMessage(12, LogLevel.Error, "Could not write to the dead-letter store {Path}: message on {Topic} ({Reason}) is only in this log")]
    public static partial void DeadLetterFailed(ILogger logger, Exception exception, string path, string topic, string reason);

    [LoggerMessage(13, LogLevel.Warning, "Late job {JobId} on {Printer} ended at {End:O}, after its KPI window closed (watermark {Watermark:O}); its job point is written, the window is not changed")]
    public static partial void LateJob(ILogger logger, string jobId, string printer, DateTimeOffset end, DateTimeOffset? watermark);

    [LoggerMessage(20, LogLevel.Warning, "InfluxDB write failed ({Status}): {Error}; {Batches} batches kept in the spool, retried every {Interval}")]
    public static partial void InfluxSpooled(ILogger logger, string status, string error, int batches, TimeSpan interval);

    [LoggerMessage(21, LogLevel.Error, "InfluxDB rejected a batch as bad data ({Status}): {Error}; {Lines} lines kept in {Path}")]
    public static partial void InfluxRejected(ILogger logger, string status, string error, int lines, string path);

    [LoggerMessage(22, LogLevel.Information, "InfluxDB reachable again: replayed {Batches} spooled batches")]
    public static partial void InfluxRecovered(ILogger logger, int batches);

    [LoggerMessage(23, LogLevel.Error, "InfluxDB spool is over its limit of {MaxBytes} bytes: dropped its oldest batch {File} ({Lines} lines)")]
    public static partial void SpoolFull(ILogger logger, long maxBytes, string file, int lines);

    [LoggerMessage(24, LogLevel.Warning, "InfluxDB answered 413 (request too large) for {Lines} lines: splitting the batch")]
    public static partial void InfluxSplitting(ILogger logger, int lines);

    [LoggerMessage(25, LogLevel.Information, "Found {Files} spooled batches from an earlier run: they will be replayed")]
    public static partial void SpoolFound(ILogger logger, int files);

    [LoggerMessage(26, LogLevel.Error, "Writing to the InfluxDB spool {Path} failed: {Lines} lines are lost")]
    public static partial void SpoolWriteFailed(ILogger logger, Exception exception, string path, int lines);

    [LoggerMessage(30, LogLevel.Information, "Restored checkpoint {Path} saved at {SavedAt}: {OpenJobs} open jobs, {Series} KPI series, watermark {Watermark:O}")]
    public static partial void CheckpointRestored(ILogger logger, string path, string savedAt, int openJobs, int series, DateTimeOffset? watermark);

    [LoggerMessage(31, LogLevel.Error, "Checkpoint {Path} cannot be used ({Reason}); moved to {Aside}, starting with empty state")]
    public static partial void CheckpointUnusable(ILogger logger, string path, string reason, string aside);

    [LoggerMessage(32, LogLevel.Error, "Writing the checkpoint {Path} failed; will retry at the next interval")]
    public static partial void CheckpointSaveFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(33, LogLevel.Warning, "Checkpoint held {Windows} KPI series of window sizes no longer configured; they were dropped")]
    public static partial void CheckpointWindowsDropped(ILogger logger, int windows);

    [LoggerMessage(90, LogLevel.Information, "Embedded MQTT broker listening on port {Port} ({Clients}); printers publish to this host")]
    public static partial void EmbeddedBrokerStarted(ILogger logger, int port, string clients);

    [LoggerMessage(91, LogLevel.Information, "Embedded MQTT broker stopped")]
    public static partial void EmbeddedBrokerStopped(ILogger logger);

    [LoggerMessage(92, LogLevel.Warning, "Embedded MQTT broker refused client {ClientId} (user '{User}'): bad user name or password")]
    public static partial void EmbeddedBrokerRefused(ILogger logger, string clientId, string user);

    [LoggerMessage(93, LogLevel.Information, "PrintFarm Telemetry {Version}: broker {Broker}, database {Database}, farm '{Farm}', windows {Windows} ({TimeZone}), data folder {DataFolder}")]
    public static partial void Banner(ILogger logger, string version, string broker, string database, string farm, string windows, string timeZone, string dataFolder);
}
