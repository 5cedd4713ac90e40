using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// One partition of the clustered mode's stream as an <see cref="IMessageLog{TPosition}"/>: the pipeline reads it
/// through a durable pull consumer with the partition's (singular) <c>FilterSubject</c>, created afresh at the
/// checkpoint's stream sequence when the reader opens, so a new owner starts exactly where the checkpoint it restored
/// ends and the old owner's consumer (and anything it still had in flight) is gone. <see cref="Release"/> acknowledges
/// (AckAll) the records a checkpoint covers; the stream's limits, not the acknowledgements, decide when records go, so
/// a checkpoint that falls back to an older one still finds its records (docs/scale-out.md, "Retention").
/// </summary>
internal sealed class JetStreamPartitionLog : IMessageLog<StreamPosition>, IAsyncDisposable
{
    // How far the reader runs ahead of the pipeline, in messages.
    private const int ReadAhead = 4096;

    // One delivered message kept for acknowledging every so many records (AckAll covers those before it).
    private const int AckSample = 256;

    private readonly INatsJSContext _js;
    private readonly JetStreamLayout _layout;
    private readonly ILogger _logger;
    private readonly ulong _firstSequence;
    private readonly ulong _lastSequence;
    private Reader? _reader;

    private JetStreamPartitionLog(INatsJSContext js, JetStreamLayout layout, int partition, StreamState state, ILogger logger)
    {
        _js = js;
        _layout = layout;
        Partition = partition;
        _logger = logger;
        _firstSequence = Math.Max(1, state.FirstSeq);
        _lastSequence = state.LastSeq;
    }

    /// <summary>The partition this log reads.</summary>
    public int Partition { get; }

    public string Name => string.Create(CultureInfo.InvariantCulture, $"stream {_layout.Stream} partition {Partition}");

    public StreamPosition Start => new(_firstSequence);

    // The stream's first sequence is 1 while its limits never removed a record.
    public bool HoldsEverything => _firstSequence <= 1;

    public long NextSequence => (long)_lastSequence + 1;

    /// <summary>Opens partition <paramref name="partition"/> of the stream <paramref name="layout"/> names (which must exist).</summary>
    public static async Task<JetStreamPartitionLog> OpenAsync(INatsJSContext js, JetStreamLayout layout, int partition, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(js);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, layout.Partitions);
        var stream = await js.GetStreamAsync(layout.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new JetStreamPartitionLog(js, layout, partition, stream.Info.State, logger);
    }

    public string? DescribeBacklog(StreamPosition from) =>
        from.Sequence <= _lastSequence ? string.Create(CultureInfo.InvariantCulture, $"stream sequences {from.Sequence} to {_lastSequence} (this partition's share of them)") : null;

