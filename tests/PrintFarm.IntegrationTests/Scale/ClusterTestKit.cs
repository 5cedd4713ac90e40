using System.Runtime.CompilerServices;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>What the clustered-mode tests share: printers publishing to the cluster's nodes, and the per-printer check.</summary>
internal static class ClusterPublisher
{
    // Printers publish in event-time order, QoS 1, each printer to one node (printer i to node i mod 3), several at once.
    // A printer whose node is down connects to the next one that runs, as printers behind a load balancer do.
    // `acknowledged` counts PUBACKs as they come.
    public static async Task PublishAsync(NatsCluster cluster, IEnumerable<(string Topic, object Payload)> messages, StrongBox<int>? acknowledged = null, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var byPrinter = messages.GroupBy(m => m.Topic).ToList();
        await Parallel.ForEachAsync(
            byPrinter.Select((g, i) => (First: i, Messages: g.ToList())),
            new ParallelOptions { MaxDegreeOfParallelism = 4 },
            (printer, cancellationToken) => new ValueTask(PublishOnOneConnectionAsync(cluster, printer.First, printer.Messages, acknowledged, qos, cancellationToken)));
    }

    /// <summary>
    /// The whole farm's messages in the order given (event-time order), one after the other on one connection: every
    /// partition, like a single worker, then sees its printers' messages in event-time order, so no watermark runs
    /// ahead of a printer and what a window counts does not depend on how the printers raced.
    /// </summary>
    public static Task PublishInOrderAsync(NatsCluster cluster, IEnumerable<(string Topic, object Payload)> messages) =>
        PublishOnOneConnectionAsync(cluster, 0, messages.ToList(), null, MqttQualityOfServiceLevel.AtLeastOnce, CancellationToken.None);

    // One printer (or the whole farm in order) on one MQTT connection, to node `first` mod N or the next one running.
    private static async Task PublishOnOneConnectionAsync(NatsCluster cluster, int first, IReadOnlyList<(string Topic, object Payload)> messages, StrongBox<int>? acknowledged, MqttQualityOfServiceLevel qos, CancellationToken cancellationToken)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var clientId = "printer-" + Guid.NewGuid().ToString("N");
        var attempt = first;
        NatsNode node = cluster.Nodes[attempt % cluster.Nodes.Count];

        // A node sets up each new MQTT session in its R3 session stream; while several connect at once it
        // can close a connection before CONNACK. A printer connects again, as real ones do.
        async Task<bool> ConnectAsync()
        {
            node = Enumerable.Range(0, cluster.Nodes.Count).Select(k => cluster.Nodes[(attempt + k) % cluster.Nodes.Count]).FirstOrDefault(n => n.IsRunning && !n.IsPaused) ?? node;
            attempt++;
            var options = new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", node.MqttPort)
                .WithProtocolVersion(MqttProtocolVersion.V311)
                .WithClientId(clientId)
                .WithTimeout(TimeSpan.FromSeconds(10))
                .Build();
            try
            {
                await client.ConnectAsync(options, cancellationToken);
                return true;
            }
            catch (Exception ex) when (ex is MQTTnet.Adapter.MqttConnectingFailedException or MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }

        await Eventually.Until(ConnectAsync, connected => connected, $"printer of {messages[0].Topic} to connect", TimeSpan.FromSeconds(60));
        foreach (var (topic, payload) in messages)
        {
            // QoS 1 as a printer does it: without a PUBACK (the node closed the connection), connect again and
            // send the message again.
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(JsonSerializer.Serialize(payload)).WithQualityOfServiceLevel(qos).Build();
            await Eventually.Until(
                async () =>
                {
                    try
                    {
                        if (!client.IsConnected && !await ConnectAsync())
                        {
                            return false;
                        }

                        return (await client.PublishAsync(message, cancellationToken)).IsSuccess;
                    }
                    catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Adapter.MqttConnectingFailedException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                    {
                        // No PUBACK in time: the node may be without a stream leader; drop the connection.
                        await DisconnectQuietlyAsync(client);

                        return false;
                    }
                },
                sent => sent,
                $"the PUBACK of {topic}",
                TimeSpan.FromSeconds(90));
            if (acknowledged is not null)
            {
                Interlocked.Increment(ref acknowledged.Value);
            }
        }

        await DisconnectQuietlyAsync(client);
    }

