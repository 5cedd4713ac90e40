using System.Diagnostics;
using System.Globalization;
using System.Text;
using PrintFarm.Core.LineProtocol;

namespace PrintFarm.LoadGen.Bench;

/// <summary>
/// <c>PrintFarm.LoadGen bench …</c>: for each printer count, in one run, measures the publisher alone, the broker's
/// delivery to a bare subscriber, the raw InfluxDB ingest of the same points, the worker end to end (publish → all
/// points queryable), lost points, the worker's peak RSS and the publish-to-queryable latency at a fixed load.
/// Started by <c>tests/load/run-bench.sh</c>, which owns Mosquitto and InfluxDB.
/// </summary>
internal static class ThroughputBench
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    // Mosquitto's sys_interval (1 s in run-bench.sh) plus a margin.
    private static readonly TimeSpan SysInterval = TimeSpan.FromMilliseconds(1100);

    public static async Task<int> RunAsync(string[] args)
    {
        var o = BenchOptions.Parse(args);
        using var influx = new Influx(o.InfluxUrl);
        var rows = new List<BenchRow>();
        for (var run = 1; run <= o.Repeat; run++)
        {
            foreach (var printers in o.Printers)
            {
                Say($"=== run {run}/{o.Repeat}: {printers} printers, {o.Messages} messages, QoS {o.Qos}, {o.Connections} publisher connections");
                var row = await RunOnceAsync(o, influx, printers, run).ConfigureAwait(false);
                rows.Add(row);
                Say(row.Detail());
            }
        }

        Console.WriteLine();
        Console.WriteLine(BenchRow.Header);
        foreach (var row in rows)
        {
            Console.WriteLine(row.Markdown());
        }

        return rows.All(r => r.Lost == 0 && r.WorkerRate > 0) ? 0 : 1;
    }

    private static async Task<BenchRow> RunOnceAsync(BenchOptions o, Influx influx, int printers, int run)
    {
        // Event times an hour ago: inside every window's lateness, never in the future.
        var origin = DateTimeOffset.UtcNow.AddHours(-1);
        origin = DateTimeOffset.FromUnixTimeSeconds(origin.ToUnixTimeSeconds());
        var load = new Workload(printers, origin);
        var row = new BenchRow { Printers = printers, Messages = o.Messages, Warmup = o.Warmup, Run = run };
        var chunks = load.Encode(0, o.Messages, o.Connections, o.Qos, 256);

        // 0. The publisher alone, into a socket that discards: the figure the broker must stay below.
        using (var sink = new NullSink())
        {
            await using var alone = await RawPublisher.ConnectAsync(sink.Port, o.Connections, "bench-null").ConfigureAwait(false);
            var sw = Stopwatch.StartNew();
            await alone.SendAsync(chunks, 0, o.Window).ConfigureAwait(false);
            row.PublisherAlone = o.Messages / sw.Elapsed.TotalSeconds;
        }

        // (a) The broker delivering the stream to a bare raw-socket subscriber.
        {
            var droppedBefore = await BrokerDroppedAsync(o).ConfigureAwait(false);
            await using var subscriber = await RawMqttConnection.ConnectAsync(o.MqttPort, $"bench-sub-{Guid.NewGuid():N}", TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await subscriber.SubscribeAsync("printfarm/+/event", o.Qos, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await using var publisher = await RawPublisher.ConnectAsync(o.MqttPort, o.Connections, "bench-pub").ConfigureAwait(false);
            var cpu = CpuSnapshot.Take(o);
            var sw = Stopwatch.StartNew();
            await publisher.SendAsync(chunks, o.Qos, o.Window).ConfigureAwait(false);
            row.BrokerPublish = o.Messages / sw.Elapsed.TotalSeconds;

            // Done when every message arrived, or when nothing more arrived for 5 s (the rest was dropped).
            long last = -1;
            var lastChange = sw.Elapsed;
            var deliveredAt = sw.Elapsed;
            while (subscriber.Frames.Count(3) < o.Messages && sw.Elapsed - lastChange < TimeSpan.FromSeconds(5) && sw.Elapsed < o.Deadline)
            {
                var now = subscriber.Frames.Count(3);
                if (now != last)
                {
                    last = now;
                    lastChange = sw.Elapsed;
                    deliveredAt = sw.Elapsed;
                }

                await Task.Delay(Tick).ConfigureAwait(false);
            }

            if (subscriber.Frames.Count(3) >= o.Messages)
            {
                deliveredAt = sw.Elapsed;
            }

            row.BrokerDelivered = subscriber.Frames.Count(3);
            row.BrokerRate = row.BrokerDelivered / deliveredAt.TotalSeconds;
            row.BrokerCpu = CpuSnapshot.Take(o) - cpu;
            row.BrokerDroppedForSubscriber = Delta(await BrokerDroppedAsync(o).ConfigureAwait(false), droppedBefore);
        }

        // (b) The same points straight to InfluxDB, in 5,000-line batches, one request at a time, no gzip (unless
        // --influx-parallel / --influx-gzip ask otherwise: they test the writer's design choices).
        {
            var db = $"bench_raw_{printers}_{run}";
            await influx.DropDatabaseAsync(db).ConfigureAwait(false);
            await influx.CreateDatabaseAsync(db).ConfigureAwait(false);
            var encoder = new PointEncoder(Workload.Farm);
            var bodies = Bodies(load, encoder, o.Messages, o.InfluxBatch);

            // The worker's database holds the warm-up stream when the measured one arrives: so does this one.
            if (o.Warmup > 0)
            {
                var warm = Warmup(load, o);
                foreach (var body in Bodies(warm, encoder, o.Warmup, o.InfluxBatch))
                {
                    await influx.WriteAsync(db, body, o.InfluxGzip).ConfigureAwait(false);
                }

                await WaitForCountAsync(() => influx.CountPrinterPointsAsync(db), o.Warmup, Stopwatch.StartNew(), o).ConfigureAwait(false);
            }

            var stats = await influx.HttpdStatsAsync().ConfigureAwait(false);
            var cpu = CpuSnapshot.Take(o);
            var sw = Stopwatch.StartNew();
            // --influx-parallel N: N requests in flight, each taking the next batch in order.
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, o.InfluxParallel).Select(_ => Task.Run(async () =>
            {
                int b;
                while ((b = Interlocked.Increment(ref next)) < bodies.Count)
                {
                    await influx.WriteAsync(db, bodies[b], o.InfluxGzip).ConfigureAwait(false);
                }
            }))).ConfigureAwait(false);

            var (seconds, count) = await WaitForCountAsync(async () => await influx.CountPrinterPointsAsync(db).ConfigureAwait(false) - o.Warmup, o.Messages, sw, o, Sentinels(influx, db, load, 0, o.Messages, o.Connections)).ConfigureAwait(false);
            row.InfluxRate = count / seconds;
            row.InfluxCpu = CpuSnapshot.Take(o) - cpu;
            row.InfluxRawHttpd = await influx.HttpdStatsAsync().ConfigureAwait(false) - stats;
            await influx.DropDatabaseAsync(db).ConfigureAwait(false);
        }

        // (c)–(g) The worker.
        if (o.SkipWorker)
        {
            return row;
        }

        await RunWorkerAsync(o, influx, load, chunks, row).ConfigureAwait(false);
        return row;
    }

    private static async Task RunWorkerAsync(BenchOptions o, Influx influx, Workload load, List<Chunk>[] chunks, BenchRow row)
    {
        var db = $"bench_worker_{load.Printers}_{row.Run}";
        await influx.DropDatabaseAsync(db).ConfigureAwait(false);
        await influx.CreateDatabaseAsync(db).ConfigureAwait(false);
        var data = Path.Combine(o.WorkFolder, db);
        await using var worker = WorkerProcess.Start(o, db, data, load.Printers);
        try
        {
            // Ready = a probe message went all the way through (subscribed, writing).
            var k = 0;
            await using (var probe = await RawPublisher.ConnectAsync(o.MqttPort, 1, "bench-probe").ConfigureAwait(false))
            {
                var sw = Stopwatch.StartNew();
                while (await influx.CountPrinterPointsAsync(db, Workload.ProbePrinter).ConfigureAwait(false) == 0)
                {
                    if (sw.Elapsed > TimeSpan.FromSeconds(60) || worker.HasExited)
                    {
                        throw new InvalidOperationException($"the worker did not write a probe within 60 s; see {worker.LogPath}");
                    }

                    var ms = new MemoryStream();
                    MqttPackets.Publish(ms, Encoding.ASCII.GetBytes(Workload.Topic(Workload.ProbePrinter)), Workload.Payload(load.Origin.AddSeconds(-3600 + k), k), 0, 0);
                    k++;
                    await probe.SendAsync([[new Chunk(ms.ToArray(), 1)]], 0, 1).ConfigureAwait(false);
                    await Task.Delay(ProbeInterval).ConfigureAwait(false);
                }
            }

            // No more probes are sent: wait until every one sent has landed (each is a distinct point), then count them.
            var probes = await influx.CountPrinterPointsAsync(db, Workload.ProbePrinter).ConfigureAwait(false);
            for (var wait = Stopwatch.StartNew(); probes < k && wait.Elapsed < TimeSpan.FromSeconds(30); probes = await influx.CountPrinterPointsAsync(db, Workload.ProbePrinter).ConfigureAwait(false))
            {
                await Task.Delay(PollInterval).ConfigureAwait(false);
            }
            // Warm-up: the same kind of stream, earlier event times, before the measured one. A worker in a farm has
            // been running for hours; right after start-up the JIT (tier-0 code, then tier-1 recompilation of what is
            // hot) takes a large share of 2 cores for several seconds. The first stream's rate is reported as "cold".
            var before = probes; // points in the database before the measured stream
            if (o.Warmup > 0)
            {
                var warm = Warmup(load, o);
                var warmChunks = warm.Encode(0, o.Warmup, o.Connections, o.Qos, 256);
                await using var publisher = await RawPublisher.ConnectAsync(o.MqttPort, o.Connections, "bench-warm").ConfigureAwait(false);
                var sw = Stopwatch.StartNew();
                await publisher.SendAsync(warmChunks, o.Qos, o.Window).ConfigureAwait(false);
                var (seconds, count) = await WaitForCountAsync(async () => await influx.CountPrinterPointsAsync(db).ConfigureAwait(false) - probes, o.Warmup, sw, o, Sentinels(influx, db, warm, 0, o.Warmup, o.Connections)).ConfigureAwait(false);
                row.WorkerColdRate = count / seconds;
                row.WarmupLost = o.Warmup - count;
                before += count;
            }

            row.RssBefore = Procfs.Rss(worker.Pid);

            // (c) Publish the stream; time until every point is queryable.
            var droppedBefore = await BrokerDroppedAsync(o).ConfigureAwait(false);
            var stats = await influx.HttpdStatsAsync().ConfigureAwait(false);
            var cpu = CpuSnapshot.Take(o, worker.Pid);
            await using var profile = Profiler.Start(o, worker.Pid, load.Printers, row.Run);
            await profile.AttachedAsync().ConfigureAwait(false);
            {
                await using var publisher = await RawPublisher.ConnectAsync(o.MqttPort, o.Connections, "bench-pub").ConfigureAwait(false);
                var sw = Stopwatch.StartNew();
                var sampling = worker.SampleRssAsync(sw);
                await publisher.SendAsync(chunks, o.Qos, o.Window).ConfigureAwait(false);
                row.WorkerPublish = o.Messages / sw.Elapsed.TotalSeconds;
                var (seconds, count) = await WaitForCountAsync(async () => await influx.CountPrinterPointsAsync(db).ConfigureAwait(false) - before, o.Messages, sw, o, Sentinels(influx, db, load, 0, o.Messages, o.Connections)).ConfigureAwait(false);
                // With points missing this is the rate of what arrived, up to the last growth (the lost column says the rest).
                row.WorkerRate = count / seconds;
                row.WorkerSeconds = seconds;
                row.Lost = o.Messages - count;
                worker.StopSampling();
                await sampling.ConfigureAwait(false);
            }

            row.WorkerCpu = CpuSnapshot.Take(o, worker.Pid) - cpu;
            row.WorkerHttpd = await influx.HttpdStatsAsync().ConfigureAwait(false) - stats;
            row.WorkerDroppedByBroker = Delta(await BrokerDroppedAsync(o).ConfigureAwait(false), droppedBefore);
            row.PeakRssThroughput = Procfs.PeakRss(worker.Pid);
            row.MaxRssSampled = worker.MaxRss;
            await profile.DisposeAsync().ConfigureAwait(false);

            // (g) Latency at a fixed offered load, with marker messages among the load.
            await MeasureLatencyAsync(o, influx, load, db, before, row).ConfigureAwait(false);
            var total = await influx.CountPrinterPointsAsync(db).ConfigureAwait(false);
            row.Lost = o.Warmup + o.Messages + row.LatencyLoad + row.MarkersSent + probes - total;
            row.PeakRss = Procfs.PeakRss(worker.Pid);
            row.Series = await influx.SeriesAsync(db).ConfigureAwait(false);
        }
        finally
        {
            await worker.StopAsync().ConfigureAwait(false);
            row.WorkerLogWarnings = worker.CountLogLines("WRN") + worker.CountLogLines("ERR");
            if (!o.Keep)
            {
                await influx.DropDatabaseAsync(db).ConfigureAwait(false);
            }
        }
    }

    private static async Task MeasureLatencyAsync(BenchOptions o, Influx influx, Workload load, string db, long probes, BenchRow row)
    {
        var total = (long)(o.LatencyRate * o.LatencySeconds);
        var markerEvery = (long)Math.Max(1, o.LatencyRate * o.MarkerEvery.TotalSeconds);
        var markerOrigin = load.Origin.AddSeconds(-1800);
        var markerTopic = Encoding.ASCII.GetBytes(Workload.Topic(Workload.MarkerPrinter));
        var first = (long)o.Messages + (load.Printers - (o.Messages % load.Printers)) % load.Printers; // next round of every printer
        var sent = new List<long>(); // Stopwatch timestamp per marker
        var seen = new Dictionary<long, long>();
        var loadSent = 0L;
        var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();

        var polling = Task.Run(async () =>
        {
            var after = markerOrigin.ToUnixTimeMilliseconds() - 1;
            while (!stop.IsCancellationRequested)
            {
                foreach (var t in await influx.TimesAsync(db, Workload.MarkerPrinter, after).ConfigureAwait(false))
                {
                    var k = (t - markerOrigin.ToUnixTimeMilliseconds()) / 1000;
                    lock (seen)
                    {
                        seen.TryAdd(k, Stopwatch.GetTimestamp());
                    }

                    after = Math.Max(after, t);
                }

                await Task.Delay(o.LatencyPoll).ConfigureAwait(false);
            }
        });

        await using (var publisher = await RawPublisher.ConnectAsync(o.MqttPort, 1, "bench-paced").ConfigureAwait(false))
        {
            await publisher.SendPacedAsync(total, o.LatencyRate, (stream, i, seq) =>
            {
                var id = (ushort)((seq % 65535) + 1);
                if (i % markerEvery == 0)
                {
                    var k = sent.Count;
                    MqttPackets.Publish(stream, markerTopic, Workload.Payload(markerOrigin.AddSeconds(k), k), o.Qos, id);
                    lock (seen)
                    {
                        sent.Add(Stopwatch.GetTimestamp());
                    }

                    return;
                }

                var index = first + i;
                MqttPackets.Publish(stream, load.TopicOf(index), load.Payload(index), o.Qos, id);
                loadSent++;
            }, o.Qos, o.Window).ConfigureAwait(false);
        }

        // Wait for the markers: each has LatencyDeadline from its publish to show up.
        var deadline = Stopwatch.GetTimestamp() + (long)(o.LatencyDeadline.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            lock (seen)
            {
                if (seen.Count >= sent.Count)
                {
                    break;
                }
            }

            await Task.Delay(o.LatencyPoll).ConfigureAwait(false);
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await polling.ConfigureAwait(false);
        stop.Dispose();

        var latencies = new List<double>();
        lock (seen)
        {
            for (var k = 0; k < sent.Count; k++)
            {
                latencies.Add(seen.TryGetValue(k, out var at) ? Stopwatch.GetElapsedTime(sent[k], at).TotalSeconds : double.PositiveInfinity);
            }
        }

        latencies.Sort();
        row.MarkersSent = sent.Count;
        row.MarkersSeen = latencies.Count(double.IsFinite);
        row.LatencyLoad = loadSent;
        row.P50 = Percentile(latencies, 0.50);
        row.P99 = Percentile(latencies, 0.99);
        row.LatencyMax = latencies.Count > 0 ? latencies[^1] : double.NaN;

        // The load part must land too (counted in Lost at the end); give it the same deadline.
        var expected = o.Messages + loadSent;
        var sw = Stopwatch.StartNew();
        await WaitForCountAsync(async () => await influx.CountPrinterPointsAsync(db).ConfigureAwait(false) - probes - row.MarkersSeen, expected, sw, o with { Deadline = o.LatencyDeadline }).ConfigureAwait(false);
    }

    /// <summary>The warm-up stream: the same printers, event times just before the measured stream's.</summary>
    private static Workload Warmup(Workload load, BenchOptions o) =>
        new(load.Printers, load.Origin.AddSeconds(-(o.Warmup / load.Printers) - 60));

    /// <summary>Messages [0, <paramref name="count"/>) as the lines the worker writes, in request bodies of <paramref name="batch"/> lines.</summary>
    private static List<byte[]> Bodies(Workload load, PointEncoder encoder, long count, int batch)
    {
        var bodies = new List<byte[]>();
        for (long i = 0; i < count; i += batch)
        {
            var n = Math.Min(batch, count - i);
            var text = new StringBuilder();
            for (var k = i; k < i + n; k++)
            {
                text.Append(load.Line(encoder, k)).Append('\n');
            }

            bodies.Add(Encoding.UTF8.GetBytes(text.ToString()));
        }

        return bodies;
    }

    /// <summary>True when the last message of every publisher connection in [first, first + count) is queryable.</summary>
    private static Func<Task<bool>> Sentinels(Influx influx, string db, Workload load, long first, long count, int connections)
    {
        var last = new Dictionary<int, long>();
        for (var i = first + count - 1; i >= first && last.Count < Math.Min(connections, load.Printers); i--)
        {
            last.TryAdd(load.PrinterOf(i) % connections, i);
        }

        return async () =>
        {
            foreach (var i in last.Values)
            {
                if (!await influx.HasPointAsync(db, Workload.PrinterName(load.PrinterOf(i)), load.TimeOf(i).ToUnixTimeMilliseconds()).ConfigureAwait(false))
                {
                    return false;
                }
            }

            return true;
        };
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    /// <summary>
    /// Polls until the count reaches <paramref name="expected"/>, the deadline passes, or it stalls; returns the time
    /// it was reached (or last grew) and the count. A full count scans every point and costs InfluxDB CPU that the
    /// system under test needs, so when <paramref name="sentinels"/> is given it is polled instead (every 100 ms: a
    /// few single-series lookups of the last messages published), and the full count runs once they are all visible,
    /// plus every 5 s to detect a stall. Without sentinels the full count is polled every second.
    /// </summary>
    private static async Task<(double Seconds, long Count)> WaitForCountAsync(Func<Task<long>> count, long expected, Stopwatch sw, BenchOptions o, Func<Task<bool>>? sentinels = null)
    {
        long last = -1;
        var grewAt = sw.Elapsed;
        var counted = TimeSpan.FromDays(-1);
        var fullEvery = sentinels is null ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);
        while (true)
        {
            var at = sw.Elapsed;
            var ready = sentinels is null || await sentinels().ConfigureAwait(false);
            if (ready || at - counted >= fullEvery)
            {
                counted = at;
                var now = await count().ConfigureAwait(false);
                if (now >= expected)
                {
                    return (at.TotalSeconds, now);
                }

                if (now != last)
                {
                    last = now;
                    grewAt = sw.Elapsed;
                }

                if (ready)
                {
                    // Everything published was handled but points are missing: poll the count until it stalls.
                    sentinels = null;
                    fullEvery = TimeSpan.FromSeconds(1);
                }
            }

            if (sw.Elapsed > o.Deadline || sw.Elapsed - grewAt > o.Stall)
            {
                Say(string.Create(CultureInfo.InvariantCulture, $"   gave up at {last}/{expected} after {sw.Elapsed.TotalSeconds:F1} s (no growth for {(sw.Elapsed - grewAt).TotalSeconds:F0} s)"));
                return (grewAt.TotalSeconds, Math.Max(last, 0));
            }

            await Task.Delay(sentinels is null ? fullEvery : TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    /// <summary>Mosquitto's <c>$SYS/broker/publish/messages/dropped</c> (updated every <c>sys_interval</c>), or -1 if unreadable.</summary>
    private static async Task<long> BrokerDroppedAsync(BenchOptions o)
    {
        await Task.Delay(SysInterval).ConfigureAwait(false); // so the value published is current
        var psi = new ProcessStartInfo("mosquitto_sub", ["-h", "127.0.0.1", "-p", o.MqttPort.ToString(CultureInfo.InvariantCulture), "-t", "$SYS/broker/publish/messages/dropped", "-C", "1", "-W", "5"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            using var p = Process.Start(psi)!;
            var text = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await p.WaitForExitAsync().ConfigureAwait(false);
            return long.TryParse(text.Trim(), CultureInfo.InvariantCulture, out var v) ? v : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }

    // -1 when either reading failed.
    private static long Delta(long after, long before) => after < 0 || before < 0 ? -1 : after - before;

    internal static void Say(string text) => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {text}");
}
