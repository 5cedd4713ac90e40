using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Mqtt;

/// <summary>Where <see cref="JournalingMqttAdapter"/> puts the PUBLISH packets it reads.</summary>
internal interface IPublishSink
{
    /// <summary>The receive time stamped on what one socket read brought.</summary>
    DateTimeOffset Now { get; }

    /// <summary>
    /// Takes one QoS 0 or 1 message (the spans are only valid during the call); false when it cannot take it now: call
    /// again with the same message once <see cref="WaitForRoomAsync"/> completes.
    /// </summary>
    bool Publish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, IJournalAcknowledger connection);

    /// <summary>Payloads above this many bytes are skipped on the socket, never buffered whole (<c>MaxPayloadBytes</c>).</summary>
    int MaxPayloadBytes { get; }

    /// <summary>
    /// Takes the metadata of one QoS 0 or 1 message whose payload (<paramref name="payloadBytes"/>, over
    /// <see cref="MaxPayloadBytes"/>) was skipped; false when it cannot take it now, as <see cref="Publish"/>.
    /// </summary>
    bool PublishOversize(ReadOnlySpan<byte> topic, long payloadBytes, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, IJournalAcknowledger connection);

    /// <summary>The messages of one socket read were handed over (<paramref name="messages"/> of them).</summary>
    void EndOfRead(int messages);

    /// <summary>Completes when <see cref="Publish"/> may take messages again.</summary>
    Task WaitForRoomAsync(CancellationToken cancellationToken);
}

/// <summary>
/// MQTTnet's channel adapter for the worker's connection, with the hot path taken out of MQTTnet. MQTTnet's client keeps
/// doing what it is good at — connecting, TLS, authentication, subscribing, keep-alive, disconnects, every packet but
/// one kind — while PUBLISH packets of QoS 0 and 1 never become MQTTnet objects: this adapter reads the socket 64 KiB at
/// a time, cuts the bytes into packets, and hands each PUBLISH's topic and payload straight to the
/// <see cref="IPublishSink"/> (the journal), without a copy, an allocation or a hand-over to another thread per
/// message. Every other packet (CONNACK, SUBACK, PINGRESP, DISCONNECT, and a QoS 2 PUBLISH, which the worker's QoS 1
/// subscriptions never receive) is decoded by MQTTnet's own formatter and returned to the client as usual. A QoS 1
/// message is acknowledged (PUBACK) through this adapter once the journal has it on disk — on this connection only: after
/// a reconnect the broker sends it again; the PUBACKs of one group go out in one write, under the lock MQTTnet's own
/// packets take here too. While the sink is full the socket is not read, so TCP flow control holds the
/// broker back and the backlog waits at the broker, for QoS 0 as for QoS 1.
/// <para>
/// A PUBLISH whose payload is over <see cref="IPublishSink.MaxPayloadBytes"/> is never buffered whole (issue 18 item
/// 11): once its topic, packet identifier and property length are in, the rest of it is read 64 KiB at a time and
/// thrown away, and only its metadata (topic, payload size, receive time) goes to the sink, acknowledged like any other
/// message once journaled. The bytes still cross the network: on MQTT 3.1.1 nothing lets a client refuse them sooner;
/// on MQTT 5 the CONNECT's Maximum Packet Size stops larger packets at the broker.
/// </para>
/// </summary>
internal sealed class JournalingMqttAdapter : IMqttChannelAdapter, IJournalAcknowledger
{
    /// <summary>Socket reads are this large; a packet larger than that grows the buffer while it is read.</summary>
    internal const int BufferSize = 64 * 1024;

    private readonly IMqttChannel _channel;
    private readonly MqttChannelAdapter _inner;
    private readonly IPublishSink _sink;

    // Every write to the socket, MQTTnet's packets and the PUBACKs written here, takes this: bytes never interleave.
    private readonly SemaphoreSlim _sending = new(1, 1);
    private byte[] _buffer = new byte[BufferSize];
    private long _acknowledgementBytes;
    private int _start;
    private int _end;
    private long _bytesReceived;
    private DateTimeOffset _receivedAt;
    private bool _waitForRoom;
    private Skipping? _skipping;
    private volatile bool _disposed;

    public JournalingMqttAdapter(IMqttChannel channel, MqttPacketFormatterAdapter formatter, IPublishSink sink, IMqttNetLogger logger)
    {
        _channel = channel;
        _sink = sink;
        _inner = new MqttChannelAdapter(channel, formatter, logger);
    }

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public long BytesSent => _inner.BytesSent + Interlocked.Read(ref _acknowledgementBytes);

    public X509Certificate2 ClientCertificate => _inner.ClientCertificate;

