using System.Buffers;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// The group being gathered for the next commit: producers encode each message straight into one buffer, as its
/// record, with the acknowledgement it owes; the committer swaps the buffer for a spare one and writes it. While one
/// group is being committed and the next is full, producers wait (<see cref="WaitForRoomAsync"/>): a slow disk holds
/// back the socket reader and the broker keeps the backlog.
/// </summary>
internal sealed class JournalGroup : IDisposable
{
    // A group of QoS 0 messages smaller than this waits up to GatherTime from its first message for more before it is
    // committed: an fsync costs ~0.1 ms of CPU on the reference VM whatever it carries, so under load a few hundred
    // messages share one instead of the few dozen one socket read brings (docs/benchmarks.md, "the fourth round"). A
    // farm's trickle pays GatherTime of latency, no more. A group holding a QoS 1 message is committed at once: the
    // broker sends no more than its in-flight window (Mosquitto's default is 20) until they are acknowledged.
    private const int GatherMessages = 512;
    private static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(5);

    private readonly int _maxMessages;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _work = new(0, 1);
    private Taken _pending = Taken.Empty();
    private Taken? _spare = Taken.Empty();
    private long _appendSequence;
    private bool _closed;
    private TaskCompletionSource? _room;

    public JournalGroup(int maxMessages, long firstSequence, PrintFarmInstrumentation metrics, ILogger logger)
    {
        _maxMessages = Math.Clamp(maxMessages, 1, JournalOptions.MaxGroupMessages);
        _appendSequence = firstSequence;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Messages gathered for the next group commit.</summary>
    public int Queued => Volatile.Read(ref _pending.CountField);

    /// <summary>
    /// Encodes a message into the group being gathered, without waiting: the hot path of the MQTT reader, which calls
    /// <see cref="NotifyWriter"/> once it has appended what one socket read brought. The spans are copied. With
    /// <paramref name="oversizeBytes"/> above zero the message's payload was not kept (over <c>MaxPayloadBytes</c>): the
    /// record holds only its topic, flags, receive time and that size.
    /// </summary>
    public AppendResult TryAppend(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retained, byte qos, DateTimeOffset receivedAt, JournalAck ack, long oversizeBytes = 0)
    {
        if (topic.Length > ushort.MaxValue)
        {
            // Cannot be journaled (MQTT itself bounds topics to what fits): not acknowledged, said and counted.
            _metrics.JournalFailures.Add(1);
            Log.LoopFailed(_logger, null!, "journal writer", $"message on a topic of {topic.Length} bytes not journaled: topics are at most 65535 bytes", TimeSpan.Zero);
            return AppendResult.Rejected;
        }

        lock (_gate)
        {
            if (_closed)
            {
                return AppendResult.Closed;
            }

            if (IsFull)
            {
                return AppendResult.Full;
            }

            var group = _pending;
            JournalCodec.Write(group.Records, _appendSequence, topic, payload, retained, qos, receivedAt, oversizeBytes);
            _appendSequence++;
            group.CountField++;
            if (!ack.IsNone)
            {
                group.Acks.Add(ack);
                group.AckEnds.Add(group.Records.WrittenCount);
            }

            return AppendResult.Appended;
        }
    }

    /// <summary>Tells the writer that messages are gathered (cheap when it already knows).</summary>
    public void NotifyWriter()
    {
        if (_work.CurrentCount == 0)
        {
            try
            {
                _work.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
            catch (ObjectDisposedException)
            {
                // Disposed: the writer is gone, and what was appended after that was refused (Closed).
            }
        }
    }

    /// <summary>Completes when the writer has taken the group gathered so far (or the group was closed).</summary>
    public Task WaitForRoomAsync(CancellationToken cancellationToken = default)
    {
        Task room;
        lock (_gate)
        {
            if (_closed || !IsFull)
            {
                return Task.CompletedTask;
            }

            room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        return room.WaitAsync(cancellationToken);
    }

    /// <summary>No more messages: what is gathered is still committed; later appends are <see cref="AppendResult.Closed"/>.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Interlocked.Exchange(ref _room, null)?.TrySetResult();
        }

        NotifyWriter();
    }

    /// <summary>The writer's wait: until messages are gathered or the group is closed.</summary>
    public async Task WaitForWorkAsync()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_pending.CountField > 0 || _closed)
                {
                    return;
                }
            }

            await _work.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits, at most GatherTime, until the group holds GatherMessages, a message that owes an acknowledgement, or the
    /// group is closed. Real time, not a TimeProvider: this is about the disk, and a test's simulated clock must not hold
    /// a group back.
    /// </summary>
    public async Task GatherAsync()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            lock (_gate)
            {
                if (_closed || _pending.CountField >= GatherMessages || _pending.Acks.Count > 0)
                {
                    return;
                }
            }

            var left = GatherTime - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            // Woken by the next socket read's messages, or by the time.
            await _work.WaitAsync(left).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Swaps the gathered group for the spare buffer; producers waiting for room go on. <paramref name="last"/> once
    /// closed and empty. Give the group back with <see cref="GiveBack"/> once it is committed.
    /// </summary>
    public Taken Take(out bool last)
    {
        lock (_gate)
        {
            var group = _pending;
            _pending = _spare ?? throw new InvalidOperationException("the previous group was not given back");
            _spare = null;
            Interlocked.Exchange(ref _room, null)?.TrySetResult();
            last = _closed && group.CountField == 0;
            return group;
        }
    }

    /// <summary>Returns a committed group's buffers for reuse.</summary>
    public void GiveBack(Taken group)
    {
        // A group that had to hold one very large message does not keep its buffer.
        if (group.Records.Capacity > 4 * JournalOptions.MaxGroupBytes)
        {
            group = Taken.Empty();
        }

        group.Reset();
        lock (_gate)
        {
            _spare = group;
        }
    }

    public void Dispose() => _work.Dispose();

    // Under _gate. A message larger than a whole group still goes into an empty one, alone.
    private bool IsFull => _pending.CountField > 0 && (_pending.CountField >= _maxMessages || _pending.Records.WrittenCount >= JournalOptions.MaxGroupBytes);

    /// <summary>
    /// One group: its records, how many, and the acknowledgements it owes, each with the end of its record in
    /// <see cref="Records"/> (a group committed in parts acknowledges each part's messages once that part is durable).
    /// </summary>
    internal sealed class Taken
    {
        internal int CountField;

        private Taken()
        {
        }

        public ArrayBufferWriter<byte> Records { get; } = new(1024 * 1024);

        public int Count => CountField;

        public List<JournalAck> Acks { get; } = [];

        public List<int> AckEnds { get; } = [];

        public static Taken Empty() => new();

        public void Reset()
        {
            Records.ResetWrittenCount();
            Acks.Clear();
            AckEnds.Clear();
            CountField = 0;
        }
    }
}
