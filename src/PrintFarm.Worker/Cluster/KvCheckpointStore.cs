using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// A partition's checkpoints in a NATS KV bucket (replicated like the stream, R3), not on a worker's disk, so any
/// worker can resume any partition. One key per partition; the bucket keeps its last <see cref="Kept"/> revisions
/// (its history), and restoring falls back through them like the local <see cref="Checkpoints.CheckpointStore"/>
/// does through its files. Each save is conditional on the revision this store last saw: an owner that another one
/// has overtaken cannot overwrite the newer checkpoint (<see cref="CheckpointFencedException"/>).
/// </summary>
internal sealed class KvCheckpointStore : ICheckpointStore<StreamPosition>
{
    /// <summary>How many revisions of a partition's checkpoint the bucket keeps.</summary>
    public const int Kept = 3;

    /// <summary>The top-level property of a checkpoint that holds the stream position it reflects.</summary>
    public const string PositionProperty = "stream";

    private readonly INatsKVStore _bucket;
    private readonly string _key;
    private readonly ILogger _logger;
    private readonly List<StreamPosition> _kept = [];
    private ulong _revision;

    public KvCheckpointStore(INatsKVStore bucket, string key, ILogger logger)
    {
        _bucket = bucket;
        _key = key;
        _logger = logger;
    }

    public string Location => $"KV {_bucket.Bucket}/{_key}";

    /// <summary>The bucket for <paramref name="layout"/>'s checkpoints, created when missing.</summary>
    public static async Task<INatsKVStore> OpenBucketAsync(INatsJSContext js, JetStreamLayout layout, int replicas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var kv = new NatsKVContext(js);
        return await kv.CreateStoreAsync(
            new NatsKVConfig(layout.CheckpointBucket) { History = Kept, NumberOfReplicas = replicas, Storage = NatsKVStorageType.File },
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<(string? From, StreamPosition? Position)> RestoreAsync(Action<JsonObject> apply, IMessageLog<StreamPosition> log, bool acceptLoss, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        ArgumentNullException.ThrowIfNull(log);
        var history = await HistoryAsync(cancellationToken).ConfigureAwait(false);
        _revision = history.Count > 0 ? history[^1].Revision : 0;
        List<string> unusable = [];
        for (var i = history.Count - 1; i >= 0; i--)
        {
            var entry = history[i];
            try
            {
                if (entry.Operation != NatsKVOperation.Put || entry.Value is null)
                {
                    throw new FormatException("the revision is a delete, not a checkpoint");
                }

                var checkpoint = JsonNode.Parse(entry.Value) as JsonObject ?? throw new JsonException("the checkpoint is not a JSON object");
                var position = ReadPosition(checkpoint) ?? throw new FormatException($"the checkpoint has no \"{PositionProperty}\" position");
                if (position.IsBeforeInEither(log.Start))
                {
                    throw new FormatException($"it needs {position}, which the stream no longer holds (it starts at {log.Start})");
                }

                apply(checkpoint);

                // The older revisions the bucket still keeps may be restored after this one: the streams must keep
                // their records too (an acknowledgement lets $MQTT_msgs drop them).
                _kept.Clear();
                _kept.AddRange(history.Take(i).Select(PeekPosition).OfType<StreamPosition>().TakeLast(Kept - 1));
                _kept.Add(position);
                if (unusable.Count > 0)
                {
                    Log.KvCheckpointFellBack(_logger, _bucket.Bucket, _key, entry.Revision, unusable.Count, position.ToString());
                }

                return (string.Create(CultureInfo.InvariantCulture, $"{Location} revision {entry.Revision}"), position);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or CheckpointException)
            {
                Log.KvCheckpointUnusable(_logger, _bucket.Bucket, _key, entry.Revision, ex.Message);
                unusable.Add(string.Create(CultureInfo.InvariantCulture, $"revision {entry.Revision}: {ex.Message}"));
            }
        }

        if (log.HoldsEverything || acceptLoss)
        {
            // Nothing was ever removed from the stream: reading all of it rebuilds the state (or the loss is accepted).
            return (null, null);
        }

        var why = unusable.Count == 0 ? "there is none" : string.Join("; ", unusable);
        throw new StartupRefusedException(
            $"No usable checkpoint at {Location} ({why}), and {log.Name} starts at {log.Start}: the stream's limits removed " +
            "records before it. Starting this partition with empty state would write its open KPI windows from zero over " +
            "the points already in InfluxDB. Accept the loss with PrintFarm:AcceptCheckpointLoss=true for one start. " +
            "docs/scale-out.md, \"Failure behaviour\".");
    }

    public async ValueTask<StreamPosition> SaveAsync(CheckpointSnapshot snapshot, StreamPosition position, Action<Utf8JsonWriter> extra, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            snapshot.WriteTo(writer, w =>
            {
                w.WritePropertyName(PositionProperty);
                w.WriteStartObject();
                w.WriteNumber("sequence", position.Stream);
                w.WriteNumber("mqtt_sequence", position.Mqtt);
                w.WriteEndObject();
                extra(w);
            });
        }

        var value = buffer.WrittenMemory.ToArray();
        try
        {
            _revision = _revision == 0
                ? await _bucket.CreateAsync(_key, value, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await _bucket.UpdateAsync(_key, value, _revision, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsKVWrongLastRevisionException or NatsKVCreateException)
        {
            throw new CheckpointFencedException($"{Location} was written by another owner since revision {_revision}: this worker no longer owns the partition", ex);
        }
        catch (Exception ex) when (ex is NatsException and not NatsKVWrongLastRevisionException)
        {
            // Surfaced as the local store's disk errors are: the save is retried at the next interval, the log keeps
            // the records. A checkpoint over the servers' max_payload (1 MB by default) fails here too.
            throw new IOException($"Saving the checkpoint to {Location} ({value.Length} bytes) failed: {ex.Message}", ex);
        }

        _kept.Add(position);
        if (_kept.Count > Kept)
        {
            _kept.RemoveAt(0);
        }

        return _kept.Aggregate(StreamPosition.Min);
    }

    private async Task<List<NatsKVEntry<byte[]>>> HistoryAsync(CancellationToken cancellationToken)
    {
        List<NatsKVEntry<byte[]>> entries = [];
        try
        {
            await foreach (var entry in _bucket.HistoryAsync<byte[]>(_key, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                entries.Add(entry);
            }
        }
        catch (NatsKVKeyNotFoundException)
        {
            // A partition never checkpointed.
        }

        return entries;
    }

    // "sequence" in the partition stream, "mqtt_sequence" in $MQTT_msgs (1, its start, in checkpoints from before it was read).
    private static StreamPosition? ReadPosition(JsonObject checkpoint) =>
        checkpoint[PositionProperty]?["sequence"]?.GetValue<ulong>() is { } sequence
            ? new StreamPosition(sequence, checkpoint[PositionProperty]?["mqtt_sequence"]?.GetValue<ulong>() ?? 1)
            : null;

    private static StreamPosition? PeekPosition(NatsKVEntry<byte[]> entry)
    {
        try
        {
            return entry.Operation == NatsKVOperation.Put && entry.Value is not null && JsonNode.Parse(entry.Value) is JsonObject checkpoint ? ReadPosition(checkpoint) : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>A partition's checkpoint was written by another owner: this worker lost the partition and must stop it.</summary>
internal sealed class CheckpointFencedException(string message, Exception inner) : IOException(message, inner);