    public EndPoint RemoteEndPoint => _inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => _inner.LocalEndPoint;

    public bool IsSecureConnection => _inner.IsSecureConnection;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => _inner.PacketFormatterAdapter;

    public bool AllowPacketFragmentation
    {
        get => _inner.AllowPacketFragmentation;
        set => _inner.AllowPacketFragmentation = value;
    }

    public MqttPacketInspector? PacketInspector
    {
        get => _inner.PacketInspector;
        set => _inner.PacketInspector = value;
    }

    public Task ConnectAsync(CancellationToken cancellationToken) => _inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => _inner.DisconnectAsync(cancellationToken);

    public async Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _inner.SendPacketAsync(packet, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sending.Release();
        }
    }

    public void ResetStatistics()
    {
        Interlocked.Exchange(ref _bytesReceived, 0);
        _inner.ResetStatistics();
    }

    /// <summary>
    /// The PUBACKs of journaled QoS 1 messages, on this connection, in one write; fails once the connection is closed.
    /// A PUBACK with reason Success and no properties is the same four bytes in MQTT 3.1.1 and 5.0 (5.0 §3.4.2.1).
    /// </summary>
    public async Task AcknowledgeAsync(IReadOnlyList<ushort> packetIds, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var bytes = new byte[4 * packetIds.Count];
        for (var i = 0; i < packetIds.Count; i++)
        {
            bytes[4 * i] = 0x40;
            bytes[(4 * i) + 1] = 2;
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan((4 * i) + 2), packetIds[i]);
        }

        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await _channel.WriteAsync(new System.Buffers.ReadOnlySequence<byte>(bytes), true, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _acknowledgementBytes, bytes.Length);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new MqttCommunicationException(ex);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>
    /// Reads until a packet for MQTTnet's client arrives, handing every QoS 0/1 PUBLISH on the way to the sink. Null when
    /// the connection closed or the read was cancelled, as MQTTnet's own adapter does.
    /// </summary>
    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            while (true)
            {
                if (TakeBuffered() is { } packet)
                {
                    return packet;
                }

                if (_waitForRoom)
                {
                    await _sink.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
                    _waitForRoom = false;
                    continue;
                }

                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null!;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new MqttCommunicationException(ex);
        }

        return null!;
    }

    public void Dispose()
    {
        _disposed = true;
        _inner.Dispose();
    }

    // Hands the buffered PUBLISH packets to the sink; returns the first other packet, decoded by MQTTnet. Null when the
    // buffer holds no whole packet any more, or the sink is full (_waitForRoom).
    private MqttPacket? TakeBuffered()
    {
        var handed = 0;
        try
        {
            while (true)
            {
                if (_skipping is { } skipping)
                {
                    // Throw away what is buffered of an oversize PUBLISH; once all of it is read, hand over its metadata.
                    var discard = (int)Math.Min(skipping.Remaining, _end - _start);
                    _start += discard;
                    skipping.Remaining -= discard;
                    if (skipping.Remaining > 0)
                    {
                        return null;
                    }

                    if (!_sink.PublishOversize(skipping.Topic, skipping.PayloadBytes, skipping.Retained, skipping.QoS, skipping.PacketId, skipping.ReceivedAt, this))
                    {
                        _waitForRoom = true;
                        return null;
                    }

                    _skipping = null;
                    handed++;
                    continue;
                }

                var data = _buffer.AsSpan(_start, _end - _start);
                var frame = MqttFraming.TryRead(data, out var header, out var bodyOffset, out var bodyLength);
                if (bodyOffset > 0 && IsOversizeCandidate(header, bodyLength))
                {
                    var v5 = PacketFormatterAdapter.ProtocolVersion == MqttProtocolVersion.V500;
                    var head = MqttFraming.TryReadPublishHead(data[bodyOffset..], bodyLength, (byte)((header >> 1) & 3), v5, out var topic, out var id, out var payloadBytes);
                    if (head == FrameStatus.Malformed)
                    {
                        throw new MqttProtocolViolationException("the broker sent a malformed PUBLISH packet");
                    }

                    if (head == FrameStatus.Incomplete)
                    {
                        return null;
                    }

                    if (payloadBytes > _sink.MaxPayloadBytes)
                    {
                        _skipping = new Skipping(topic.ToArray(), payloadBytes, (header & 1) != 0, (byte)((header >> 1) & 3), id, _receivedAt, (long)bodyOffset + bodyLength);
                        continue;
                    }
                }

                if (frame == FrameStatus.Incomplete)
                {
                    return null;
                }

                if (frame == FrameStatus.Malformed)
                {
                    throw new MqttProtocolViolationException("the broker sent a packet with a malformed remaining length");
                }

                var body = data.Slice(bodyOffset, bodyLength);
                var qos = (byte)((header >> 1) & 3);
                if (header >> 4 == MqttFraming.PublishType && qos <= 1)
                {
                    if (!MqttFraming.TryReadPublish(body, qos, PacketFormatterAdapter.ProtocolVersion == MqttProtocolVersion.V500, out var topic, out var packetId, out var payload))
                    {
                        throw new MqttProtocolViolationException("the broker sent a malformed PUBLISH packet");
                    }

                    if (!_sink.Publish(topic, payload, (header & 1) != 0, qos, packetId, _receivedAt, this))
                    {
                        _waitForRoom = true;
                        return null;
                    }

                    _start += bodyOffset + bodyLength;
                    handed++;
                    continue;
                }

                var copy = body.ToArray();
                _start += bodyOffset + bodyLength;
                return PacketFormatterAdapter.Decode(new ReceivedMqttPacket(header, new ArraySegment<byte>(copy), bodyOffset + bodyLength))
                    ?? throw new MqttProtocolViolationException("the broker sent a malformed packet");
            }
        }
        finally
        {
            if (handed > 0)
            {
                _sink.EndOfRead(handed);
            }
        }
    }

    // A QoS 0/1 PUBLISH whose body is larger than the payload limit may be oversize: only its head is buffered until
    // its payload's size is known.
    private bool IsOversizeCandidate(byte header, int bodyLength) =>
        header >> 4 == MqttFraming.PublishType && ((header >> 1) & 3) <= 1 && bodyLength > _sink.MaxPayloadBytes;

    // One socket read after what is buffered; false when the connection is closed.
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        var buffered = _end - _start;
        var needed = _skipping is null && MqttFraming.TryRead(_buffer.AsSpan(_start, buffered), out var header, out var bodyOffset, out var bodyLength) == FrameStatus.Incomplete && bodyOffset > 0
            ? bodyOffset + (IsOversizeCandidate(header, bodyLength) ? Math.Min(bodyLength, MqttFraming.MaxPublishHeadBytes) : bodyLength)
            : 0;
        if (needed > _buffer.Length || (_buffer.Length > BufferSize && needed <= BufferSize && buffered <= BufferSize))
        {
            // A packet larger than the buffer is read whole; afterwards the buffer shrinks back.
            var resized = new byte[Math.Max(BufferSize, needed)];
            _buffer.AsSpan(_start, buffered).CopyTo(resized);
            _buffer = resized;
        }
        else if (_start > 0)
        {
            _buffer.AsSpan(_start, buffered).CopyTo(_buffer);
        }

        _start = 0;
        _end = buffered;
        var read = await _channel.ReadAsync(_buffer, _end, _buffer.Length - _end, cancellationToken).ConfigureAwait(false);
        if (read <= 0)
        {
            return false;
        }

        _end += read;
        if (_skipping is null)
        {
            _receivedAt = _sink.Now;
        }

        Interlocked.Add(ref _bytesReceived, read);
        return true;
    }
}

