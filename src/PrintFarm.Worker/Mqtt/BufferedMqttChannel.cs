using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;

namespace PrintFarm.Worker.Mqtt;

/// <summary>
/// Flow control for messages MQTTnet has read from the socket but not yet handed to the receive handler. MQTTnet's
/// receive loop queues every PUBLISH it reads, without a bound; the broker's Receive Maximum bounds QoS 1 messages,
/// but nothing bounds QoS 0. The <see cref="BufferedMqttChannel"/> counts the PUBLISH packets it reads and stops
/// reading the socket while more than <see cref="Limit"/> of them wait for the handler, so TCP flow control pushes
/// back on the broker, which then holds the backlog (Mosquitto's <c>max_queued_messages</c>) instead of the worker's
/// memory.
/// </summary>
internal sealed class ReceiveFlowControl(int limit)
{
    // Read again once the wait is down to half the limit, so the socket is not paused and resumed per message.
    private readonly long _resumeAt = Math.Max(1, limit / 2);
    private long _read;
    private long _handled;
    private long _pauses;
    private TaskCompletionSource? _room;

    /// <summary>PUBLISH packets that may wait for the handler before the socket is paused.</summary>
    public int Limit { get; } = Math.Max(1, limit);

    /// <summary>PUBLISH packets read but not handled yet.</summary>
    public long Waiting => Interlocked.Read(ref _read) - Interlocked.Read(ref _handled);

    /// <summary>Times the socket was paused because too many messages waited.</summary>
    public long Pauses => Interlocked.Read(ref _pauses);

    /// <summary>A new connection: whatever MQTTnet had queued from the old one is gone with it.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _read, Interlocked.Read(ref _handled));
        Interlocked.Exchange(ref _room, null)?.TrySetResult();
    }

    public void Read(int publishes)
    {
        if (publishes > 0)
        {
            Interlocked.Add(ref _read, publishes);
        }
    }

    /// <summary>The handler is done with one message (kept or dropped).</summary>
    public void Handled()
    {
        Interlocked.Increment(ref _handled);
        if (Volatile.Read(ref _room) is not null && Waiting <= _resumeAt)
        {
            Interlocked.Exchange(ref _room, null)?.TrySetResult();
        }
    }

    /// <summary>Completes when the socket may be read again.</summary>
    public async ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        if (Waiting <= Limit)
        {
            return;
        }

        Interlocked.Increment(ref _pauses);
        while (Waiting > _resumeAt)
        {
            var room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _room, room);

            // Checked again after publishing the signal, so a handler finishing in between cannot be missed.
            if (Waiting <= _resumeAt)
            {
                break;
            }

            try
            {
                // The timeout only guards against a miscount (a packet MQTTnet never delivers): then reading resumes.
                await room.Task.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return;
            }
        }
    }
}

/// <summary>
/// Wraps MQTTnet's TCP channel. MQTTnet reads each packet with two or three small reads (fixed header, length,
/// body), each a system call on an unbuffered socket stream; this channel reads the socket in 64 KiB chunks and serves
/// those reads from memory. It also counts the PUBLISH packets in what it reads, for <see cref="ReceiveFlowControl"/>.
/// </summary>
internal sealed class BufferedMqttChannel : IMqttChannel
{
    private const int BufferSize = 64 * 1024;

    // Completed read results by byte count, shared by all channels (a race only allocates one twice).
    private static readonly Task<int>?[] ReadResults = new Task<int>?[4096];

    private readonly IMqttChannel _inner;
    private readonly ReceiveFlowControl _flow;
    private readonly byte[] _buffer = new byte[BufferSize];
    private readonly MqttFrameCounter _frames = new();
    private int _start;
    private int _end;

    public BufferedMqttChannel(IMqttChannel inner, ReceiveFlowControl flow)
    {
        _inner = inner;
        _flow = flow;
    }

    public X509Certificate2 ClientCertificate => _inner.ClientCertificate;

