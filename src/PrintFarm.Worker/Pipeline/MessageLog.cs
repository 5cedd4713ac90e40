using System.Text.Json;
using System.Text.Json.Nodes;
using PrintFarm.Core.Processing;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// One received MQTT message as the log holds it. <paramref name="Sequence"/> numbers the log's records in order (the
/// journal's sequence, or a JetStream stream sequence). <paramref name="OversizeBytes"/> is non-zero for a message
/// whose payload was over <c>MaxPayloadBytes</c>: only its metadata was kept, and <paramref name="Payload"/> is empty.
/// </summary>
internal readonly record struct LogRecord(long Sequence, string Topic, ReadOnlyMemory<byte> Payload, bool Retained, byte QoS, DateTimeOffset ReceivedAt, long OversizeBytes = 0);

/// <summary>
/// The seam between where messages are kept and the pipeline that processes them: an ordered, durable log of received
/// messages, read from a checkpoint's position, whose records before a position are released once a checkpoint covers
/// them. The single-machine worker's log is its local journal (<see cref="Journal.MessageJournal"/>); the processor,
/// KPI engine and writer behind <see cref="PartitionPipeline{TPosition}"/> are the same code whatever fills it.
/// </summary>
/// <typeparam name="TPosition">Where a reader resumes.</typeparam>
internal interface IMessageLog<TPosition>
    where TPosition : struct
{
    /// <summary>What the log is, for log lines and error messages (the journal's folder, a stream and partition).</summary>
    string Name { get; }

    /// <summary>The position of the oldest record the log still holds.</summary>
    TPosition Start { get; }

    /// <summary>
    /// True while <see cref="Start"/> is the log's very first record (nothing was ever released): replaying the whole
    /// log rebuilds any state, so a missing checkpoint loses nothing.
    /// </summary>
    bool HoldsEverything { get; }

    /// <summary>The sequence the next record will get: every record below it was durable when this was read.</summary>
    long NextSequence { get; }

    /// <summary>What lies between <paramref name="from"/> and the end, in the log's own unit ("12034 bytes"), for the "resuming" log line; null when nothing.</summary>
    string? DescribeBacklog(TPosition from);

    /// <summary>A reader from <paramref name="from"/> (a checkpoint's position), or from <see cref="Start"/>.</summary>
    IMessageLogReader<TPosition> OpenReader(TPosition? from);

    /// <summary>Lets go of the records before <paramref name="position"/>: every checkpoint that may still be restored covers them.</summary>
    void Release(TPosition position);
}

/// <summary>One consumer's cursor over an <see cref="IMessageLog{TPosition}"/>.</summary>
internal interface IMessageLogReader<TPosition> : IDisposable
    where TPosition : struct
{
    /// <summary>The position of the next record to read: after a checkpoint, where a restart resumes.</summary>
    TPosition Position { get; }

    /// <summary>Waits until a record is there (true), or the log is completed and read to its end (false).</summary>
    ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads the next record, if there is one, without copying its payload: the payload is valid only until the next
    /// read (the pipeline processes each message before reading the next, and copies what it keeps).
    /// </summary>
    bool TryReadBorrowed(out LogRecord record);
}

/// <summary>
/// Where a <see cref="PartitionPipeline{TPosition}"/> keeps its checkpoints: the processor's state with the log
/// position it reflects. The single-machine worker keeps them as files beside its journal
/// (<see cref="Checkpoints.CheckpointStore"/>).
/// </summary>
internal interface ICheckpointStore<TPosition>
    where TPosition : struct
{
    /// <summary>Where the newest checkpoint is, for log lines.</summary>
    string Location { get; }

    /// <summary>
    /// Restores the newest usable checkpoint through <paramref name="apply"/> (which restores the state, or throws
    /// when it cannot be restored) and returns where it was and the log position it reflects; (null, null) means
    /// empty state, the log read from its start. Refuses (throws) when no checkpoint is usable, the log no longer
    /// holds everything, and <paramref name="acceptLoss"/> is false.
    /// </summary>
    ValueTask<(string? From, TPosition? Position)> RestoreAsync(Action<JsonObject> apply, IMessageLog<TPosition> log, bool acceptLoss, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a checkpoint of <paramref name="position"/> durably and returns the oldest position a checkpoint that
    /// may still be restored needs: the log may release the records before it, none after.
    /// </summary>
    ValueTask<TPosition> SaveAsync(CheckpointSnapshot snapshot, TPosition position, Action<Utf8JsonWriter> extra, CancellationToken cancellationToken);
}