    // A connection the node already dropped says "broken pipe" when it is closed: it is closed either way.
    private static async Task DisconnectQuietlyAsync(IMqttClient client)
    {
        try
        {
            if (client.IsConnected)
            {
                await client.DisconnectAsync(cancellationToken: CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // Gone already.
        }
    }

    /// <summary>
    /// Polls until every job has its <c>job</c> point, whole, and then requires exactly one per job and no other:
    /// the (printer, end) pairs of the points are the jobs' own, none missing, none twice. Returns the points.
    /// </summary>
    /// <summary>
    /// The first of <paramref name="candidates"/> whose printers fall both inside and outside <paramref name="oneSide"/>
    /// of <paramref name="partitions"/> partitions. Printer names are random; a test that asserts every worker had work
    /// picks them so that this holds, instead of failing now and then when the hash puts them all on one side.
    /// </summary>
    public static T OnBothSides<T>(IEnumerable<T> candidates, Func<T, IEnumerable<string>> printers, int partitions, IReadOnlySet<int> oneSide)
    {
        var layout = new Worker.Cluster.JetStreamLayout("S", "parts", partitions, "b");
        return candidates.First(c => printers(c).Select(p => oneSide.Contains(layout.PartitionOf(p))).Distinct().Count() == 2);
    }

    /// <summary>Fresh candidates from <paramref name="make"/>, endlessly.</summary>
    public static IEnumerable<T> Fresh<T>(Func<T> make)
    {
        while (true)
        {
            yield return make();
        }
    }

    public static async Task<IReadOnlyList<Dictionary<string, JsonElement>>> AssertEveryJobOnceAsync(InfluxDbServer influx, string database, IReadOnlyCollection<(string Printer, DateTimeOffset End)> jobs)
    {
        var rows = await Eventually.Until(
            () => influx.QueryAsync(database, "SELECT * FROM job"),
            r => r.Count >= jobs.Count && r.All(InfluxRowExtensions.IsWholeJobPoint),
            $"every job's point ({jobs.Count})",
            TimeSpan.FromSeconds(60),
            describe: r => $"missing {string.Join(", ", jobs.Except(r.Select(p => (p.Text("printer")!, p.Time()))).Select(j => $"{j.Item1}@{j.Item2:HH:mm:ss}"))}; {r.Format()}");
        Assert.Equal(jobs.Order(), rows.Select(r => (r.Text("printer")!, r.Time())).Order());
        return rows;
    }

    /// <summary><see cref="AssertEveryJobOnceAsync(InfluxDbServer, string, IReadOnlyCollection{ValueTuple{string, DateTimeOffset}})"/>, then every printer's day as the trace says.</summary>
    public static async Task AssertEveryJobOnceAsync(InfluxDbServer influx, string database, List<TraceJob> jobs)
    {
        await AssertEveryJobOnceAsync(influx, database, jobs.Select(j => (j.Printer, j.End)).ToList());
        await AssertPrinterKpisAsync(influx, database, jobs);
    }

    // Every printer's day: the sums a single worker writes for it (NativeTrace.Expect, the definitions of docs/kpis.md).
    public static async Task AssertPrinterKpisAsync(InfluxDbServer influx, string database, List<TraceJob> jobs)
    {
        foreach (var printer in jobs.Select(j => j.Printer).Distinct())
        {
            var expected = NativeTrace.Expect(jobs.Where(j => j.Printer == printer));
            var ended = expected.JobsCompleted + expected.JobsFailed + expected.JobsCancelled;
            var day = await Eventually.Until(
                () => influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"window\" = '1d' AND \"scope\" = 'printer' AND \"printer\" = '{printer}'"),
                rows => rows.Count == 1 && rows[0].Number("jobs_completed") + rows[0].Number("jobs_failed") + rows[0].Number("jobs_cancelled") >= ended,
                $"{printer}'s day with all {ended} jobs",
                TimeSpan.FromSeconds(30),
                describe: rows => rows.Format());
            Assert.Equal(expected.JobsCompleted, day[0].Number("jobs_completed"));
            Assert.Equal(expected.JobsFailed, day[0].Number("jobs_failed"));
            Assert.Equal(expected.JobsCancelled, day[0].Number("jobs_cancelled"));
            Assert.Equal(expected.ToysCompleted, day[0].Number("toys_completed"));
            Assert.Equal(expected.PrintTime, day[0].Number("print_time_s"), 6);
            Assert.Equal(expected.FilamentUsed, day[0].Number("filament_used_g"), 6);
            Assert.Equal(expected.FilamentWaste, day[0].Number("filament_waste_g"), 6);
        }
    }
}

/// <summary>A test's own stream and buckets in the shared cluster.</summary>
internal sealed record Names(string Stream, string Bucket)
{
    /// <summary>An in-process clustered worker's settings on these names: writing to <paramref name="database"/>, reading <paramref name="partitions"/> partitions of <paramref name="cluster"/>, <paramref name="owned"/> fixed or (null) leased.</summary>
    public Dictionary<string, string?> WorkerSettings(ServicesFixture services, NatsCluster cluster, string database, int partitions, string? owned, TimeSpan checkpointInterval)
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:CheckpointInterval"] = checkpointInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        settings["PrintFarm:Cluster:Enabled"] = "true";
        settings["PrintFarm:Cluster:Url"] = cluster.ClientUrl;
        settings["PrintFarm:Cluster:Partitions"] = partitions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["PrintFarm:Cluster:Stream"] = Stream;
        settings["PrintFarm:Cluster:CheckpointBucket"] = Bucket;
        settings["PrintFarm:Cluster:Owned"] = owned;
        settings["PrintFarm:Cluster:LeaseTtl"] = "00:00:03";
        settings["PrintFarm:Cluster:LeaseBucket"] = Bucket + "_leases";
        return settings;
    }