    public IMessageLogReader<StreamPosition> OpenReader(StreamPosition? from)
    {
        var position = from ?? Start;
        if (position < Start)
        {
            // The stream's limits removed records the checkpoint has not covered: say so, read what is there.
            Log.StreamPositionGone(_logger, Name, position.Sequence, _firstSequence);
            position = Start;
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

    /// <summary>
    /// Pulls the partition's records into a bounded queue on a background task; the pipeline takes them in stream
    /// order. A record delivered twice (a redelivery, or a consumer recreated after a failure) is passed over by its
    /// stream sequence.
    /// </summary>
    private sealed class Reader : IMessageLogReader<StreamPosition>
    {
        private readonly JetStreamPartitionLog _log;
        private readonly Channel<INatsJSMsg<byte[]>> _queue = Channel.CreateBounded<INatsJSMsg<byte[]>>(new BoundedChannelOptions(ReadAhead) { SingleReader = true, SingleWriter = true });
        private readonly CancellationTokenSource _stop = new();
        private readonly Queue<INatsJSMsg<byte[]>> _unacknowledged = new();
        private readonly object _ackGate = new();
        private ulong _lastSampled;
        private Task? _pump;

        public Reader(JetStreamPartitionLog log, StreamPosition position)
        {
            _log = log;
            Position = position;
        }

        public StreamPosition Position { get; private set; }

        public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
        {
            _pump ??= Task.Run(() => PumpAsync(Position, _stop.Token), CancellationToken.None);
            return await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }

        public bool TryReadBorrowed(out LogRecord record)
        {
            while (_queue.Reader.TryRead(out var msg))
            {
                var metadata = msg.Metadata!.Value;
                var sequence = metadata.Sequence.Stream;
                if (sequence < Position.Sequence)
                {
                    continue;
                }

                Position = new StreamPosition(sequence + 1);
                Sample(msg, sequence);
                record = new LogRecord((long)sequence, _log._layout.TopicOf(msg.Subject), msg.Data ?? [], Retained: false, QoS: 1, metadata.Timestamp);
                return true;
            }

            record = default;
            return false;
        }

        // Acknowledges the newest sampled message below position: AckAll covers every record of the partition before it.
        public void Release(StreamPosition position)
        {
            INatsJSMsg<byte[]>? newest = null;
            lock (_ackGate)
            {
                while (_unacknowledged.TryPeek(out var msg) && msg.Metadata!.Value.Sequence.Stream < position.Sequence)
                {
                    newest = _unacknowledged.Dequeue();
                }
            }

            if (newest is { } ack)
            {
                _ = AcknowledgeAsync(ack);
            }
        }

        public void Dispose() => StopAsync().AsTask().GetAwaiter().GetResult();

        public async ValueTask StopAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync().ConfigureAwait(false);
            }

            if (_pump is { } pump)
            {
                await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            _stop.Dispose();
        }

        private void Sample(INatsJSMsg<byte[]> msg, ulong sequence)
        {
            if (_lastSampled != 0 && sequence - _lastSampled < AckSample)
            {
                return;
            }

            _lastSampled = sequence;
            lock (_ackGate)
            {
                _unacknowledged.Enqueue(msg);
            }
        }

        private async Task AcknowledgeAsync(INatsJSMsg<byte[]> msg)
        {
            try
            {
                await msg.AckAsync(cancellationToken: _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Only bookkeeping: the checkpoint, not the consumer's ack floor, says where a new owner starts.
                Log.StreamAckFailed(_log._logger, _log.Name, ex.Message);
            }
        }

        // Creates the partition's consumer at `from` and pulls; after a failure, recreates it after the last record
        // queued and goes on.
        private async Task PumpAsync(StreamPosition from, CancellationToken cancellationToken)
        {
            var next = from.Sequence;
            var delay = TimeSpan.FromMilliseconds(200);
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var consumer = await CreateConsumerAsync(next, cancellationToken).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(200);
                    await foreach (var msg in consumer.ConsumeAsync<byte[]>(opts: new NatsJSConsumeOpts { MaxMsgs = 1000 }, cancellationToken: cancellationToken).ConfigureAwait(false))
                    {
                        var sequence = msg.Metadata!.Value.Sequence.Stream;
                        if (sequence < next)
                        {
                            continue;
                        }

                        await _queue.Writer.WriteAsync(msg, cancellationToken).ConfigureAwait(false);
                        next = sequence + 1;
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Log.StreamReadFailed(_log._logger, _log.Name, next, ex.Message, delay);
                    try
                    {
                        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }

        private async Task<INatsJSConsumer> CreateConsumerAsync(ulong from, CancellationToken cancellationToken)
        {
            var layout = _log._layout;
            var name = layout.ConsumerName(_log.Partition);
            try
            {
                await _log._js.DeleteConsumerAsync(layout.Stream, name, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == 404)
            {
                // None yet.
            }

            return await _log._js.CreateOrUpdateConsumerAsync(
                layout.Stream,
                new ConsumerConfig(name)
                {
                    FilterSubject = layout.PartitionSubject(_log.Partition),
                    DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
                    OptStartSeq = from,
                    AckPolicy = ConsumerConfigAckPolicy.All,

                    // Records are acknowledged only at checkpoints: neither a redelivery nor the pending limit may
                    // come before the next one.
                    AckWait = TimeSpan.FromMinutes(30),
                    MaxAckPending = -1,
                },
                cancellationToken).ConfigureAwait(false);
        }
    }
}
