using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// The clustered mode: JetStream partitions and their checkpoints in KV (issue 20). EventIds 980–999.
internal static partial class Log
{
    [LoggerMessage(980, LogLevel.Error, "The {Log} checkpoint needs sequence {Position} of stream {Stream}, but it holds nothing of the partition before {First}: those records were never processed; reading from {First}. Raise the stream's retention (docs/scale-out.md)")]
    public static partial void StreamPositionGone(ILogger logger, string log, string stream, ulong position, ulong first);

    [LoggerMessage(981, LogLevel.Warning, "Acknowledging {Log} to JetStream failed ({Reason}); the next checkpoint acknowledges again, and the checkpoint, not the acknowledgement, says where a new owner starts")]
    public static partial void StreamAckFailed(ILogger logger, string log, string reason);

    [LoggerMessage(982, LogLevel.Warning, "Reading {Log} from stream {Stream} failed at sequence {Next} ({Reason}); its consumer is created again there in {Delay}")]
    public static partial void StreamReadFailed(ILogger logger, string log, string stream, ulong next, string reason, TimeSpan delay);

    [LoggerMessage(983, LogLevel.Error, "Checkpoint {Key} revision {Revision} of bucket {Bucket} cannot be used ({Reason}); trying the one before it")]
    public static partial void KvCheckpointUnusable(ILogger logger, string bucket, string key, ulong revision, string reason);

    [LoggerMessage(984, LogLevel.Warning, "Restored the older checkpoint {Key} revision {Revision} of bucket {Bucket} because {Newer} newer one(s) could not be used; the partition is read again from {Position}, so nothing is lost")]
    public static partial void KvCheckpointFellBack(ILogger logger, string bucket, string key, ulong revision, int newer, string position);

    [LoggerMessage(985, LogLevel.Information, "Clustered mode: this worker reads partitions {Partitions} of {Count} of stream {Stream} from {Url}; checkpoints in KV bucket {Bucket}")]
    public static partial void ClusterStarted(ILogger logger, string partitions, int count, string stream, string url, string bucket);

    [LoggerMessage(986, LogLevel.Warning, "Stream {Stream} did not exist: created it on subjects {Subjects} with {Replicas} replicas, keeping records {Retention}")]
    public static partial void StreamCreated(ILogger logger, string stream, string subjects, int replicas, TimeSpan retention);

    [LoggerMessage(987, LogLevel.Warning, "This worker no longer owns {Log}: it stopped at {Position} without writing more or checkpointing; the partition's next owner reads on from its last checkpoint")]
    public static partial void PartitionLost(ILogger logger, string log, string position);

    [LoggerMessage(988, LogLevel.Information, "Worker {Worker} took partition {Partition} ({Owned} owned, fair share {Share} of {Partitions} among {Workers} workers)")]
    public static partial void PartitionTaken(ILogger logger, string worker, int partition, int owned, int share, int partitions, int workers);

    [LoggerMessage(989, LogLevel.Information, "Worker {Worker} handed partition {Partition} back after a last checkpoint ({Owned} owned, fair share {Share})")]
    public static partial void PartitionReleased(ILogger logger, string worker, int partition, int owned, int share);

    [LoggerMessage(990, LogLevel.Warning, "Worker {Worker} could not renew its lease on partition {Partition} ({Reason}): it stops the partition at once")]
    public static partial void LeaseLost(ILogger logger, string worker, int partition, string reason);

    [LoggerMessage(991, LogLevel.Warning, "Renewing leases failed ({Reason}); partitions stop when their leases run out locally, {Ttl} after their last renewal")]
    public static partial void LeaseRoundFailed(ILogger logger, string reason, TimeSpan ttl);

    [LoggerMessage(992, LogLevel.Warning, "Stream {Stream} did not exist: created it on subjects {Subjects} with {Replicas} replicas and interest retention, as the NATS MQTT listener would: a QoS 1 message stays until the partition's consumer acknowledged it at a checkpoint")]
    public static partial void MqttStreamCreated(ILogger logger, string stream, string subjects, int replicas);

    [LoggerMessage(998, LogLevel.Debug, "{Log}: consumer {Consumer} on stream {Stream} created, delivering from sequence {From}")]
    public static partial void StreamConsumerCreated(ILogger logger, string log, string consumer, string stream, ulong from);

    [LoggerMessage(993, LogLevel.Warning, "Reading {Log} from stream {Stream}: delivery {Expected} was lost on the way (the next one was {Delivered}); its consumer is created again at sequence {Next}, so nothing is skipped")]
    public static partial void StreamDeliveryGap(ILogger logger, string log, string stream, ulong expected, ulong delivered, ulong next);
}
