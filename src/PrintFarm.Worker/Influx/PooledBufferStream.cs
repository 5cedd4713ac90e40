using System.Buffers;

namespace PrintFarm.Worker.Influx;

/// <summary>
/// A write-only stream over pooled arrays, for gzip-compressed request bodies: a body can be most of a megabyte, and a fresh
/// array per batch lands on the large-object heap, where only full collections reclaim it. Dispose returns the array.
/// Not thread-safe.
/// </summary>
internal sealed class PooledBufferStream(int initialCapacity) : Stream
{
    // The request-body pool (see LineBuffer.BytePool for why it is not the shared one).
    private static ArrayPool<byte> Pool => LineBuffer.BytePool;

    private byte[] _buffer = Pool.Rent(Math.Max(initialCapacity, 4096));
    private int _length;

    /// <summary>The bytes written so far (valid until the stream is disposed).</summary>
    public ArraySegment<byte> Written => new(_buffer, 0, _length);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_length + buffer.Length > _buffer.Length)
        {
            var bigger = Pool.Rent(Math.Max(_length + buffer.Length, _buffer.Length * 2));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            Pool.Return(_buffer);
            _buffer = bigger;
        }

        buffer.CopyTo(_buffer.AsSpan(_length));
        _length += buffer.Length;
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && _buffer.Length > 0)
        {
            Pool.Return(_buffer);
            _buffer = [];
            _length = 0;
        }

        base.Dispose(disposing);
    }
}
