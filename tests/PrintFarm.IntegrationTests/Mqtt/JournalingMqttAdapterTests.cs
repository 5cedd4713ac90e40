using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using PrintFarm.Worker.Journal;
using PrintFarm.Worker.Mqtt;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// The adapter that takes PUBLISH packets off the socket for the journal (unit tests over a scripted channel; the
/// real-broker path is covered by the MQTT, end-to-end and chaos tests): framing however the stream is cut into reads,
/// MQTT 3.1.1 and 5 layouts, other packets handed to MQTTnet, large packets, and back-pressure without loss or repeat.
/// </summary>
public sealed class JournalingMqttAdapterTests
{
    [Theory]
    [InlineData(0, 2)]
    [InlineData(127, 2)]
    [InlineData(128, 3)]
    [InlineData(16_383, 3)]
    [InlineData(16_384, 4)]
    [InlineData(2_097_152, 5)]
    public void Framing_reads_every_remaining_length_encoding(int length, int headerBytes)
    {
        var packet = Packet(0x30, new byte[length]);

        Assert.Equal(FrameStatus.Complete, MqttFraming.TryRead(packet, out var header, out var bodyOffset, out var bodyLength));
        Assert.Equal(0x30, header);
        Assert.Equal(headerBytes, bodyOffset);
        Assert.Equal(length, bodyLength);

        // Cut anywhere, it is incomplete; once the header is whole the body's length is known.
        Assert.Equal(FrameStatus.Incomplete, MqttFraming.TryRead(packet.AsSpan(0, 1), out _, out _, out _));
        if (length > 0)
        {
            Assert.Equal(FrameStatus.Incomplete, MqttFraming.TryRead(packet.AsSpan(0, packet.Length - 1), out _, out bodyOffset, out bodyLength));
            Assert.Equal((headerBytes, length), (bodyOffset, bodyLength));
        }
    }

