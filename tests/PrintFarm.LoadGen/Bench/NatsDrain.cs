using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace PrintFarm.LoadGen.Bench;

/// <summary>
/// <c>PrintFarm.LoadGen nats-drain</c>: the NATS cluster's own limit for the clustered benchmark (issue 20). Creates
/// the same storage the clustered worker reads (the R3 partition stream on <c>parts.&gt;</c> and <c>$MQTT_msgs</c>, if
/// missing) and one plain durable pull consumer on <c>$MQTT_msgs</c>, prints <c>ready</c>, then drains and
/// acknowledges (AckAll every 1,000) until <c>--count</c> messages have arrived or nothing came for <c>--idle</c>
/// seconds, and prints the rate from the first message to the last. No parsing, no InfluxDB: what NATS alone delivers.
/// </summary>
internal static class NatsDrain
{
    public static async Task<int> RunAsync(string[] args)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            map[args[i].TrimStart('-')] = args[i + 1];
        }

        string Get(string key, string fallback) => map.TryGetValue(key, out var v) ? v : fallback;
        var url = Get("url", "nats://127.0.0.1:4222");
        var count = long.Parse(Get("count", "0"), CultureInfo.InvariantCulture);
        var idle = TimeSpan.FromSeconds(double.Parse(Get("idle", "20"), CultureInfo.InvariantCulture));
        var replicas = int.Parse(Get("replicas", "3"), CultureInfo.InvariantCulture);
        var partitionStream = Get("partition-stream", "PRINTFARM");
        var prefix = Get("partition-prefix", "parts");

        await using var nats = new NatsConnection(new NatsOpts { Url = url, Name = "loadgen-nats-drain" });
        var js = new NatsJSContext(nats);
        await EnsureStreamAsync(js, new StreamConfig(partitionStream, [prefix + ".>"]) { NumReplicas = replicas, Storage = StreamConfigStorage.File });
        await EnsureStreamAsync(js, new StreamConfig("$MQTT_msgs", ["$MQTT.msgs.>"]) { NumReplicas = replicas, Storage = StreamConfigStorage.File, Retention = StreamConfigRetention.Interest });
        var consumer = await js.CreateOrUpdateConsumerAsync("$MQTT_msgs", new ConsumerConfig("loadgen_drain")
        {
            FilterSubject = "$MQTT.msgs." + prefix + ".>",
            AckPolicy = ConsumerConfigAckPolicy.All,
            AckWait = TimeSpan.FromMinutes(5),
            MaxAckPending = -1,
        });
        Console.WriteLine("ready");

        long received = 0;
        var clock = Stopwatch.StartNew();
        double first = 0, last = 0;
        using var stop = new CancellationTokenSource();
        var lastAt = clock.Elapsed;
        // Ends the drain once the stream has been idle for `idle` (a tick, not a wait for a result).
        var watchdog = Task.Run(async () =>
        {
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
            try
            {
                while (await tick.WaitForNextTickAsync(stop.Token))
                {
                    if (clock.Elapsed - lastAt > idle && (Interlocked.Read(ref received) > 0 || clock.Elapsed > idle * 6))
                    {
                        await stop.CancelAsync();
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        });
        try
        {
            await foreach (var msg in consumer.ConsumeAsync<NatsMemoryOwner<byte>>(opts: new NatsJSConsumeOpts { MaxMsgs = 2000 }, cancellationToken: stop.Token))
            {
                msg.Data.Dispose();
                Interlocked.Increment(ref received);
                lastAt = clock.Elapsed;
                if (received == 1)
                {
                    first = lastAt.TotalSeconds;
                }

                last = lastAt.TotalSeconds;
                if (received % 1000 == 0 || received == count)
                {
                    await msg.AckAsync();
                }

                if (received == count)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Idle: report what came.
        }

        await stop.CancelAsync();
        await watchdog;
        var seconds = Math.Max(last - first, 1e-9);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"nats-drain: {received} messages from $MQTT_msgs in {seconds:F2} s (first to last) = {received / seconds:F0} msg/s"));
        await js.DeleteConsumerAsync("$MQTT_msgs", "loadgen_drain");
        return count == 0 || received == count ? 0 : 1;
    }

    private static async Task EnsureStreamAsync(NatsJSContext js, StreamConfig config)
    {
        try
        {
            await js.GetStreamAsync(config.Name!);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            await js.CreateStreamAsync(config);
        }
    }
}