    public EndPoint RemoteEndPoint => _inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => _inner.LocalEndPoint;

    public bool IsSecureConnection => _inner.IsSecureConnection;

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        _flow.Reset();
        return _inner.ConnectAsync(cancellationToken);
    }

    public Task DisconnectAsync(CancellationToken cancellationToken) => _inner.DisconnectAsync(cancellationToken);

    public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        // Served from the buffer without a task allocated per read: MQTTnet reads every packet in two or three steps.
        return _start < _end ? Completed(Take(buffer, offset, count)) : FillAndReadAsync(buffer, offset, count, cancellationToken);
    }

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
        _inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);

    public void Dispose() => _inner.Dispose();

    private static Task<int> Completed(int count) =>
        (uint)count < (uint)ReadResults.Length ? ReadResults[count] ??= Task.FromResult(count) : Task.FromResult(count);

    private int Take(byte[] buffer, int offset, int count)
    {
        var n = Math.Min(count, _end - _start);
        Buffer.BlockCopy(_buffer, _start, buffer, offset, n);
        _start += n;
        return n;
    }

    private async Task<int> FillAndReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        await _flow.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);

        // A read at least as large as the buffer goes straight into the caller's array.
        if (count >= BufferSize)
        {
            var direct = await _inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
            _flow.Read(_frames.Count(buffer.AsSpan(offset, direct)));
            return direct;
        }

        var read = await _inner.ReadAsync(_buffer, 0, BufferSize, cancellationToken).ConfigureAwait(false);
        if (read <= 0)
        {
            return read;
        }

        _flow.Read(_frames.Count(_buffer.AsSpan(0, read)));
        _start = 0;
        _end = read;

        return Take(buffer, offset, count);
    }
}

/// <summary>
/// Follows MQTT framing (a type byte, a variable-length remaining length, the body) across arbitrary chunks of the
/// stream and counts PUBLISH packets (type 3). Bodies are skipped, not read.
/// </summary>
internal sealed class MqttFrameCounter
{
    private const byte PublishType = 3;

    private State _state = State.Type;
    private long _remaining;
    private int _shift;

    private enum State
    {
        Type,
        Length,
        Body,
    }

    /// <summary>Feeds the next bytes of the stream; returns the PUBLISH packets that started in them.</summary>
    public int Count(ReadOnlySpan<byte> bytes)
    {
        var publishes = 0;
        var i = 0;
        while (i < bytes.Length)
        {
            switch (_state)
            {
                case State.Type:
                    if (bytes[i] >> 4 == PublishType)
                    {
                        publishes++;
                    }

                    _state = State.Length;
                    _remaining = 0;
                    _shift = 0;
                    i++;
                    break;

                case State.Length:
                    var b = bytes[i++];
                    _remaining |= (long)(b & 0x7F) << _shift;
                    _shift += 7;
                    if ((b & 0x80) == 0 || _shift >= 28)
                    {
                        _state = _remaining > 0 ? State.Body : State.Type;
                    }

                    break;

                default:
                    var skip = (int)Math.Min(_remaining, bytes.Length - i);
                    i += skip;
                    _remaining -= skip;
                    if (_remaining == 0)
                    {
                        _state = State.Type;
                    }

                    break;
            }
        }

        return publishes;
    }
}

/// <summary>MQTTnet's client adapter over a <see cref="BufferedMqttChannel"/> (TCP, with or without TLS).</summary>
internal sealed class BufferedMqttClientAdapterFactory(ReceiveFlowControl flow) : IMqttClientAdapterFactory
{
    private readonly MqttClientAdapterFactory _default = new();

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChannelOptions is not MqttClientTcpOptions)
        {
            return _default.CreateClientAdapter(options, packetInspector, logger);
        }

        var channel = new BufferedMqttChannel(new MqttTcpChannel(options), flow);
        var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        return new MqttChannelAdapter(channel, formatter, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
    }
}
