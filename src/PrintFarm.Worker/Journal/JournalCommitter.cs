using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// The journal's single writer: takes the whole gathered group, appends it to the segments, makes it durable with one
/// <c>fsync</c>, and only then posts the acknowledgements of the messages in it and moves the durable end the readers
/// see (group commit). A group that cannot be written whole (a full disk) is committed in parts, each acknowledged once
/// it is durable; a single record that cannot be written is retried with back-off while <see cref="Failure"/> says so.
/// </summary>
internal sealed class JournalCommitter
{
    private readonly JournalSegments _segments;
    private readonly JournalGroup _group;
    private readonly JournalAcknowledgements _acks;
    private readonly TimeProvider _time;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;
    private Committed _committed;
    private TaskCompletionSource _committedSignal = NewSignal();
    private JournalCommitFailure? _failure;

    public JournalCommitter(JournalSegments segments, JournalGroup group, JournalAcknowledgements acks, TimeProvider time, PrintFarmInstrumentation metrics, ILogger logger)
    {
        _segments = segments;
        _group = group;
        _acks = acks;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
        _committed = new Committed(segments.End);
    }

    /// <summary>The end of what is durable: every record before it is on disk.</summary>
    public JournalPosition End => Volatile.Read(ref _committed).Position;

    /// <summary>True once the writer has stopped: nothing more becomes durable.</summary>
    public bool IsCompleted => Volatile.Read(ref _committed).Completed;

    /// <summary>Completes at the next commit (or when the writer stops).</summary>
    public Task CommittedSignal => Volatile.Read(ref _committedSignal).Task;

    /// <summary>Set while group commits fail (a full or broken disk): nothing after the last commit is acknowledged.</summary>
    public JournalCommitFailure? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Commits groups until the group is closed and empty. <paramref name="aborted"/> gives up a commit that is failing
    /// (the journal is disposed): what was not on disk was not acknowledged.
    /// </summary>
    public async Task RunAsync(CancellationToken aborted)
    {
        try
        {
            while (true)
            {
                await _group.WaitForWorkAsync().ConfigureAwait(false);
                await _group.GatherAsync().ConfigureAwait(false);
                await WaitForSpaceAsync(aborted).ConfigureAwait(false);
                var group = _group.Take(out var last);
                if (group.Count > 0)
                {
                    await CommitAsync(group, aborted).ConfigureAwait(false);
                }

                _group.GiveBack(group);
                if (last)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // Disposed while the disk was failing: nothing of the group was acknowledged.
        }
        finally
        {
            _acks.Complete();
            MarkCompleted();
        }
    }

    /// <summary>Marks the journal completed without a writer (one that never started).</summary>
    public void MarkCompleted()
    {
        var last = Volatile.Read(ref _committed);
        Publish(last with { Completed = true });
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Writes one group and fsyncs it; on a disk error the partial write is cut off and it is tried again until it
    // succeeds: nothing in the group is acknowledged or read before it is durable. A group that fails is cut back: its
    // first half (whole records) is tried at once, and so on down to one record, which is retried with back-off; after
    // each part that succeeds the rest is tried whole again. So a group larger than the space left on a full disk
    // commits what fits, its acknowledgements go out, and the pipeline can go on (and a checkpoint free segments)
    // instead of the whole group being retried forever.
    private async Task CommitAsync(JournalGroup.Taken taken, CancellationToken aborted)
    {
        var group = taken.Records.WrittenMemory;
        var messages = taken.Count;
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
                var end = _segments.Append(group.Span.Slice(done, partBytes), partMessages);
                Publish(new Committed(end));
                _metrics.JournalAppended.Add(partMessages);
                _metrics.JournalCommits.Add(1);
                done += partBytes;
                doneMessages += partMessages;
                while (acked < taken.Acks.Count && taken.AckEnds[acked] <= done)
                {
                    _acks.Post(taken.Acks[acked++]);
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
                    Log.JournalWriteFailed(_logger, ex, _segments.Folder, messages - doneMessages, delay, suppressed);
                }

                await Task.Delay(delay, _time, aborted).ConfigureAwait(false);
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

    private async Task WaitForSpaceAsync(CancellationToken aborted)
    {
        while (_segments.IsFull)
        {
            if (_throttle.ShouldLog("full", out _))
            {
                Log.JournalFull(_logger, _segments.Folder, _segments.Bytes, _segments.MaxBytes);
            }

            await _segments.WaitForSpaceFreedAsync(TimeSpan.FromSeconds(1), aborted).ConfigureAwait(false);
        }
    }

    private void Publish(Committed committed)
    {
        Volatile.Write(ref _committed, committed);
        Interlocked.Exchange(ref _committedSignal, NewSignal()).TrySetResult();
    }

    private sealed record Committed(JournalPosition Position, bool Completed = false);
}
