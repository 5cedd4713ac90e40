using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// One partition of the clustered mode as an <see cref="IMessageLog{TPosition}"/>, read from two streams at once:
/// <list type="bullet">
/// <item>the NATS MQTT listener's own <c>$MQTT_msgs</c>, for messages published at QoS 1. nats-server sends the PUBACK
/// only once such a message is stored there; a copy on any other stream is a plain publish a leader change can lose
/// (docs/reliability.md). That stream keeps a message while a consumer still has to acknowledge it, so the partition's
/// consumer on it always exists: a new owner creates the next generation at its checkpoint, then deletes the older
/// ones, and acknowledgements (AckAll, at checkpoints) are what let the stream drop records;</item>
/// <item>the partition stream of ours (<see cref="JetStreamLayout.Stream"/>), for QoS 0 messages and plain NATS
/// publishers; the QoS 1 copies it also gets (header <c>Nmqtt-Pub: 1</c>) are passed over, since <c>$MQTT_msgs</c>
/// has them. Its limits, not acknowledgements, decide when records go.</item>
/// </list>
/// Each is read through a durable pull consumer with the partition's (singular) <c>FilterSubject</c>, started at the
/// checkpoint's sequence in that stream, so a new owner starts exactly where the checkpoint it restored ends. One
/// printer publishes at one QoS, so its messages keep their order; messages of the two streams are interleaved as
/// they arrive. On both streams every consumer a reader creates is a new generation with a name of its own, so a
/// worker that lost the partition while frozen can reach only its own consumers with a late pull or acknowledgement.
/// </summary>
internal sealed class JetStreamPartitionLog : IMessageLog<StreamPosition>, IAsyncDisposable
{
    // How far the reader runs ahead of the pipeline, in messages.
    private const int ReadAhead = 4096;

    // Messages asked for at a time from each stream, and how long an empty pull waits for one.
    private const int FetchBatch = 500;
    private static readonly TimeSpan FetchWait = TimeSpan.FromSeconds(5);

    // One delivered message kept for acknowledging every so many records (AckAll covers those before it).
    private const int AckSample = 256;

    private readonly INatsJSContext _js;
    private readonly JetStreamLayout _layout;
    private readonly ILogger _logger;
    private readonly Func<bool> _owns;
    private readonly StreamPosition _last;
    private Reader? _reader;

    private JetStreamPartitionLog(INatsJSContext js, JetStreamLayout layout, int partition, Func<bool> owns, StreamPosition start, StreamPosition last, bool holdsEverything, ILogger logger)
    {
        _js = js;
        _layout = layout;
        Partition = partition;
        _owns = owns;
        Start = start;
        _last = last;
        HoldsEverything = holdsEverything;
        _logger = logger;
    }

    /// <summary>The partition this log reads.</summary>
    public int Partition { get; }

    public string Name => string.Create(CultureInfo.InvariantCulture, $"stream {_layout.Stream} partition {Partition}");

    public StreamPosition Start { get; }

    // Neither stream ever let go of one of this partition's records.
    public bool HoldsEverything { get; }

    // The two streams' sequences are not one order, so the dead-letter store cannot tell a replay (it then keeps a
    // dead letter again rather than skip one it never kept; docs/scale-out.md).
    public long NextSequence => 0;

