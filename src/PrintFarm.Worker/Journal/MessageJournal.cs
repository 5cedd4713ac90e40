using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;

using PrintFarm.Worker.Pipeline;

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
/// of checksummed records (<see cref="JournalCodec"/>), made of four parts, each testable alone:
/// <list type="bullet">
/// <item><see cref="JournalGroup"/>, the group being gathered: producers encode each message straight into one buffer
/// and wait when the next group is full too (back-pressure on the socket reader; the broker keeps the backlog);</item>
/// <item><see cref="JournalSegments"/>, the segment files and their recovery: a torn tail is cut, corruption is kept
/// and quarantined (<see cref="JournalQuarantine"/>);</item>
/// <item><see cref="JournalCommitter"/>, the single writer: one write and one <c>fsync</c> per group, in parts on a
/// full disk, then the acknowledgements and the durable end the readers see;</item>
/// <item><see cref="JournalAcknowledgements"/>, which sends the QoS 1 acknowledgements in commit order.</item>
/// </list>
/// The writer and the acknowledgements run as the host's services (<see cref="JournalWriterService"/>,
/// <see cref="JournalAcknowledgementService"/>: supervised, and seen by the liveness check), or through
/// <see cref="StartWriting"/> where there is no host. The pipeline reads with a <see cref="JournalReader"/>; a checkpoint
/// records the reader's position, and segments wholly before what every kept checkpoint covers are deleted.
/// </summary>
internal sealed class MessageJournal : IMessageLog<JournalPosition>, IAsyncDisposable, IDisposable
{
    private readonly JournalGroup _group;
    private readonly JournalSegments _segments;
    private readonly JournalCommitter _committer;
    private readonly JournalAcknowledgements _acknowledgements;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _disposing = new();
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ackerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writerStarted;
    private int _ackerStarted;

    public MessageJournal(string folder, JournalOptions options, int groupMessages, TimeProvider time, PrintFarmInstrumentation metrics, ILogger logger, JournalDisk? disk = null)
    {
        _logger = logger;
        Quarantine = new JournalQuarantine(folder, metrics, logger);
        _segments = new JournalSegments(folder, options, disk ?? JournalDisk.Default, Quarantine, logger);
        _group = new JournalGroup(groupMessages, _segments.End.Sequence, metrics, logger);
        _acknowledgements = new JournalAcknowledgements(time, metrics, logger);
        _committer = new JournalCommitter(_segments, _group, _acknowledgements, time, metrics, logger);
    }

    /// <summary>The journal's folder.</summary>
    public string Folder => _segments.Folder;

    /// <summary>Damaged ranges found in the durable part: kept, counted, and degrading readiness until acknowledged.</summary>
    public JournalQuarantine Quarantine { get; }

    /// <summary>Set while group commits fail (a full or broken disk): nothing after the last commit is acknowledged.</summary>
    public JournalCommitFailure? CommitFailure => _committer.Failure;

    /// <summary>Bytes on disk.</summary>
    public long Bytes => _segments.Bytes;

    /// <summary>True while the journal holds <see cref="JournalOptions.MaxBytes"/> or more: the pipeline is that far behind.</summary>
    public bool IsFull => _segments.IsFull;

    /// <summary>Messages gathered for the next group commit.</summary>
    public int Queued => _group.Queued;

    /// <summary>The start of the oldest segment kept.</summary>
    public JournalPosition Start => _segments.Start;

    /// <summary>The end of what is durable: every record before it is on disk.</summary>
    public JournalPosition End => _committer.End;

    internal bool IsCompleted => _committer.IsCompleted;

    internal Task CommittedSignal => _committer.CommittedSignal;

    /// <summary>Starts the writer and the acknowledgements on the thread pool, where no host runs them. Idempotent.</summary>
    public void StartWriting()
    {
        if (Interlocked.Exchange(ref _writerStarted, 1) == 0)
        {
            _ = Task.Run(WriteAsync);
        }

        if (Interlocked.Exchange(ref _ackerStarted, 1) == 0)
        {
            _ = Task.Run(AcknowledgeAsync);
        }
    }

    /// <summary>
    /// The writer: commits groups until the journal is completed (<see cref="CompleteAsync"/>); faults when it fails. At
    /// most one runs: a second call (or one after <see cref="StartWriting"/>) waits for the first.
    /// </summary>
    public Task RunWriterAsync() => Interlocked.Exchange(ref _writerStarted, 1) == 0 ? WriteAsync() : _writerDone.Task;