    public static Names New(string test)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        return new Names($"PF_{test}_{id}", $"pf_checkpoints_{test}_{id}");
    }

    // The stream's subjects (parts.>) would overlap the next test's stream, and its consumers on $MQTT_msgs would keep
    // this test's QoS 1 messages there for the next test's to read: every test removes its own. A cluster that just got
    // a node back, or a busy machine, may not answer an API request in time: each step is tried again for a while.
    public async Task DeleteAsync(NatsCluster cluster)
    {
        await using var nats = await cluster.ConnectAsync(name: "printfarm-tests-cleanup");
        var js = new NatsJSContext(nats);
        await RetryAsync(() => js.DeleteStreamAsync(Stream, CancellationToken.None).AsTask());
        await RetryAsync(async () =>
        {
            List<string> consumers = [];
            await foreach (var name in js.ListConsumerNamesAsync("$MQTT_msgs", CancellationToken.None))
            {
                consumers.Add(name);
            }

            foreach (var consumer in consumers.Where(c => c.StartsWith(Stream + "_", StringComparison.Ordinal)))
            {
                await js.DeleteConsumerAsync("$MQTT_msgs", consumer, CancellationToken.None);
            }

            return true;
        });

        // nats-server 2.9.10 does not drop what a deleted consumer left unacknowledged (a message stored twice after a
        // lost PUBACK, say): the next test's first consumer, which delivers all, would read it. Tests in one cluster
        // run one after the other, so the whole stream goes.
        await RetryAsync(async () =>
        {
            await js.PurgeStreamAsync("$MQTT_msgs", new NATS.Client.JetStream.Models.StreamPurgeRequest(), CancellationToken.None);
            return true;
        });
        foreach (var bucket in new[] { Bucket, Bucket + "_leases" })
        {
            await RetryAsync(() => new NatsKVContext(js).DeleteStoreAsync(bucket, CancellationToken.None).AsTask());
        }
    }

    // "Not found" is done; no answer in time is tried again for 60 s.
    private static async Task RetryAsync(Func<Task<bool>> step)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await step();
                return;
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == 404)
            {
                return;
            }
            catch (Exception ex) when (DateTime.UtcNow < deadline && ex is NatsJSApiNoResponseException or NATS.Client.Core.NatsNoRespondersException or TimeoutException or NatsJSApiException { Error.Code: 503 })
            {
                await Task.Delay(Eventually.PollInterval * 5);
            }
        }
    }
}
