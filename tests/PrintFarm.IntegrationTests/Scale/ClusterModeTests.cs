using System.Globalization;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using NATS.Client.JetStream;
using Microsoft.Extensions.DependencyInjection;
using NATS.Client.KeyValueStore;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>One 3-node cluster for <see cref="ClusterModeTests"/>: printers' native topics mapped onto 8 partitions.</summary>
public sealed class ClusterModeFixture : IAsyncLifetime
{
    public const int Partitions = 8;

    public NatsCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync([NatsMapping.Partitioned(Partitions, prefix: "printfarm")]);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// The clustered mode end to end (issue 20): printers publish MQTT 3.1.1 QoS 1 to three real nats-server 2.9.10
/// nodes, the servers' mappings spread them over partitions of an R3 stream, and workers (the real host, in-process)
/// read their partitions through the same pipeline as the single-machine worker into a real InfluxDB, with their
/// checkpoints in KV.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ClusterModeTests(ServicesFixture services, ClusterModeFixture fixture) : IClassFixture<ClusterModeFixture>
{
    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Two_workers_each_reading_half_the_partitions_write_every_job_once_and_every_printers_KPIs_as_the_trace_says()
    {
        var names = Names.New("two");
        var database = "cluster_two_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var traces = ClusterPublisher.OnBothSides(ClusterPublisher.Fresh(() => Traces("c2", 6)), t => t.SelectMany(trace => trace.Jobs.Select(j => j.Printer)), ClusterModeFixture.Partitions, new HashSet<int> { 0, 1, 2, 3 });
        try
        {
            await using var a = await WorkerHost.StartAsync(Settings(names, database, "0-3"), waitForSubscription: false);
            await using var b = await WorkerHost.StartAsync(Settings(names, database, "4-7"), waitForSubscription: false);
            await ClusterPublisher.PublishAsync(Cluster, traces.SelectMany(t => t.Messages()));

            var jobs = traces.SelectMany(t => t.Jobs).ToList();
            await ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, database, jobs);

            // Both workers had work: the printers spread over both halves of the partitions.
            Assert.True(a.Counter("printfarm.jobs.ended") > 0, "worker a (partitions 0-3) ended no job");
            Assert.True(b.Counter("printfarm.jobs.ended") > 0, "worker b (partitions 4-7) ended no job");
            Assert.Equal(jobs.Count, a.Counter("printfarm.jobs.ended") + b.Counter("printfarm.jobs.ended"));
        }
        finally
        {
            await names.DeleteAsync(Cluster);
        }
    }

    [Fact]
    public async Task Printers_publishing_at_QoS_0_and_at_QoS_1_are_each_read_once_from_the_stream_that_holds_them()
    {
        var names = Names.New("qos");
        var database = "cluster_qos_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var qos0 = Traces("q0", 4);
        var qos1 = Traces("q1", 4);
        try
        {
            await using var worker = await WorkerHost.StartAsync(Settings(names, database, "0-7"), waitForSubscription: false);

            // QoS 0 is at most once: a plain publish while the new stream has no leader yet is not stored.
            await Eventually.Until(() => Cluster.StreamLeaderAsync(names.Stream), l => l is not null, "a leader for the new stream");
            await Task.WhenAll(
                ClusterPublisher.PublishAsync(Cluster, qos0.SelectMany(t => t.Messages()), qos: MqttQualityOfServiceLevel.AtMostOnce),
                ClusterPublisher.PublishAsync(Cluster, qos1.SelectMany(t => t.Messages())));

            // QoS 1 messages reach both streams (the partition stream gets a plain copy) and are read from $MQTT_msgs
            // only: every QoS 1 job is there once. QoS 0 is at most once: nats-server stores a plain publish only when
            // the stream can take it at once (measured here on a busy machine: 2 of 104 not stored), so the QoS 0
            // printers' jobs are a subset, but none is counted twice.
            var expected1 = qos1.SelectMany(t => t.Jobs).Select(j => (j.Printer, j.End)).Order().ToList();
            var rows = await Eventually.Until(
                () => services.Influx.QueryAsync(database, "SELECT * FROM job"),
                r => r.Where(x => x.Text("printer")!.StartsWith("q1", StringComparison.Ordinal)).Count(InfluxRowExtensions.IsWholeJobPoint) == expected1.Count,
                "every QoS 1 job's point",
                TimeSpan.FromSeconds(60),
                describe: r => r.Format());
            Assert.Equal(expected1, rows.Where(x => x.Text("printer")!.StartsWith("q1", StringComparison.Ordinal)).Select(r => (r.Text("printer")!, r.Time())).Order().ToList());

            // QoS 0 jobs may still be coming when the QoS 1 ones are all there: wait until the jobs the worker counted
            // and the points agree. A job counted twice would keep the count above the points.
            var (_, settled) = await Eventually.Until(
                async () => (Counted: worker.Counter("printfarm.jobs.ended"), Rows: await services.Influx.QueryAsync(database, "SELECT * FROM job")),
                x => x.Counted == x.Rows.Count,
                "the jobs the worker counted to match the points",
                TimeSpan.FromSeconds(60),
                describe: x => $"{x.Counted} counted, {x.Rows.Count} points:\n{x.Rows.Format()}");
            var all = qos0.Concat(qos1).SelectMany(t => t.Jobs).Select(j => (j.Printer, j.End)).ToHashSet();
            Assert.All(settled, r => Assert.Contains((r.Text("printer")!, r.Time()), all));
            Assert.True(settled.Any(r => r.Text("printer")!.StartsWith("q0", StringComparison.Ordinal)), "no QoS 0 job was read at all");
        }
        finally
        {
            await names.DeleteAsync(Cluster);
        }
    }

