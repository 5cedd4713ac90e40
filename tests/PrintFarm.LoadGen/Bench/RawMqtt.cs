using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PrintFarm.LoadGen.Bench;

/// <summary>
/// The few MQTT 3.1.1 packets the benchmark needs, encoded by hand so the publisher costs a memcpy per message
/// instead of a client library's per-message objects: CONNECT, PUBLISH (QoS 0 or 1), SUBSCRIBE, DISCONNECT.
/// </summary>
internal static class MqttPackets
{
    public static byte[] Connect(string clientId, ushort keepAliveSeconds = 0)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, (byte)(keepAliveSeconds >> 8), (byte)keepAliveSeconds };
        AddString(body, id);
        return Frame(0x10, body);
    }

    public static byte[] Subscribe(ushort packetId, string filter, byte qos)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        AddString(body, Encoding.UTF8.GetBytes(filter));
        body.Add(qos);
        return Frame(0x82, body);
    }

    public static byte[] Disconnect() => [0xE0, 0x00];

    /// <summary>Appends one PUBLISH to <paramref name="output"/>; <paramref name="packetId"/> is used for QoS 1 only.</summary>
    public static void Publish(Stream output, ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, byte qos, ushort packetId)
    {
        var remaining = 2 + topic.Length + (qos > 0 ? 2 : 0) + payload.Length;
        Span<byte> header = stackalloc byte[5 + 2];
        header[0] = (byte)(0x30 | (qos << 1));
        var n = 1 + WriteLength(header[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(header[n..], (ushort)topic.Length);
        output.Write(header[..(n + 2)]);
        output.Write(topic);
        if (qos > 0)
        {
            Span<byte> id = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(id, packetId);
            output.Write(id);
        }

        output.Write(payload);
    }

    private static byte[] Frame(byte type, List<byte> body)
    {
        Span<byte> length = stackalloc byte[4];
        var n = WriteLength(length, body.Count);
        var frame = new byte[1 + n + body.Count];
        frame[0] = type;
        length[..n].CopyTo(frame.AsSpan(1));
        body.CopyTo(frame, 1 + n);
        return frame;
    }

    private static void AddString(List<byte> body, byte[] text)
    {
        body.Add((byte)(text.Length >> 8));
        body.Add((byte)text.Length);
        body.AddRange(text);
    }

    private static int WriteLength(Span<byte> output, int value)
    {
        var i = 0;
        do
        {
            var digit = (byte)(value % 128);
            value /= 128;
            output[i++] = value > 0 ? (byte)(digit | 0x80) : digit;
        }
        while (value > 0);
        return i;
    }
}

/// <summary>
/// Splits a byte stream into MQTT packets and counts them by type, carrying partial packets across reads.
/// Only the fixed header is decoded: the payload is skipped.
/// </summary>
internal sealed class MqttFrameCounter
{
    private readonly long[] _counts = new long[16];
    private int _state; // 0: type byte; 1: length bytes; 2: in the body
    private int _type;
    private int _qos;
    private int _length;
    private int _multiplier;
    private int _position; // bytes of the body seen
    private int _topicLength;
    private int _packetId;

    /// <summary>Packets seen, by packet type (3 = PUBLISH, 4 = PUBACK, 2 = CONNACK, 9 = SUBACK).</summary>
    public long Count(int type) => Interlocked.Read(ref _counts[type]);

    /// <summary>Packet ids of QoS 1 PUBLISH packets received and not yet acknowledged (the owner sends the PUBACKs).</summary>
    public List<int> ToAcknowledge { get; } = [];

    public void Feed(ReadOnlySpan<byte> data)
    {
        var i = 0;
        while (i < data.Length)
        {
            switch (_state)
            {
                case 0:
                    _type = data[i] >> 4;
                    _qos = (data[i] >> 1) & 3;
                    i++;
                    _length = 0;
                    _multiplier = 1;
                    _state = 1;
                    break;
                case 1:
                    var b = data[i++];
                    _length += (b & 0x7F) * _multiplier;
                    _multiplier *= 128;
                    if ((b & 0x80) == 0)
                    {
                        _position = 0;
                        _topicLength = 0;
                        _packetId = 0;
                        if (_length == 0)
                        {
                            Complete();
                        }
                        else
                        {
                            _state = 2;
                        }
                    }

                    break;
                default:
                    if (_type == 3 && _qos > 0 && _position < 4 + _topicLength)
                    {
                        // A QoS 1 PUBLISH: read the topic length and the packet id after the topic, byte by byte.
                        var x = data[i++];
                        if (_position < 2)
                        {
                            _topicLength = (_topicLength << 8) | x;
                        }
                        else if (_position >= 2 + _topicLength)
                        {
                            _packetId = (_packetId << 8) | x;
                        }

                        _position++;
                    }
                    else
                    {
                        var take = Math.Min(_length - _position, data.Length - i);
                        i += take;
                        _position += take;
                    }

                    if (_position == _length)
                    {
                        Complete();
                    }

                    break;
            }
        }
    }

    private void Complete()
    {
        Interlocked.Increment(ref _counts[_type]);
        if (_type == 3 && _qos == 1)
        {
            ToAcknowledge.Add(_packetId);
        }

        _state = 0;
    }
}

/// <summary>One raw MQTT connection: connect, write pre-encoded bytes, count what comes back.</summary>
internal sealed class RawMqttConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Task _reading;
    private readonly CancellationTokenSource _stop = new();

    private RawMqttConnection(Socket socket)
    {
        _socket = socket;
        _reading = Task.Run(ReadLoopAsync);
    }

    public MqttFrameCounter Frames { get; } = new();

    public static async Task<RawMqttConnection> ConnectAsync(int port, string clientId, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, SendBufferSize = 1 << 20, ReceiveBufferSize = 1 << 20 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).ConfigureAwait(false);
        var connection = new RawMqttConnection(socket);
        await connection.SendAsync(MqttPackets.Connect(clientId)).ConfigureAwait(false);
        await connection.WaitForAsync(2, 1, timeout, "CONNACK").ConfigureAwait(false);
        return connection;
    }

    public async Task SubscribeAsync(string filter, byte qos, TimeSpan timeout)
    {
        await SendAsync(MqttPackets.Subscribe(1, filter, qos)).ConfigureAwait(false);
        await WaitForAsync(9, 1, timeout, "SUBACK").ConfigureAwait(false);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
            bytes = bytes[sent..];
        }
    }

    /// <summary>Waits (polling every millisecond, bounded by <paramref name="timeout"/>) until <paramref name="count"/> packets of a type arrived.</summary>
    public async Task<bool> WaitForAsync(int type, long count, TimeSpan timeout, string? what = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Frames.Count(type) < count)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return what is null ? false : throw new TimeoutException($"no {what} within {timeout.TotalSeconds} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await SendAsync(MqttPackets.Disconnect()).ConfigureAwait(false);
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already closed by the broker.
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _reading.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Closed.
        }

        _stop.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 20];
        while (!_stop.IsCancellationRequested)
        {
            var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
            if (n == 0)
            {
                return;
            }

            Frames.Feed(buffer.AsSpan(0, n));
            if (Frames.ToAcknowledge.Count > 0)
            {
                // Acknowledge every QoS 1 message of this read in one write, as a subscribing client must.
                var acks = new byte[Frames.ToAcknowledge.Count * 4];
                for (var k = 0; k < Frames.ToAcknowledge.Count; k++)
                {
                    acks[k * 4] = 0x40;
                    acks[(k * 4) + 1] = 2;
                    BinaryPrimitives.WriteUInt16BigEndian(acks.AsSpan((k * 4) + 2), (ushort)Frames.ToAcknowledge[k]);
                }

                Frames.ToAcknowledge.Clear();
                await SendAsync(acks).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>A loopback TCP server that reads and discards everything: measures the publisher alone.</summary>
internal sealed class NullSink : IDisposable
{
    private readonly Socket _listener;

    public NullSink()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public void Dispose() => _listener.Dispose();

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync().ConfigureAwait(false);
                _ = Task.Run(() => DrainAsync(client));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private static async Task DrainAsync(Socket client)
    {
        var buffer = new byte[1 << 20];
        var connackSent = false;
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                if (!connackSent)
                {
                    // Answer the CONNECT so the publisher proceeds as it would with a broker.
                    await client.SendAsync(new byte[] { 0x20, 0x02, 0x00, 0x00 }, SocketFlags.None).ConfigureAwait(false);
                    connackSent = true;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Closed.
        }
        finally
        {
            client.Dispose();
        }
    }
}