    /// <summary>
    /// Opens partition <paramref name="partition"/> of the streams <paramref name="layout"/> names (which must exist,
    /// with a consumer on <c>$MQTT_msgs</c> for the partition: <see cref="EnsureMqttConsumersAsync"/>).
    /// <paramref name="owns"/> says whether this worker still owns the partition: one that does not never touches
    /// the partition's consumers again.
    /// </summary>
    public static async Task<JetStreamPartitionLog> OpenAsync(INatsJSContext js, JetStreamLayout layout, int partition, Func<bool>? owns, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(js);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, layout.Partitions);
        var stream = (await js.GetStreamAsync(layout.Stream, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.State;
        var mqtt = (await js.GetStreamAsync(JetStreamLayout.MqttStream, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.State;
        var newest = await NewestMqttConsumerAsync(js, layout, partition, cancellationToken).ConfigureAwait(false);

        // The MQTT stream holds exactly what the partition's consumer has not acknowledged; it never let go of one
        // while that consumer is the first one, delivering all, and acknowledged nothing.
        ulong mqttStart = 1;
        var mqttHoldsAll = true;
        if (newest is { } info)
        {
            mqttHoldsAll = info.Config.DeliverPolicy == ConsumerConfigDeliverPolicy.All && info.AckFloor.ConsumerSeq == 0;
            mqttStart = Math.Max(info.Config.OptStartSeq, info.AckFloor.StreamSeq + 1);
            mqttStart = Math.Max(1, mqttStart);
        }

        return new JetStreamPartitionLog(
            js,
            layout,
            partition,
            owns ?? (static () => true),
            new StreamPosition(Math.Max(1, stream.FirstSeq), mqttStart),
            new StreamPosition(stream.LastSeq, mqtt.LastSeq),
            stream.FirstSeq <= 1 && mqttHoldsAll,
            logger);
    }

    /// <summary>
    /// Makes sure every partition has a consumer on <c>$MQTT_msgs</c> before printers publish: that stream drops a QoS 1
    /// message no consumer wants at once. A partition without one gets generation 0, delivering everything.
    /// </summary>
    public static async Task EnsureMqttConsumersAsync(INatsJSContext js, JetStreamLayout layout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(js);
        ArgumentNullException.ThrowIfNull(layout);
        var names = await ConsumerNamesAsync(js, JetStreamLayout.MqttStream, cancellationToken).ConfigureAwait(false);
        for (var partition = 0; partition < layout.Partitions; partition++)
        {
            var p = partition;
            if (!names.Any(n => layout.MqttConsumerGeneration(p, n) is not null))
            {
                await js.CreateOrUpdateConsumerAsync(JetStreamLayout.MqttStream, MqttConsumerConfig(layout, partition, 0, from: 0), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public string? DescribeBacklog(StreamPosition from) =>
        from.Stream <= _last.Stream || from.Mqtt <= _last.Mqtt
            ? string.Create(CultureInfo.InvariantCulture, $"stream sequences {from.Stream} to {_last.Stream} and MQTT sequences {from.Mqtt} to {_last.Mqtt} (this partition's share of them)")
            : null;

    public IMessageLogReader<StreamPosition> OpenReader(StreamPosition? from)
    {
        var position = from ?? Start;
        if (position.Stream < Start.Stream)
        {
            // The stream's limits removed records the checkpoint has not covered: say so, read what is there.
            Log.StreamPositionGone(_logger, Name, _layout.Stream, position.Stream, Start.Stream);
            position = position with { Stream = Start.Stream };
        }

        if (position.Mqtt < Start.Mqtt)
        {
            Log.StreamPositionGone(_logger, Name, JetStreamLayout.MqttStream, position.Mqtt, Start.Mqtt);
            position = position with { Mqtt = Start.Mqtt };
        }

        _reader?.Dispose();
        _reader = new Reader(this, position);
        return _reader;
    }

    public void Release(StreamPosition position) => _reader?.Release(position);

    public async ValueTask DisposeAsync()
    {
        if (_reader is { } reader)
        {
            await reader.StopAsync().ConfigureAwait(false);
        }
    }

    private static ConsumerConfig MqttConsumerConfig(JetStreamLayout layout, int partition, int generation, ulong from) =>
        ConsumerFor(layout.MqttConsumerName(partition, generation), layout.MqttPartitionSubject(partition), from);

    // Delivering from `from` (0: everything the stream holds), acknowledged only at checkpoints: neither a redelivery
    // nor the pending limit may come before the next one.
    private static ConsumerConfig ConsumerFor(string name, string filter, ulong from) => new(name)
    {
        FilterSubject = filter,
        DeliverPolicy = from <= 1 ? ConsumerConfigDeliverPolicy.All : ConsumerConfigDeliverPolicy.ByStartSequence,
        OptStartSeq = from <= 1 ? 0 : from,
        AckPolicy = ConsumerConfigAckPolicy.All,
        AckWait = TimeSpan.FromMinutes(30),
        MaxAckPending = -1,
    };

    private static async Task<List<string>> ConsumerNamesAsync(INatsJSContext js, string stream, CancellationToken cancellationToken)
    {
        List<string> names = [];
        await foreach (var name in js.ListConsumerNamesAsync(stream, cancellationToken).ConfigureAwait(false))
        {
            names.Add(name);
        }

        return names;
    }

    // The newest generation among a stream's consumer names (-1: none), and every name of the partition's consumers.
    private static (int Generation, List<string> All) Generations(List<string> names, Func<string, int?> generationOf, string? legacy)
    {
        var all = names.Where(n => generationOf(n) is not null || n == legacy).ToList();
        var newest = all.Select(generationOf).Max() ?? -1;
        return (newest, all);
    }

    private static async Task<ConsumerInfo?> NewestMqttConsumerAsync(INatsJSContext js, JetStreamLayout layout, int partition, CancellationToken cancellationToken)
    {
        var names = await ConsumerNamesAsync(js, JetStreamLayout.MqttStream, cancellationToken).ConfigureAwait(false);
        var (generation, _) = Generations(names, name => layout.MqttConsumerGeneration(partition, name), legacy: null);
        if (generation < 0)
        {
            return null;
        }

        var consumer = await js.GetConsumerAsync(JetStreamLayout.MqttStream, layout.MqttConsumerName(partition, generation), cancellationToken).ConfigureAwait(false);
        return consumer.Info;
    }

    // A failed consumer is created again after 200 ms, doubling to at most 5 s, each wait jittered (× 0.5–1) so
    // that partitions which failed together (after a pause, or a node's loss) do not all ask again at once.
    private static TimeSpan RetryDelay(int failures)
    {
        var delay = Math.Min(200.0 * Math.Pow(2, Math.Min(failures, 10)), 5000.0);
        return TimeSpan.FromMilliseconds(delay * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>
    /// Pulls the partition's records of both streams into one bounded queue on two background tasks; the pipeline
    /// takes them as they came. A record delivered twice (a redelivery, or a consumer recreated after a failure) is
    /// passed over by its stream sequence.
    /// </summary>
    private sealed class Reader : IMessageLogReader<StreamPosition>
    {
        private readonly JetStreamPartitionLog _log;
        private readonly Channel<Delivery> _queue = Channel.CreateBounded<Delivery>(new BoundedChannelOptions(ReadAhead) { SingleReader = true, SingleWriter = false });
        private readonly CancellationTokenSource _stop = new();
        private readonly AckSampler _streamAcks = new();
        private readonly AckSampler _mqttAcks = new();
        private Task? _pumps;

        public Reader(JetStreamPartitionLog log, StreamPosition position)
        {
            _log = log;
            Position = position;
        }

        public StreamPosition Position { get; private set; }

        public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
        {
            _pumps ??= Task.WhenAll(
                Task.Run(() => PumpAsync(mqtt: false, Position.Stream, _stop.Token), CancellationToken.None),
                Task.Run(() => PumpAsync(mqtt: true, Position.Mqtt, _stop.Token), CancellationToken.None));
            return await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }

        public bool TryReadBorrowed(out LogRecord record)
        {
            while (_queue.Reader.TryRead(out var delivery))
            {
                var msg = delivery.Msg;
                var metadata = msg.Metadata!.Value;
                var sequence = metadata.Sequence.Stream;
                byte qos = 1;
                if (delivery.Mqtt)
                {
                    if (sequence < Position.Mqtt)
                    {
                        continue;
                    }

                    Position = Position with { Mqtt = sequence + 1 };
                    _mqttAcks.Sample(msg, sequence);
                }
                else
                {
                    if (sequence < Position.Stream)
                    {
                        continue;
                    }

                    Position = Position with { Stream = sequence + 1 };
                    _streamAcks.Sample(msg, sequence);
                    if (msg.Headers?.TryGetValue(JetStreamLayout.MqttQosHeader, out var header) == true)
                    {
                        if (header.ToString() != "0")
                        {
                            // Published at QoS 1: read from $MQTT_msgs, which has it for sure.
                            continue;
                        }

                        qos = 0;
                    }
                }

                record = new LogRecord((long)sequence, _log._layout.TopicOf(msg.Subject), msg.Data ?? [], Retained: false, QoS: qos, metadata.Timestamp);
                return true;
            }

            record = default;
            return false;
        }

        // Acknowledges the newest sampled message below the position in each stream: AckAll covers every record of
        // the partition before it.
        public void Release(StreamPosition position)
        {
            if (_streamAcks.Take(position.Stream) is { } stream)
            {
                _ = AcknowledgeAsync(stream);
            }

            if (_mqttAcks.Take(position.Mqtt) is { } mqtt)
            {
                _ = AcknowledgeAsync(mqtt);
            }
        }

        public void Dispose() => StopAsync().AsTask().GetAwaiter().GetResult();

        public async ValueTask StopAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync().ConfigureAwait(false);
            }

            if (_pumps is { } pumps)
            {
                await pumps.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            _stop.Dispose();
        }

        private async Task AcknowledgeAsync(INatsJSMsg<byte[]> msg)
        {
            try
            {
                await msg.AckAsync(cancellationToken: _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Retried by the next checkpoint's acknowledgement, which covers this one's records too.
                Log.StreamAckFailed(_log._logger, _log.Name, ex.Message);
            }
        }

        // Creates the partition's consumer on one stream at `from` and pulls; after a failure, while the partition is
        // still this worker's, creates it again after the last record queued and goes on.
        private async Task PumpAsync(bool mqtt, ulong from, CancellationToken cancellationToken)
        {
            var next = from;
            var failures = 0;
            var on = ConsumerOn(mqtt);
            var stream = on.Stream;

            // The consumer being created and the older ones it replaces. A request that timed out may still have been
            // carried out: the retry asks for the same consumer (same name, same start), which the servers then
            // already have, rather than one more. 64 partitions each adding a consumer per retry, every one a Raft
            // group, kept a cluster too busy to answer any of them after a long pause.
            (int Generation, List<string> Older)? creating = null;
            while (!cancellationToken.IsCancellationRequested && _log._owns())
            {
                try
                {
                    creating ??= await NextGenerationAsync(on, cancellationToken).ConfigureAwait(false);
                    var consumer = await CreateAsync(on, creating.Value.Generation, next, cancellationToken).ConfigureAwait(false);
                    await DeleteAsync(stream, creating.Value.Older, cancellationToken).ConfigureAwait(false);
                    creating = null;
                    failures = 0;

                    // Pulled a batch at a time, the next batch only once this one is queued: the client never holds
                    // more than it asked for, so a backlog cannot overflow its buffers (a continuous consume on 64
                    // partitions behind a slow pipeline did, and dropped deliveries). A consumer numbers its deliveries
                    // 1, 2, 3…: a number skipped is a delivery lost on the way. AckAll past it would drop that record
                    // for good, so the consumer is created again after the last record queued.
                    ulong delivered = 0;
                    var lost = false;
                    while (!lost && !cancellationToken.IsCancellationRequested && _log._owns())
                    {
                        await foreach (var msg in consumer.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = FetchBatch, Expires = FetchWait }, cancellationToken: cancellationToken).ConfigureAwait(false))
                        {
                            var metadata = msg.Metadata!.Value;
                            if (metadata.Sequence.Consumer != delivered + 1)
                            {
                                Log.StreamDeliveryGap(_log._logger, _log.Name, stream, delivered + 1, metadata.Sequence.Consumer, next);
                                lost = true;
                                break;
                            }

                            delivered = metadata.Sequence.Consumer;
                            var sequence = metadata.Sequence.Stream;
                            if (sequence < next)
                            {
                                continue;
                            }

                            await _queue.Writer.WriteAsync(new Delivery(mqtt, msg), cancellationToken).ConfigureAwait(false);
                            next = sequence + 1;
                        }
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    var delay = RetryDelay(failures++);
                    Log.StreamReadFailed(_log._logger, _log.Name, stream, next, ex.Message, delay);
                    try
                    {
                        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }

        // The partition's consumer on one stream: where, filtering what, and named how per generation (the partition
        // stream's names before generations are deleted like an older one).
        private PartitionConsumer ConsumerOn(bool mqtt)
        {
            var layout = _log._layout;
            var p = _log.Partition;
            return mqtt
                ? new(JetStreamLayout.MqttStream, layout.MqttPartitionSubject(p), g => layout.MqttConsumerName(p, g), n => layout.MqttConsumerGeneration(p, n), Legacy: null)
                : new(layout.Stream, layout.PartitionSubject(p), g => layout.ConsumerName(p, g), n => layout.ConsumerGeneration(p, n), layout.UngeneratedConsumerName(p));
        }

        // The partition's next consumer generation on one stream, and its consumers there now (all older).
        private async Task<(int Generation, List<string> Older)> NextGenerationAsync(PartitionConsumer consumer, CancellationToken cancellationToken)
        {
            var (newest, all) = Generations(await ConsumerNamesAsync(_log._js, consumer.Stream, cancellationToken).ConfigureAwait(false), consumer.Generation, consumer.Legacy);
            return (newest + 1, all);
        }

        // Generation `generation` of the partition's consumer, delivering from `from`. It is created before the older
        // generations go: $MQTT_msgs never has a moment with nobody to keep the partition's unacknowledged records for.
        private async Task<INatsJSConsumer> CreateAsync(PartitionConsumer consumer, int generation, ulong from, CancellationToken cancellationToken)
        {
            var name = consumer.Name(generation);
            var created = await _log._js.CreateOrUpdateConsumerAsync(consumer.Stream, ConsumerFor(name, consumer.Filter, from), cancellationToken).ConfigureAwait(false);
            Log.StreamConsumerCreated(_log._logger, _log.Name, name, consumer.Stream, from);
            return created;
        }

        private async Task DeleteAsync(string stream, List<string> consumers, CancellationToken cancellationToken)
        {
            foreach (var old in consumers)
            {
                try
                {
                    await _log._js.DeleteConsumerAsync(stream, old, cancellationToken).ConfigureAwait(false);
                }
                catch (NatsJSApiException ex) when (ex.Error.Code == 404)
                {
                    // Gone already (a retry after a timeout, or never made).
                }
            }
        }
    }

    private readonly record struct Delivery(bool Mqtt, INatsJSMsg<byte[]> Msg);

    private sealed record PartitionConsumer(string Stream, string Filter, Func<int, string> Name, Func<string, int?> Generation, string? Legacy);

    /// <summary>Keeps one delivered message every <see cref="AckSample"/> records of one stream for the acknowledgements.</summary>
    private sealed class AckSampler
    {
        private readonly Queue<INatsJSMsg<byte[]>> _kept = new();
        private ulong _lastSampled;

        // Called by the pipeline's reading loop only.
        public void Sample(INatsJSMsg<byte[]> msg, ulong sequence)
        {
            if (_lastSampled != 0 && sequence - _lastSampled < AckSample)
            {
                return;
            }

            _lastSampled = sequence;
            lock (_kept)
            {
                _kept.Enqueue(msg);
            }
        }

        // The newest kept message before `next`, taken out with every older one.
        public INatsJSMsg<byte[]>? Take(ulong next)
        {
            INatsJSMsg<byte[]>? newest = null;
            lock (_kept)
            {
                while (_kept.TryPeek(out var msg) && msg.Metadata!.Value.Sequence.Stream < next)
                {
                    newest = _kept.Dequeue();
                }
            }

            return newest;
        }
    }
}