    [Fact]
    public async Task A_worker_that_starts_from_older_KV_checkpoints_replays_only_what_follows_them_and_counts_nothing_twice()
    {
        var names = Names.New("replay");
        var before = "cluster_before_" + Guid.NewGuid().ToString("N");
        var after = "cluster_after_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(before);
        await services.Influx.CreateDatabaseAsync(after);
        var traces = Traces("cr", 4);

        // Per trace: job A and its redelivered finish first; B, C and D (C already printing) after the checkpoints kept.
        const int split = 6;
        var firstHalf = traces.SelectMany(t => t.Messages().Take(split)).ToList();
        var secondHalf = traces.SelectMany(t => t.Messages().Skip(split)).ToList();
        try
        {
            Dictionary<string, byte[]> older;
            await using (var worker = await WorkerHost.StartAsync(Settings(names, before, owned: null), waitForSubscription: false))
            {
                await ClusterPublisher.PublishAsync(Cluster, firstHalf);
                await worker.WaitForCounterAsync("printfarm.jobs.ended", traces.Count, TimeSpan.FromSeconds(60));

                // Checkpoints captured after that: a key written twice more (the first write may carry a state
                // captured just before), for every partition that has printers.
                var newest = await CheckpointsAsync(names);
                for (var round = 0; round < 2; round++)
                {
                    var seen = newest;
                    newest = await Eventually.Until(
                        () => CheckpointsAsync(names),
                        now => now.Count > 0 && now.All(kv => !seen.TryGetValue(kv.Key, out var s) || kv.Value.Revision > s.Revision) && seen.Keys.All(now.ContainsKey),
                        "checkpoints of every partition after job A",
                        TimeSpan.FromSeconds(30));
                }

                older = newest.ToDictionary(kv => kv.Key, kv => kv.Value.Value);

                await ClusterPublisher.PublishAsync(Cluster, secondHalf);
                await worker.WaitForCounterAsync("printfarm.jobs.ended", traces.Sum(t => t.Jobs.Count), TimeSpan.FromSeconds(60));
            }

            // As if the worker had died right after those checkpoints: they become the newest again.
            await using (var nats = await Cluster.ConnectAsync(name: "printfarm-tests-rewind"))
            {
                var bucket = await new NatsKVContext(new NatsJSContext(nats)).GetStoreAsync(names.Bucket);
                foreach (var (key, value) in older)
                {
                    await bucket.PutAsync(key, value);
                }
            }

            // Another worker, another database: what it writes is what it rebuilt from those checkpoints and the replay.
            await using (var worker = await WorkerHost.StartAsync(Settings(names, after, owned: null), waitForSubscription: false))
            {
                await Eventually.Until(
                    () => Task.FromResult(worker.Logs.Entries.Count(e => e.Message.StartsWith("Restored checkpoint KV " + names.Bucket + "/", StringComparison.Ordinal))),
                    n => n == older.Count,
                    "every partition to restore its checkpoint");
                var jobs = traces.SelectMany(t => t.Jobs).ToList();
                var replayed = traces.SelectMany(t => t.Jobs.Skip(1)).ToList(); // A ended before the checkpoints
                var rows = await Eventually.Until(
                    () => services.Influx.QueryAsync(after, "SELECT * FROM job"),
                    r => r.Count >= replayed.Count,
                    "the replayed jobs' points",
                    TimeSpan.FromSeconds(60),
                    describe: r => r.Format());
                Assert.Equal(
                    replayed.Select(j => (j.Printer, j.End)).Order(),
                    rows.Select(r => (r.Text("printer")!, r.Time())).Order());
                await ClusterPublisher.AssertPrinterKpisAsync(services.Influx, after, jobs);
            }
        }
        finally
        {
            await names.DeleteAsync(Cluster);
        }
    }

