using System.Globalization;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// The journal's segment files, <c>{journal}/{first sequence:D20}.log</c>, and their recovery: the set kept on disk,
/// the one being appended to, and the bytes they hold. Opening the set recovers the last segment after a crash: a torn
/// tail (bad bytes with no valid record after them) is cut — nothing of it was acknowledged — while bad bytes with
/// valid records after them are corruption, kept and handed to the <see cref="JournalQuarantine"/>, never cut.
/// <para>
/// One writer (the <see cref="JournalCommitter"/>) appends; the readers and the checkpoint's trimming ask for lengths
/// and delete whole segments under the set's lock.
/// </para>
/// </summary>
internal sealed class JournalSegments : IAsyncDisposable
{
    private const string Extension = ".log";

    private readonly JournalOptions _options;
    private readonly JournalDisk _disk;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly SortedList<long, long> _lengths = [];
    private readonly SemaphoreSlim _spaceFreed = new(0, 1);
    private FileStream _current;
    private long _currentSegment;
    private long _currentEnd;
    private long _nextSequence;
    private long _bytes;
    private long _freeKnown; // 0 until first asked: the first commit asks
    private long _freeCheckedAt;

    /// <summary>Opens (or creates) the segments in <paramref name="folder"/> and recovers the last one.</summary>
    public JournalSegments(string folder, JournalOptions options, JournalDisk disk, JournalQuarantine quarantine, ILogger logger)
    {
        Folder = folder;
        _options = options;
        _disk = disk;
        _logger = logger;
        Quarantine = quarantine;

        Directory.CreateDirectory(folder);
        foreach (var path in Directory.EnumerateFiles(folder, "*" + Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                var length = new FileInfo(path).Length;
                _lengths.Add(first, length);
                _bytes += length;
            }
        }

        if (_lengths.Count == 0)
        {
            _lengths.Add(0, 0);
        }

        _currentSegment = _lengths.Keys[^1];
        _current = new FileStream(SegmentPath(_currentSegment), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var (end, next, cut) = Recover(_current, _currentSegment);
        _currentEnd = end;
        if (cut > 0)
        {
            Log.JournalTruncated(_logger, SegmentPath(_currentSegment), cut, end);
        }

        _bytes -= _lengths[_currentSegment] - end;
        _lengths[_currentSegment] = end;
        _current.Position = end;
        _nextSequence = next;
    }

    /// <summary>The journal's folder.</summary>
    public string Folder { get; }

    /// <summary>Damaged ranges found in the durable part.</summary>
    public JournalQuarantine Quarantine { get; }

    /// <summary>Bytes on disk.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The disk the segments may use (<see cref="JournalOptions.MaxBytes"/>).</summary>
    public long MaxBytes => _options.MaxBytes;

    /// <summary>True while the segments hold <see cref="JournalOptions.MaxBytes"/> or more.</summary>
    public bool IsFull => Bytes >= _options.MaxBytes;

    /// <summary>The end of the last record written (after recovery: of the last whole record).</summary>
    public JournalPosition End => new(_currentSegment, _currentEnd, _nextSequence);

    /// <summary>The start of the oldest segment kept.</summary>
    public JournalPosition Start
    {
        get
        {
            lock (_gate)
            {
                var first = _lengths.Keys[0];
                return new JournalPosition(first, 0, first);
            }
        }
    }

    /// <summary>The file of the segment whose first record is <paramref name="first"/>.</summary>
    public string SegmentPath(long first) => Path.Combine(Folder, first.ToString("D20", CultureInfo.InvariantCulture) + Extension);

    /// <summary>The segment after <paramref name="segment"/>, if any.</summary>
    public long? NextSegment(long segment)
    {
        lock (_gate)
        {
            var index = _lengths.IndexOfKey(segment);
            if (index < 0)
            {
                // Deleted under the reader (cannot happen for unread segments): go to the first one after it.
                foreach (var first in _lengths.Keys)
                {
                    if (first > segment)
                    {
                        return first;
                    }
                }

                return null;
            }

            return index + 1 < _lengths.Count ? _lengths.Keys[index + 1] : null;
        }
    }

    /// <summary>The bytes written to <paramref name="segment"/> (0 when it is not kept).</summary>
    public long SegmentLength(long segment)
    {
        lock (_gate)
        {
            return _lengths.TryGetValue(segment, out var length) ? length : 0;
        }
    }

    /// <summary>True when <paramref name="segment"/> is kept.</summary>
    public bool Contains(long segment)
    {
        lock (_gate)
        {
            return _lengths.ContainsKey(segment);
        }
    }

    /// <summary>
    /// Appends <paramref name="messages"/> whole records to the current segment (a new one first when it is past
    /// <see cref="JournalOptions.SegmentBytes"/>) and makes them durable; returns the new end. The single writer's call.
    /// </summary>
    /// <exception cref="IOException">The write or the fsync failed: the partial write was cut off (as far as the disk allows) and the end is unchanged.</exception>
    public JournalPosition Append(ReadOnlySpan<byte> records, int messages)
    {
        if (_currentEnd >= _options.SegmentBytes)
        {
            Roll();
        }

        KeepReserve(records.Length);
        var start = _currentEnd;
        try
        {
            _disk.Append(_current, start, records);
        }
        catch
        {
            TryCut(start);
            throw;
        }

        _currentEnd = start + records.Length;
        lock (_gate)
        {
            _lengths[_currentSegment] = _currentEnd;
        }

        Interlocked.Add(ref _bytes, records.Length);
        _nextSequence += messages;
        return End;
    }

    // Journal:DiskReserveBytes: the journal stops short of filling its disk, as a full disk would stop it, so that a
    // checkpoint (after which segments are deleted) still fits. The free space is asked of the file system at most once
    // a second, and at every commit once it is within twice the reserve; in between, what was written is subtracted.
    private void KeepReserve(int bytes)
    {
        var reserve = _options.DiskReserveBytes;
        if (reserve <= 0)
        {
            return;
        }

        var now = Environment.TickCount64;
        if (_freeKnown - bytes < 2 * reserve || now - _freeCheckedAt >= 1000)
        {
            _freeKnown = _disk.AvailableFreeSpace(Folder);
            _freeCheckedAt = now;
        }

        if (_freeKnown - bytes < reserve)
        {
            throw new IOException(string.Create(
                CultureInfo.InvariantCulture,
                $"the disk of {Folder} has {_freeKnown} bytes free, and writing {bytes} more would eat into Journal:DiskReserveBytes ({reserve}), kept so a checkpoint can be written and segments freed"));
        }

        _freeKnown -= bytes;
    }

    /// <summary>Deletes the segments wholly before <paramref name="position"/> (never the current one); returns how many.</summary>
    public int DeleteBefore(JournalPosition position)
    {
        List<long> doomed = [];
        lock (_gate)
        {
            foreach (var (first, _) in _lengths)
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

            lock (_gate)
            {
                if (_lengths.Remove(first, out var length))
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

    /// <summary>Completes when segments were deleted, or after <paramref name="timeout"/>.</summary>
    public Task WaitForSpaceFreedAsync(TimeSpan timeout, CancellationToken cancellationToken) => _spaceFreed.WaitAsync(timeout, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _current.DisposeAsync().ConfigureAwait(false);
        _spaceFreed.Dispose();
    }

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
        lock (_gate)
        {
            _lengths[_nextSequence] = 0;
            _current = next;
            _currentSegment = _nextSequence;
            _currentEnd = 0;
        }

        old.Dispose();
    }
}
