using System.Buffers;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Journal;

/// <summary>A message handed to the journal, with the acknowledgement to send once it is on disk (QoS 1 and 2).</summary>
internal readonly record struct JournalEntry(string Topic, byte[] Payload, bool Retained, byte QoS, DateTimeOffset ReceivedAt, Func<CancellationToken, Task>? Acknowledge, long OversizeBytes = 0);

/// <summary>Sends the acknowledgements of QoS 1 messages on the connection they came on (PUBACKs, in order).</summary>
internal interface IJournalAcknowledger
{
    Task AcknowledgeAsync(IReadOnlyList<ushort> packetIds, CancellationToken cancellationToken);
}

/// <summary>
/// The acknowledgement owed for one journaled message, to send once its group is on disk: a packet identifier on a
/// connection (acknowledged together with the others of that connection), or a callback (MQTTnet's handler path).
/// </summary>
internal readonly record struct JournalAck(IJournalAcknowledger? Connection, ushort PacketId, Func<CancellationToken, Task>? Callback)
{
    public bool IsNone => Connection is null && Callback is null;
}

/// <summary>What <see cref="MessageJournal.TryAppend"/> did with a message.</summary>
internal enum AppendResult
{
    /// <summary>In the group being gathered; durable at its commit.</summary>
    Appended,

    /// <summary>The group being gathered is full: wait for <see cref="MessageJournal.WaitForRoomAsync"/>, then append again.</summary>
    Full,

    /// <summary>The journal takes no more messages (stopping): not journaled, not acknowledged.</summary>
    Closed,

    /// <summary>It cannot be journaled (a topic longer than MQTT allows): not acknowledged, counted and logged.</summary>
    Rejected,
}

/// <summary>
/// The write-ahead log of received MQTT messages: append-only segment files <c>{journal}/{first sequence:D20}.log</c>
/// of checksummed records (<see cref="JournalCodec"/>). Producers encode each message straight into the group being
/// gathered (one buffer, no queue of objects); one writer task takes the whole group, appends it to the segment,
/// makes it durable with one <c>fsync</c>, and only then acknowledges the QoS 1 messages in it to the broker (group
/// commit). While it commits, producers fill a second buffer; when that one is full too they wait for the commit, so a
/// slow disk holds back the socket reader and the broker keeps the backlog. The pipeline reads the journal with a <see cref="JournalReader"/>; a checkpoint
/// records the reader's position, and segments wholly before that position are deleted. After a crash the last group
/// may be cut short: opening the journal truncates a torn tail — bad bytes with no valid record after them in the last
/// segment (nothing of it had been acknowledged). Bad bytes with valid records after them are corruption: they are kept
/// and quarantined, and reading goes on at the next valid record (<see cref="JournalQuarantine"/>). A group that cannot
/// be written whole (a full disk) is committed in parts, each acknowledged once it is durable.
/// </summary>
internal sealed class MessageJournal : IAsyncDisposable, IDisposable
{
    private const string Extension = ".log";
    private const int MaxGroupMessages = 4096;
    private const int MaxGroupBytes = 4 * 1024 * 1024;

    // A group of QoS 0 messages smaller than this waits up to GatherTime from its first message for more before it is
    // committed: an fsync costs ~0.1 ms of CPU on the reference VM whatever it carries, so under load a few hundred
    // messages share one instead of the few dozen one socket read brings (docs/benchmarks.md, "the fourth round"). A
    // farm's trickle pays GatherTime of latency, no more. A group holding a QoS 1 message is committed at once: the
    // broker sends no more than its in-flight window (Mosquitto's default is 20) until they are acknowledged.
    private const int GatherMessages = 512;
    private static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(5);