    /// <summary>Sends the acknowledgements of committed messages until the writer has stopped and all are sent.</summary>
    public Task RunAcknowledgementsAsync() => Interlocked.Exchange(ref _ackerStarted, 1) == 0 ? AcknowledgeAsync() : _ackerDone.Task;

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

    /// <inheritdoc cref="JournalGroup.TryAppend"/>
    public AppendResult TryAppend(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retained, byte qos, DateTimeOffset receivedAt, JournalAck ack, long oversizeBytes = 0) =>
        _group.TryAppend(topic, payload, retained, qos, receivedAt, ack, oversizeBytes);

    /// <inheritdoc cref="JournalGroup.NotifyWriter"/>
    public void NotifyWriter() => _group.NotifyWriter();

    /// <inheritdoc cref="JournalGroup.WaitForRoomAsync"/>
    public Task WaitForRoomAsync(CancellationToken cancellationToken = default) => _group.WaitForRoomAsync(cancellationToken);

    /// <summary>No more messages: what is gathered is still committed, and the writer stops after it (without waiting for it).</summary>
    public void Close() => _group.Close();

    /// <summary>
    /// No more messages: writes what is gathered, sends its acknowledgements, and waits for the writer to stop. A writer
    /// that failed is not rethrown here: its own task (the host's service) carries the fault.
    /// </summary>
    public async Task CompleteAsync()
    {
        _group.Close();
        if (Volatile.Read(ref _writerStarted) != 0)
        {
            await _writerDone.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else
        {
            _acknowledgements.Complete();
            _committer.MarkCompleted();
        }

        if (Volatile.Read(ref _ackerStarted) != 0)
        {
            await _ackerDone.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>A reader from <paramref name="from"/> (a checkpoint's position), or from the oldest record kept.</summary>
    public JournalReader OpenReader(JournalPosition? from)
    {
        var start = Start;
        var end = End;
        var position = from ?? start;
        if (from is { } p && (p < start || p > end || !_segments.Contains(p.Segment)))
        {
            // The checkpoint and the journal disagree (the journal was removed or replaced by hand): read what is there.
            Log.JournalPositionMissing(_logger, p.ToString(), start.ToString(), end.ToString());
            position = p > end ? end : start;
        }

        return new JournalReader(this, position);
    }

    /// <summary>Deletes the segments wholly before <paramref name="position"/>: a checkpoint covers every record in them.</summary>
    public int DeleteBefore(JournalPosition position) => _segments.DeleteBefore(position);

    string IMessageLog<JournalPosition>.Name => "journal " + Folder;

    // Segments are named by their first sequence: while the first one is there, nothing was ever deleted.
    bool IMessageLog<JournalPosition>.HoldsEverything => Start.Segment == 0;

    long IMessageLog<JournalPosition>.NextSequence => End.Sequence;

    string? IMessageLog<JournalPosition>.DescribeBacklog(JournalPosition from)
    {
        var end = End;
        var bytes = end.Segment == from.Segment ? end.Offset - from.Offset : Bytes;
        return bytes > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes} bytes") : null;
    }

    IMessageLogReader<JournalPosition> IMessageLog<JournalPosition>.OpenReader(JournalPosition? from) => OpenReader(from);

    void IMessageLog<JournalPosition>.Release(JournalPosition position) => DeleteBefore(position);

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

        await _segments.DisposeAsync().ConfigureAwait(false);
        _group.Dispose();
        _disposing.Dispose();
    }

    // The host may dispose synchronously.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    internal string SegmentPath(long first) => _segments.SegmentPath(first);

    private async Task WriteAsync()
    {
        try
        {
            await _committer.RunAsync(_disposing.Token).ConfigureAwait(false);
            _writerDone.TrySetResult();
        }
        catch (Exception ex)
        {
            _writerDone.TrySetException(ex);
            throw;
        }
    }

    private async Task AcknowledgeAsync()
    {
        try
        {
            await _acknowledgements.RunAsync().ConfigureAwait(false);
            _ackerDone.TrySetResult();
        }
        catch (Exception ex)
        {
            _ackerDone.TrySetException(ex);
            throw;
        }
    }

    /// <summary>The segment after <paramref name="segment"/>, if any.</summary>
    internal long? NextSegment(long segment) => _segments.NextSegment(segment);

    internal long SegmentLength(long segment) => _segments.SegmentLength(segment);
}