/// <summary>An oversize PUBLISH being read past: its metadata, and how many of its bytes are still to come.</summary>
internal sealed class Skipping(byte[] topic, long payloadBytes, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, long remaining)
{
    public byte[] Topic { get; } = topic;

    public long PayloadBytes { get; } = payloadBytes;

    public bool Retained { get; } = retained;

    public byte QoS { get; } = qos;

    public ushort PacketId { get; } = packetId;

    public DateTimeOffset ReceivedAt { get; } = receivedAt;

    public long Remaining { get; set; } = remaining;
}

/// <summary>What <see cref="MqttFraming.TryRead"/> found at the start of the bytes.</summary>
internal enum FrameStatus
{
    Complete,
    Incomplete,
    Malformed,
}

/// <summary>MQTT's packet framing and the PUBLISH layout (MQTT 3.1.1 §2.2 and §3.3, MQTT 5.0 §2.1 and §3.3).</summary>
internal static class MqttFraming
{
    /// <summary>The control packet type of PUBLISH.</summary>
    public const int PublishType = 3;

    /// <summary>
    /// Reads the fixed header at the start of <paramref name="data"/>: the first byte and the remaining length (1 to 4
    /// bytes of 7 bits). <paramref name="bodyOffset"/> and <paramref name="bodyLength"/> are set as soon as the header is
    /// whole, even when the body is not in yet (Incomplete), so the caller knows how much to read.
    /// </summary>
    public static FrameStatus TryRead(ReadOnlySpan<byte> data, out byte header, out int bodyOffset, out int bodyLength)
    {
        header = 0;
        bodyOffset = 0;
        bodyLength = 0;
        if (data.Length < 2)
        {
            return FrameStatus.Incomplete;
        }

        header = data[0];
        var length = 0;
        for (var i = 1; ; i++)
        {
            if (i > 4)
            {
                return FrameStatus.Malformed;
            }

            if (i >= data.Length)
            {
                return FrameStatus.Incomplete;
            }

            var b = data[i];
            length |= (b & 0x7F) << (7 * (i - 1));
            if ((b & 0x80) == 0)
            {
                bodyOffset = i + 1;
                bodyLength = length;
                return data.Length - bodyOffset >= length ? FrameStatus.Complete : FrameStatus.Incomplete;
            }
        }
    }