    private readonly JournalOptions _options;
    private readonly TimeProvider _time;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger _logger;
    private readonly JournalDisk _disk;
    private readonly LogThrottle _throttle;
    private readonly int _maxGroupMessages;
    private readonly object _pendingGate = new();
    private readonly SemaphoreSlim _work = new(0, 1);
    private readonly Channel<JournalAck> _acks = Channel.CreateUnbounded<JournalAck>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private ArrayBufferWriter<byte> _pending = new(1024 * 1024);
    private ArrayBufferWriter<byte> _spare = new(1024 * 1024);
    private List<JournalAck> _pendingAcks = [];
    private List<JournalAck> _spareAcks = [];

    // For each acknowledgement in _pendingAcks, the end of its record in the group: a group committed in parts
    // acknowledges the messages of each part once that part is durable.
    private List<int> _pendingAckEnds = [];
    private List<int> _spareAckEnds = [];
    private int _pendingCount;
    private long _appendSequence;
    private bool _closed;
    private TaskCompletionSource? _room;
    private readonly object _segmentsGate = new();
    private readonly SortedList<long, long> _segments = [];
    private readonly SemaphoreSlim _spaceFreed = new(0, 1);
    private readonly CancellationTokenSource _disposing = new();
    private FileStream _current;
    private long _currentSegment;
    private long _currentEnd;
    private long _nextSequence;
    private JournalCommitFailure? _failure;
    private long _bytes;
    private Committed _committed;
    private TaskCompletionSource _committedSignal = NewSignal();
    private Task? _writer;
    private Task? _acker;

    public MessageJournal(string folder, JournalOptions options, int queueCapacity, TimeProvider time, PrintFarmInstrumentation metrics, ILogger logger, JournalDisk? disk = null)
    {
        Folder = folder;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _disk = disk ?? JournalDisk.Default;
        Quarantine = new JournalQuarantine(folder, metrics, logger);
        _throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
        _maxGroupMessages = Math.Clamp(queueCapacity, 1, MaxGroupMessages);

        Directory.CreateDirectory(folder);
        foreach (var path in Directory.EnumerateFiles(folder, "*" + Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                var length = new FileInfo(path).Length;
                _segments.Add(first, length);
                _bytes += length;
            }
        }

        if (_segments.Count == 0)
        {
            _segments.Add(0, 0);
        }

        _currentSegment = _segments.Keys[^1];
        _current = new FileStream(SegmentPath(_currentSegment), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var (end, next, cut) = Recover(_current, _currentSegment);
        _currentEnd = end;
        if (cut > 0)
        {
            Log.JournalTruncated(_logger, SegmentPath(_currentSegment), cut, end);
        }

        _bytes -= _segments[_currentSegment] - end;
        _segments[_currentSegment] = end;
        _current.Position = end;
        _nextSequence = next;
        _appendSequence = next;
        _committed = new Committed(_currentSegment, end, next);
    }

    /// <summary>The journal's folder.</summary>
    public string Folder { get; }

    /// <summary>Damaged ranges found in the durable part: kept, counted, and degrading readiness until acknowledged.</summary>
    public JournalQuarantine Quarantine { get; }

    /// <summary>Set while group commits fail (a full or broken disk): nothing after the last commit is acknowledged.</summary>
    public JournalCommitFailure? CommitFailure => Volatile.Read(ref _failure);

    /// <summary>Bytes on disk.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>True while the journal holds <see cref="JournalOptions.MaxBytes"/> or more: the pipeline is that far behind.</summary>
    public bool IsFull => Bytes >= _options.MaxBytes;

    /// <summary>Messages gathered for the next group commit.</summary>
    public int Queued => Volatile.Read(ref _pendingCount);

    /// <summary>The start of the oldest segment kept.</summary>
    public JournalPosition Start
    {
        get
        {
            lock (_segmentsGate)
            {
                var first = _segments.Keys[0];
                return new JournalPosition(first, 0, first);
            }
        }
    }

    /// <summary>The end of what is durable: every record before it is on disk.</summary>
    public JournalPosition End => Volatile.Read(ref _committed).Position;

    internal bool IsCompleted => Volatile.Read(ref _committed).Completed;

    internal Task CommittedSignal => Volatile.Read(ref _committedSignal).Task;

    /// <summary>Starts the writer. Idempotent.</summary>
    public void StartWriting()
    {
        lock (_segmentsGate)
        {
            _writer ??= Task.Run(WriteLoopAsync);
            _acker ??= Task.Run(AckLoopAsync);
        }
    }

    /// <summary>
    /// Adds a message to the group being gathered, encoded as its record, and wakes the writer; waits while the group is
    /// full (back-pressure on the caller).
    /// </summary>
    /// <exception cref="InvalidOperationException">The journal was completed: it takes no more messages.</exception>
    public async ValueTask AppendAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        var ack = entry.Acknowledge is { } callback ? new JournalAck(null, 0, callback) : default;
        var topic = System.Text.Encoding.UTF8.GetBytes(entry.Topic);
        while (true)
        {
            switch (TryAppend(topic, entry.Payload, entry.Retained, entry.QoS, entry.ReceivedAt, ack, entry.OversizeBytes))
            {
                case AppendResult.Appended:
                    NotifyWriter();
                    return;
                case AppendResult.Full:
                    NotifyWriter();
                    await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case AppendResult.Closed:
                    throw new InvalidOperationException("the journal is completed and takes no more messages");
                default:
                    return;
            }
        }
    }

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