    [Fact]
    public void Framing_refuses_a_remaining_length_of_five_bytes()
    {
        Assert.Equal(FrameStatus.Malformed, MqttFraming.TryRead([0x30, 0x80, 0x80, 0x80, 0x80, 0x01], out _, out _, out _));
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 1)]
    [InlineData(true, 0)]
    [InlineData(true, 1)]
    public void Publish_bodies_give_topic_packet_id_and_payload(bool v5, byte qos)
    {
        var body = PublishBody("printfarm/p1/event", """{"type":"status"}""", qos, 4242, v5, properties: v5 ? [0x01, 0x01, 0x03, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b'] : []);

        Assert.True(MqttFraming.TryReadPublish(body, qos, v5, out var topic, out var packetId, out var payload));
        Assert.Equal("printfarm/p1/event", Encoding.UTF8.GetString(topic));
        Assert.Equal(qos == 0 ? 0 : 4242, packetId);
        Assert.Equal("""{"type":"status"}""", Encoding.UTF8.GetString(payload));
    }

    [Theory]
    [InlineData(new byte[] { 0x00 })]                           // no room for the topic length
    [InlineData(new byte[] { 0x00, 0x05, (byte)'a' })]          // topic longer than the body
    public void Publish_bodies_shorter_than_their_lengths_are_refused(byte[] body)
    {
        Assert.False(MqttFraming.TryReadPublish(body, 0, v5: false, out _, out _, out _));
    }

    [Fact]
    public void A_v5_publish_whose_properties_run_past_the_body_is_refused()
    {
        var body = PublishBody("t", "x", 0, 0, v5: true, properties: []);
        body[3] = 50; // property length 50, one byte follows

        Assert.False(MqttFraming.TryReadPublish(body, 0, v5: true, out _, out _, out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    [InlineData(70_000)]
    public async Task Publishes_reach_the_sink_in_order_and_other_packets_reach_MQTTnet_whatever_the_reads(int chunk)
    {
        // 300 publishes (QoS 0 and 1, one retained, one of 100,000 bytes: larger than a socket read), a SUBACK and a
        // PINGRESP among them.
        var stream = new MemoryStream();
        var expected = new List<(string Topic, int Length, byte QoS, ushort Id, bool Retained)>();
        for (var i = 0; i < 300; i++)
        {
            var qos = (byte)(i % 2);
            var payload = i == 150 ? new string('x', 100_000) : $"{{\"n\":{i}}}";
            var retained = i == 7;
            stream.Write(Packet((byte)(0x30 | (qos << 1) | (retained ? 1 : 0)), PublishBody($"printfarm/p{i % 5}/event", payload, qos, (ushort)(i + 1), v5: false, properties: [])));
            expected.Add(($"printfarm/p{i % 5}/event", Encoding.UTF8.GetByteCount(payload), qos, (ushort)(qos == 0 ? 0 : i + 1), retained));
            if (i == 100)
            {
                stream.Write(Packet(0x90, [0x00, 0x01, 0x01])); // SUBACK id 1, granted QoS 1
            }

            if (i == 200)
            {
                stream.Write(Packet(0xD0, []));                // PINGRESP
            }
        }

        var sink = new RecordingSink();
        using var adapter = new JournalingMqttAdapter(new ScriptedChannel(stream.ToArray(), chunk), new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(4096, 65536)), sink, MqttNetNullLogger.Instance);

        var first = await adapter.ReceivePacketAsync(CancellationToken.None);
        Assert.IsType<MqttSubAckPacket>(first);
        Assert.Equal(101, sink.Messages.Count);
        Assert.IsType<MqttPingRespPacket>(await adapter.ReceivePacketAsync(CancellationToken.None));
        Assert.Null(await adapter.ReceivePacketAsync(CancellationToken.None)); // end of stream: the connection closed

        Assert.Equal(expected, sink.Messages.Select(m => (m.Topic, m.Payload.Length, m.QoS, m.Id, m.Retained)));
        Assert.Equal(300, sink.Counted);
        Assert.Equal(stream.Length, adapter.BytesReceived);
    }

    [Theory]
    [InlineData(false, 4096)]
    [InlineData(true, 4096)]
    [InlineData(true, 1 << 20)]
    public async Task An_oversize_publish_is_skipped_and_only_its_metadata_reaches_the_sink(bool v5, int chunk)
    {
        var stream = new MemoryStream();
        stream.Write(Packet(0x30, PublishBody("printfarm/p1/event", "{\"n\":1}", 0, 0, v5, properties: [])));
        stream.Write(Packet(0x32, PublishBody("printfarm/p2/event", new string('x', 300_000), 1, 77, v5, properties: v5 ? [0x03, 0x00, 0x01, (byte)'j'] : [])));
        stream.Write(Packet(0x30, PublishBody("printfarm/p1/event", "{\"n\":2}", 0, 0, v5, properties: [])));
        var sink = new RecordingSink { MaxPayloadBytes = 100_000 };
        var version = v5 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;
        using var adapter = new JournalingMqttAdapter(new ScriptedChannel(stream.ToArray(), chunk), new MqttPacketFormatterAdapter(version, new MqttBufferWriter(4096, 65536)), sink, MqttNetNullLogger.Instance);

        Assert.Null(await adapter.ReceivePacketAsync(CancellationToken.None));

        Assert.Equal(["{\"n\":1}", "{\"n\":2}"], sink.Messages.Select(m => m.Payload));
        Assert.Equal(("printfarm/p2/event", 300_000L, (byte)1, (ushort)77), Assert.Single(sink.Oversize));
        Assert.Equal(3, sink.Counted);
        Assert.Equal(stream.Length, adapter.BytesReceived);
    }

    [Fact]
    public async Task A_full_sink_pauses_reading_and_then_gets_the_same_message_once()
    {
        var stream = new MemoryStream();
        for (var i = 0; i < 50; i++)
        {
            stream.Write(Packet(0x30, PublishBody("printfarm/p1/event", $"{{\"n\":{i}}}", 0, 0, v5: false, properties: [])));
        }

        var channel = new ScriptedChannel(stream.ToArray(), 1 << 20);
        var sink = new RecordingSink { Capacity = 20 };
        using var adapter = new JournalingMqttAdapter(channel, new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(4096, 65536)), sink, MqttNetNullLogger.Instance);

        var receiving = adapter.ReceivePacketAsync(CancellationToken.None);
        await sink.Refused.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(receiving.IsCompleted);
        Assert.Equal(20, sink.Messages.Count);

        sink.Capacity = int.MaxValue;
        sink.Release();
        Assert.Null(await receiving.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"{{\"n\":{i}}}"), sink.Messages.Select(m => m.Payload));
    }

    [Fact]
    public async Task A_malformed_publish_ends_the_connection_as_a_protocol_violation()
    {
        var channel = new ScriptedChannel(Packet(0x30, [0x00, 0x09, (byte)'a']), 1 << 20);
        using var adapter = new JournalingMqttAdapter(channel, new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(4096, 65536)), new RecordingSink(), MqttNetNullLogger.Instance);

        await Assert.ThrowsAsync<MqttProtocolViolationException>(() => adapter.ReceivePacketAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_acknowledgements_of_a_group_go_out_as_PUBACKs_in_one_write()
    {
        var channel = new ScriptedChannel([], 1);
        using var adapter = new JournalingMqttAdapter(channel, new MqttPacketFormatterAdapter(MqttProtocolVersion.V500, new MqttBufferWriter(4096, 65536)), new RecordingSink(), MqttNetNullLogger.Instance);

        await adapter.AcknowledgeAsync([1, 300, 65535], CancellationToken.None);

        var write = Assert.Single(channel.Writes);
        Assert.Equal(new byte[] { 0x40, 2, 0, 1, 0x40, 2, 1, 44, 0x40, 2, 255, 255 }, write);
        Assert.Equal(12, adapter.BytesSent);

        adapter.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => adapter.AcknowledgeAsync([2], CancellationToken.None));
    }

    private static byte[] Packet(byte header, byte[] body)
    {
        var bytes = new List<byte> { header };
        var length = body.Length;
        do
        {
            var b = (byte)(length % 128);
            length /= 128;
            bytes.Add(length > 0 ? (byte)(b | 0x80) : b);
        }
        while (length > 0);

        bytes.AddRange(body);
        return [.. bytes];
    }

    private static byte[] PublishBody(string topic, string payload, byte qos, ushort id, bool v5, byte[] properties)
    {
        var body = new List<byte>();
        var t = Encoding.UTF8.GetBytes(topic);
        body.Add((byte)(t.Length >> 8));
        body.Add((byte)t.Length);
        body.AddRange(t);
        if (qos > 0)
        {
            body.Add((byte)(id >> 8));
            body.Add((byte)id);
        }

        if (v5)
        {
            body.Add((byte)properties.Length);
            body.AddRange(properties);
        }

        body.AddRange(Encoding.UTF8.GetBytes(payload));
        return [.. body];
    }

    private sealed class RecordingSink : IPublishSink
    {
        private readonly TaskCompletionSource _room = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<(string Topic, string Payload, byte QoS, ushort Id, bool Retained)> Messages { get; } = [];

        public int Counted { get; private set; }

        public int Capacity { get; set; } = int.MaxValue;

        public TaskCompletionSource Refused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public DateTimeOffset Now => DateTimeOffset.UnixEpoch;

        public bool Publish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, IJournalAcknowledger connection)
        {
            if (Messages.Count >= Capacity)
            {
                Refused.TrySetResult();
                return false;
            }

            Messages.Add((Encoding.UTF8.GetString(topic), Encoding.UTF8.GetString(payload), qos, packetId, retained));
            return true;
        }

        public void EndOfRead(int messages) => Counted += messages;

        public int MaxPayloadBytes { get; set; } = int.MaxValue;

        public List<(string Topic, long Size, byte QoS, ushort Id)> Oversize { get; } = [];

        public bool PublishOversize(ReadOnlySpan<byte> topic, long payloadBytes, bool retained, byte qos, ushort packetId, DateTimeOffset receivedAt, IJournalAcknowledger connection)
        {
            if (Messages.Count + Oversize.Count >= Capacity)
            {
                Refused.TrySetResult();
                return false;
            }

            Oversize.Add((Encoding.UTF8.GetString(topic), payloadBytes, qos, packetId));
            return true;
        }

        public Task WaitForRoomAsync(CancellationToken cancellationToken) => _room.Task.WaitAsync(cancellationToken);

        public void Release() => _room.TrySetResult();
    }

    // Serves a byte stream in reads of at most `chunk` bytes, then end of stream.
    private sealed class ScriptedChannel(byte[] bytes, int chunk) : IMqttChannel
    {
        private int _at;

        public X509Certificate2 ClientCertificate => null!;

        public EndPoint RemoteEndPoint => new IPEndPoint(IPAddress.Loopback, 1883);

        public EndPoint LocalEndPoint => new IPEndPoint(IPAddress.Loopback, 50000);

        public bool IsSecureConnection => false;

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DisconnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            var n = Math.Min(Math.Min(count, chunk), bytes.Length - _at);
            bytes.AsSpan(_at, n).CopyTo(buffer.AsSpan(offset));
            _at += n;
            return Task.FromResult(n);
        }

        public List<byte[]> Writes { get; } = [];

        public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
        {
            Writes.Add(buffer.ToArray());
            return Task.CompletedTask;
        }

        public void Dispose()
        {
        }
    }
}