    /// <summary>The most a PUBLISH's head takes: topic length and topic, packet identifier, and the property length.</summary>
    public const int MaxPublishHeadBytes = 2 + ushort.MaxValue + 2 + 4;

    /// <summary>
    /// Reads the head of a PUBLISH body of <paramref name="bodyLength"/> bytes from what is buffered of it
    /// (<paramref name="available"/>): topic, packet identifier (QoS 1), and the payload's size (after the MQTT 5
    /// properties, which need not be buffered). Incomplete until the head is in.
    /// </summary>
    public static FrameStatus TryReadPublishHead(ReadOnlySpan<byte> available, int bodyLength, byte qos, bool v5, out ReadOnlySpan<byte> topic, out ushort packetId, out long payloadBytes)
    {
        topic = default;
        packetId = 0;
        payloadBytes = 0;
        if (available.Length < 2)
        {
            return bodyLength < 2 ? FrameStatus.Malformed : FrameStatus.Incomplete;
        }

        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(available);
        var at = 2 + topicLength + (qos > 0 ? 2 : 0);
        if (at > bodyLength)
        {
            return FrameStatus.Malformed;
        }

        if (at > available.Length)
        {
            return FrameStatus.Incomplete;
        }

        topic = available.Slice(2, topicLength);
        if (qos > 0)
        {
            packetId = BinaryPrimitives.ReadUInt16BigEndian(available[(2 + topicLength)..]);
        }

        long properties = 0;
        if (v5)
        {
            for (var i = 0; ; i++)
            {
                if (i == 4 || at >= bodyLength)
                {
                    return FrameStatus.Malformed;
                }

                if (at >= available.Length)
                {
                    return FrameStatus.Incomplete;
                }

                var b = available[at++];
                properties |= (long)(b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0)
                {
                    break;
                }
            }
        }

        payloadBytes = bodyLength - at - properties;
        return payloadBytes < 0 ? FrameStatus.Malformed : FrameStatus.Complete;
    }

    /// <summary>
    /// Splits a PUBLISH body into topic, packet identifier (QoS 1 and 2 only) and payload, skipping the MQTT 5 properties
    /// (the journal keeps none of them). False when the body is shorter than its own lengths say.
    /// </summary>
    public static bool TryReadPublish(ReadOnlySpan<byte> body, byte qos, bool v5, out ReadOnlySpan<byte> topic, out ushort packetId, out ReadOnlySpan<byte> payload)
    {
        topic = default;
        payload = default;
        packetId = 0;
        if (body.Length < 2)
        {
            return false;
        }

        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var at = 2 + topicLength;
        if (at > body.Length)
        {
            return false;
        }

        topic = body.Slice(2, topicLength);
        if (qos > 0)
        {
            if (at + 2 > body.Length)
            {
                return false;
            }

            packetId = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
            at += 2;
        }

        if (v5)
        {
            // Property length, a variable byte integer, then the properties.
            var properties = 0;
            for (var i = 0; ; i++)
            {
                if (i == 4 || at >= body.Length)
                {
                    return false;
                }

                var b = body[at++];
                properties |= (b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0)
                {
                    break;
                }
            }

            if (properties > body.Length - at)
            {
                return false;
            }

            at += properties;
        }

        payload = body[at..];
        return true;
    }
}

/// <summary>MQTTnet's client adapter factory: TCP connections (with or without TLS) get a <see cref="JournalingMqttAdapter"/>.</summary>
internal sealed class JournalingMqttAdapterFactory(IPublishSink sink) : IMqttClientAdapterFactory
{
    private readonly MqttClientAdapterFactory _default = new();

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChannelOptions is not MqttClientTcpOptions)
        {
            // Other transports (WebSocket) take MQTTnet's own path: every message through the receive handler.
            return _default.CreateClientAdapter(options, packetInspector, logger);
        }

        var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        return new JournalingMqttAdapter(new MqttTcpChannel(options), formatter, sink, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
    }
}
