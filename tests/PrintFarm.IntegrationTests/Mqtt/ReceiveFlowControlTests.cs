using PrintFarm.Worker.Mqtt;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// The pieces that keep QoS 0 messages from piling up inside MQTTnet: counting PUBLISH packets in the raw stream,
/// however it is cut into reads, and pausing the socket while too many wait for the handler.
/// </summary>
public sealed class ReceiveFlowControlTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(300)]
    [InlineData(1 << 16)]
    public void Publish_packets_are_counted_whatever_the_chunks(int chunk)
    {
        // PUBLISH bodies of 0, 127, 128 (two length bytes) and 20,000 (three) bytes, between PINGRESP, PUBACK and
        // SUBACK packets whose bodies hold bytes that look like PUBLISH headers (0x30).
        var stream = new MemoryStream();
        var publishes = 0;
        foreach (var length in new[] { 0, 127, 128, 20_000, 5, 16_383, 16_384 })
        {
            Packet(stream, 0x30, length);
            publishes++;
            Packet(stream, 0xD0, 0);
            Packet(stream, 0x40, 2, fill: 0x30);
            Packet(stream, 0x90, 3, fill: 0x32);
        }

        var counter = new MqttFrameCounter();
        var bytes = stream.ToArray();
        var counted = 0;
        for (var i = 0; i < bytes.Length; i += chunk)
        {
            counted += counter.Count(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
        }

        Assert.Equal(publishes, counted);
    }

    [Fact]
    public async Task Reading_pauses_above_the_limit_and_resumes_at_half_of_it()
    {
        var flow = new ReceiveFlowControl(limit: 4);
        flow.Read(4);
        Assert.True(flow.WaitForRoomAsync(CancellationToken.None).AsTask().IsCompleted); // at the limit: go on

        flow.Read(6); // 10 waiting
        var paused = flow.WaitForRoomAsync(CancellationToken.None).AsTask();
        Assert.False(paused.IsCompleted);
        Assert.Equal(1, flow.Pauses);

        for (var i = 0; i < 7; i++)
        {
            flow.Handled(); // down to 3: still above half the limit
        }

        Assert.False(paused.IsCompleted);
        flow.Handled(); // 2
        await paused.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, flow.Waiting);
    }

    [Fact]
    public async Task A_new_connection_releases_a_paused_reader()
    {
        // Messages MQTTnet had queued from the old connection are gone with it: they will never be handled.
        var flow = new ReceiveFlowControl(limit: 2);
        flow.Read(50);
        var paused = flow.WaitForRoomAsync(CancellationToken.None).AsTask();
        Assert.False(paused.IsCompleted);

        flow.Reset();
        await paused.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, flow.Waiting);
    }

    private static void Packet(MemoryStream stream, byte type, int length, byte fill = 0x61)
    {
        stream.WriteByte(type);
        var remaining = length;
        do
        {
            var b = (byte)(remaining % 128);
            remaining /= 128;
            stream.WriteByte(remaining > 0 ? (byte)(b | 0x80) : b);
        }
        while (remaining > 0);

        for (var i = 0; i < length; i++)
        {
            stream.WriteByte(fill);
        }
    }
}
