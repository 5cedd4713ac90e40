using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// Reads the journal in order from a position, never past what is durable. One consumer (the pipeline). A record
/// that fails its checksum inside the durable part — the disk itself went bad — is handed to the journal's
/// <see cref="JournalQuarantine"/> (kept, counted, logged) and the reader goes on at the next valid record;
/// <see cref="CorruptionSkipped"/> says how many bytes it passed over.
/// </summary>
internal sealed class JournalReader : IMessageLogReader<JournalPosition>
{
    private readonly MessageJournal _journal;
    private readonly TopicCache _topics = new();
    private FileStream? _file;
    private byte[] _buffer = new byte[256 * 1024];
    private int _start;
    private int _end;
    private long _bufferOffset;

    internal JournalReader(MessageJournal journal, JournalPosition position)
    {
        _journal = journal;
        Position = position;
    }

    /// <summary>The position of the next record to read: after a checkpoint, where a restart resumes.</summary>
    public JournalPosition Position { get; private set; }

    /// <summary>Bytes this reader skipped because they failed their checksum (the quarantine counts and logs them).</summary>
    public long CorruptionSkipped { get; set; }

    /// <summary>True when a durable record is waiting.</summary>
    public bool HasDurableRecord => Position < _journal.End;

    /// <summary>Waits until a durable record is there (true) or the journal is completed and read to its end (false).</summary>
    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = _journal.CommittedSignal;
            if (HasDurableRecord)
            {
                return true;
            }

            if (_journal.IsCompleted)
            {
                return false;
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the next durable record, if there is one.</summary>
    public bool TryRead(out LogRecord record) => TryRead(copyPayload: true, out record);

    /// <summary>
    /// Reads the next durable record without copying its payload: the payload is valid only until the next read (the
    /// pipeline processes each message before reading the next, and copies what it keeps).
    /// </summary>
    public bool TryReadBorrowed(out LogRecord record) => TryRead(copyPayload: false, out record);

    private bool TryRead(bool copyPayload, out LogRecord record)
    {
        while (true)
        {
            var end = _journal.End;
            var limit = Position.Segment == end.Segment ? end.Offset : _journal.SegmentLength(Position.Segment);
            if (Position.Segment > end.Segment || Position.Offset >= limit)
            {
                if (Position.Segment < end.Segment && _journal.NextSegment(Position.Segment) is { } next)
                {
                    MoveTo(new JournalPosition(next, 0, next));
                    continue;
                }

                record = default;
                return false;
            }

            if (!TryFill(JournalCodec.HeaderBytes, limit) || !JournalCodec.TryReadLength(_buffer.AsSpan(_start, JournalCodec.HeaderBytes), out var body)
                || !TryFill(JournalCodec.HeaderBytes + body, limit)
                || !JournalCodec.TryDecode(_buffer.AsMemory(_start, JournalCodec.HeaderBytes + body), _topics, copyPayload, out record))
            {
                // Inside the durable part, so not a torn write: the disk returned something else. Go on at the next
                // valid record of this segment; when there is none, at the next segment or the durable end of this one.
                var resume = _journal.Quarantine.Skip(_journal.SegmentPath(Position.Segment), Position.Segment, Position.Offset, limit, Position.Sequence, tailMayBeTorn: false);
                CorruptionSkipped += (resume?.Offset ?? limit) - Position.Offset;
                if (resume is { } r)
                {
                    MoveTo(new JournalPosition(Position.Segment, r.Offset, r.Sequence));
                    continue;
                }

                var after = _journal.NextSegment(Position.Segment);
                MoveTo(after is { } n && Position.Segment < end.Segment ? new JournalPosition(n, 0, n) : new JournalPosition(Position.Segment, limit, end.Sequence));
                continue;
            }

            var length = JournalCodec.HeaderBytes + body;
            _start += length;
            Position = new JournalPosition(Position.Segment, Position.Offset + length, record.Sequence + 1);
            return true;
        }
    }

    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }

    private void MoveTo(JournalPosition position)
    {
        if (position.Segment != Position.Segment)
        {
            _file?.Dispose();
            _file = null;
        }

        Position = position;
        _start = _end = 0;
        _bufferOffset = position.Offset;
    }

    // Makes sure `count` bytes from Position are buffered, without reading past `limit`.
    private bool TryFill(int count, long limit)
    {
        if (Position.Offset + count > limit)
        {
            return false;
        }

        if (_end - _start >= count && _bufferOffset + _start == Position.Offset)
        {
            return true;
        }

        if (_bufferOffset + _start != Position.Offset)
        {
            _start = _end = 0;
            _bufferOffset = Position.Offset;
        }

        if (_buffer.Length < count)
        {
            var bigger = new byte[Math.Max(count, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _start, bigger, 0, _end - _start);
            _end -= _start;
            _bufferOffset += _start;
            _start = 0;
            _buffer = bigger;
        }
        else if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _bufferOffset += _start;
            _start = 0;
        }

        _file ??= new FileStream(_journal.SegmentPath(Position.Segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var want = (int)Math.Min(_buffer.Length - _end, limit - (_bufferOffset + _end));
        while (_end - _start < count)
        {
            var read = RandomAccess.Read(_file.SafeFileHandle, _buffer.AsSpan(_end, want), _bufferOffset + _end);
            if (read <= 0)
            {
                return false;
            }

            _end += read;
            want -= read;
        }

        return true;
    }
}