        lock (_pendingGate)
        {
            if (_closed)
            {
                return AppendResult.Closed;
            }

            if (GroupIsFull)
            {
                return AppendResult.Full;
            }

            JournalCodec.Write(_pending, _appendSequence, topic, payload, retained, qos, receivedAt, oversizeBytes);
            _appendSequence++;
            _pendingCount++;
            if (!ack.IsNone)
            {
                _pendingAcks.Add(ack);
                _pendingAckEnds.Add(_pending.WrittenCount);
            }

            return AppendResult.Appended;
        }
    }

    // Under _pendingGate. A message larger than a whole group still goes into an empty one, alone.
    private bool GroupIsFull => _pendingCount > 0 && (_pendingCount >= _maxGroupMessages || _pending.WrittenCount >= MaxGroupBytes);

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

    /// <summary>Completes when the writer has taken the group gathered so far (or the journal is completed).</summary>
    public Task WaitForRoomAsync(CancellationToken cancellationToken = default)
    {
        Task room;
        lock (_pendingGate)
        {
            if (_closed || !GroupIsFull)
            {
                return Task.CompletedTask;
            }

            room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        return room.WaitAsync(cancellationToken);
    }

    /// <summary>No more messages: writes what is gathered, sends its acknowledgements, and stops the writer.</summary>
    public async Task CompleteAsync()
    {
        lock (_pendingGate)
        {
            _closed = true;
            Interlocked.Exchange(ref _room, null)?.TrySetResult();
        }

        NotifyWriter();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
        else
        {
            MarkCompleted();
        }

        if (_acker is not null)
        {
            await _acker.ConfigureAwait(false);
        }
    }

    /// <summary>A reader from <paramref name="from"/> (a checkpoint's position), or from the oldest record kept.</summary>
    public JournalReader OpenReader(JournalPosition? from)
    {
        var start = Start;
        var end = End;
        var position = from ?? start;
        if (from is { } p && (p < start || p > end || !SegmentExists(p.Segment)))
        {
            // The checkpoint and the journal disagree (the journal was removed or replaced by hand): read what is there.
            Log.JournalPositionMissing(_logger, p.ToString(), start.ToString(), end.ToString());
            position = p > end ? end : start;
        }

        return new JournalReader(this, position);
    }

    /// <summary>Deletes the segments wholly before <paramref name="position"/>: a checkpoint covers every record in them.</summary>
    public int DeleteBefore(JournalPosition position)
    {
        List<long> doomed = [];
        lock (_segmentsGate)
        {
            foreach (var (first, _) in _segments)
            {
                if (first < position.Segment && first != _currentSegment)
                {
                    doomed.Add(first);
                }
            }
        }

        var deleted = 0;
        foreach (var first in doomed)
        {
            try
            {
                File.Delete(SegmentPath(first));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Kept for now: the next checkpoint tries again, and a restart reads past it from the checkpoint's position.
                Log.JournalDeleteFailed(_logger, ex, SegmentPath(first));
                continue;
            }

            lock (_segmentsGate)
            {
                if (_segments.Remove(first, out var length))
                {
                    Interlocked.Add(ref _bytes, -length);
                }
            }

            deleted++;
        }

        if (deleted > 0 && _spaceFreed.CurrentCount == 0)
        {
            try
            {
                _spaceFreed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }

        return deleted;
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync().ConfigureAwait(false);
        try
        {
            await CompleteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Disposed while a commit was failing: what is not on disk was not acknowledged.
        }

        await _current.DisposeAsync().ConfigureAwait(false);
        _spaceFreed.Dispose();
        _work.Dispose();
        _disposing.Dispose();
    }

    // The host may dispose synchronously.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    internal string SegmentPath(long first) => Path.Combine(Folder, first.ToString("D20", CultureInfo.InvariantCulture) + Extension);

    /// <summary>The segment after <paramref name="segment"/>, if any.</summary>
    internal long? NextSegment(long segment)
    {
        lock (_segmentsGate)
        {
            var index = _segments.IndexOfKey(segment);
            if (index < 0)
            {
                // Deleted under the reader (cannot happen for unread segments): go to the first one after it.
                foreach (var first in _segments.Keys)
                {
                    if (first > segment)
                    {
                        return first;
                    }
                }

                return null;
            }

            return index + 1 < _segments.Count ? _segments.Keys[index + 1] : null;
        }
    }

    internal long SegmentLength(long segment)
    {
        lock (_segmentsGate)
        {
            return _segments.TryGetValue(segment, out var length) ? length : 0;
        }
    }

    private bool SegmentExists(long segment)
    {
        lock (_segmentsGate)
        {
            return _segments.ContainsKey(segment);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Finds the end of the last whole record of the segment a crash may have cut short, and cuts off a torn tail: bad
    // bytes with no valid record after them. Bad bytes with valid records after them are corruption, not a crash: they
    // are quarantined and kept (the reader skips them), never cut.
    private (long End, long NextSequence, long CutBytes) Recover(FileStream file, long first)
    {
        var length = file.Length;
        var path = SegmentPath(first);
        byte[] buffer = [];
        long offset = 0;
        var next = first;
        while (offset < length)
        {
            if (JournalQuarantine.TryReadRecord(file.SafeFileHandle, offset, length, ref buffer, out var total, out var sequence))
            {
                offset += total;
                next = sequence + 1;
                continue;
            }

            if (Quarantine.Skip(path, first, offset, length, next, tailMayBeTorn: true) is not { } resume)
            {
                break;
            }

            offset = resume.Offset;
        }

        if (offset < length)
        {
            file.SetLength(offset);
            file.Flush(flushToDisk: true);
        }

        return (offset, next, length - offset);
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                if (!HasPendingOrClosed())
                {
                    await _work.WaitAsync().ConfigureAwait(false);
                    continue;
                }

                await GatherAsync().ConfigureAwait(false);
                await WaitForSpaceAsync().ConfigureAwait(false);
                var (group, count, acks, ackEnds, last) = TakeGroup();
                if (count > 0)
                {
                    await CommitAsync(group.WrittenMemory, count, acks, ackEnds).ConfigureAwait(false);
                }

                GiveBack(group, acks, ackEnds);
                if (last)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
        {
            // Disposed while the disk was failing: nothing of the group was acknowledged.
        }
        finally
        {
            _acks.Writer.TryComplete();
            MarkCompleted();
        }
    }

    // Waits, at most GatherTime, until the group holds GatherMessages or the journal is completed. Real time, not the
    // TimeProvider: this is about the disk, and a test's simulated clock must not hold a group back.
    private async Task GatherAsync()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            lock (_pendingGate)
            {
                if (_closed || _pendingCount >= GatherMessages || _pendingAcks.Count > 0)
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

    private bool HasPendingOrClosed()
    {
        lock (_pendingGate)
        {
            return _pendingCount > 0 || _closed;
        }
    }

    // Swaps the gathered group for the spare buffer; producers waiting for room go on. `Last` once completed and empty.
    private (ArrayBufferWriter<byte> Group, int Count, List<JournalAck> Acks, List<int> AckEnds, bool Last) TakeGroup()
    {
        lock (_pendingGate)
        {
            var group = _pending;
            var acks = _pendingAcks;
            var ackEnds = _pendingAckEnds;
            var count = _pendingCount;
            _pending = _spare;
            _pendingAcks = _spareAcks;
            _pendingAckEnds = _spareAckEnds;
            _pendingCount = 0;
            _spare = null!;
            _spareAcks = null!;
            _spareAckEnds = null!;
            Interlocked.Exchange(ref _room, null)?.TrySetResult();
            return (group, count, acks, ackEnds, _closed && count == 0);
        }
    }

    private void GiveBack(ArrayBufferWriter<byte> group, List<JournalAck> acks, List<int> ackEnds)
    {
        // A group that had to hold one very large message does not keep its buffer.
        if (group.Capacity > 4 * MaxGroupBytes)
        {
            group = new ArrayBufferWriter<byte>(1024 * 1024);
        }

        group.ResetWrittenCount();
        acks.Clear();
        ackEnds.Clear();
        lock (_pendingGate)
        {
            _spare = group;
            _spareAcks = acks;
            _spareAckEnds = ackEnds;
        }
    }

    // Writes one group and fsyncs it; on a disk error cuts the partial write off and tries again until it succeeds:
    // nothing in the group is acknowledged or read before it is durable. A group that fails is cut back: its first half
    // (whole records) is tried at once, and so on down to one record, which is retried with back-off; after each part
    // that succeeds the rest is tried whole again. So a group larger than the space left on a full disk commits what
    // fits, its acknowledgements go out, and the pipeline can go on (and a checkpoint free segments) instead of the whole
    // group being retried forever.
    private async Task CommitAsync(ReadOnlyMemory<byte> group, int messages, List<JournalAck> acks, List<int> ackEnds)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        var done = 0;
        var doneMessages = 0;
        var acked = 0;
        var part = group.Length;
        var split = false;
        while (done < group.Length)
        {
            var (partBytes, partMessages) = Prefix(group.Span[done..], part);
            try
            {
                if (_currentEnd >= _options.SegmentBytes)
                {
                    Roll();
                }

                var start = _currentEnd;
                try
                {
                    _disk.Append(_current, start, group.Span.Slice(done, partBytes));
                }
                catch
                {
                    TryCut(start);
                    throw;
                }

                _currentEnd = start + partBytes;
                lock (_segmentsGate)
                {
                    _segments[_currentSegment] = _currentEnd;
                }

                Interlocked.Add(ref _bytes, partBytes);
                _nextSequence += partMessages;
                Publish(new Committed(_currentSegment, _currentEnd, _nextSequence));
                _metrics.JournalAppended.Add(partMessages);
                _metrics.JournalCommits.Add(1);
                done += partBytes;
                doneMessages += partMessages;
                while (acked < acks.Count && ackEnds[acked] <= done)
                {
                    _acks.Writer.TryWrite(acks[acked++]);
                }

                part = group.Length - done;
                delay = TimeSpan.FromMilliseconds(100);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _metrics.JournalFailures.Add(1);
                var failing = Volatile.Read(ref _failure);
                Volatile.Write(ref _failure, new JournalCommitFailure(failing?.Since ?? _time.GetUtcNow(), ex.Message, messages - doneMessages));
                if (partMessages > 1)
                {
                    part = partBytes / 2;
                    if (!split)
                    {
                        split = true;
                        Log.JournalGroupSplit(_logger, group.Length - done, messages - doneMessages, ex.Message, part);
                    }

                    continue;
                }

                if (_throttle.ShouldLog("commit", out var suppressed))
                {
                    Log.JournalWriteFailed(_logger, ex, Folder, messages - doneMessages, delay, suppressed);
                }

                await Task.Delay(delay, _time, _disposing.Token).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }

        if (Interlocked.Exchange(ref _failure, null) is { } failed)
        {
            Log.JournalCommitsResumed(_logger, _time.GetUtcNow() - failed.Since);
        }
    }

    // The longest run of whole records at the start of `records` within `maxBytes`; at least one record.
    private static (int Bytes, int Messages) Prefix(ReadOnlySpan<byte> records, int maxBytes)
    {
        var bytes = 0;
        var count = 0;
        while (bytes + JournalCodec.HeaderBytes <= records.Length)
        {
            var length = JournalCodec.HeaderBytes + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(records[bytes..]);
            if (count > 0 && bytes + length > maxBytes)
            {
                break;
            }

            bytes += length;
            count++;
        }

        return (bytes, count);
    }

    private void TryCut(long length)
    {
        try
        {
            _current.SetLength(length);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The next attempt writes at the committed end again; a restart cuts whatever is past the last whole record.
        }
    }

    private void Roll()
    {
        var next = new FileStream(SegmentPath(_nextSequence), FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var old = _current;
        lock (_segmentsGate)
        {
            _segments[_nextSequence] = 0;
            _current = next;
            _currentSegment = _nextSequence;
            _currentEnd = 0;
        }

        old.Dispose();
    }

    private async Task WaitForSpaceAsync()
    {
        while (IsFull)
        {
            if (_throttle.ShouldLog("full", out _))
            {
                Log.JournalFull(_logger, Folder, Bytes, _options.MaxBytes);
            }

            await _spaceFreed.WaitAsync(TimeSpan.FromSeconds(1), _disposing.Token).ConfigureAwait(false);
        }
    }

    // Sends what the committed groups owe, in order; consecutive acknowledgements on one connection go out together.
    private async Task AckLoopAsync()
    {
        var reader = _acks.Reader;
        var ids = new List<ushort>();
        IJournalAcknowledger? connection = null;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var ack))
            {
                if (ack.Connection is not null && (connection is null || ReferenceEquals(connection, ack.Connection)))
                {
                    connection = ack.Connection;
                    ids.Add(ack.PacketId);
                    continue;
                }

                await SendAcksAsync(connection, ids).ConfigureAwait(false);
                connection = ack.Connection;
                if (ack.Connection is not null)
                {
                    ids.Add(ack.PacketId);
                }
                else
                {
                    await SendAckAsync(() => ack.Callback!(CancellationToken.None)).ConfigureAwait(false);
                }
            }

            await SendAcksAsync(connection, ids).ConfigureAwait(false);
            connection = null;
        }
    }

    private async Task SendAcksAsync(IJournalAcknowledger? connection, List<ushort> ids)
    {
        if (connection is not null && ids.Count > 0)
        {
            await SendAckAsync(() => connection.AcknowledgeAsync(ids, CancellationToken.None)).ConfigureAwait(false);
        }

        ids.Clear();
    }

    private async Task SendAckAsync(Func<Task> send)
    {
        try
        {
            await send().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The connection dropped before the acknowledgement went out: the broker sends the message again and the
            // job tracker's de-duplication keeps it from counting twice.
            _metrics.JournalAckFailures.Add(1);
            if (_throttle.ShouldLog("ack", out var suppressed))
            {
                Log.JournalAckFailed(_logger, ex.Message, suppressed);
            }
        }
    }

    private void Publish(Committed committed)
    {
        Volatile.Write(ref _committed, committed);
        Interlocked.Exchange(ref _committedSignal, NewSignal()).TrySetResult();
    }

    private void MarkCompleted()
    {
        var last = Volatile.Read(ref _committed);
        Publish(last with { Completed = true });
    }

    private sealed record Committed(long Segment, long Offset, long NextSequence, bool Completed = false)
    {
        public JournalPosition Position => new(Segment, Offset, NextSequence);
    }
}
