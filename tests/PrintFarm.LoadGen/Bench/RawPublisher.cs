using System.Diagnostics;

namespace PrintFarm.LoadGen.Bench;

/// <summary>
/// Publishes pre-encoded PUBLISH packets over one or more raw connections, pipelined: QoS 0 is written as fast as
/// the socket takes it; QoS 1 keeps at most <c>window</c> unacknowledged messages per connection.
/// </summary>
internal sealed class RawPublisher : IAsyncDisposable
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(120);
    private readonly RawMqttConnection[] _connections;
    private readonly long[] _sent;

    private RawPublisher(RawMqttConnection[] connections)
    {
        _connections = connections;
        _sent = new long[connections.Length];
    }

    public static async Task<RawPublisher> ConnectAsync(int port, int connections, string clientIdPrefix)
    {
        var list = new RawMqttConnection[connections];
        for (var c = 0; c < connections; c++)
        {
            list[c] = await RawMqttConnection.ConnectAsync(port, $"{clientIdPrefix}-{c}-{Guid.NewGuid():N}", TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        return new RawPublisher(list);
    }

    /// <summary>Sends every chunk (chunks[c] on connection c); returns when all is written (QoS 0) or acknowledged (QoS 1).</summary>
    public async Task SendAsync(List<Chunk>[] chunks, byte qos, int window)
    {
        var tasks = new Task[_connections.Length];
        for (var c = 0; c < _connections.Length; c++)
        {
            var index = c;
            tasks[c] = Task.Run(async () =>
            {
                foreach (var chunk in chunks[index])
                {
                    await SendChunkAsync(index, chunk.Bytes, chunk.Messages, qos, window).ConfigureAwait(false);
                }

                if (qos > 0)
                {
                    await _connections[index].WaitForAsync(4, _sent[index], AckTimeout, "PUBACK").ConfigureAwait(false);
                }
            });
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends <paramref name="total"/> messages at <paramref name="rate"/> msg/s on the first connection, built by
    /// <paramref name="encode"/> (which writes message <c>i</c> into the stream and may add a marker before it).
    /// Checks the schedule every millisecond; a late tick catches up, so the mean rate is exact.
    /// </summary>
    public async Task SendPacedAsync(long total, double rate, Action<MemoryStream, long, long> encode, byte qos, int window)
    {
        var started = Stopwatch.GetTimestamp();
        var buffer = new MemoryStream();
        long done = 0;
        while (done < total)
        {
            var due = Math.Min(total, (long)(Stopwatch.GetElapsedTime(started).TotalSeconds * rate));
            if (due > done)
            {
                buffer.SetLength(0);
                var count = due - done;
                for (var i = done; i < due; i++)
                {
                    encode(buffer, i, _sent[0] + (i - done));
                }

                await SendChunkAsync(0, buffer.ToArray(), (int)count, qos, window).ConfigureAwait(false);
                done = due;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
        }

        if (qos > 0)
        {
            await _connections[0].WaitForAsync(4, _sent[0], AckTimeout, "PUBACK").ConfigureAwait(false);
        }
    }

    /// <summary>Packets sent so far on the first connection (QoS 1 packet ids follow it).</summary>
    public long SentOnFirst => _sent[0];

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task SendChunkAsync(int c, byte[] bytes, int messages, byte qos, int window)
    {
        if (qos > 0)
        {
            // Keep the acknowledgement window: wait until enough PUBACKs came back for this chunk to fit.
            await _connections[c].WaitForAsync(4, _sent[c] + messages - window, AckTimeout, "PUBACK").ConfigureAwait(false);
        }

        await _connections[c].SendAsync(bytes).ConfigureAwait(false);
        _sent[c] += messages;
    }
}
