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

    [LoggerMessage(4, LogLevel.Information, "Disconnected from MQTT broker {Host}:{Port}: the worker is stopping")]
    public static partial void MqttDisconnectedOnStop(ILogger logger, string host, int port);

    [LoggerMessage(10, LogLevel.Warning, "Rejected message on {Topic}: {Reason}: {Detail} (kept in the dead-letter store; {Suppressed} similar lines suppressed)")]
    public static partial void MessageRejected(ILogger logger, string topic, string reason, string detail, long suppressed);

    [LoggerMessage(11, LogLevel.Error, "Processing a message on {Topic} failed unexpectedly (kept in the dead-letter store; {Suppressed} similar lines suppressed)")]
    public static partial void ProcessingFailed(ILogger logger, Exception exception, string topic, long suppressed);

    [LoggerMessage(12, LogLevel.Error, "Could not write to the dead-letter store {Path}: message on {Topic} ({Reason}) is only in this log")]
    public static partial void DeadLetterFailed(ILogger logger, Exception exception, string path, string topic, string reason);

    [LoggerMessage(14, LogLevel.Information, "Dead letter of journal record {Sequence} on {Topic} ({Reason}) is already kept: a replay after a restart, not written again ({Suppressed} similar lines suppressed)")]
    public static partial void DeadLetterAlreadyKept(ILogger logger, long sequence, string topic, string reason, long suppressed);

    [LoggerMessage(15, LogLevel.Warning, "Dead-letter file {Path} ended in a partial line of {Bytes} bytes (a crash cut its write short): cut off; the journal replay writes that message again")]
    public static partial void DeadLetterTornLine(ILogger logger, string path, long bytes);

    [LoggerMessage(16, LogLevel.Error, "Dead letter of a message on {Topic} ({Reason}) not written: {Cause} ({Bytes} bytes kept, budget {Budget}; {Suppressed} similar lines suppressed)")]
    public static partial void DeadLetterRefused(ILogger logger, string topic, string reason, string cause, long bytes, long budget, long suppressed);

    [LoggerMessage(13, LogLevel.Warning, "Late job {JobId} on {Printer} ended at {End:O}, after its {Closed} KPI window closed (watermark {Watermark:O}): its job point is written; not counted in the {Closed} window, counted in: {Counted}")]
    public static partial void LateJob(ILogger logger, string jobId, string printer, DateTimeOffset end, string closed, DateTimeOffset? watermark, string counted);

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

    [LoggerMessage(26, LogLevel.Error, "Writing to the InfluxDB spool {Path} failed: {Lines} lines are held and retried every {Interval}; until then the pipeline waits and the journal keeps their messages")]
    public static partial void SpoolWriteFailed(ILogger logger, Exception exception, string path, int lines, TimeSpan interval);

    [LoggerMessage(30, LogLevel.Information, "Restored checkpoint {Path} saved at {SavedAt}: {OpenJobs} open jobs, {Series} KPI series, watermark {Watermark:O}")]
    public static partial void CheckpointRestored(ILogger logger, string path, string savedAt, int openJobs, int series, DateTimeOffset? watermark);

    [LoggerMessage(32, LogLevel.Error, "Writing the checkpoint {Path} failed; will retry at the next interval")]
    public static partial void CheckpointSaveFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(33, LogLevel.Warning, "Checkpoint held {Windows} KPI series of window sizes no longer configured; they were dropped")]
    public static partial void CheckpointWindowsDropped(ILogger logger, int windows);

    [LoggerMessage(40, LogLevel.Warning, "Journal segment {Path} ended in a partial write (a crash during a group commit): cut {Bytes} bytes after offset {Offset}; none of it had been acknowledged")]
    public static partial void JournalTruncated(ILogger logger, string path, long bytes, long offset);

    [LoggerMessage(41, LogLevel.Warning, "The checkpoint's journal position {Position} is not in the journal (kept {Start} to {End}); reading from there instead")]
    public static partial void JournalPositionMissing(ILogger logger, string position, string start, string end);

    [LoggerMessage(42, LogLevel.Warning, "Could not delete the journal segment {Path}; it is retried at the next checkpoint")]
    public static partial void JournalDeleteFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(43, LogLevel.Error, "Writing the journal in {Folder} failed: {Messages} messages are not acknowledged until it succeeds; retrying in {Delay} ({Suppressed} similar lines suppressed)")]
    public static partial void JournalWriteFailed(ILogger logger, Exception exception, string folder, int messages, TimeSpan delay, long suppressed);

    [LoggerMessage(44, LogLevel.Error, "The journal in {Folder} holds {Bytes} bytes, its limit is {MaxBytes}: the pipeline is behind; QoS 1 messages wait at the broker, QoS 0 messages are dropped and counted")]
    public static partial void JournalFull(ILogger logger, string folder, long bytes, long maxBytes);

    [LoggerMessage(45, LogLevel.Warning, "Could not acknowledge a journaled message ({Reason}): the broker will send it again ({Suppressed} similar lines suppressed)")]
    public static partial void JournalAckFailed(ILogger logger, string reason, long suppressed);

    [LoggerMessage(47, LogLevel.Warning, "QoS 0 message on {Topic} dropped: the journal is full ({Suppressed} similar lines suppressed)")]
    public static partial void JournalDroppedQos0(ILogger logger, string topic, long suppressed);

    [LoggerMessage(170, LogLevel.Warning, "PrintFarm:Mqtt:QueueCapacity is the older name of PrintFarm:Journal:GroupMessages (it sizes the journal's group commit); {Value} is used, rename the setting")]
    public static partial void QueueCapacityRenamed(ILogger logger, int value);

    [LoggerMessage(125, LogLevel.Warning, "A QoS {QoS} message on {Topic} arrived while the worker was stopping and was not journaled (QoS 1: the broker sends it again to the next session; QoS 0: lost) ({Suppressed} similar lines suppressed)")]
    public static partial void MessageAfterStop(ILogger logger, string topic, byte qoS, long suppressed);

    [LoggerMessage(48, LogLevel.Information, "Resuming {Log} at {Position}; {Backlog} to replay before live messages")]
    public static partial void LogResuming(ILogger logger, string log, string position, string backlog);

    [LoggerMessage(49, LogLevel.Error, "The {Loop} loop failed ({Reason}); it carries on after {Delay}")]
    public static partial void LoopFailed(ILogger logger, Exception exception, string loop, string reason, TimeSpan delay);

    [LoggerMessage(50, LogLevel.Warning, "The checkpoint was not written: lines produced before it were not yet in InfluxDB or the spool within {Timeout}; the journal keeps their messages for replay")]
    public static partial void CheckpointBarrierTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(60, LogLevel.Warning, "Alert {Rule} FIRING for {Scope} {Subject}: {Message}")]
    public static partial void AlertFiring(ILogger logger, string rule, string scope, string subject, string message);

    [LoggerMessage(61, LogLevel.Information, "Alert {Rule} resolved for {Scope} {Subject}: {Message}")]
    public static partial void AlertResolved(ILogger logger, string rule, string scope, string subject, string message);

    [LoggerMessage(62, LogLevel.Error, "Alert queue is full ({Capacity}): the {State} transition of {Rule} for {Scope} {Subject} is not published (it is logged here and in InfluxDB)")]
    public static partial void AlertDropped(ILogger logger, int capacity, string state, string rule, string scope, string subject);

    [LoggerMessage(63, LogLevel.Error, "Could not deliver alert {Rule} for {Scope} {Subject} by {Channel} after retries ({Reason}; {Suppressed} similar lines suppressed)")]
    public static partial void AlertDeliveryFailed(ILogger logger, string channel, string rule, string scope, string subject, string reason, long suppressed);

    [LoggerMessage(64, LogLevel.Information, "Alert publisher connected to MQTT broker {Host}:{Port} as {ClientId}; topics under {Prefix}")]
    public static partial void AlertPublisherConnected(ILogger logger, string host, int port, string clientId, string prefix);

    [LoggerMessage(65, LogLevel.Information, "Notification {Kind} for {Printer}: {Message} (key {Key})")]
    public static partial void Notification(ILogger logger, string kind, string printer, string message, string key);

    [LoggerMessage(66, LogLevel.Warning, "Notification {Kind} for {Printer}: {Message} (key {Key})")]
    public static partial void NotificationWarning(ILogger logger, string kind, string printer, string message, string key);

    [LoggerMessage(67, LogLevel.Error, "Alert queue is full ({Capacity}): the {Kind} notification for {Printer} is not published (it is only in this log): {Message}")]
    public static partial void NotificationDropped(ILogger logger, int capacity, string kind, string printer, string message);

    [LoggerMessage(68, LogLevel.Error, "Could not deliver {What} for {Subject} by {Channel} after retries ({Reason}; {Suppressed} similar lines suppressed)")]
    public static partial void DeliveryFailed(ILogger logger, string what, string subject, string channel, string reason, long suppressed);

    [LoggerMessage(69, LogLevel.Information, "{What} for {Subject} was already delivered by {Channel} before a restart (key {Key}): not sent again ({Suppressed} similar lines suppressed)")]
    public static partial void AlreadyDelivered(ILogger logger, string what, string subject, string channel, string key, long suppressed);

    [LoggerMessage(70, LogLevel.Warning, "Delivered-alerts log {Path} cannot be read or written ({Reason}): after a crash, an alert or notification delivered since the last checkpoint may be delivered again (same idempotency key)")]
    public static partial void DeliveredLogFailed(ILogger logger, string path, string reason);

    // --- Operations (issue 12) ---

    [LoggerMessage(120, LogLevel.Warning, "TLS server-name validation is OFF for the MQTT broker {Host} (PrintFarm:Mqtt:ValidateServerName=false): any certificate signed by the trusted CA is accepted")]
    public static partial void MqttServerNameNotValidated(ILogger logger, string host);

    [LoggerMessage(121, LogLevel.Warning, "More than {Cap} distinct {Kind} values (PrintFarm:Guards:Max{Setting}): '{Value}' and later new ones are written as 'other'")]
    public static partial void CardinalityCapReached(ILogger logger, string kind, int cap, string setting, string value);

    [LoggerMessage(122, LogLevel.Information, "Health endpoints listening on {Url} (/healthz, /readyz)")]
    public static partial void HealthListening(ILogger logger, string url);

    [LoggerMessage(123, LogLevel.Error, "Health endpoints could not start on {Address}:{Port} (PrintFarm:Health): {Reason}")]
    public static partial void HealthFailed(ILogger logger, string address, int port, string reason);

    [LoggerMessage(124, LogLevel.Warning, "Writing the ingest health point failed; will retry at the next interval")]
    public static partial void IngestPointFailed(ILogger logger, Exception exception);

    [LoggerMessage(90, LogLevel.Information, "Embedded MQTT broker listening on port {Port} ({Clients}); printers publish to this host")]
    public static partial void EmbeddedBrokerStarted(ILogger logger, int port, string clients);

    [LoggerMessage(91, LogLevel.Information, "Embedded MQTT broker stopped")]
    public static partial void EmbeddedBrokerStopped(ILogger logger);

    [LoggerMessage(93, LogLevel.Information, "PrintFarm Telemetry {Version}: broker {Broker}, database {Database}, farm '{Farm}', windows {Windows} ({TimeZone}), data folder {DataFolder}")]
    public static partial void Banner(ILogger logger, string version, string broker, string database, string farm, string windows, string timeZone, string dataFolder);

    [LoggerMessage(400, LogLevel.Information, "Alert outbox restored from the checkpoint: {Count} transitions not yet delivered are delivered again (same idempotency keys)")]
    public static partial void AlertOutboxRestored(ILogger logger, int count);

    [LoggerMessage(401, LogLevel.Error, "An alert in the checkpoint's outbox cannot be read and is not delivered ({Reason}); it is still in InfluxDB")]
    public static partial void AlertOutboxEntryInvalid(ILogger logger, string reason);
}
