using System.Buffers;
using System.Text;

namespace PrintFarm.Worker.Influx;

/// <summary>
/// A batch of line-protocol lines as the request body they become: UTF-8, each line followed by <c>\n</c>, in one
/// pooled array, with the end of every line kept so the batch can still be split, spooled or dead-lettered line by
/// line. A line is encoded when the writer takes it, so a batch waiting for its turn or in flight holds two arrays,
/// not thousands of strings the GC would have to copy into older generations (docs/benchmarks.md, "the third round").
/// Dispose returns the arrays. Not thread-safe; one owner at a time.
/// </summary>
internal sealed class LineBuffer : IDisposable
{
    /// <summary>
    /// The pool of request-body arrays (these buffers and the gzip bodies of <see cref="PooledBufferStream"/>). Its own,
    /// not the shared pool, which keeps arrays per thread, and the writer runs on whichever pool thread is free: megabyte
    /// bodies would pile up there (measured, docs/benchmarks.md). Sized for what is in use at once under load: the
    /// queue's batches (a quarter of a megabyte each) and every lane's gathering, waiting and in-flight batch (a
    /// megabyte each). An array the pool cannot keep is dropped, and at these sizes that is a large-object allocation.
    /// </summary>
    internal static ArrayPool<byte> BytePool { get; } = ArrayPool<byte>.Create(maxArrayLength: 64 * 1024 * 1024, maxArraysPerBucket: 16);

    private byte[] _bytes;
    private int[] _ends;
    private int _length;

    /// <summary>Creates an empty buffer with room for about <paramref name="lines"/> lines.</summary>
    public LineBuffer(int lines)
    {
        _bytes = BytePool.Rent(Math.Max(4096, lines * 192));
        _ends = ArrayPool<int>.Shared.Rent(Math.Max(16, lines));
    }

    /// <summary>Lines in the buffer.</summary>
    public int Count { get; private set; }

    /// <summary>The body: every line, each followed by <c>\n</c>. Valid until the buffer is disposed.</summary>
    public ArraySegment<byte> Bytes => new(_bytes, 0, _length);

    /// <summary>A buffer holding <paramref name="lines"/>.</summary>
    public static LineBuffer Of(IReadOnlyList<string> lines) => Of(lines, 0, lines.Count);

    /// <summary>A buffer holding <paramref name="count"/> of <paramref name="lines"/> from <paramref name="start"/>.</summary>
    public static LineBuffer Of(IReadOnlyList<string> lines, int start, int count)
    {
        var buffer = new LineBuffer(count);
        for (var i = start; i < start + count; i++)
        {
            buffer.Add(lines[i]);
        }

        return buffer;
    }

    /// <summary>Appends a line (without its line break).</summary>
    public void Add(string line)
    {
        Reserve(Encoding.UTF8.GetMaxByteCount(line.Length) + 1);
        _length += Encoding.UTF8.GetBytes(line, _bytes.AsSpan(_length));
        EndLine();
    }

    /// <summary>Appends a line already in UTF-8 (without its line break), e.g. one of another buffer's.</summary>
    public void Add(ReadOnlySpan<byte> line)
    {
        Reserve(line.Length + 1);
        line.CopyTo(_bytes.AsSpan(_length));
        _length += line.Length;
        EndLine();
    }

    // Room for one more line of at most `bytes` (its line break included).
    private void Reserve(int bytes)
    {
        ObjectDisposedException.ThrowIf(_bytes.Length == 0, this);
        if (_bytes.Length - _length < bytes)
        {
            // Grown by what this line needs at most, not to the worst case of the whole batch.
            var bigger = BytePool.Rent(Math.Max(_bytes.Length * 2, _length + bytes));
            _bytes.AsSpan(0, _length).CopyTo(bigger);
            BytePool.Return(_bytes);
            _bytes = bigger;
        }

        if (Count == _ends.Length)
        {
            var more = ArrayPool<int>.Shared.Rent(_ends.Length * 2);
            _ends.AsSpan(0, Count).CopyTo(more);
            ArrayPool<int>.Shared.Return(_ends);
            _ends = more;
        }
    }

    private void EndLine()
    {
        _bytes[_length++] = (byte)'\n';
        _ends[Count++] = _length;
    }

    /// <summary>Line <paramref name="index"/>, UTF-8, without its line break.</summary>
    public ReadOnlySpan<byte> Line(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        var start = index == 0 ? 0 : _ends[index - 1];
        return _bytes.AsSpan(start, _ends[index] - start - 1);
    }

    /// <summary>A new buffer with lines [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    public LineBuffer Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)start + (uint)count, (uint)Count, nameof(count));
        var slice = new LineBuffer(count);
        var from = start == 0 ? 0 : _ends[start - 1];
        var to = count == 0 ? from : _ends[start + count - 1];
        if (slice._bytes.Length < to - from)
        {
            BytePool.Return(slice._bytes);
            slice._bytes = BytePool.Rent(to - from);
        }

        _bytes.AsSpan(from, to - from).CopyTo(slice._bytes);
        for (var i = 0; i < count; i++)
        {
            slice._ends[i] = _ends[start + i] - from;
        }

        slice._length = to - from;
        slice.Count = count;
        return slice;
    }

    /// <summary>The lines as strings (for the spool, dead letters and tests: not the hot path).</summary>
    public List<string> ToLines()
    {
        var lines = new List<string>(Count);
        for (var i = 0; i < Count; i++)
        {
            lines.Add(Encoding.UTF8.GetString(Line(i)));
        }

        return lines;
    }

    public void Dispose()
    {
        if (_bytes.Length == 0)
        {
            return;
        }

        BytePool.Return(_bytes);
        ArrayPool<int>.Shared.Return(_ends);
        _bytes = [];
        _ends = [];
        _length = 0;
        Count = 0;
    }
}
