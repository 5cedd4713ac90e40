using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// The journal's record format, little-endian: <c>u32 body length, u32 CRC-32 of the body, body</c>, the body being
/// <c>u64 sequence, i64 receive time (UTC ticks), u8 flags (bit 0 retained, bits 1-2 QoS, bit 3 oversize), u16 topic
/// length, topic (UTF-8), payload</c>; an oversize record's payload is the original payload's size (u64), not its bytes. The checksum lets a restart find where a crash cut the last group short, and the
/// sequence in each body lets a scan past a damaged range tell the next real record from bytes that look like one.
/// </summary>
internal static class JournalCodec
{
    /// <summary>Bytes before the body.</summary>
    public const int HeaderBytes = 8;

    private const int FixedBodyBytes = 8 + 8 + 1 + 2;
    private const byte OversizeFlag = 8;

    /// <summary>The shortest record: header and the fixed part of the body (an empty topic and payload).</summary>
    public const int MinRecordBytes = HeaderBytes + FixedBodyBytes;

    /// <summary>Bodies above this are taken for corruption, not data (MQTT's own limit is 256 MiB).</summary>
    public const int MaxBodyBytes = 256 * 1024 * 1024 + FixedBodyBytes + ushort.MaxValue;

    /// <summary>
    /// Appends one record to <paramref name="buffer"/> (the topic in UTF-8); returns its length. With
    /// <paramref name="oversizeBytes"/> above zero the payload is not given: the record keeps that size instead.
    /// </summary>
    public static int Write(IBufferWriter<byte> buffer, long sequence, ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retained, byte qos, DateTimeOffset receivedAt, long oversizeBytes = 0)
    {
        if (topic.Length > ushort.MaxValue)
        {
            throw new ArgumentException("topic is longer than 65535 bytes", nameof(topic));
        }

        if (oversizeBytes > 0)
        {
            var size = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(size, oversizeBytes);
            payload = size;
        }

        var body = FixedBodyBytes + topic.Length + payload.Length;
        var span = buffer.GetSpan(HeaderBytes + body);
        var b = span.Slice(HeaderBytes, body);
        BinaryPrimitives.WriteInt64LittleEndian(b, sequence);
        BinaryPrimitives.WriteInt64LittleEndian(b[8..], receivedAt.UtcTicks);
        b[16] = (byte)((retained ? 1 : 0) | ((qos & 3) << 1) | (oversizeBytes > 0 ? OversizeFlag : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(b[17..], (ushort)topic.Length);
        topic.CopyTo(b[FixedBodyBytes..]);
        payload.CopyTo(b[(FixedBodyBytes + topic.Length)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)body);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc32.HashToUInt32(b));
        buffer.Advance(HeaderBytes + body);
        return HeaderBytes + body;
    }

    /// <summary>Reads the body length from a header; false when it cannot be a record.</summary>
    public static bool TryReadLength(ReadOnlySpan<byte> header, out int bodyLength)
    {
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        bodyLength = (int)Math.Min(length, int.MaxValue);
        return length is >= FixedBodyBytes and <= MaxBodyBytes;
    }

    /// <summary>
    /// Checks and decodes one whole record (header and body); false when the checksum or the layout is wrong. Without
    /// <paramref name="copyPayload"/> the payload is a slice of <paramref name="memory"/>.
    /// </summary>
    public static bool TryDecode(ReadOnlyMemory<byte> memory, TopicCache? topics, bool copyPayload, out LogRecord result)
    {
        result = default;
        var record = memory.Span;
        if (record.Length < HeaderBytes || !TryReadLength(record, out var length) || record.Length != HeaderBytes + length)
        {
            return false;
        }

        var body = record[HeaderBytes..];
        if (Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(record[4..]))
        {
            return false;
        }

        var topicLength = BinaryPrimitives.ReadUInt16LittleEndian(body[17..]);
        if (FixedBodyBytes + topicLength > body.Length)
        {
            return false;
        }

        var ticks = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        var topicSpan = body.Slice(FixedBodyBytes, topicLength);
        var topic = topics is null ? Encoding.UTF8.GetString(topicSpan) : topics.Get(topicSpan);
        var payload = memory[(HeaderBytes + FixedBodyBytes + topicLength)..];
        long oversize = 0;
        if ((body[16] & OversizeFlag) != 0)
        {
            if (payload.Length != 8)
            {
                return false;
            }

            oversize = BinaryPrimitives.ReadInt64LittleEndian(payload.Span);
            payload = ReadOnlyMemory<byte>.Empty;
        }

        result = new LogRecord(
            BinaryPrimitives.ReadInt64LittleEndian(body),
            topic,
            copyPayload ? payload.ToArray() : payload,
            (body[16] & 1) != 0,
            (byte)((body[16] >> 1) & 3),
            new DateTimeOffset(ticks, TimeSpan.Zero),
            oversize);
        return true;
    }
}

/// <summary>
/// Reuses the string of a topic seen before: a farm has a few topics per printer, and one string each, instead of one
/// per message, keeps the garbage collector out of the hot path. Bounded: past its capacity it starts afresh.
/// </summary>
internal sealed class TopicCache(int capacity = 65_536)
{
    private readonly Dictionary<int, Entry[]> _byHash = [];
    private int _count;

    public string Get(ReadOnlySpan<byte> utf8)
    {
        var hash = (int)XxHash32.HashToUInt32(utf8);
        if (_byHash.TryGetValue(hash, out var candidates))
        {
            foreach (var candidate in candidates)
            {
                if (utf8.SequenceEqual(candidate.Utf8))
                {
                    return candidate.Topic;
                }
            }
        }

        var topic = Encoding.UTF8.GetString(utf8);
        if (_count >= capacity)
        {
            _byHash.Clear();
            _count = 0;
            candidates = null;
        }

        var entry = new Entry(topic, utf8.ToArray());
        _byHash[hash] = candidates is null ? [entry] : [.. candidates, entry];
        _count++;
        return topic;
    }

    // The topic's bytes as they came, compared byte for byte (invalid UTF-8 decodes to U+FFFD, so two different
    // byte strings can give the same string: each keeps its own entry).
    private readonly record struct Entry(string Topic, byte[] Utf8);
}