    [Fact]
    public async Task Workers_share_the_partitions_through_leases_and_a_stopped_workers_partitions_move_without_a_double_count()
    {
        var names = Names.New("lease");
        var database = "cluster_lease_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        const int split = 6;
        try
        {
            await using var a = await WorkerHost.StartAsync(Leased(names, database), waitForSubscription: false);
            Assert.Equal(ClusterModeFixture.Partitions, Pipeline(a).Processed.Count); // alone: all of them
            List<NativeTrace> traces;

            var b = await WorkerHost.StartAsync(Leased(names, database), waitForSubscription: false);
            try
            {
                // A joiner: the first worker hands back what is over its fair share, the joiner takes it.
                await Eventually.Until(
                    () => Task.FromResult((A: Pipeline(a).Processed.Count, B: Pipeline(b).Processed.Count)),
                    n => n.A == ClusterModeFixture.Partitions / 2 && n.B == ClusterModeFixture.Partitions / 2,
                    "the partitions to be shared half and half",
                    TimeSpan.FromSeconds(30));
                Assert.Empty(Pipeline(a).Processed.Keys.Intersect(Pipeline(b).Processed.Keys));

                // Job A of a trace is its "-p1" printer's: each worker owns some of those printers.
                traces = ClusterPublisher.OnBothSides(ClusterPublisher.Fresh(() => Traces("cl", 6)), t => t.Select(trace => trace.Jobs[0].Printer), ClusterModeFixture.Partitions, Pipeline(a).Processed.Keys.ToHashSet());
                await ClusterPublisher.PublishAsync(Cluster, traces.SelectMany(t => t.Messages().Take(split)));
                await Eventually.Until(
                    () => Task.FromResult(a.Counter("printfarm.jobs.ended") + b.Counter("printfarm.jobs.ended")),
                    n => n == traces.Count,
                    "job A of every trace to end");
                Assert.True(a.Counter("printfarm.jobs.ended") > 0 && b.Counter("printfarm.jobs.ended") > 0, "both workers had jobs");
            }
            finally
            {
                // A clean stop: last checkpoints, leases handed back.
                await b.DisposeAsync();
            }

            await Eventually.Until(
                () => Task.FromResult(Pipeline(a).Processed.Count),
                n => n == ClusterModeFixture.Partitions,
                "the stopped worker's partitions to move to the other",
                TimeSpan.FromSeconds(30));
            await ClusterPublisher.PublishAsync(Cluster, traces.SelectMany(t => t.Messages().Skip(split)));

            await ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, database, traces.SelectMany(t => t.Jobs).ToList());
            Assert.Contains(a.Logs.Entries, e => e.Message.Contains("took partition", StringComparison.Ordinal) && e.Message.Contains("among 1 workers", StringComparison.Ordinal));

            // Each owner read through consumers of its own: the moved partitions' are newer generations, and the
            // older ones are gone, on both streams.
            var layout = new Worker.Cluster.JetStreamLayout(names.Stream, "parts", ClusterModeFixture.Partitions, names.Bucket);
            await using var nats = await Cluster.ConnectAsync(name: "printfarm-tests-consumers");
            var js = new NatsJSContext(nats);
            foreach (var (stream, generation) in new (string, Func<int, string, int?>)[] { (names.Stream, layout.ConsumerGeneration), ("$MQTT_msgs", layout.MqttConsumerGeneration) })
            {
                var generations = await Eventually.Until(
                    async () =>
                    {
                        List<string> consumers = [];
                        await foreach (var name in js.ListConsumerNamesAsync(stream, CancellationToken.None))
                        {
                            consumers.Add(name);
                        }

                        return Enumerable.Range(0, ClusterModeFixture.Partitions).Select(p => consumers.Select(c => generation(p, c)).OfType<int>().ToList()).ToList();
                    },
                    g => g.All(p => p.Count == 1),
                    "one consumer per partition on " + stream,
                    describe: g => string.Join("; ", g.Select((p, i) => i + ": " + string.Join(",", p))));
                Assert.Contains(generations, p => p[0] >= 2); // taken by b, then back by a: at least a third generation
            }
        }
        finally
        {
            await names.DeleteAsync(Cluster);
        }
    }

    private static Worker.Cluster.ClusterPipelineService Pipeline(WorkerHost worker) =>
        worker.Host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Worker.Cluster.ClusterPipelineService>().Single();

    // No fixed partitions: the workers share them through leases of 3 s.
    private Dictionary<string, string?> Leased(Names names, string database) => Settings(names, database, owned: null);

    private static List<NativeTrace> Traces(string prefix, int count) =>
        Enumerable.Range(0, count)
            .Select(i => new NativeTrace(prefix + i.ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..4], new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)))
            .ToList();

    private Dictionary<string, string?> Settings(Names names, string database, string? owned) =>
        names.WorkerSettings(services, Cluster, database, ClusterModeFixture.Partitions, owned, TimeSpan.FromMilliseconds(200));

    private async Task<Dictionary<string, (ulong Revision, byte[] Value)>> CheckpointsAsync(Names names)
    {
        await using var nats = await Cluster.ConnectAsync(name: "printfarm-tests-checkpoints");
        var kv = new NatsKVContext(new NatsJSContext(nats));
        Dictionary<string, (ulong, byte[])> found = [];
        INatsKVStore bucket;
        try
        {
            bucket = await kv.GetStoreAsync(names.Bucket);
        }
        catch (NatsKVException)
        {
            return found;
        }

        await foreach (var key in bucket.GetKeysAsync())
        {
            var entry = await bucket.GetEntryAsync<byte[]>(key);
            found[key] = (entry.Revision, entry.Value!);
        }

        return found;
    }
}
